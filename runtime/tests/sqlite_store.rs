//! The SQLite event store, outbox and relay: a file per test (in a temporary directory),
//! relays on a private `nats-server -js`.

mod counter;
mod scenarios;
mod sqlite_file;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use counter::*;
use eventmap::sqlite::{Error, EventRegistry, Relay, RelayConfig, SqliteStore};
use eventmap::{AggregateStore, EventSourced, InMemoryPublisher, StoreError};
use scenarios::{Backend, Broker, Running, wait_drained};
use sqlite_file::{Sqlite, TestFile};

const LIMIT: Duration = Duration::from_secs(120);

#[tokio::test]
async fn save_load_replay_and_conflict() {
    within(LIMIT, async {
        let file = TestFile::new().await;
        let store = file.store(true).await;

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
        let events = store.load_events("Counter", "c-1").await.unwrap();
        assert_eq!(
            events.iter().map(|e| e.id()).collect::<Vec<_>>(),
            saved.iter().map(|e| e.id()).collect::<Vec<_>>(),
            "ids survive the round trip"
        );
        assert_eq!(events[0].occurred_at(), saved[0].occurred_at());
        assert!(matches!(
            AggregateStore::<Counter>::load(&store, "missing").await,
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
            1,
            "the loser keeps its pending events"
        );
        // The same variant as Postgres inside a transaction.
        let mut tx = store.begin().await.unwrap();
        assert!(matches!(
            tx.append(&b).await,
            Err(Error::Conflict {
                expected: 3,
                actual: 4,
                ..
            })
        ));
        drop(tx);

        // Only the winners are stored and in the outbox: Labelled is internal.
        assert_eq!(file.count("eventmap_events", "").await, 4);
        let versions: Vec<i64> = eventmap::sqlite::sqlx::query_scalar(
            "SELECT aggregate_version FROM eventmap_outbox WHERE aggregate_id = 'c-1' ORDER BY id",
        )
        .fetch_all(&file.pool)
        .await
        .unwrap();
        assert_eq!(versions, [1, 3, 4]);
    })
    .await;
}

/// Two tasks save the same aggregate at once from the same version: one wins, the other
/// gets the conflict, and nothing of the loser is written.
#[tokio::test]
async fn racing_saves_one_wins_one_conflicts_nothing_half_written() {
    within(LIMIT, async {
        let file = TestFile::new().await;
        let store = file.store(true).await;
        for round in 0..20u32 {
            let id = format!("r-{round}");
            let mut base = Counter::blank(&id);
            base.increment(1);
            store.save(&mut base).await.unwrap();
            let mut a: Counter = store.load(&id).await.unwrap();
            let mut b: Counter = store.load(&id).await.unwrap();
            a.increment(10);
            b.increment(20);
            b.increment(30);
            let (sa, sb) = (store.clone(), store.clone());
            let ta = tokio::spawn(async move { sa.save(&mut a).await.map(|_| a) });
            let tb = tokio::spawn(async move { sb.save(&mut b).await.map(|_| b) });
            let (ra, rb) = (ta.await.unwrap(), tb.await.unwrap());
            let (winner, loser) = match (ra, rb) {
                (Ok(w), Err(l)) | (Err(l), Ok(w)) => (w, l),
                other => panic!("exactly one save must win: {other:?}"),
            };
            assert!(
                matches!(loser, StoreError::Conflict { expected: 1, .. }),
                "{loser:?}"
            );
            let stored: Counter = store.load(&id).await.unwrap();
            assert_eq!(stored.root.version(), winner.root.version());
            assert_eq!(stored.total, winner.total);
            let filter = format!("WHERE aggregate_id = '{id}'");
            let version = i64::try_from(winner.root.version()).unwrap();
            assert_eq!(file.count("eventmap_events", &filter).await, version);
            assert_eq!(file.count("eventmap_outbox", &filter).await, version);
        }
    })
    .await;
}

#[tokio::test]
async fn upcasters_apply_on_every_read() {
    within(LIMIT, async {
        let file = TestFile::new().await;
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
        let store = SqliteStore::builder(file.pool.clone())
            .registry(registry)
            .build()
            .await
            .unwrap();
        let mut counter = Counter::blank("c-1");
        counter.increment(5);
        store.save(&mut counter).await.unwrap();
        // An old writer's event, version 1.
        eventmap::sqlite::sqlx::query(
            "UPDATE eventmap_aggregates SET version = 2; \
             INSERT INTO eventmap_events (event_id, aggregate_type, aggregate_id, version, \
                 event_name, schema_version, payload, occurred_at_ns) \
             VALUES ('6f1c1b4e-0000-4000-8000-000000000001', 'Counter', 'c-1', 2, \
                 'Incremented', 1, '{\"amount\": 7}', 0);",
        )
        .execute(&file.pool)
        .await
        .unwrap();

        let loaded: Counter = store.load("c-1").await.unwrap();
        assert_eq!((loaded.total, loaded.root.version()), (12, 2));
        let all = store.read_all(0, 10).await.unwrap();
        assert_eq!(all.len(), 2);
        assert!(all[0].position < all[1].position);
        assert_eq!(
            all[1].event.downcast::<Incremented>().unwrap().payload().by,
            7
        );
        let stored: Vec<i64> = eventmap::sqlite::sqlx::query_scalar(
            "SELECT schema_version FROM eventmap_events ORDER BY version",
        )
        .fetch_all(&file.pool)
        .await
        .unwrap();
        assert_eq!(
            stored,
            [2, 1],
            "the new event was stored at the current version"
        );
    })
    .await;
}

/// A failing outbox conversion rolls the append back: neither events nor outbox rows.
#[tokio::test]
async fn a_failing_outbox_conversion_leaves_neither_events_nor_rows() {
    within(LIMIT, async {
        let file = TestFile::new().await;
        let store = file.store(true).await;
        let mut bad = Counter::blank("c-1");
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
        for table in ["eventmap_events", "eventmap_aggregates", "eventmap_outbox"] {
            assert_eq!(file.count(table, "").await, 0, "{table}");
        }
        // The aggregate can then be saved.
        let mut good = Counter::blank("c-1");
        good.increment(1);
        store.save(&mut good).await.unwrap();
        assert_eq!(file.count("eventmap_outbox", "").await, 1);
    })
    .await;
}

/// 1,000 events over 20 aggregates, relayed in batches of 64 with 32 in flight: the stream
/// holds each once, every aggregate's versions in order.
#[tokio::test]
async fn relay_publishes_1000_events_in_order_per_aggregate() {
    within(LIMIT, async {
        let backend = Sqlite::new().await;
        let broker = Broker::start().await;
        let expected = append_increments(&backend.store, 20, 50, 7, 4).await;
        let config = backend.relay_config().batch_size(64).max_in_flight(32);
        let relay = Running::start(&backend, &broker, config).await;
        wait_drained(&backend, Duration::from_secs(60)).await;
        let stats = relay.stop().await;
        assert_eq!(
            (stats.published, stats.duplicates, stats.failures),
            (1000, 0, 0)
        );
        assert!(stats.rounds >= 1000 / 64, "{stats:?}");
        assert_eq!(
            backend.file.count("eventmap_outbox", "").await,
            0,
            "deleted once published"
        );
        broker.verify(&expected).await;
    })
    .await;
}

/// A commit of a store in the same process wakes the relay long before its poll interval.
#[tokio::test]
async fn a_commit_wakes_the_relay_of_the_same_process() {
    within(LIMIT, async {
        let file = TestFile::new().await;
        let store = file.store(true).await;
        let publisher = InMemoryPublisher::new();
        let config = RelayConfig::default().poll_interval(Duration::from_secs(60));
        let relay = Relay::new(file.pool.clone(), Arc::new(publisher.clone()), config)
            .await
            .unwrap();
        let running = relay.spawn();
        // The first round finds nothing; the relay then sleeps on its poll interval.
        let idle = eventually(
            Duration::from_secs(5),
            Duration::from_millis(10),
            async || relay.stats().rounds >= 1,
        )
        .await;
        assert!(idle);
        let mut counter = Counter::blank("c-1");
        counter.increment(1);
        store.save(&mut counter).await.unwrap();
        let woken = eventually(
            Duration::from_secs(5),
            Duration::from_millis(10),
            async || publisher.len() == 1,
        )
        .await;
        assert!(woken, "published within 5 s, poll interval 60 s");
        running.stop().await.unwrap();
    })
    .await;
}

/// A refused row is parked after `park_after` refusals; the later rows of its aggregate wait
/// behind it while the other aggregates flow.
#[tokio::test]
async fn a_refused_row_is_parked_and_holds_back_only_its_aggregate() {
    within(LIMIT, async {
        let file = TestFile::new().await;
        let store = file.store(true).await;
        let mut blocked = Counter::blank("blocked");
        blocked.increment(1);
        store.save(&mut blocked).await.unwrap();
        blocked.increment(2);
        store.save(&mut blocked).await.unwrap();
        let mut free = Counter::blank("free");
        free.increment(1);
        store.save(&mut free).await.unwrap();
        // The first row's headers are unreadable: the relay can never send it (a refusal).
        eventmap::sqlite::sqlx::query(
            "UPDATE eventmap_outbox SET headers = 'not json' WHERE id = (SELECT min(id) FROM eventmap_outbox)",
        )
        .execute(&file.pool)
        .await
        .unwrap();
        let publisher = InMemoryPublisher::new();
        let config = RelayConfig::default().parking(2, Duration::ZERO);
        let relay = Relay::new(file.pool.clone(), Arc::new(publisher.clone()), config)
            .await
            .unwrap();
        let first = relay.run_once().await.unwrap();
        assert_eq!((first.published, first.failed, first.parked, first.held_back), (1, 1, 0, 1));
        let second = relay.run_once().await.unwrap();
        assert_eq!((second.failed, second.parked), (1, 1));
        let third = relay.run_once().await.unwrap();
        assert_eq!(third.selected, 0, "the parked row and the row behind it are not selected");
        let sent: BTreeMap<String, usize> =
            publisher
                .messages()
                .iter()
                .fold(BTreeMap::new(), |mut sent, message| {
                    let id = message.header("ce-aggregateid").unwrap_or_default().to_owned();
                    *sent.entry(id).or_default() += 1;
                    sent
                });
        assert_eq!(sent, BTreeMap::from([("free".to_owned(), 1)]));
        assert_eq!(relay.backlog().await.unwrap(), 2);
        assert_eq!(relay.stats().parked_backlog, 1);
        let error: String = eventmap::sqlite::sqlx::query_scalar(
            "SELECT last_error FROM eventmap_outbox WHERE parked_at IS NOT NULL",
        )
        .fetch_one(&file.pool)
        .await
        .unwrap();
        assert!(error.contains("headers are not"), "{error}");
    })
    .await;
}

/// Published rows kept (delete_published off) are purged past the retention; unpublished
/// ones never.
#[tokio::test]
async fn published_rows_are_purged_past_the_retention() {
    within(LIMIT, async {
        let file = TestFile::new().await;
        let store = file.store(true).await;
        let expected = append_increments(&store, 3, 4, 2, 1).await;
        assert_eq!(expected.values().sum::<u64>(), 12);
        let publisher = InMemoryPublisher::new();
        let config = RelayConfig::default().delete_published(false);
        let relay = Relay::new(file.pool.clone(), Arc::new(publisher.clone()), config)
            .await
            .unwrap();
        assert_eq!(relay.run_once().await.unwrap().published, 12);
        let mut late = Counter::blank("late");
        late.increment(1);
        store.save(&mut late).await.unwrap();
        assert_eq!(
            relay
                .purge_published(Duration::from_secs(3600))
                .await
                .unwrap(),
            0
        );
        assert_eq!(relay.purge_published(Duration::ZERO).await.unwrap(), 12);
        assert_eq!(
            file.count("eventmap_outbox", "").await,
            1,
            "the unpublished row stays"
        );
    })
    .await;
}
