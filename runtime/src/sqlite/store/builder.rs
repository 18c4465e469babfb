//! [`SqliteStoreBuilder`]: the settings of a [`SqliteStore`] before it is built.

use std::fmt;
use std::sync::Arc;

use sqlx::SqlitePool;

use super::{Inner, SqliteStore};
use crate::sql::store::{StoreSettings, store_builder_settings};
use crate::sqlite::{Error, schema, wake};

/// Builds a [`SqliteStore`]; see [`SqliteStore::builder`].
pub struct SqliteStoreBuilder {
    pub(super) pool: SqlitePool,
    pub(super) settings: StoreSettings,
}

impl fmt::Debug for SqliteStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.settings
            .debug_fields(&mut f.debug_struct("SqliteStoreBuilder"))
            .finish_non_exhaustive()
    }
}

impl SqliteStoreBuilder {
    store_builder_settings!("crate::sqlite::OutboxWriter", "SqliteStore");

    /// Runs the migrations (unless skipped) and returns the store.
    ///
    /// # Errors
    ///
    /// [`Error::Database`].
    pub async fn build(self) -> Result<SqliteStore, Error> {
        let StoreSettings {
            registry,
            outbox,
            migrate,
        } = self.settings;
        if migrate {
            schema::migrate(&self.pool).await?;
        }
        let wake = wake::for_pool(&self.pool);
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                pool: self.pool,
                registry,
                outbox,
                wake,
            }),
        })
    }
}
