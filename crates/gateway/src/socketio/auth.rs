//! Who a Socket.IO client is: a JWT from `auth.token` (the CONNECT packet's payload), the
//! `token` query parameter, or an `Authorization: Bearer` header — in that order.

use chatgate_core::Principal;
use chatgate_socketio::Handshake;
use serde_json::Value;

use crate::state::AppState;

/// The token a client presented, if any.
pub fn token_of(handshake: &Handshake, auth: Option<&Value>) -> Option<String> {
    if let Some(token) = auth.and_then(|a| a.get("token")).and_then(Value::as_str).filter(|t| !t.is_empty()) {
        return Some(token.to_owned());
    }
    handshake.query("token").filter(|t| !t.is_empty()).or_else(|| {
        handshake
            .headers()
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
            .map(|t| t.trim().to_owned())
    })
}

/// Verifies a token the way the REST API does.
pub fn principal(state: &AppState, token: &str) -> Result<Principal, String> {
    state.tokens.verify(token).map_err(|e| e.0)
}
