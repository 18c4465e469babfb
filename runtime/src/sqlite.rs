//! The embedded backend on SQLite (feature `sqlite`, sqlx 0.8's sqlite driver, WAL mode): a
//! small service, a test suite or a first try needs no database server. PostgreSQL
//! ([`postgres`](crate::postgres)) stays the production engine.
//!
//! * [`Inbox`], on the consumer side: runs a handler once per consumer and message id, with
//!   the id recorded in the handler's own transaction, so a redelivered message changes
//!   nothing the second time; the same contract as [`postgres::Inbox`](crate::postgres::Inbox)
//!   and the same [`Consumer::run_with_inbox`](crate::nats::Consumer::run_with_inbox).
//!
//! One database file holds what a schema holds on PostgreSQL; the embedded migrations create
//! the tables (`eventmap_inbox`, ...) when an inbox is built. Open the pool with
//! [`connect_options`]: WAL journal (readers do not block the writer), the file created when
//! missing, and a busy timeout, since SQLite has one writer at a time and the others queue.
//!
//! ```ignore
//! let pool = SqlitePoolOptions::new().connect_with(eventmap::sqlite::connect_options("sqlite://search.db")?).await?;
//! let inbox = eventmap::sqlite::Inbox::new(pool).await?;
//! consumer.run_with_inbox(&inbox, &handler, shutdown_signal()).await?;
//! ```

mod inbox;
mod schema;

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};

pub use crate::inbox::{InboxError, InboxOutcome};
pub use inbox::Inbox;

/// The sqlx crate this module is built on (0.8), re-exported so callers use the same version.
pub use sqlx;

/// How long a write waits for the file's write lock (held by another writer) before it fails
/// with "database is locked": 10 s ([`connect_options`]).
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Parses a SQLite URL (`sqlite://relative/path.db`, `sqlite:///absolute/path.db`,
/// `sqlite::memory:`) into sqlx's [`SqliteConnectOptions`] with what eventmap relies on: the
/// file created when missing, the WAL journal, foreign keys on, [`DEFAULT_BUSY_TIMEOUT`], and
/// `synchronous = FULL` (a commit survives a power loss: an inbox record must not vanish once
/// its message was acked).
///
/// # Errors
///
/// sqlx's error for a URL it cannot parse.
pub fn connect_options(url: &str) -> Result<SqliteConnectOptions, sqlx::Error> {
    Ok(SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(DEFAULT_BUSY_TIMEOUT))
}
