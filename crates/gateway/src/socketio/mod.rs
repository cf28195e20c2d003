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
use futures_util::{FutureExt, StreamExt};

use crate::state::AppState;

/// Largest Socket.IO packet or long-polling body accepted, in bytes.
const MAX_PAYLOAD: usize = 1024 * 1024;

/// Events rendered in one batch at most, so that a flood still yields to other work.
const MAX_BATCH: usize = 256;

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

/// Renders core events as they arrive, those that arrived together as one batch: what the
/// batch sends leaves corked, one write per connection however many events it carried.
async fn render_batches(mut events: EventStream, mut render: impl FnMut(&Event)) {
    while let Some(first) = events.next().await {
        chatgate_websocket::corked(|| {
            render(&first);
            for _ in 1..MAX_BATCH {
                match events.next().now_or_never() {
                    Some(Some(event)) => render(&event),
                    _ => break,
                }
            }
        });
    }
}
