//! The Postgres inbox against the machine's PostgreSQL (DATABASE_URL, default the `postgres`
//! database at 127.0.0.1:5432), each test in a schema of its own; the crash test adds a
//! private `nats-server -js`. The scenarios are shared with the SQLite inbox
//! (`inbox_scenarios/mod.rs`).

mod inbox_scenarios;
mod pg;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use eventmap::nats::JetStreamPublisher;
use eventmap::nats::async_nats::jetstream::Context;
use eventmap::postgres::sqlx::{self, PgConnection};
use eventmap::postgres::{Inbox, Relay, RelayConfig};
use eventmap::{AggregateStore, EventSourced};
use inbox_scenarios::{Backend, Outcome, Step};
use pg::*;

/// A schema with the inbox and the scenarios' read model.
struct Postgres {
    db: TestDb,
    inbox: Inbox,
    table: String,
}

impl Backend for Postgres {
    async fn setup(prefix: &str) -> Self {
        let db = TestDb::on(&database_url(), prefix).await;
        let inbox = Inbox::new(db.pool.clone(), &db.schema)
            .await
            .expect("inbox migrates");
        let table = format!("\"{}\".counter_totals", db.schema);
        sqlx::query(&inbox_scenarios::create_table(&table))
            .execute(&db.pool)
            .await
            .expect("read model table");
        Self { db, inbox, table }
    }

    fn process(
        &self,
        consumer: &str,
        message_id: &str,
        counter: &str,
        by: i64,
        step: Step,
    ) -> impl Future<Output = Outcome> + Send + 'static {
        let (inbox, apply) = (self.inbox.clone(), inbox_scenarios::apply(&self.table));
        let (consumer, message_id, counter) = (
            consumer.to_owned(),
            message_id.to_owned(),
            counter.to_owned(),
        );
        async move {
            inbox
                .process(&consumer, &message_id, async |conn: &mut PgConnection| {
                    sqlx::query(&apply)
                        .bind(&counter)
                        .bind(by)
                        .execute(conn)
                        .await
                        .map_err(|e| e.to_string())?;
                    step.after_write().await
                })
                .await
        }
    }

    async fn is_processed(&self, consumer: &str, message_id: &str) -> bool {
        self.inbox
            .is_processed(consumer, message_id)
            .await
            .expect("is_processed")
    }

    async fn row(&self, counter: &str) -> Option<(i64, i64)> {
        sqlx::query_as(&inbox_scenarios::row(&self.table))
            .bind(counter)
            .fetch_optional(&self.db.pool)
            .await
            .expect("read model row")
    }

    async fn inbox_rows(&self) -> i64 {
        self.db.count("eventmap_inbox", "").await
    }

    /// Until a session of this schema waits on a lock in an inbox insert (up to 10 s).
    async fn second_waits(&self) {
        let pattern = format!("%\"{}\".eventmap_inbox%", self.db.schema);
        let blocked = eventually(
            Duration::from_secs(10),
            Duration::from_millis(25),
            async || {
                let blocked: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM pg_stat_activity \
                     WHERE wait_event_type = 'Lock' AND query LIKE $1",
                )
                .bind(&pattern)
                .fetch_one(&self.db.pool)
                .await
                .expect("pg_stat_activity");
                blocked > 0
            },
        )
        .await;
        assert!(
            blocked,
            "the second handling never waited on the first one's inbox row"
        );
    }

    /// Through the Postgres store's outbox and the relay.
    async fn publish_increment(&self, jetstream: &Context, counter: &str, by: u32) {
        let store = self.db.store(true).await;
        let mut aggregate = Counter::blank(counter);
        aggregate.increment(by);
        store.save(&mut aggregate).await.expect("save");
        let relay = Relay::new(
            self.db.pool.clone(),
            Arc::new(JetStreamPublisher::new(jetstream.clone())),
            RelayConfig::default()
                .schema(self.db.schema.clone())
                .listen(false),
        )
        .await
        .expect("relay");
        relay.run_once().await.expect("relay round");
        assert_eq!(relay.backlog().await.expect("backlog"), 0);
    }

    async fn cleanup(self) {
        self.db.cleanup().await;
    }
}

inbox_scenarios::scenario_tests!(Postgres);
