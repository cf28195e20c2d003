//! The hubs' payload shapes (seed 002 sections 12, 13 and 16), rendered from core events.
//! Fields typed `T | null` are always written.

use std::collections::BTreeMap;

use chatgate_core::event::{MembershipEvent, MessageEvent, ReactionEvent, TypingEvent};
use chatgate_core::event::{
    StreamAbortedEvent, StreamChunksEvent, StreamCompletedEvent, StreamPart, StreamStartedEvent,
    StreamStatusEvent,
};
use chatgate_core::model::*;
use chatgate_core::validate::preview_of;
use chatgate_core::{CoreError, ErrorKind, Timestamp};
use serde::Serialize;

/// What the `Error` event carries, and the `errorCode` of acks.
pub fn error_code(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Validation => "VALIDATION",
        ErrorKind::NotFound => "NOT_FOUND",
        ErrorKind::Conflict => "CONFLICT",
        ErrorKind::Forbidden => "FORBIDDEN",
        ErrorKind::Unauthorized => "UNAUTHORIZED",
        ErrorKind::Unexpected => "INTERNAL_ERROR",
    }
}

#[derive(Serialize)]
pub struct HubErrorDto {
    pub code: &'static str,
    pub message: String,
    pub details: Option<BTreeMap<String, String>>,
}

impl From<&CoreError> for HubErrorDto {
    fn from(e: &CoreError) -> Self {
        HubErrorDto {
            code: error_code(e.kind),
            message: e.message.clone(),
            details: (!e.details.is_empty()).then(|| e.details.clone()),
        }
    }
}

/// The error half of every ack: both null on success.
#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AckError {
    pub error_code: Option<&'static str>,
    pub error_message: Option<String>,
}

impl From<&CoreError> for AckError {
    fn from(e: &CoreError) -> Self {
        AckError { error_code: Some(error_code(e.kind)), error_message: Some(e.message.clone()) }
    }
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct SendMessageAck {
    pub success: bool,
    pub message_id: Option<String>,
    pub client_message_id: Option<String>,
    pub created_at: Option<Timestamp>,
    #[serde(flatten)]
    pub error: AckError,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct EditMessageAck {
    pub success: bool,
    pub message_id: Option<String>,
    pub edited_at: Option<Timestamp>,
    #[serde(flatten)]
    pub error: AckError,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct DeleteMessageAck {
    pub success: bool,
    pub message_id: Option<String>,
    pub deleted_at: Option<Timestamp>,
    #[serde(flatten)]
    pub error: AckError,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct RecoverMessageAck {
    pub success: bool,
    pub message_id: Option<String>,
    #[serde(flatten)]
    pub error: AckError,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ReactionAck {
    pub success: bool,
    pub message_id: Option<String>,
    pub emoji: Option<String>,
    #[serde(flatten)]
    pub error: AckError,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SystemEventDto {
    #[serde(flatten)]
    pub event: SystemEvent,
    pub actor_name: Option<String>,
    pub target_names: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatMessageDto {
    pub id: String,
    pub conversation_id: String,
    pub sender_id: String,
    pub sender_name: String,
    pub sender_avatar: Option<MediaReference>,
    pub sender_type: SenderType,
    pub blocks: Vec<Block>,
    pub plain_text_content: Option<String>,
    pub reply_to_message_id: Option<String>,
    pub quick_replies: Option<Vec<QuickReply>>,
    pub is_edited: bool,
    pub reactions: Option<Vec<ReactionGroup>>,
    pub mentions: Option<Vec<Mention>>,
    pub created_at: Timestamp,
    pub updated_at: Option<Timestamp>,
    pub client_message_id: Option<String>,
    pub system_event: Option<SystemEventDto>,
}

impl From<&MessageEvent> for ChatMessageDto {
    fn from(e: &MessageEvent) -> Self {
        let m = &e.message;
        let name_of = |id: &str| e.people.iter().find(|p| p.id == id).map(|p| p.name.clone());
        let system_event = m.system_event.as_ref().map(|s| SystemEventDto {
            actor_name: s.actor_id.as_deref().and_then(name_of),
            target_names: s.target_ids.iter().map(|t| name_of(t).unwrap_or_else(|| t.clone())).collect(),
            event: s.clone(),
        });
        ChatMessageDto {
            id: m.id.clone(),
            conversation_id: m.conversation_id.clone(),
            sender_id: m.sender_id.clone(),
            sender_name: e.sender.name.clone(),
            sender_avatar: e.sender.avatar.clone(),
            sender_type: m.sender_type,
            blocks: m.blocks.clone(),
            plain_text_content: m.plain_text.clone(),
            reply_to_message_id: m.reply_to_message_id.clone(),
            quick_replies: m.quick_replies.clone(),
            is_edited: m.is_edited(),
            reactions: (!m.reactions.is_empty()).then(|| m.reactions.clone()),
            mentions: m.mentions.clone(),
            created_at: m.created_at,
            updated_at: Some(m.updated_at),
            client_message_id: m.client_message_id.clone(),
            system_event,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageUpdatedDto {
    pub message_id: String,
    pub conversation_id: String,
    pub blocks: Vec<Block>,
    pub plain_text_content: Option<String>,
    pub mentions: Option<Vec<Mention>>,
    pub updated_at: Timestamp,
    pub reply_to_message_id: Option<String>,
}

impl From<&MessageEvent> for MessageUpdatedDto {
    fn from(e: &MessageEvent) -> Self {
        let m = &e.message;
        MessageUpdatedDto {
            message_id: m.id.clone(),
            conversation_id: m.conversation_id.clone(),
            blocks: m.blocks.clone(),
            plain_text_content: m.plain_text.clone(),
            mentions: m.mentions.clone(),
            updated_at: m.updated_at,
            reply_to_message_id: m.reply_to_message_id.clone(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageDeletedDto {
    pub message_id: String,
    pub conversation_id: String,
    pub deleted_by: String,
    pub deleted_at: Timestamp,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReactionAddedDto {
    pub message_id: String,
    pub conversation_id: String,
    pub participant_id: String,
    pub participant_name: String,
    pub emoji: String,
    pub created_at: Timestamp,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReactionRemovedDto {
    pub message_id: String,
    pub conversation_id: String,
    pub participant_id: String,
    pub participant_name: String,
    pub emoji: String,
    pub removed_at: Timestamp,
}

impl ReactionAddedDto {
    pub fn from_event(e: &ReactionEvent) -> Self {
        ReactionAddedDto {
            message_id: e.message_id.clone(),
            conversation_id: e.conversation_id.clone(),
            participant_id: e.participant.id.clone(),
            participant_name: e.participant.name.clone(),
            emoji: e.emoji.clone(),
            created_at: e.at,
        }
    }
}

impl ReactionRemovedDto {
    pub fn from_event(e: &ReactionEvent) -> Self {
        ReactionRemovedDto {
            message_id: e.message_id.clone(),
            conversation_id: e.conversation_id.clone(),
            participant_id: e.participant.id.clone(),
            participant_name: e.participant.name.clone(),
            emoji: e.emoji.clone(),
            removed_at: e.at,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TypingDto {
    pub conversation_id: String,
    pub participant_id: String,
    pub participant_name: String,
}

impl From<&TypingEvent> for TypingDto {
    fn from(e: &TypingEvent) -> Self {
        TypingDto {
            conversation_id: e.conversation_id.clone(),
            participant_id: e.participant.id.clone(),
            participant_name: e.participant.name.clone(),
        }
    }
}

/// Notification previews are cut to this many characters (seed 002).
pub const PREVIEW_CHARS: usize = 100;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewMessageNotificationDto {
    pub conversation_id: String,
    pub conversation_name: Option<String>,
    pub message_id: String,
    pub sender_id: String,
    pub sender_name: String,
    pub sender_avatar: Option<MediaReference>,
    pub content_preview: String,
    pub sent_at: Timestamp,
}

impl From<&MessageEvent> for NewMessageNotificationDto {
    fn from(e: &MessageEvent) -> Self {
        NewMessageNotificationDto {
            conversation_id: e.conversation.id.clone(),
            conversation_name: e.conversation.name.clone(),
            message_id: e.message.id.clone(),
            sender_id: e.sender.id.clone(),
            sender_name: e.sender.name.clone(),
            sender_avatar: e.sender.avatar.clone(),
            content_preview: preview_of(&e.message, PREVIEW_CHARS),
            sent_at: e.message.created_at,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MentionedNotificationDto {
    pub conversation_id: String,
    pub message_id: String,
    pub sender_id: String,
    pub sender_name: String,
    pub content_preview: String,
    pub sent_at: Timestamp,
}

impl From<&MessageEvent> for MentionedNotificationDto {
    fn from(e: &MessageEvent) -> Self {
        MentionedNotificationDto {
            conversation_id: e.conversation.id.clone(),
            message_id: e.message.id.clone(),
            sender_id: e.sender.id.clone(),
            sender_name: e.sender.name.clone(),
            content_preview: preview_of(&e.message, PREVIEW_CHARS),
            sent_at: e.message.created_at,
        }
    }
}

/// `ConversationCreated` and `ConversationUpdated` share this shape.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationChangedDto {
    pub conversation_id: String,
    pub name: Option<String>,
    pub avatar: Option<MediaReference>,
    pub participant_count: u32,
}

/// `ParticipantJoined` and `ParticipantLeft` share this shape.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantChangedDto {
    pub conversation_id: String,
    pub participant_id: String,
    pub participant_name: String,
    pub participant_avatar: Option<MediaReference>,
    pub changed_at: Timestamp,
}

impl From<&MembershipEvent> for ParticipantChangedDto {
    fn from(e: &MembershipEvent) -> Self {
        ParticipantChangedDto {
            conversation_id: e.conversation_id.clone(),
            participant_id: e.participant.id.clone(),
            participant_name: e.participant.name.clone(),
            participant_avatar: e.participant.avatar.clone(),
            changed_at: e.at,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationPinnedDto {
    pub conversation_id: String,
    pub pinned_at: Option<Timestamp>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationUnpinnedDto {
    pub conversation_id: String,
}

/// `MessageThumbnailsReady`: thumbnails made in the background, by block index.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageThumbnailsReadyDto {
    pub message_id: String,
    pub conversation_id: String,
    pub thumbnails: Vec<MessageThumbnailDto>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageThumbnailDto {
    pub block_index: u32,
    pub thumbnail: MediaReference,
}

impl From<&chatgate_core::event::ThumbnailsEvent> for MessageThumbnailsReadyDto {
    fn from(e: &chatgate_core::event::ThumbnailsEvent) -> Self {
        MessageThumbnailsReadyDto {
            message_id: e.message_id.clone(),
            conversation_id: e.conversation_id.clone(),
            thumbnails: e
                .thumbnails
                .iter()
                .map(|t| MessageThumbnailDto { block_index: t.block_index, thumbnail: t.thumbnail.clone() })
                .collect(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamStartedDto {
    pub stream_id: String,
    pub message_id: String,
    pub conversation_id: String,
    pub sender_id: String,
    pub sender_name: String,
    pub sender_avatar: Option<MediaReference>,
    pub reply_to_message_id: Option<String>,
    pub started_at: Timestamp,
    pub client_message_id: Option<String>,
}

impl From<&StreamStartedEvent> for StreamStartedDto {
    fn from(e: &StreamStartedEvent) -> Self {
        StreamStartedDto {
            stream_id: e.stream_id.clone(),
            message_id: e.message_id.clone(),
            conversation_id: e.conversation_id.clone(),
            sender_id: e.sender.id.clone(),
            sender_name: e.sender.name.clone(),
            sender_avatar: e.sender.avatar.clone(),
            reply_to_message_id: e.reply_to_message_id.clone(),
            started_at: e.started_at,
            client_message_id: e.client_message_id.clone(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamStatusUpdatedDto {
    pub stream_id: String,
    pub message_id: String,
    pub conversation_id: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub updated_at: Timestamp,
}

impl From<&StreamStatusEvent> for StreamStatusUpdatedDto {
    fn from(e: &StreamStatusEvent) -> Self {
        StreamStatusUpdatedDto {
            stream_id: e.stream_id.clone(),
            message_id: e.message_id.clone(),
            conversation_id: e.conversation_id.clone(),
            status: e.status.clone(),
            detail: e.detail.clone(),
            updated_at: e.at,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamChunkReceivedDto {
    pub stream_id: String,
    pub message_id: String,
    pub conversation_id: String,
    pub text: String,
    pub chunk_index: u32,
}

impl StreamChunkReceivedDto {
    pub fn new(e: &StreamChunksEvent, part: &StreamPart) -> Self {
        StreamChunkReceivedDto {
            stream_id: e.stream_id.clone(),
            message_id: e.message_id.clone(),
            conversation_id: e.conversation_id.clone(),
            text: part.text.clone(),
            chunk_index: part.chunk_index,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamChunkPartDto {
    pub text: String,
    pub chunk_index: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamChunkBatchReceivedDto {
    pub stream_id: String,
    pub message_id: String,
    pub conversation_id: String,
    pub parts: Vec<StreamChunkPartDto>,
}

impl From<&StreamChunksEvent> for StreamChunkBatchReceivedDto {
    fn from(e: &StreamChunksEvent) -> Self {
        StreamChunkBatchReceivedDto {
            stream_id: e.stream_id.clone(),
            message_id: e.message_id.clone(),
            conversation_id: e.conversation_id.clone(),
            parts: e
                .parts
                .iter()
                .map(|p| StreamChunkPartDto { text: p.text.clone(), chunk_index: p.chunk_index })
                .collect(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamCompletedDto {
    pub stream_id: String,
    pub message_id: String,
    pub conversation_id: String,
    pub message: ChatMessageDto,
    pub completed_at: Timestamp,
    pub finish_reason: Option<String>,
}

impl From<&StreamCompletedEvent> for StreamCompletedDto {
    fn from(e: &StreamCompletedEvent) -> Self {
        StreamCompletedDto {
            stream_id: e.stream_id.clone(),
            message_id: e.message.message.id.clone(),
            conversation_id: e.message.message.conversation_id.clone(),
            message: ChatMessageDto::from(&e.message),
            completed_at: e.completed_at,
            finish_reason: e.finish_reason.clone(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamAbortedDto {
    pub stream_id: String,
    pub message_id: String,
    pub conversation_id: String,
    pub reason: String,
    pub aborted_at: Timestamp,
}

impl From<&StreamAbortedEvent> for StreamAbortedDto {
    fn from(e: &StreamAbortedEvent) -> Self {
        StreamAbortedDto {
            stream_id: e.stream_id.clone(),
            message_id: e.message_id.clone(),
            conversation_id: e.conversation_id.clone(),
            reason: e.reason.clone(),
            aborted_at: e.at,
        }
    }
}
