//! The support desk: Socket.IO namespace `/support` (seed 001, DESIGN 4.3).
//!
//! A socket is a signed-in user or admin (a JWT in `auth.token`, the `token` query parameter or
//! an `Authorization: Bearer` header) or, without a token, a guest. A token that does not verify
//! refuses the connection (`connect_error`) rather than silently making a guest.
//!
//! Client events are decoded and handed to one core call each; failures come back as `ERROR
//! {code, message, area: "SUPPORT_TICKET", event}` on that socket only. A socket's events are
//! handled one at a time, in the order they arrived (socketioxide runs each handler in a task of
//! its own, so the handlers only queue the event for the socket's worker).
//!
//! What happened comes back through the core's events: one task renders each event once per
//! room set (socketioxide encodes a broadcast once) into these rooms, all local to this node:
//!
//! - `SUPPORT_TICKET_{ticketId}`: sockets that joined the ticket (`JOIN_ROOM {ticketId}`);
//! - `SUPPORT_TICKET_USER_{tenant}:{userId}`: every socket of a signed-in participant — the
//!   seed's user room, keyed by tenant too so that equal ids of two tenants never meet;
//! - `SUPPORT_TICKET_GUEST_{socketId}`: the guest's own socket;
//! - `SUPPORT_TICKET_ADMINS_{tenant}`: every admin socket of the tenant.
//!
//! The requester follows their tickets in their own room without joining them; admins hear of
//! every ticket of their tenant (NEW_TICKET, STATUS_CHANGED, TICKET_UPDATED, UNREAD_COUNT) and of
//! a ticket's conversation (NEW_MESSAGE, typing, read receipts) once they join its room.
//!
//! Layout: `session` (authentication, rooms, the per-socket worker), `events` (the client
//! events, one core call each), `render` (core events to rooms), `dto` (the payloads).

mod dto;
mod events;
mod render;
mod session;

use chatgate_core::model::{TicketCaller, TicketFacet};
use serde_json::Value;
use socketioxide::SocketIo;
use socketioxide::extract::{SocketRef, TryData};
use socketioxide::handler::ConnectHandler;

use crate::state::AppState;

pub const NAMESPACE: &str = "/support";

/// Defines `/support` and starts rendering core events for it.
pub fn register(io: &SocketIo, state: &AppState) {
    let door = Door { app: state.clone() };
    // Not an async closure: socketioxide calls it synchronously right after it sent the
    // namespace's CONNECT packet, and the event handlers must be in place before the client can
    // answer that with an event (the list is sent later, from the returned future).
    let on_connect = {
        let door = door.clone();
        move |socket: SocketRef| {
            let caller = session::start_session(&door, &socket);
            async move {
                // The list is the first thing a client hears, as after JOIN_ROOM.
                if let Some(caller) = caller {
                    events::send_ticket_list(&door, &socket, &caller).await;
                }
            }
        }
    };
    let authenticate = {
        let door = door.clone();
        move |socket: SocketRef, TryData(auth): TryData<Value>| session::authenticate(door, socket, auth.ok())
    };
    io.ns(NAMESPACE, on_connect.with(authenticate));
    tokio::spawn(render::render(state.core.subscribe(), io.clone(), state.files.media_urls()));
}

#[derive(Clone)]
struct Door {
    app: AppState,
}

// ---- rooms ---------------------------------------------------------------------------------

const TICKET_ROOM_PREFIX: &str = "SUPPORT_TICKET_";

fn ticket_room(ticket_id: &str) -> String {
    format!("{TICKET_ROOM_PREFIX}{ticket_id}")
}

fn is_ticket_room(room: &str) -> bool {
    room.strip_prefix(TICKET_ROOM_PREFIX).is_some_and(|rest| {
        !rest.starts_with("USER_") && !rest.starts_with("GUEST_") && !rest.starts_with("ADMINS_")
    })
}

fn user_room(tenant: &str, participant_id: &str) -> String {
    format!("SUPPORT_TICKET_USER_{tenant}:{participant_id}")
}

fn guest_room(connection_id: &str) -> String {
    format!("SUPPORT_TICKET_GUEST_{connection_id}")
}

fn admins_room(tenant: &str) -> String {
    format!("SUPPORT_TICKET_ADMINS_{tenant}")
}

fn personal_room(caller: &TicketCaller) -> String {
    match caller {
        TicketCaller::Signed(p) => user_room(&p.tenant, &p.participant_id),
        TicketCaller::Guest(g) => guest_room(&g.connection_id),
    }
}

/// The room of a ticket's requester: their user room, or the guest's socket room.
fn requester_room(tenant: &str, facet: &TicketFacet) -> String {
    match facet.guest_connection() {
        Some(connection) => guest_room(connection),
        None => user_room(tenant, &facet.requester_id),
    }
}
