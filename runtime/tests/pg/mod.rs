//! Fixtures of the Postgres tests: the counter domain (`counter/mod.rs`, shared with the
//! SQLite tests) with its event registry, a private schema per test, and stream checks.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use eventmap::postgres::sqlx::PgPool;
use eventmap::postgres::sqlx::postgres::PgPoolOptions;
use eventmap::postgres::{EventRegistry, OutboxWriter, PostgresStore};
use eventmap::{EventDispatcher, EventSourced};

#[path = "../counter/mod.rs"]
mod counter;
pub use counter::*;

pub fn registry() -> EventRegistry {
    let mut registry = EventRegistry::new();
    registry
        .register::<Incremented>("Incremented")
        .expect("register Incremented")
        .register::<Labelled>("Labelled")
        .expect("register Labelled");
    registry
}

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
            let mut dispatcher = EventDispatcher::new();
            register_integration_event_handlers(&mut dispatcher, OutboxWriter::shared());
            builder = builder.outbox(dispatcher);
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

/// Appends `per_aggregate` increments to each of `aggregates` counters (ids `c-0`...),
/// `per_save` events per transaction, with `concurrency` writers. Returns the expected
/// number of events per aggregate.
pub async fn append_increments(
    store: &PostgresStore,
    aggregates: usize,
    per_aggregate: usize,
    per_save: usize,
    concurrency: usize,
) -> BTreeMap<String, u64> {
    use eventmap::AggregateStore;
    let ids: Vec<String> = (0..aggregates).map(|i| format!("c-{i}")).collect();
    let chunks: Vec<Vec<String>> = ids
        .chunks(aggregates.div_ceil(concurrency.max(1)))
        .map(<[String]>::to_vec)
        .collect();
    let mut tasks = Vec::new();
    for chunk in chunks {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut counters: Vec<Counter> = chunk.iter().map(|id| Counter::blank(id)).collect();
            let mut done = 0;
            while done < per_aggregate {
                let n = per_save.min(per_aggregate - done);
                for counter in &mut counters {
                    for k in 0..n {
                        counter.increment((done + k + 1) as u32);
                    }
                    store.save(counter).await.expect("save");
                }
                done += n;
            }
        }));
    }
    for task in tasks {
        task.await.expect("writer task");
    }
    ids.into_iter()
        .map(|id| (id, per_aggregate as u64))
        .collect()
}

/// What a consumer saw on the stream.
#[derive(Debug, Default)]
pub struct Observed {
    /// Messages stored in the stream (its message count).
    pub stream_messages: u64,
    /// Distinct `ce-id`s among them.
    pub distinct_ids: usize,
    /// Per aggregate, the versions in stream order.
    pub versions: BTreeMap<String, Vec<u64>>,
    /// Deliveries received by the consumer (including redeliveries).
    pub deliveries: u64,
}

impl Observed {
    /// Asserts exactly the `expected` events: every aggregate's versions 1..=n in order,
    /// nothing lost, nothing stored twice.
    pub fn assert_exactly(&self, expected: &BTreeMap<String, u64>) {
        let total: u64 = expected.values().sum();
        assert_eq!(
            self.stream_messages, total,
            "stream holds {} messages, expected {total}",
            self.stream_messages
        );
        assert_eq!(self.distinct_ids as u64, total, "distinct ce-ids");
        for (aggregate, count) in expected {
            let versions = self.versions.get(aggregate).cloned().unwrap_or_default();
            let wanted: Vec<u64> = (1..=*count).collect();
            assert_eq!(versions, wanted, "versions of {aggregate} in stream order");
        }
        let unexpected: Vec<_> = self
            .versions
            .keys()
            .filter(|k| !expected.contains_key(*k))
            .collect();
        assert!(
            unexpected.is_empty(),
            "unexpected aggregates {unexpected:?}"
        );
    }
}

/// Reads the whole channel with a durable consumer (acking each message) until `expected`
/// distinct stream messages were seen or `within` passed.
pub async fn consume_all(
    context: &eventmap::nats::async_nats::jetstream::Context,
    expected: u64,
    within: Duration,
) -> Observed {
    use eventmap::nats::{Consumer, ConsumerSpec, DeliveryPolicy};
    let spec = ConsumerSpec::new("verify", &[]).policy(DeliveryPolicy::default().batch(500));
    let mut subscription = Consumer::<CounterEvents>::start(context, &spec)
        .await
        .expect("consumer starts")
        .deliveries();
    let mut by_sequence: BTreeMap<u64, (String, String, u64)> = BTreeMap::new();
    let mut deliveries = 0;
    let deadline = tokio::time::Instant::now() + within;
    while (by_sequence.len() as u64) < expected {
        let next = tokio::time::timeout_at(deadline, subscription.next()).await;
        let Ok(Some(delivery)) = next else { break };
        let delivery = match delivery {
            Ok(delivery) => delivery,
            Err(err) => panic!("consumer failed: {err}"),
        };
        deliveries += 1;
        let CounterEvents::Incremented(event) = &delivery.event;
        assert_eq!(event.counter_id, delivery.aggregate_id);
        assert_eq!(event.version, delivery.aggregate_version);
        by_sequence.insert(
            delivery.stream_sequence,
            (
                delivery.id.clone(),
                delivery.aggregate_id.clone(),
                delivery.aggregate_version,
            ),
        );
        delivery.ack().await.expect("ack");
    }
    let mut stream = context
        .get_stream(COUNTER.stream)
        .await
        .expect("stream exists");
    let info = stream.info().await.expect("stream info");
    let mut versions: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut ids = HashSet::new();
    for (id, aggregate, version) in by_sequence.values() {
        ids.insert(id.clone());
        versions
            .entry(aggregate.clone())
            .or_default()
            .push(*version);
    }
    Observed {
        stream_messages: info.state.messages,
        distinct_ids: ids.len(),
        versions,
        deliveries,
    }
}

/// Number of events for the big fault tests: `EVENTMAP_FAULT_EVENTS` (default 10,000).
pub fn fault_events() -> usize {
    std::env::var("EVENTMAP_FAULT_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n: &usize| n >= 200)
        .unwrap_or(10_000)
}
