//! chatgate-gateway: the doors. Each door decodes its wire format into calls on the core and
//! renders the core's answers and events back into that format; none decides a rule of its own.
//!
//! # Layout
//! - [`rest`]: the Chat Gateway REST API (seed 002): RFC 7807 errors, camelCase JSON.
//! - [`customers`]: the customer gateway (seed 003): customer tokens, `/ws/chat`, and the
//!   agents' customer API in the `{success, data}` envelope.
//! - [`hubs`]: the Chat Gateway's SignalR hubs (`/hubs/chat`, `/hubs/notifications`) and the
//!   renderer that turns core events into hub messages.
//! - [`bots`]: the Bot API, bots' streamed replies, and delivery of messages to bots (webhooks,
//!   event streams).
//! - [`connectors`]: channel accounts and the connector bridge: connectors report platform
//!   events and take agents' replies from the outbox (long poll or WebSocket).
//! - [`proxy`]: `/api/proxy/{service}/…`, forwarded to configured upstream services.
//! - [`files`]: file bytes in local or S3 storage, signed download URLs, thumbnails (the
//!   `/api/files` handlers are in `rest`).
//! - [`auth`]: authentication (JWTs, password hashes, Google and DsAccount logins), turning
//!   credentials into principals.
//! - [`http`]: plumbing shared by the HTTP doors: request ids, rate limits, problem answers.
//! - [`pacing`]: rendering core events in batches with paced writes, for the doors whose
//!   sockets are `chatgate-websocket` connections (Socket.IO, the hubs' WebSockets).
//! - [`socketio`]: the Socket.IO namespaces (support desk, ChatOmni, WhatsApp dashboard).
//! - [`state`]: what every handler can reach: the core, the token service, the configuration.
//! - [`wire`]: JSON decoding shared by the doors, with errors that name the field.

pub mod auth;
pub mod bots;
pub mod connectors;
pub mod customers;
pub mod files;
pub mod http;
pub mod hubs;
pub mod pacing;
pub mod proxy;
pub mod rest;
pub mod socketio;
pub mod state;
pub mod wire;

pub use state::{AppState, CustomerSettings, GatewayConfig, HubSettings};

use axum::Router;

/// Every door of chatgate, started: the router to serve, and the real-time doors to close on
/// shutdown.
pub struct Gateway {
    router: Router,
    hubs: hubs::Hubs,
    sockets: socketio::SocketDoors,
    connectors: connectors::ConnectorDoor,
}

impl Gateway {
    /// Builds every door over `state` and starts rendering core events for the real-time ones.
    pub fn start(state: AppState) -> Gateway {
        let hubs = hubs::Hubs::start(
            state.core.clone(),
            state.tokens.clone(),
            state.config.hubs.options(),
            state.files.media_urls(),
        );
        files::start(state.core.clone(), state.files.clone());
        let customers = customers::CustomerDoor::start(state.clone());
        let connectors = connectors::ConnectorDoor::start(state.clone());
        let doors = hubs.routes().merge(customers.routes()).merge(bots::start(&state)).merge(proxy::routes());
        let doors = doors.merge(connectors.routes()).merge(socketio::whatsapp::routes());
        let sockets = socketio::SocketDoors::start(&state);
        // Outside the REST layers: Socket.IO has its own limits and answers in its own format.
        let router = rest::router(state, doors).merge(sockets.router());
        Gateway { router, hubs, sockets, connectors }
    }

    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// Asks every real-time client to reconnect; part of a graceful shutdown.
    pub async fn close_realtime(&self, reason: &str) {
        self.hubs.close_all(reason);
        self.connectors.close();
        self.sockets.close_all();
    }
}
