//! `Consumer::run_with_inbox` against the machine's PostgreSQL (DATABASE_URL, default the
//! `postgres` database at 127.0.0.1:5432) and a private `nats-server -js`, each test in a
//! schema of its own: a batch per transaction, duplicates skipped, a poison message isolated,
//! and each aggregate's events applied in version order across a consumer crash.

mod pg;

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Barrier;

use eventmap::BoxError;
use eventmap::nats::async_nats::{self, jetstream::Context};
use eventmap::nats::{
    Consumer, ConsumerReport, ConsumerSpec, Delivery, DeliveryPolicy, JetStreamPublisher,
    TransactionalHandler, provision_streams,
};
use eventmap::postgres::sqlx::{self, PgConnection};
use eventmap::postgres::{Inbox, Relay, RelayConfig};
use eventmap::test_util::LocalServer;
use pg::*;

/// Upper bound of each test.
const LIMIT: Duration = Duration::from_secs(120);

/// A schema with the inbox, a NATS server with the counter channel, and the table the
/// handler writes.
struct Fixture {
    db: TestDb,
    inbox: Inbox,
    jetstream: Context,
    applied: String,
    _server: LocalServer,
}

impl Fixture {
    async fn new(prefix: &str) -> Self {
        let db = TestDb::on(&database_url(), prefix).await;
        let inbox = Inbox::new(db.pool.clone(), &db.schema)
            .await
            .expect("inbox migrates");
        let applied = format!("\"{}\".applied", db.schema);
        sqlx::query(&format!(
            "CREATE TABLE {applied} (seq bigserial PRIMARY KEY, counter_id text NOT NULL, \
             version bigint NOT NULL)"
        ))
        .execute(&db.pool)
        .await
        .expect("applied table");
        let server = LocalServer::start()
            .await
            .unwrap_or_else(|err| panic!("cannot start nats-server: {err}"));
        let client = async_nats::connect(server.url()).await.expect("connect");
        let mut jetstream = async_nats::jetstream::new(client);
        jetstream.set_timeout(Duration::from_secs(5));
        provision_streams(&jetstream, &[COUNTER])
            .await
            .expect("provision");
        Self {
            db,
            inbox,
            jetstream,
            applied,
            _server: server,
        }
    }

    /// Appends `per_aggregate` increments to `aggregates` counters (one event per save,
    /// counters in turn, so the stream interleaves them) and relays them all.
    async fn publish(&self, aggregates: usize, per_aggregate: usize) -> BTreeMap<String, u64> {
        let store = self.db.store(true).await;
        let expected = append_increments(&store, aggregates, per_aggregate, 1, 1).await;
        let relay = Relay::new(
            self.db.pool.clone(),
            Arc::new(JetStreamPublisher::new(self.jetstream.clone())),
            RelayConfig::default()
                .schema(self.db.schema.clone())
                .listen(false),
        )
        .await
        .expect("relay");
        while relay.backlog().await.expect("backlog") > 0 {
            relay.run_once().await.expect("relay round");
        }
        expected
    }

    fn handler(&self, poison: Option<(&str, u64)>) -> Applier {
        Applier {
            insert: format!(
                "INSERT INTO {} (counter_id, version) VALUES ($1, $2)",
                self.applied
            ),
            calls: AtomicUsize::new(0),
            calls_by_counter: Mutex::default(),
            poison: poison.map(|(id, version)| (id.to_owned(), version)),
            meet: None,
            fail_once: Mutex::default(),
        }
    }

    /// The committed versions per counter, in the order they were applied.
    async fn applied(&self) -> BTreeMap<String, Vec<u64>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(&format!(
            "SELECT counter_id, version FROM {} ORDER BY seq",
            self.applied
        ))
        .fetch_all(&self.db.pool)
        .await
        .expect("applied rows");
        let mut by_counter: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for (counter, version) in rows {
            by_counter
                .entry(counter)
                .or_default()
                .push(u64::try_from(version).expect("positive version"));
        }
        by_counter
    }

    /// Completes once the consumer `durable` has nothing pending or unacknowledged.
    async fn drained(&self, durable: &str) {
        let stream = self
            .jetstream
            .get_stream(COUNTER.stream)
            .await
            .expect("stream");
        loop {
            let info = stream.consumer_info(durable).await.expect("consumer info");
            if info.num_pending == 0 && info.num_ack_pending == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Runs `durable` with `policy` until it drained the stream; returns its report.
    async fn run_until_drained(
        &self,
        durable: &str,
        policy: DeliveryPolicy,
        handler: &Applier,
    ) -> ConsumerReport {
        let consumer = start(&self.jetstream, durable, policy).await;
        consumer
            .run_with_inbox(&self.inbox, handler, self.drained(durable))
            .await
            .expect("run")
    }
}

async fn start(
    jetstream: &Context,
    durable: &str,
    policy: DeliveryPolicy,
) -> Consumer<CounterEvents> {
    Consumer::<CounterEvents>::start(jetstream, &ConsumerSpec::new(durable, &[]).policy(policy))
        .await
        .expect("consumer starts")
}

/// Writes `(counter, version)` of each increment; fails on `poison`, and on the first call
/// for a counter of `fail_once`. With `meet`, the
/// handler of each counter's first increment waits there for the others' (failing after
/// [`MEETING`]).
struct Applier {
    insert: String,
    calls: AtomicUsize,
    /// Handler calls per counter.
    calls_by_counter: Mutex<BTreeMap<String, usize>>,
    poison: Option<(String, u64)>,
    meet: Option<Barrier>,
    /// Counters whose first handler call fails (once).
    fail_once: Mutex<HashSet<String>>,
}

/// `mutex`'s guard (a panic elsewhere in the test poisons nothing worth keeping).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How long a handler waits at [`Applier::meet`].
const MEETING: Duration = Duration::from_secs(10);

impl TransactionalHandler<CounterEvents> for Applier {
    async fn handle(
        &self,
        conn: &mut PgConnection,
        delivery: &Delivery<CounterEvents>,
    ) -> Result<(), BoxError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let CounterEvents::Incremented(event) = &delivery.event;
        *lock(&self.calls_by_counter)
            .entry(event.counter_id.clone())
            .or_default() += 1;
        if lock(&self.fail_once).remove(&event.counter_id) {
            return Err(format!("{} fails once", event.counter_id).into());
        }
        if self
            .poison
            .as_ref()
            .is_some_and(|(id, version)| *id == event.counter_id && *version == event.version)
        {
            return Err(format!("poison {} v{}", event.counter_id, event.version).into());
        }
        if let Some(meet) = self.meet.as_ref().filter(|_| event.version == 1) {
            tokio::time::timeout(MEETING, meet.wait())
                .await
                .map_err(|_| format!("{} v1 met no other handler", event.counter_id))?;
        }
        sqlx::query(&self.insert)
            .bind(&event.counter_id)
            .bind(i64::try_from(event.version)?)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }
}

#[tokio::test]
async fn batches_apply_each_message_once_in_order_and_skip_duplicates() {
    applies_each_message_once_in_order(DeliveryPolicy::default().batch(50)).await;
}

#[tokio::test]
async fn batches_split_into_transactions_apply_each_message_once_in_order() {
    applies_each_message_once_in_order(DeliveryPolicy::default().batch(50).inbox_transactions(4))
        .await;
}

/// 20 counters of 10 increments and 4 of them sent again, run with `policy`: each applied
/// once, in order per counter, 204 handled.
async fn applies_each_message_once_in_order(policy: DeliveryPolicy) {
    within(LIMIT, async {
        let fixture = Fixture::new("em_inbox_batch").await;
        let expected = fixture.publish(20, 10).await;
        for sequence in [3, 50, 51, 199] {
            republish(&fixture.jetstream, sequence).await;
        }
        let handler = fixture.handler(None);
        let report = fixture.run_until_drained("batched", policy, &handler).await;

        assert_in_order(&fixture.applied().await, &expected, &[]);
        assert_eq!(
            handler.calls.load(Ordering::Relaxed),
            200,
            "no duplicate reached the handler"
        );
        assert_eq!(
            report,
            ConsumerReport {
                handled: 204,
                ..ConsumerReport::default()
            }
        );
        assert_eq!(
            fixture
                .db
                .count("eventmap_inbox", "WHERE consumer = 'batched'")
                .await,
            200
        );
        fixture.db.cleanup().await;
    })
    .await;
}

#[tokio::test]
async fn a_poison_message_is_isolated_and_its_aggregate_waits_for_it() {
    isolates_a_poison_message(1).await;
}

#[tokio::test]
async fn a_poison_message_rolls_back_only_its_own_transaction() {
    isolates_a_poison_message(3).await;
}

/// 4 counters of 5 increments, c-1 v3 failing on both deliveries, in batches split into
/// `transactions`: 19 applied in order per counter, c-1 v3 dead-lettered.
async fn isolates_a_poison_message(transactions: usize) {
    within(LIMIT, async {
        let fixture = Fixture::new("em_inbox_poison").await;
        let expected = fixture.publish(4, 5).await;
        let handler = fixture.handler(Some(("c-1", 3)));
        let policy = DeliveryPolicy::default()
            .inbox_transactions(transactions)
            .batch(100)
            .max_deliver(2)
            .backoff([Duration::from_millis(200)]);
        let report = fixture
            .run_until_drained("poisoned", policy, &handler)
            .await;

        // c-1 v4 and v5 waited until v3 was given up; the rest of its batch was applied.
        assert_in_order(&fixture.applied().await, &expected, &[("c-1", 3)]);
        assert_eq!(
            report,
            ConsumerReport {
                handled: 19,
                failed: 1,
                dead_lettered: 1,
                rejected: 0,
            }
        );
        assert_eq!(fixture.db.count("eventmap_inbox", "").await, 19);
        if transactions > 1 {
            // c-1 has a transaction of its own: only it was rolled back, the other counters'
            // events were each handled once (one transaction for all would have run some of
            // them again, one at a time, after the rollback).
            let calls = lock(&handler.calls_by_counter).clone();
            for counter in ["c-0", "c-2", "c-3"] {
                assert_eq!(
                    calls[counter], 5,
                    "{counter} handled once per event: {calls:?}"
                );
            }
        }
        fixture.db.cleanup().await;
    })
    .await;
}

#[tokio::test]
async fn after_a_consumer_crash_each_aggregate_is_applied_in_version_order() {
    applies_in_version_order_after_a_crash(1).await;
}

#[tokio::test]
async fn after_a_crash_mid_transactions_each_aggregate_is_applied_in_version_order() {
    applies_in_version_order_after_a_crash(4).await;
}

/// 50 counters of 20 increments; the first instance (batches split into `transactions`) is
/// dropped after 300 handler calls, the second drains the stream: every counter applied once
/// per version, in order.
async fn applies_in_version_order_after_a_crash(transactions: usize) {
    within(LIMIT, async {
        let fixture = Fixture::new("em_inbox_crash_order").await;
        let (aggregates, per_aggregate) = (50, 20);
        let expected = fixture.publish(aggregates, per_aggregate).await;
        let total = aggregates * per_aggregate;
        let policy = DeliveryPolicy::default()
            .inbox_transactions(transactions)
            .batch(40)
            .ack_wait(Duration::from_secs(2));

        // The first instance dies (its future dropped: no ack, no nak) in the middle of a
        // batch, after 300 handler calls.
        let first = fixture.handler(None);
        let consumer = start(&fixture.jetstream, "ordered", policy.clone()).await;
        let crashed = async {
            while first.calls.load(Ordering::Relaxed) < 300 {
                tokio::task::yield_now().await;
            }
        };
        tokio::select! {
            report = consumer.run_with_inbox(&fixture.inbox, &first, std::future::pending()) => {
                panic!("the first instance ended: {report:?}")
            }
            () = crashed => {}
        }
        let stream = fixture
            .jetstream
            .get_stream(COUNTER.stream)
            .await
            .expect("stream");
        let info = stream
            .consumer_info("ordered")
            .await
            .expect("consumer info");
        assert!(
            info.num_ack_pending > 0,
            "the crash left messages unacknowledged: {info:?}"
        );
        let committed = fixture.db.count("applied", "").await;

        // The second instance gets the messages never delivered at once and the unacked ones
        // only after the ack wait; it holds the later events of those aggregates meanwhile.
        let second = fixture.handler(None);
        let started = Instant::now();
        let report = fixture.run_until_drained("ordered", policy, &second).await;
        let elapsed = started.elapsed();

        assert_in_order(&fixture.applied().await, &expected, &[]);
        assert_eq!(fixture.db.count("applied", "").await, total as i64);
        assert_eq!(
            report.failed + report.dead_lettered + report.rejected,
            0,
            "{report:?}"
        );
        let remaining = total as i64 - committed;
        eprintln!(
            "crash mid-stream: {committed} applied before, {} left unacked; the restarted consumer \
             applied {remaining} in {:.2} s ({:.0} events/s, ack wait 2 s included)",
            info.num_ack_pending,
            elapsed.as_secs_f64(),
            remaining as f64 / elapsed.as_secs_f64()
        );
        fixture.db.cleanup().await;
    })
    .await;
}

#[tokio::test]
async fn two_instances_of_one_consumer_apply_each_message_once() {
    within(LIMIT, async {
        let fixture = Fixture::new("em_inbox_two").await;
        let expected = fixture.publish(40, 10).await;
        let policy = DeliveryPolicy::default().batch(25);
        let (first, second) = (fixture.handler(None), fixture.handler(None));
        // Both instances are started before either runs: started one after the other inside
        // the join, the first could drain the 400 messages while the second was still
        // creating its consumer (seen on a fast machine), and nothing would be shared.
        let first_consumer = start(&fixture.jetstream, "shared", policy.clone()).await;
        let second_consumer = start(&fixture.jetstream, "shared", policy).await;
        let (a, b) = tokio::join!(
            first_consumer.run_with_inbox(&fixture.inbox, &first, fixture.drained("shared")),
            second_consumer.run_with_inbox(&fixture.inbox, &second, fixture.drained("shared")),
        );
        let (a, b) = (a.expect("first runs"), b.expect("second runs"));

        let applied = fixture.applied().await;
        for (counter, count) in &expected {
            let mut versions = applied[counter].clone();
            versions.sort_unstable();
            assert_eq!(
                versions,
                (1..=*count).collect::<Vec<_>>(),
                "{counter}: each version once"
            );
        }
        assert_eq!(fixture.db.count("applied", "").await, 400);
        assert_eq!(
            a.failed + b.failed + a.dead_lettered + b.dead_lettered,
            0,
            "{a:?} {b:?}"
        );
        assert!(
            a.handled > 0 && b.handled > 0,
            "both instances took messages: {a:?} {b:?}"
        );
        fixture.db.cleanup().await;
    })
    .await;
}

#[tokio::test]
async fn the_transactions_of_a_batch_run_at_the_same_time() {
    within(LIMIT, async {
        let fixture = Fixture::new("em_inbox_parallel").await;
        let expected = fixture.publish(3, 4).await;
        // Each counter's first handler waits for the other two: only three transactions
        // under way at once get past it (one at a time, each would fail after `MEETING`).
        let handler = Applier {
            meet: Some(Barrier::new(3)),
            ..fixture.handler(None)
        };
        let policy = DeliveryPolicy::default()
            .inbox_transactions(3)
            .max_deliver(1);
        let report = fixture
            .run_until_drained("parallel", policy, &handler)
            .await;

        assert_in_order(&fixture.applied().await, &expected, &[]);
        assert_eq!(
            report,
            ConsumerReport {
                handled: 12,
                ..ConsumerReport::default()
            }
        );
        assert_eq!(handler.calls.load(Ordering::Relaxed), 12);
        fixture.db.cleanup().await;
    })
    .await;
}

#[tokio::test]
async fn a_transaction_of_one_message_that_failed_is_tried_again_alone() {
    within(LIMIT, async {
        let fixture = Fixture::new("em_inbox_retry_alone").await;
        let expected = fixture.publish(2, 1).await;
        // c-0's only event fails on its first call, as when a transaction fails because of
        // another (a deadlock, a timeout); c-1's, in the other transaction, commits. Tried
        // again alone, c-0's is applied; with one delivery allowed, settling it with the
        // error would dead-letter it.
        let handler = fixture.handler(None);
        lock(&handler.fail_once).insert("c-0".to_owned());
        let policy = DeliveryPolicy::default()
            .inbox_transactions(2)
            .max_deliver(1);
        let report = fixture.run_until_drained("alone", policy, &handler).await;

        assert_in_order(&fixture.applied().await, &expected, &[]);
        assert_eq!(
            report,
            ConsumerReport {
                handled: 2,
                ..ConsumerReport::default()
            }
        );
        assert_eq!(handler.calls.load(Ordering::Relaxed), 3);
        fixture.db.cleanup().await;
    })
    .await;
}
