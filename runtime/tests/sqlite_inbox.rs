//! The SQLite inbox on a temporary database file: the inbox scenarios shared with the Postgres
//! inbox (`inbox_scenarios/mod.rs`), the crash test on a private `nats-server -js`, the purge
//! of old records, and `Consumer::run_with_inbox` on SQLite (batches, duplicates, order).

mod counter;
mod inbox_scenarios;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use counter::*;
use eventmap::BoxError;
use eventmap::nats::async_nats::{self, jetstream::Context};
use eventmap::nats::{
    Consumer, ConsumerReport, ConsumerSpec, Delivery, DeliveryPolicy, JetStreamPublisher,
    TransactionalHandler, provision_streams,
};
use eventmap::sqlite::sqlx::sqlite::SqlitePoolOptions;
use eventmap::sqlite::sqlx::{self, Sqlite as SqliteDb, SqliteConnection, SqlitePool};
use eventmap::sqlite::{Inbox, InboxOutcome};
use eventmap::test_util::LocalServer;
use eventmap::{AggregateStore, DispatchingStore, EventDispatcher, EventSourced, InMemoryStore};
use inbox_scenarios::{Backend, Outcome, Step};

/// The producer of these tests: an in-memory store whose saves publish the counter's
/// integration events on JetStream (the producer is not under test here).
fn publishing_store(jetstream: &Context) -> DispatchingStore<InMemoryStore<Counter>> {
    let mut dispatcher = EventDispatcher::new();
    register_integration_event_handlers(
        &mut dispatcher,
        Arc::new(JetStreamPublisher::new(jetstream.clone())),
    );
    DispatchingStore::new(InMemoryStore::new(), Arc::new(dispatcher))
}

/// A database file in a temporary directory with the inbox and the scenarios' read model.
struct Sqlite {
    pool: SqlitePool,
    inbox: Inbox,
    _dir: tempfile::TempDir,
}

impl Backend for Sqlite {
    async fn setup(prefix: &str) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}/{prefix}.db", dir.path().display());
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(eventmap::sqlite::connect_options(&url).expect("SQLite URL"))
            .await
            .expect("SQLite database");
        let inbox = Inbox::new(pool.clone()).await.expect("inbox migrates");
        sqlx::query(&inbox_scenarios::create_table("counter_totals"))
            .execute(&pool)
            .await
            .expect("read model table");
        Self {
            pool,
            inbox,
            _dir: dir,
        }
    }

    fn process(
        &self,
        consumer: &str,
        message_id: &str,
        counter: &str,
        by: i64,
        step: Step,
    ) -> impl Future<Output = Outcome> + Send + 'static {
        let inbox = self.inbox.clone();
        let (consumer, message_id, counter) = (
            consumer.to_owned(),
            message_id.to_owned(),
            counter.to_owned(),
        );
        async move {
            inbox
                .process(
                    &consumer,
                    &message_id,
                    async |conn: &mut SqliteConnection| {
                        sqlx::query(&inbox_scenarios::apply("counter_totals"))
                            .bind(&counter)
                            .bind(by)
                            .execute(conn)
                            .await
                            .map_err(|e| e.to_string())?;
                        step.after_write().await
                    },
                )
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
        sqlx::query_as(&inbox_scenarios::row("counter_totals"))
            .bind(counter)
            .fetch_optional(&self.pool)
            .await
            .expect("read model row")
    }

    async fn inbox_rows(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM eventmap_inbox")
            .fetch_one(&self.pool)
            .await
            .expect("count")
    }

    /// SQLite shows no waiting session: the second handling's `BEGIN IMMEDIATE` waits on the
    /// write lock (the busy timeout is 10 s); the scenario checks it is still running after
    /// this pause.
    async fn second_waits(&self) {
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    /// Through [`publishing_store`].
    async fn publish_increment(&self, jetstream: &Context, counter: &str, by: u32) {
        let store = publishing_store(jetstream);
        let mut aggregate = Counter::blank(counter);
        aggregate.increment(by);
        store.save(&mut aggregate).await.expect("save and publish");
    }

    async fn cleanup(self) {
        self.pool.close().await;
    }
}

inbox_scenarios::scenario_tests!(Sqlite);

#[tokio::test]
async fn purge_deletes_the_records_older_than_asked() {
    within(inbox_scenarios::LIMIT, async {
        let db = Sqlite::setup("em_inbox_purge").await;
        for id in ["msg-1", "msg-2"] {
            let outcome = db.process("projector", id, "c-1", 1, Step::default()).await;
            assert_eq!(outcome.expect("process"), InboxOutcome::Processed(()));
        }
        assert_eq!(
            db.inbox
                .purge(Duration::from_secs(3600))
                .await
                .expect("purge"),
            0,
            "nothing is an hour old"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(db.inbox.purge(Duration::ZERO).await.expect("purge"), 2);
        assert_eq!(db.inbox_rows().await, 0);
        // Purged, the message is processed again: the record was the only memory of it.
        let again = db
            .process("projector", "msg-1", "c-1", 1, Step::default())
            .await;
        assert_eq!(again.expect("process"), InboxOutcome::Processed(()));
        assert_eq!(db.row("c-1").await, Some((3, 3)));
        db.cleanup().await;
    })
    .await;
}

/// Writes `(counter, version)` of each increment into `applied`, on the batch's connection.
struct Applier {
    calls: AtomicUsize,
}

impl TransactionalHandler<CounterEvents, SqliteDb> for Applier {
    async fn handle(
        &self,
        conn: &mut SqliteConnection,
        delivery: &Delivery<CounterEvents>,
    ) -> Result<(), BoxError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let CounterEvents::Incremented(event) = &delivery.event;
        sqlx::query("INSERT INTO applied (counter_id, version) VALUES ($1, $2)")
            .bind(&event.counter_id)
            .bind(i64::try_from(event.version)?)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }
}

#[tokio::test]
async fn run_with_inbox_applies_each_message_once_in_order_and_skips_duplicates() {
    applies_each_message_once_in_order(DeliveryPolicy::default().batch(16)).await;
}

/// On SQLite the split batch's transactions take the write lock in turn: still each message
/// once, in order per counter.
#[tokio::test]
async fn run_with_inbox_in_several_transactions_per_batch_applies_each_message_once() {
    applies_each_message_once_in_order(DeliveryPolicy::default().batch(16).inbox_transactions(3))
        .await;
}

/// 10 counters of 6 increments and 4 sent again, run with `policy`.
async fn applies_each_message_once_in_order(policy: DeliveryPolicy) {
    within(inbox_scenarios::LIMIT, async {
        let db = Sqlite::setup("em_inbox_batch").await;
        sqlx::query(
            "CREATE TABLE applied (seq INTEGER PRIMARY KEY AUTOINCREMENT, \
             counter_id text NOT NULL, version bigint NOT NULL)",
        )
        .execute(&db.pool)
        .await
        .expect("applied table");
        let server = LocalServer::start()
            .await
            .unwrap_or_else(|err| panic!("cannot start nats-server: {err}"));
        let client = async_nats::connect(server.url()).await.expect("connect");
        let jetstream = async_nats::jetstream::new(client);
        provision_streams(&jetstream, &[COUNTER])
            .await
            .expect("provision");

        // 10 counters x 6 increments, one event per save, counters in turn (interleaved on
        // the stream), then four copies of stored messages: the same ce-ids again.
        let (counters, per_counter) = (10, 6);
        let store = publishing_store(&jetstream);
        let mut aggregates: Vec<Counter> = (0..counters)
            .map(|counter| Counter::blank(&format!("c-{counter}")))
            .collect();
        for _ in 0..per_counter {
            for aggregate in &mut aggregates {
                aggregate.increment(1);
                store.save(aggregate).await.expect("save and publish");
            }
        }
        for sequence in [3, 17, 18, 60] {
            republish(&jetstream, sequence).await;
        }
        let stream = jetstream.get_stream(COUNTER.stream).await.expect("stream");
        let drained = async {
            loop {
                let info = stream
                    .consumer_info("batched")
                    .await
                    .expect("consumer info");
                if info.num_pending == 0 && info.num_ack_pending == 0 {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        let handler = Applier {
            calls: AtomicUsize::new(0),
        };
        let consumer = Consumer::<CounterEvents>::start(
            &jetstream,
            &ConsumerSpec::new("batched", &[]).policy(policy),
        )
        .await
        .expect("consumer starts");
        let report = consumer
            .run_with_inbox(&db.inbox, &handler, drained)
            .await
            .expect("run");

        let total = counters * per_counter;
        assert_eq!(
            report,
            ConsumerReport {
                handled: total as u64 + 4,
                ..ConsumerReport::default()
            }
        );
        assert_eq!(
            handler.calls.load(Ordering::Relaxed),
            total,
            "no duplicate reached the handler"
        );
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT counter_id, version FROM applied ORDER BY seq")
                .fetch_all(&db.pool)
                .await
                .expect("applied rows");
        let mut applied: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for (counter, version) in rows {
            applied
                .entry(counter)
                .or_default()
                .push(u64::try_from(version).expect("positive version"));
        }
        let expected: BTreeMap<String, u64> = (0..counters)
            .map(|counter| (format!("c-{counter}"), per_counter as u64))
            .collect();
        assert_in_order(&applied, &expected, &[]);
        assert_eq!(db.inbox_rows().await, total as i64);
        db.cleanup().await;
    })
    .await;
}
