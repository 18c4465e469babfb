//! The SQLite event store, outbox and relay: a file per test (in a temporary directory),
//! relays on a private `nats-server -js`.

mod counter;
mod scenarios;
mod sqlite_file;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use counter::*;
use eventmap::sqlite::{Error, Relay, RelayConfig};
use eventmap::{AggregateStore, EventSourced, InMemoryPublisher, StoreError};
use scenarios::{Backend, Broker, Running, wait_drained};
use sqlite_file::{Sqlite, TestFile};

const LIMIT: Duration = Duration::from_secs(120);

/// Runs a scenario shared with Postgres (`scenarios/mod.rs`) on a file of its own.
async fn on_sqlite(scenario: impl AsyncFnOnce(&Sqlite)) {
    within(LIMIT, async {
        let backend = Sqlite::new().await;
        scenario(&backend).await;
    })
    .await;
}

#[tokio::test]
async fn an_id_no_nats_header_can_carry_is_refused_at_the_append() {
    on_sqlite(scenarios::an_id_no_nats_header_can_carry_is_refused_at_the_append).await;
}

#[tokio::test]
async fn save_load_replay_and_conflict() {
    on_sqlite(scenarios::save_load_replay_and_conflict).await;
}

#[tokio::test]
async fn upcasters_apply_on_every_read() {
    on_sqlite(scenarios::upcasters_apply_on_every_read).await;
}

#[tokio::test]
async fn nothing_of_a_rolled_back_or_failed_append_is_kept() {
    on_sqlite(scenarios::nothing_of_a_rolled_back_or_failed_append_is_kept).await;
}

/// A conflict inside a transaction of the application is the same `Error::Conflict` as on
/// Postgres, and leaves the transaction usable.
#[tokio::test]
async fn a_conflict_in_a_transaction_is_the_postgres_error() {
    within(LIMIT, async {
        let file = TestFile::new().await;
        let store = file.store(true).await;
        let mut counter = Counter::blank("c-1");
        counter.increment(1);
        store.save(&mut counter).await.unwrap();
        let mut stale = Counter::blank("c-1");
        stale.increment(2);
        let mut tx = store.begin().await.unwrap();
        assert!(matches!(
            tx.append(&stale).await,
            Err(Error::Conflict {
                expected: 0,
                actual: 1,
                ..
            })
        ));
        let mut other = Counter::blank("c-2");
        other.increment(3);
        tx.append(&other).await.expect("the transaction goes on");
        tx.commit().await.unwrap();
        assert_eq!(file.count("eventmap_events", "").await, 2);
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
