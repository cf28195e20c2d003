//! chatgate-websocket: a lean server-side WebSocket (RFC 6455) over hyper's upgrades, made for
//! servers that send the same message to many connections.
//!
//! - A [`Frame`] is encoded once — header and payload, the exact bytes on the wire — and
//!   shared by every connection it is sent to.
//! - Sending writes straight to the socket with one non-blocking vectored write of everything
//!   queued, from the sender's own thread; no task is woken per receiver. Inside [`corked`],
//!   writes wait until the section ends, so frames that were produced together leave in one
//!   write per connection.
//! - A connection's task only reads, and writes what a full socket buffer held back. Between
//!   reads it keeps no buffer: an idle connection costs its task and its queue's bookkeeping.
//!
//! # Layout
//! - `upgrade`: the opening handshake and taking the TCP connection from hyper.
//! - `frame`: frames the server sends ([`Frame`], [`FrameBuilder`]).
//! - `reader`: frames the client sends: parsing, unmasking, reassembly, limits.
//! - `socket`: a connection ([`WebSocket`]), its queue and its task ([`serve`]).
//! - `cork`: batching writes across many sends ([`corked`]).
//!
//! Not supported: extensions (permessage-deflate is declined by not answering it), HTTP/2
//! WebSockets, and connections that are not hyper's plain TCP connection.

mod cork;
mod frame;
mod reader;
mod socket;
mod upgrade;

pub use cork::{Batch, corked};
pub use frame::{CloseCode, Frame, FrameBuilder, MAX_HEADER, OpCode};
pub use reader::{Message, ReadError};
pub use socket::{CloseReason, Closed, Handler, Limits, WebSocket, serve};
pub use upgrade::{HandshakeError, Upgrade, accept, accept_key, is_upgrade_request};
