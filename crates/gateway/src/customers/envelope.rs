//! The customer API's answers (seed 003): `{success: true, data}` and
//! `{success: false, code, message}` with the status of the error's kind.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chatgate_core::{CoreError, ErrorKind};
use serde::Serialize;
use serde_json::json;

/// A successful answer: `{success: true, data}`.
pub struct Data<T>(pub T);

impl<T: Serialize> IntoResponse for Data<T> {
    fn into_response(self) -> Response {
        Json(json!({"success": true, "data": self.0})).into_response()
    }
}

/// A failure in the customer API's format.
#[derive(Debug)]
pub struct Failure {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl Failure {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Failure { status, code: code.to_owned(), message: message.into(), retry_after: None }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Failure::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message)
    }

    pub fn too_many_requests(retry_after: u64) -> Self {
        Failure {
            retry_after: Some(retry_after),
            ..Failure::new(
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMITED",
                format!("Too many requests; retry in {retry_after} s"),
            )
        }
    }
}

impl From<CoreError> for Failure {
    fn from(e: CoreError) -> Self {
        let (status, code) = match e.kind {
            ErrorKind::Validation => (StatusCode::BAD_REQUEST, "VALIDATION"),
            ErrorKind::Unauthorized => (StatusCode::UNAUTHORIZED, "UNAUTHORIZED"),
            ErrorKind::Forbidden => (StatusCode::FORBIDDEN, "FORBIDDEN"),
            ErrorKind::NotFound => (StatusCode::NOT_FOUND, "NOT_FOUND"),
            ErrorKind::Conflict => (StatusCode::CONFLICT, "CONFLICT"),
            ErrorKind::Unexpected => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR"),
        };
        Failure::new(status, code, e.message)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let body = json!({"success": false, "code": self.code, "message": self.message});
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
