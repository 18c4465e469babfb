//! [`StoreTransaction`]: appends (events, outbox rows) and statements of the application in
//! one SQLite write transaction.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use sqlx::sqlite::SqliteConnection;
use sqlx::{Sqlite, Transaction};
use tracing::Instrument;

use super::SqliteStore;
use crate::event::AggregateEvent;
use crate::sql::rows::{event_rows, outbox_messages, outbox_rows};
use crate::sql::store::{AppendTransaction, append_span, conflict};
use crate::sqlite::Error;
use crate::store::Aggregate;

/// A write transaction of a [`SqliteStore`] (`BEGIN IMMEDIATE`: it holds the file's write
/// lock until it ends, so keep it short): appends and statements of your own commit or roll
/// back together. Dropping it without [`commit`](Self::commit) rolls it back.
///
/// ```ignore
/// let mut tx = store.begin().await?;
/// tx.append(&order).await?;                                   // events (+ outbox rows)
/// sqlx::query("UPDATE stock SET ...").execute(tx.connection()).await?;
/// tx.commit().await?;
/// order.root_mut().take_pending();                          // only once committed
/// ```
pub struct StoreTransaction {
    pub(super) store: SqliteStore,
    pub(super) tx: Transaction<'static, Sqlite>,
    pub(super) wrote_outbox: bool,
}

impl fmt::Debug for StoreTransaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreTransaction")
            .field("wrote_outbox", &self.wrote_outbox)
            .finish_non_exhaustive()
    }
}

impl StoreTransaction {
    /// The connection of the transaction, for statements of your own.
    pub fn connection(&mut self) -> &mut SqliteConnection {
        &mut self.tx
    }

    /// Appends the pending events of `aggregate`, checking that the stored version is still
    /// [`AggregateRoot::stored_version`](crate::AggregateRoot::stored_version), and (with an
    /// outbox) converts them and writes their integration messages to the outbox. Returns the
    /// appended events; `aggregate` is not changed: once [`commit`](Self::commit) succeeded,
    /// mark them stored with [`AggregateRoot::take_pending`](crate::AggregateRoot::take_pending).
    /// An aggregate without pending events is not touched.
    ///
    /// # Errors
    ///
    /// [`Error::Conflict`] when the stored version moved (nothing was written; the
    /// transaction can go on), [`Error::InvalidEvent`], [`Error::Registry`],
    /// [`Error::Outbox`] (a handler failed: roll back) or [`Error::Database`].
    pub async fn append<A: Aggregate>(
        &mut self,
        aggregate: &A,
    ) -> Result<Vec<AggregateEvent>, Error> {
        let Some(span) = append_span(aggregate) else {
            return Ok(Vec::new());
        };
        let root = aggregate.root();
        self.append_events(A::NAME, root.id(), root.stored_version(), root.pending())
            .instrument(span)
            .await?;
        Ok(root.pending().to_vec())
    }

    async fn append_events(
        &mut self,
        aggregate: &str,
        id: &str,
        expected: u64,
        events: &[AggregateEvent],
    ) -> Result<(), Error> {
        let inner = Arc::clone(&self.store.inner);
        let (rows, new_version) = event_rows(&inner.registry, aggregate, id, expected, events)?;
        let expected_version = new_version - rows.len() as i64;

        // Optimistic concurrency: move the aggregate's row from the expected version to the
        // new one. This transaction holds the write lock (BEGIN IMMEDIATE), so an append of
        // the same aggregate that committed first is visible here: 0 rows, conflict.
        let moved = if expected == 0 {
            sqlx::query(
                "INSERT INTO eventmap_aggregates (aggregate_type, aggregate_id, version) \
                 VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            )
            .bind(aggregate)
            .bind(id)
            .bind(new_version)
            .execute(&mut *self.tx)
            .await?
        } else {
            sqlx::query(
                "UPDATE eventmap_aggregates SET version = ? \
                 WHERE aggregate_type = ? AND aggregate_id = ? AND version = ?",
            )
            .bind(new_version)
            .bind(aggregate)
            .bind(id)
            .bind(expected_version)
            .execute(&mut *self.tx)
            .await?
        };
        if moved.rows_affected() != 1 {
            let actual: Option<i64> = sqlx::query_scalar(
                "SELECT version FROM eventmap_aggregates WHERE aggregate_type = ? AND aggregate_id = ?",
            )
            .bind(aggregate)
            .bind(id)
            .fetch_optional(&mut *self.tx)
            .await?;
            return Err(conflict(aggregate, id, expected, actual));
        }

        // One prepared statement (sqlx caches it per connection), run per event: SQLite is
        // in the process, a statement costs microseconds.
        for row in &rows {
            sqlx::query(
                "INSERT INTO eventmap_events (event_id, aggregate_type, aggregate_id, version, \
                 event_name, schema_version, payload, metadata, occurred_at_ns) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(row.event_id.hyphenated().to_string())
            .bind(aggregate)
            .bind(id)
            .bind(row.version)
            .bind(&row.name)
            .bind(row.schema_version)
            .bind(&row.payload)
            .bind(&row.metadata)
            .bind(row.occurred_at_ns)
            .execute(&mut *self.tx)
            .await?;
        }

        let messages = outbox_messages(inner.outbox.as_deref(), events).await?;
        for row in outbox_rows(aggregate, id, new_version, &messages)? {
            sqlx::query(
                "INSERT INTO eventmap_outbox (message_id, aggregate_type, aggregate_id, \
                 aggregate_version, subject, name, headers, payload) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(row.message_id.hyphenated().to_string())
            .bind(aggregate)
            .bind(id)
            .bind(row.aggregate_version)
            .bind(row.subject)
            .bind(row.name)
            .bind(&row.headers)
            .bind(row.payload)
            .execute(&mut *self.tx)
            .await?;
            self.wrote_outbox = true;
        }
        tracing::debug!(
            version = new_version,
            messages = messages.len(),
            "events appended"
        );
        Ok(())
    }

    /// Commits. With outbox rows written, the relays of this process on the same file are
    /// woken (others find the rows at their next poll).
    ///
    /// # Errors
    ///
    /// [`Error::Database`]; the transaction is then rolled back.
    pub async fn commit(self) -> Result<(), Error> {
        self.tx.commit().await?;
        if self.wrote_outbox {
            self.store.inner.wake.notify_one();
        }
        Ok(())
    }

    /// Rolls back: nothing of the transaction is stored or published.
    ///
    /// # Errors
    ///
    /// [`Error::Database`].
    pub async fn rollback(self) -> Result<(), Error> {
        self.tx.rollback().await?;
        Ok(())
    }
}

impl AppendTransaction for StoreTransaction {
    fn append<A: Aggregate>(
        &mut self,
        aggregate: &A,
    ) -> impl Future<Output = Result<Vec<AggregateEvent>, Error>> + Send {
        StoreTransaction::append(self, aggregate)
    }

    fn commit(self) -> impl Future<Output = Result<(), Error>> + Send {
        StoreTransaction::commit(self)
    }
}
