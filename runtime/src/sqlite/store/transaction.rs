//! [`StoreTransaction`]: appends (events, outbox rows) and statements of the application in
//! one SQLite write transaction.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use sqlx::sqlite::SqliteConnection;
use sqlx::{Sqlite, Transaction};

use super::SqliteStore;
use crate::event::AggregateEvent;
use crate::sql::rows::{EventRow, OutboxInsert};
use crate::sql::store::{AppendStatements, AppendTransaction, append};
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

    #[doc = crate::sql::store::append_doc!()]
    pub async fn append<A: Aggregate>(
        &mut self,
        aggregate: &A,
    ) -> Result<Vec<AggregateEvent>, Error> {
        let inner = Arc::clone(&self.store.inner);
        append(self, &inner.registry, inner.outbox.as_deref(), aggregate).await
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

/// One prepared statement per kind (sqlx caches it per connection), run per row: SQLite is in
/// the process, a statement costs microseconds. This transaction holds the write lock
/// (`BEGIN IMMEDIATE`), so an append of the same aggregate that committed first is visible.
impl AppendStatements for StoreTransaction {
    async fn create_aggregate(
        &mut self,
        aggregate: &str,
        id: &str,
        version: i64,
    ) -> Result<bool, Error> {
        let inserted = sqlx::query(
            "INSERT INTO eventmap_aggregates (aggregate_type, aggregate_id, version) \
             VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(aggregate)
        .bind(id)
        .bind(version)
        .execute(&mut *self.tx)
        .await?;
        Ok(inserted.rows_affected() == 1)
    }

    async fn move_version(
        &mut self,
        aggregate: &str,
        id: &str,
        from: i64,
        to: i64,
    ) -> Result<bool, Error> {
        let moved = sqlx::query(
            "UPDATE eventmap_aggregates SET version = ? \
             WHERE aggregate_type = ? AND aggregate_id = ? AND version = ?",
        )
        .bind(to)
        .bind(aggregate)
        .bind(id)
        .bind(from)
        .execute(&mut *self.tx)
        .await?;
        Ok(moved.rows_affected() == 1)
    }

    async fn stored_version(&mut self, aggregate: &str, id: &str) -> Result<Option<i64>, Error> {
        Ok(sqlx::query_scalar(
            "SELECT version FROM eventmap_aggregates WHERE aggregate_type = ? AND aggregate_id = ?",
        )
        .bind(aggregate)
        .bind(id)
        .fetch_optional(&mut *self.tx)
        .await?)
    }

    async fn insert_events(
        &mut self,
        aggregate: &str,
        id: &str,
        rows: &[EventRow],
    ) -> Result<(), Error> {
        for row in rows {
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
        Ok(())
    }

    async fn insert_outbox(
        &mut self,
        aggregate: &str,
        id: &str,
        rows: &[OutboxInsert<'_>],
    ) -> Result<(), Error> {
        for row in rows {
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
        Ok(())
    }
}
