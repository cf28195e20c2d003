//! chatgate-store: where chatgate keeps its data.
//!
//! [`sqlite::SqliteStore`] is the embedded default (one file, WAL). The queries are portable SQL
//! shared through `shared.rs`, so a PostgreSQL store is the same code compiled against another
//! database plus its own migrations and full-text search.

pub mod sqlite;

pub use sqlite::{Durability, SqliteOptions, SqliteStore};
