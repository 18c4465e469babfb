//! [`PostgresStoreBuilder`]: the settings of a [`PostgresStore`] before it is built.

use std::fmt;
use std::sync::Arc;

use sqlx::postgres::PgPool;

use super::{Inner, PostgresStore};
use crate::postgres::Error;
use crate::postgres::schema::Schema;
use crate::sql::store::{StoreSettings, store_builder_settings};

/// Builds a [`PostgresStore`]; see [`PostgresStore::builder`].
pub struct PostgresStoreBuilder {
    pub(super) pool: PgPool,
    pub(super) schema: String,
    pub(super) settings: StoreSettings,
}

impl fmt::Debug for PostgresStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.settings
            .debug_fields(
                f.debug_struct("PostgresStoreBuilder")
                    .field("schema", &self.schema),
            )
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

    store_builder_settings!("crate::postgres::OutboxWriter", "PostgresStore");

    /// Checks the schema name, runs the migrations (unless skipped) and returns the store.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSchema`], [`Error::Migration`] or [`Error::Database`].
    pub async fn build(self) -> Result<PostgresStore, Error> {
        let StoreSettings {
            registry,
            outbox,
            migrate,
        } = self.settings;
        let schema = Schema::new(&self.schema)?;
        if migrate {
            schema.migrate(&self.pool).await?;
        }
        Ok(PostgresStore {
            inner: Arc::new(Inner {
                pool: self.pool,
                schema,
                registry,
                outbox,
            }),
        })
    }
}
