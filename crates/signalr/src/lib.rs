//! chatgate-signalr: an ASP.NET Core SignalR server for axum, usable by any application.
//!
//! It speaks the protocol published in dotnet/aspnetcore (`src/SignalR/docs/specs`), so the
//! official clients (`@microsoft/signalr`, the .NET and Java clients) connect to it unchanged:
//! negotiate (versions 0 and 1), the WebSockets, Server-Sent Events and Long Polling transports,
//! the JSON hub protocol with its handshake, invocations with and without ids, completions,
//! pings and client timeouts, and close messages with `allowReconnect`.
//!
//! # Layout
//! - [`protocol`]: hub messages and their JSON encoding; nothing here knows about transports.
//! - `transport`: negotiate and the three transports, as axum routes.
//! - [`hub`]: defining a hub: typed methods (bound by position, found case-insensitively),
//!   connect and disconnect hooks, options.
//! - `registry`: a running [`Hub`]: connections, groups, users, dispatch, the heartbeat.
//!
//! Not yet: the MessagePack protocol and stateful reconnect (Ack/Sequence). Encoding lives in
//! `protocol` and frames are opaque to the transports so both can be added without reshaping
//! the rest.

mod connection;
pub mod hub;
pub mod protocol;
mod registry;
mod transport;

pub use connection::{ConnectionId, Frame};
pub use hub::{Caller, HubArgs, HubBuilder, HubError, HubOptions, HubUser};
pub use registry::Hub;
