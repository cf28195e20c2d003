//! The domain's nouns. Plain data: the rules that govern them live in `policy`, `validate` and
//! `service`.

pub mod block;
pub mod bot;
pub mod channel;
pub mod conversation;
pub mod customer;
pub mod file;
pub mod media;
pub mod message;
pub mod participant;
pub mod ticket;

pub use block::*;
pub use bot::*;
pub use channel::*;
pub use conversation::*;
pub use customer::*;
pub use file::{StoredFile, UploadGrant};
pub use media::MediaReference;
pub use message::*;
pub use participant::*;
pub use ticket::*;
