use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::block::Block;
use crate::ids::{ConversationId, MessageId, ParticipantId};
use crate::time::Timestamp;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SenderType {
    User,
    Bot,
    System,
}

impl SenderType {
    pub const fn as_str(self) -> &'static str {
        match self {
            SenderType::User => "User",
            SenderType::Bot => "Bot",
            SenderType::System => "System",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "User" => Some(SenderType::User),
            "Bot" => Some(SenderType::Bot),
            "System" => Some(SenderType::System),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum QuickReplyAction {
    SendText,
    Postback,
    Url,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuickReply {
    pub label: String,
    pub action: QuickReplyAction,
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub icon: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MentionType {
    User,
    All,
    Here,
    Role,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mention {
    #[serde(rename = "type")]
    pub mention_type: MentionType,
    #[serde(default)]
    pub target_id: Option<String>,
    pub display_name: String,
    #[serde(default)]
    pub offset: Option<u32>,
    #[serde(default)]
    pub length: Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SystemEventType {
    ConversationRenamed,
    AvatarChanged,
    MemberAdded,
    MemberRemoved,
    MemberLeft,
    Custom,
}

/// What a system message records (seed 002 `SystemEventInfo`). Metadata values are strings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SystemEvent {
    #[serde(rename = "type")]
    pub event_type: SystemEventType,
    pub actor_id: Option<ParticipantId>,
    pub target_ids: Vec<ParticipantId>,
    pub metadata: Option<BTreeMap<String, String>>,
}

/// One emoji on one message and who put it there, in the order they reacted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReactionGroup {
    pub emoji: String,
    pub count: u32,
    pub participant_ids: Vec<ParticipantId>,
}

/// Where a message came from on an outside platform (a WhatsApp message, a Facebook comment),
/// as the connector that brought it described it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalMessage {
    /// The platform's id of the message; a message is stored once per conversation and id.
    pub id: String,
    /// The platform's kind of message (`text`, `comment`, `image`…).
    pub message_type: String,
    /// Sent by the account itself (the business), not by the person on the other side.
    pub from_me: bool,
    pub from: Option<String>,
    pub from_name: Option<String>,
    /// The post a comment is on, and the comment it answers.
    pub object_id: Option<String>,
    pub parent_id: Option<String>,
    /// When the platform says it was sent.
    pub sent_at: Option<Timestamp>,
    /// The platform's own object, kept as received.
    pub raw: Option<serde_json::Value>,
}

/// A stored message. `seq` is its place in the conversation's total order (1, 2, 3…).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub seq: i64,
    pub sender_id: ParticipantId,
    pub sender_type: SenderType,
    pub blocks: Vec<Block>,
    pub plain_text: Option<String>,
    pub reply_to_message_id: Option<MessageId>,
    pub quick_replies: Option<Vec<QuickReply>>,
    pub mentions: Option<Vec<Mention>>,
    pub client_message_id: Option<String>,
    pub system_event: Option<SystemEvent>,
    /// Set for messages that came from (or went to) an outside platform.
    pub external: Option<ExternalMessage>,
    pub reactions: Vec<ReactionGroup>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub edited_at: Option<Timestamp>,
    pub deleted_at: Option<Timestamp>,
    pub deleted_by: Option<ParticipantId>,
}

impl Message {
    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }

    pub fn is_edited(&self) -> bool {
        self.edited_at.is_some()
    }
}

/// Whether a media-index entry is an uploaded attachment or an outside link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MediaKind {
    Attachment,
    Link,
}

impl MediaKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            MediaKind::Attachment => "Attachment",
            MediaKind::Link => "Link",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Attachment" => Some(MediaKind::Attachment),
            "Link" => Some(MediaKind::Link),
            _ => None,
        }
    }
}

/// A message about to be appended. The store gives it its `seq`.
#[derive(Clone, Debug, PartialEq)]
pub struct NewMessage {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub sender_id: ParticipantId,
    pub sender_type: SenderType,
    pub blocks: Vec<Block>,
    pub plain_text: Option<String>,
    pub reply_to_message_id: Option<MessageId>,
    pub quick_replies: Option<Vec<QuickReply>>,
    pub mentions: Option<Vec<Mention>>,
    pub client_message_id: Option<String>,
    pub system_event: Option<SystemEvent>,
    pub external: Option<ExternalMessage>,
    pub created_at: Timestamp,
    /// `(block index, kind)` of every block the media listing shows.
    pub media: Vec<(u32, MediaKind)>,
}
