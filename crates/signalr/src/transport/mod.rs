//! The HTTP side (`TransportProtocols.md`): `POST {path}/negotiate`, and `{path}` itself, which
//! is a WebSocket upgrade, a Server-Sent Events stream or a long poll (GET), a send (POST) or a
//! stop (DELETE).

mod long_polling;
mod sse;
mod websocket;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::connection::{Connection, Transport};
use crate::hub::HubUser;
use crate::registry::Hub;

pub(crate) fn routes<U: HubUser, S>(hub: Hub<U>, path: &str) -> Router<S> {
    Router::new()
        .route(&format!("{path}/negotiate"), post(negotiate::<U>))
        .route(path, get(connect::<U>).post(send::<U>).delete(stop::<U>))
        .with_state(hub)
}

type Params = Query<HashMap<String, String>>;

/// The access token: `access_token` in the query (browsers cannot set headers on WebSockets
/// and EventSource) or `Authorization: Bearer`.
fn access_token<'a>(params: &'a HashMap<String, String>, headers: &'a HeaderMap) -> Option<&'a str> {
    params.get("access_token").map(String::as_str).filter(|t| !t.is_empty()).or_else(|| {
        headers
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
            .map(str::trim)
    })
}

fn text(status: StatusCode, body: &str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body.to_owned()).into_response()
}

fn unauthorized(reason: &str) -> Response {
    Refusal::Unauthorized(reason.to_owned()).into_response()
}

/// Why a transport request is refused.
pub(crate) enum Refusal {
    Status(StatusCode, &'static str),
    Unauthorized(String),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Status(status, reason) => text(status, reason),
            Refusal::Unauthorized(reason) => {
                let mut r = text(StatusCode::UNAUTHORIZED, &reason);
                r.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
                r
            }
        }
    }
}

fn new_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

async fn negotiate<U: HubUser>(
    State(hub): State<Hub<U>>,
    Query(params): Params,
    headers: HeaderMap,
) -> Response {
    let user = match (hub.inner.authenticate)(access_token(&params, &headers)) {
        Ok(u) => u,
        Err(reason) => return unauthorized(&reason),
    };
    let requested: u64 = params.get("negotiateVersion").and_then(|v| v.parse().ok()).unwrap_or(0);
    let version = requested.min(1);
    let connection =
        Arc::new(Connection::new(new_id(), new_id(), user, hub.options().outbound_queue, hub.now_ms()));
    let mut body = json!({
        "connectionId": connection.id,
        "negotiateVersion": version,
        "availableTransports": [
            {"transport": "WebSockets", "transferFormats": ["Text"]},
            {"transport": "ServerSentEvents", "transferFormats": ["Text"]},
            {"transport": "LongPolling", "transferFormats": ["Text"]},
        ],
    });
    if version >= 1 {
        body["connectionToken"] = json!(connection.token);
    } else {
        // Version 0 clients send the connection id as `id`; it is the token for them.
        body["connectionId"] = json!(connection.token);
    }
    hub.register(connection);
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

/// The connection named by `id`, checked against the request's token.
fn find<U: HubUser>(
    hub: &Hub<U>,
    params: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<Arc<Connection<U>>, Refusal> {
    let id = params.get("id").ok_or(Refusal::Status(StatusCode::BAD_REQUEST, "Connection ID required"))?;
    let connection =
        hub.by_token(id).ok_or(Refusal::Status(StatusCode::NOT_FOUND, "No Connection with that ID"))?;
    let user = (hub.inner.authenticate)(access_token(params, headers)).map_err(Refusal::Unauthorized)?;
    if user.user_id() != connection.user.user_id() {
        return Err(Refusal::Status(
            StatusCode::FORBIDDEN,
            "The request's user does not own this connection",
        ));
    }
    Ok(connection)
}

async fn connect<U: HubUser>(State(hub): State<Hub<U>>, Query(params): Params, request: Request) -> Response {
    if chatgate_websocket::is_upgrade_request(&request) {
        return websocket::accept(hub, params, request);
    }
    let headers = request.headers();
    let connection = match find(&hub, &params, headers) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    let wants_events = headers
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("text/event-stream"));
    if wants_events { sse::stream(hub, connection) } else { long_polling::poll(hub, connection).await }
}

/// A client's messages for Server-Sent Events and Long Polling connections.
async fn send<U: HubUser>(State(hub): State<Hub<U>>, Query(params): Params, request: Request) -> Response {
    let connection = match find(&hub, &params, request.headers()) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    if !matches!(connection.attached(), Some(Transport::LongPolling | Transport::ServerSentEvents)) {
        return text(StatusCode::BAD_REQUEST, "This connection does not send over HTTP POST");
    }
    let limit = hub.options().hard_limit();
    let body = match axum::body::to_bytes(request.into_body(), limit).await {
        Ok(b) => b,
        Err(_) => {
            hub.close_connection(&connection, Some("The message is too large.".into()), false);
            return text(StatusCode::PAYLOAD_TOO_LARGE, "The message is too large");
        }
    };
    if connection.is_closed() {
        return text(StatusCode::NOT_FOUND, "The connection has ended");
    }
    hub.receive(&connection, &body).await;
    text(StatusCode::OK, "")
}

async fn stop<U: HubUser>(State(hub): State<Hub<U>>, Query(params): Params, headers: HeaderMap) -> Response {
    let connection = match find(&hub, &params, &headers) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    hub.close_connection(&connection, None, false);
    text(StatusCode::ACCEPTED, "")
}
