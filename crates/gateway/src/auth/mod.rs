//! Authentication: turning a credential (a JWT, a password) into a [`Principal`]. What the
//! principal may then do is the core's decision, not this module's.
//!
//! [`Principal`]: chatgate_core::Principal

pub mod connector_keys;
pub mod customer_tokens;
pub mod dsaccount;
pub mod google;
pub mod passwords;
pub mod providers;
pub mod tokens;

pub use tokens::{Claims, TokenError, Tokens, parse_duration};
