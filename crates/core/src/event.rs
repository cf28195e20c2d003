//! Domain events: what happened, with everything a door needs to render it and to know who should
//! hear of it. Events travel over the bus (serialized when it leaves the process), so they carry
//! data, not references into the store.

use serde::{Deserialize, Serialize};

use crate::TenantId;
use crate::ids::{ConversationId, MessageId, ParticipantId};
use crate::model::{MediaReference, Message, ParticipantRef};
use crate::time::Timestamp;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Events never cross tenants: every door delivers only within this one.
    pub tenant: TenantId,
    pub kind: EventKind,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum EventKind {
    MessageCreated(MessageEvent),
    MessageUpdated(MessageEvent),
    MessageDeleted(MessageDeletedEvent),
    MessageRecovered(MessageEvent),
    ReactionAdded(ReactionEvent),
    ReactionRemoved(ReactionEvent),
    TypingStarted(TypingEvent),
    TypingStopped(TypingEvent),
    ConversationCreated(ConversationEvent),
    ConversationUpdated(ConversationEvent),
    ParticipantJoined(MembershipEvent),
    ParticipantLeft(MembershipEvent),
    ConversationPinned(PinEvent),
    ConversationUnpinned(PinEvent),
}

impl EventKind {
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::MessageCreated(_) => "MessageCreated",
            EventKind::MessageUpdated(_) => "MessageUpdated",
            EventKind::MessageDeleted(_) => "MessageDeleted",
            EventKind::MessageRecovered(_) => "MessageRecovered",
            EventKind::ReactionAdded(_) => "ReactionAdded",
            EventKind::ReactionRemoved(_) => "ReactionRemoved",
            EventKind::TypingStarted(_) => "TypingStarted",
            EventKind::TypingStopped(_) => "TypingStopped",
            EventKind::ConversationCreated(_) => "ConversationCreated",
            EventKind::ConversationUpdated(_) => "ConversationUpdated",
            EventKind::ParticipantJoined(_) => "ParticipantJoined",
            EventKind::ParticipantLeft(_) => "ParticipantLeft",
            EventKind::ConversationPinned(_) => "ConversationPinned",
            EventKind::ConversationUnpinned(_) => "ConversationUnpinned",
        }
    }

    /// The conversation the event belongs to.
    pub fn conversation_id(&self) -> &str {
        match self {
            EventKind::MessageCreated(e) | EventKind::MessageUpdated(e) | EventKind::MessageRecovered(e) => {
                &e.message.conversation_id
            }
            EventKind::MessageDeleted(e) => &e.conversation_id,
            EventKind::ReactionAdded(e) | EventKind::ReactionRemoved(e) => &e.conversation_id,
            EventKind::TypingStarted(e) | EventKind::TypingStopped(e) => &e.conversation_id,
            EventKind::ConversationCreated(e) | EventKind::ConversationUpdated(e) => &e.conversation.id,
            EventKind::ParticipantJoined(e) | EventKind::ParticipantLeft(e) => &e.conversation_id,
            EventKind::ConversationPinned(e) | EventKind::ConversationUnpinned(e) => &e.conversation_id,
        }
    }
}

/// What notifications show of a conversation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConversationSummary {
    pub id: ConversationId,
    pub name: Option<String>,
    pub avatar: Option<MediaReference>,
    pub participant_count: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MessageEvent {
    pub conversation: ConversationSummary,
    pub message: Message,
    pub sender: ParticipantRef,
    /// Display names of the actor and targets of a system message.
    pub people: Vec<ParticipantRef>,
    /// The active participants when it happened.
    pub recipients: Vec<ParticipantId>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MessageDeletedEvent {
    pub conversation_id: ConversationId,
    pub message_id: MessageId,
    pub deleted_by: ParticipantId,
    pub deleted_at: Timestamp,
    pub recipients: Vec<ParticipantId>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReactionEvent {
    pub conversation_id: ConversationId,
    pub message_id: MessageId,
    pub participant: ParticipantRef,
    pub emoji: String,
    pub at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TypingEvent {
    pub conversation_id: ConversationId,
    pub participant: ParticipantRef,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConversationEvent {
    pub conversation: ConversationSummary,
    /// Who hears of it: every initial participant on creation, only the new one when added.
    pub notify: Vec<ParticipantId>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MembershipEvent {
    pub conversation_id: ConversationId,
    pub participant: ParticipantRef,
    pub at: Timestamp,
    /// Joined: the participants who were already there. Left: those who remain, and the one who left.
    pub notify: Vec<ParticipantId>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PinEvent {
    pub conversation_id: ConversationId,
    pub participant_id: ParticipantId,
    pub pinned_at: Option<Timestamp>,
}
