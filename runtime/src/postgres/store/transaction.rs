//! [`StoreTransaction`]: appends (events, outbox rows) and statements of the application in one
//! database transaction.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use sqlx::postgres::PgConnection;
use sqlx::{Postgres, Transaction};

use super::PostgresStore;
use crate::event::AggregateEvent;
use crate::postgres::Error;
use crate::postgres::schema::NOTIFY_CHANNEL;
use crate::sql::rows::{EventRow, OutboxInsert};
use crate::sql::store::{AppendStatements, AppendTransaction, append};
use crate::store::Aggregate;

/// A database transaction of a [`PostgresStore`]: appends and statements of your own commit
/// or roll back together. Dropping it without [`commit`](Self::commit) rolls it back.
///
/// ```ignore
/// let mut tx = store.begin().await?;
/// tx.append(&order).await?;                                   // events (+ outbox rows)
/// sqlx::query("UPDATE stock SET ...").execute(tx.connection()).await?;
/// tx.commit().await?;
/// order.root_mut().take_pending();                          // only once committed
/// ```
pub struct StoreTransaction {
    pub(super) store: PostgresStore,
    pub(super) tx: Transaction<'static, Postgres>,
    pub(super) notify: bool,
}

impl fmt::Debug for StoreTransaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreTransaction")
            .field("schema", &self.store.schema())
            .field("wrote_outbox", &self.notify)
            .finish_non_exhaustive()
    }
}

impl StoreTransaction {
    /// The connection of the transaction, for statements of your own.
    pub fn connection(&mut self) -> &mut PgConnection {
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

    /// Commits. With outbox rows written, relays listening on the schema are notified (at
    /// commit, by PostgreSQL).
    ///
    /// # Errors
    ///
    /// [`Error::Database`]; the transaction is then rolled back (or its outcome unknown, if
    /// the connection broke during the commit).
    pub async fn commit(mut self) -> Result<(), Error> {
        if self.notify {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(NOTIFY_CHANNEL)
                .bind(self.store.schema())
                .execute(&mut *self.tx)
                .await?;
        }
        self.tx.commit().await?;
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

/// One statement per step, the events and outbox rows of an append inserted at once
/// (`unnest` of arrays). A concurrent append of the same aggregate waits on the row lock and
/// then finds the version moved (or the row inserted).
impl AppendStatements for StoreTransaction {
    async fn create_aggregate(
        &mut self,
        aggregate: &str,
        id: &str,
        version: i64,
    ) -> Result<bool, Error> {
        let inserted = sqlx::query(&format!(
            "INSERT INTO {} (aggregate_type, aggregate_id, version) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
            self.store.inner.schema.aggregates
        ))
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
        let moved = sqlx::query(&format!(
            "UPDATE {} SET version = $3 WHERE aggregate_type = $1 AND aggregate_id = $2 \
             AND version = $4",
            self.store.inner.schema.aggregates
        ))
        .bind(aggregate)
        .bind(id)
        .bind(to)
        .bind(from)
        .execute(&mut *self.tx)
        .await?;
        Ok(moved.rows_affected() == 1)
    }

    async fn stored_version(&mut self, aggregate: &str, id: &str) -> Result<Option<i64>, Error> {
        Ok(sqlx::query_scalar(&format!(
            "SELECT version FROM {} WHERE aggregate_type = $1 AND aggregate_id = $2",
            self.store.inner.schema.aggregates
        ))
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
        sqlx::query(&format!(
            "INSERT INTO {} (event_id, aggregate_type, aggregate_id, version, event_name, \
             schema_version, payload, metadata, occurred_at_ns) \
             SELECT e, $2, $3, v, n, s, p::jsonb, m::jsonb, o \
             FROM unnest($1::uuid[], $4::bigint[], $5::text[], $6::int[], $7::text[], \
             $8::text[], $9::bigint[]) AS x(e, v, n, s, p, m, o)",
            self.store.inner.schema.events
        ))
        .bind(rows.iter().map(|r| r.event_id).collect::<Vec<_>>())
        .bind(aggregate)
        .bind(id)
        .bind(rows.iter().map(|r| r.version).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.schema_version).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.payload.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.metadata.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.occurred_at_ns).collect::<Vec<_>>())
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn insert_outbox(
        &mut self,
        aggregate: &str,
        id: &str,
        rows: &[OutboxInsert<'_>],
    ) -> Result<(), Error> {
        sqlx::query(&format!(
            "INSERT INTO {} (message_id, aggregate_type, aggregate_id, aggregate_version, \
             subject, name, headers, payload) \
             SELECT i, $2, $3, v, s, n, h, p \
             FROM unnest($1::uuid[], $4::bigint[], $5::text[], $6::text[], $7::text[], \
             $8::bytea[]) WITH ORDINALITY AS x(i, v, s, n, h, p, ord) ORDER BY ord",
            self.store.inner.schema.outbox
        ))
        .bind(rows.iter().map(|r| r.message_id).collect::<Vec<_>>())
        .bind(aggregate)
        .bind(id)
        .bind(rows.iter().map(|r| r.aggregate_version).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.subject).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.name).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.headers.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.payload).collect::<Vec<_>>())
        .execute(&mut *self.tx)
        .await?;
        self.notify = true;
        Ok(())
    }
}
