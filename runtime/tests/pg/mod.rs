//! Fixtures of the Postgres tests: the counter domain and stream checks of `counter`, and a
//! private schema per test.
#![allow(dead_code)]

use std::time::Duration;

use std::sync::Arc;

use eventmap::Publisher;
use eventmap::postgres::sqlx::PgPool;
use eventmap::postgres::sqlx::postgres::PgPoolOptions;
use eventmap::postgres::{
    Error, EventRegistry, PostgresStore, RecordedEvent, Relay, RelayConfig, RelayStats,
    RunningRelay,
};
use scenarios::{Backend, Doom};

#[path = "../counter/mod.rs"]
pub mod counter;
#[path = "../scenarios/mod.rs"]
pub mod scenarios;
pub use counter::*;

/// `DATABASE_URL`, default the machine's `test` database.
pub fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A private schema on the shared server; [`TestDb::cleanup`] drops it.
pub struct TestDb {
    pub pool: PgPool,
    pub schema: String,
}

impl TestDb {
    pub async fn new(prefix: &str) -> Self {
        Self::on(&database_url(), prefix).await
    }

    /// A private schema on the server at `url`.
    pub async fn on(url: &str, prefix: &str) -> Self {
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(20))
            .connect(url)
            .await
            .unwrap_or_else(|err| {
                panic!("cannot connect to PostgreSQL at {url} (set DATABASE_URL): {err}")
            });
        let schema = format!(
            "{prefix}_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        Self { pool, schema }
    }

    /// A store on the schema, with the outbox (`outbox`) or without.
    pub async fn store(&self, outbox: bool) -> PostgresStore {
        let mut builder = PostgresStore::builder(self.pool.clone())
            .schema(self.schema.clone())
            .registry(registry());
        if outbox {
            builder = builder.outbox(outbox_dispatcher());
        }
        builder.build().await.expect("store builds")
    }

    pub async fn count(&self, table: &str, filter: &str) -> i64 {
        eventmap::postgres::sqlx::query_scalar(&format!(
            "SELECT count(*) FROM \"{}\".{table} {filter}",
            self.schema
        ))
        .fetch_one(&self.pool)
        .await
        .expect("count")
    }

    pub async fn cleanup(self) {
        let _ = eventmap::postgres::sqlx::query(&format!(
            "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
            self.schema
        ))
        .execute(&self.pool)
        .await;
        self.pool.close().await;
    }
}

/// Relay settings of the tests on `db`'s schema: short polls and backoffs.
pub fn relay_config(db: &TestDb) -> RelayConfig {
    scenarios::relay_config().schema(db.schema.clone())
}

/// The Postgres store and relay on the schema of `db`, for the shared scenarios.
pub struct Postgres {
    pub db: TestDb,
    pub store: PostgresStore,
}

impl Postgres {
    pub async fn new(prefix: &str) -> Self {
        let db = TestDb::new(prefix).await;
        let store = db.store(true).await;
        Self { db, store }
    }
}

impl Backend for Postgres {
    type Store = PostgresStore;
    type Relay = Relay;

    fn store(&self) -> &PostgresStore {
        &self.store
    }

    fn relay_config(&self) -> RelayConfig {
        relay_config(&self.db)
    }

    async fn relay(&self, publisher: Arc<dyn Publisher>, config: RelayConfig) -> Relay {
        Relay::new(self.db.pool.clone(), publisher, config)
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
                let failed = eventmap::postgres::sqlx::query("SELECT 1 / 0")
                    .execute(tx.connection())
                    .await;
                assert!(failed.is_err());
                drop(tx);
            }
            Doom::Rollback => tx.rollback().await.unwrap(),
        }
    }

    fn table(&self, name: &str) -> String {
        format!("\"{}\".{name}", self.db.schema)
    }

    async fn execute(&self, sql: &str) -> u64 {
        eventmap::postgres::sqlx::query(sql)
            .execute(&self.db.pool)
            .await
            .unwrap_or_else(|err| panic!("{sql}: {err}"))
            .rows_affected()
    }

    async fn i64s(&self, sql: &str) -> Vec<i64> {
        eventmap::postgres::sqlx::query_scalar(sql)
            .fetch_all(&self.db.pool)
            .await
            .unwrap_or_else(|err| panic!("{sql}: {err}"))
    }

    async fn store_with(&self, registry: EventRegistry) -> PostgresStore {
        PostgresStore::builder(self.db.pool.clone())
            .schema(self.db.schema.clone())
            .registry(registry)
            .build()
            .await
            .expect("store builds")
    }

    async fn load_events(
        store: &PostgresStore,
        id: &str,
    ) -> Result<Vec<eventmap::AggregateEvent>, Error> {
        store.load_events("Counter", id).await
    }

    async fn read_all(store: &PostgresStore, limit: u32) -> Result<Vec<RecordedEvent>, Error> {
        store.read_all(0, limit).await
    }
}
