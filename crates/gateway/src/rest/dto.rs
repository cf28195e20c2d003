//! The REST API's payload shapes (seed 002 sections 4–7 and 16), rendered from core values.
//! Fields the seed types `T | null` are always written; `?: T` fields may be left out.

use chatgate_core::model::*;
use chatgate_core::service::Page;
use chatgate_core::store::MediaEntry;
use chatgate_core::{Role, Timestamp};
use serde::Serialize;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CursorPage<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
    pub has_more: bool,
}

impl<T> CursorPage<T> {
    pub fn from_page<U>(page: Page<U>, render: impl Fn(U) -> T) -> Self {
        CursorPage {
            items: page.items.into_iter().map(render).collect(),
            next_cursor: page.next_cursor,
            has_more: page.has_more,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantDto {
    pub id: String,
    pub unique_name: String,
    pub full_name: String,
    pub avatar: Option<MediaReference>,
    pub gender: Option<String>,
    pub is_bot: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl From<Participant> for ParticipantDto {
    fn from(p: Participant) -> Self {
        ParticipantDto {
            is_bot: p.is_bot(),
            id: p.id,
            unique_name: p.unique_name,
            full_name: p.full_name,
            avatar: p.avatar,
            gender: p.gender,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationParticipantDto {
    pub participant_id: String,
    pub joined_at: Timestamp,
    pub left_at: Option<Timestamp>,
    pub is_active: bool,
    pub is_pinned: bool,
    pub pinned_at: Option<Timestamp>,
}

impl From<Membership> for ConversationParticipantDto {
    fn from(m: Membership) -> Self {
        ConversationParticipantDto {
            participant_id: m.participant_id,
            joined_at: m.joined_at,
            left_at: m.left_at,
            is_active: m.is_active,
            is_pinned: m.is_pinned,
            pinned_at: m.pinned_at,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationDto {
    pub id: String,
    pub name: String,
    pub avatar: Option<MediaReference>,
    pub owner_id: String,
    pub last_message_at: Option<Timestamp>,
    pub last_message_id: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub participants: Vec<ConversationParticipantDto>,
}

impl From<ConversationDetails> for ConversationDto {
    fn from(d: ConversationDetails) -> Self {
        let c = d.conversation;
        ConversationDto {
            id: c.id,
            name: c.name.unwrap_or_default(),
            avatar: c.avatar,
            owner_id: c.owner_id,
            last_message_at: c.last_message_at,
            last_message_id: c.last_message_id,
            created_at: c.created_at,
            updated_at: c.updated_at,
            participants: d.members.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationListItemDto {
    pub id: String,
    pub name: Option<String>,
    pub avatar: Option<MediaReference>,
    pub last_message_at: Option<Timestamp>,
    pub last_message_id: Option<String>,
    pub last_message: Option<MessageDto>,
    pub is_pinned: bool,
    pub pinned_at: Option<Timestamp>,
    pub participant_count: u32,
}

impl From<ConversationListEntry> for ConversationListItemDto {
    fn from(e: ConversationListEntry) -> Self {
        let c = e.conversation;
        ConversationListItemDto {
            id: c.id,
            name: c.name,
            avatar: c.avatar,
            last_message_at: c.last_message_at,
            last_message_id: c.last_message_id,
            last_message: e.last_message.map(Into::into),
            is_pinned: e.membership.is_pinned,
            pinned_at: e.membership.pinned_at,
            participant_count: e.participant_count,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReactionSummary {
    pub groups: Vec<ReactionGroup>,
    pub total_count: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageDto {
    pub id: String,
    pub conversation_id: String,
    pub sender_id: String,
    pub sender_type: SenderType,
    pub blocks: Vec<Block>,
    pub plain_text_index: Option<String>,
    pub reply_to_message_id: Option<String>,
    pub quick_replies: Option<Vec<QuickReply>>,
    pub is_edited: bool,
    pub edited_at: Option<Timestamp>,
    pub is_deleted: bool,
    pub deleted_at: Option<Timestamp>,
    pub reaction_summary: Option<ReactionSummary>,
    pub mentions: Option<Vec<Mention>>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub client_message_id: Option<String>,
    pub system_event: Option<SystemEvent>,
}

impl From<Message> for MessageDto {
    fn from(m: Message) -> Self {
        let reaction_summary = (!m.reactions.is_empty()).then(|| ReactionSummary {
            total_count: m.reactions.iter().map(|g| g.count).sum(),
            groups: m.reactions.clone(),
        });
        MessageDto {
            is_edited: m.is_edited(),
            is_deleted: m.is_deleted(),
            id: m.id,
            conversation_id: m.conversation_id,
            sender_id: m.sender_id,
            sender_type: m.sender_type,
            blocks: m.blocks,
            plain_text_index: m.plain_text,
            reply_to_message_id: m.reply_to_message_id,
            quick_replies: m.quick_replies,
            edited_at: m.edited_at,
            deleted_at: m.deleted_at,
            reaction_summary,
            mentions: m.mentions,
            created_at: m.created_at,
            updated_at: m.updated_at,
            client_message_id: m.client_message_id,
            system_event: m.system_event,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeletedMessageDto {
    pub message_id: String,
    pub deleted_at: Option<Timestamp>,
}

/// One attachment or link of `GET /api/conversations/{id}/media`.
#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ConversationMediaItemDto {
    pub id: String,
    pub conversation_id: String,
    pub message_id: String,
    pub block_index: u32,
    pub sender_id: String,
    pub sender_type: &'static str,
    pub kind: &'static str,
    pub block_type: &'static str,
    pub created_at: Timestamp,
    pub storage_key: Option<String>,
    pub url: Option<String>,
    pub file_name: Option<String>,
    pub mime_type: Option<String>,
    pub file_size_bytes: Option<u64>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub duration_seconds: Option<f64>,
    pub caption: Option<String>,
    pub alt_text: Option<String>,
    pub thumbnail_storage_key: Option<String>,
    pub thumbnail_url: Option<String>,
    pub link_title: Option<String>,
    pub link_description: Option<String>,
    pub link_site_name: Option<String>,
    pub link_image_storage_key: Option<String>,
    pub link_image_url: Option<String>,
}

impl From<MediaEntry> for ConversationMediaItemDto {
    fn from(e: MediaEntry) -> Self {
        let m = &e.message;
        let mut item = ConversationMediaItemDto {
            id: format!("{}#{:02}", m.id, e.block_index),
            conversation_id: m.conversation_id.clone(),
            message_id: m.id.clone(),
            block_index: e.block_index,
            sender_id: m.sender_id.clone(),
            sender_type: m.sender_type.as_str(),
            kind: e.kind.as_str(),
            created_at: m.created_at,
            ..Default::default()
        };
        let split = |r: &Option<MediaReference>| match r {
            Some(r) => (r.storage_key.clone(), r.url.clone()),
            None => (None, None),
        };
        let source = |item: &mut ConversationMediaItemDto, s: &MediaReference| {
            // An attachment is named by its key, a link by its address.
            match e.kind {
                MediaKind::Attachment => item.storage_key = s.storage_key.clone(),
                MediaKind::Link => item.url = s.url.clone(),
            }
        };
        match m.blocks.get(e.block_index as usize) {
            Some(Block::Image(b)) => {
                item.block_type = "Image";
                source(&mut item, &b.source);
                (item.width, item.height) = (b.width, b.height);
                item.caption = b.caption.clone();
                item.alt_text = b.alt_text.clone();
                item.file_size_bytes = b.file_size_bytes;
                (item.thumbnail_storage_key, item.thumbnail_url) = split(&b.thumbnail);
            }
            Some(Block::Video(b)) => {
                item.block_type = "Video";
                source(&mut item, &b.source);
                item.caption = b.caption.clone();
                item.duration_seconds = b.duration_seconds;
                item.mime_type = b.mime_type.clone();
                item.file_size_bytes = b.file_size_bytes;
                (item.thumbnail_storage_key, item.thumbnail_url) = split(&b.thumbnail);
            }
            Some(Block::Audio(b)) => {
                item.block_type = "Audio";
                source(&mut item, &b.source);
                item.duration_seconds = b.duration_seconds;
                item.mime_type = b.mime_type.clone();
                item.file_size_bytes = b.file_size_bytes;
            }
            Some(Block::File(b)) => {
                item.block_type = "File";
                source(&mut item, &b.source);
                item.file_name = Some(b.file_name.clone());
                item.mime_type = b.mime_type.clone();
                item.file_size_bytes = b.file_size_bytes;
            }
            Some(Block::LinkPreview(b)) => {
                item.block_type = "LinkPreview";
                item.url = Some(b.url.clone());
                item.link_title = b.title.clone();
                item.link_description = b.description.clone();
                item.link_site_name = b.site_name.clone();
                (item.link_image_storage_key, item.link_image_url) = split(&b.image);
            }
            _ => item.block_type = "File",
        }
        item
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthUserInfo {
    pub id: String,
    pub unique_name: String,
    pub full_name: String,
    /// A plain URL, not a MediaReference.
    pub avatar: Option<String>,
    pub role: Option<Role>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthResponse {
    pub token: String,
    pub expires_at: Timestamp,
    pub user: AuthUserInfo,
}
