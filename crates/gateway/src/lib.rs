//! chatgate-gateway: the doors. Each door decodes its wire format into calls on the core and
//! renders the core's answers and events back into that format; none decides a rule of its own.
//!
//! # Layout
//! - [`rest`]: the Chat Gateway REST API (seed 002): RFC 7807 errors, camelCase JSON.
//! - [`hubs`]: the Chat Gateway's SignalR hubs (`/hubs/chat`, `/hubs/notifications`) and the
//!   renderer that turns core events into hub messages.
//! - [`auth`]: authentication (JWTs, password hashes), turning credentials into principals.
//! - [`http`]: plumbing shared by the HTTP doors: request ids, rate limits, problem answers.
//! - [`state`]: what every handler can reach: the core, the token service, the configuration.
//! - [`wire`]: JSON decoding shared by the doors, with errors that name the field.

pub mod auth;
pub mod http;
pub mod hubs;
pub mod rest;
pub mod state;
pub mod wire;

pub use state::{AppState, GatewayConfig, HubSettings};

use axum::Router;

/// Every door of chatgate, started: the router to serve, and the real-time doors to close on
/// shutdown.
pub struct Gateway {
    router: Router,
    hubs: hubs::Hubs,
}

impl Gateway {
    /// Builds every door over `state` and starts rendering core events for the real-time ones.
    pub fn start(state: AppState) -> Gateway {
        let hubs = hubs::Hubs::start(state.core.clone(), state.tokens.clone(), state.config.hubs.options());
        let router = rest::router(state, hubs.routes());
        Gateway { router, hubs }
    }

    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// Asks every real-time client to reconnect; part of a graceful shutdown.
    pub fn close_realtime(&self, reason: &str) {
        self.hubs.close_all(reason);
    }
}
