//! Domain events: what happened, with everything a door needs to render it and to know who should
//! hear of it. Events travel over the bus (serialized when it leaves the process), so they carry
//! data, not references into the store.

use serde::{Deserialize, Serialize};

use crate::TenantId;
use crate::ids::{ConversationId, MessageId, ParticipantId};
use crate::model::{MediaReference, Message, ParticipantRef};
use crate::model::{Ticket, TicketFacet, TicketSide, TicketStatus};
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
    /// Thumbnails were made for image or video blocks of a stored message (always after the
    /// event that delivered the message).
    MessageThumbnailsReady(ThumbnailsEvent),
    /// A bot began streaming a reply; nothing is stored until it completes.
    StreamStarted(StreamStartedEvent),
    StreamStatusUpdated(StreamStatusEvent),
    /// Chunks released together (one, or several coalesced within the window), in index order.
    StreamChunks(StreamChunksEvent),
    /// The streamed reply was stored: for a bot stream this stands in for `MessageCreated`.
    StreamCompleted(StreamCompletedEvent),
    StreamAborted(StreamAbortedEvent),
    /// A support ticket was opened. Its first message follows as a `MessageCreated`.
    TicketCreated(TicketEvent),
    /// A ticket's status or assignee changed: by a reply, or by an admin.
    TicketChanged(TicketChangedEvent),
    /// One side of a ticket read up to a message.
    TicketRead(TicketReadEvent),
    /// One side's count of unread messages of a ticket changed (or was asked to be re-read).
    TicketUnread(TicketUnreadEvent),
    /// A connector reported its channel account's session (QR code, connected, disconnected).
    ChannelSessionChanged(ChannelSessionEvent),
    /// A chat of a channel account changed: a message dashboards show (after its
    /// `MessageCreated`), or its unread count alone.
    ChannelChatChanged(ChannelChatEvent),
    /// A reply waits in a channel account's outbox for its connector.
    OutboxReady(OutboxReadyEvent),
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
            EventKind::MessageThumbnailsReady(_) => "MessageThumbnailsReady",
            EventKind::StreamStarted(_) => "StreamStarted",
            EventKind::StreamStatusUpdated(_) => "StreamStatusUpdated",
            EventKind::StreamChunks(_) => "StreamChunks",
            EventKind::StreamCompleted(_) => "StreamCompleted",
            EventKind::StreamAborted(_) => "StreamAborted",
            EventKind::TicketCreated(_) => "TicketCreated",
            EventKind::TicketChanged(_) => "TicketChanged",
            EventKind::TicketRead(_) => "TicketRead",
            EventKind::TicketUnread(_) => "TicketUnread",
            EventKind::ChannelSessionChanged(_) => "ChannelSessionChanged",
            EventKind::ChannelChatChanged(_) => "ChannelChatChanged",
            EventKind::OutboxReady(_) => "OutboxReady",
        }
    }

    /// The newly stored message this event announces: a `MessageCreated`, or a bot stream's
    /// `StreamCompleted`. Doors that show new messages use this so they miss neither.
    pub fn new_message(&self) -> Option<&MessageEvent> {
        match self {
            EventKind::MessageCreated(e) => Some(e),
            EventKind::StreamCompleted(e) => Some(&e.message),
            _ => None,
        }
    }

    /// The conversation the event belongs to (empty for a channel session report).
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
            EventKind::MessageThumbnailsReady(e) => &e.conversation_id,
            EventKind::StreamStarted(e) => &e.conversation_id,
            EventKind::StreamStatusUpdated(e) => &e.conversation_id,
            EventKind::StreamChunks(e) => &e.conversation_id,
            EventKind::StreamCompleted(e) => &e.message.message.conversation_id,
            EventKind::StreamAborted(e) => &e.conversation_id,
            EventKind::TicketCreated(e) => &e.ticket.id,
            EventKind::TicketChanged(e) => &e.ticket.id,
            EventKind::TicketRead(e) => &e.ticket_id,
            EventKind::TicketUnread(e) => &e.ticket_id,
            // A session belongs to an account, not to a conversation.
            EventKind::ChannelSessionChanged(_) => "",
            EventKind::ChannelChatChanged(e) => &e.chat.conversation_id,
            EventKind::OutboxReady(e) => &e.conversation_id,
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
    /// The channel of a channel conversation (`WEB`, `WHATSAPP`…).
    pub channel: Option<String>,
    /// The ticket of a support ticket's conversation, as it is after the event.
    #[serde(default)]
    pub ticket: Option<TicketFacet>,
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

/// The thumbnails now recorded on a message's blocks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ThumbnailsEvent {
    pub conversation_id: ConversationId,
    pub message_id: MessageId,
    pub thumbnails: Vec<BlockThumbnail>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BlockThumbnail {
    /// The block's place in the message's `blocks`.
    pub block_index: u32,
    pub thumbnail: MediaReference,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TypingEvent {
    pub conversation_id: ConversationId,
    pub participant: ParticipantRef,
    /// Set when the conversation is a support ticket: who is on which side of it.
    #[serde(default)]
    pub ticket: Option<TicketFacet>,
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

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamStartedEvent {
    pub stream_id: String,
    /// The id the completed message will have.
    pub message_id: MessageId,
    pub conversation_id: ConversationId,
    pub sender: ParticipantRef,
    pub reply_to_message_id: Option<MessageId>,
    pub client_message_id: Option<String>,
    pub started_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamStatusEvent {
    pub stream_id: String,
    pub message_id: MessageId,
    pub conversation_id: ConversationId,
    pub status: String,
    pub detail: Option<String>,
    pub at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamPart {
    pub text: String,
    pub chunk_index: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamChunksEvent {
    pub stream_id: String,
    pub message_id: MessageId,
    pub conversation_id: ConversationId,
    /// Contiguous, ascending `chunk_index`, continuing where the previous release ended.
    pub parts: Vec<StreamPart>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamCompletedEvent {
    pub stream_id: String,
    pub finish_reason: Option<String>,
    pub completed_at: Timestamp,
    /// The stored message, with what notifications need.
    pub message: MessageEvent,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamAbortedEvent {
    pub stream_id: String,
    pub message_id: MessageId,
    pub conversation_id: ConversationId,
    pub reason: String,
    pub at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TicketEvent {
    pub ticket: Ticket,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TicketChangedEvent {
    /// The ticket after the change.
    pub ticket: Ticket,
    pub old_status: TicketStatus,
    pub old_assignee_id: Option<ParticipantId>,
    pub changed_by: ParticipantId,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TicketReadEvent {
    pub ticket_id: ConversationId,
    pub ticket: TicketFacet,
    pub side: TicketSide,
    pub reader_id: ParticipantId,
    /// The last message read.
    pub message_id: MessageId,
    pub at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TicketUnreadEvent {
    pub ticket_id: ConversationId,
    pub ticket: TicketFacet,
    /// The side whose count this is (it goes to that side only).
    pub side: TicketSide,
    /// Messages by the other side after this side's last read.
    pub unread_count: u64,
    /// Whether the count changed because the other side wrote (rather than because this side read).
    pub is_new: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChannelSessionEvent {
    /// The account as it is after the report.
    pub account: crate::model::ChannelAccountRef,
    pub session: crate::model::ChannelSession,
    pub at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChannelChatEvent {
    pub account: crate::model::ChannelAccountRef,
    /// The chat as it is after the change.
    pub chat: crate::model::ChannelChat,
    /// Whether the chat began with this message.
    pub chat_created: bool,
    /// The person on the other side of a one-to-one chat.
    pub customer: Option<ChannelCustomerRef>,
    /// The message that changed the chat; `None` when only its unread count changed.
    pub message: Option<ChannelMessageEvent>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChannelCustomerRef {
    pub id: ParticipantId,
    pub name: String,
    pub phone: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChannelMessageEvent {
    pub message: Message,
    pub sender: ParticipantRef,
    /// From the business: an agent's reply, or sent from the platform itself (`fromMe`).
    pub outbound: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutboxReadyEvent {
    pub account_id: String,
    pub conversation_id: ConversationId,
    pub entry_id: String,
}
