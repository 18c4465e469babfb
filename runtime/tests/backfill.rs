//! Backfill from the event store: 10,000 stored events re-derived through the current
//! converters and published to a stream of their own for a new consumer's read model, killed
//! half-way and resumed (nothing lost, nothing doubled); onto the live channel, fully
//! deduplicated; selections; dry runs; an event whose transaction commits after the backfill
//! fixed its end, below that end, not missed. Real PostgreSQL (DATABASE_URL) and nats-server.

mod pg;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use eventmap::decode::{DecodeError, IntegrationEventSet, decode_payload};
use eventmap::nats::async_nats::{self, jetstream::Context};
use eventmap::nats::{
    Consumer, ConsumerSpec, Delivery, DeliveryPolicy, JetStreamPublisher, TransactionalHandler,
    provision_streams,
};
use eventmap::postgres::sqlx::{self, PgConnection};
use eventmap::postgres::{
    Backfill, BackfillError, BackfillSelection, BackfillTarget, Inbox, OutboxWriter, Relay,
    RelayConfig,
};
use eventmap::test_util::LocalServer;
use eventmap::{AggregateStore, BoxError, ChannelSpec, EventDispatcher, EventSourced};
use pg::*;

const LIMIT: Duration = Duration::from_secs(240);
/// The new consumer's stream: the counter channel under the prefix `backfill.search`.
const BACKFILL: ChannelSpec = ChannelSpec::new(
    "backfill",
    "backfill.search.faults.counter",
    "BACKFILL_SEARCH",
);

/// The counter's events as the new consumer reads them from its backfill stream.
#[derive(Debug, Clone, PartialEq)]
enum Backfilled {
    Incremented(proto::Incremented),
}

impl IntegrationEventSet for Backfilled {
    const CHANNEL: ChannelSpec = BACKFILL;
    const NAMES: &'static [&'static str] = &[INCREMENTED_EVENT];

    fn decode(name: &str, payload: &[u8]) -> Result<Self, DecodeError> {
        match name {
            INCREMENTED_EVENT => decode_payload(name, payload).map(Self::Incremented),
            other => Err(DecodeError::UnknownEvent {
                name: other.to_owned(),
            }),
        }
    }

    fn name(&self) -> &'static str {
        INCREMENTED_EVENT
    }
}

/// The read model: one row per applied event, in the order applied; (counter, version) is
/// unique, so an event applied twice fails the handler.
struct ReadModel {
    insert: String,
}

impl TransactionalHandler<Backfilled> for ReadModel {
    async fn handle(
        &self,
        conn: &mut PgConnection,
        delivery: &Delivery<Backfilled>,
    ) -> Result<(), BoxError> {
        let Backfilled::Incremented(event) = &delivery.event;
        sqlx::query(&self.insert)
            .bind(&event.counter_id)
            .bind(i64::try_from(event.version)?)
            .bind(i64::from(event.by))
            .execute(&mut *conn)
            .await?;
        Ok(())
    }
}

async fn connect(server: &LocalServer) -> Context {
    let client = async_nats::connect(server.url()).await.expect("connect");
    let mut jetstream = async_nats::jetstream::new(client);
    jetstream.set_timeout(Duration::from_secs(5));
    jetstream
}

/// The converters, as the service registers them for its outbox.
fn router() -> EventDispatcher {
    let mut dispatcher = EventDispatcher::new();
    register_integration_event_handlers(&mut dispatcher, OutboxWriter::shared());
    dispatcher
}

async fn stream_messages(jetstream: &Context, stream: &str) -> u64 {
    let mut stream = jetstream.get_stream(stream).await.expect("stream");
    stream.info().await.expect("info").state.messages
}

#[tokio::test]
async fn ten_thousand_events_backfilled_for_a_new_consumer_killed_half_way_and_resumed() {
    within(LIMIT, async {
        let db = TestDb::new("em_backfill").await;
        // A store without outbox: the history is all there is.
        let store = db.store(false).await;
        let expected = append_increments(&store, 100, 100, 10, 4).await;
        // Internal events: stored, never published.
        for i in 0..10 {
            let mut counter: Counter = store.load(&format!("c-{i}")).await.expect("load");
            counter.label("internal");
            store.save(&mut counter).await.expect("save");
        }
        let server = LocalServer::start().await.expect("nats-server");
        let jetstream = connect(&server).await;
        provision_streams(&jetstream, &[BACKFILL]).await.expect("provision");
        let target = BackfillTarget::Prefix("backfill.search".into());
        let backfill = || {
            Backfill::new(store.clone(), "search-rebuild")
                .router(router())
                .publisher(JetStreamPublisher::new(jetstream.clone()))
                .target(target.clone())
                .batch_size(500)
                .window(128)
        };

        // The dry run counts without publishing or checkpointing.
        let dry = backfill().dry_run(|_| {}).await.expect("dry run");
        assert!(dry.dry_run);
        assert_eq!((dry.events, dry.messages, dry.published), (10_010, 10_000, 0));
        assert_eq!(dry.by_event, BTreeMap::from([(INCREMENTED_EVENT.to_owned(), 10_000)]));
        assert_eq!(stream_messages(&jetstream, BACKFILL.stream).await, 0);
        assert!(backfill().checkpoint().await.expect("checkpoint").is_none());

        // The first run is killed (its task aborted: the future is dropped wherever it is,
        // mid-publish most likely) once half the events are checkpointed.
        let first = tokio::spawn({
            let backfill = backfill();
            async move { backfill.run(|_| {}).await }
        });
        let watcher = backfill();
        let half = eventually(Duration::from_secs(60), Duration::from_millis(5), async || {
            watcher
                .checkpoint()
                .await
                .expect("checkpoint")
                .is_some_and(|c| c.events >= 5_000)
        })
        .await;
        assert!(half, "half not checkpointed in time");
        first.abort();
        assert!(first.await.unwrap_err().is_cancelled(), "killed before it finished");
        let killed_at = watcher.checkpoint().await.expect("checkpoint").expect("exists");
        assert!(!killed_at.finished && killed_at.events < 10_010, "{killed_at:?}");

        // Another selection under the same name is refused.
        let other = backfill()
            .selection(BackfillSelection::default().aggregate_type("Other"))
            .run(|_| {})
            .await;
        assert!(matches!(other, Err(BackfillError::SelectionChanged { .. })), "{other:?}");

        // Resumed: from the checkpoint to the end, with progress after each batch.
        let mut updates = Vec::new();
        let report = backfill()
            .run(|p| updates.push((p.events, p.total)))
            .await
            .expect("resumed run");
        eprintln!(
            "killed at position {} ({} events); resumed: {} events, {} messages ({} new, {} \
             duplicates) in {:?}, {:.0} messages/s",
            killed_at.position,
            killed_at.events,
            report.events,
            report.messages,
            report.published,
            report.duplicates,
            report.elapsed,
            report.messages_per_second()
        );
        assert!(report.finished);
        assert_eq!(report.resumed_from, killed_at.position);
        assert_eq!(report.events + killed_at.events, 10_010, "each event read once over both runs");
        assert_eq!(updates.last().map(|(events, total)| (*events, *total)), Some((report.events, report.events)));
        let done = watcher.checkpoint().await.expect("checkpoint").expect("exists");
        assert!(done.finished);
        assert_eq!(done.events, 10_010);
        assert_eq!(done.position, done.until);
        // JetStream stored each message once, whatever the killed run had sent.
        assert_eq!(stream_messages(&jetstream, BACKFILL.stream).await, 10_000);

        // A finished backfill does nothing more.
        let again = backfill().run(|_| {}).await.expect("run again");
        assert!(again.finished);
        assert_eq!((again.events, again.messages), (0, 0));

        // The new consumer builds its read model from the backfill stream, through the inbox.
        let inbox = Inbox::new(db.pool.clone(), &db.schema).await.expect("inbox");
        let table = format!("\"{}\".read_model", db.schema);
        sqlx::query(&format!(
            "CREATE TABLE {table} (seq bigserial, counter_id text NOT NULL, version bigint NOT NULL, \
             by_amount bigint NOT NULL, PRIMARY KEY (counter_id, version))"
        ))
        .execute(&db.pool)
        .await
        .expect("read model");
        let handler = ReadModel {
            insert: format!(
                "INSERT INTO {table} (counter_id, version, by_amount) VALUES ($1, $2, $3)"
            ),
        };
        let consumer = Consumer::<Backfilled>::start(
            &jetstream,
            &ConsumerSpec::new("search", &[INCREMENTED_EVENT])
                .policy(DeliveryPolicy::default().batch(500)),
        )
        .await
        .expect("consumer");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        // The consumer runs on this task (its future is not `Send`), beside the wait.
        let (consumed, built) = tokio::join!(
            consumer.run_with_inbox(&inbox, &handler, async {
                let _ = stopped.await;
            }),
            async {
                let built =
                    eventually(Duration::from_secs(60), Duration::from_millis(50), async || {
                        db.count("read_model", "").await == 10_000
                    })
                    .await;
                let _ = stop.send(());
                built
            }
        );
        let consumed = consumed.expect("consumer run");
        assert!(built, "read model has {} rows", db.count("read_model", "").await);
        assert_eq!(consumed.failed, 0, "{consumed:?}");
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(&format!(
            "SELECT counter_id, version, by_amount FROM {table} ORDER BY seq"
        ))
        .fetch_all(&db.pool)
        .await
        .expect("rows");
        let mut versions: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for (counter, version, by) in rows {
            assert_eq!(by, version, "append_increments increments version n by n");
            versions.entry(counter).or_default().push(version as u64);
        }
        for (counter, count) in &expected {
            let wanted: Vec<u64> = (1..=*count).collect();
            assert_eq!(versions.get(counter), Some(&wanted), "{counter} in order, each once");
        }
        assert_eq!(versions.len(), expected.len());
        db.cleanup().await;
    })
    .await;
}

#[tokio::test]
async fn a_backfill_onto_the_live_channel_is_fully_deduplicated() {
    within(LIMIT, async {
        let db = TestDb::new("em_backfill_live").await;
        let store = db.store(true).await;
        append_increments(&store, 20, 100, 10, 2).await;
        let server = LocalServer::start().await.expect("nats-server");
        let jetstream = connect(&server).await;
        provision_streams(&jetstream, &[COUNTER])
            .await
            .expect("provision");
        let relay = Relay::new(
            db.pool.clone(),
            Arc::new(JetStreamPublisher::new(jetstream.clone())),
            RelayConfig::default()
                .schema(db.schema.clone())
                .listen(false),
        )
        .await
        .expect("relay");
        while relay.backlog().await.expect("backlog") > 0 {
            relay.run_once().await.expect("round");
        }
        assert_eq!(stream_messages(&jetstream, COUNTER.stream).await, 2_000);

        // Selections, counted by dry runs (the store's own outbox converters).
        let dry = |selection: BackfillSelection| {
            let backfill = Backfill::new(store.clone(), "dry").selection(selection);
            async move { backfill.dry_run(|_| {}).await.expect("dry run") }
        };
        let two = dry(BackfillSelection::default().aggregate_ids(["c-1", "c-2"])).await;
        assert_eq!((two.events, two.messages), (200, 200));
        let none = dry(BackfillSelection::default().aggregate_type("Order")).await;
        assert_eq!(none.events, 0);
        let labelled_only = dry(BackfillSelection::default().event_names(["Labelled"])).await;
        assert_eq!((labelled_only.events, labelled_only.messages), (2_000, 0));
        let other_row = dry(BackfillSelection::default().integration_events(["OtherEvent"])).await;
        assert_eq!(other_row.messages, 0);
        let future = dry(BackfillSelection::default()
            .occurred(
                Some(std::time::SystemTime::now() + Duration::from_secs(3600)),
                None,
            )
            .expect("time"))
        .await;
        assert_eq!(future.events, 0);

        // The whole history again on the live channel: every message a duplicate.
        let report = Backfill::new(store.clone(), "live-replay")
            .publisher(JetStreamPublisher::new(jetstream.clone()))
            .batch_size(300)
            .run(|_| {})
            .await
            .expect("backfill");
        assert_eq!((report.events, report.messages), (2_000, 2_000));
        assert_eq!(
            (report.published, report.duplicates),
            (0, 2_000),
            "{report:?}"
        );
        assert_eq!(stream_messages(&jetstream, COUNTER.stream).await, 2_000);
        let observed = consume_all(&jetstream, 2_000, Duration::from_secs(30)).await;
        observed.assert_exactly(&(0..20).map(|i| (format!("c-{i}"), 100)).collect());

        // Without converters there is nothing to backfill with.
        let bare = db.store(false).await;
        let err = Backfill::new(bare, "bare")
            .dry_run(|_| {})
            .await
            .unwrap_err();
        assert!(matches!(err, BackfillError::NoRouter), "{err:?}");
        db.cleanup().await;
    })
    .await;
}

/// An event whose transaction drew its position before the backfill fixed its end, and
/// commits after: the backfill waits for that transaction before paging. Before, it read the
/// highest committed position as its end and paged up to it at once: the open transaction's
/// event was invisible when its batch was read, behind the checkpoint once committed, and
/// never reached the backfill's own stream (the relay publishes only on the live subjects).
#[tokio::test]
async fn an_event_committed_late_below_the_end_is_not_missed() {
    within(LIMIT, async {
        let db = TestDb::new("em_backfill_late").await;
        let store = db.store(false).await;
        for i in 0..3 {
            let mut counter = Counter::blank(&format!("c-{i}"));
            counter.increment(1);
            store.save(&mut counter).await.expect("save");
        }
        // Position 4 drawn by a transaction left open; position 5 committed after it.
        let mut late = Counter::blank("late");
        late.increment(1);
        let mut open = store.begin().await.expect("begin");
        open.append(&late).await.expect("append");
        let mut after = Counter::blank("after");
        after.increment(1);
        store.save(&mut after).await.expect("save");

        let server = LocalServer::start().await.expect("nats-server");
        let jetstream = connect(&server).await;
        provision_streams(&jetstream, &[BACKFILL])
            .await
            .expect("provision");
        let backfill = Backfill::new(store.clone(), "late-commit")
            .router(router())
            .publisher(JetStreamPublisher::new(jetstream.clone()))
            .target(BackfillTarget::Prefix("backfill.search".into()));
        let running = tokio::spawn(async move { backfill.run(|_| {}).await });
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(
            !running.is_finished(),
            "the backfill waits for the transaction that holds position 4"
        );
        open.commit().await.expect("commit");
        let report = running.await.expect("task").expect("backfill");
        assert!(report.finished);
        assert_eq!(
            (report.until, report.events, report.messages),
            (5, 5, 5),
            "{report:?}"
        );
        assert_eq!(stream_messages(&jetstream, BACKFILL.stream).await, 5);
        let stream = jetstream.get_stream(BACKFILL.stream).await.expect("stream");
        let mut aggregates = Vec::new();
        for sequence in 1..=5 {
            let message = stream.get_raw_message(sequence).await.expect("message");
            aggregates.push(
                message
                    .headers
                    .get("ce-aggregateid")
                    .map(|v| v.as_str().to_owned())
                    .unwrap_or_default(),
            );
        }
        aggregates.sort();
        assert_eq!(aggregates, ["after", "c-0", "c-1", "c-2", "late"]);
        db.cleanup().await;
    })
    .await;
}

/// A transaction that drew a position and stays open (a session left idle in a transaction)
/// holds the backfill only for `settle_wait`: then it fails with `WritersStillOpen`, naming
/// the backend, instead of waiting forever; once that transaction ends, the backfill runs.
#[tokio::test]
async fn a_writer_left_open_past_the_settle_wait_is_named_not_waited_for_forever() {
    within(LIMIT, async {
        let db = TestDb::new("em_backfill_settle").await;
        let store = db.store(false).await;
        let mut before = Counter::blank("before");
        before.increment(1);
        store.save(&mut before).await.expect("save");
        let mut late = Counter::blank("late");
        late.increment(1);
        let mut open = store.begin().await.expect("begin");
        open.append(&late).await.expect("append");

        let backfill = Backfill::new(store.clone(), "settle")
            .router(router())
            .settle_wait(Duration::from_millis(300));
        let started = std::time::Instant::now();
        let err = backfill.dry_run(|_| {}).await.expect_err("writer open");
        let BackfillError::WritersStillOpen { waited, pids } = &err else {
            panic!("{err:?}")
        };
        assert!(*waited >= Duration::from_millis(300), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5), "{err}");
        assert_eq!(pids.len(), 1, "{err}");
        assert!(
            err.to_string()
                .contains(&format!("PostgreSQL backend pids [{}]", pids[0])),
            "{err}"
        );

        open.rollback().await.expect("rollback");
        let report = backfill.dry_run(|_| {}).await.expect("dry run");
        assert_eq!((report.until, report.events), (1, 1), "{report:?}");
        db.cleanup().await;
    })
    .await;
}
