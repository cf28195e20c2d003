//! Extractors that answer in RFC 7807: the caller's identity, and JSON, query and path values
//! whose failures are validation errors naming the offending field, never a bare 415 or 422.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::header;
use axum::http::request::Parts;
use chatgate_core::Principal;
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

/// A JSON body. The content type is not checked (clients forget it); the body must parse, and a
/// failure names the field path (`blocks[2].$type`).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| match e {
            BytesRejection::FailedToBufferBody(inner) if is_length_limit(&inner) => ApiError::validation(
                "body",
                "is larger than this server accepts (see max_body_bytes in the README's limits)",
            ),
            other => ApiError::validation("body", other.body_text()),
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

fn is_length_limit(e: &dyn std::error::Error) -> bool {
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = source {
        if err.to_string().contains("length limit") {
            return true;
        }
        source = err.source();
    }
    false
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::validation("body", "must be a JSON document"));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let field = if path == "." || path.is_empty() { "body".to_owned() } else { path };
        let description = if inner.is_syntax() || inner.is_eof() {
            format!("is not valid JSON ({inner})")
        } else {
            inner.to_string()
        };
        ApiError::validation(field, description)
    })?;
    de.end().map_err(|e| ApiError::validation("body", format!("has trailing characters ({e})")))?;
    Ok(value)
}

/// Query parameters; a parameter of the wrong type is a validation error.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| ApiQuery(v))
            .map_err(|e: QueryRejection| ApiError::validation("query", e.body_text()))
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
