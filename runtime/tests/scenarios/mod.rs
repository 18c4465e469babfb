//! Scenarios of the event store and the transactional outbox, written once and run on every
//! backend (`postgres_store.rs` and `sqlite_store.rs`, `postgres_faults.rs` and
//! `sqlite_faults.rs`): a [`Backend`] is a store with its outbox and relay; a [`Broker`] a
//! private `nats-server -js` with the counter's stream.
//!
//! Each scenario ends by reading the whole stream with a consumer and checking: exactly the
//! committed events, each stored once (stream message count and distinct `ce-id`s), every
//! aggregate's versions 1..n in stream order.
#![allow(dead_code, async_fn_in_trait)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use eventmap::nats::async_nats::{self, jetstream::Context};
use eventmap::nats::{JetStreamPublisher, provision_streams};
use eventmap::test_util::LocalServer;
use eventmap::{AggregateStore, EventSourced, Publisher, StoreError};

// The relay's settings, stats and handle are one type under both backends' paths.
use eventmap::AggregateEvent;
#[cfg(feature = "postgres")]
use eventmap::postgres::{
    Error, EventRegistry, RecordedEvent, RegistryError, RelayConfig, RelayStats, RunningRelay,
};
#[cfg(not(feature = "postgres"))]
use eventmap::sqlite::{
    Error, EventRegistry, RecordedEvent, RegistryError, RelayConfig, RelayStats, RunningRelay,
};

use super::counter::*;

/// How a doomed append ends ([`Backend::doomed_append`]).
#[derive(Debug, Clone, Copy)]
pub enum Doom {
    /// A statement of the application fails after the append; the transaction is dropped.
    FailingStatement,
    /// The transaction is rolled back explicitly.
    Rollback,
}

/// An event store with its outbox and relay, on a private schema or file.
pub trait Backend: Sync {
    /// The store, with the counter's outbox.
    type Store: AggregateStore<Counter> + Clone + Send + Sync + 'static;
    /// The relay.
    type Relay: Clone + Send + Sync + 'static;

    /// The store.
    fn store(&self) -> &Self::Store;
    /// Relay settings for the tests: [`relay_config`] (and the schema, on Postgres).
    fn relay_config(&self) -> RelayConfig;
    /// A relay publishing through `publisher`.
    async fn relay(&self, publisher: Arc<dyn Publisher>, config: RelayConfig) -> Self::Relay;
    /// Runs `relay` on a task of its own.
    fn spawn(relay: &Self::Relay) -> RunningRelay;
    /// The counters of `relay`.
    fn stats(relay: &Self::Relay) -> RelayStats;
    /// Appends `doomed`'s pending events in a transaction that then ends as `how` says.
    async fn doomed_append(&self, doomed: &Counter, how: Doom);
    /// The name of table `name` in statements (schema-qualified on Postgres).
    fn table(&self, name: &str) -> String;
    /// Runs `sql` (one statement); returns the rows it affected.
    async fn execute(&self, sql: &str) -> u64;
    /// The first column of the rows of `sql`, a BIGINT.
    async fn i64s(&self, sql: &str) -> Vec<i64>;
    /// A store on the same tables with `registry` and no outbox.
    async fn store_with(&self, registry: EventRegistry) -> Self::Store;
    /// `store`'s events of counter `id` ([`load_events`](eventmap::postgres::PostgresStore::load_events)).
    async fn load_events(store: &Self::Store, id: &str) -> Result<Vec<AggregateEvent>, Error>;
    /// `store`'s first `limit` events ([`read_all`](eventmap::postgres::PostgresStore::read_all)).
    async fn read_all(store: &Self::Store, limit: u32) -> Result<Vec<RecordedEvent>, Error>;

    /// Rows of table `name` matching `filter` (`WHERE ...`, or empty).
    async fn count(&self, name: &str, filter: &str) -> i64 {
        let sql = format!("SELECT count(*) FROM {} {filter}", self.table(name));
        self.i64s(&sql).await[0]
    }

    /// Rows of the outbox not published yet.
    async fn unpublished(&self) -> i64 {
        self.count("eventmap_outbox", "WHERE published_at IS NULL")
            .await
    }

    /// Marks every published (kept) outbox row unpublished again, as a relay that lost its
    /// marks would find them; returns how many.
    async fn unmark_published(&self) -> u64 {
        self.execute(&format!(
            "UPDATE {} SET published_at = NULL WHERE published_at IS NOT NULL",
            self.table("eventmap_outbox")
        ))
        .await
    }
}

/// The relay settings of the tests on every backend: short polls and backoffs.
pub fn relay_config() -> RelayConfig {
    RelayConfig::default()
        .poll_interval(Duration::from_millis(200))
        .publish_timeout(Duration::from_secs(3))
        .backoff(Duration::from_millis(50), Duration::from_secs(1))
}

/// A private nats-server with the counter's stream.
pub struct Broker {
    pub server: LocalServer,
    pub jetstream: Context,
}

impl Broker {
    pub async fn start() -> Self {
        let server = LocalServer::start()
            .await
            .unwrap_or_else(|err| panic!("cannot start nats-server: {err}"));
        let jetstream = connect(&server).await;
        provision_streams(&jetstream, &[COUNTER])
            .await
            .expect("provision");
        Self { server, jetstream }
    }

    /// Messages in the counter's stream.
    pub async fn stream_messages(&self) -> u64 {
        match self.jetstream.get_stream(COUNTER.stream).await {
            Ok(mut stream) => stream.info().await.map_or(0, |info| info.state.messages),
            Err(_) => 0,
        }
    }

    /// Reads the whole stream and asserts exactly `expected`.
    pub async fn verify(&self, expected: &BTreeMap<String, u64>) -> Observed {
        let total: u64 = expected.values().sum();
        let jetstream = connect(&self.server).await;
        let observed = consume_all(&jetstream, total, Duration::from_secs(60)).await;
        observed.assert_exactly(expected);
        observed
    }
}

/// A JetStream context on `server` with a 2 s request timeout.
pub async fn connect(server: &LocalServer) -> Context {
    let client = tokio::time::timeout(Duration::from_secs(10), async_nats::connect(server.url()))
        .await
        .expect("connect timed out")
        .expect("connect");
    let mut jetstream = async_nats::jetstream::new(client);
    jetstream.set_timeout(Duration::from_secs(2));
    jetstream
}

/// A relay of `backend` on its own NATS connection, running until stopped.
pub struct Running<B: Backend> {
    pub relay: B::Relay,
    running: RunningRelay,
}

impl<B: Backend> Running<B> {
    pub async fn start(backend: &B, broker: &Broker, config: RelayConfig) -> Self {
        let jetstream = connect(&broker.server).await;
        let relay = backend
            .relay(Arc::new(JetStreamPublisher::new(jetstream)), config)
            .await;
        let running = B::spawn(&relay);
        Self { relay, running }
    }

    pub fn stats(&self) -> RelayStats {
        B::stats(&self.relay)
    }

    pub async fn stop(self) -> RelayStats {
        self.running.stop().await.expect("relay run");
        B::stats(&self.relay)
    }
}

/// Waits until the outbox has no unpublished row (asserts it within `limit`).
pub async fn wait_drained<B: Backend>(backend: &B, limit: Duration) {
    let every = Duration::from_millis(50);
    let drained = eventually(limit, every, async || backend.unpublished().await == 0).await;
    assert!(
        drained,
        "{} outbox rows still unpublished after {limit:?}",
        backend.unpublished().await
    );
}

/// A command whose transaction rolls back (a failing statement after the append, an
/// explicit rollback, a failing conversion): nothing of it is published.
pub async fn rolled_back_commands_publish_nothing<B: Backend>(backend: &B, broker: &Broker) {
    let relay = Running::start(backend, broker, backend.relay_config()).await;
    let store = backend.store();
    let mut expected = BTreeMap::new();
    for i in 0..20 {
        let id = format!("c-{i}");
        let mut counter = Counter::blank(&id);
        counter.increment(1);
        store.save(&mut counter).await.expect("committed command");
        let mut doomed = counter.clone();
        match i % 3 {
            0 => {
                doomed.increment(2);
                backend.doomed_append(&doomed, Doom::FailingStatement).await;
            }
            1 => {
                doomed.increment(2);
                doomed.increment(3);
                backend.doomed_append(&doomed, Doom::Rollback).await;
            }
            _ => {
                doomed.increment(u32::MAX);
                assert!(store.save(&mut doomed).await.is_err());
            }
        }
        // The aggregate goes on from its committed version.
        let mut counter: Counter = store.load(&id).await.unwrap();
        counter.increment(4);
        store.save(&mut counter).await.expect("next command");
        expected.insert(id, 2);
    }
    wait_drained(backend, Duration::from_secs(60)).await;
    relay.stop().await;
    assert_eq!(backend.count("eventmap_events", "").await, 40);
    broker.verify(&expected).await;
}

/// Commands race on the same aggregates: losers get the conflict error and publish nothing;
/// the stream shows each aggregate's versions without gaps.
pub async fn racing_commands_publish_only_the_winners<B: Backend>(backend: &B, broker: &Broker) {
    let relay = Running::start(backend, broker, backend.relay_config()).await;
    let store = backend.store();

    // Deterministic: two copies of version 1, saved at once.
    let mut base = Counter::blank("duel");
    base.increment(1);
    store.save(&mut base).await.unwrap();
    let mut a: Counter = store.load("duel").await.unwrap();
    let mut b: Counter = store.load("duel").await.unwrap();
    a.increment(10);
    b.increment(20);
    b.increment(30);
    let (ra, rb) = tokio::join!(store.save(&mut a), store.save(&mut b));
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
        let store = store.clone();
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
        let counter: Counter = store.load(&id).await.unwrap();
        assert_eq!(
            counter.total,
            counter.root.version(),
            "one increment per version"
        );
        expected.insert(id, counter.root.version());
    }
    assert_eq!(expected.values().skip(1).sum::<u64>(), 8 * 40);
    wait_drained(backend, Duration::from_secs(60)).await;
    relay.stop().await;
    broker.verify(&expected).await;
}

/// On a stream that takes fast batches (provisioned on nats-server >= 2.14) the rows after
/// the relay's first round (a probe: one message at a time) go in batches, each event once
/// and in order per aggregate.
pub async fn the_outbox_goes_in_fast_batches_where_the_stream_takes_them<B: Backend>(
    backend: &B,
    broker: &Broker,
) {
    let expected = append_increments(backend.store(), 40, 30, 5, 4).await;
    let total: u64 = expected.values().sum();
    let batch = 100;
    let config = backend.relay_config().batch_size(batch);
    let relay = Running::start(backend, broker, config).await;
    wait_drained(backend, Duration::from_secs(60)).await;
    let stats = relay.stop().await;
    assert_eq!(stats.published, total, "{stats:?}");
    // Not all: the probe round, and rounds with fewer than 32 rows (the last one, rows held
    // back behind the round in flight), go one message at a time.
    assert!(
        stats.batched >= total / 2 && stats.batched <= total - u64::from(batch),
        "most rows in batches: {stats:?}"
    );
    assert_eq!(broker.stream_messages().await, total);
    broker.verify(&expected).await;
}

/// Every row is sent twice (published, marked unpublished again, relayed again, as after a
/// relay that lost its marks): JetStream drops the second copies by `Nats-Msg-Id`, the relay
/// counts them as duplicates, and the stream holds each event once.
pub async fn re_sent_rows_are_dropped_as_duplicates<B: Backend>(backend: &B, broker: &Broker) {
    let config = backend.relay_config().delete_published(false);
    let expected = append_increments(backend.store(), 20, 25, 5, 4).await;
    let total: u64 = expected.values().sum();
    let first = Running::start(backend, broker, config.clone()).await;
    wait_drained(backend, Duration::from_secs(60)).await;
    let first = first.stop().await;
    assert_eq!((first.published, first.duplicates), (total, 0));

    assert_eq!(backend.unmark_published().await, total);
    let second = Running::start(backend, broker, config).await;
    wait_drained(backend, Duration::from_secs(60)).await;
    let second = second.stop().await;
    assert_eq!((second.published, second.duplicates), (0, total));
    assert_eq!(broker.stream_messages().await, total);
    broker.verify(&expected).await;
}

/// A value with a line break cannot travel in the message headers: an aggregate id
/// (`ce-subject`, `ce-aggregateid`), a correlation or causation id (`ce-correlationid`,
/// `ce-causationid`, from the event's metadata). The append is refused, naming the header,
/// and nothing is stored (before, an id was stored and the relay refused and parked its row;
/// a correlation id was dropped from the headers with a warning).
pub async fn an_id_no_nats_header_can_carry_is_refused_at_the_append<B: Backend>(backend: &B) {
    let mut by_id = Counter::blank("c-crlf\r\nX-Evil: 1");
    by_id.increment(1);
    refused_at_the_append(backend, &mut by_id, "ce-subject").await;
    for (key, header) in [
        (
            eventmap::event::metadata_keys::CORRELATION_ID,
            "ce-correlationid",
        ),
        (
            eventmap::event::metadata_keys::CAUSATION_ID,
            "ce-causationid",
        ),
    ] {
        let mut counter = Counter::blank("c-meta");
        let metadata = [(key.to_owned(), "checkout-42\r\nX-Evil: 1".to_owned())];
        counter.root.record_with_metadata(
            <Counter as eventmap::Aggregate>::NAME,
            Incremented { by: 1 },
            metadata.into(),
        );
        refused_at_the_append(backend, &mut counter, header).await;
    }

    let mut fine = Counter::blank("c-fine");
    fine.increment(1);
    backend
        .store()
        .save(&mut fine)
        .await
        .expect("an ordinary id still saves");
    assert_eq!(backend.count("eventmap_outbox", "").await, 1);
}

/// Saving `counter` is refused with an error naming `header`, on one line, and leaves the
/// store empty.
async fn refused_at_the_append<B: Backend>(backend: &B, counter: &mut Counter, header: &str) {
    let err = backend.store().save(counter).await.expect_err("refused");
    let text = eventmap::error::error_chain(&err);
    assert!(
        text.contains("has a line break, which a NATS header cannot carry"),
        "{text}"
    );
    assert!(text.contains(&format!("header `{header}`")), "{text}");
    assert!(!text.contains('\n'), "the error is one line: {text:?}");
    assert_eq!(backend.count("eventmap_events", "").await, 0, "{header}");
    assert_eq!(backend.count("eventmap_outbox", "").await, 0, "{header}");
}

/// Save, load by replay, conflicts of stale copies and of a double creation; only the winners
/// are stored and in the outbox.
pub async fn save_load_replay_and_conflict<B: Backend>(backend: &B) {
    let store = backend.store();
    let mut counter = Counter::blank("c-1");
    counter.increment(2);
    counter.label("first");
    counter.increment(3);
    let saved = store.save(&mut counter).await.expect("save");
    assert_eq!(saved.len(), 3);
    assert_eq!(counter.root.stored_version(), 3);

    let loaded: Counter = store.load("c-1").await.expect("load");
    assert_eq!((loaded.total, loaded.label.as_str()), (5, "first"));
    assert_eq!(loaded.root.version(), 3);
    assert!(loaded.root.pending().is_empty());
    let events = B::load_events(store, "c-1").await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.id()).collect::<Vec<_>>(),
        saved.iter().map(|e| e.id()).collect::<Vec<_>>(),
        "ids survive the round trip"
    );
    assert_eq!(events[0].occurred_at(), saved[0].occurred_at());
    assert!(matches!(
        AggregateStore::<Counter>::load(store, "missing").await,
        Err(StoreError::NotFound {
            aggregate: "Counter",
            ..
        })
    ));

    // Two copies of version 3: the first save wins, the second conflicts.
    let mut a: Counter = store.load("c-1").await.unwrap();
    let mut b: Counter = store.load("c-1").await.unwrap();
    a.increment(10);
    b.increment(20);
    b.increment(30);
    store.save(&mut a).await.expect("winner");
    let err = store.save(&mut b).await.expect_err("loser");
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                expected: 3,
                actual: 4,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        b.root.pending().len(),
        2,
        "the loser keeps its pending events"
    );

    // A new aggregate created twice: the second creation conflicts too.
    let mut first = Counter::blank("c-2");
    first.increment(1);
    let mut second = Counter::blank("c-2");
    second.increment(1);
    store.save(&mut first).await.unwrap();
    assert!(matches!(
        store.save(&mut second).await,
        Err(StoreError::Conflict {
            expected: 0,
            actual: 1,
            ..
        })
    ));

    // Only the winners are stored and in the outbox: Labelled is internal.
    assert_eq!(backend.count("eventmap_events", "").await, 5);
    assert_eq!(backend.count("eventmap_outbox", "").await, 4);
    let versions = backend
        .i64s(&format!(
            "SELECT aggregate_version FROM {} WHERE aggregate_id = 'c-1' ORDER BY id",
            backend.table("eventmap_outbox")
        ))
        .await;
    assert_eq!(versions, [1, 3, 4]);
}

/// A version 1 payload written by an old writer is upcast on every read (load, load_events,
/// read_all); new events are stored at the current version.
pub async fn upcasters_apply_on_every_read<B: Backend>(backend: &B) {
    // Version 1 of Incremented was `{"amount": n}`; version 2 is `{"by": n}`.
    let mut registry = EventRegistry::new();
    registry
        .register_version::<Incremented>("Incremented", 2)
        .unwrap()
        .register::<Labelled>("Labelled")
        .unwrap()
        .upcaster("Incremented", 1, |mut json| {
            let amount = json
                .get_mut("amount")
                .map(serde_json::Value::take)
                .ok_or("no amount")?;
            Ok(serde_json::json!({ "by": amount }))
        })
        .unwrap();
    let store = backend.store_with(registry).await;
    let mut counter = Counter::blank("c-1");
    counter.increment(5);
    store.save(&mut counter).await.unwrap();
    // An old writer's event, version 1.
    backend
        .execute(&format!(
            "UPDATE {} SET version = 2",
            backend.table("eventmap_aggregates")
        ))
        .await;
    backend
        .execute(&format!(
            "INSERT INTO {} (event_id, aggregate_type, aggregate_id, version, event_name, \
             schema_version, payload, occurred_at_ns) VALUES ('6f1c1b4e-0000-4000-8000-000000000001', \
             'Counter', 'c-1', 2, 'Incremented', 1, '{{\"amount\": 7}}', 0)",
            backend.table("eventmap_events")
        ))
        .await;

    let loaded: Counter = store.load("c-1").await.unwrap();
    assert_eq!((loaded.total, loaded.root.version()), (12, 2));
    let events = B::load_events(&store, "c-1").await.unwrap();
    assert_eq!(events[1].downcast::<Incremented>().unwrap().payload().by, 7);
    let all = B::read_all(&store, 10).await.unwrap();
    assert_eq!(all.len(), 2);
    assert!(all[0].position < all[1].position);
    assert_eq!(
        all[1].event.downcast::<Incremented>().unwrap().payload().by,
        7
    );
    let stored = backend
        .i64s(&format!(
            "SELECT CAST(schema_version AS BIGINT) FROM {} ORDER BY version",
            backend.table("eventmap_events")
        ))
        .await;
    assert_eq!(
        stored,
        [2, 1],
        "the new event was stored at the current version"
    );
}

/// A failing statement after the append, an explicit rollback, a failing outbox conversion:
/// neither events nor outbox rows are kept, and the aggregate can then be saved.
pub async fn nothing_of_a_rolled_back_or_failed_append_is_kept<B: Backend>(backend: &B) {
    let store = backend.store();
    let mut counter = Counter::blank("c-1");
    counter.increment(1);
    backend
        .doomed_append(&counter, Doom::FailingStatement)
        .await;
    backend.doomed_append(&counter, Doom::Rollback).await;

    // A conversion failure in the outbox handler (by > i32::MAX).
    let mut bad = Counter::blank("c-2");
    bad.increment(1);
    bad.increment(u32::MAX);
    let err = store.save(&mut bad).await.expect_err("conversion fails");
    let StoreError::Backend(source) = err else {
        panic!("{err:?}")
    };
    assert!(
        matches!(source.downcast_ref::<Error>(), Some(Error::Outbox(_))),
        "{source}"
    );
    assert_eq!(bad.root.pending().len(), 2, "nothing marked stored");

    // A float JSON cannot hold: serde_json would store `null`, read back as `None`.
    let mut nan = Counter::blank("c-3");
    nan.increment(1);
    nan.measure(Some(f64::NAN));
    let err = store.save(&mut nan).await.expect_err("NaN refused");
    let StoreError::Backend(source) = err else {
        panic!("{err:?}")
    };
    let Some(Error::Registry(RegistryError::NonFinite { name, field, value })) =
        source.downcast_ref::<Error>()
    else {
        panic!("{source:?}")
    };
    assert_eq!((name.as_str(), field.as_str()), ("Measured", "reading"));
    assert!(value.is_nan());
    assert_eq!(
        source.to_string(),
        "domain event `Measured` cannot be stored: field `reading` is NaN, and the event \
         store keeps payloads as JSON, which has no NaN or infinity"
    );

    for table in ["eventmap_events", "eventmap_aggregates", "eventmap_outbox"] {
        assert_eq!(backend.count(table, "").await, 0, "{table}");
    }
    // And the same aggregate can then be saved, with a finite reading too.
    counter.measure(Some(-0.5));
    store.save(&mut counter).await.unwrap();
    assert_eq!(backend.count("eventmap_outbox", "").await, 1);
    let loaded: Counter = store.load("c-1").await.unwrap();
    assert_eq!(loaded.root.version(), 2);
}

/// The broker goes away after about half of [`fault_events`] events were published and comes
/// back 3 s later, while commands keep appending: nothing lost, nothing stored twice.
pub async fn broker_outage_loses_nothing_and_duplicates_nothing<B: Backend>(
    backend: &B,
    broker: &mut Broker,
) {
    let aggregates = 200;
    let per_aggregate = fault_events() / aggregates;
    let relay = Running::start(backend, broker, backend.relay_config()).await;
    let writer = tokio::spawn({
        let store = backend.store().clone();
        async move { append_increments(&store, aggregates, per_aggregate, 5, 4).await }
    });
    let total = (aggregates * per_aggregate) as u64;
    let half = eventually(
        Duration::from_secs(120),
        Duration::from_millis(5),
        async || relay.stats().published >= total / 2,
    )
    .await;
    assert!(half, "half not published in time");
    broker.server.stop().await.expect("stop nats");
    let at_stop = relay.stats();
    // The outage itself, the fault under test: the broker stays away for a few seconds
    // while the writer keeps appending and the relay keeps failing and backing off.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let during = relay.stats();
    broker.server.restart().await.expect("restart nats");
    let expected = writer.await.expect("writer");
    wait_drained(backend, Duration::from_secs(120)).await;
    let stats = relay.stop().await;
    eprintln!(
        "outage: published {} at stop; during the outage {} failures, backlog {}, retrying {}; \
         at the end {stats:?}",
        at_stop.published, during.failures, during.backlog, during.retrying
    );
    assert!(during.failures > at_stop.failures, "the outage was noticed");
    let observed = broker.verify(&expected).await;
    eprintln!(
        "consumer: {} deliveries for {total} events",
        observed.deliveries
    );
}
