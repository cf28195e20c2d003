//! The WebSockets transport, on `chatgate-websocket`. Frames to the client are written by
//! whoever sends them (see `Connection::push`), so a broadcast wakes no task per receiver and
//! the sender's cork gathers several messages into one write. What the client sends is handled
//! by a worker, one message at a time and in order; the worker is made at the first message
//! and ends with the connection.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chatgate_websocket::{CloseReason, Handler, Limits, Message, WebSocket};
use tokio::sync::mpsc;

use super::{access_token, find, new_id, text, unauthorized};
use crate::connection::{Connection, Transport};
use crate::hub::HubUser;
use crate::registry::Hub;

/// Messages a connection may have waiting for its worker.
const INBOX_MESSAGES: usize = 4096;

pub(super) fn accept<U: HubUser>(
    hub: Hub<U>,
    params: HashMap<String, String>,
    mut request: Request,
) -> Response {
    let (response, upgrade) = match chatgate_websocket::accept(&mut request) {
        Ok(accepted) => accepted,
        Err(refused) => return refused.response().map(Body::from),
    };
    let headers = request.headers();
    // With `id`: a negotiated connection. Without: the client skipped negotiation.
    let connection = if params.contains_key("id") {
        match find(&hub, &params, headers) {
            Ok(c) => c,
            Err(r) => return r.into_response(),
        }
    } else {
        match (hub.inner.authenticate)(access_token(&params, headers)) {
            Ok(user) => {
                let c = Arc::new(Connection::new(
                    new_id(),
                    new_id(),
                    user,
                    hub.options().outbound_queue,
                    hub.now_ms(),
                ));
                hub.register(c.clone());
                c
            }
            Err(reason) => return unauthorized(&reason),
        }
    };
    if connection.attach(Transport::WebSockets).is_err() {
        return text(axum::http::StatusCode::CONFLICT, "The connection already has a transport");
    }
    let limits = Limits { max_message_bytes: hub.options().hard_limit(), ..Limits::default() };
    tokio::spawn(async move {
        let (socket, leftover) = match upgrade.websocket(limits).await {
            Ok(taken) => taken,
            Err(e) => {
                tracing::debug!(error = %e, "the WebSocket upgrade did not complete");
                hub.close_connection(&connection, None, false);
                return;
            }
        };
        connection.bind_socket(socket.clone());
        let handler = HubSocket { hub: hub.clone(), connection: connection.clone(), inbox: None };
        chatgate_websocket::serve(socket, leftover, handler).await;
        hub.close_connection(&connection, None, false);
    });
    response.map(|()| Body::empty())
}

/// A connection's WebSocket messages, on their way to the hub.
struct HubSocket<U: HubUser> {
    hub: Hub<U>,
    connection: Arc<Connection<U>>,
    inbox: Option<Inbox>,
}

/// The way to the connection's worker, and the bytes waiting for it.
struct Inbox {
    messages: mpsc::Sender<Bytes>,
    waiting: Arc<AtomicUsize>,
}

impl<U: HubUser> HubSocket<U> {
    fn start_worker(&self) -> Inbox {
        let (messages, mut queue) = mpsc::channel::<Bytes>(INBOX_MESSAGES);
        let waiting = Arc::new(AtomicUsize::new(0));
        let (hub, connection, done) = (self.hub.clone(), self.connection.clone(), waiting.clone());
        tokio::spawn(async move {
            while let Some(message) = queue.recv().await {
                hub.receive(&connection, &message).await;
                done.fetch_sub(message.len(), Ordering::Relaxed);
                if connection.is_closed() {
                    return;
                }
            }
        });
        Inbox { messages, waiting }
    }
}

impl<U: HubUser> Handler for HubSocket<U> {
    fn on_message(&mut self, _socket: &Arc<WebSocket>, message: Message<'_>) {
        if self.connection.is_closed() {
            return; // what a closing client still sends is read and dropped
        }
        let bytes = match message {
            Message::Text(t) => t.as_bytes(),
            Message::Binary(b) => b,
        };
        let inbox = match &self.inbox {
            Some(inbox) => inbox,
            None => self.inbox.insert(self.start_worker()),
        };
        // A client that sends faster than its messages are handled is told so and let go,
        // rather than kept with an unbounded backlog (twice the largest message may wait).
        let waiting = inbox.waiting.fetch_add(bytes.len(), Ordering::Relaxed) + bytes.len();
        let room = waiting <= 2 * self.hub.options().hard_limit();
        if !room || inbox.messages.try_send(Bytes::copy_from_slice(bytes)).is_err() {
            let error = "Connection closed with an error. The client sent messages faster than the server could handle them.";
            self.hub.close_connection(&self.connection, Some(error.into()), false);
        }
    }

    fn on_close(&mut self, _socket: &Arc<WebSocket>, _reason: &CloseReason) {
        self.inbox = None;
        self.hub.close_connection(&self.connection, None, false);
    }
}
