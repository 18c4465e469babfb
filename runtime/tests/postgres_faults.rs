//! Fault tests of the transactional outbox: PostgreSQL (DATABASE_URL, default the machine's
//! `test` database, a schema per test) and a private `nats-server -js` per test. The
//! scenarios shared with SQLite (outage, rollback, racing commands, duplicates) are in
//! `scenarios/mod.rs`.
//!
//! Each ends by reading the whole stream with a consumer and checking: exactly the committed
//! events, each stored once (stream message count and distinct `ce-id`s), every aggregate's
//! versions 1..n in stream order. `EVENTMAP_FAULT_EVENTS` sets the size of the big ones
//! (default 10,000 events over 200 aggregates).

mod pg;

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use eventmap::nats::JetStreamPublisher;
use eventmap::postgres::{Relay, RelayConfig, RelayStats};
use pg::scenarios::{self, Backend};
use pg::*;
use tokio::process::{Child, Command};

/// Upper bound of each test.
const LIMIT: Duration = Duration::from_secs(240);

struct Setup {
    backend: Postgres,
    broker: scenarios::Broker,
}

async fn setup(prefix: &str) -> Setup {
    let backend = Postgres::new(prefix).await;
    let broker = scenarios::Broker::start().await;
    Setup { backend, broker }
}

/// Runs a shared scenario on a schema and a broker of its own.
async fn on_postgres(prefix: &str, scenario: impl AsyncFnOnce(&Postgres, &scenarios::Broker)) {
    within(LIMIT, async {
        let backend = Postgres::new(prefix).await;
        let broker = scenarios::Broker::start().await;
        scenario(&backend, &broker).await;
        backend.db.cleanup().await;
    })
    .await;
}

/// An in-process relay on its own pool and NATS connection, running until stopped.
struct RunningRelay {
    relay: Relay,
    running: eventmap::postgres::RunningRelay,
}

impl RunningRelay {
    async fn start(setup: &Setup, config: RelayConfig) -> Self {
        let jetstream = scenarios::connect(&setup.broker.server).await;
        let relay = Relay::new(
            setup.backend.db.pool.clone(),
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

/// 1. The broker goes away after about half the events were published and comes back a few
///    seconds later, while commands keep appending.
#[tokio::test]
async fn broker_outage_loses_nothing_and_duplicates_nothing() {
    within(LIMIT, async {
        let mut setup = setup("em_outage").await;
        scenarios::broker_outage_loses_nothing_and_duplicates_nothing(
            &setup.backend,
            &mut setup.broker,
        )
        .await;
        setup.backend.db.cleanup().await;
    })
    .await;
}

fn spawn_relay(setup: &Setup, batch: u32, in_flight: usize) -> Child {
    Command::new(env!("CARGO_BIN_EXE_eventmap-relay"))
        .env("DATABASE_URL", database_url())
        .env("NATS_URL", setup.broker.server.url())
        .env("EVENTMAP_SCHEMA", &setup.backend.db.schema)
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
        let expected = append_increments(&setup.backend.store, 200, n / 200, 5, 4).await;
        let total: u64 = expected.values().sum();

        // Big batches, few in flight: a batch takes long, and rows are marked only at its
        // end, so a kill at a third of the stream falls inside a batch.
        let mut first = spawn_relay(&setup, 2_000, 16);
        let going = eventually(
            Duration::from_secs(60),
            Duration::from_millis(2),
            async || setup.broker.stream_messages().await >= total / 3,
        )
        .await;
        assert!(going, "the first relay did not get going");
        first.start_kill().expect("SIGKILL");
        let status = first.wait().await.expect("wait");
        assert!(!status.success(), "{status}");
        let stored = setup.broker.stream_messages().await;
        let marked = total as i64 - setup.backend.unpublished().await;
        eprintln!("killed: {stored} messages in the stream, {marked} rows marked published");
        assert!(
            (marked as u64) < stored,
            "killed mid-batch: some acknowledged rows were not marked yet"
        );

        let mut second = spawn_relay(&setup, 500, 256);
        scenarios::wait_drained(&setup.backend, Duration::from_secs(120)).await;
        second.start_kill().expect("kill second relay");
        let _ = second.wait().await;
        setup.broker.verify(&expected).await;
        setup.backend.db.cleanup().await;
    })
    .await;
}

/// 3. A command whose transaction rolls back (a failing statement after the append, an
///    explicit rollback, a failing conversion): nothing of it is published.
#[tokio::test]
async fn rolled_back_commands_publish_nothing() {
    on_postgres("em_rollbk", scenarios::rolled_back_commands_publish_nothing).await;
}

/// 4. Commands race on the same aggregates: losers get the conflict error and publish
///    nothing; the stream shows each aggregate's versions without gaps.
#[tokio::test]
async fn racing_commands_publish_only_the_winners() {
    on_postgres(
        "em_race",
        scenarios::racing_commands_publish_only_the_winners,
    )
    .await;
}

/// 7. A stream that takes fast batches gets every row in one.
#[tokio::test]
async fn the_outbox_goes_in_fast_batches_where_the_stream_takes_them() {
    on_postgres(
        "em_fast",
        scenarios::the_outbox_goes_in_fast_batches_where_the_stream_takes_them,
    )
    .await;
}

/// 6. Every row sent twice: the second copies are dropped by JetStream as duplicates.
#[tokio::test]
async fn re_sent_rows_are_dropped_as_duplicates() {
    on_postgres("em_dup", scenarios::re_sent_rows_are_dropped_as_duplicates).await;
}

/// 5. Two relays on one outbox: every event published once, and the relays did not both
///    send the same rows.
#[tokio::test]
async fn two_relays_publish_every_event_once() {
    within(LIMIT, async {
        let setup = setup("em_two").await;
        let n = fault_events();
        let config = relay_config(&setup.backend.db).batch_size(250);
        let one = RunningRelay::start(&setup, config.clone()).await;
        let two = RunningRelay::start(&setup, config).await;
        let expected = append_increments(&setup.backend.store, 200, n / 200, 5, 4).await;
        scenarios::wait_drained(&setup.backend, Duration::from_secs(120)).await;
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
        setup.broker.verify(&expected).await;
        setup.backend.db.cleanup().await;
    })
    .await;
}
