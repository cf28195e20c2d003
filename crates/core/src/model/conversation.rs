use serde::{Deserialize, Serialize};

use super::media::MediaReference;
use super::message::Message;
use crate::TenantId;
use crate::ids::{ConversationId, MessageId, ParticipantId};
use crate::time::Timestamp;

/// A group of participants with an ordered message log (a 1:1 chat is a group of two).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: ConversationId,
    pub tenant: TenantId,
    pub name: Option<String>,
    pub avatar: Option<MediaReference>,
    pub owner_id: ParticipantId,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub last_message_at: Option<Timestamp>,
    pub last_message_id: Option<MessageId>,
    /// The `seq` of the newest message (0 when there is none).
    pub last_seq: i64,
    /// Set when the conversation is with someone outside, on a channel (a customer chat, a
    /// WhatsApp chat, a Facebook comment thread).
    pub channel: Option<ChannelFacet>,
    /// Set when the conversation is a support ticket (seed 001).
    pub ticket: Option<TicketFacet>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TicketCategory {
    General,
    Technical,
    Billing,
    Account,
    Security,
    FeatureRequest,
    BugReport,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TicketPriority {
    Low,
    Medium,
    High,
    Urgent,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TicketStatus {
    Open,
    InProgress,
    WaitingForUser,
    WaitingForAdmin,
    Closed,
    Resolved,
}

/// The enums above as the seed writes them (`FEATURE_REQUEST`), for storage and parsing.
macro_rules! wire_names {
    ($t:ty { $($v:ident = $s:literal),* $(,)? }) => {
        impl $t {
            pub const ALL: &'static [$t] = &[$(<$t>::$v),*];
            pub const fn as_str(self) -> &'static str {
                match self { $(<$t>::$v => $s),* }
            }
            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str().eq_ignore_ascii_case(s))
            }
            pub fn names() -> String {
                Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }
    };
}
wire_names!(TicketCategory {
    General = "GENERAL", Technical = "TECHNICAL", Billing = "BILLING", Account = "ACCOUNT",
    Security = "SECURITY", FeatureRequest = "FEATURE_REQUEST", BugReport = "BUG_REPORT",
});
wire_names!(TicketPriority { Low = "LOW", Medium = "MEDIUM", High = "HIGH", Urgent = "URGENT" });
wire_names!(TicketStatus {
    Open = "OPEN", InProgress = "IN_PROGRESS", WaitingForUser = "WAITING_FOR_USER",
    WaitingForAdmin = "WAITING_FOR_ADMIN", Closed = "CLOSED", Resolved = "RESOLVED",
});

/// What makes a conversation a support ticket. The ticket's id is its conversation's id; the
/// tenant's admins may read and write every ticket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketFacet {
    pub title: String,
    pub category: TicketCategory,
    pub priority: TicketPriority,
    pub status: TicketStatus,
    /// The user (or guest participant) who opened it.
    pub requester_id: String,
    pub assigned_admin_id: Option<String>,
    /// Set for tickets opened by guests, who have no account.
    pub guest_name: Option<String>,
    pub guest_email: Option<String>,
}

/// What makes a conversation a channel conversation: where it happens and with whom. The
/// tenant's agents and admins may read and write every such conversation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelFacet {
    /// The channel's name: a customer channel (`WEB`, `WHATSAPP`…) or a connector type.
    pub channel: String,
    /// The customer on the other side, when known.
    pub customer_id: Option<String>,
    /// The channel account (connector) the conversation arrives through.
    pub account_id: Option<String>,
    /// The conversation's id on the outside platform (a WhatsApp chat id, a post id…).
    pub external_chat_id: Option<String>,
}

impl Conversation {
    /// The instant the conversation list sorts by.
    pub fn activity_at(&self) -> Timestamp {
        self.last_message_at.unwrap_or(self.created_at)
    }
}

/// One participant's place in one conversation. Rows stay after leaving (`is_active = false`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub conversation_id: ConversationId,
    pub participant_id: ParticipantId,
    pub joined_at: Timestamp,
    pub left_at: Option<Timestamp>,
    pub is_active: bool,
    pub is_pinned: bool,
    pub pinned_at: Option<Timestamp>,
    /// The conversation's `last_seq` when this participant (re)joined: they see only later
    /// messages ("users only see media from the time they joined").
    pub joined_seq: i64,
}

/// A conversation with all its membership rows.
#[derive(Clone, Debug, PartialEq)]
pub struct ConversationDetails {
    pub conversation: Conversation,
    pub members: Vec<Membership>,
}

impl ConversationDetails {
    pub fn active_member_ids(&self) -> Vec<ParticipantId> {
        self.members.iter().filter(|m| m.is_active).map(|m| m.participant_id.clone()).collect()
    }

    pub fn membership(&self, participant_id: &str) -> Option<&Membership> {
        self.members.iter().find(|m| m.participant_id == participant_id)
    }
}

/// One row of a participant's conversation list.
#[derive(Clone, Debug, PartialEq)]
pub struct ConversationListEntry {
    pub conversation: Conversation,
    pub membership: Membership,
    pub participant_count: u32,
    pub last_message: Option<Message>,
}
