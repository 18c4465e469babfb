//! [`Inbox`] on SQLite: consumer-side de-duplication of integration messages by id, in the
//! handler's own transaction.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{Sqlite, SqliteConnection, SqlitePool};
use sqlx::{Pool, Transaction};

use crate::inbox::{InboxError, InboxOutcome, Records};

/// The inbox on SQLite: a table (`eventmap_inbox`) of the message ids each consumer has
/// processed, written in the transaction of the handler's own writes, so that a redelivered
/// message changes nothing the second time. The contract of
/// [`postgres::Inbox`](crate::postgres::Inbox), on one database file.
///
/// [`process`](Self::process) begins an immediate transaction (`BEGIN IMMEDIATE`: it takes
/// the database's write lock at once) and inserts `(consumer, message_id)` with
/// `INSERT ... ON CONFLICT DO NOTHING`:
///
/// * a row was inserted: the handler runs on the transaction's connection; `Ok` commits its
///   writes and the id together ([`InboxOutcome::Processed`]), `Err` rolls both back
///   ([`InboxError::Handler`]) so a redelivery retries;
/// * no row was inserted: the id is already recorded, the transaction is rolled back without
///   running the handler ([`InboxOutcome::Duplicate`]).
///
/// Two instances handling the same message at once: SQLite has one writer at a time, so the
/// second transaction waits for the first one's commit or rollback (up to the pool's busy
/// timeout, [`DEFAULT_BUSY_TIMEOUT`](super::DEFAULT_BUSY_TIMEOUT) with
/// [`connect_options`](super::connect_options));
/// if the first committed, the second is a duplicate; if it rolled back, the second processes
/// the message. The handler's writes hold the write lock until the commit: keep handlers short.
///
/// The key is the CloudEvents `ce-id` (`nats::Delivery::id` with the `nats` feature);
/// `consumer` names the logical consumer (the durable name): consumers sharing a database
/// keep separate records.
///
/// ```ignore
/// let inbox = Inbox::new(pool).await?;                 // runs the migrations
/// let outcome = inbox
///     .process("billing", delivery.id(), async |conn: &mut SqliteConnection| {
///         sqlx::query("UPDATE invoices SET ...").execute(&mut *conn).await?;
///         Ok::<_, sqlx::Error>(())
///     })
///     .await;
/// ```
///
/// Cloning is cheap (the pool is shared).
#[derive(Clone)]
pub struct Inbox {
    pool: SqlitePool,
    /// The database file, for spans and errors.
    file: Arc<str>,
}

impl fmt::Debug for Inbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inbox")
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

impl Inbox {
    /// An inbox in the database of `pool`, running the embedded migrations (idempotent).
    ///
    /// # Errors
    ///
    /// The database's, when a migration cannot be applied.
    pub async fn new(pool: SqlitePool) -> Result<Self, sqlx::Error> {
        super::schema::migrate(&pool).await?;
        Ok(Self::without_migrations(pool))
    }

    /// An inbox in the database of `pool` whose migrations were run elsewhere.
    pub fn without_migrations(pool: SqlitePool) -> Self {
        let file = pool
            .connect_options()
            .get_filename()
            .display()
            .to_string()
            .into();
        Self { pool, file }
    }

    /// The connection pool.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The database file.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// Runs `handler` once per `(consumer, message_id)`: in one transaction, records the id
    /// and runs the handler on the transaction's connection, then commits. See [`Inbox`].
    ///
    /// # Errors
    ///
    /// [`InboxError::Handler`] when the handler fails, [`InboxError::Database`] when the
    /// database does (a write lock not obtained within the busy timeout included); nothing is
    /// committed either way.
    pub async fn process<R, E, F>(
        &self,
        consumer: &str,
        message_id: &str,
        handler: F,
    ) -> Result<InboxOutcome<R>, InboxError<E>>
    where
        F: AsyncFnOnce(&mut SqliteConnection) -> Result<R, E>,
    {
        crate::inbox::process(self, consumer, message_id, handler).await
    }

    /// Whether `consumer` has processed `message_id` (committed).
    ///
    /// # Errors
    ///
    /// The database's.
    pub async fn is_processed(
        &self,
        consumer: &str,
        message_id: &str,
    ) -> Result<bool, sqlx::Error> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM eventmap_inbox WHERE consumer = $1 AND message_id = $2",
        )
        .bind(consumer)
        .bind(message_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }

    /// Deletes the records (of every consumer) processed more than `older_than` ago and
    /// returns how many. A message redelivered after its record was purged is processed
    /// again: keep records longer than any redelivery or re-send can arrive.
    ///
    /// # Errors
    ///
    /// The database's.
    pub async fn purge(&self, older_than: Duration) -> Result<u64, sqlx::Error> {
        let deleted = sqlx::query(
            "DELETE FROM eventmap_inbox \
             WHERE processed_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', $1)",
        )
        .bind(format!("-{:.3} seconds", older_than.as_secs_f64()))
        .execute(&self.pool)
        .await?;
        Ok(deleted.rows_affected())
    }
}

/// `ids` as a JSON array, for `json_each` (SQLite has no array parameters).
fn json_array(ids: &[&str]) -> Result<String, sqlx::Error> {
    serde_json::to_string(ids).map_err(|err| sqlx::Error::Encode(err.into()))
}

impl Records for Inbox {
    type Database = Sqlite;

    fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    fn location(&self) -> &str {
        &self.file
    }

    async fn begin(&self) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        Pool::begin_with(&self.pool, "BEGIN IMMEDIATE").await
    }

    async fn record(
        &self,
        conn: &mut SqliteConnection,
        consumer: &str,
        id: &str,
    ) -> Result<bool, sqlx::Error> {
        let inserted = sqlx::query(
            "INSERT INTO eventmap_inbox (consumer, message_id) VALUES ($1, $2) \
             ON CONFLICT DO NOTHING",
        )
        .bind(consumer)
        .bind(id)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        Ok(inserted > 0)
    }

    /// One `INSERT ... SELECT ... FROM json_each($2) ... ON CONFLICT DO NOTHING RETURNING`.
    async fn record_batch(
        &self,
        conn: &mut SqliteConnection,
        consumer: &str,
        ids: &[&str],
    ) -> Result<HashSet<String>, sqlx::Error> {
        // `WHERE true`: SQLite's documented way to keep `ON CONFLICT` from being read as a
        // join constraint after `INSERT ... SELECT`.
        let inserted: Vec<String> = sqlx::query_scalar(
            "INSERT INTO eventmap_inbox (consumer, message_id) \
             SELECT $1, value FROM json_each($2) WHERE true \
             ON CONFLICT DO NOTHING RETURNING message_id",
        )
        .bind(consumer)
        .bind(json_array(ids)?)
        .fetch_all(&mut *conn)
        .await?;
        Ok(inserted.into_iter().collect())
    }

    async fn processed_among(
        &self,
        consumer: &str,
        ids: &[&str],
    ) -> Result<HashSet<String>, sqlx::Error> {
        let found: Vec<String> = sqlx::query_scalar(
            "SELECT message_id FROM eventmap_inbox \
             WHERE consumer = $1 AND message_id IN (SELECT value FROM json_each($2))",
        )
        .bind(consumer)
        .bind(json_array(ids)?)
        .fetch_all(&self.pool)
        .await?;
        Ok(found.into_iter().collect())
    }
}
