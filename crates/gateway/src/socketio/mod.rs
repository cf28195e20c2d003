//! The Socket.IO doors (seeds 000, 001, 004) on socketioxide, served at `/socket.io/` on the
//! same port as everything else, over WebSocket and HTTP long-polling.
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

use socketioxide::SocketIo;
use socketioxide::layer::SocketIoLayer;

use crate::state::AppState;

/// Largest Socket.IO packet accepted, in bytes.
const MAX_PAYLOAD: u64 = 1024 * 1024;

/// Every Socket.IO namespace, running.
#[derive(Clone)]
pub struct SocketDoors {
    pub io: SocketIo,
}

impl SocketDoors {
    /// Defines every namespace over `state` and returns the layer that serves them.
    pub fn start(state: &AppState) -> (SocketIoLayer, SocketDoors) {
        let (layer, io) = SocketIo::builder()
            .max_payload(MAX_PAYLOAD)
            .ws_max_message_size(MAX_PAYLOAD as usize)
            .ws_read_buffer_size(4 * 1024)
            .ping_interval(Duration::from_secs(25))
            .ping_timeout(Duration::from_secs(20))
            .build_layer();
        support::register(&io, state);
        chatomni::register(&io, state);
        whatsapp::register(&io, state);
        let _ = state;
        (layer, SocketDoors { io })
    }

    /// Disconnects every socket; clients reconnect on their own (graceful shutdown).
    pub async fn close_all(&self) {
        for namespace in self.io.nsps() {
            if let Err(e) = namespace.disconnect().await {
                tracing::debug!(error = ?e, "disconnecting a namespace's sockets");
            }
        }
    }
}
