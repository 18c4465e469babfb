//! [`PostgresStoreBuilder`]: the settings of a [`PostgresStore`] before it is built.

use std::fmt;
use std::sync::Arc;

use sqlx::postgres::PgPool;

use super::{Inner, PostgresStore};
use crate::dispatcher::Dispatch;
use crate::postgres::Error;
use crate::postgres::EventRegistry;
use crate::postgres::schema::Schema;

/// Builds a [`PostgresStore`]; see [`PostgresStore::builder`].
pub struct PostgresStoreBuilder {
    pub(super) pool: PgPool,
    pub(super) schema: String,
    pub(super) registry: EventRegistry,
    pub(super) outbox: Option<Box<dyn Dispatch>>,
    pub(super) migrate: bool,
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
    /// The schema holding the store's tables (default
    /// [`DEFAULT_SCHEMA`](crate::postgres::DEFAULT_SCHEMA), `"eventmap"`): lower-case letters,
    /// digits and `_`. Created if missing.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    /// The domain event types the store can persist (required for every event saved).
    pub fn registry(mut self, registry: EventRegistry) -> Self {
        self.registry = registry;
        self
    }

    /// Turns the transactional outbox on: `dispatcher` runs inside every append transaction, and
    /// the messages its handlers publish through [`OutboxWriter`](crate::postgres::OutboxWriter)
    /// are inserted into the outbox table in that transaction. Give it only the integration
    /// handlers (generated `register_integration_event_handlers` with
    /// [`OutboxWriter::shared`](crate::postgres::OutboxWriter::shared) on an
    /// [`EventDispatcher`](crate::EventDispatcher), or the generated
    /// `DomainEventRouter::new(OutboxWriter::shared())`, which routes without the dispatcher's
    /// lookups): a handler that fails rolls the append back, and side effects of other
    /// handlers would not be transactional.
    pub fn outbox(mut self, dispatcher: impl Dispatch + 'static) -> Self {
        self.outbox = Some(Box::new(dispatcher));
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
