//! The embedded store: one SQLite file in WAL mode. One writer connection (SQLite has one writer
//! at a time anyway, and queuing in the pool is cheaper than lock retries) and a pool of readers
//! that never block it.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::Sqlite;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

type Db = Sqlite;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

// The shared SQL: the `Store` itself and the chat area (see shared.rs). Each further area of the
// domain adds its file here, implementing its store trait in the same portable SQL.
include!("shared.rs");
include!("customers.rs");
include!("files.rs");
include!("bots.rs");
include!("channels.rs");
include!("tickets.rs");
include!("group_commit.rs");

/// How durable a commit is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// Every commit reaches the disk before it returns (`synchronous=FULL`): an acknowledged
    /// message survives a crash of the process, the operating system or the machine.
    #[default]
    Full,
    /// Commits survive a crash of the process but not of the machine (`synchronous=NORMAL`).
    Normal,
}

impl FromStr for Durability {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "full" => Ok(Durability::Full),
            "normal" => Ok(Durability::Normal),
            _ => Err(format!("unknown durability `{s}` (expected full or normal)")),
        }
    }
}

#[derive(Clone, Debug)]
pub struct SqliteOptions {
    pub durability: Durability,
    /// Reader connections.
    pub readers: u32,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions { durability: Durability::Full, readers: 8 }
    }
}

pub struct SqlStore {
    writer: SqlitePool,
    /// Appends of messages, committed in groups (see group_commit.rs).
    group: GroupCommit,
    reader: SqlitePool,
    /// Copies the write-ahead log into the database (see `checkpoints`).
    checkpointer: SqlitePool,
    checkpoints: tokio::task::JoinHandle<()>,
    path: PathBuf,
    durability: Durability,
}

/// How often the write-ahead log is copied into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// Checkpoints the write-ahead log beside the writer. Left to SQLite, the commit that fills the
/// log would copy it into the database (and flush that) while holding the write — every append
/// waiting behind it would pay for it. A passive checkpoint from another connection waits for
/// no one and stops no one.
async fn checkpoints(pool: SqlitePool) {
    let mut every = tokio::time::interval(CHECKPOINT_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
            tracing::warn!(error = %e, "checkpointing the SQLite write-ahead log failed");
        }
    }
}

pub type SqliteStore = SqlStore;

/// A store dropped without `close` stops checkpointing: its task holds a connection, and would
/// go on every second for as long as the runtime lives. (SQLite checkpoints what is left when the
/// last connection closes.)
impl Drop for SqlStore {
    fn drop(&mut self) {
        self.checkpoints.abort();
    }
}

impl SqlStore {
    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    pub async fn open(path: &Path, options: &SqliteOptions) -> Result<SqlStore, StoreError> {
        let synchronous = match options.durability {
            Durability::Full => SqliteSynchronous::Full,
            Durability::Normal => SqliteSynchronous::Normal,
        };
        let connect = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(synchronous)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .pragma("temp_store", "memory")
            // Checkpoints run beside the writer (see `checkpoints`), not inside a commit.
            .pragma("wal_autocheckpoint", "0");
        // Connections are not pinged before each use: a local file does not drop a connection,
        // and every ping is one more round trip to SQLite's thread per query.
        let writer = SqlitePoolOptions::new()
            .test_before_acquire(false)
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(connect.clone())
            .await
            .map_err(|e| StoreError::Backend(format!("cannot open {}: {e}", path.display())))?;
        MIGRATOR
            .run(&writer)
            .await
            .map_err(|e| StoreError::Backend(format!("migrating {}: {e}", path.display())))?;
        let reader = SqlitePoolOptions::new()
            .test_before_acquire(false)
            .max_connections(options.readers.max(1))
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(connect.clone().read_only(true))
            .await
            .map_err(db_err)?;
        let group = GroupCommit::start(writer.clone());
        let checkpointer = SqlitePoolOptions::new()
            .test_before_acquire(false)
            .max_connections(1)
            .min_connections(1)
            .connect_with(connect)
            .await
            .map_err(db_err)?;
        let checkpoints = tokio::spawn(checkpoints(checkpointer.clone()));
        Ok(SqlStore {
            writer,
            group,
            reader,
            checkpointer,
            checkpoints,
            path: path.to_owned(),
            durability: options.durability,
        })
    }

    /// Applies pending migrations without keeping the store open (`chatgate migrate`).
    pub async fn migrate(path: &Path) -> Result<Vec<String>, StoreError> {
        let store = SqlStore::open(path, &SqliteOptions { readers: 1, ..Default::default() }).await?;
        let applied = sqlx::query_scalar::<_, String>(
            "SELECT description FROM _sqlx_migrations WHERE success = TRUE ORDER BY version",
        )
        .fetch_all(&store.reader)
        .await
        .map_err(db_err)?;
        store.close().await;
        Ok(applied)
    }

    pub async fn close(&self) {
        self.checkpoints.abort();
        self.reader.close().await;
        // What is left in the log goes into the database, and the log is emptied.
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&self.checkpointer).await {
            tracing::warn!(error = %e, "the last checkpoint of the SQLite write-ahead log failed");
        }
        self.checkpointer.close().await;
        self.writer.close().await;
    }

    fn describe_store(&self) -> String {
        let sync = match self.durability {
            Durability::Full => "synchronous=FULL",
            Durability::Normal => "synchronous=NORMAL",
        };
        format!("sqlite:{} (WAL, {sync})", self.path.display())
    }

    /// FTS5: each word of the query must appear (the last one as a prefix), diacritics ignored.
    async fn search_messages_fts(
        &self,
        conversation_id: &str,
        floor_seq: i64,
        query: &str,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        let Some(expression) = fts5_expression(query) else {
            return Ok(Vec::new());
        };
        let sql = concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages_fts f JOIN messages m ON m.pk = f.rowid \
             WHERE messages_fts MATCH $1 AND m.conversation_id = $2 AND m.seq > $3 \
             AND m.deleted_at IS NULL ORDER BY m.seq DESC LIMIT $4"
        );
        let rows = sqlx::query(sql)
            .bind(expression)
            .bind(conversation_id)
            .bind(floor_seq)
            .bind(limit as i64)
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?;
        self.complete_messages(rows).await
    }
}

/// Turns free text into a safe FTS5 expression: words quoted (so no operator syntax leaks
/// through), all required, the last one matched as a prefix.
fn fts5_expression(query: &str) -> Option<String> {
    let words: Vec<&str> = query.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    let (last, rest) = words.split_last()?;
    let mut terms: Vec<String> = rest.iter().map(|w| format!("\"{w}\"")).collect();
    terms.push(format!("\"{last}\"*"));
    Some(terms.join(" "))
}

#[cfg(test)]
mod tests {
    use super::fts5_expression;

    #[test]
    fn fts_expressions_quote_words_and_drop_operators() {
        assert_eq!(fts5_expression("hello wor").unwrap(), "\"hello\" \"wor\"*");
        assert_eq!(fts5_expression("a\" OR b*").unwrap(), "\"a\" \"OR\" \"b\"*");
        assert_eq!(fts5_expression("  --- "), None);
    }
}
