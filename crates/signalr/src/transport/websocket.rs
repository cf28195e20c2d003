//! The WebSockets transport: full duplex, one text frame per batch of records.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::WebSocketUpgrade;
use axum::extract::ws::{Message, WebSocket};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};

use super::{access_token, find, new_id, text, unauthorized};
use crate::connection::{Connection, Transport};
use crate::hub::HubUser;
use crate::registry::Hub;

pub(super) fn accept<U: HubUser>(
    hub: Hub<U>,
    params: HashMap<String, String>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    // With `id`: a negotiated connection. Without: the client skipped negotiation.
    let connection = if params.contains_key("id") {
        match find(&hub, &params, &headers) {
            Ok(c) => c,
            Err(r) => return r.into_response(),
        }
    } else {
        match (hub.inner.authenticate)(access_token(&params, &headers)) {
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
        return text(StatusCode::CONFLICT, "The connection already has a transport");
    }
    let limit = hub.options().hard_limit();
    upgrade
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| run(hub, connection, socket))
}

async fn run<U: HubUser>(hub: Hub<U>, connection: Arc<Connection<U>>, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let mut closed = connection.closed_signal();
    let writer = async {
        let mut receiver = connection.receiver.lock().await;
        loop {
            tokio::select! {
                biased;
                frame = receiver.recv() => {
                    let Some(frame) = frame else { break };
                    if sink.feed(Message::Text(frame)).await.is_err() {
                        return;
                    }
                    // Write what else is already queued, then flush once.
                    while let Ok(frame) = receiver.try_recv() {
                        if sink.feed(Message::Text(frame)).await.is_err() {
                            return;
                        }
                    }
                    if sink.flush().await.is_err() {
                        return;
                    }
                }
                _ = closed.changed() => break,
            }
        }
        while let Ok(frame) = receiver.try_recv() {
            let _ = sink.feed(Message::Text(frame)).await;
        }
        if let Some(close) = connection.take_close_frame() {
            let _ = sink.feed(Message::Text(close)).await;
        }
        let _ = sink.close().await;
    };
    let reader = async {
        while let Some(Ok(message)) = stream.next().await {
            match message {
                Message::Text(t) => hub.receive(&connection, t.as_bytes()).await,
                Message::Binary(b) => hub.receive(&connection, &b).await,
                Message::Close(_) => return,
                Message::Ping(_) | Message::Pong(_) => {}
            }
            if connection.is_closed() {
                break;
            }
        }
        hub.close_connection(&connection, None, false);
        // Keep polling so the writer can deliver the close before the socket goes.
        std::future::pending::<()>().await;
    };
    let server_closed = tokio::select! {
        () = writer => true,
        () = reader => false,
    };
    hub.close_connection(&connection, None, false);
    if server_closed {
        // Read (and drop) what the client still sends until its Close, briefly: closing with
        // unread input resets the connection, and the client would lose the Close message.
        let drain = async {
            while let Some(Ok(message)) = stream.next().await {
                if matches!(message, Message::Close(_)) {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), drain).await;
    }
}
