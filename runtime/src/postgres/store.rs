//! [`PostgresStore`]: an event-sourced [`AggregateStore`] with optimistic concurrency and a
//! transactional outbox.

mod builder;
mod transaction;

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use super::schema::Schema;
use super::{DEFAULT_SCHEMA, Error, EventRegistry, RecordedEvent};
use crate::dispatcher::Dispatch;
use crate::event::AggregateEvent;
use crate::sql;
use crate::sql::rows::decode_event;
use crate::store::{AggregateStore, EventSourced, StoreError};
use sqlx::postgres::{PgPool, PgRow};

pub use builder::PostgresStoreBuilder;
pub use transaction::StoreTransaction;

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
///   ([`EventSourced`], [`replay`](crate::store::replay)).
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
            settings: sql::store::StoreSettings::default(),
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
        decode_event(&self.inner.registry, row)
    }
}

/// The columns [`PostgresStore::decode_row`] reads.
pub(crate) const COLUMNS: &str = "position, event_id::text AS event_id, aggregate_type, aggregate_id, version, event_name, \
                       schema_version, payload::text AS payload, metadata::text AS metadata, occurred_at_ns";

impl sql::store::SqlStore for PostgresStore {
    type Transaction = StoreTransaction;

    fn begin(&self) -> impl Future<Output = Result<StoreTransaction, Error>> + Send {
        PostgresStore::begin(self)
    }

    fn load_events(
        &self,
        aggregate_type: &str,
        id: &str,
    ) -> impl Future<Output = Result<Vec<AggregateEvent>, Error>> + Send {
        PostgresStore::load_events(self, aggregate_type, id)
    }
}

#[async_trait::async_trait]
impl<A: EventSourced> AggregateStore<A> for PostgresStore {
    async fn load(&self, id: &str) -> Result<A, StoreError> {
        sql::store::load(self, id).await
    }

    async fn save(&self, aggregate: &mut A) -> Result<Vec<AggregateEvent>, StoreError> {
        sql::store::save(self, aggregate).await
    }
}
