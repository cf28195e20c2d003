//! chatgate-socketio: a Socket.IO v4 server for axum — Engine.IO protocol 4 over WebSocket and
//! HTTP long-polling (with the upgrade from one to the other), and Socket.IO protocol 5:
//! namespaces with a connect check, events and acknowledgements both ways, binary
//! attachments, rooms and broadcasts. It works with the official `socket.io-client`.
//!
//! It is built for fan-out. A broadcast is encoded once, as the WebSocket frame itself, and
//! each receiver's send only queues those shared bytes; connections are written at the end of
//! the broadcast with one vectored write each (see `chatgate_websocket::corked`), so events
//! that arrive together leave together. An idle connection is one reader task and its
//! session: no writer task, no heartbeat task (one task pings every session), no buffers.
//!
//! # Layout
//! - [`engine`]: Engine.IO — sessions, long-polling, the WebSocket transport, the heartbeat.
//! - `protocol`: Socket.IO packets.
//! - `namespace`: [`NamespaceHandler`] (what an application defines), [`Namespace`] and
//!   [`Broadcast`] (rooms, and sending to them).
//! - `socket`: [`Socket`], one client in one namespace, and what passes through it
//!   ([`Event`], [`Payload`], [`AckSender`]).
//! - `server`: [`SocketIo`], the namespaces over the engine.
//!
//! Handlers are called in the order the client's packets arrived, on the connection's own
//! task, and must not block: a handler that has waiting to do hands the event to a task.
//!
//! Not supported: Engine.IO protocol 3 clients, JSONP polling, connection state recovery,
//! broadcasts across several server processes (an application carries its own events between
//! nodes and broadcasts on each).

pub mod engine;
mod namespace;
mod protocol;
mod server;
mod socket;

pub use engine::{CloseReason, EngineConfig, Handshake};
pub use namespace::{Broadcast, ConnectError, Connecting, Namespace, NamespaceHandler};
pub use server::{SocketIo, SocketIoConfig};
pub use socket::{AckError, AckSender, DisconnectReason, EmitError, Event, Payload, Socket};
