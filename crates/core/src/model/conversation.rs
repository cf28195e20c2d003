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
