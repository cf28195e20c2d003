//! Extractors that answer in RFC 7807: the caller's identity, and JSON, query and path values
//! whose failures are validation errors naming the offending field, never a bare 415 or 422.

use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::header;
use axum::http::request::Parts;
use bytes::BytesMut;
use chatgate_core::Principal;
use chatgate_core::decode::locate;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::http::problem::ApiError;
use crate::state::AppState;

/// The authenticated caller, from `Authorization: Bearer <jwt>`. Also spends one unit of the
/// caller's rate limit.
pub struct Caller(pub Principal);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("Send a token: `Authorization: Bearer <jwt>`"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::unauthorized("The Authorization header must be `Bearer <jwt>`"))?;
        let principal = state.tokens.verify(token).map_err(|e| ApiError::unauthorized(e.0))?;
        state
            .rate_limits
            .check_user(&principal.tenant, &principal.participant_id)
            .map_err(ApiError::too_many_requests)?;
        Ok(Caller(principal))
    }
}

/// A JSON object body. The content type is not checked (clients forget it); the body must be
/// a JSON object that fits the request, and a failure names the field (`blocks[2].format`).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let bytes = read_body(req.into_body(), state.config.max_body_bytes).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Reads at most `limit` bytes. A longer body is still read to its end (up to a bound) before
/// the answer, because a server that answers while the client is still uploading gets its answer
/// lost in a reset connection.
pub(crate) async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let drain_bound = limit.saturating_mul(16).max(64 * 1024 * 1024);
    let mut stream = body.into_data_stream();
    let mut kept = BytesMut::new();
    let mut total = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::validation("body", format!("could not be read: {e}")))?;
        total = total.saturating_add(chunk.len());
        if total <= limit {
            kept.extend_from_slice(&chunk);
        } else if total > drain_bound {
            break;
        }
    }
    if total > limit {
        return Err(ApiError::validation(
            "body",
            format!("is larger than the {limit} bytes this server accepts (max_body_bytes)"),
        ));
    }
    Ok(kept.freeze())
}

/// Decodes a request body, which must be a JSON object.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    crate::wire::from_object_bytes(bytes).map_err(ApiError::from)
}

/// Query parameters; a failure names the parameter.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer).map(ApiQuery).map_err(|e| {
            let path = e.path().to_string();
            let (field, description) = locate(&path, &e.into_inner().to_string());
            let field = if field == "body" { "query".to_owned() } else { field };
            ApiError::validation(field, description)
        })
    }
}

/// Path parameters (percent-decoded).
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| ApiPath(v))
            .map_err(|e: PathRejection| ApiError::validation("path", e.body_text()))
    }
}

/// Deserializes a field that may be absent (`None`), `null` (`Some(None)`) or a value.
pub fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    use serde::Deserialize;
    Option::<T>::deserialize(deserializer).map(Some)
}
