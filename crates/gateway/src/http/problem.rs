//! RFC 7807 problem details: the one error answer of the Chat Gateway REST API.
//!
//! `{type, status, title, detail?, errors?, traceId}`, where `title` is the error kind
//! (Validation, NotFound, Conflict, Forbidden, Unauthorized, Unexpected) and the status follows
//! from it. Errors raised by handlers list their rules in `errors`; those raised before a handler
//! runs (a missing token) do not, as in seed 002.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chatgate_core::{CoreError, ErrorKind};
use serde::Serialize;

use super::trace::current_trace_id;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProblemError {
    pub code: String,
    pub description: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

#[derive(Clone, Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub title: &'static str,
    pub detail: String,
    pub errors: Option<Vec<ProblemError>>,
    /// Seconds, for 429 answers.
    pub retry_after: Option<u64>,
}

impl ApiError {
    fn of_kind(kind: ErrorKind, detail: impl Into<String>) -> Self {
        let status = match kind {
            ErrorKind::Validation => StatusCode::BAD_REQUEST,
            ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::Unexpected => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError { status, title: kind.as_str(), detail: detail.into(), errors: None, retry_after: None }
    }

    /// A request that does not fit: one rule, named by `code`.
    pub fn validation(code: impl Into<String>, description: impl Into<String>) -> Self {
        ApiError::from(CoreError::invalid(code, description))
    }

    /// No usable credential; raised before any handler, so without `errors`.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        ApiError::of_kind(ErrorKind::Unauthorized, detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        ApiError::of_kind(ErrorKind::NotFound, detail)
    }

    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        ApiError {
            status: StatusCode::TOO_MANY_REQUESTS,
            title: "TooManyRequests",
            detail: format!("Rate limit reached; retry in {retry_after_secs} s"),
            errors: None,
            retry_after: Some(retry_after_secs.max(1)),
        }
    }

    pub fn method_not_allowed() -> Self {
        ApiError {
            status: StatusCode::METHOD_NOT_ALLOWED,
            title: "MethodNotAllowed",
            detail: "This path does not accept that HTTP method".to_owned(),
            errors: None,
            retry_after: None,
        }
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        let mut api = ApiError::of_kind(e.kind, e.message);
        if e.kind == ErrorKind::Unauthorized {
            return api;
        }
        let kind = e.kind.as_str();
        api.errors = Some(if e.errors.is_empty() {
            vec![ProblemError { code: e.code, description: api.detail.clone(), kind }]
        } else {
            e.errors
                .into_iter()
                .map(|f| ProblemError { code: f.code, description: f.description, kind })
                .collect()
        });
        api
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ProblemBody<'a> {
    #[serde(rename = "type")]
    type_uri: &'static str,
    status: u16,
    title: &'a str,
    detail: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a [ProblemError]>,
    trace_id: String,
}

fn type_uri(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "https://tools.ietf.org/html/rfc9110#section-15.5.1",
        401 => "https://tools.ietf.org/html/rfc9110#section-15.5.2",
        403 => "https://tools.ietf.org/html/rfc9110#section-15.5.4",
        404 => "https://tools.ietf.org/html/rfc9110#section-15.5.5",
        405 => "https://tools.ietf.org/html/rfc9110#section-15.5.6",
        409 => "https://tools.ietf.org/html/rfc9110#section-15.5.10",
        416 => "https://tools.ietf.org/html/rfc9110#section-15.5.17",
        429 => "https://tools.ietf.org/html/rfc6585#section-4",
        _ => "https://tools.ietf.org/html/rfc9110#section-15.6.1",
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ProblemBody {
            type_uri: type_uri(self.status),
            status: self.status.as_u16(),
            title: self.title,
            detail: &self.detail,
            errors: self.errors.as_deref(),
            trace_id: current_trace_id(),
        };
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let mut response = (self.status, bytes).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
