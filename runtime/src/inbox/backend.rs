//! [`InboxBackend`]: what the generic inbox code needs of one database's inbox table.

use std::collections::HashSet;
use std::future::Future;

use sqlx::{Database, Pool, Transaction};

/// The connection type of an inbox's database (`PgConnection`, `SqliteConnection`).
pub(crate) type Connection<I> = <<I as Records>::Database as Database>::Connection;

/// The statements of one backend's inbox table. Public in a private module: nameable by
/// this crate only, so [`InboxBackend`] is sealed.
pub trait Records: Clone + Send + Sync + 'static {
    /// The sqlx database (`sqlx::Postgres`, `sqlx::Sqlite`); a transactional handler gets
    /// its connection type.
    type Database: Database;

    /// The connection pool.
    fn pool(&self) -> &Pool<Self::Database>;

    /// Where the table is, for spans and error messages: the Postgres schema, or the SQLite
    /// database file.
    fn location(&self) -> &str;

    /// Begins a transaction in which recording an id and the handler's writes are made
    /// (on SQLite an immediate one: it takes the write lock first, so two writers queue
    /// instead of failing on a lock upgrade).
    fn begin(
        &self,
    ) -> impl Future<Output = Result<Transaction<'static, Self::Database>, sqlx::Error>> + Send;

    /// Records `(consumer, id)` on `conn` (inside the caller's transaction); `false` when it
    /// was recorded before (a duplicate: its handler must not run). A row another
    /// transaction holds uncommitted is waited for.
    fn record(
        &self,
        conn: &mut <Self::Database as Database>::Connection,
        consumer: &str,
        id: &str,
    ) -> impl Future<Output = Result<bool, sqlx::Error>> + Send;

    /// Records `(consumer, id)` for every id of `ids` on `conn` in one statement and returns
    /// the ids that were not recorded before. An id given twice is inserted once.
    fn record_batch(
        &self,
        conn: &mut <Self::Database as Database>::Connection,
        consumer: &str,
        ids: &[&str],
    ) -> impl Future<Output = Result<HashSet<String>, sqlx::Error>> + Send;

    /// Which of `ids` `consumer` has processed (committed), in one query.
    fn processed_among(
        &self,
        consumer: &str,
        ids: &[&str],
    ) -> impl Future<Output = Result<HashSet<String>, sqlx::Error>> + Send;
}

/// An inbox on one database: [`postgres::Inbox`](crate::postgres::Inbox) (feature
/// `postgres`) or [`sqlite::Inbox`](crate::sqlite::Inbox) (feature `sqlite`). What
/// `Consumer::run_with_inbox` (feature `nats`) takes; `I::Database` is the sqlx database
/// whose connection a [`TransactionalHandler`](crate::nats::TransactionalHandler) writes on.
/// Sealed: implemented by this crate's inboxes only.
pub trait InboxBackend: Records {}

impl<T: Records> InboxBackend for T {}
