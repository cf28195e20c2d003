//! Identifiers. Participants are named by their owners (ids are client-chosen for upserts);
//! everything chatgate creates is named by a ULID, whose text sorts by creation time.

pub type TenantId = String;
pub type ParticipantId = String;
pub type ConversationId = String;
pub type MessageId = String;

/// The tenant of tokens that do not name one.
pub const DEFAULT_TENANT: &str = "default";

/// A new ULID in its canonical 26-character text form.
pub fn new_id() -> String {
    ulid::Ulid::generate().to_string()
}

/// Whether `s` is a canonical ULID (26 Crockford base-32 characters).
pub fn is_ulid(s: &str) -> bool {
    s.len() == 26 && ulid::Ulid::from_string(s).is_ok()
}
