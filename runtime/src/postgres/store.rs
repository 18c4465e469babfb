//! [`PostgresStore`]: an event-sourced [`AggregateStore`] with optimistic concurrency and a
//! transactional outbox.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::postgres::{PgConnection, PgPool, PgRow};
use sqlx::{Postgres, Row, Transaction};
use tracing::Instrument;
use uuid::Uuid;

use super::Error;
use super::outbox::collect;
use super::registry::{EventRegistry, StoredPayload};
use super::schema::{DEFAULT_SCHEMA, NOTIFY_CHANNEL, Schema};
use crate::dispatcher::EventDispatcher;
use crate::event::{AggregateEvent, Event, Metadata};
use crate::message::{IntegrationMessage, headers};
use crate::store::{Aggregate, AggregateStore, EventSourced, StoreError, replay};

/// A stored event with its position in the store (append order over all aggregates).
#[derive(Debug, Clone)]
pub struct RecordedEvent {
    /// Position in the `eventmap_events` table (1-based, increasing in append order; a
    /// transaction that commits late may leave a smaller position behind a larger one).
    pub position: u64,
    /// The event, decoded (and upcast) through the store's [`EventRegistry`].
    pub event: AggregateEvent,
}

/// Builds a [`PostgresStore`]; see [`PostgresStore::builder`].
pub struct PostgresStoreBuilder {
    pool: PgPool,
    schema: String,
    registry: EventRegistry,
    outbox: Option<EventDispatcher>,
    migrate: bool,
}

impl fmt::Debug for PostgresStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStoreBuilder")
            .field("schema", &self.schema)
            .field("registry", &self.registry)
            .field("outbox", &self.outbox)
            .field("migrate", &self.migrate)
            .finish_non_exhaustive()
    }
}

impl PostgresStoreBuilder {
    /// The schema holding the store's tables (default [`DEFAULT_SCHEMA`], `"eventmap"`):
    /// lower-case letters, digits and `_`. Created if missing.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    /// The domain event types the store can persist (required for every event saved).
    pub fn registry(mut self, registry: EventRegistry) -> Self {
        self.registry = registry;
        self
    }

    /// Turns the transactional outbox on: `dispatcher` runs inside every append transaction,
    /// and the messages its handlers publish through [`OutboxWriter`](super::OutboxWriter)
    /// are inserted into the outbox table in that transaction. Give it only the integration
    /// handlers (generated `register_integration_event_handlers` with
    /// [`OutboxWriter::shared`](super::OutboxWriter::shared)): a handler that fails
    /// rolls the append back, and side effects of other handlers would not be transactional.
    pub fn outbox(mut self, dispatcher: EventDispatcher) -> Self {
        self.outbox = Some(dispatcher);
        self
    }

    /// Skips running the embedded migrations in [`build`](Self::build) (for deployments
    /// that run [`PostgresStore::migrate`] as a separate step).
    pub fn skip_migrations(mut self) -> Self {
        self.migrate = false;
        self
    }

    /// Checks the schema name, runs the migrations (unless skipped) and returns the store.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSchema`], [`Error::Migration`] or [`Error::Database`].
    pub async fn build(self) -> Result<PostgresStore, Error> {
        let schema = Schema::new(&self.schema)?;
        if self.migrate {
            schema.migrate(&self.pool).await?;
        }
        Ok(PostgresStore {
            inner: Arc::new(Inner {
                pool: self.pool,
                schema,
                registry: self.registry,
                outbox: self.outbox,
            }),
        })
    }
}

struct Inner {
    pool: PgPool,
    schema: Schema,
    registry: EventRegistry,
    outbox: Option<EventDispatcher>,
}

/// An event-sourced store on PostgreSQL.
///
/// * **Append** ([`AggregateStore::save`], or [`StoreTransaction::append`] inside a
///   transaction of your own): the pending events of an aggregate are inserted in one
///   transaction that first moves the aggregate's row in `eventmap_aggregates` from the
///   expected version ([`AggregateRoot::stored_version`](crate::AggregateRoot::stored_version))
///   to the new one. If another transaction got there first, the append fails with
///   [`Error::Conflict`] ([`StoreError::Conflict`] through the trait) and nothing of it is
///   stored, converted or published.
/// * **Payloads** are stored as JSON with their name and schema version, through the
///   [`EventRegistry`]; every read decodes through it, so upcasters apply to every path.
/// * **Load** ([`AggregateStore::load`]) replays the aggregate's events
///   ([`EventSourced`], [`replay`]).
/// * **Outbox** ([`PostgresStoreBuilder::outbox`]): the integration messages of the appended
///   events are written in the same transaction; a [`Relay`](super::Relay) publishes them.
///
/// Cloning is cheap (an `Arc`).
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("schema", &self.inner.schema.name())
            .field("registry", &self.inner.registry)
            .field("outbox", &self.inner.outbox)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// A builder on `pool`: schema [`DEFAULT_SCHEMA`], an empty registry, no outbox,
    /// migrations run by [`build`](PostgresStoreBuilder::build).
    pub fn builder(pool: PgPool) -> PostgresStoreBuilder {
        PostgresStoreBuilder {
            pool,
            schema: DEFAULT_SCHEMA.to_owned(),
            registry: EventRegistry::new(),
            outbox: None,
            migrate: true,
        }
    }

    /// Runs the embedded migrations (idempotent; [`PostgresStoreBuilder::build`] does it
    /// unless told not to).
    ///
    /// # Errors
    ///
    /// [`Error::Migration`] or [`Error::Database`].
    pub async fn migrate(&self) -> Result<(), Error> {
        self.inner.schema.migrate(&self.inner.pool).await
    }

    /// The connection pool.
    pub fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    /// The schema name.
    pub fn schema(&self) -> &str {
        self.inner.schema.name()
    }

    /// The registry of domain event types.
    pub fn registry(&self) -> &EventRegistry {
        &self.inner.registry
    }

    /// Whether appends write the outbox.
    pub fn has_outbox(&self) -> bool {
        self.inner.outbox.is_some()
    }

    /// Starts a transaction in which aggregates can be appended and statements of your own
    /// run ([`StoreTransaction::connection`]); everything commits or rolls back together.
    ///
    /// # Errors
    ///
    /// [`Error::Database`].
    pub async fn begin(&self) -> Result<StoreTransaction, Error> {
        Ok(StoreTransaction {
            store: self.clone(),
            tx: self.inner.pool.begin().await?,
            notify: false,
        })
    }

    /// The stored events of aggregate `aggregate_type`/`id`, in version order, decoded and
    /// upcast. Empty when there is none.
    ///
    /// # Errors
    ///
    /// [`Error::Database`], [`Error::Registry`] or [`Error::Corrupt`].
    pub async fn load_events(
        &self,
        aggregate_type: &str,
        id: &str,
    ) -> Result<Vec<AggregateEvent>, Error> {
        let sql = format!(
            "SELECT {COLUMNS} FROM {} WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY version",
            self.inner.schema.events
        );
        let rows = sqlx::query(&sql)
            .bind(aggregate_type)
            .bind(id)
            .fetch_all(&self.inner.pool)
            .await?;
        rows.iter()
            .map(|row| self.decode_row(row).map(|recorded| recorded.event))
            .collect()
    }

    /// Up to `limit` stored events with a position greater than `after`, in position order.
    ///
    /// Positions are drawn when a transaction inserts, not when it commits: a reader that
    /// remembers the last position it saw can miss an event whose transaction committed
    /// later with a smaller position. Use it for exports and checks, not as a subscription
    /// cursor (the outbox relay does not work this way).
    ///
    /// # Errors
    ///
    /// [`Error::Database`], [`Error::Registry`] or [`Error::Corrupt`].
    pub async fn read_all(&self, after: u64, limit: u32) -> Result<Vec<RecordedEvent>, Error> {
        let sql = format!(
            "SELECT {COLUMNS} FROM {} WHERE position > $1 ORDER BY position LIMIT $2",
            self.inner.schema.events
        );
        let rows = sqlx::query(&sql)
            .bind(i64::try_from(after).unwrap_or(i64::MAX))
            .bind(i64::from(limit))
            .fetch_all(&self.inner.pool)
            .await?;
        rows.iter().map(|row| self.decode_row(row)).collect()
    }

    fn decode_row(&self, row: &PgRow) -> Result<RecordedEvent, Error> {
        let position: i64 = row.try_get("position")?;
        let event_id: Uuid = row.try_get("event_id")?;
        let aggregate_type: String = row.try_get("aggregate_type")?;
        let aggregate_id: String = row.try_get("aggregate_id")?;
        let version: i64 = row.try_get("version")?;
        let name: String = row.try_get("event_name")?;
        let schema_version: i32 = row.try_get("schema_version")?;
        let payload: String = row.try_get("payload")?;
        let metadata: String = row.try_get("metadata")?;
        let occurred_at_ns: i64 = row.try_get("occurred_at_ns")?;
        let corrupt = |reason: String| Error::Corrupt {
            aggregate: aggregate_type.clone(),
            id: aggregate_id.clone(),
            reason,
        };
        let json = serde_json::from_str(&payload)
            .map_err(|e| corrupt(format!("event {event_id}: payload is not JSON: {e}")))?;
        let metadata: Metadata = serde_json::from_str(&metadata).map_err(|e| {
            corrupt(format!(
                "event {event_id}: metadata is not a string map: {e}"
            ))
        })?;
        let schema_version = u32::try_from(schema_version)
            .map_err(|_| corrupt(format!("event {event_id}: schema version {schema_version}")))?;
        let (name, payload) = self.inner.registry.decode_stored(StoredPayload {
            name,
            schema_version,
            json,
        })?;
        Ok(RecordedEvent {
            position: u64::try_from(position).unwrap_or_default(),
            event: AggregateEvent {
                event: Event {
                    id: event_id,
                    name,
                    payload,
                    metadata,
                    occurred_at: from_nanos(occurred_at_ns),
                },
                aggregate_name: aggregate_type.clone(),
                aggregate_id: aggregate_id.clone(),
                aggregate_version: u64::try_from(version)
                    .map_err(|_| corrupt(format!("event {event_id}: version {version}")))?,
            },
        })
    }
}

/// The columns [`PostgresStore::decode_row`] reads.
const COLUMNS: &str = "position, event_id, aggregate_type, aggregate_id, version, event_name, \
                       schema_version, payload::text AS payload, metadata::text AS metadata, occurred_at_ns";

/// Nanoseconds since the Unix epoch, negative before it.
fn to_nanos(time: SystemTime) -> Option<i64> {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_nanos()).ok(),
        Err(before) => i64::try_from(before.duration().as_nanos()).ok().map(|n| -n),
    }
}

fn from_nanos(nanos: i64) -> SystemTime {
    let magnitude = Duration::from_nanos(nanos.unsigned_abs());
    if nanos >= 0 {
        UNIX_EPOCH + magnitude
    } else {
        UNIX_EPOCH - magnitude
    }
}

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
    store: PostgresStore,
    tx: Transaction<'static, Postgres>,
    notify: bool,
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
            let (dispatched, messages) = collect(dispatcher.publish(events)).await;
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

fn store_error<A: Aggregate>(error: Error) -> StoreError {
    match error {
        Error::Conflict {
            id,
            expected,
            actual,
            ..
        } => StoreError::Conflict {
            aggregate: A::NAME,
            id,
            expected,
            actual,
        },
        Error::NotFound { id, .. } => StoreError::NotFound {
            aggregate: A::NAME,
            id,
        },
        other => StoreError::Backend(Box::new(other)),
    }
}

#[async_trait::async_trait]
impl<A: EventSourced> AggregateStore<A> for PostgresStore {
    async fn load(&self, id: &str) -> Result<A, StoreError> {
        let span = tracing::debug_span!("eventmap.load", aggregate = A::NAME, id);
        async {
            let events = self
                .load_events(A::NAME, id)
                .await
                .map_err(store_error::<A>)?;
            replay(id, &events)
        }
        .instrument(span)
        .await
    }

    async fn save(&self, aggregate: &mut A) -> Result<Vec<AggregateEvent>, StoreError> {
        if aggregate.root().pending().is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.begin().await.map_err(store_error::<A>)?;
        tx.append(&*aggregate).await.map_err(store_error::<A>)?;
        tx.commit().await.map_err(store_error::<A>)?;
        Ok(aggregate.root_mut().take_pending())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nanos_round_trip() {
        for time in [
            UNIX_EPOCH,
            UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789),
            UNIX_EPOCH - Duration::new(5, 1),
        ] {
            assert_eq!(from_nanos(to_nanos(time).unwrap()), time);
        }
    }
}
