//! The Postgres store, outbox and relay against the machine's PostgreSQL (DATABASE_URL,
//! default postgres://postgres@127.0.0.1:5432/test), each test in a schema of its own; the
//! relay publishes to in-memory publishers here (JetStream: tests/postgres_faults.rs).

mod pg;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventmap::message::headers;
use eventmap::postgres::{Error, OutboxWriter, PostgresStore, Relay, RelayConfig};
use eventmap::{
    AggregateStore, DispatchingStore, EventDispatcher, EventSourced, InMemoryPublisher,
    IntegrationMessage, PublishError, PublishReceipt, Publisher, StoreError,
};
use pg::scenarios;
use pg::*;

/// Upper bound of any test here.
const LIMIT: Duration = Duration::from_secs(60);

async fn within<F: std::future::Future>(test: F) -> F::Output {
    tokio::time::timeout(LIMIT, test)
        .await
        .expect("test exceeded its time limit")
}

fn relay_config(db: &TestDb) -> RelayConfig {
    RelayConfig::default()
        .schema(db.schema.clone())
        .batch_size(100)
        .max_in_flight(32)
        .listen(false)
        .backoff(Duration::from_millis(10), Duration::from_millis(50))
        .publish_timeout(Duration::from_secs(2))
}

/// Per aggregate, the versions of the messages in publish order.
fn versions(messages: &[IntegrationMessage]) -> BTreeMap<String, Vec<u64>> {
    let mut versions: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for message in messages {
        let aggregate = message.header(headers::AGGREGATE_ID).expect("aggregate id");
        let version = message
            .header(headers::AGGREGATE_VERSION)
            .and_then(|v| v.parse().ok())
            .expect("aggregate version");
        versions
            .entry(aggregate.to_owned())
            .or_default()
            .push(version);
    }
    versions
}

async fn drain(relay: &Relay) {
    for _ in 0..1_000 {
        relay.run_once().await.expect("round");
        if relay.backlog().await.expect("backlog") == 0 {
            return;
        }
    }
    panic!("the relay did not drain the outbox");
}

/// Runs a scenario shared with SQLite (`scenarios/mod.rs`) on a schema of its own.
async fn on_postgres(prefix: &str, scenario: impl AsyncFnOnce(&Postgres)) {
    within(async {
        let backend = Postgres::new(prefix).await;
        scenario(&backend).await;
        backend.db.cleanup().await;
    })
    .await;
}

#[tokio::test]
async fn an_id_no_nats_header_can_carry_is_refused_at_the_append() {
    on_postgres(
        "em_crlf",
        scenarios::an_id_no_nats_header_can_carry_is_refused_at_the_append,
    )
    .await;
}

#[tokio::test]
async fn save_load_replay_and_conflict() {
    on_postgres("em_store", scenarios::save_load_replay_and_conflict).await;
}

#[tokio::test]
async fn upcasters_apply_on_every_read() {
    on_postgres("em_upcast", scenarios::upcasters_apply_on_every_read).await;
}

#[tokio::test]
async fn nothing_of_a_rolled_back_or_failed_append_is_kept() {
    on_postgres(
        "em_rollback",
        scenarios::nothing_of_a_rolled_back_or_failed_append_is_kept,
    )
    .await;
}

/// Saves a counter that records `Incremented` then `Labelled` through a store whose outbox
/// has `dispatcher`, expects the dispatch of `Labelled` to fail, checks that nothing of the
/// append was kept (no event, no outbox row), and returns the dispatch error's source.
async fn refused_labelled_append(prefix: &str, dispatcher: EventDispatcher) -> eventmap::BoxError {
    let db = TestDb::new(prefix).await;
    let store = PostgresStore::builder(db.pool.clone())
        .schema(db.schema.clone())
        .registry(registry())
        .outbox(dispatcher)
        .build()
        .await
        .unwrap();
    let mut counter = Counter::blank("c-1");
    counter.increment(2);
    counter.label("x");
    let err = store
        .save(&mut counter)
        .await
        .expect_err("Labelled cannot be dispatched");
    let StoreError::Backend(source) = err else {
        panic!("{err:?}")
    };
    let Ok(error) = source.downcast::<Error>() else {
        panic!("not an eventmap::sql::Error")
    };
    let Error::Outbox(dispatch) = *error else {
        panic!("{error:?}")
    };
    assert_eq!(dispatch.event_name, "Labelled");
    assert_eq!(db.count("eventmap_events", "").await, 0);
    assert_eq!(db.count("eventmap_outbox", "").await, 0);
    db.cleanup().await;
    dispatch.source
}

#[tokio::test]
async fn an_event_name_without_a_row_rolls_the_outbox_append_back() {
    within(async {
        // A table that maps `Labelled` payloads only under the name `Tagged`: an event named
        // `Labelled` has no row, so the append with it must leave nothing behind.
        let mut dispatcher = EventDispatcher::new();
        assert!(dispatcher.map_type::<Incremented>("incremented", &["Incremented"]));
        assert!(dispatcher.map_type::<Labelled>("tagged", &["Tagged"]));
        let source = refused_labelled_append("em_unmapped", dispatcher).await;
        let unmapped = source
            .downcast_ref::<eventmap::UnmappedEventName>()
            .expect("UnmappedEventName");
        assert_eq!(unmapped.expected, ["Tagged"]);
    })
    .await;
}

/// A table that does not name the `Labelled` type at all (no row, not `internal`): the
/// append with it is refused with `UnmappedEventType` and leaves nothing behind, instead of
/// storing the event and never publishing it.
#[tokio::test]
async fn an_event_type_no_table_names_rolls_the_outbox_append_back() {
    within(async {
        let mut dispatcher = EventDispatcher::new();
        assert!(dispatcher.map_type::<Incremented>("incremented", &["Incremented"]));
        let source = refused_labelled_append("em_unmapped_type", dispatcher).await;
        assert_eq!(
            source.downcast_ref(),
            Some(&eventmap::UnmappedEventType::new("Labelled", "Counter"))
        );
    })
    .await;
}

#[tokio::test]
async fn a_ce_type_of_its_own_goes_through_the_outbox_and_the_relay() {
    within(async {
        let db = TestDb::new("em_cetype").await;
        let mut outbox = EventDispatcher::new();
        outbox.subscribe_to::<Incremented>(
            eventmap::IntegrationEventHandler::new(
                OutboxWriter::shared(),
                COUNTER,
                INCREMENTED_EVENT,
                SOURCE,
                incremented_event,
            )
            .with_ce_type("com.example.counter.Incremented"),
        );
        let store = PostgresStore::builder(db.pool.clone())
            .schema(db.schema.clone())
            .registry(registry())
            .outbox(outbox)
            .build()
            .await
            .expect("store builds");
        let mut counter = Counter::blank("c-1");
        counter.increment(4);
        let saved = store.save(&mut counter).await.expect("save");

        // The outbox row keeps the name (subject token) and the headers with the type.
        let (name, subject, ce_type): (String, String, String) =
            eventmap::postgres::sqlx::query_as(&format!(
                "SELECT name, subject, \
                 (SELECT h->>1 FROM jsonb_array_elements(headers::jsonb) h WHERE h->>0 = 'ce-type') \
                 FROM \"{}\".eventmap_outbox",
                db.schema
            ))
            .fetch_one(&db.pool)
            .await
            .expect("outbox row");
        let subject_of_name = COUNTER.subject_for(INCREMENTED_EVENT);
        assert_eq!(
            (name.as_str(), subject.as_str(), ce_type.as_str()),
            (
                INCREMENTED_EVENT,
                subject_of_name.as_str(),
                "com.example.counter.Incremented"
            )
        );

        let publisher = InMemoryPublisher::new();
        let relay = Relay::new(
            db.pool.clone(),
            Arc::new(publisher.clone()),
            relay_config(&db),
        )
        .await
        .unwrap();
        drain(&relay).await;
        let published = publisher.messages();
        assert_eq!(published.len(), 1);
        assert_eq!(
            published[0].ce_type(),
            Some("com.example.counter.Incremented")
        );
        assert_eq!(published[0].subject, subject_of_name);
        assert_eq!(
            published[0].id,
            eventmap::integration_event_id(saved[0].id(), INCREMENTED_EVENT)
        );
        db.cleanup().await;
    })
    .await;
}

#[tokio::test]
async fn dispatch_after_save_mode_still_works() {
    within(async {
        let db = TestDb::new("em_dispatch").await;
        let store = db.store(false).await;
        let publisher = InMemoryPublisher::new();
        let mut dispatcher = EventDispatcher::new();
        register_integration_event_handlers(&mut dispatcher, Arc::new(publisher.clone()));
        let store = DispatchingStore::new(store, Arc::new(dispatcher));
        let mut counter = Counter::blank("c-1");
        counter.increment(4);
        store.save(&mut counter).await.unwrap();
        assert_eq!(publisher.len(), 1);
        assert_eq!(db.count("eventmap_outbox", "").await, 0);
        db.cleanup().await;
    })
    .await;
}

/// A publisher that fails first attempts in every way a broker can: not stored (transient),
/// stored but the ack lost, refused for good once; with small delays so that acks come
/// back out of order.
struct Flaky {
    inner: InMemoryPublisher,
    attempts: Mutex<HashMap<uuid::Uuid, u32>>,
    calls: AtomicU64,
}

#[async_trait::async_trait]
impl Publisher for Flaky {
    async fn publish(&self, message: &IntegrationMessage) -> Result<PublishReceipt, PublishError> {
        let call = self.calls.fetch_add(1, Ordering::Relaxed);
        let attempt = {
            let mut attempts = self.attempts.lock().unwrap();
            let n = attempts.entry(message.id).or_default();
            *n += 1;
            *n
        };
        // A publish latency of 0 to 1.8 ms, varied per call, is part of the scenario: acks
        // come back out of order, as from a broker, so the relay's per-aggregate order is
        // tested under reordering.
        tokio::time::sleep(Duration::from_micros(call % 7 * 300)).await;
        let pick = message.id.as_u128() % 13;
        if attempt == 1 {
            match pick {
                0 | 1 => {
                    return Err(PublishError::Timeout {
                        subject: message.subject.clone(),
                    });
                }
                2 => {
                    self.inner.publish(message).await?;
                    return Err(PublishError::Timeout {
                        subject: message.subject.clone(),
                    });
                }
                3 => {
                    return Err(PublishError::NoStream {
                        subject: message.subject.clone(),
                    });
                }
                _ => {}
            }
        }
        self.inner.publish(message).await
    }
}

#[tokio::test]
async fn relay_keeps_per_aggregate_order_when_pipelined_publishes_fail() {
    within(async {
        let db = TestDb::new("em_flaky").await;
        let store = db.store(true).await;
        let expected = append_increments(&store, 20, 30, 3, 4).await;
        let flaky = Arc::new(Flaky {
            inner: InMemoryPublisher::new(),
            attempts: Mutex::default(),
            calls: AtomicU64::new(0),
        });
        let relay = Relay::new(db.pool.clone(), flaky.clone(), relay_config(&db))
            .await
            .unwrap();
        drain(&relay).await;
        let stats = relay.stats();
        assert!(stats.failures > 0, "{stats:?}");
        assert!(
            stats.duplicates > 0,
            "some stored-but-unacked rows were re-sent: {stats:?}"
        );
        assert_eq!(stats.published + stats.duplicates, 600, "{stats:?}");
        let published = versions(&flaky.inner.messages());
        for (aggregate, count) in &expected {
            assert_eq!(
                published.get(aggregate).cloned().unwrap_or_default(),
                (1..=*count).collect::<Vec<_>>(),
                "{aggregate}"
            );
        }
        assert_eq!(
            db.count("eventmap_outbox", "WHERE published_at IS NULL")
                .await,
            0
        );
        db.cleanup().await;
    })
    .await;
}

/// Answers every publish with "no responders", as a missing stream does, and as a stream of
/// a JetStream cluster does while it elects a leader; counts the publishes.
#[derive(Default)]
struct NoResponders {
    calls: AtomicU64,
}

#[async_trait::async_trait]
impl Publisher for NoResponders {
    async fn publish(&self, message: &IntegrationMessage) -> Result<PublishReceipt, PublishError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(5)).await;
        Err(PublishError::NoStream {
            subject: message.subject.clone(),
        })
    }
}

/// "No responders" is a refusal of its row, not a halt: each aggregate's row is tried once per
/// round (the answer comes at once), the round is not halted and the next one does not probe
/// (a probe would be the lowest row, refused again, and every aggregate would wait behind
/// it until it is parked past `no_stream_grace`).
#[tokio::test]
async fn no_responders_refuse_their_rows_without_halting_the_round() {
    within(async {
        let db = TestDb::new("em_noresp").await;
        let store = db.store(true).await;
        append_increments(&store, 20, 1, 1, 1).await;
        let absent = Arc::new(NoResponders::default());
        let config = relay_config(&db).max_in_flight(4);
        let relay = Relay::new(db.pool.clone(), absent.clone(), config)
            .await
            .unwrap();
        let first = relay.run_once().await.unwrap();
        assert_eq!(
            (first.selected, first.failed, first.held_back, first.halted),
            (20, 20, 0, false),
            "{first:?}"
        );
        assert_eq!(absent.calls.load(Ordering::SeqCst), 20);
        assert!(
            first
                .error
                .as_deref()
                .is_some_and(|e| e.contains("no stream stores")),
            "{first:?}"
        );
        // No probe: every row is tried again; none is parked within the grace.
        let second = relay.run_once().await.unwrap();
        assert_eq!(
            (
                second.failed,
                second.held_back,
                second.parked,
                second.halted
            ),
            (20, 0, 0, false),
            "{second:?}"
        );
        assert_eq!(absent.calls.load(Ordering::SeqCst), 40);
        db.cleanup().await;
    })
    .await;
}

#[tokio::test]
async fn rows_held_by_another_relay_fence_their_aggregate() {
    within(async {
        let db = TestDb::new("em_fence").await;
        let store = db.store(true).await;
        let expected = append_increments(&store, 3, 4, 1, 1).await;
        let publisher = InMemoryPublisher::new();
        let relay = Relay::new(
            db.pool.clone(),
            Arc::new(publisher.clone()),
            relay_config(&db),
        )
        .await
        .unwrap();

        // "Another relay" holds c-0's first row.
        let mut other = db.pool.begin().await.unwrap();
        eventmap::postgres::sqlx::query(&format!(
            "SELECT id FROM \"{}\".eventmap_outbox WHERE aggregate_id = 'c-0' ORDER BY id LIMIT 1 FOR UPDATE",
            db.schema
        ))
        .fetch_one(&mut *other)
        .await
        .unwrap();
        let report = relay.run_once().await.unwrap();
        assert_eq!((report.selected, report.published, report.held_back), (11, 8, 3), "{report:?}");
        assert!(!versions(&publisher.messages()).contains_key("c-0"));
        other.rollback().await.unwrap();

        drain(&relay).await;
        let published = versions(&publisher.messages());
        for (aggregate, count) in &expected {
            assert_eq!(published[aggregate], (1..=*count).collect::<Vec<_>>());
        }
        db.cleanup().await;
    })
    .await;
}

#[tokio::test]
async fn a_late_commit_is_not_skipped() {
    within(async {
        let db = TestDb::new("em_late").await;
        let store = db.store(true).await;
        let publisher = InMemoryPublisher::new();
        let relay = Relay::new(
            db.pool.clone(),
            Arc::new(publisher.clone()),
            // Rows kept, so that their ids can be compared below.
            relay_config(&db).delete_published(false),
        )
        .await
        .unwrap();

        // `late` takes the lower outbox id but commits after `early` was published.
        let mut late = Counter::blank("late");
        late.increment(1);
        let mut tx = store.begin().await.unwrap();
        tx.append(&late).await.unwrap();
        let mut early = Counter::blank("early");
        early.increment(1);
        store.save(&mut early).await.unwrap();
        assert_eq!(relay.run_once().await.unwrap().published, 1);
        tx.commit().await.unwrap();
        assert_eq!(relay.run_once().await.unwrap().published, 1);

        let names: Vec<String> = publisher
            .messages()
            .iter()
            .map(|m| m.header(headers::AGGREGATE_ID).unwrap().to_owned())
            .collect();
        assert_eq!(names, ["early", "late"]);
        let ids: Vec<String> = eventmap::postgres::sqlx::query_scalar(&format!(
            "SELECT aggregate_id FROM \"{}\".eventmap_outbox ORDER BY id",
            db.schema
        ))
        .fetch_all(&db.pool)
        .await
        .unwrap();
        assert_eq!(ids, ["late", "early"], "late has the lower id");
        db.cleanup().await;
    })
    .await;
}

#[tokio::test]
async fn notify_wakes_the_relay_before_the_poll_interval() {
    within(async {
        let db = TestDb::new("em_notify").await;
        let store = db.store(true).await;
        let publisher = InMemoryPublisher::new();
        let relay = Relay::new(
            db.pool.clone(),
            Arc::new(publisher.clone()),
            relay_config(&db)
                .listen(true)
                .poll_interval(Duration::from_secs(600)),
        )
        .await
        .unwrap();
        let running = relay.spawn();
        // The listener wakes the relay once it is listening: a second round (the first runs at
        // start, and nothing else wakes an idle relay before the 600 s poll) means it is.
        let every = Duration::from_millis(20);
        let listening = eventually(Duration::from_secs(10), every, async || {
            relay.stats().rounds >= 2
        })
        .await;
        assert!(
            listening,
            "the relay's listener did not connect within 10 s"
        );
        for n in 1..=3 {
            let mut counter = Counter::blank(&format!("c-{n}"));
            counter.increment(n);
            store.save(&mut counter).await.unwrap();
            let woken = eventually(Duration::from_secs(5), every, async || {
                publisher.len() >= n as usize
            })
            .await;
            assert!(woken, "not woken by NOTIFY within 5 s");
        }
        running.stop().await.unwrap();
        db.cleanup().await;
    })
    .await;
}

/// The constructors' futures can be spawned on a multi-thread runtime: `Send` for every
/// lifetime (sqlx's `raw_sql(..).execute(&mut *tx)` made them not, sqlx issue #3150). A
/// compile-time check: the test only has to build.
#[test]
fn constructor_futures_are_send() {
    fn spawnable<F: std::future::Future + Send + 'static>(_: impl FnOnce() -> F) {}
    spawnable(|| async {
        let pool = sqlx::PgPool::connect_lazy("postgres://localhost/none").expect("lazy pool");
        let publisher: Arc<dyn eventmap::Publisher> = Arc::new(eventmap::InMemoryPublisher::new());
        let relay = Relay::new(pool.clone(), publisher, RelayConfig::default()).await;
        let store = PostgresStore::builder(pool.clone()).build().await;
        let inbox = eventmap::postgres::Inbox::new(pool, "eventmap").await;
        (relay.is_ok(), store.is_ok(), inbox.is_ok())
    });
}

/// Spawns `relay`, waits until the outbox has no unpublished row (at most 30 s), stops it.
async fn run_until_drained(relay: &Relay) {
    let running = relay.spawn();
    let drained = eventually(
        Duration::from_secs(30),
        Duration::from_millis(20),
        async || relay.backlog().await.expect("backlog") == 0,
    )
    .await;
    running.stop().await.expect("relay stops");
    assert!(
        drained,
        "the relay did not drain the outbox: {:?}",
        relay.stats()
    );
}

/// Asserts that `messages` hold versions 1..=n of every aggregate of `expected`, in order.
fn assert_in_order(messages: &[IntegrationMessage], expected: &BTreeMap<String, u64>) {
    let published = versions(messages);
    for (aggregate, count) in expected {
        assert_eq!(
            published.get(aggregate).cloned().unwrap_or_default(),
            (1..=*count).collect::<Vec<_>>(),
            "{aggregate}"
        );
    }
}

#[tokio::test]
async fn a_pool_too_small_to_overlap_rounds_runs_them_one_after_the_other() {
    within(async {
        let db = TestDb::new("em_small_pool").await;
        let store = db.store(true).await;
        let expected = append_increments(&store, 25, 24, 4, 5).await;
        // Two connections, one of which the LISTEN connection keeps: overlapped rounds would
        // wait the pool's acquire timeout for their second connection, every round.
        let pool = eventmap::postgres::sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(10))
            .connect(&database_url())
            .await
            .unwrap();
        let publisher = InMemoryPublisher::new();
        let relay = Relay::new(
            pool,
            Arc::new(publisher.clone()),
            relay_config(&db).batch_size(30).pipeline(true).listen(true),
        )
        .await
        .unwrap();
        let started = std::time::Instant::now();
        let running = relay.spawn();
        let drained = eventually(
            Duration::from_secs(8),
            Duration::from_millis(20),
            async || publisher.len() == 600,
        )
        .await;
        running.stop().await.unwrap();
        assert!(drained, "{:?} after {:?}", relay.stats(), started.elapsed());
        assert_in_order(&publisher.messages(), &expected);
        db.cleanup().await;
    })
    .await;
}

/// A publisher that takes its `Duration` to store each message.
struct Slow(InMemoryPublisher, Duration);

#[async_trait::async_trait]
impl Publisher for Slow {
    async fn publish(&self, message: &IntegrationMessage) -> Result<PublishReceipt, PublishError> {
        tokio::time::sleep(self.1).await;
        self.0.publish(message).await
    }
}

#[tokio::test]
async fn stop_is_honoured_while_rounds_follow_each_other_on_a_backlog() {
    within(async {
        let db = TestDb::new("em_stop_backlog").await;
        let store = db.store(true).await;
        append_increments(&store, 100, 30, 6, 4).await;
        let publisher = InMemoryPublisher::new();
        // About 800 messages a second: the 3,000 rows take seconds to drain.
        let slow = Slow(publisher.clone(), Duration::from_millis(5));
        let relay = Relay::new(
            db.pool.clone(),
            Arc::new(slow),
            relay_config(&db).batch_size(100).max_in_flight(4),
        )
        .await
        .unwrap();
        let running = relay.spawn();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let asked = std::time::Instant::now();
        running.stop().await.unwrap();
        let stopping = asked.elapsed();
        let left = db.count("eventmap_outbox", "").await;
        assert!(stopping < Duration::from_secs(2), "stop took {stopping:?}");
        assert!(left > 0, "the backlog drained before the stop took effect");
        // Every row acknowledged was deleted, every other one is still there.
        assert_eq!(publisher.len() as i64 + left, 3000, "{:?}", relay.stats());
        db.cleanup().await;
    })
    .await;
}

#[tokio::test]
async fn pipelined_rounds_keep_per_aggregate_order() {
    within(async {
        let db = TestDb::new("em_pipe").await;
        let store = db.store(true).await;
        // 4 events per transaction: an aggregate's rows are adjacent, so batches of 30 cut
        // through aggregates and each round's rows fence the next round's.
        let expected = append_increments(&store, 25, 24, 4, 5).await;
        let publisher = InMemoryPublisher::new();
        let relay = Relay::new(
            db.pool.clone(),
            Arc::new(publisher.clone()),
            relay_config(&db).batch_size(30).pipeline(true),
        )
        .await
        .unwrap();
        run_until_drained(&relay).await;
        let stats = relay.stats();
        assert_eq!((stats.published, stats.duplicates), (600, 0), "{stats:?}");
        assert_eq!(publisher.len(), 600);
        assert_in_order(&publisher.messages(), &expected);

        // The same through failures of every kind (sequential rounds after a failure).
        let db2 = TestDb::new("em_pipe_flaky").await;
        let store = db2.store(true).await;
        let expected = append_increments(&store, 20, 30, 4, 4).await;
        let flaky = Arc::new(Flaky {
            inner: InMemoryPublisher::new(),
            attempts: Mutex::default(),
            calls: AtomicU64::new(0),
        });
        let relay = Relay::new(
            db2.pool.clone(),
            flaky.clone(),
            relay_config(&db2).batch_size(30).pipeline(true),
        )
        .await
        .unwrap();
        run_until_drained(&relay).await;
        let stats = relay.stats();
        assert!(stats.failures > 0, "{stats:?}");
        assert_eq!(stats.published + stats.duplicates, 600, "{stats:?}");
        assert_in_order(&flaky.inner.messages(), &expected);
        db.cleanup().await;
        db2.cleanup().await;
    })
    .await;
}

#[tokio::test]
async fn a_row_committed_late_below_pipelined_rounds_is_sent_before_the_backlog_ends() {
    within(async {
        let db = TestDb::new("em_pipe_late").await;
        let store = db.store(true).await;
        // A row that draws its id first and commits only once the relay is well into the
        // backlog: overlapped rounds select past the rows of the round being sent, so this row
        // is below every one of them; a periodic select from the first row must find it.
        let mut late = db.pool.begin().await.unwrap();
        eventmap::postgres::sqlx::query(&format!(
            "INSERT INTO \"{}\".eventmap_outbox (message_id, aggregate_type, aggregate_id, \
             aggregate_version, subject, name, headers, payload) \
             VALUES (gen_random_uuid(), 'Late', 'late-1', 1, 'test.late', 'LateEvent', \
             '[[\"ce-type\", \"LateEvent\"], [\"ce-aggregateid\", \"late-1\"], \
             [\"ce-aggregateversion\", \"1\"]]', '\\x01')",
            db.schema
        ))
        .execute(&mut *late)
        .await
        .unwrap();
        // One event per aggregate: no round holds rows back behind another (that too makes
        // the next round select from the first row), only the periodic select finds the row.
        let expected = append_increments(&store, 1_200, 1, 1, 4).await;
        let publisher = InMemoryPublisher::new();
        // Rounds of 30 rows, all in flight at once, 10 ms each: the 1,200 rows take about half
        // a second, in rounds that follow each other overlapped.
        let slow = Slow(publisher.clone(), Duration::from_millis(10));
        let relay = Relay::new(
            db.pool.clone(),
            Arc::new(slow),
            relay_config(&db).batch_size(30).pipeline(true),
        )
        .await
        .unwrap();
        let running = relay.spawn();
        assert!(
            eventually(
                Duration::from_secs(20),
                Duration::from_millis(2),
                async || publisher.len() >= 150,
            )
            .await,
            "{:?}",
            relay.stats()
        );
        late.commit().await.unwrap();
        let committed_at = publisher.len();
        let is_late = |m: &IntegrationMessage| m.name == "LateEvent";
        assert!(
            eventually(
                Duration::from_secs(20),
                Duration::from_millis(2),
                async || publisher.messages().iter().any(is_late),
            )
            .await,
            "the late row was never sent: {:?}",
            relay.stats()
        );
        let messages = publisher.messages();
        let sent_at = messages.iter().position(is_late).unwrap();
        // At most eight overlapped rounds (of 30 rows) pass before one selects from the first
        // row, plus the two in flight: the row does not wait for the 1,200-row backlog.
        assert!(
            sent_at < committed_at + 12 * 30,
            "the late row was sent after {sent_at} messages, committed after {committed_at}"
        );
        assert!(sent_at < 1_000, "sent after {sent_at} of 1,201 messages");
        running.stop().await.unwrap();
        run_until_drained(&relay).await;
        let messages = publisher.messages();
        assert_eq!(messages.len(), 1_201, "{:?}", relay.stats());
        assert_in_order(&messages, &expected);
        db.cleanup().await;
    })
    .await;
}

#[tokio::test]
async fn published_rows_are_purged_past_the_retention_and_unpublished_ones_kept() {
    within(async {
        let db = TestDb::new("em_purge").await;
        let store = db.store(true).await;
        let expected = append_increments(&store, 10, 3, 1, 1).await;
        let publisher = InMemoryPublisher::new();
        let config = relay_config(&db)
            .batch_size(10)
            .delete_published(false)
            .retention(Some(Duration::ZERO))
            .purge(Duration::from_millis(50), 3);
        let relay = Relay::new(db.pool.clone(), Arc::new(publisher.clone()), config)
            .await
            .unwrap();
        assert_eq!(relay.run_once().await.unwrap().published, 10);
        // Not old enough: nothing goes.
        assert_eq!(
            relay
                .purge_published(Duration::from_secs(3600))
                .await
                .unwrap(),
            0
        );
        assert_eq!(db.count("eventmap_outbox", "").await, 30);
        // In statements of 3 rows: the 10 published rows go, the 20 unpublished stay.
        assert_eq!(relay.purge_published(Duration::ZERO).await.unwrap(), 10);
        assert_eq!(db.count("eventmap_outbox", "").await, 20);
        assert_eq!(
            db.count("eventmap_outbox", "WHERE published_at IS NULL")
                .await,
            20
        );

        // `run` purges by itself: the rest is published, then deleted.
        let running = relay.spawn();
        let purged = eventually(
            Duration::from_secs(10),
            Duration::from_millis(20),
            async || db.count("eventmap_outbox", "").await == 0,
        )
        .await;
        running.stop().await.unwrap();
        assert!(
            purged,
            "rows left: {}",
            db.count("eventmap_outbox", "").await
        );
        assert_eq!(publisher.len(), 30);
        assert_in_order(&publisher.messages(), &expected);
        db.cleanup().await;
    })
    .await;
}

#[tokio::test]
async fn by_default_a_row_is_deleted_in_the_round_that_publishes_it() {
    within(async {
        let db = TestDb::new("em_delete_published").await;
        let store = db.store(true).await;
        let expected = append_increments(&store, 10, 3, 1, 1).await;
        let publisher = InMemoryPublisher::new();
        // An outbox whose first rows were marked published by a relay that keeps them (as
        // every relay before deleting became the default did) ...
        let keeping = Relay::new(
            db.pool.clone(),
            Arc::new(publisher.clone()),
            relay_config(&db).batch_size(10).delete_published(false),
        )
        .await
        .unwrap();
        assert_eq!(keeping.run_once().await.unwrap().published, 10);
        assert_eq!(
            db.count("eventmap_outbox", "WHERE published_at IS NOT NULL")
                .await,
            10
        );
        // ... then relayed with the default: each row it publishes is gone after its round,
        // the marked ones stay until the retention purge.
        let config = relay_config(&db).batch_size(10);
        assert!(config.delete_published);
        let relay = Relay::new(db.pool.clone(), Arc::new(publisher.clone()), config)
            .await
            .unwrap();
        assert_eq!(relay.run_once().await.unwrap().published, 10);
        assert_eq!(db.count("eventmap_outbox", "").await, 20);
        assert_eq!(relay.run_once().await.unwrap().published, 10);
        assert_eq!(
            db.count("eventmap_outbox", "WHERE published_at IS NULL")
                .await,
            0
        );
        assert_eq!(db.count("eventmap_outbox", "").await, 10);
        assert_eq!(relay.run_once().await.unwrap().selected, 0);
        assert_eq!(relay.purge_published(Duration::ZERO).await.unwrap(), 10);
        assert_eq!(db.count("eventmap_outbox", "").await, 0);
        assert_eq!(publisher.len(), 30);
        assert_in_order(&publisher.messages(), &expected);
        db.cleanup().await;
    })
    .await;
}

#[tokio::test]
async fn the_purge_never_deletes_an_unpublished_row() {
    within(async {
        let db = TestDb::new("em_purge_unpub").await;
        let store = db.store(true).await;
        append_increments(&store, 5, 2, 1, 1).await;
        let absent = Arc::new(NoResponders::default());
        let config = relay_config(&db)
            .retention(Some(Duration::ZERO))
            .purge(Duration::from_millis(20), 2);
        let relay = Relay::new(db.pool.clone(), absent.clone(), config)
            .await
            .unwrap();
        let running = relay.spawn();
        // Several purge intervals and failed rounds.
        let tried = eventually(
            Duration::from_secs(10),
            Duration::from_millis(20),
            async || absent.calls.load(Ordering::SeqCst) >= 3,
        )
        .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        running.stop().await.unwrap();
        assert!(tried, "{:?}", relay.stats());
        assert_eq!(
            db.count("eventmap_outbox", "WHERE published_at IS NULL")
                .await,
            10
        );
        db.cleanup().await;
    })
    .await;
}

/// The WARN lines that `test` logs (a subscriber of this thread only: the test runs on a
/// current-thread runtime).
async fn warnings_of<F: std::future::Future>(test: F) -> (F::Output, String) {
    let lines: Arc<Mutex<Vec<u8>>> = Arc::default();
    let sink = lines.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .with_writer(move || SharedWriter(sink.clone()))
        .finish();
    let output = {
        let _guard = tracing::subscriber::set_default(subscriber);
        test.await
    };
    let text = String::from_utf8_lossy(&lines.lock().unwrap()).into_owned();
    (output, text)
}

/// A `std::io::Write` into a shared buffer, for [`warnings_of`].
struct SharedWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for SharedWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_relay_on_an_empty_schema_warns_of_the_outbox_in_another() {
    within(async {
        // The store writes to its own schema; a relay left at another (the default
        // `eventmap`, here a fresh one) would poll an empty outbox for ever.
        let db = TestDb::new("relay_warn").await;
        let store = db.store(true).await;
        let mut counter = Counter::blank("c-1");
        counter.increment(1);
        store.save(&mut counter).await.expect("saved");
        let elsewhere = TestDb::new("relay_elsewhere").await;
        let publisher: Arc<dyn Publisher> = Arc::new(InMemoryPublisher::new());
        let (relay, warned) = warnings_of(Relay::new(
            db.pool.clone(),
            publisher.clone(),
            RelayConfig::default().schema(elsewhere.schema.clone()),
        ))
        .await;
        relay.expect("relay");
        assert!(
            warned.contains("RelayConfig::schema") && warned.contains(&db.schema),
            "{warned}"
        );
        // On the store's own schema (rows there): no warning.
        let (relay, warned) =
            warnings_of(Relay::new(db.pool.clone(), publisher, relay_config(&db))).await;
        relay.expect("relay");
        assert!(!warned.contains("RelayConfig::schema"), "{warned}");
        elsewhere.cleanup().await;
        db.cleanup().await;
    })
    .await;
}
