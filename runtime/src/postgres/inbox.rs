//! [`Inbox`]: consumer-side de-duplication of integration messages by id, in the handler's
//! own transaction.

use std::fmt;
use std::time::Duration;

use sqlx::postgres::{PgConnection, PgPool};

use super::Error;
use super::schema::Schema;
use crate::inbox::{InboxError, InboxOutcome};

mod batch;

/// The inbox: a table (`eventmap_inbox`) of the message ids each consumer has processed,
/// written in the transaction of the handler's own writes, so that a redelivered message
/// changes nothing the second time.
///
/// [`process`](Self::process) begins a transaction and inserts `(consumer, message_id)` with
/// `INSERT ... ON CONFLICT DO NOTHING`:
///
/// * a row was inserted: the handler runs on the transaction's connection; `Ok` commits its
///   writes and the id together ([`InboxOutcome::Processed`]), `Err` rolls both back
///   ([`InboxError::Handler`]) so a redelivery retries;
/// * no row was inserted: the id is already recorded, the transaction is rolled back without
///   running the handler ([`InboxOutcome::Duplicate`]). A duplicate does not abort the
///   transaction with an error (unlike a plain `INSERT` hitting the primary key).
///
/// Two instances handling the same message at once: the second insert waits for the first
/// transaction's uncommitted row; if the first commits, the second is a duplicate; if it rolls
/// back, the second processes the message. This relies on PostgreSQL's default `READ
/// COMMITTED` isolation (under `REPEATABLE READ` or `SERIALIZABLE` the waiting insert fails
/// with a serialization error instead, reported as [`InboxError::Database`]).
///
/// The key is the CloudEvents `ce-id` (`nats::Delivery::id` with the `nats` feature),
/// deterministic per domain event and integration event name, so re-sends by the outbox relay
/// carry the same id too. `consumer` names the logical consumer (the durable consumer name,
/// for instance): consumers sharing a database keep separate records.
///
/// The handler is an async closure, `AsyncFnOnce(&mut PgConnection) -> Result<R, E>` (stable
/// since Rust 1.85): it borrows the transaction's connection for its statements.
///
/// ```ignore
/// let inbox = Inbox::new(pool, "billing").await?;       // runs the migrations
/// while let Some(delivery) = subscription.next().await {
///     let delivery = delivery?;
///     let outcome = inbox
///         .process("billing", delivery.id(), async |conn: &mut PgConnection| {
///             sqlx::query("UPDATE invoices SET ...").execute(&mut *conn).await?;
///             Ok::<_, sqlx::Error>(())
///         })
///         .await;
///     match outcome {
///         Ok(_) => delivery.ack().await?,               // processed now, or before
///         Err(err) => delivery.nak(None).await?,        // nothing written: retry later
///     }
/// }
/// ```
///
/// Cloning is cheap (the pool is shared).
#[derive(Clone)]
pub struct Inbox {
    pool: PgPool,
    schema: Schema,
}

impl fmt::Debug for Inbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inbox")
            .field("schema", &self.schema.name())
            .finish_non_exhaustive()
    }
}

impl Inbox {
    /// An inbox in `schema` (lower-case letters, digits and `_`;
    /// [`DEFAULT_SCHEMA`](super::DEFAULT_SCHEMA) is the store's default), running the embedded migrations (idempotent; the same ones as
    /// [`PostgresStore`](super::PostgresStore) and [`Relay`](super::Relay)).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSchema`], [`Error::Migration`] or [`Error::Database`].
    pub async fn new(pool: PgPool, schema: &str) -> Result<Self, Error> {
        let inbox = Self::without_migrations(pool, schema)?;
        inbox.schema.migrate(&inbox.pool).await?;
        Ok(inbox)
    }

    /// An inbox in `schema` whose migrations were run elsewhere (by a store, a relay, or a
    /// deployment step).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSchema`].
    pub fn without_migrations(pool: PgPool, schema: &str) -> Result<Self, Error> {
        Ok(Self {
            pool,
            schema: Schema::new(schema)?,
        })
    }

    /// The connection pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The schema name.
    pub fn schema(&self) -> &str {
        self.schema.name()
    }

    /// Runs `handler` once per `(consumer, message_id)`: in one transaction, records the id
    /// and runs the handler on the transaction's connection, then commits. See [`Inbox`].
    ///
    /// # Errors
    ///
    /// [`InboxError::Handler`] when the handler fails, [`InboxError::Database`] when the
    /// database does; nothing is committed either way.
    pub async fn process<R, E, F>(
        &self,
        consumer: &str,
        message_id: &str,
        handler: F,
    ) -> Result<InboxOutcome<R>, InboxError<E>>
    where
        F: AsyncFnOnce(&mut PgConnection) -> Result<R, E>,
    {
        crate::inbox::process(self, consumer, message_id, handler).await
    }

    /// Whether `consumer` has processed `message_id` (committed).
    ///
    /// # Errors
    ///
    /// [`Error::Database`].
    pub async fn is_processed(&self, consumer: &str, message_id: &str) -> Result<bool, Error> {
        let found: Option<i32> = sqlx::query_scalar(&format!(
            "SELECT 1 FROM {} WHERE consumer = $1 AND message_id = $2",
            self.schema.inbox
        ))
        .bind(consumer)
        .bind(message_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }

    /// Deletes the records (of every consumer) processed more than `older_than` ago and
    /// returns how many. A message redelivered after its record was purged is processed
    /// again: keep records longer than any redelivery or re-send can arrive (the stream's
    /// retention, for a consumer that may be reset to replay it).
    ///
    /// # Errors
    ///
    /// [`Error::Database`].
    pub async fn purge(&self, older_than: Duration) -> Result<u64, Error> {
        let deleted = sqlx::query(&format!(
            "DELETE FROM {} WHERE processed_at < now() - make_interval(secs => $1)",
            self.schema.inbox
        ))
        .bind(older_than.as_secs_f64())
        .execute(&self.pool)
        .await?;
        Ok(deleted.rows_affected())
    }
}
