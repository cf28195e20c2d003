//! The domain's nouns. Plain data: the rules that govern them live in `policy`, `validate` and
//! `service`.

pub mod block;
pub mod conversation;
pub mod media;
pub mod message;
pub mod participant;

pub use block::*;
pub use conversation::*;
pub use media::MediaReference;
pub use message::*;
pub use participant::*;
