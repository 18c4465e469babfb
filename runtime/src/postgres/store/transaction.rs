//! [`StoreTransaction`]: appends (events, outbox rows) and statements of the application in one
//! database transaction.

use std::fmt;
use std::sync::Arc;

use sqlx::postgres::PgConnection;
use sqlx::{Postgres, Transaction};
use tracing::Instrument;

use super::{PostgresStore, to_nanos};
use crate::event::AggregateEvent;
use crate::message::{IntegrationMessage, headers};
use crate::postgres::Error;
use crate::postgres::outbox::collect;
use crate::postgres::schema::NOTIFY_CHANNEL;
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
        let root = aggregate.root();
        let events = root.pending();
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let span = tracing::info_span!(
            "eventmap.append",
            aggregate = A::NAME,
            id = root.id(),
            expected_version = root.stored_version(),
            events = events.len(),
        );
        self.append_events(A::NAME, root.id(), root.stored_version(), events)
            .instrument(span)
            .await?;
        Ok(events.to_vec())
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
        let invalid = |reason: String| Error::InvalidEvent {
            aggregate: aggregate.to_owned(),
            id: id.to_owned(),
            reason,
        };
        let mut event_ids = Vec::with_capacity(events.len());
        let mut versions = Vec::with_capacity(events.len());
        let mut names = Vec::with_capacity(events.len());
        let mut schema_versions = Vec::with_capacity(events.len());
        let mut payloads = Vec::with_capacity(events.len());
        let mut metadata = Vec::with_capacity(events.len());
        let mut occurred = Vec::with_capacity(events.len());
        for (index, event) in events.iter().enumerate() {
            let version = expected + index as u64 + 1;
            if event.aggregate_id() != id
                || event.aggregate_name() != aggregate
                || event.aggregate_version() != version
            {
                return Err(invalid(format!(
                    "pending event {} is {} `{}` version {}, expected {aggregate} `{id}` version {version}",
                    event.id(),
                    event.aggregate_name(),
                    event.aggregate_id(),
                    event.aggregate_version()
                )));
            }
            let stored = inner.registry.encode(event.name(), event.payload())?;
            event_ids.push(event.id());
            versions
                .push(i64::try_from(version).map_err(|_| invalid(format!("version {version}")))?);
            names.push(stored.name);
            schema_versions.push(
                i32::try_from(stored.schema_version)
                    .map_err(|_| invalid(format!("schema version {}", stored.schema_version)))?,
            );
            payloads.push(stored.json.to_string());
            metadata.push(
                serde_json::to_string(event.metadata())
                    .map_err(|e| invalid(format!("metadata: {e}")))?,
            );
            occurred.push(to_nanos(event.occurred_at()).ok_or_else(|| {
                invalid(format!("event {}: occurred_at out of range", event.id()))
            })?);
        }
        let expected_i64 =
            i64::try_from(expected).map_err(|_| invalid(format!("version {expected}")))?;
        let new_version = *versions.last().unwrap_or(&expected_i64);

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
            let actual = actual.and_then(|v| u64::try_from(v).ok()).unwrap_or(0);
            tracing::info!(actual, "append conflict");
            return Err(Error::Conflict {
                aggregate: aggregate.to_owned(),
                id: id.to_owned(),
                expected,
                actual,
            });
        }

        sqlx::query(&format!(
            "INSERT INTO {} (event_id, aggregate_type, aggregate_id, version, event_name, \
             schema_version, payload, metadata, occurred_at_ns) \
             SELECT e, $2, $3, v, n, s, p::jsonb, m::jsonb, o \
             FROM unnest($1::uuid[], $4::bigint[], $5::text[], $6::int[], $7::text[], \
             $8::text[], $9::bigint[]) AS x(e, v, n, s, p, m, o)",
            schema.events
        ))
        .bind(&event_ids)
        .bind(aggregate)
        .bind(id)
        .bind(&versions)
        .bind(&names)
        .bind(&schema_versions)
        .bind(&payloads)
        .bind(&metadata)
        .bind(&occurred)
        .execute(&mut *self.tx)
        .await?;

        if let Some(dispatcher) = &inner.outbox {
            let (dispatched, messages) = collect(dispatcher.dispatch(events)).await;
            dispatched.map_err(Error::Outbox)?;
            if !messages.is_empty() {
                self.insert_outbox(aggregate, id, new_version, &messages)
                    .await?;
            }
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
        let mut ids = Vec::with_capacity(messages.len());
        let mut versions = Vec::with_capacity(messages.len());
        let mut subjects = Vec::with_capacity(messages.len());
        let mut names = Vec::with_capacity(messages.len());
        let mut header_json = Vec::with_capacity(messages.len());
        let mut payloads = Vec::with_capacity(messages.len());
        for message in messages {
            ids.push(message.id);
            versions.push(
                message
                    .header(headers::AGGREGATE_VERSION)
                    .and_then(|v| v.parse::<i64>().ok())
                    .unwrap_or(fallback_version),
            );
            subjects.push(message.subject.as_str());
            names.push(message.name.as_str());
            header_json.push(serde_json::to_string(&message.headers).map_err(|e| {
                Error::InvalidEvent {
                    aggregate: aggregate.to_owned(),
                    id: id.to_owned(),
                    reason: format!("headers of {}: {e}", message.id),
                }
            })?);
            payloads.push(message.payload.to_vec());
        }
        let schema = &self.store.inner.schema;
        sqlx::query(&format!(
            "INSERT INTO {} (message_id, aggregate_type, aggregate_id, aggregate_version, \
             subject, name, headers, payload) \
             SELECT i, $2, $3, v, s, n, h::jsonb, p \
             FROM unnest($1::uuid[], $4::bigint[], $5::text[], $6::text[], $7::text[], \
             $8::bytea[]) WITH ORDINALITY AS x(i, v, s, n, h, p, ord) ORDER BY ord",
            schema.outbox
        ))
        .bind(&ids)
        .bind(aggregate)
        .bind(id)
        .bind(&versions)
        .bind(&subjects)
        .bind(&names)
        .bind(&header_json)
        .bind(&payloads)
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
