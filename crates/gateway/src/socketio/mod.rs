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
use chatgate_socketio::{EngineConfig, SocketIo, SocketIoConfig};

use crate::state::AppState;

/// Largest Socket.IO packet or long-polling body accepted, in bytes.
const MAX_PAYLOAD: usize = 1024 * 1024;

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
