//! Core events rendered for `/support`: one task, in bus order, each event encoded once per set
//! of rooms.

use chatgate_core::Timestamp;
use chatgate_core::event::{Event, EventKind, MessageEvent, TypingEvent};
use chatgate_core::model::{SenderType, TicketSide};
use chatgate_socketio::Namespace;
use serde::Serialize;

use super::dto::*;
use super::{admins_room, requester_room, ticket_room, user_room};
use crate::files::MediaUrls;

/// Renders every core event that concerns a ticket, in bus order.
pub(super) async fn render(events: chatgate_core::EventStream, ns: Namespace, media_urls: MediaUrls) {
    crate::pacing::render_batches(events, |event| {
        if !concerns_tickets(&event.kind) {
            return;
        }
        let signed = media_urls.fill_event(event, Timestamp::now());
        render_one(&ns, signed.as_ref().unwrap_or(event));
    })
    .await;
}

fn concerns_tickets(kind: &EventKind) -> bool {
    match kind {
        EventKind::MessageCreated(e) => e.conversation.ticket.is_some(),
        EventKind::TypingStarted(e) | EventKind::TypingStopped(e) => e.ticket.is_some(),
        EventKind::TicketCreated(_)
        | EventKind::TicketChanged(_)
        | EventKind::TicketRead(_)
        | EventKind::TicketUnread(_) => true,
        _ => false,
    }
}

fn emit<T: Serialize + ?Sized>(
    ns: &Namespace,
    rooms: Vec<String>,
    except: Option<String>,
    event: &str,
    data: &T,
) {
    let mut rooms = rooms.into_iter();
    let Some(first) = rooms.next() else { return };
    let mut to = rooms.fold(ns.to(first), |to, room| to.to(room));
    if let Some(room) = except {
        to = to.except(room);
    }
    if let Err(e) = to.emit(event, data) {
        tracing::debug!(error = %e, event, "support broadcast failed");
    }
}

fn render_one(ns: &Namespace, event: &Event) {
    let tenant = event.tenant.as_str();
    match &event.kind {
        EventKind::MessageCreated(e) => new_message(ns, tenant, e),
        EventKind::TypingStarted(e) => typing(ns, tenant, e, "TYPING_START"),
        EventKind::TypingStopped(e) => typing(ns, tenant, e, "TYPING_END"),
        EventKind::TicketCreated(e) => {
            let rooms = vec![requester_room(tenant, &e.ticket.facet), admins_room(tenant)];
            emit(ns, rooms, None, "NEW_TICKET", &TicketDto::from(&e.ticket))
        }
        EventKind::TicketChanged(e) => {
            let t = &e.ticket;
            let rooms = vec![ticket_room(&t.id), requester_room(tenant, &t.facet), admins_room(tenant)];
            if e.old_status != t.facet.status {
                let dto = StatusChangedDto {
                    ticket_id: &t.id,
                    old_status: e.old_status.as_str(),
                    current_status: t.facet.status.as_str(),
                };
                emit(ns, rooms.clone(), None, "STATUS_CHANGED", &dto)
            }
            let dto = TicketUpdatedDto {
                id: &t.id,
                status: t.facet.status.as_str(),
                admin_name: t.admin_name.as_deref(),
                admin_id: t.facet.assigned_admin_id.as_deref(),
                updated_at: t.updated_at,
            };
            emit(ns, rooms, None, "TICKET_UPDATED", &dto)
        }
        EventKind::TicketRead(e) => {
            // For the other side: not back to the reader.
            let rooms = vec![ticket_room(&e.ticket_id), requester_room(tenant, &e.ticket)];
            let reader = match e.side {
                TicketSide::User => requester_room(tenant, &e.ticket),
                TicketSide::Admin => user_room(tenant, &e.reader_id),
            };
            let dto =
                ReadReceiptDto { ticket_id: &e.ticket_id, message_id: &e.message_id, user_id: &e.reader_id };
            emit(ns, rooms, Some(reader), "READ_RECEIPT", &dto)
        }
        EventKind::TicketUnread(e) => {
            let room = match e.side {
                TicketSide::User => requester_room(tenant, &e.ticket),
                TicketSide::Admin => admins_room(tenant),
            };
            let dto =
                UnreadCountDto { ticket_id: &e.ticket_id, unread_count: e.unread_count, is_new: e.is_new };
            emit(ns, vec![room], None, "UNREAD_COUNT", &dto)
        }
        _ => {}
    }
}

/// A ticket's new message goes to the ticket's room, its requester, and the writer's own room
/// (the acknowledgement of SEND_MESSAGE).
fn new_message(ns: &Namespace, tenant: &str, e: &MessageEvent) {
    let Some(facet) = &e.conversation.ticket else { return };
    if e.message.sender_type == SenderType::System {
        return;
    }
    let ticket_id = &e.message.conversation_id;
    let people = std::slice::from_ref(&e.sender);
    let dto =
        NewMessageDto { ticket_id, messages: [message_dto(&e.message, facet, ticket_id, people, None)] };
    let mut rooms = vec![ticket_room(ticket_id), requester_room(tenant, facet)];
    if facet.side_of(&e.message.sender_id) == TicketSide::Admin {
        rooms.push(user_room(tenant, &e.message.sender_id));
    }
    emit(ns, rooms, None, "NEW_MESSAGE", &dto)
}

/// Typing goes to the ticket's room and its requester, never back to the typist.
fn typing(ns: &Namespace, tenant: &str, e: &TypingEvent, name: &str) {
    let Some(facet) = &e.ticket else { return };
    let side = facet.side_of(&e.participant.id);
    let dto = TypingDto {
        ticket_id: &e.conversation_id,
        user_type: match side {
            TicketSide::User => "USER",
            TicketSide::Admin => "ADMIN",
        },
        user_name: (name == "TYPING_START").then_some(e.participant.name.as_str()),
        user_id: &e.participant.id,
    };
    let typist = match side {
        TicketSide::User => requester_room(tenant, facet),
        TicketSide::Admin => user_room(tenant, &e.participant.id),
    };
    let rooms = vec![ticket_room(&e.conversation_id), requester_room(tenant, facet)];
    emit(ns, rooms, Some(typist), name, &dto)
}
