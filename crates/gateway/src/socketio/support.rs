//! The support desk: Socket.IO namespace `/support` (seed 001, DESIGN 4.3).
//!
//! A socket is a signed-in user or admin (a JWT in `auth.token`, the `token` query parameter or
//! an `Authorization: Bearer` header) or, without a token, a guest. A token that does not verify
//! refuses the connection (`connect_error`) rather than silently making a guest.
//!
//! Client events are decoded and handed to one core call each; failures come back as `ERROR
//! {code, message, area: "SUPPORT_TICKET", event}` on that socket only. A socket's events are
//! handled one at a time, in the order they arrived: the namespace's handler only queues them
//! for the socket's worker, which makes the core calls.
//!
//! What happened comes back through the core's events: one task renders each event once per
//! room set (a broadcast is encoded once) into these rooms, all local to this node:
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
use chatgate_socketio::{
    ConnectError, Connecting, DisconnectReason, Event, NamespaceHandler, Socket, SocketIo,
};

use crate::state::AppState;

pub const NAMESPACE: &str = "/support";

/// A socket of the support desk.
type SupportSocket = Socket<session::Session>;

/// Defines `/support` and starts rendering core events for it.
pub fn register(io: &SocketIo, state: &AppState) {
    let door = Door { app: state.clone() };
    let namespace = io.namespace(NAMESPACE, SupportDesk { door });
    tokio::spawn(render::render(state.core.subscribe(), namespace, state.files.media_urls()));
}

#[derive(Clone)]
struct Door {
    app: AppState,
}

struct SupportDesk {
    door: Door,
}

impl NamespaceHandler for SupportDesk {
    type Data = session::Session;

    fn connect(&self, request: &Connecting<'_>) -> Result<session::Session, ConnectError> {
        session::authenticate(&self.door, request)
    }

    fn connected(&self, socket: &SupportSocket) {
        session::start(&self.door, socket);
    }

    fn event(&self, socket: &SupportSocket, event: Event) {
        session::enqueue(&self.door, socket, event);
    }

    fn disconnected(&self, socket: &SupportSocket, _: DisconnectReason) {
        socket.data().close_inbox();
    }
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
