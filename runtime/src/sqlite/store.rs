//! [`SqliteStore`]: an event-sourced [`AggregateStore`] on an SQLite file with optimistic
//! concurrency and a transactional outbox.

mod builder;
mod transaction;

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use sqlx::SqlitePool;
use tokio::sync::Notify;

use super::{Error, EventRegistry, RecordedEvent, schema};
use crate::dispatcher::Dispatch;
use crate::event::AggregateEvent;
use crate::sql;
use crate::sql::rows::decode_event;
use crate::store::{AggregateStore, EventSourced, StoreError};

pub use builder::SqliteStoreBuilder;
pub use transaction::StoreTransaction;

/// The columns [`decode_event`] reads.
const COLUMNS: &str = "position, event_id, aggregate_type, aggregate_id, version, event_name, \
                       schema_version, payload, metadata, occurred_at_ns";

struct Inner {
    pool: SqlitePool,
    registry: EventRegistry,
    outbox: Option<Box<dyn Dispatch>>,
    /// Wakes the relays of this process on the file after a commit that wrote the outbox.
    wake: Arc<Notify>,
}

/// An event-sourced store on an SQLite file: the guarantees of
/// [`PostgresStore`](crate::postgres::PostgresStore) with one writer at a time.
///
/// * **Append** ([`AggregateStore::save`], or [`StoreTransaction::append`] inside a
///   transaction of your own): one `BEGIN IMMEDIATE` transaction moves the aggregate's row
///   in `eventmap_aggregates` from the expected version
///   ([`AggregateRoot::stored_version`](crate::AggregateRoot::stored_version)) to the new
///   one and inserts the events. A racing append of the same aggregate waits for the write
///   lock, then finds the version moved: [`Error::Conflict`] ([`StoreError::Conflict`]
///   through the trait), and nothing of it is stored, converted or published.
/// * **Payloads** are stored as JSON with their name and schema version, through the
///   [`EventRegistry`]; every read decodes through it, so upcasters apply to every path.
/// * **Load** ([`AggregateStore::load`]) replays the aggregate's events.
/// * **Outbox** ([`SqliteStoreBuilder::outbox`]): the integration messages of the appended
///   events are written in the same transaction; a [`Relay`](super::Relay) publishes them,
///   woken at once when it runs in the same process.
///
/// Cloning is cheap (an `Arc`).
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("file", &self.inner.pool.connect_options().get_filename())
            .field("registry", &self.inner.registry)
            .field("outbox", &self.inner.outbox)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// A builder on `pool` (normally from [`connect`](super::connect)): an empty registry,
    /// no outbox, migrations run by [`build`](SqliteStoreBuilder::build).
    pub fn builder(pool: SqlitePool) -> SqliteStoreBuilder {
        SqliteStoreBuilder {
            pool,
            settings: sql::store::StoreSettings::default(),
        }
    }

    /// Runs the embedded migrations (idempotent; [`SqliteStoreBuilder::build`] does it
    /// unless told not to).
    ///
    /// # Errors
    ///
    /// [`Error::Database`].
    pub async fn migrate(&self) -> Result<(), Error> {
        Ok(schema::migrate(&self.inner.pool).await?)
    }

    /// The connection pool.
    pub fn pool(&self) -> &SqlitePool {
        &self.inner.pool
    }

    /// The registry of domain event types.
    pub fn registry(&self) -> &EventRegistry {
        &self.inner.registry
    }

    /// Whether appends write the outbox.
    pub fn has_outbox(&self) -> bool {
        self.inner.outbox.is_some()
    }

    /// Starts a write transaction (`BEGIN IMMEDIATE`: it waits for the file's write lock, up
    /// to the busy timeout) in which aggregates can be appended and statements of your own
    /// run ([`StoreTransaction::connection`]); everything commits or rolls back together.
    ///
    /// # Errors
    ///
    /// [`Error::Database`] (also "database is locked" past the busy timeout).
    pub async fn begin(&self) -> Result<StoreTransaction, Error> {
        Ok(StoreTransaction {
            store: self.clone(),
            tx: self.inner.pool.begin_with("BEGIN IMMEDIATE").await?,
            wrote_outbox: false,
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
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM eventmap_events WHERE aggregate_type = ? AND aggregate_id = ? \
             ORDER BY version"
        ))
        .bind(aggregate_type)
        .bind(id)
        .fetch_all(&self.inner.pool)
        .await?;
        rows.iter()
            .map(|row| decode_event(&self.inner.registry, row).map(|recorded| recorded.event))
            .collect()
    }

    /// Up to `limit` stored events with a position greater than `after`, in position order
    /// (which on SQLite is commit order: a reader that remembers the last position it saw
    /// misses nothing).
    ///
    /// # Errors
    ///
    /// [`Error::Database`], [`Error::Registry`] or [`Error::Corrupt`].
    pub async fn read_all(&self, after: u64, limit: u32) -> Result<Vec<RecordedEvent>, Error> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM eventmap_events WHERE position > ? ORDER BY position LIMIT ?"
        ))
        .bind(i64::try_from(after).unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(&self.inner.pool)
        .await?;
        rows.iter()
            .map(|row| decode_event(&self.inner.registry, row))
            .collect()
    }
}

impl sql::store::SqlStore for SqliteStore {
    type Transaction = StoreTransaction;

    fn begin(&self) -> impl Future<Output = Result<StoreTransaction, Error>> + Send {
        SqliteStore::begin(self)
    }

    fn load_events(
        &self,
        aggregate_type: &str,
        id: &str,
    ) -> impl Future<Output = Result<Vec<AggregateEvent>, Error>> + Send {
        SqliteStore::load_events(self, aggregate_type, id)
    }
}

#[async_trait::async_trait]
impl<A: EventSourced> AggregateStore<A> for SqliteStore {
    async fn load(&self, id: &str) -> Result<A, StoreError> {
        sql::store::load(self, id).await
    }

    async fn save(&self, aggregate: &mut A) -> Result<Vec<AggregateEvent>, StoreError> {
        sql::store::save(self, aggregate).await
    }
}
