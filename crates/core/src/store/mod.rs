//! The store: the source of truth. Its operations are domain operations, each one atomic, so a
//! caller never has to hold a transaction open across an `await` of its own.
//!
//! One trait per area of the domain ([`ChatStore`], …); [`Store`] is all of them, which is what
//! the core is given. A new area adds its trait here and its implementation beside the others.

mod bots;
mod channels;
mod chat;
mod customers;
mod files;
mod tickets;

pub use bots::{BotPage, BotStore};
pub use channels::ChannelStore;
pub use chat::ChatStore;
pub use customers::CustomerStore;
pub use files::{FileStore, GrantState};
pub use tickets::{TicketAppend, TicketQuery, TicketStore};

/// An append handed to the store, still to be committed: awaiting it waits for the commit.
pub type Submitted<T> = std::pin::Pin<Box<dyn std::future::Future<Output = StoreResult<T>> + Send>>;

/// Everything the core keeps: every area, plus what concerns the store as a whole.
#[async_trait::async_trait]
pub trait Store: ChatStore + CustomerStore + BotStore + FileStore + ChannelStore + TicketStore {
    /// What the store is, for logs: `sqlite:./data/chatgate.db (WAL)`…
    fn describe(&self) -> String;

    /// Whether the store answers (readiness).
    async fn ping(&self) -> StoreResult<()>;
}

use crate::error::CoreError;
use crate::model::*;
use crate::time::Timestamp;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule would be broken (e.g. a unique name already taken).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The row the operation works on does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The database could not be reached or refused the work.
    #[error("{0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

impl From<StoreError> for CoreError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => CoreError::conflict("Conflict", what),
            StoreError::NotFound(what) => CoreError::not_found("NotFound", what),
            StoreError::Backend(detail) => {
                tracing::error!(error = %detail, "store operation failed");
                CoreError::unexpected("The store failed; the server log has the details")
            }
        }
    }
}

/// The outcome of an idempotent append.
#[derive(Clone, Debug, PartialEq)]
pub enum Appended {
    Created(Message),
    /// A message with the same `(conversation, sender, clientMessageId)` existed: this is it.
    Duplicate(Message),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Newest first, before the cursor.
    Older,
    /// Oldest first, after the cursor.
    Newer,
}

/// A slice of a conversation's log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageRange {
    /// Only messages with `seq` above this (the reader's join point).
    pub floor_seq: i64,
    /// Start after (newer) or before (older) this `seq`; `None` starts at the newest (older) or
    /// the oldest visible message (newer).
    pub from_seq: Option<i64>,
    pub direction: Direction,
    pub limit: u32,
}

/// The position after which a conversation-list page starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListPosition {
    pub pinned: bool,
    pub activity_at: Timestamp,
    pub conversation_id: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ConversationUpdate {
    pub conversation_id: String,
    pub name: Option<String>,
    pub avatar: Option<MediaReference>,
    pub updated_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MessageEdit {
    pub message_id: String,
    pub blocks: Vec<Block>,
    pub plain_text: Option<String>,
    pub mentions: Option<Vec<Mention>>,
    pub reply_to_message_id: Option<String>,
    pub media: Vec<(u32, MediaKind)>,
    pub edited_at: Timestamp,
}

/// A page of the media listing, newest message first and in block order within a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaQuery {
    pub floor_seq: i64,
    pub kind: Option<MediaKind>,
    /// Continue after this `(seq, block index)`.
    pub after: Option<(i64, u32)>,
    pub limit: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MediaEntry {
    pub message: Message,
    pub block_index: u32,
    pub kind: MediaKind,
}
