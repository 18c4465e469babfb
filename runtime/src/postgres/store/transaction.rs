//! [`StoreTransaction`]: appends (events, outbox rows) and statements of the application in one
//! database transaction.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use sqlx::postgres::PgConnection;
use sqlx::{Postgres, Transaction};
use tracing::Instrument;

use super::PostgresStore;
use crate::event::AggregateEvent;
use crate::message::IntegrationMessage;
use crate::postgres::Error;
use crate::postgres::schema::NOTIFY_CHANNEL;
use crate::sql::rows::{event_rows, outbox_messages, outbox_rows};
use crate::sql::store::{AppendTransaction, append_span, conflict};
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
        let schema = &inner.schema;
        let (rows, new_version) = event_rows(&inner.registry, aggregate, id, expected, events)?;
        let expected_i64 = new_version - rows.len() as i64;

        // Optimistic concurrency: move the aggregate's row from the expected version to the
        // new one. A concurrent append of the same aggregate waits on the row lock and then
        // finds the version moved (or the row inserted): 0 rows, conflict.
        let moved = if expected == 0 {
            sqlx::query(&format!(
                "INSERT INTO {} (aggregate_type, aggregate_id, version) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
                schema.aggregates
            ))
            .bind(aggregate)
            .bind(id)
            .bind(new_version)
            .execute(&mut *self.tx)
            .await?
        } else {
            sqlx::query(&format!(
                "UPDATE {} SET version = $3 WHERE aggregate_type = $1 AND aggregate_id = $2 \
                 AND version = $4",
                schema.aggregates
            ))
            .bind(aggregate)
            .bind(id)
            .bind(new_version)
            .bind(expected_i64)
            .execute(&mut *self.tx)
            .await?
        };
        if moved.rows_affected() != 1 {
            let actual: Option<i64> = sqlx::query_scalar(&format!(
                "SELECT version FROM {} WHERE aggregate_type = $1 AND aggregate_id = $2",
                schema.aggregates
            ))
            .bind(aggregate)
            .bind(id)
            .fetch_optional(&mut *self.tx)
            .await?;
            return Err(conflict(aggregate, id, expected, actual));
        }

        sqlx::query(&format!(
            "INSERT INTO {} (event_id, aggregate_type, aggregate_id, version, event_name, \
             schema_version, payload, metadata, occurred_at_ns) \
             SELECT e, $2, $3, v, n, s, p::jsonb, m::jsonb, o \
             FROM unnest($1::uuid[], $4::bigint[], $5::text[], $6::int[], $7::text[], \
             $8::text[], $9::bigint[]) AS x(e, v, n, s, p, m, o)",
            schema.events
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

        let messages = outbox_messages(inner.outbox.as_deref(), events).await?;
        if !messages.is_empty() {
            self.insert_outbox(aggregate, id, new_version, &messages)
                .await?;
        }
        tracing::debug!(version = new_version, "events appended");
        Ok(())
    }

    async fn insert_outbox(
        &mut self,
        aggregate: &str,
        id: &str,
        fallback_version: i64,
        messages: &[IntegrationMessage],
    ) -> Result<(), Error> {
        let rows = outbox_rows(aggregate, id, fallback_version, messages)?;
        let schema = &self.store.inner.schema;
        sqlx::query(&format!(
            "INSERT INTO {} (message_id, aggregate_type, aggregate_id, aggregate_version, \
             subject, name, headers, payload) \
             SELECT i, $2, $3, v, s, n, h, p \
             FROM unnest($1::uuid[], $4::bigint[], $5::text[], $6::text[], $7::text[], \
             $8::bytea[]) WITH ORDINALITY AS x(i, v, s, n, h, p, ord) ORDER BY ord",
            schema.outbox
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
        tracing::debug!(messages = messages.len(), "outbox rows written");
        Ok(())
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
