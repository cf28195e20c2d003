//! Password logins: `POST /api/token`, the OAuth 2.0 password grant (RFC 6749 section 4.3) that
//! the ChatOmni dashboard logs in with (seed 000), and `POST /api/admin/users`, where a tenant's
//! admins make logins for their agents. The grant answers in RFC 6749's own format
//! (`{access_token, token_type, expires_in}`, or `{error, error_description}`), not RFC 7807.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use chatgate_core::service::NewLogin;
use chatgate_core::{CoreError, ErrorKind};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::extract::{ApiJson, Caller, read_body};
use crate::auth::passwords;
use crate::http::problem::ApiError;
use crate::http::ratelimit::IpLimit;
use crate::state::AppState;

/// Password attempts per second from one client address, and the burst: each costs an Argon2
/// hash, so guessing is slowed here rather than by the general limit.
const GRANTS_PER_SECOND: u32 = 5;
const GRANT_BURST: u32 = 20;
/// Largest form body of a grant.
const MAX_FORM_BYTES: usize = 16 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/token", post(token))
        .route("/api/admin/users", post(create_user))
        .layer(Extension(Arc::new(IpLimit::new(GRANTS_PER_SECOND, GRANT_BURST))))
}

/// An RFC 6749 section 5.2 error answer.
struct GrantError {
    status: StatusCode,
    error: &'static str,
    description: String,
    retry_after: Option<u64>,
}

impl GrantError {
    fn new(error: &'static str, description: impl Into<String>) -> Self {
        GrantError {
            status: StatusCode::BAD_REQUEST,
            error,
            description: description.into(),
            retry_after: None,
        }
    }
}

impl From<CoreError> for GrantError {
    fn from(e: CoreError) -> Self {
        match e.kind {
            ErrorKind::Unauthorized => GrantError::new("invalid_grant", e.message),
            ErrorKind::Validation => GrantError::new("invalid_request", e.message),
            _ => GrantError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                ..GrantError::new("server_error", "The server could not log you in; try again")
            },
        }
    }
}

impl IntoResponse for GrantError {
    fn into_response(self) -> Response {
        let body = json!({"error": self.error, "error_description": self.description});
        let mut response = (self.status, Json(body)).into_response();
        no_store(response.headers_mut());
        if let Some(secs) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// Token answers must not be cached (RFC 6749 section 5.1).
fn no_store(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

#[derive(Serialize)]
struct TokenAnswer {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
}

/// `grant_type=password&username=…&password=…` (`client_id` is accepted and not checked:
/// dashboards are public clients; `tenant` names the tenant of a username used in several).
async fn token(
    State(state): State<AppState>,
    Extension(limit): Extension<Arc<IpLimit>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, GrantError> {
    if let Err(wait) = limit.check(peer.ip()) {
        return Err(GrantError {
            status: StatusCode::TOO_MANY_REQUESTS,
            retry_after: Some(wait),
            ..GrantError::new("invalid_request", format!("Too many login attempts; retry in {wait} s"))
        });
    }
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|t| t.trim_start().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    if !form_type {
        return Err(GrantError::new("invalid_request", "Send the form as application/x-www-form-urlencoded"));
    }
    let bytes = read_body(body, MAX_FORM_BYTES).await.map_err(|_| {
        GrantError::new("invalid_request", format!("The form is larger than {MAX_FORM_BYTES} bytes"))
    })?;
    let mut form: HashMap<String, String> = HashMap::new();
    for (name, value) in form_urlencoded::parse(&bytes) {
        if form.insert(name.to_string(), value.into_owned()).is_some() {
            return Err(GrantError::new("invalid_request", format!("`{name}` is given more than once")));
        }
    }
    let field = |name: &str| form.get(name).map(String::as_str).filter(|v| !v.is_empty());
    match field("grant_type") {
        None => return Err(GrantError::new("invalid_request", "`grant_type` is required (password)")),
        Some("password") => {}
        Some(other) => {
            return Err(GrantError::new(
                "unsupported_grant_type",
                format!("The grant type `{other}` is not supported; use `password`"),
            ));
        }
    }
    let (Some(username), Some(password)) = (field("username"), field("password")) else {
        return Err(GrantError::new("invalid_request", "`username` and `password` are required"));
    };
    if password.len() > 1024 {
        return Err(GrantError::new("invalid_grant", "Wrong username or password"));
    }
    let password = password.to_owned();
    let principal = state
        .core
        .password_login(username, field("tenant"), |hash| passwords::verify(password, hash))
        .await?;
    let ttl = state.config.login_token_ttl;
    let (access_token, _) = state
        .tokens
        .issue(&principal, ttl, state.core.now())
        .map_err(|e| GrantError::from(CoreError::unexpected(e.0)))?;
    let mut response =
        Json(TokenAnswer { access_token, token_type: "bearer", expires_in: ttl.as_secs() }).into_response();
    no_store(response.headers_mut());
    Ok(response)
}

#[derive(Deserialize)]
struct CreateUserRequest {
    username: String,
    password: String,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UserDto {
    id: String,
    username: String,
    role: &'static str,
    name: String,
    tenant: String,
}

/// An admin makes a password login (agent or admin) in their own tenant.
async fn create_user(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiJson(body): ApiJson<CreateUserRequest>,
) -> Result<(StatusCode, Json<UserDto>), ApiError> {
    let input = NewLogin { username: body.username, role: body.role, name: body.name };
    let (credential, participant) =
        state.core.create_login(&principal, input, body.password, passwords::hash).await?;
    Ok((
        StatusCode::CREATED,
        Json(UserDto {
            id: participant.id,
            username: credential.username,
            role: credential.role.as_str(),
            name: participant.full_name,
            tenant: credential.tenant,
        }),
    ))
}
