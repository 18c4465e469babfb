//! [`SqliteStoreBuilder`]: the settings of a [`SqliteStore`] before it is built.

use std::fmt;
use std::sync::Arc;

use sqlx::SqlitePool;

use super::{Inner, SqliteStore};
use crate::dispatcher::Dispatch;
use crate::sqlite::{Error, EventRegistry, schema, wake};

/// Builds a [`SqliteStore`]; see [`SqliteStore::builder`].
pub struct SqliteStoreBuilder {
    pub(super) pool: SqlitePool,
    pub(super) registry: EventRegistry,
    pub(super) outbox: Option<Box<dyn Dispatch>>,
    pub(super) migrate: bool,
}

impl fmt::Debug for SqliteStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStoreBuilder")
            .field("registry", &self.registry)
            .field("outbox", &self.outbox)
            .field("migrate", &self.migrate)
            .finish_non_exhaustive()
    }
}

impl SqliteStoreBuilder {
    /// The domain event types the store can persist (required for every event saved).
    pub fn registry(mut self, registry: EventRegistry) -> Self {
        self.registry = registry;
        self
    }

    /// Turns the transactional outbox on: `dispatcher` runs inside every append transaction,
    /// and the messages its handlers publish through
    /// [`OutboxWriter`](crate::sqlite::OutboxWriter) are inserted into the outbox table in
    /// that transaction. Give it only the integration handlers (generated
    /// `register_integration_event_handlers` with
    /// [`OutboxWriter::shared`](crate::sqlite::OutboxWriter::shared), or the generated
    /// `DomainEventRouter::new(OutboxWriter::shared())`): a handler that fails rolls the
    /// append back. The same dispatcher as for
    /// [`PostgresStoreBuilder::outbox`](crate::postgres::PostgresStoreBuilder::outbox).
    pub fn outbox(mut self, dispatcher: impl Dispatch + 'static) -> Self {
        self.outbox = Some(Box::new(dispatcher));
        self
    }

    /// Skips running the embedded migrations in [`build`](Self::build) (for deployments
    /// that run [`SqliteStore::migrate`] as a separate step).
    pub fn skip_migrations(mut self) -> Self {
        self.migrate = false;
        self
    }

    /// Runs the migrations (unless skipped) and returns the store.
    ///
    /// # Errors
    ///
    /// [`Error::Database`].
    pub async fn build(self) -> Result<SqliteStore, Error> {
        if self.migrate {
            schema::migrate(&self.pool).await?;
        }
        let wake = wake::for_pool(&self.pool);
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                pool: self.pool,
                registry: self.registry,
                outbox: self.outbox,
                wake,
            }),
        })
    }
}
