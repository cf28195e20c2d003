//! A socket's life on `/support`: who it is (the connect check), its rooms, and the worker that
//! handles its events one at a time, in the order they arrived.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use chatgate_core::DEFAULT_TENANT;
use chatgate_core::model::{Guest, TicketCaller};
use chatgate_socketio::{ConnectError, Connecting, Event};
use serde_json::Value;
use tokio::sync::mpsc;

use super::events::{code_of, emit_error, handle, send_ticket_list};
use super::{Door, SupportSocket, admins_room, personal_room};
use crate::socketio::auth;

/// Events one socket may have waiting; more are answered with ERROR 429.
const QUEUE: usize = 64;
/// Failed events in a row after which a socket is disconnected.
const MAX_STRIKES: u32 = 20;

/// Who a socket is, and how its events are going.
pub(in crate::socketio) struct Session {
    caller: TicketCaller,
    /// Failed events in a row.
    strikes: AtomicU32,
    inbox: Mutex<Inbox>,
}

/// The socket's way to its worker. The worker and its queue are made at the socket's first
/// event: most sockets of a support desk only listen, and those should cost neither a task nor
/// a queue. Closing drops the queue's sender, which ends the worker once it is done.
enum Inbox {
    Idle,
    Open(mpsc::Sender<Incoming>),
    Closed,
}

struct Incoming {
    event: &'static str,
    data: Option<Value>,
}

impl Session {
    pub(super) fn close_inbox(&self) {
        *self.inbox.lock().unwrap_or_else(|p| p.into_inner()) = Inbox::Closed;
    }
}

/// Admits a socket: a token makes a signed-in caller (a bad one is refused), no token a guest
/// (of `auth.tenant` or `?tenant=`, else the default tenant).
pub(super) fn authenticate(door: &Door, request: &Connecting<'_>) -> Result<Session, ConnectError> {
    let caller = match auth::token_of(request.handshake, request.auth) {
        Some(token) => TicketCaller::Signed(auth::principal(&door.app, &token).map_err(ConnectError::new)?),
        None => {
            let tenant = request
                .auth
                .and_then(|a| a.get("tenant"))
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or_else(|| request.handshake.query("tenant"))
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| DEFAULT_TENANT.to_owned());
            let max = door.app.core.limits().max_id_chars;
            if tenant.chars().count() > max || tenant.chars().any(|c| c.is_whitespace() || c.is_control()) {
                let message = format!("tenant must be at most {max} characters without spaces");
                return Err(ConnectError::new(message));
            }
            TicketCaller::Guest(Guest { tenant, connection_id: request.socket_id.to_owned() })
        }
    };
    Ok(Session { caller, strikes: AtomicU32::new(0), inbox: Mutex::new(Inbox::Idle) })
}

/// Joins the socket's own rooms (before any of its events is handled) and sends its ticket
/// list, the first thing a client hears, as after JOIN_ROOM.
pub(super) fn start(door: &Door, socket: &SupportSocket) {
    let caller = &socket.data().caller;
    socket.join(personal_room(caller));
    if caller.is_admin() {
        socket.join(admins_room(caller.tenant()));
    }
    let (door, socket) = (door.clone(), socket.clone());
    tokio::spawn(async move { send_ticket_list(&door, &socket, &socket.data().caller).await });
}

const CLIENT_EVENTS: [&str; 9] = [
    "JOIN_ROOM",
    "LEAVE_ROOM",
    "CREATE_TICKET",
    "CREATE_GUEST_TICKET",
    "SEND_MESSAGE",
    "TYPING_START",
    "TYPING_END",
    "MARK_AS_READ",
    "LOAD_MORE_MESSAGES",
];

/// Queues a client event for the socket's worker; unknown events are ignored.
pub(super) fn enqueue(door: &Door, socket: &SupportSocket, mut event: Event) {
    let Some(name) = CLIENT_EVENTS.iter().find(|known| **known == event.name) else { return };
    let mut inbox = socket.data().inbox.lock().unwrap_or_else(|p| p.into_inner());
    if let Inbox::Idle = *inbox {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(work(door.clone(), socket.clone(), rx));
        *inbox = Inbox::Open(tx);
    }
    let Inbox::Open(tx) = &*inbox else { return };
    if tx.try_send(Incoming { event: name, data: event.take_data() }).is_err() {
        let message = format!("Too many events waiting; at most {QUEUE} are queued per connection");
        emit_error(socket, name, 429, &message);
    }
}

/// Handles the socket's events one at a time, in order.
async fn work(door: Door, socket: SupportSocket, mut inbox: mpsc::Receiver<Incoming>) {
    let session = socket.data();
    while let Some(Incoming { event, data }) = inbox.recv().await {
        let outcome = match door
            .app
            .rate_limits
            .check_user(session.caller.tenant(), &session.caller.participant_id())
        {
            Err(wait) => Err((429, format!("Rate limit reached; retry in {wait} s"))),
            // Boxed: the handling future is large (it holds the whole core call), and an idle
            // socket's worker should cost a pointer, not that future's worth of memory.
            Ok(()) => Box::pin(handle(&door, &socket, &session.caller, event, data))
                .await
                .map_err(|e| (code_of(&e), e.message)),
        };
        match outcome {
            Ok(()) => session.strikes.store(0, Ordering::Relaxed),
            Err((code, message)) => {
                emit_error(&socket, event, code, &message);
                if session.strikes.fetch_add(1, Ordering::Relaxed) + 1 >= MAX_STRIKES {
                    tracing::info!(
                        socket = socket.id(),
                        "disconnecting a /support socket that keeps sending bad events"
                    );
                    socket.disconnect();
                    return;
                }
            }
        }
    }
}
