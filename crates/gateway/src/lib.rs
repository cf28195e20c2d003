//! chatgate-gateway: the doors. Each door decodes its wire format into calls on the core and
//! renders the core's answers and events back into that format; none decides a rule of its own.
//!
//! # Layout
//! - [`rest`]: the Chat Gateway REST API (seed 002): RFC 7807 errors, camelCase JSON.
//! - [`auth`]: authentication (JWTs, password hashes), turning credentials into principals.
//! - [`http`]: plumbing shared by the HTTP doors: request ids, rate limits, problem answers.
//! - [`state`]: what every handler can reach: the core, the token service, the configuration.

pub mod auth;
pub mod http;
pub mod rest;
pub mod state;

pub use state::{AppState, GatewayConfig};

use axum::Router;

/// Every door of chatgate on one router, ready to serve.
pub fn router(state: AppState) -> Router {
    rest::router(state)
}
