//! `GET /api/connectors/{id}/stream`: the outbox over a WebSocket, for connectors that keep a
//! connection open instead of polling.
//!
//! After `{"type": "ready", "channelId"}` the server sends every unacknowledged reply as
//! `{"type": "reply", …entry}` (the long poll's entry shape), oldest first, then each new one as
//! it is committed. The connector acknowledges delivered replies with
//! `{"type": "ack", "id", "externalMessageId"?}` (or `"ids": […]`, or `"acks": [{id,
//! externalMessageId?}]`) and gets `{"type": "acked", "acknowledged": n}`. Replies it did not
//! acknowledge come again on its next connection. A bad frame is answered with
//! `{"type": "error", "error", "code"}` and the socket stays open, unless the connector keeps
//! sending them.

use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade, close_code};
use axum::response::{IntoResponse, Response};
use chatgate_core::CoreError;
use chatgate_core::model::ChannelAccount;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ConnectorDoor;
use super::dto::{AckItem, OutboxEntryDto};
use super::rest::Connector;
use crate::http::problem::ApiError;

/// Largest frame a connector may send.
const MAX_FRAME_BYTES: usize = 64 * 1024;
/// Consecutive bad frames after which the socket is closed.
const MAX_STRIKES: u32 = 20;
/// A ping goes out this often, so that dead connections are noticed.
const PING_EVERY: Duration = Duration::from_secs(30);

pub async fn connect(
    State(door): State<ConnectorDoor>,
    Connector(account): Connector,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    match upgrade {
        Ok(upgrade) => upgrade
            .max_message_size(MAX_FRAME_BYTES)
            .on_upgrade(move |socket| session(door, account, socket))
            .into_response(),
        Err(_) => ApiError::validation("upgrade", "This endpoint speaks WebSocket only").into_response(),
    }
}

type Sink = SplitSink<WebSocket, Message>;

async fn send(sink: &mut Sink, frame: Value) -> bool {
    sink.send(Message::Text(Utf8Bytes::from(frame.to_string()))).await.is_ok()
}

async fn session(door: ConnectorDoor, account: ChannelAccount, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    // Subscribed before the first read of the outbox: a reply queued in between rings it.
    let mut queued = door.signals.subscribe(&account.id);
    let mut closing = door.signals.closing();
    if !send(&mut sink, json!({"type": "ready", "channelId": account.id})).await {
        return;
    }
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    let mut last_sent = 0;
    let mut strikes = 0;
    let close = loop {
        match deliver(&door, &account, &mut sink, &mut last_sent).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                tracing::warn!(error = %e, channel = %account.id, "outbox not read; closing the connector stream");
                break CloseFrame {
                    code: close_code::ERROR,
                    reason: Utf8Bytes::from_static("outbox unavailable"),
                };
            }
        }
        tokio::select! {
            changed = queued.changed() => if changed.is_err() {
                break CloseFrame { code: close_code::AGAIN, reason: Utf8Bytes::from_static("reconnect") };
            },
            _ = closing.changed() => {
                break CloseFrame { code: close_code::AWAY, reason: Utf8Bytes::from_static("The server is restarting.") };
            }
            _ = ping.tick() => if sink.send(Message::Ping(Default::default())).await.is_err() { return },
            frame = stream.next() => {
                let text = match frame {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Binary(_))) => {
                        let e = CoreError::invalid("frame", "must be a JSON text frame");
                        if !send(&mut sink, error_frame(&e)).await { return }
                        strikes += 1;
                        if strikes >= MAX_STRIKES { break too_many_bad_frames() }
                        continue;
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                };
                let answer = match acknowledge(&door, &account, text.as_bytes()).await {
                    Ok(acknowledged) => {
                        strikes = 0;
                        json!({"type": "acked", "acknowledged": acknowledged})
                    }
                    Err(e) => {
                        strikes += 1;
                        error_frame(&e)
                    }
                };
                if !send(&mut sink, answer).await {
                    return;
                }
                if strikes >= MAX_STRIKES {
                    break too_many_bad_frames();
                }
            }
        }
    };
    let _ = sink.send(Message::Close(Some(close))).await;
}

fn too_many_bad_frames() -> CloseFrame {
    CloseFrame { code: close_code::POLICY, reason: Utf8Bytes::from_static("too many bad frames") }
}

/// Sends every entry after `last_sent`; `Ok(false)` when the connection is gone.
async fn deliver(
    door: &ConnectorDoor,
    account: &ChannelAccount,
    sink: &mut Sink,
    last_sent: &mut i64,
) -> Result<bool, CoreError> {
    let page_size = door.app.core.limits().max_page_size;
    loop {
        let entries = door.app.core.connector_outbox(account, Some(*last_sent), None).await?;
        let full_page = entries.len() as u32 >= page_size;
        for entry in entries {
            *last_sent = entry.seq;
            let mut frame = serde_json::to_value(OutboxEntryDto::from(entry)).unwrap_or_default();
            if let Value::Object(fields) = &mut frame {
                fields.insert("type".to_owned(), Value::from("reply"));
            }
            if !send(sink, frame).await {
                return Ok(false);
            }
        }
        if !full_page {
            return Ok(true);
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AckFrame {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    external_message_id: Option<String>,
    #[serde(default)]
    ids: Vec<String>,
    #[serde(default)]
    acks: Vec<AckItem>,
}

async fn acknowledge(door: &ConnectorDoor, account: &ChannelAccount, bytes: &[u8]) -> Result<u32, CoreError> {
    let frame: AckFrame = crate::wire::from_object_bytes(bytes)?;
    if frame.kind != "ack" {
        return Err(CoreError::invalid("type", "must be \"ack\" (the only frame a connector sends)"));
    }
    let pairs: Vec<(String, Option<String>)> = frame
        .id
        .map(|id| (id, frame.external_message_id))
        .into_iter()
        .chain(frame.ids.into_iter().map(|id| (id, None)))
        .chain(frame.acks.into_iter().map(|a| (a.id, a.external_message_id)))
        .collect();
    door.app.core.ack_connector_outbox(account, pairs).await
}

fn error_frame(e: &CoreError) -> Value {
    json!({"type": "error", "error": e.message, "code": crate::hubs::dto::error_code(e.kind)})
}
