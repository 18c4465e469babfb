//! Outbox rows that can never be published: a message over the server's `max_payload` and a
//! subject no stream captures are refused with typed errors, parked after
//! `RelayConfig::park_after` refusals while the other aggregates flow, shown, and published in
//! order after `Outbox::retry` once the cause is fixed (or given up with `Outbox::skip`); a
//! subject the relay's user may not publish on is a refusal too, not a timeout. Real
//! nats-server (a `LocalServer` with a small `max_payload`, or with users and permissions),
//! real PostgreSQL (DATABASE_URL).

mod pg;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use eventmap::convert::ConversionError;
use eventmap::nats::async_nats::{self, jetstream::Context};
use eventmap::nats::connect::{
    ConnectSettings, PermissionViolations, connect as connect_with_settings,
    connect_recording_violations,
};
use eventmap::nats::{JetStreamPublisher, provision_streams};
use eventmap::postgres::{EventRegistry, Outbox, OutboxWriter, PostgresStore, Relay, RelayConfig};
use eventmap::test_util::LocalServer;
use eventmap::{
    AggregateEvent, AggregateStore, ChannelSpec, DomainEvent, EventDispatcher, EventSourced,
    IntegrationEventHandler, IntegrationMessage, PublishError, Publisher, integration_event_id,
};
use pg::*;
use serde::{Deserialize, Serialize};

const LIMIT: Duration = Duration::from_secs(180);
/// The small server limit of the tests, bytes.
const SMALL_MAX_PAYLOAD: usize = 8 * 1024;
/// A channel whose stream is not provisioned until the fix.
const ARCHIVE: ChannelSpec = ChannelSpec::new("archive", "faults.archive", "FAULTS_ARCHIVE");

/// Mapped to `NotedEvent` on the counter channel; a long text makes a message over
/// `max_payload`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Noted {
    text: String,
}
impl DomainEvent for Noted {
    fn event_name(&self) -> &'static str {
        "Noted"
    }
}

/// Mapped to `ArchivedEvent` on the archive channel (no stream until the fix).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Archived {
    reason: String,
}
impl DomainEvent for Archived {
    fn event_name(&self) -> &'static str {
        "Archived"
    }
}

mod proto {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Noted {
        #[prost(string, tag = "1")]
        pub id: String,
        #[prost(string, tag = "2")]
        pub text: String,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Archived {
        #[prost(string, tag = "1")]
        pub id: String,
        #[prost(string, tag = "2")]
        pub reason: String,
    }
}

fn noted_event(event: &AggregateEvent<Noted>) -> Result<proto::Noted, ConversionError> {
    Ok(proto::Noted {
        id: integration_event_id(event.id(), "NotedEvent").to_string(),
        text: event.payload().text.clone(),
    })
}

fn archived_event(event: &AggregateEvent<Archived>) -> Result<proto::Archived, ConversionError> {
    Ok(proto::Archived {
        id: integration_event_id(event.id(), "ArchivedEvent").to_string(),
        reason: event.payload().reason.clone(),
    })
}

async fn store(db: &TestDb) -> PostgresStore {
    let mut registry: EventRegistry = registry();
    registry
        .register::<Noted>("Noted")
        .expect("register Noted")
        .register::<Archived>("Archived")
        .expect("register Archived");
    let mut dispatcher = EventDispatcher::new();
    let writer = OutboxWriter::shared();
    register_integration_event_handlers(&mut dispatcher, Arc::clone(&writer));
    dispatcher.subscribe_to_named::<Noted>(
        "Noted",
        IntegrationEventHandler::new(
            Arc::clone(&writer),
            COUNTER,
            "NotedEvent",
            SOURCE,
            noted_event,
        ),
    );
    dispatcher.subscribe_to_named::<Archived>(
        "Archived",
        IntegrationEventHandler::new(writer, ARCHIVE, "ArchivedEvent", SOURCE, archived_event),
    );
    PostgresStore::builder(db.pool.clone())
        .schema(db.schema.clone())
        .registry(registry)
        .outbox(dispatcher)
        .build()
        .await
        .expect("store builds")
}

async fn start_server() -> LocalServer {
    LocalServer::start_with_config(&format!("max_payload: {SMALL_MAX_PAYLOAD}"))
        .await
        .unwrap_or_else(|err| panic!("cannot start nats-server: {err}"))
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

fn relay_config(db: &TestDb) -> RelayConfig {
    RelayConfig::default()
        .schema(db.schema.clone())
        .batch_size(100)
        .poll_interval(Duration::from_millis(100))
        .publish_timeout(Duration::from_secs(3))
        .backoff(Duration::from_millis(20), Duration::from_millis(500))
        .parking(3, Duration::ZERO)
}

/// One stored message: (aggregate id, version, integration event name), in stream order.
async fn stream_contents(jetstream: &Context, stream: &str) -> Vec<(u64, String, u64, String)> {
    let stream = jetstream.get_stream(stream).await.expect("stream");
    let last = stream.cached_info().state.last_sequence;
    let mut contents = Vec::new();
    for sequence in 1..=last {
        let message = stream.get_raw_message(sequence).await.expect("message");
        let header = |name: &str| {
            message
                .headers
                .get(name)
                .map(|v| v.as_str().to_owned())
                .unwrap_or_default()
        };
        contents.push((
            sequence,
            header("ce-aggregateid"),
            header("ce-aggregateversion").parse().unwrap_or(0),
            header("ce-type"),
        ));
    }
    contents
}

/// Per aggregate, the versions in stream order.
fn versions(contents: &[(u64, String, u64, String)]) -> BTreeMap<String, Vec<u64>> {
    let mut versions: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for (_, aggregate, version, _) in contents {
        versions
            .entry(aggregate.clone())
            .or_default()
            .push(*version);
    }
    versions
}

/// The typed error, before anything is sent: exactly `max_payload` bytes on the wire pass,
/// one more is `TooLarge` with the sizes, at once (no ack awaited).
#[tokio::test]
async fn a_message_over_max_payload_is_a_typed_error_not_a_hang() {
    within(LIMIT, async {
        let server = start_server().await;
        let jetstream = connect(&server).await;
        provision_streams(&jetstream, &[COUNTER])
            .await
            .expect("provision");
        let publisher = JetStreamPublisher::new(jetstream.clone());
        let mut message = IntegrationMessage {
            id: uuid::Uuid::new_v4(),
            name: "NotedEvent".into(),
            subject: "faults.counter.NotedEvent".into(),
            payload: bytes::Bytes::new(),
            headers: vec![("ce-type".into(), "NotedEvent".into())],
        };
        // Headers on the wire: "NATS/1.0\r\n", "ce-type: NotedEvent\r\n",
        // "Nats-Msg-Id: <36>\r\n", "\r\n".
        let header_bytes =
            10 + "ce-type: NotedEvent\r\n".len() + "Nats-Msg-Id: \r\n".len() + 36 + 2;
        message.payload = vec![b'x'; SMALL_MAX_PAYLOAD - header_bytes].into();
        let receipt = publisher
            .publish(&message)
            .await
            .expect("exactly max_payload");
        assert!(!receipt.duplicate);

        message.id = uuid::Uuid::new_v4();
        message.payload = vec![b'x'; SMALL_MAX_PAYLOAD - header_bytes + 1].into();
        let started = std::time::Instant::now();
        let err = publisher.publish(&message).await.unwrap_err();
        assert!(
            matches!(err, PublishError::TooLarge { size, max_payload, .. }
                if size == SMALL_MAX_PAYLOAD + 1 && max_payload == SMALL_MAX_PAYLOAD),
            "{err:?}"
        );
        assert!(err.is_permanent() && !err.is_transient());
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "{:?}",
            started.elapsed()
        );
        let err = publisher.publish_all(&[message], 4).await.unwrap_err();
        assert!(
            matches!(err.source, PublishError::TooLarge { .. }),
            "{err:?}"
        );
        // The connection is still usable.
        assert_eq!(
            jetstream
                .get_stream(COUNTER.stream)
                .await
                .unwrap()
                .info()
                .await
                .unwrap()
                .state
                .messages,
            1
        );
    })
    .await;
}

/// 1,000 events over 50 aggregates; `c-7`'s version 10 is over `max_payload`, `c-3`'s
/// version 5 goes to a subject no stream captures. Both are parked after 3 refusals, the 25
/// rows behind them wait, the other 973 events flow; after the fix (a server restarted with a
/// bigger `max_payload`, the stream provisioned) `retry` publishes them, in order.
#[tokio::test]
async fn parked_rows_wait_with_their_aggregate_and_are_published_in_order_after_retry() {
    within(LIMIT, async {
        let db = TestDb::new("em_parked").await;
        let store = store(&db).await;
        let mut server = start_server().await;
        let jetstream = connect(&server).await;
        provision_streams(&jetstream, &[COUNTER])
            .await
            .expect("provision");

        let aggregates = 50;
        let per_aggregate = 20;
        let mut counters: Vec<Counter> = (0..aggregates)
            .map(|i| Counter::blank(&format!("c-{i}")))
            .collect();
        for version in 1..=per_aggregate {
            for (i, counter) in counters.iter_mut().enumerate() {
                if i == 7 && version == 10 {
                    let text = "n".repeat(SMALL_MAX_PAYLOAD * 2);
                    counter.root.record("Counter", Noted { text });
                } else if i == 3 && version == 5 {
                    let reason = "closed".to_owned();
                    counter.root.record("Counter", Archived { reason });
                } else {
                    counter.increment(version);
                }
                store.save(counter).await.expect("save");
            }
        }
        assert_eq!(db.count("eventmap_outbox", "").await, 1000);

        let relay = Relay::new(
            db.pool.clone(),
            Arc::new(JetStreamPublisher::new(jetstream.clone())),
            relay_config(&db),
        )
        .await
        .expect("relay");
        let running = relay.spawn();
        let outbox = Outbox::new(db.pool.clone(), &db.schema)
            .await
            .expect("outbox");
        let settled = eventually(
            Duration::from_secs(60),
            Duration::from_millis(100),
            async || {
                let backlog = outbox.backlog().await.expect("backlog");
                backlog.parked == 2 && backlog.unpublished == 2 + 25
            },
        )
        .await;
        let backlog = outbox.backlog().await.expect("backlog");
        assert!(settled, "{backlog:?}");
        assert_eq!(backlog.waiting_behind_parked, 25);
        assert!(backlog.oldest_unpublished.is_some());

        // The other aggregates flowed: 973 messages, each aggregate in order; c-7 stops at 9,
        // c-3 at 4.
        let before = stream_contents(&jetstream, COUNTER.stream).await;
        assert_eq!(before.len(), 973);
        let seen = versions(&before);
        for i in 0..aggregates {
            let id = format!("c-{i}");
            let expected: Vec<u64> = match i {
                7 => (1..=9).collect(),
                3 => (1..=4).collect(),
                _ => (1..=u64::from(per_aggregate)).collect(),
            };
            assert_eq!(seen.get(&id), Some(&expected), "{id}");
        }

        // The parked rows, as an operator sees them.
        let parked = outbox.parked(100).await.expect("parked");
        assert_eq!(parked.len(), 2, "{parked:?}");
        let archived = &parked[0];
        let noted = &parked[1];
        assert_eq!(
            (
                archived.aggregate_id.as_str(),
                archived.aggregate_version,
                archived.name.as_str()
            ),
            ("c-3", 5, "ArchivedEvent")
        );
        assert_eq!(
            (
                noted.aggregate_id.as_str(),
                noted.aggregate_version,
                noted.name.as_str()
            ),
            ("c-7", 10, "NotedEvent")
        );
        assert_eq!((archived.waiting, noted.waiting), (15, 10));
        for row in &parked {
            assert_eq!(row.refusals, 3, "{row:?}");
            assert!(row.attempts >= 3, "{row:?}");
        }
        let noted_error = noted.last_error.as_deref().unwrap_or_default();
        assert!(
            noted_error.contains("max_payload of 8192 bytes"),
            "{noted_error}"
        );
        let archived_error = archived.last_error.as_deref().unwrap_or_default();
        assert!(
            archived_error.contains("no stream stores subject `faults.archive.ArchivedEvent`"),
            "{archived_error}"
        );
        let shown = outbox.row(noted.id).await.expect("row").expect("exists");
        assert!(shown.parked);
        assert!(
            shown.payload.len() > SMALL_MAX_PAYLOAD,
            "{}",
            shown.payload.len()
        );
        assert!(
            shown
                .headers
                .contains(&("ce-aggregateversion".into(), "10".into())),
            "{:?}",
            shown.headers
        );
        assert_eq!(relay.stats().parked, 2);

        // While parked, nothing moves: the relay keeps running without backing off the rest.
        let appended = {
            let mut late = Counter::blank("late");
            late.increment(1);
            store.save(&mut late).await.expect("save");
            late
        };
        assert!(
            eventually(
                Duration::from_secs(10),
                Duration::from_millis(50),
                async || { outbox.backlog().await.expect("backlog").unpublished == 27 }
            )
            .await,
            "a new aggregate flows past the parked rows"
        );
        drop(appended);

        // The fix: a bigger max_payload (a server restart: the relay's connection reconnects
        // and learns the new limit), and the archive stream provisioned.
        server.set_config("max_payload: 65536").expect("config");
        server.restart().await.expect("restart");
        let jetstream = connect(&server).await;
        provision_streams(&jetstream, &[ARCHIVE])
            .await
            .expect("provision archive");
        let retried = outbox.retry(None).await.expect("retry");
        assert_eq!(retried, vec![archived.id, noted.id]);
        let drained = eventually(
            Duration::from_secs(60),
            Duration::from_millis(100),
            async || outbox.backlog().await.expect("backlog").unpublished == 0,
        )
        .await;
        assert!(drained, "{:?}", outbox.backlog().await);
        running.stop().await.expect("relay stops");

        // In order: every aggregate's versions complete and in stream order, the rows that
        // waited stored after everything published before the fix.
        let after = stream_contents(&jetstream, COUNTER.stream).await;
        assert_eq!(after.len(), 999 + 1, "999 counter events and the late one");
        let seen = versions(&after);
        assert_eq!(seen.get("c-7"), Some(&(1..=20).collect::<Vec<u64>>()));
        let c3: Vec<u64> = (1..=20).filter(|v| *v != 5).collect();
        assert_eq!(seen.get("c-3"), Some(&c3));
        for (sequence, aggregate, version, _) in &after {
            if (aggregate == "c-7" && *version >= 10) || (aggregate == "c-3" && *version >= 6) {
                assert!(
                    *sequence > 974,
                    "{aggregate} v{version} at {sequence}: waited"
                );
            }
        }
        let noted_at = after
            .iter()
            .find(|(_, a, v, _)| a == "c-7" && *v == 10)
            .expect("c-7 v10");
        assert_eq!(noted_at.3, "NotedEvent");
        let archive = stream_contents(&jetstream, ARCHIVE.stream).await;
        assert_eq!(
            archive
                .iter()
                .map(|(_, a, v, t)| (a.as_str(), *v, t.as_str()))
                .collect::<Vec<_>>(),
            [("c-3", 5, "ArchivedEvent")]
        );
        db.cleanup().await;
    })
    .await;
}

/// `skip` deletes a parked row and returns it; the rows behind it flow; the stream never
/// gets the skipped event. A row that is not parked is neither skipped nor retried.
#[tokio::test]
async fn skipping_a_parked_row_lets_its_aggregate_flow() {
    within(LIMIT, async {
        let db = TestDb::new("em_skip").await;
        let store = store(&db).await;
        let server = start_server().await;
        let jetstream = connect(&server).await;
        provision_streams(&jetstream, &[COUNTER])
            .await
            .expect("provision");
        let mut counter = Counter::blank("c-1");
        counter.increment(1);
        counter.root.record(
            "Counter",
            Noted {
                text: "n".repeat(SMALL_MAX_PAYLOAD),
            },
        );
        counter.increment(3);
        counter.increment(4);
        store.save(&mut counter).await.expect("save");

        let relay = Relay::new(
            db.pool.clone(),
            Arc::new(JetStreamPublisher::new(jetstream.clone())),
            relay_config(&db).listen(false),
        )
        .await
        .expect("relay");
        // Round by round: 1 is published, 2 refused (3 and 4 held back) three times, then
        // parked; a round after that selects nothing.
        let first = relay.run_once().await.expect("round");
        assert_eq!(
            (first.published, first.failed, first.parked, first.halted),
            (1, 1, 0, false)
        );
        assert!(
            first
                .error
                .as_deref()
                .unwrap_or_default()
                .contains("max_payload"),
            "{first:?}"
        );
        relay.run_once().await.expect("round");
        let third = relay.run_once().await.expect("round");
        assert_eq!((third.failed, third.parked), (1, 1), "{third:?}");
        let idle = relay.run_once().await.expect("round");
        assert_eq!(
            idle.selected, 0,
            "rows behind a parked row are not selected: {idle:?}"
        );
        assert_eq!(relay.backlog().await.expect("backlog"), 3);
        assert_eq!(relay.stats().parked_backlog, 1);

        let outbox = Outbox::new(db.pool.clone(), &db.schema)
            .await
            .expect("outbox");
        let parked = outbox.parked(10).await.expect("parked");
        assert_eq!(parked.len(), 1);
        let behind = outbox
            .row(parked[0].id + 1)
            .await
            .expect("row")
            .expect("exists");
        assert!(!behind.parked);
        // Not parked: neither retried nor skipped.
        assert!(
            outbox
                .retry(Some(&[behind.row.id]))
                .await
                .expect("retry")
                .is_empty()
        );
        assert!(
            outbox
                .skip(&[behind.row.id])
                .await
                .expect("skip")
                .is_empty()
        );

        let skipped = outbox.skip(&[parked[0].id]).await.expect("skip");
        assert_eq!(skipped.len(), 1);
        assert_eq!(skipped[0].row.aggregate_version, 2);
        assert!(skipped[0].payload.len() > SMALL_MAX_PAYLOAD);
        assert!(outbox.row(parked[0].id).await.expect("row").is_none());
        let round = relay.run_once().await.expect("round");
        assert_eq!(round.published, 2, "{round:?}");
        let contents = stream_contents(&jetstream, COUNTER.stream).await;
        assert_eq!(versions(&contents).get("c-1"), Some(&vec![1, 3, 4]));
        assert_eq!(outbox.backlog().await.expect("backlog").unpublished, 0);
        db.cleanup().await;
    })
    .await;
}

/// An outbox written before migration 4 (no parking columns), with unpublished rows, is
/// upgraded in place when a relay starts, and its rows are published.
#[tokio::test]
async fn an_outbox_from_before_parking_is_upgraded_and_relayed() {
    within(LIMIT, async {
        use eventmap::postgres::sqlx;
        let db = TestDb::new("em_upgrade").await;
        let schema = format!("\"{}\"", db.schema);
        let mut setup = format!(
            "CREATE SCHEMA {schema}; CREATE TABLE {schema}.eventmap_migrations (
                 version integer PRIMARY KEY, description text NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now());"
        );
        for (version, sql) in [
            (1, include_str!("../src/postgres/migrations/0001_event_store.sql")),
            (2, include_str!("../src/postgres/migrations/0002_outbox.sql")),
            (3, include_str!("../src/postgres/migrations/0003_inbox.sql")),
        ] {
            setup.push_str(&sql.replace("{schema}", &schema));
            setup.push_str(&format!(
                ";INSERT INTO {schema}.eventmap_migrations VALUES ({version}, 'old', now());"
            ));
        }
        sqlx::raw_sql(&setup).execute(&db.pool).await.expect("old schema");
        // Two unpublished rows as the old relay left them: one failed once.
        sqlx::raw_sql(&format!(
            "INSERT INTO {schema}.eventmap_outbox (message_id, aggregate_type, aggregate_id, \
               aggregate_version, subject, name, headers, payload, attempts, last_error) VALUES \
             ('00000000-0000-0000-0000-000000000001', 'Counter', 'c-1', 1, \
               'faults.counter.IncrementedEvent', 'IncrementedEvent', \
               '[[\"ce-aggregateid\",\"c-1\"],[\"ce-aggregateversion\",\"1\"]]', '\\x08'::bytea, 1, 'timeout'), \
             ('00000000-0000-0000-0000-000000000002', 'Counter', 'c-1', 2, \
               'faults.counter.IncrementedEvent', 'IncrementedEvent', \
               '[[\"ce-aggregateid\",\"c-1\"],[\"ce-aggregateversion\",\"2\"]]', '\\x08'::bytea, 0, NULL)"
        ))
        .execute(&db.pool)
        .await
        .expect("old rows");

        let server = start_server().await;
        let jetstream = connect(&server).await;
        provision_streams(&jetstream, &[COUNTER]).await.expect("provision");
        let relay = Relay::new(
            db.pool.clone(),
            Arc::new(JetStreamPublisher::new(jetstream.clone())),
            relay_config(&db).listen(false),
        )
        .await
        .expect("relay upgrades the schema");
        let migrated: Vec<i32> = sqlx::query_scalar(&format!(
            "SELECT version FROM {schema}.eventmap_migrations ORDER BY version"
        ))
        .fetch_all(&db.pool)
        .await
        .expect("migrations");
        assert_eq!(migrated, [1, 2, 3, 4, 5, 6]);
        // Migration 6: the headers, `jsonb` before, are JSON text, the old rows' included.
        let headers_type: String = sqlx::query_scalar(
            "SELECT data_type FROM information_schema.columns \
             WHERE table_schema = $1 AND table_name = 'eventmap_outbox' AND column_name = 'headers'",
        )
        .bind(&db.schema)
        .fetch_one(&db.pool)
        .await
        .expect("headers column");
        assert_eq!(headers_type, "text");
        let outbox = Outbox::new(db.pool.clone(), &db.schema).await.expect("outbox");
        let backlog = outbox.backlog().await.expect("backlog");
        assert_eq!((backlog.unpublished, backlog.parked), (2, 0));
        let old = outbox.row(1).await.expect("row").expect("exists");
        assert_eq!((old.row.attempts, old.row.refusals, old.parked), (1, 0, false));
        assert_eq!(old.row.last_error.as_deref(), Some("timeout"));
        let round = relay.run_once().await.expect("round");
        assert_eq!(round.published, 2, "{round:?}");
        let contents = stream_contents(&jetstream, COUNTER.stream).await;
        assert_eq!(versions(&contents).get("c-1"), Some(&vec![1, 2]));
        db.cleanup().await;
    })
    .await;
}

/// A message under the server's `max_payload` but over its stream's `max_msg_size` is refused
/// by JetStream (error 10054) on every attempt: a typed `PublishError::Refused`, parked like a
/// message over `max_payload`, never a transient failure that would halt every round (the
/// next round's probe would be that row again, forever, and no aggregate would flow).
#[tokio::test]
async fn a_message_over_the_streams_max_msg_size_is_refused_and_parked() {
    over_max_msg_size(false).await;
}

/// The same on a stream that takes fast batches, the big row in the middle of a batch: the
/// rows before it go in the batch, the stream stores nothing after it, and the other
/// aggregates' rows after it go one at a time in the same round.
#[tokio::test]
async fn a_message_over_max_msg_size_in_a_fast_batch_is_refused_and_parked() {
    over_max_msg_size(true).await;
}

async fn over_max_msg_size(batched: bool) {
    within(LIMIT, async {
        let db = TestDb::new("em_msgsize").await;
        let store = store(&db).await;
        let server = start_server().await;
        let jetstream = connect(&server).await;
        let max_msg_size = 2048;
        jetstream
            .create_stream(async_nats::jetstream::stream::Config {
                name: COUNTER.stream.to_owned(),
                subjects: vec![format!("{}.>", COUNTER.subject)],
                max_message_size: max_msg_size,
                allow_batch_publish: batched,
                ..Default::default()
            })
            .await
            .expect("stream with a small max_msg_size");

        // The publisher's error, directly.
        let publisher = JetStreamPublisher::new(jetstream.clone());
        let message = IntegrationMessage {
            id: uuid::Uuid::new_v4(),
            name: "NotedEvent".into(),
            subject: "faults.counter.NotedEvent".into(),
            payload: vec![b'x'; 4096].into(),
            headers: vec![("ce-type".into(), "NotedEvent".into())],
        };
        let err = publisher.publish(&message).await.unwrap_err();
        assert!(
            matches!(&err, PublishError::Refused { reason, .. } if reason.contains("10054")),
            "{err:?}"
        );
        assert!(err.is_permanent() && !err.is_transient(), "{err:?}");

        // Without batches, the big row first (the lowest id), then its aggregate's next event,
        // then 10 other aggregates of 3 events each; with batches, the 10 aggregates' first
        // events before the big row.
        let relay = Relay::new(
            db.pool.clone(),
            Arc::new(JetStreamPublisher::new(jetstream.clone())),
            relay_config(&db).listen(false),
        )
        .await
        .expect("relay");
        if batched {
            // A new relay's first round is a probe, one message at a time, and the publisher
            // learns the subjects' stream from single publishes: let a round pass on rows of
            // their own, of both subjects.
            let mut warm = Counter::blank("c-warm");
            warm.root.record("Counter", Noted { text: "w".into() });
            warm.increment(2);
            store.save(&mut warm).await.expect("save");
            assert_eq!(relay.run_once().await.expect("round").published, 2);
        }
        let mut counters: Vec<Counter> =
            (0..10).map(|i| Counter::blank(&format!("c-{i}"))).collect();
        let before = if batched { 1 } else { 0 };
        for version in 1..=before {
            for counter in &mut counters {
                counter.increment(version);
                store.save(counter).await.expect("save");
            }
        }
        let mut big = Counter::blank("c-big");
        big.root.record(
            "Counter",
            Noted {
                text: "n".repeat(4000),
            },
        );
        store.save(&mut big).await.expect("save");
        big.increment(2);
        store.save(&mut big).await.expect("save");
        for version in before + 1..=3 {
            for counter in &mut counters {
                counter.increment(version);
                store.save(counter).await.expect("save");
            }
        }
        assert_eq!(db.count("eventmap_outbox", "").await, 32);

        let mut halted = 0;
        for _ in 0..10 {
            let round = relay.run_once().await.expect("round");
            halted += usize::from(round.halted);
        }
        assert_eq!(halted, 0, "a refusal never halts a round");
        let batched_rows = relay.stats().batched;
        if batched {
            assert!(
                batched_rows >= 10,
                "the rows before the big one went in a batch: {batched_rows}"
            );
        } else {
            assert_eq!(batched_rows, 0);
        }
        let outbox = Outbox::new(db.pool.clone(), &db.schema)
            .await
            .expect("outbox");
        let backlog = outbox.backlog().await.expect("backlog");
        assert_eq!(
            (
                backlog.unpublished,
                backlog.parked,
                backlog.waiting_behind_parked
            ),
            (2, 1, 1),
            "{backlog:?}"
        );
        let parked = outbox.parked(10).await.expect("parked");
        assert_eq!(parked.len(), 1, "{parked:?}");
        assert_eq!(
            (
                parked[0].aggregate_id.as_str(),
                parked[0].aggregate_version,
                parked[0].refusals
            ),
            ("c-big", 1, 3)
        );
        let error = parked[0].last_error.as_deref().unwrap_or_default();
        assert!(error.contains("stream refused the message"), "{error}");
        let contents = stream_contents(&jetstream, COUNTER.stream).await;
        assert_eq!(contents.len(), 30 + 2 * usize::from(batched));
        let seen = versions(&contents);
        for i in 0..10 {
            assert_eq!(seen.get(&format!("c-{i}")), Some(&vec![1, 2, 3]), "c-{i}");
        }
        assert_eq!(seen.get("c-big"), None);
        db.cleanup().await;
    })
    .await;
}

/// A subject no stream captures ("no responders") on the lowest row, within
/// `no_stream_grace` (so not parked yet): the other aggregates flow all the same, round after
/// round, while each archived row is refused once per round. Before, "no responders"
/// halted every round and the next round's probe was that row again: every aggregate stopped
/// for the whole grace (2 minutes by default), and again for each later row on the subject.
#[tokio::test]
async fn a_subject_without_stream_within_its_grace_does_not_stop_other_aggregates() {
    within(LIMIT, async {
        let db = TestDb::new("em_nostream").await;
        let store = store(&db).await;
        let server = start_server().await;
        let jetstream = connect(&server).await;
        provision_streams(&jetstream, &[COUNTER])
            .await
            .expect("provision");
        // Two aggregates archived first (the lowest ids, the archive stream is missing), then
        // 10 other aggregates of 3 events each.
        for id in ["a-1", "a-2"] {
            let mut archived = Counter::blank(id);
            archived.root.record(
                "Counter",
                Archived {
                    reason: "closed".into(),
                },
            );
            archived.increment(1);
            store.save(&mut archived).await.expect("save");
        }
        let mut counters: Vec<Counter> =
            (0..10).map(|i| Counter::blank(&format!("c-{i}"))).collect();
        for version in 1..=3 {
            for counter in &mut counters {
                counter.increment(version);
                store.save(counter).await.expect("save");
            }
        }
        let relay = Relay::new(
            db.pool.clone(),
            Arc::new(JetStreamPublisher::new(jetstream.clone())),
            relay_config(&db)
                .listen(false)
                .parking(3, Duration::from_secs(600)),
        )
        .await
        .expect("relay");
        let mut failed = Vec::new();
        for _ in 0..6 {
            let round = relay.run_once().await.expect("round");
            failed.push(round.failed);
        }
        let contents = stream_contents(&jetstream, COUNTER.stream).await;
        let seen = versions(&contents);
        for i in 0..10 {
            assert_eq!(seen.get(&format!("c-{i}")), Some(&vec![1, 2, 3]), "c-{i}");
        }
        assert_eq!(contents.len(), 30, "{contents:?}");
        // The two archived rows are refused once per round, each holding back its aggregate.
        assert_eq!(failed, [2; 6]);
        let outbox = Outbox::new(db.pool.clone(), &db.schema)
            .await
            .expect("outbox");
        let backlog = outbox.backlog().await.expect("backlog");
        assert_eq!((backlog.unpublished, backlog.parked), (4, 0), "{backlog:?}");
        for id in [1, 3] {
            let archived = outbox.row(id).await.expect("row").expect("exists");
            assert_eq!(
                (
                    archived.row.name.as_str(),
                    archived.row.refusals,
                    archived.parked
                ),
                ("ArchivedEvent", 6, false)
            );
        }
        db.cleanup().await;
    })
    .await;
}

/// A row whose stored headers are not `[[name, value], ...]` (a corrupt row) is parked as
/// unreadable, and can still be shown and skipped, so that its aggregate can flow again.
/// Before, `row` and `skip` failed with `Corrupt` on it: the aggregate stayed blocked with no
/// way out but SQL.
#[tokio::test]
async fn a_parked_row_with_unreadable_headers_is_shown_and_skipped() {
    within(LIMIT, async {
        use eventmap::postgres::sqlx;
        let db = TestDb::new("em_corrupt").await;
        let store = store(&db).await;
        let server = start_server().await;
        let jetstream = connect(&server).await;
        provision_streams(&jetstream, &[COUNTER])
            .await
            .expect("provision");
        let mut counter = Counter::blank("c-1");
        counter.increment(1);
        counter.increment(2);
        store.save(&mut counter).await.expect("save");
        // The first row's headers corrupted (valid JSON, not a list of pairs).
        sqlx::query(&format!(
            "UPDATE \"{}\".eventmap_outbox SET headers = '{{\"ce-type\": 1}}'::jsonb \
             WHERE aggregate_version = 1",
            db.schema
        ))
        .execute(&db.pool)
        .await
        .expect("corrupt");
        let relay = Relay::new(
            db.pool.clone(),
            Arc::new(JetStreamPublisher::new(jetstream.clone())),
            relay_config(&db).listen(false),
        )
        .await
        .expect("relay");
        for _ in 0..3 {
            relay.run_once().await.expect("round");
        }
        let outbox = Outbox::new(db.pool.clone(), &db.schema)
            .await
            .expect("outbox");
        let parked = outbox.parked(10).await.expect("parked");
        assert_eq!(parked.len(), 1, "{parked:?}");
        let error = parked[0].last_error.as_deref().unwrap_or_default();
        assert!(error.contains("headers are not"), "{error}");
        let shown = outbox
            .row(parked[0].id)
            .await
            .expect("a corrupt row is shown")
            .expect("exists");
        assert!(shown.headers.is_empty());
        assert_eq!(
            shown.unreadable_headers.as_deref(),
            Some("{\"ce-type\": 1}")
        );
        let skipped = outbox.skip(&[parked[0].id]).await.expect("skipped");
        assert_eq!(skipped.len(), 1);
        assert_eq!(
            skipped[0].unreadable_headers.as_deref(),
            Some("{\"ce-type\": 1}")
        );
        relay.run_once().await.expect("round");
        assert_eq!(outbox.backlog().await.expect("backlog").unpublished, 0);
        let contents = stream_contents(&jetstream, COUNTER.stream).await;
        assert_eq!(versions(&contents).get("c-1"), Some(&vec![2]));
        db.cleanup().await;
    })
    .await;
}

/// A subject the relay's user may not publish on: the server drops the publish and sends the
/// connection an asynchronous `Permissions Violation for Publish to "<subject>"`, so the ack
/// never comes. It looked like a timeout: retried forever, halting every round (the next
/// round's probe was that row again), never parked. With the connection's violations
/// recorded, the publish fails at once with `PublishError::NotPermitted` and the server's
/// text, and the row is parked after `park_after` tries while the other aggregates flow.
#[tokio::test]
async fn a_subject_the_user_may_not_publish_on_is_refused_and_parked() {
    within(LIMIT, async {
        let db = TestDb::new("em_denied").await;
        let store = store(&db).await;
        let server = LocalServer::start_with_config(
            "authorization { users: [ { user: admin, password: admin-pw }, \
             { user: relay, password: relay-pw, \
               permissions: { publish: { deny: [\"faults.archive.>\"] } } } ] }\n",
        )
        .await
        .unwrap_or_else(|err| panic!("cannot start nats-server: {err}"));
        let as_user = |user: &str, password: &str| {
            let mut settings = ConnectSettings::new(&server.url());
            settings.user = Some(user.into());
            settings.password = Some(password.into());
            settings.max_wait = Some(Duration::from_secs(10));
            settings
        };
        let admin = async_nats::jetstream::new(
            connect_with_settings(&as_user("admin", "admin-pw"))
                .await
                .expect("admin connects"),
        );
        provision_streams(&admin, &[COUNTER, ARCHIVE])
            .await
            .expect("provision");
        let violations = PermissionViolations::new();
        let client =
            connect_recording_violations(&as_user("relay", "relay-pw"), &violations)
                .await
                .expect("relay connects");
        let mut jetstream = async_nats::jetstream::new(client);
        jetstream.set_timeout(Duration::from_secs(2));
        let publisher =
            JetStreamPublisher::new(jetstream.clone()).with_permission_violations(violations);

        // The publisher's error, directly: the server's refusal, well before the ack timeout.
        let message = IntegrationMessage {
            id: uuid::Uuid::new_v4(),
            name: "ArchivedEvent".into(),
            subject: "faults.archive.ArchivedEvent".into(),
            payload: bytes::Bytes::from_static(b"x"),
            headers: vec![("ce-type".into(), "ArchivedEvent".into())],
        };
        let started = std::time::Instant::now();
        let err = publisher.publish(&message).await.unwrap_err();
        let elapsed = started.elapsed();
        assert!(
            matches!(&err, PublishError::NotPermitted { subject, reason }
                if subject == "faults.archive.ArchivedEvent"
                && reason == "Permissions Violation for Publish to \"faults.archive.ArchivedEvent\""),
            "{err:?}"
        );
        assert!(err.is_permanent() && !err.is_transient(), "{err:?}");
        assert!(elapsed < Duration::from_secs(1), "{elapsed:?}");

        // The relay: a-1's first event on the refused subject, then its second; five other
        // aggregates of two events each.
        let mut archived = Counter::blank("a-1");
        archived.root.record(
            "Counter",
            Archived {
                reason: "closed".into(),
            },
        );
        archived.increment(2);
        store.save(&mut archived).await.expect("save");
        for i in 0..5 {
            let mut counter = Counter::blank(&format!("c-{i}"));
            counter.increment(1);
            counter.increment(2);
            store.save(&mut counter).await.expect("save");
        }
        let relay = Relay::new(
            db.pool.clone(),
            Arc::new(publisher),
            relay_config(&db).listen(false),
        )
        .await
        .expect("relay");
        let mut rounds = Vec::new();
        for _ in 0..4 {
            let round = relay.run_once().await.expect("round");
            rounds.push((round.failed, round.parked, round.halted));
        }
        assert_eq!(
            rounds,
            [(1, 0, false), (1, 0, false), (1, 1, false), (0, 0, false)],
            "refused three times, parked at the third, never halting a round"
        );
        let outbox = Outbox::open(db.pool.clone(), &db.schema)
            .await
            .expect("outbox");
        let backlog = outbox.backlog().await.expect("backlog");
        assert_eq!(
            (
                backlog.unpublished,
                backlog.parked,
                backlog.waiting_behind_parked
            ),
            (2, 1, 1),
            "{backlog:?}"
        );
        let parked = outbox.parked(10).await.expect("parked");
        assert_eq!(
            (
                parked[0].aggregate_id.as_str(),
                parked[0].aggregate_version,
                parked[0].refusals
            ),
            ("a-1", 1, 3)
        );
        let error = parked[0].last_error.as_deref().unwrap_or_default();
        assert!(
            error.contains("does not permit publishing on `faults.archive.ArchivedEvent`")
                && error.contains("Permissions Violation for Publish to"),
            "{error}"
        );
        let contents = stream_contents(&admin, COUNTER.stream).await;
        assert_eq!(contents.len(), 10, "{contents:?}");
        for i in 0..5 {
            assert_eq!(
                versions(&contents).get(&format!("c-{i}")),
                Some(&vec![1, 2]),
                "c-{i}"
            );
        }
        db.cleanup().await;
    })
    .await;
}
