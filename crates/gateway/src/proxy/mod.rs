//! The proxy (seed 002 section 10): `/api/proxy/{service}/{path…}` forwarded to the configured
//! base URL of `service`, for authenticated callers.
//!
//! What goes up: the method (GET, POST, PUT, PATCH, DELETE), the rest of the path as sent, the
//! query, the body, and every header but the hop-by-hop ones, `Host`, the caller's
//! `Authorization` (chatgate's token is not the upstream's business) and any `X-User-*` the
//! caller sent; the caller's identity is added as `X-User-Id`, `X-User-Tenant`, `X-User-Role`.
//! What comes back: the upstream's status, headers and body unchanged, errors included, streamed.
//! Only the proxy's own failures answer `{detail}`: unknown service 404, upstream unreachable
//! 502, upstream too slow 504 (and 405, 400, 413 for requests it will not forward).

use std::collections::BTreeMap;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::rest::extract::Caller;
use crate::state::AppState;

/// The proxy's settings: services by name, and how long an upstream may take.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProxySettings {
    /// Service name → base URL (`http://host:port` or with a path prefix).
    pub services: BTreeMap<String, String>,
    /// Upstream answer deadline in milliseconds (0: the default, 30 s).
    pub timeout_ms: u64,
}

impl ProxySettings {
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(if self.timeout_ms == 0 { 30_000 } else { self.timeout_ms })
    }
}

/// Parses `name=http://host:port,other=https://…` (`CHATGATE_PROXY_SERVICES`).
pub fn parse_services(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut services = BTreeMap::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (name, url) =
            entry.split_once('=').ok_or_else(|| format!("proxy service `{entry}` is not name=URL"))?;
        let (name, url) = (name.trim(), url.trim());
        check_service(name, url)?;
        services.insert(name.to_owned(), url.to_owned());
    }
    Ok(services)
}

/// A service name is one path segment; its URL is http(s) with a host.
pub fn check_service(name: &str, url: &str) -> Result<(), String> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
        return Err(format!(
            "proxy service name `{name}` may contain only letters, digits, '-', '_' and '.'"
        ));
    }
    let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"));
    if rest.and_then(|r| r.split('/').next()).is_none_or(str::is_empty) {
        return Err(format!("proxy service `{name}`: `{url}` is not an http:// or https:// URL"));
    }
    Ok(())
}

/// The configured services and the client that reaches them.
pub struct Proxy {
    services: BTreeMap<String, String>,
    client: reqwest::Client,
}

impl Proxy {
    pub fn new(settings: &ProxySettings) -> Proxy {
        let client = reqwest::Client::builder()
            .timeout(settings.timeout())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "proxy client: falling back to the default HTTP client");
                reqwest::Client::new()
            });
        Proxy { services: settings.services.clone(), client }
    }

    pub fn service_names(&self) -> impl Iterator<Item = &str> {
        self.services.keys().map(String::as_str)
    }
}

/// The proxy's own failures: `{detail}` with a JSON content type.
fn failure(status: StatusCode, detail: impl Into<String>) -> Response {
    #[derive(Serialize)]
    struct Detail {
        detail: String,
    }
    (status, axum::Json(Detail { detail: detail.into() })).into_response()
}

/// Headers that belong to one connection, not to the request (RFC 9110 section 7.6.1), and those
/// the proxy sets itself.
fn is_kept(name: &HeaderName) -> bool {
    !matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "host"
            | "content-length"
    )
}

pub async fn forward(State(state): State<AppState>, Caller(caller): Caller, request: Request) -> Response {
    let method = request.method().clone();
    if ![Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE].contains(&method) {
        return failure(StatusCode::METHOD_NOT_ALLOWED, format!("The proxy does not forward {method}"));
    }
    let path = request.uri().path().to_owned();
    let Some(rest) = path.strip_prefix("/api/proxy/") else {
        return failure(StatusCode::NOT_FOUND, "Not a proxy path");
    };
    let (service, upstream_path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let Some(base) = state.proxy.services.get(service) else {
        return failure(StatusCode::NOT_FOUND, format!("Unknown proxy service '{service}'"));
    };
    if upstream_path.split('/').any(|s| s == ".." || s.eq_ignore_ascii_case("%2e%2e")) {
        return failure(StatusCode::BAD_REQUEST, "The proxied path must not contain '..' segments");
    }
    let mut url = format!("{}{}", base.trim_end_matches('/'), upstream_path);
    if let Some(query) = request.uri().query() {
        url.push('?');
        url.push_str(query);
    }

    let mut headers = HeaderMap::new();
    for (name, value) in request.headers() {
        if is_kept(name) && name != header::AUTHORIZATION && !name.as_str().starts_with("x-user-") {
            headers.append(name.clone(), value.clone());
        }
    }
    for (name, value) in [
        ("x-user-id", caller.participant_id.as_str()),
        ("x-user-tenant", caller.tenant.as_str()),
        ("x-user-role", caller.role.as_str()),
    ] {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), v);
        }
    }

    let limit = state.config.max_body_bytes;
    let body = match axum::body::to_bytes(request.into_body(), limit).await {
        Ok(b) => b,
        Err(_) => {
            return failure(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("The body is larger than the {limit} bytes this server accepts"),
            );
        }
    };

    let sent = state.proxy.client.request(method.clone(), &url).headers(headers).body(body).send().await;
    let upstream = match sent {
        Ok(r) => r,
        Err(e) if e.is_timeout() => {
            tracing::warn!(service, %method, "proxy: upstream timed out");
            return failure(
                StatusCode::GATEWAY_TIMEOUT,
                format!("Service '{service}' did not answer in time"),
            );
        }
        Err(e) => {
            tracing::warn!(service, %method, error = %e, "proxy: upstream unreachable");
            return failure(StatusCode::BAD_GATEWAY, format!("Service '{service}' could not be reached"));
        }
    };
    let status = upstream.status();
    let mut response_headers = HeaderMap::new();
    for (name, value) in upstream.headers() {
        if is_kept(name) {
            response_headers.append(name.clone(), value.clone());
        }
    }
    // Streamed as it arrives; an upstream that fails mid-body ends the answer early.
    let chunks = futures_util::stream::unfold(Some(upstream), |upstream| async move {
        let mut upstream = upstream?;
        match upstream.chunk().await {
            Ok(Some(bytes)) => Some((Ok::<Bytes, reqwest::Error>(bytes), Some(upstream))),
            Ok(None) => None,
            Err(e) => Some((Err(e), None)),
        }
    });
    let mut response = Response::new(Body::from_stream(chunks));
    *response.status_mut() = status;
    *response.headers_mut() = response_headers;
    response
}

/// `/api/proxy/{service}` and everything below it, every method (others answer 405 `{detail}`).
pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/api/proxy/{service}", axum::routing::any(forward))
        .route("/api/proxy/{service}/{*path}", axum::routing::any(forward))
}
