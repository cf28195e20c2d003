//! The client events: each payload decoded, one core call, failures as ERROR on the socket.

use chatgate_core::model::TicketCaller;
use chatgate_core::service::{GuestDetails, NewTicket, TICKET_TOO_LARGE, TicketReply};
use chatgate_core::{CoreError, ErrorKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::dto::{HistoryDto, TicketDto, message_dto};
use super::{Door, SupportSocket, is_ticket_room, ticket_room};

const AREA: &str = "SUPPORT_TICKET";

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RoomPayload {
    #[serde(default, alias = "ticket_id")]
    ticket_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateTicketPayload {
    title: String,
    message: String,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    priority: Option<String>,
    #[serde(default)]
    attachments: Option<Vec<String>>,
    #[serde(default, alias = "guest_name")]
    guest_name: Option<String>,
    #[serde(default, alias = "guest_email")]
    guest_email: Option<String>,
}

impl CreateTicketPayload {
    fn ticket(&mut self) -> NewTicket {
        NewTicket {
            title: std::mem::take(&mut self.title),
            message: std::mem::take(&mut self.message),
            category: self.category.take(),
            priority: self.priority.take(),
            attachments: self.attachments.take().unwrap_or_default(),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SendMessagePayload {
    #[serde(alias = "ticket_id")]
    ticket_id: String,
    message: String,
    #[serde(default)]
    attachments: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TicketPayload {
    #[serde(alias = "ticket_id")]
    ticket_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MarkReadPayload {
    #[serde(alias = "ticket_id")]
    ticket_id: String,
    /// The last message read; the newest when absent.
    #[serde(default, alias = "message_id")]
    message_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LoadMorePayload {
    #[serde(alias = "ticket_id")]
    ticket_id: String,
    #[serde(default)]
    page: Option<u32>,
    #[serde(default)]
    limit: Option<u32>,
}

/// The event's payload, which must be one JSON object.
fn payload<T: serde::de::DeserializeOwned>(data: Option<Value>) -> Result<T, CoreError> {
    match data {
        None | Some(Value::Null) => Err(CoreError::invalid("payload", "is required: a JSON object")),
        Some(value) => crate::wire::from_object(value, "payload"),
    }
}

pub(super) async fn handle(
    door: &Door,
    socket: &SupportSocket,
    caller: &TicketCaller,
    event: &str,
    data: Option<Value>,
) -> Result<(), CoreError> {
    let core = &door.app.core;
    match event {
        "JOIN_ROOM" => {
            let room: RoomPayload = match data {
                None | Some(Value::Null) => RoomPayload::default(),
                some => payload(some)?,
            };
            if let Some(id) = room.ticket_id.filter(|id| !id.is_empty()) {
                let ticket = core.ticket(caller, &id).await?;
                socket.join(ticket_room(&ticket.id));
            }
            send_ticket_list(door, socket, caller).await;
        }
        "LEAVE_ROOM" => {
            let room: RoomPayload = match data {
                None | Some(Value::Null) => RoomPayload::default(),
                some => payload(some)?,
            };
            match room.ticket_id.filter(|id| !id.is_empty()) {
                Some(id) => socket.leave(ticket_room(&id)),
                // Without a ticket: every ticket room; the socket's own rooms stay.
                None => {
                    for room in socket.rooms() {
                        if is_ticket_room(&room) {
                            socket.leave(room);
                        }
                    }
                }
            }
        }
        "CREATE_TICKET" => {
            let mut input: CreateTicketPayload = payload(data)?;
            core.create_ticket(caller, input.ticket()).await?;
        }
        "CREATE_GUEST_TICKET" => {
            let mut input: CreateTicketPayload = payload(data)?;
            let TicketCaller::Guest(guest) = caller else {
                return Err(CoreError::invalid(
                    "event",
                    "CREATE_GUEST_TICKET is for guests; with a token, use CREATE_TICKET",
                ));
            };
            let details = GuestDetails {
                name: input
                    .guest_name
                    .take()
                    .ok_or_else(|| CoreError::invalid("guestName", "is required"))?,
                email: input.guest_email.take(),
            };
            core.create_guest_ticket(guest, input.ticket(), details).await?;
        }
        "SEND_MESSAGE" => {
            let input: SendMessagePayload = payload(data)?;
            let reply =
                TicketReply { message: input.message, attachments: input.attachments.unwrap_or_default() };
            core.reply_to_ticket(caller, &input.ticket_id, reply).await?;
        }
        "TYPING_START" | "TYPING_END" => {
            let input: TicketPayload = payload(data)?;
            core.ticket_typing(caller, &input.ticket_id, event == "TYPING_START").await?;
        }
        "MARK_AS_READ" => {
            let input: MarkReadPayload = payload(data)?;
            core.mark_ticket_read(caller, &input.ticket_id, input.message_id.as_deref()).await?;
        }
        "LOAD_MORE_MESSAGES" => {
            let input: LoadMorePayload = payload(data)?;
            let found = core.ticket_messages(caller, &input.ticket_id, input.page, input.limit).await?;
            let messages = found
                .messages
                .iter()
                .map(|m| {
                    message_dto(
                        m,
                        &found.ticket.facet,
                        &found.ticket.id,
                        &found.people,
                        found.ticket.user_name.as_deref(),
                    )
                })
                .collect();
            let page = HistoryDto {
                ticket_id: &found.ticket.id,
                messages,
                page: found.page,
                limit: found.limit,
                has_more: found.has_more,
            };
            let _ = socket.emit("NEW_MESSAGE", &page);
        }
        _ => return Err(CoreError::invalid("event", format!("unknown event `{event}`"))),
    }
    Ok(())
}

pub(super) async fn send_ticket_list(door: &Door, socket: &SupportSocket, caller: &TicketCaller) {
    match door.app.core.ticket_list(caller).await {
        Ok(tickets) => {
            let list: Vec<TicketDto> = tickets.iter().map(TicketDto::from).collect();
            let _ = socket.emit("TICKET_LIST", &list);
        }
        Err(e) => emit_error(socket, "TICKET_LIST", code_of(&e), &e.message),
    }
}

/// ERROR codes are HTTP-like; a size failure is 413.
pub(super) fn code_of(e: &CoreError) -> u16 {
    match e.kind {
        ErrorKind::Validation if e.code == TICKET_TOO_LARGE => 413,
        ErrorKind::Validation => 400,
        ErrorKind::Unauthorized => 401,
        ErrorKind::Forbidden => 403,
        ErrorKind::NotFound => 404,
        ErrorKind::Conflict => 409,
        ErrorKind::Unexpected => 500,
    }
}

#[derive(Serialize)]
struct ErrorDto<'a> {
    code: u16,
    message: &'a str,
    area: &'static str,
    /// The client event that failed.
    event: &'a str,
}

pub(super) fn emit_error(socket: &SupportSocket, event: &str, code: u16, message: &str) {
    let _ = socket.emit("ERROR", &ErrorDto { code, message, area: AREA, event });
}
