//! Fault tests of the transactional outbox on SQLite: a file per test and a private
//! `nats-server -js` per test. The scenarios shared with Postgres are in `scenarios/mod.rs`;
//! a relay killed mid-batch is a relay task aborted while its batch is in flight (SQLite
//! has no relay binary: the relay runs in the service's process).

mod counter;
mod scenarios;
mod sqlite_file;

use std::sync::Arc;
use std::time::Duration;

use counter::*;
use eventmap::nats::JetStreamPublisher;
use scenarios::{Backend, Broker, Running, wait_drained};
use sqlite_file::Sqlite;

/// Upper bound of each test.
const LIMIT: Duration = Duration::from_secs(240);

#[tokio::test]
async fn broker_outage_loses_nothing_and_duplicates_nothing() {
    within(LIMIT, async {
        let backend = Sqlite::new().await;
        let mut broker = Broker::start().await;
        scenarios::broker_outage_loses_nothing_and_duplicates_nothing(&backend, &mut broker).await;
    })
    .await;
}

#[tokio::test]
async fn rolled_back_commands_publish_nothing() {
    within(LIMIT, async {
        let backend = Sqlite::new().await;
        let broker = Broker::start().await;
        scenarios::rolled_back_commands_publish_nothing(&backend, &broker).await;
    })
    .await;
}

#[tokio::test]
async fn racing_commands_publish_only_the_winners() {
    within(LIMIT, async {
        let backend = Sqlite::new().await;
        let broker = Broker::start().await;
        scenarios::racing_commands_publish_only_the_winners(&backend, &broker).await;
    })
    .await;
}

#[tokio::test]
async fn the_outbox_goes_in_fast_batches_where_the_stream_takes_them() {
    within(LIMIT, async {
        let backend = Sqlite::new().await;
        let broker = Broker::start().await;
        scenarios::the_outbox_goes_in_fast_batches_where_the_stream_takes_them(&backend, &broker)
            .await;
    })
    .await;
}

#[tokio::test]
async fn re_sent_rows_are_dropped_as_duplicates() {
    within(LIMIT, async {
        let backend = Sqlite::new().await;
        let broker = Broker::start().await;
        scenarios::re_sent_rows_are_dropped_as_duplicates(&backend, &broker).await;
    })
    .await;
}

/// The relay is killed (its task aborted) in the middle of a batch, with acknowledged rows
/// not marked yet; a new relay takes over: every event once in the stream, in order.
#[tokio::test]
async fn relay_killed_mid_batch_is_replaced_without_loss_or_duplicates() {
    within(LIMIT, async {
        let backend = Sqlite::new().await;
        let broker = Broker::start().await;
        let n = fault_events();
        let expected = append_increments(&backend.store, 200, n / 200, 5, 4).await;
        let total: u64 = expected.values().sum();

        // One big batch, few in flight: rows are marked only at its end, so a kill at a
        // third of the stream falls inside it.
        let config = backend
            .relay_config()
            .batch_size(total as u32)
            .max_in_flight(16);
        let publisher = JetStreamPublisher::new(scenarios::connect(&broker.server).await);
        let first = backend.relay(Arc::new(publisher), config).await;
        let first = tokio::spawn(async move { first.run(std::future::pending()).await });
        let going = eventually(
            Duration::from_secs(60),
            Duration::from_millis(2),
            async || broker.stream_messages().await >= total / 3,
        )
        .await;
        assert!(going, "the first relay did not get going");
        // The kill: the task ends at its next await, in the middle of the batch.
        first.abort();
        assert!(first.await.unwrap_err().is_cancelled());
        let stored = broker.stream_messages().await;
        let marked = total as i64 - backend.unpublished().await;
        eprintln!("killed: {stored} messages in the stream, {marked} rows marked published");
        assert!(
            (marked as u64) < stored,
            "killed mid-batch: some acknowledged rows were not marked"
        );

        let second = Running::start(&backend, &broker, backend.relay_config()).await;
        wait_drained(&backend, Duration::from_secs(120)).await;
        let stats = second.stop().await;
        eprintln!("second relay: {stats:?}");
        // It sent every row left unmarked, the stored ones among them again (a fast batch
        // does not report which were duplicates), and the stream holds each event once.
        assert_eq!(stats.published + stats.duplicates, total - marked as u64);
        assert!(
            total - marked as u64 > total - stored,
            "acknowledged rows were re-sent"
        );
        broker.verify(&expected).await;
        assert_eq!(broker.stream_messages().await, total, "none stored twice");
    })
    .await;
}
