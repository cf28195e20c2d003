//! The one error type of the core. Every door maps it into its own wire format (RFC 7807 for
//! REST, `Error`/ack fields on the hubs, `ERROR` on `/support`, `{success:false}` for customers),
//! so the *kind* and a stable *code* are decided here, once.

use std::collections::BTreeMap;
use std::fmt;

/// What went wrong, in the vocabulary of seed 002's `ErrorType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    Validation,
    NotFound,
    Conflict,
    Forbidden,
    Unauthorized,
    Unexpected,
}

impl ErrorKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Validation => "Validation",
            ErrorKind::NotFound => "NotFound",
            ErrorKind::Conflict => "Conflict",
            ErrorKind::Forbidden => "Forbidden",
            ErrorKind::Unauthorized => "Unauthorized",
            ErrorKind::Unexpected => "Unexpected",
        }
    }
}

/// One failed rule, e.g. `{code: "blocks[0].content", description: "is longer than 16384 characters"}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub code: String,
    pub description: String,
}

impl FieldError {
    pub fn new(code: impl Into<String>, description: impl Into<String>) -> Self {
        FieldError { code: code.into(), description: description.into() }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreError {
    pub kind: ErrorKind,
    /// Stable machine-readable code such as `Conversation.NotFound`.
    pub code: String,
    /// Human-readable sentence; says what to do where there is something to do.
    pub message: String,
    /// Every failed rule for validation errors (at least one entry); empty otherwise.
    pub errors: Vec<FieldError>,
    /// Identifiers the error is about, e.g. `conversationId` (the hub's `Error.details`).
    pub details: BTreeMap<String, String>,
}

pub type CoreResult<T> = Result<T, CoreError>;

impl CoreError {
    pub fn new(kind: ErrorKind, code: impl Into<String>, message: impl Into<String>) -> Self {
        CoreError {
            kind,
            code: code.into(),
            message: message.into(),
            errors: Vec::new(),
            details: BTreeMap::new(),
        }
    }

    /// A validation error listing every failed rule; the message is the first one's.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let message = match errors.first() {
            Some(e) => format!("{}: {}", e.code, e.description),
            None => "The request is not valid".to_owned(),
        };
        CoreError { errors, ..CoreError::new(ErrorKind::Validation, "Validation", message) }
    }

    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        CoreError::validation(vec![FieldError::new(field, description)])
    }

    pub fn not_found(code: impl Into<String>, message: impl Into<String>) -> Self {
        CoreError::new(ErrorKind::NotFound, code, message)
    }

    pub fn conflict(code: impl Into<String>, message: impl Into<String>) -> Self {
        CoreError::new(ErrorKind::Conflict, code, message)
    }

    pub fn forbidden(code: impl Into<String>, message: impl Into<String>) -> Self {
        CoreError::new(ErrorKind::Forbidden, code, message)
    }

    pub fn unauthorized(code: impl Into<String>, message: impl Into<String>) -> Self {
        CoreError::new(ErrorKind::Unauthorized, code, message)
    }

    pub fn unexpected(message: impl Into<String>) -> Self {
        CoreError::new(ErrorKind::Unexpected, "Unexpected", message)
    }

    pub fn with_detail(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.details.insert(key.into(), value.into());
        self
    }
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.kind.as_str(), self.code, self.message)
    }
}

impl std::error::Error for CoreError {}
