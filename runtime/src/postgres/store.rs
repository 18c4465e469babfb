//! [`PostgresStore`]: an event-sourced [`AggregateStore`] with optimistic concurrency and a
//! transactional outbox.

mod builder;
mod transaction;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::Row;
use sqlx::postgres::{PgPool, PgRow};
use tracing::Instrument;
use uuid::Uuid;

use super::Error;
use super::registry::{EventRegistry, StoredPayload};
use super::schema::{DEFAULT_SCHEMA, Schema};
use crate::dispatcher::Dispatch;
use crate::event::{AggregateEvent, Event, Metadata};
use crate::store::{Aggregate, AggregateStore, EventSourced, StoreError, replay};

pub use builder::PostgresStoreBuilder;
pub use transaction::StoreTransaction;

/// A stored event with its position in the store (append order over all aggregates).
#[derive(Debug, Clone)]
pub struct RecordedEvent {
    /// Position in the `eventmap_events` table (1-based, increasing in append order; a
    /// transaction that commits late may leave a smaller position behind a larger one).
    pub position: u64,
    /// The event, decoded (and upcast) through the store's [`EventRegistry`].
    pub event: AggregateEvent,
}

struct Inner {
    pool: PgPool,
    schema: Schema,
    registry: EventRegistry,
    outbox: Option<Box<dyn Dispatch>>,
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

    /// The schema's tables.
    #[cfg_attr(not(feature = "nats"), allow(dead_code))]
    pub(crate) fn tables(&self) -> &Schema {
        &self.inner.schema
    }

    /// The outbox dispatcher ([`PostgresStoreBuilder::outbox`]), if any.
    #[cfg_attr(not(feature = "nats"), allow(dead_code))]
    pub(crate) fn outbox_dispatch(&self) -> Option<&dyn Dispatch> {
        self.inner.outbox.as_deref()
    }

    /// Decodes a row selected with [`COLUMNS`].
    pub(crate) fn decode_row(&self, row: &PgRow) -> Result<RecordedEvent, Error> {
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
pub(crate) const COLUMNS: &str = "position, event_id, aggregate_type, aggregate_id, version, event_name, \
                       schema_version, payload::text AS payload, metadata::text AS metadata, occurred_at_ns";

/// Nanoseconds since the Unix epoch, negative before it.
pub(crate) fn to_nanos(time: SystemTime) -> Option<i64> {
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
