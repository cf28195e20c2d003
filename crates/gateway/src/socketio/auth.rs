//! Who a Socket.IO client is: a JWT from `auth.token` (the handshake's auth payload), the
//! `token` query parameter, or an `Authorization: Bearer` header — in that order.

use chatgate_core::Principal;
use serde_json::Value;
use socketioxide::extract::SocketRef;

use crate::state::AppState;

/// The token a socket presented at its handshake, if any.
pub fn token_of(socket: &SocketRef, auth: Option<&Value>) -> Option<String> {
    if let Some(token) = auth.and_then(|a| a.get("token")).and_then(Value::as_str).filter(|t| !t.is_empty()) {
        return Some(token.to_owned());
    }
    let parts = socket.req_parts();
    let from_query = parts.uri.query().and_then(|q| {
        form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "token").map(|(_, v)| v.into_owned())
    });
    from_query.filter(|t| !t.is_empty()).or_else(|| {
        parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
            .map(|t| t.trim().to_owned())
    })
}

/// A query parameter of the socket's handshake request.
pub fn query_param(socket: &SocketRef, name: &str) -> Option<String> {
    let query = socket.req_parts().uri.query()?;
    form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// Verifies a token the way the REST API does.
pub fn principal(state: &AppState, token: &str) -> Result<Principal, String> {
    state.tokens.verify(token).map_err(|e| e.0)
}
