//! Fault tests of the transactional outbox: PostgreSQL (DATABASE_URL, default the machine's
//! `test` database, a schema per test) and a private `nats-server -js` per test.
//!
//! Each ends by reading the whole stream with a consumer and checking: exactly the committed
//! events, each stored once (stream message count and distinct `ce-id`s), every aggregate's
//! versions 1..n in stream order. `EVENTMAP_FAULT_EVENTS` sets the size of the big ones
//! (default 10,000 events over 200 aggregates).

mod pg;

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use eventmap::nats::async_nats::{self, jetstream::Context};
use eventmap::nats::{JetStreamPublisher, provision_streams};
use eventmap::postgres::{PostgresStore, Relay, RelayConfig, RelayStats};
use eventmap::test_util::LocalServer;
use eventmap::{AggregateStore, EventSourced, StoreError};
use pg::*;
use tokio::process::{Child, Command};

/// Upper bound of each test.
const LIMIT: Duration = Duration::from_secs(240);

struct Setup {
    db: TestDb,
    store: PostgresStore,
    server: LocalServer,
    jetstream: Context,
}

async fn connect(server: &LocalServer) -> Context {
    let client = tokio::time::timeout(Duration::from_secs(10), async_nats::connect(server.url()))
        .await
        .expect("connect timed out")
        .expect("connect");
    let mut jetstream = async_nats::jetstream::new(client);
    jetstream.set_timeout(Duration::from_secs(2));
    jetstream
}

async fn setup(prefix: &str) -> Setup {
    let db = TestDb::new(prefix).await;
    let store = db.store(true).await;
    let server = LocalServer::start()
        .await
        .unwrap_or_else(|err| panic!("cannot start nats-server: {err}"));
    let jetstream = connect(&server).await;
    provision_streams(&jetstream, &[COUNTER])
        .await
        .expect("provision");
    Setup {
        db,
        store,
        server,
        jetstream,
    }
}

fn relay_config(db: &TestDb) -> RelayConfig {
    RelayConfig::default()
        .schema(db.schema.clone())
        .poll_interval(Duration::from_millis(200))
        .publish_timeout(Duration::from_secs(3))
        .backoff(Duration::from_millis(50), Duration::from_secs(1))
}

/// An in-process relay on its own pool and NATS connection, running until stopped.
struct RunningRelay {
    relay: Relay,
    running: eventmap::postgres::RunningRelay,
}

impl RunningRelay {
    async fn start(setup: &Setup, config: RelayConfig) -> Self {
        let jetstream = connect(&setup.server).await;
        let relay = Relay::new(
            setup.db.pool.clone(),
            Arc::new(JetStreamPublisher::new(jetstream.clone())),
            config,
        )
        .await
        .expect("relay");
        let checks = relay
            .check_duplicate_windows(&jetstream, [COUNTER.stream])
            .await;
        assert!(checks.iter().all(|c| c.covers()), "{checks:?}");
        let running = relay.spawn();
        Self { relay, running }
    }

    async fn stop(self) -> RelayStats {
        self.running.stop().await.expect("relay run");
        self.relay.stats()
    }
}

async fn unpublished(db: &TestDb) -> i64 {
    db.count("eventmap_outbox", "WHERE published_at IS NULL")
        .await
}

async fn wait_drained(db: &TestDb, limit: Duration) {
    let every = Duration::from_millis(50);
    let drained = eventually(limit, every, async || unpublished(db).await == 0).await;
    assert!(
        drained,
        "{} outbox rows still unpublished after {limit:?}",
        unpublished(db).await
    );
}

async fn stream_messages(jetstream: &Context) -> u64 {
    match jetstream.get_stream(COUNTER.stream).await {
        Ok(mut stream) => stream.info().await.map_or(0, |info| info.state.messages),
        Err(_) => 0,
    }
}

async fn verify(setup: &Setup, expected: &BTreeMap<String, u64>) -> Observed {
    let total: u64 = expected.values().sum();
    let jetstream = connect(&setup.server).await;
    let observed = consume_all(&jetstream, total, Duration::from_secs(60)).await;
    observed.assert_exactly(expected);
    observed
}

/// 1. The broker goes away after about half the events were published and comes back a few
///    seconds later, while commands keep appending.
#[tokio::test]
async fn broker_outage_loses_nothing_and_duplicates_nothing() {
    within(LIMIT, async {
        let mut setup = setup("em_outage").await;
        let n = fault_events();
        let aggregates = 200;
        let per_aggregate = n / aggregates;
        let relay = RunningRelay::start(&setup, relay_config(&setup.db)).await;
        let writer = tokio::spawn({
            let store = setup.store.clone();
            async move { append_increments(&store, aggregates, per_aggregate, 5, 4).await }
        });
        let total = (aggregates * per_aggregate) as u64;
        let half = eventually(
            Duration::from_secs(120),
            Duration::from_millis(5),
            async || relay.relay.stats().published >= total / 2,
        )
        .await;
        assert!(half, "half not published in time");
        setup.server.stop().await.expect("stop nats");
        let at_stop = relay.relay.stats();
        // The outage itself, the fault under test: the broker stays away for a few seconds
        // while the writer keeps appending and the relay keeps failing and backing off.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let during = relay.relay.stats();
        setup.server.restart().await.expect("restart nats");
        let expected = writer.await.expect("writer");
        wait_drained(&setup.db, Duration::from_secs(120)).await;
        let stats = relay.stop().await;
        eprintln!(
            "outage: published {} at stop; during the outage {} failures, backlog {}, retrying {}; \
             at the end {stats:?}",
            at_stop.published, during.failures, during.backlog, during.retrying
        );
        assert!(during.failures > at_stop.failures, "the outage was noticed");
        let observed = verify(&setup, &expected).await;
        eprintln!(
            "consumer: {} deliveries for {total} events",
            observed.deliveries
        );
        setup.db.cleanup().await;
    })
    .await;
}

fn spawn_relay(setup: &Setup, batch: u32, in_flight: usize) -> Child {
    Command::new(env!("CARGO_BIN_EXE_eventmap-relay"))
        .env("DATABASE_URL", database_url())
        .env("NATS_URL", setup.server.url())
        .env("EVENTMAP_SCHEMA", &setup.db.schema)
        .env("EVENTMAP_STREAMS", COUNTER.stream)
        .env("EVENTMAP_RELAY_BATCH", batch.to_string())
        .env("EVENTMAP_RELAY_IN_FLIGHT", in_flight.to_string())
        .env("EVENTMAP_RELAY_POLL_MS", "200")
        .env("EVENTMAP_RELAY_MAX_BACKOFF_MS", "1000")
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn eventmap-relay")
}

/// 2. The relay process is killed (SIGKILL) in the middle of a batch; a new one takes over.
#[tokio::test]
async fn relay_killed_mid_batch_is_replaced_without_loss_or_duplicates() {
    within(LIMIT, async {
        let setup = setup("em_kill").await;
        let n = fault_events();
        let expected = append_increments(&setup.store, 200, n / 200, 5, 4).await;
        let total: u64 = expected.values().sum();

        // Big batches, few in flight: a batch takes long, and rows are marked only at its
        // end, so a kill at a third of the stream falls inside a batch.
        let mut first = spawn_relay(&setup, 2_000, 16);
        let going = eventually(
            Duration::from_secs(60),
            Duration::from_millis(2),
            async || stream_messages(&setup.jetstream).await >= total / 3,
        )
        .await;
        assert!(going, "the first relay did not get going");
        first.start_kill().expect("SIGKILL");
        let status = first.wait().await.expect("wait");
        assert!(!status.success(), "{status}");
        let stored = stream_messages(&setup.jetstream).await;
        let marked = total as i64 - unpublished(&setup.db).await;
        eprintln!("killed: {stored} messages in the stream, {marked} rows marked published");
        assert!(
            (marked as u64) < stored,
            "killed mid-batch: some acknowledged rows were not marked yet"
        );

        let mut second = spawn_relay(&setup, 500, 256);
        wait_drained(&setup.db, Duration::from_secs(120)).await;
        second.start_kill().expect("kill second relay");
        let _ = second.wait().await;
        verify(&setup, &expected).await;
        setup.db.cleanup().await;
    })
    .await;
}

/// 3. A command whose transaction rolls back (a failing statement after the append, an
///    explicit rollback, a failing conversion): nothing of it is published.
#[tokio::test]
async fn rolled_back_commands_publish_nothing() {
    within(LIMIT, async {
        let setup = setup("em_rollbk").await;
        let relay = RunningRelay::start(&setup, relay_config(&setup.db)).await;
        let mut expected = BTreeMap::new();
        for i in 0..20 {
            let id = format!("c-{i}");
            let mut counter = Counter::blank(&id);
            counter.increment(1);
            setup
                .store
                .save(&mut counter)
                .await
                .expect("committed command");
            match i % 3 {
                0 => {
                    let mut doomed = counter.clone();
                    doomed.increment(2);
                    let mut tx = setup.store.begin().await.unwrap();
                    tx.append(&doomed).await.unwrap();
                    let failed = eventmap::postgres::sqlx::query("SELECT 1 / 0")
                        .execute(tx.connection())
                        .await;
                    assert!(failed.is_err());
                    drop(tx);
                }
                1 => {
                    let mut doomed = counter.clone();
                    doomed.increment(2);
                    doomed.increment(3);
                    let mut tx = setup.store.begin().await.unwrap();
                    tx.append(&doomed).await.unwrap();
                    tx.rollback().await.unwrap();
                }
                _ => {
                    let mut doomed = counter.clone();
                    doomed.increment(u32::MAX);
                    assert!(setup.store.save(&mut doomed).await.is_err());
                }
            }
            // The aggregate goes on from its committed version.
            let mut counter: Counter = setup.store.load(&id).await.unwrap();
            counter.increment(4);
            setup.store.save(&mut counter).await.expect("next command");
            expected.insert(id, 2);
        }
        wait_drained(&setup.db, Duration::from_secs(60)).await;
        relay.stop().await;
        assert_eq!(setup.db.count("eventmap_events", "").await, 40);
        verify(&setup, &expected).await;
        setup.db.cleanup().await;
    })
    .await;
}

/// 4. Commands race on the same aggregates: losers get the conflict error and publish
///    nothing; the stream shows each aggregate's versions without gaps.
#[tokio::test]
async fn racing_commands_publish_only_the_winners() {
    within(LIMIT, async {
        let setup = setup("em_race").await;
        let relay = RunningRelay::start(&setup, relay_config(&setup.db)).await;

        // Deterministic: two copies of version 1, saved at once.
        let mut base = Counter::blank("duel");
        base.increment(1);
        setup.store.save(&mut base).await.unwrap();
        let mut a: Counter = setup.store.load("duel").await.unwrap();
        let mut b: Counter = setup.store.load("duel").await.unwrap();
        a.increment(10);
        b.increment(20);
        b.increment(30);
        let (ra, rb) = tokio::join!(setup.store.save(&mut a), setup.store.save(&mut b));
        let (winner, loser) = match (&ra, &rb) {
            (Ok(_), Err(_)) => (&a, &rb),
            (Err(_), Ok(_)) => (&b, &ra),
            other => panic!("exactly one save must win: {other:?}"),
        };
        assert!(
            matches!(loser, Err(StoreError::Conflict { expected: 1, .. })),
            "{loser:?}"
        );
        let mut expected = BTreeMap::from([("duel".to_owned(), winner.root.version())]);

        // Many: 8 workers, 5 aggregates, 40 commands each, reload and retry on conflict.
        let aggregates = 5;
        let mut workers = Vec::new();
        for w in 0..8 {
            let store = setup.store.clone();
            workers.push(tokio::spawn(async move {
                let mut conflicts = 0u64;
                for k in 0..40 {
                    let id = format!("race-{}", (w + k) % aggregates);
                    loop {
                        let loaded: Result<Counter, StoreError> = store.load(&id).await;
                        let mut counter = match loaded {
                            Ok(counter) => counter,
                            Err(StoreError::NotFound { .. }) => Counter::blank(&id),
                            Err(err) => panic!("load: {err}"),
                        };
                        counter.increment(1);
                        match store.save(&mut counter).await {
                            Ok(_) => break,
                            Err(StoreError::Conflict { .. }) => conflicts += 1,
                            Err(err) => panic!("save: {err}"),
                        }
                    }
                }
                conflicts
            }));
        }
        let mut conflicts = 0;
        for worker in workers {
            conflicts += worker.await.unwrap();
        }
        eprintln!("race: {conflicts} conflicts");
        assert!(conflicts > 0, "the workers did race");
        for i in 0..aggregates {
            let id = format!("race-{i}");
            let counter: Counter = setup.store.load(&id).await.unwrap();
            assert_eq!(
                counter.total,
                counter.root.version(),
                "one increment per version"
            );
            expected.insert(id, counter.root.version());
        }
        assert_eq!(expected.values().skip(1).sum::<u64>(), 8 * 40);
        wait_drained(&setup.db, Duration::from_secs(60)).await;
        relay.stop().await;
        verify(&setup, &expected).await;
        setup.db.cleanup().await;
    })
    .await;
}

/// 5. Two relays on one outbox: every event published once, and the relays did not both
///    send the same rows.
#[tokio::test]
async fn two_relays_publish_every_event_once() {
    within(LIMIT, async {
        let setup = setup("em_two").await;
        let n = fault_events();
        let config = relay_config(&setup.db).batch_size(250);
        let one = RunningRelay::start(&setup, config.clone()).await;
        let two = RunningRelay::start(&setup, config).await;
        let expected = append_increments(&setup.store, 200, n / 200, 5, 4).await;
        wait_drained(&setup.db, Duration::from_secs(120)).await;
        let one = one.stop().await;
        let two = two.stop().await;
        let total: u64 = expected.values().sum();
        eprintln!("relay one: {one:?}\nrelay two: {two:?}");
        assert_eq!(
            one.published + one.duplicates + two.published + two.duplicates,
            total,
            "each row was sent by one relay only"
        );
        assert_eq!(one.duplicates + two.duplicates, 0);
        verify(&setup, &expected).await;
        setup.db.cleanup().await;
    })
    .await;
}
