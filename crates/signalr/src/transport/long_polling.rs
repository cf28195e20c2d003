//! The Long Polling transport: each GET waits for frames (or the poll timeout) and returns
//! them all; the client sends with HTTP POST and stops with DELETE.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{BufMut, BytesMut};

use super::text;
use crate::connection::{Connection, Transport};
use crate::hub::HubUser;
use crate::registry::Hub;

/// Frames returned by one poll, at most (the rest wait for the next poll).
const MAX_POLL_BYTES: usize = 1024 * 1024;

pub(super) async fn poll<U: HubUser>(hub: Hub<U>, connection: Arc<Connection<U>>) -> Response {
    match connection.attach(Transport::LongPolling) {
        Err(_) => return text(StatusCode::CONFLICT, "The connection already has a transport"),
        // The first poll only establishes the connection, and returns at once.
        Ok(true) => {
            connection.last_poll_ms.store(hub.now_ms(), Ordering::Relaxed);
            return text(StatusCode::OK, "");
        }
        Ok(false) => {}
    }
    let generation = connection.poll_generation.fetch_add(1, Ordering::AcqRel) + 1;
    connection.poll_superseded.notify_waiters();
    connection.poll_waiting.store(true, Ordering::Release);
    let outcome = wait(&hub, &connection, generation).await;
    if connection.poll_generation.load(Ordering::Acquire) == generation {
        connection.poll_waiting.store(false, Ordering::Release);
    }
    connection.last_poll_ms.store(hub.now_ms(), Ordering::Relaxed);
    outcome
}

async fn wait<U: HubUser>(hub: &Hub<U>, connection: &Arc<Connection<U>>, generation: u64) -> Response {
    let mut closed = connection.closed_signal();
    let superseded = connection.poll_superseded.notified();
    tokio::pin!(superseded);
    let mut receiver = tokio::select! {
        r = connection.receiver.lock() => r,
        () = &mut superseded => return StatusCode::NO_CONTENT.into_response(),
    };
    if connection.poll_generation.load(Ordering::Acquire) != generation {
        return StatusCode::NO_CONTENT.into_response();
    }
    let mut out = BytesMut::new();
    if !connection.is_closed() {
        tokio::select! {
            biased;
            frame = receiver.recv() => {
                if let Some(f) = frame {
                    out.put_slice(f.payload());
                }
            }
            _ = closed.changed() => {}
            () = &mut superseded => return StatusCode::NO_CONTENT.into_response(),
            () = tokio::time::sleep(hub.options().poll_timeout) => return text(StatusCode::OK, ""),
        }
    }
    while out.len() < MAX_POLL_BYTES {
        match receiver.try_recv() {
            Ok(f) => out.put_slice(f.payload()),
            Err(_) => break,
        }
    }
    if connection.is_closed()
        && out.len() < MAX_POLL_BYTES
        && let Some(close) = connection.take_close_frame()
    {
        out.put_slice(close.payload());
    }
    if out.is_empty() && connection.is_closed() {
        return StatusCode::NO_CONTENT.into_response();
    }
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], out.freeze()).into_response()
}
