//! `GET /ws/chat?token=…`: the customers' plain JSON WebSocket (seed 003).
//!
//! Client frames `{conversationId?, senderId, content, metadata?}` become messages (the token
//! decides who speaks; `senderId` is accepted as sent). Every message of the customer's
//! conversations that is not a system message (a bot's streamed reply once complete) comes back
//! to all of that customer's sockets as
//! `{channel, conversationId, senderId, content, timestamp}` — the customer's own messages too,
//! after the commit: that echo is the acknowledgement. Bad frames get
//! `{type: "error", error, code}` and the socket stays open; a client that keeps sending them is
//! disconnected.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket};
use axum::extract::{Query, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chatgate_core::event::Event;
use chatgate_core::model::{Customer, CustomerChannel, SenderType};
use chatgate_core::validate::preview_of;
use chatgate_core::{Core, CoreError};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use super::CustomerDoor;
use super::envelope::Failure;
use crate::auth::customer_tokens;

/// Consecutive bad frames after which a socket is closed.
const MAX_STRIKES: u32 = 20;
/// Frames queued for one socket before new ones are dropped.
const QUEUE: usize = 256;

/// One open socket: its id, the channel its token is for, and its queue of frames.
type Socket = (u64, CustomerChannel, mpsc::Sender<Utf8Bytes>);

/// The open sockets of each customer on this node.
#[derive(Default)]
pub struct CustomerSockets {
    next_id: AtomicU64,
    by_customer: Mutex<HashMap<String, Vec<Socket>>>,
}

fn key(tenant: &str, customer_id: &str) -> String {
    format!("{tenant}\n{customer_id}")
}

impl CustomerSockets {
    fn add(&self, customer: &Customer, channel: CustomerChannel, tx: mpsc::Sender<Utf8Bytes>) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut map) = self.by_customer.lock() {
            map.entry(key(&customer.tenant, &customer.id)).or_default().push((id, channel, tx));
        }
        id
    }

    fn remove(&self, customer: &Customer, id: u64) {
        if let Ok(mut map) = self.by_customer.lock() {
            let k = key(&customer.tenant, &customer.id);
            if let Some(list) = map.get_mut(&k) {
                list.retain(|(i, _, _)| *i != id);
                if list.is_empty() {
                    map.remove(&k);
                }
            }
        }
    }

    /// Sends `render(channel)` to every socket of the customer.
    fn send(&self, tenant: &str, customer_id: &str, render: impl Fn(CustomerChannel) -> Utf8Bytes) {
        let Ok(map) = self.by_customer.lock() else { return };
        for (_, channel, tx) in map.get(&key(tenant, customer_id)).into_iter().flatten() {
            // A full queue means a stuck client; it recovers what it missed from history.
            let _ = tx.try_send(render(*channel));
        }
    }

    fn has(&self, tenant: &str, customer_id: &str) -> bool {
        self.by_customer.lock().is_ok_and(|m| m.contains_key(&key(tenant, customer_id)))
    }
}

/// Renders core events for customer sockets: a message of a customer's conversation goes to
/// that customer's sockets.
pub async fn render(mut events: chatgate_core::EventStream, sockets: std::sync::Arc<CustomerSockets>) {
    while let Some(event) = events.next().await {
        deliver(&sockets, &event);
    }
}

fn deliver(sockets: &CustomerSockets, event: &Event) {
    // A new message, or a bot's streamed reply once it is complete.
    let Some(e) = event.kind.new_message() else { return };
    if e.message.sender_type == SenderType::System {
        return;
    }
    for recipient in &e.recipients {
        if !sockets.has(&event.tenant, recipient) {
            continue;
        }
        let content = e.message.plain_text.clone().unwrap_or_else(|| preview_of(&e.message, 1000));
        sockets.send(&event.tenant, recipient, |channel| {
            let frame = json!({
                "channel": e.conversation.channel.clone().unwrap_or_else(|| channel.as_str().to_owned()),
                "conversationId": e.message.conversation_id,
                "senderId": e.message.sender_id,
                "content": content,
                "timestamp": e.message.created_at,
            });
            Utf8Bytes::from(frame.to_string())
        });
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClientFrame {
    #[serde(default)]
    conversation_id: Option<String>,
    /// Accepted as sent; the token says who speaks.
    #[serde(default)]
    #[allow(dead_code)]
    sender_id: Option<Value>,
    content: String,
    #[serde(default)]
    metadata: Option<Map<String, Value>>,
}

fn error_frame(e: &CoreError) -> Utf8Bytes {
    let code = match e.kind {
        chatgate_core::ErrorKind::Validation => "VALIDATION",
        chatgate_core::ErrorKind::NotFound => "NOT_FOUND",
        chatgate_core::ErrorKind::Forbidden => "FORBIDDEN",
        chatgate_core::ErrorKind::Conflict => "CONFLICT",
        chatgate_core::ErrorKind::Unauthorized => "UNAUTHORIZED",
        chatgate_core::ErrorKind::Unexpected => "INTERNAL_ERROR",
    };
    Utf8Bytes::from(json!({"type": "error", "error": e.message, "code": code}).to_string())
}

pub async fn connect(
    State(door): State<CustomerDoor>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let token = params.get("token").map(String::as_str).filter(|t| !t.is_empty()).or_else(|| {
        headers
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
    });
    let Some(token) = token else {
        return Failure::unauthorized("A customer token is required: /ws/chat?token=cust_…").into_response();
    };
    let found = match door.app.core.customer_by_token(&customer_tokens::hash(token)).await {
        Ok(found) => found,
        Err(e) => return Failure::from(e).into_response(),
    };
    let Some((customer, channel)) = found else {
        return Failure::unauthorized(
            "The customer token is unknown or expired; get a new one from POST /api/v1/public/customer-token",
        )
        .into_response();
    };
    let upgrade = match upgrade {
        Ok(u) => u,
        Err(_) => {
            return Failure::new(
                StatusCode::BAD_REQUEST,
                "VALIDATION",
                "This endpoint speaks WebSocket only",
            )
            .into_response();
        }
    };
    let max_frame = door.app.config.customers.max_frame_bytes;
    upgrade
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_message_size(max_frame.saturating_mul(4).max(1024 * 1024))
        .on_upgrade(move |socket| session(door, customer, channel, socket))
}

async fn session(door: CustomerDoor, customer: Customer, channel: CustomerChannel, socket: WebSocket) {
    let principal = Core::customer_principal(&customer);
    let (tx, mut rx) = mpsc::channel::<Utf8Bytes>(QUEUE);
    let id = door.sockets.add(&customer, channel, tx.clone());
    let (mut sink, mut stream) = socket.split();
    // The writer ends when every sender is gone, having sent what was queued, then closes.
    let writer = async move {
        while let Some(frame) = rx.recv().await {
            if sink.send(Message::Text(frame)).await.is_err() {
                return;
            }
        }
        let _ = sink.send(Message::Close(None)).await;
    };
    tokio::pin!(writer);
    // Returns whether the server decided to close (the client kept sending bad frames).
    let reader = async {
        let mut strikes = 0;
        while let Some(Ok(message)) = stream.next().await {
            let data = match message {
                Message::Text(t) => t.as_bytes().to_vec(),
                Message::Binary(b) => b.to_vec(),
                Message::Close(_) => return false,
                Message::Ping(_) | Message::Pong(_) => continue,
            };
            match handle(&door, &principal, channel, &data).await {
                Ok(()) => strikes = 0,
                Err(e) => {
                    let _ = tx.try_send(error_frame(&e));
                    strikes += 1;
                    if strikes >= MAX_STRIKES {
                        tracing::info!(customer = %customer.id, "closing a customer socket that keeps sending bad frames");
                        return true;
                    }
                }
            }
        }
        false
    };
    tokio::select! {
        () = &mut writer => door.sockets.remove(&customer, id),
        closing = reader => {
            door.sockets.remove(&customer, id);
            drop(tx);
            // The writer sends what is queued, then the Close frame. Meanwhile read (and drop)
            // what the client still sends until its Close: closing with unread input would
            // reset the connection and lose the frames on their way to the client.
            let drain = async {
                while let Some(Ok(message)) = stream.next().await {
                    if matches!(message, Message::Close(_)) {
                        break;
                    }
                }
            };
            let wait = async {
                if closing {
                    futures_util::future::join(&mut writer, drain).await;
                } else {
                    (&mut writer).await;
                }
            };
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), wait).await;
        }
    }
}

async fn handle(
    door: &CustomerDoor,
    principal: &chatgate_core::Principal,
    channel: CustomerChannel,
    data: &[u8],
) -> Result<(), CoreError> {
    let max = door.app.config.customers.max_frame_bytes;
    if data.len() > max {
        return Err(CoreError::invalid(
            "frame",
            format!("is {} bytes; frames are at most {max} bytes", data.len()),
        ));
    }
    let frame: ClientFrame = crate::wire::from_object_bytes(data)?;
    door.app
        .core
        .customer_says(principal, channel, frame.conversation_id.as_deref(), &frame.content, frame.metadata)
        .await
        .map(|_| ())
}
