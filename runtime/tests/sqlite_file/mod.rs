//! Fixture of the SQLite tests: a store with the counter's outbox on a file of its own in a
//! temporary directory (removed when dropped), and the [`Backend`] of the shared scenarios.
#![allow(dead_code)]

use std::sync::Arc;

use eventmap::Publisher;
use eventmap::sqlite::sqlx::SqlitePool;
use eventmap::sqlite::{
    Error, EventRegistry, RecordedEvent, Relay, RelayConfig, RelayStats, RunningRelay, SqliteStore,
};

use super::counter::{Counter, outbox_dispatcher, registry};
use super::scenarios::{Backend, Doom, relay_config};

/// A database file of its own.
pub struct TestFile {
    pub pool: SqlitePool,
    /// `sqlite://<dir>/test.db`.
    pub url: String,
    _dir: tempfile::TempDir,
}

impl TestFile {
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let pool = eventmap::sqlite::connect(&url)
            .await
            .unwrap_or_else(|err| panic!("cannot open {url}: {err}"));
        Self {
            pool,
            url,
            _dir: dir,
        }
    }

    /// A store on the file, with the counter's outbox (`outbox`) or without.
    pub async fn store(&self, outbox: bool) -> SqliteStore {
        let mut builder = SqliteStore::builder(self.pool.clone()).registry(registry());
        if outbox {
            builder = builder.outbox(outbox_dispatcher());
        }
        builder.build().await.expect("store builds")
    }

    /// Rows of `table` matching `filter` (`WHERE ...`, or empty).
    pub async fn count(&self, table: &str, filter: &str) -> i64 {
        eventmap::sqlite::sqlx::query_scalar(&format!("SELECT count(*) FROM {table} {filter}"))
            .fetch_one(&self.pool)
            .await
            .expect("count")
    }
}

/// The SQLite store and relay on a file of its own, for the shared scenarios.
pub struct Sqlite {
    pub file: TestFile,
    pub store: SqliteStore,
}

impl Sqlite {
    pub async fn new() -> Self {
        let file = TestFile::new().await;
        let store = file.store(true).await;
        Self { file, store }
    }
}

impl Backend for Sqlite {
    type Store = SqliteStore;
    type Relay = Relay;

    fn store(&self) -> &SqliteStore {
        &self.store
    }

    fn relay_config(&self) -> RelayConfig {
        relay_config()
    }

    async fn relay(&self, publisher: Arc<dyn Publisher>, config: RelayConfig) -> Relay {
        Relay::new(self.file.pool.clone(), publisher, config)
            .await
            .expect("relay")
    }

    fn spawn(relay: &Relay) -> RunningRelay {
        relay.spawn()
    }

    fn stats(relay: &Relay) -> RelayStats {
        relay.stats()
    }

    async fn doomed_append(&self, doomed: &Counter, how: Doom) {
        let mut tx = self.store.begin().await.unwrap();
        tx.append(doomed).await.unwrap();
        match how {
            Doom::FailingStatement => {
                let failed = eventmap::sqlite::sqlx::query("INSERT INTO no_such_table VALUES (1)")
                    .execute(tx.connection())
                    .await;
                assert!(failed.is_err());
                drop(tx);
            }
            Doom::Rollback => tx.rollback().await.unwrap(),
        }
    }

    fn table(&self, name: &str) -> String {
        name.to_owned()
    }

    async fn execute(&self, sql: &str) -> u64 {
        eventmap::sqlite::sqlx::query(sql)
            .execute(&self.file.pool)
            .await
            .unwrap_or_else(|err| panic!("{sql}: {err}"))
            .rows_affected()
    }

    async fn i64s(&self, sql: &str) -> Vec<i64> {
        eventmap::sqlite::sqlx::query_scalar(sql)
            .fetch_all(&self.file.pool)
            .await
            .unwrap_or_else(|err| panic!("{sql}: {err}"))
    }

    async fn store_with(&self, registry: EventRegistry) -> SqliteStore {
        SqliteStore::builder(self.file.pool.clone())
            .registry(registry)
            .build()
            .await
            .expect("store builds")
    }

    async fn load_events(
        store: &SqliteStore,
        id: &str,
    ) -> Result<Vec<eventmap::AggregateEvent>, Error> {
        store.load_events("Counter", id).await
    }

    async fn read_all(store: &SqliteStore, limit: u32) -> Result<Vec<RecordedEvent>, Error> {
        store.read_all(0, limit).await
    }
}
