//! The Socket.IO doors (seeds 000, 001, 004) on chatgate-socketio, served at `/socket.io/` on
//! the same port as everything else, over WebSocket and HTTP long-polling.
//!
//! Each namespace is a door of its own, in its own module, with a `register` function that
//! defines the namespace and starts the task that renders core events for it. Rooms are local
//! to this node: every node renders the events it receives from the bus for its own sockets, so
//! no Socket.IO adapter is needed across nodes.

pub mod auth;
pub mod chatomni;
pub mod support;
pub mod whatsapp;

use std::time::Duration;

use axum::Router;
use chatgate_core::{EventStream, event::Event};
use chatgate_socketio::{EngineConfig, SocketIo, SocketIoConfig};
use chatgate_websocket::Batch;
use futures_util::{FutureExt, StreamExt};
use tokio::time::Instant;

use crate::state::AppState;

/// Largest Socket.IO packet or long-polling body accepted, in bytes.
const MAX_PAYLOAD: usize = 1024 * 1024;

/// Events rendered in one batch at most, so that a flood still yields to other work.
const MAX_BATCH: usize = 256;

/// How long a renderer waits before its next write, per connection it just wrote to: about
/// what one write costs, so that writing takes about half its time at most.
const PACE_PER_CONNECTION: Duration = Duration::from_micros(5);
/// The longest a renderer waits before its next write.
const MAX_PACE: Duration = Duration::from_millis(20);

/// Every Socket.IO namespace, running.
#[derive(Clone)]
pub struct SocketDoors {
    io: SocketIo,
}

impl SocketDoors {
    /// Defines every namespace over `state`.
    pub fn start(state: &AppState) -> SocketDoors {
        let io = SocketIo::new(SocketIoConfig {
            engine: EngineConfig {
                ping_interval: Duration::from_secs(25),
                ping_timeout: Duration::from_secs(20),
                max_payload: MAX_PAYLOAD,
                ..EngineConfig::default()
            },
            ..SocketIoConfig::default()
        });
        support::register(&io, state);
        chatomni::register(&io, state);
        whatsapp::register(&io, state);
        SocketDoors { io }
    }

    /// The routes that serve `/socket.io/`.
    pub fn router(&self) -> Router {
        self.io.router()
    }

    /// Closes every connection; clients reconnect on their own (graceful shutdown).
    pub fn close_all(&self) {
        self.io.close_all();
    }
}

/// Renders core events as they arrive, those that arrived together as one batch, and paces
/// the writes: after writing to N connections, the next write waits `PACE_PER_CONNECTION` × N
/// (at most `MAX_PACE`). A write to a few connections may be followed at once by the next; a
/// broadcast to a thousand is followed 5 ms later, and what was rendered meanwhile leaves in
/// the same write — under load a connection is written once for several messages, and writing
/// takes about half the time at most. A lone event after a quiet spell is written at once.
async fn render_batches(mut events: EventStream, mut render: impl FnMut(&Event)) {
    let mut batch = Batch::new();
    let mut next_write = Instant::now();
    loop {
        let next = if batch.is_empty() {
            events.next().await
        } else {
            tokio::select! {
                event = events.next() => event,
                () = tokio::time::sleep_until(next_write) => {
                    next_write = write(&mut batch);
                    continue;
                }
            }
        };
        let Some(first) = next else { return };
        batch.collect(|| {
            render(&first);
            for _ in 1..MAX_BATCH {
                match events.next().now_or_never() {
                    Some(Some(event)) => render(&event),
                    _ => break,
                }
            }
        });
        if Instant::now() >= next_write {
            next_write = write(&mut batch);
        }
    }
}

/// Writes the batch; returns when the next write may be.
fn write(batch: &mut Batch) -> Instant {
    let connections = batch.len() as u32;
    batch.flush();
    Instant::now() + (PACE_PER_CONNECTION * connections).min(MAX_PACE)
}
