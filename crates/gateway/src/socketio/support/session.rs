//! A socket's life on `/support`: who it is (the connect middleware), its rooms and handlers,
//! and the worker that handles its events one at a time, in the order they arrived.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use chatgate_core::DEFAULT_TENANT;
use chatgate_core::model::{Guest, TicketCaller};
use serde_json::Value;
use socketioxide::extract::{Event, SocketRef, TryData};
use tokio::sync::mpsc;

use super::events::{code_of, emit_error, handle};
use super::{Door, admins_room, personal_room};
use crate::socketio::auth;

/// Events one socket may have waiting; more are answered with ERROR 429.
const QUEUE: usize = 64;
/// Failed events in a row after which a socket is disconnected.
const MAX_STRIKES: u32 = 20;

/// Who a socket is, and how its events are going.
struct Session {
    caller: TicketCaller,
    /// Failed events in a row.
    strikes: AtomicU32,
}

/// The socket's way to its worker. The worker and its queue are made at the socket's first
/// event: most sockets of a support desk only listen, and those should cost neither a task nor
/// a queue. Removed on disconnect, which drops the queue's sender and so ends the worker.
struct Inbox {
    door: Door,
    session: Arc<Session>,
    queue: Mutex<Option<mpsc::Sender<Incoming>>>,
}

struct Incoming {
    event: &'static str,
    data: Option<Value>,
}

#[derive(Debug)]
pub(super) struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Runs before the socket joins the namespace: a token makes a signed-in caller, no token a
/// guest (of `auth.tenant` or `?tenant=`, else the default tenant).
pub(super) async fn authenticate(door: Door, socket: SocketRef, auth: Option<Value>) -> Result<(), Refused> {
    let caller = match auth::token_of(&socket, auth.as_ref()) {
        Some(token) => TicketCaller::Signed(auth::principal(&door.app, &token).map_err(Refused)?),
        None => {
            let tenant = auth
                .as_ref()
                .and_then(|a| a.get("tenant"))
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or_else(|| auth::query_param(&socket, "tenant"))
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| DEFAULT_TENANT.to_owned());
            let max = door.app.core.limits().max_id_chars;
            if tenant.chars().count() > max || tenant.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(Refused(format!("tenant must be at most {max} characters without spaces")));
            }
            TicketCaller::Guest(Guest { tenant, connection_id: socket.id.to_string() })
        }
    };
    socket.extensions.insert(Arc::new(Session { caller, strikes: AtomicU32::new(0) }));
    Ok(())
}

/// Joins the socket's rooms and registers its event handler (its worker starts with its first
/// event); returns who it is (`None` when the middleware left no session: the socket is
/// disconnected).
pub(super) fn start_session(door: &Door, socket: &SocketRef) -> Option<TicketCaller> {
    let Some(session) = socket.extensions.get::<Arc<Session>>() else {
        let _ = socket.clone().disconnect();
        return None;
    };
    socket.join(personal_room(&session.caller));
    if session.caller.is_admin() {
        socket.join(admins_room(session.caller.tenant()));
    }
    let caller = session.caller.clone();
    socket.extensions.insert(Arc::new(Inbox { door: door.clone(), session, queue: Mutex::new(None) }));
    // One handler for every event rather than one per event name: socketioxide keeps a socket's
    // handlers for its whole life, and this one only queues the event anyway.
    socket.on_fallback(|s: SocketRef, Event(event): Event, TryData(data): TryData<Value>| {
        if let Some(event) = CLIENT_EVENTS.iter().find(|known| **known == event) {
            enqueue(&s, event, data.ok());
        }
        std::future::ready(())
    });
    socket.on_disconnect(|s: SocketRef| {
        s.extensions.remove::<Arc<Inbox>>();
        std::future::ready(())
    });
    Some(caller)
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

/// Runs synchronously in socketioxide's dispatch, so events enter the queue in arrival order.
fn enqueue(socket: &SocketRef, event: &'static str, data: Option<Value>) {
    let Some(inbox) = socket.extensions.get::<Arc<Inbox>>() else { return };
    let Ok(mut queue) = inbox.queue.lock() else { return };
    let tx = queue.get_or_insert_with(|| {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(work(inbox.door.clone(), socket.clone(), inbox.session.clone(), rx));
        tx
    });
    if tx.try_send(Incoming { event, data }).is_err() {
        let message = format!("Too many events waiting; at most {QUEUE} are queued per connection");
        emit_error(socket, event, 429, &message);
    }
}

/// Handles the socket's events one at a time, in order.
async fn work(door: Door, socket: SocketRef, session: Arc<Session>, mut inbox: mpsc::Receiver<Incoming>) {
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
                    tracing::info!(socket = %socket.id, "disconnecting a /support socket that keeps sending bad events");
                    let _ = socket.clone().disconnect();
                    return;
                }
            }
        }
    }
}
