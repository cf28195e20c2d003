//! What `/support` sends, in the seed's snake_case.

use chatgate_core::Timestamp;
use chatgate_core::model::{Block, MediaReference, Message, ParticipantRef, Ticket, TicketFacet, TicketSide};
use serde::Serialize;

/// A ticket in TICKET_LIST and NEW_TICKET.
#[derive(Serialize)]
pub(super) struct TicketDto<'a> {
    pub(super) id: &'a str,
    pub(super) title: &'a str,
    pub(super) category: &'static str,
    pub(super) status: &'static str,
    pub(super) priority: &'static str,
    pub(super) created_at: Timestamp,
    pub(super) updated_at: Timestamp,
    pub(super) admin_name: Option<&'a str>,
    pub(super) user_id: &'a str,
    pub(super) user_name: Option<&'a str>,
    pub(super) admin_id: Option<&'a str>,
    pub(super) guest_name: Option<&'a str>,
    pub(super) guest_email: Option<&'a str>,
    /// In TICKET_LIST: the listing side's unread messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) unread_count: Option<u64>,
}

impl<'a> From<&'a Ticket> for TicketDto<'a> {
    fn from(t: &'a Ticket) -> Self {
        TicketDto {
            id: &t.id,
            title: &t.facet.title,
            category: t.facet.category.as_str(),
            status: t.facet.status.as_str(),
            priority: t.facet.priority.as_str(),
            created_at: t.created_at,
            updated_at: t.updated_at,
            admin_name: t.admin_name.as_deref(),
            user_id: &t.facet.requester_id,
            user_name: t.user_name.as_deref(),
            admin_id: t.facet.assigned_admin_id.as_deref(),
            guest_name: t.facet.guest_name.as_deref(),
            guest_email: t.facet.guest_email.as_deref(),
            unread_count: t.unread_count,
        }
    }
}

/// One message in NEW_MESSAGE: the writer is named on their side (`user_…` for the requester,
/// `admin_…` for an admin), the other side's fields are null.
#[derive(Serialize)]
pub(super) struct MessageDto {
    pub(super) id: String,
    pub(super) message: String,
    pub(super) ticket_id: String,
    pub(super) user_id: Option<String>,
    pub(super) admin_id: Option<String>,
    pub(super) current_status: &'static str,
    pub(super) attachments: Option<String>,
    pub(super) created_at: Timestamp,
    pub(super) user_name: Option<String>,
    pub(super) admin_name: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct NewMessageDto<'a> {
    pub(super) ticket_id: &'a str,
    pub(super) messages: [MessageDto; 1],
}

/// The answer to LOAD_MORE_MESSAGES: NEW_MESSAGE with the page it is.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct HistoryDto<'a> {
    pub(super) ticket_id: &'a str,
    pub(super) messages: Vec<MessageDto>,
    pub(super) page: u32,
    pub(super) limit: u32,
    pub(super) has_more: bool,
}

pub(super) fn message_dto(
    m: &Message,
    facet: &TicketFacet,
    ticket_id: &str,
    people: &[ParticipantRef],
    requester_name: Option<&str>,
) -> MessageDto {
    let name = people
        .iter()
        .find(|p| p.id == m.sender_id)
        .map(|p| p.name.clone())
        .or_else(|| (m.sender_id == facet.requester_id).then(|| requester_name.map(str::to_owned)).flatten())
        .unwrap_or_else(|| m.sender_id.clone());
    let (user, admin) = match facet.side_of(&m.sender_id) {
        TicketSide::User => ((Some(m.sender_id.clone()), Some(name)), (None, None)),
        TicketSide::Admin => ((None, None), (Some(m.sender_id.clone()), Some(name))),
    };
    let urls: Vec<String> = m.blocks.iter().filter_map(media_of_block).map(url_of).collect();
    MessageDto {
        id: m.id.clone(),
        message: text_of(m),
        ticket_id: ticket_id.to_owned(),
        user_id: user.0,
        admin_id: admin.0,
        current_status: facet.status.as_str(),
        attachments: (!urls.is_empty()).then(|| urls.join(",")),
        created_at: m.created_at,
        user_name: user.1,
        admin_name: admin.1,
    }
}

/// What a ticket message says: its text blocks (any other message: its searchable text).
fn text_of(m: &Message) -> String {
    let texts: Vec<&str> = m
        .blocks
        .iter()
        .filter_map(|b| match b {
            Block::Text(t) => Some(t.plain_text.as_deref().unwrap_or(&t.content)),
            _ => None,
        })
        .collect();
    if texts.is_empty() { m.plain_text.clone().unwrap_or_default() } else { texts.join("\n") }
}

fn media_of_block(block: &Block) -> Option<&MediaReference> {
    match block {
        Block::File(b) => Some(&b.source),
        Block::Image(b) => Some(&b.source),
        Block::Video(b) => Some(&b.source),
        Block::Audio(b) => Some(&b.source),
        _ => None,
    }
}

/// An attachment's address: its URL (signed when downloads are), else its download path.
fn url_of(media: &MediaReference) -> String {
    match (&media.url, &media.storage_key) {
        (Some(url), _) => url.clone(),
        (None, Some(key)) => crate::files::signing::download_path(key),
        (None, None) => String::new(),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct StatusChangedDto<'a> {
    pub(super) ticket_id: &'a str,
    pub(super) old_status: &'static str,
    pub(super) current_status: &'static str,
}

#[derive(Serialize)]
pub(super) struct TicketUpdatedDto<'a> {
    pub(super) id: &'a str,
    pub(super) status: &'static str,
    pub(super) admin_name: Option<&'a str>,
    pub(super) admin_id: Option<&'a str>,
    pub(super) updated_at: Timestamp,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TypingDto<'a> {
    pub(super) ticket_id: &'a str,
    pub(super) user_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) user_name: Option<&'a str>,
    pub(super) user_id: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ReadReceiptDto<'a> {
    pub(super) ticket_id: &'a str,
    pub(super) message_id: &'a str,
    pub(super) user_id: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct UnreadCountDto<'a> {
    pub(super) ticket_id: &'a str,
    pub(super) unread_count: u64,
    pub(super) is_new: bool,
}
