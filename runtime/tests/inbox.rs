//! The Postgres inbox against the machine's PostgreSQL (DATABASE_URL, default the `postgres`
//! database at 127.0.0.1:5432), each test in a schema of its own; the crash test adds a
//! private `nats-server -js`.

mod pg;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use eventmap::nats::async_nats::{self, jetstream::Context};
use eventmap::nats::{
    Consumer, ConsumerSpec, DeliveryPolicy, JetStreamPublisher, provision_streams,
};
use eventmap::postgres::sqlx::{self, PgConnection};
use eventmap::postgres::{Inbox, InboxError, InboxOutcome, Relay, RelayConfig};
use eventmap::test_util::LocalServer;
use eventmap::{AggregateStore, EventSourced};
use pg::*;

/// Upper bound of each test.
const LIMIT: Duration = Duration::from_secs(60);

/// A schema with the inbox and a read model of counter totals, `applications` counting the
/// updates applied to each row.
async fn setup(prefix: &str) -> (TestDb, Inbox, ReadModel) {
    let db = TestDb::on(&database_url(), prefix).await;
    let inbox = Inbox::new(db.pool.clone(), &db.schema)
        .await
        .expect("inbox migrates");
    let model = ReadModel {
        table: format!("\"{}\".counter_totals", db.schema),
    };
    sqlx::query(&format!(
        "CREATE TABLE {} (counter_id text PRIMARY KEY, total bigint NOT NULL, \
         applications integer NOT NULL)",
        model.table
    ))
    .execute(&db.pool)
    .await
    .expect("read model table");
    (db, inbox, model)
}

#[derive(Clone)]
struct ReadModel {
    table: String,
}

impl ReadModel {
    /// The handler's own write: adds `by` to the counter's total.
    async fn apply(&self, conn: &mut PgConnection, counter: &str, by: i64) -> sqlx::Result<()> {
        sqlx::query(&format!(
            "INSERT INTO {t} (counter_id, total, applications) VALUES ($1, $2, 1) \
             ON CONFLICT (counter_id) DO UPDATE \
             SET total = {t}.total + EXCLUDED.total, applications = {t}.applications + 1",
            t = self.table
        ))
        .bind(counter)
        .bind(by)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// `(total, applications)` of the counter, if it has a row.
    async fn row(&self, db: &TestDb, counter: &str) -> Option<(i64, i32)> {
        sqlx::query_as(&format!(
            "SELECT total, applications FROM {} WHERE counter_id = $1",
            self.table
        ))
        .bind(counter)
        .fetch_optional(&db.pool)
        .await
        .expect("read model row")
    }
}

#[tokio::test]
async fn processed_once_then_a_duplicate_changes_nothing() {
    within(LIMIT, async {
        let (db, inbox, model) = setup("em_inbox_once").await;
        let runs = AtomicUsize::new(0);
        let handle = || async {
            inbox
                .process("projector", "msg-1", async |conn: &mut PgConnection| {
                    runs.fetch_add(1, Ordering::SeqCst);
                    model.apply(conn, "c-1", 5).await?;
                    Ok::<_, sqlx::Error>("applied")
                })
                .await
                .expect("process")
        };

        assert_eq!(handle().await, InboxOutcome::Processed("applied"));
        assert!(inbox.is_processed("projector", "msg-1").await.unwrap());
        let second = handle().await;
        assert!(second.is_duplicate());
        assert_eq!(runs.load(Ordering::SeqCst), 1, "the handler ran once");
        assert_eq!(model.row(&db, "c-1").await, Some((5, 1)));

        // Another consumer keeps its own record of the same message.
        let other = inbox
            .process("auditor", "msg-1", async |_conn: &mut PgConnection| {
                Ok::<_, sqlx::Error>(())
            })
            .await
            .expect("process");
        assert_eq!(other, InboxOutcome::Processed(()));
        assert_eq!(db.count("eventmap_inbox", "").await, 2);
        db.cleanup().await;
    })
    .await;
}

#[tokio::test]
async fn a_failing_handler_leaves_no_trace_and_the_retry_processes() {
    within(LIMIT, async {
        let (db, inbox, model) = setup("em_inbox_fail").await;
        let failed = inbox
            .process("projector", "msg-1", async |conn: &mut PgConnection| {
                model
                    .apply(conn, "c-1", 5)
                    .await
                    .map_err(|e| e.to_string())?;
                Err::<(), _>("downstream rejected it".to_owned())
            })
            .await;
        match failed {
            Err(InboxError::Handler {
                consumer,
                message_id,
                source,
            }) => {
                assert_eq!(consumer, "projector");
                assert_eq!(message_id, "msg-1");
                assert_eq!(source, "downstream rejected it");
            }
            other => panic!("expected the handler's error, got {other:?}"),
        }
        assert_eq!(
            model.row(&db, "c-1").await,
            None,
            "its write was rolled back"
        );
        assert!(!inbox.is_processed("projector", "msg-1").await.unwrap());
        assert_eq!(db.count("eventmap_inbox", "").await, 0);

        let retried = inbox
            .process("projector", "msg-1", async |conn: &mut PgConnection| {
                model.apply(conn, "c-1", 5).await
            })
            .await
            .expect("retry");
        assert_eq!(retried, InboxOutcome::Processed(()));
        assert_eq!(model.row(&db, "c-1").await, Some((5, 1)));
        db.cleanup().await;
    })
    .await;
}

/// Waits (up to 10 s) until a session of this schema waits on a lock in an inbox insert.
async fn wait_for_blocked_insert(db: &TestDb) {
    let pattern = format!("%\"{}\".eventmap_inbox%", db.schema);
    let blocked = eventually(
        Duration::from_secs(10),
        Duration::from_millis(25),
        async || {
            let blocked: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity \
             WHERE wait_event_type = 'Lock' AND query LIKE $1",
            )
            .bind(&pattern)
            .fetch_one(&db.pool)
            .await
            .expect("pg_stat_activity");
            blocked > 0
        },
    )
    .await;
    assert!(
        blocked,
        "the second handling never waited on the first one's inbox row"
    );
}

/// Two instances handle the same message at once. The first holds its transaction open (its
/// handler waits) until the second's insert is seen waiting on the uncommitted inbox row; then
/// the first either commits (`first_commits`) or fails. Returns both outcomes and the runs of
/// the second handler.
async fn race(
    db: &TestDb,
    inbox: &Inbox,
    model: &ReadModel,
    first_commits: bool,
) -> (
    Result<InboxOutcome<()>, InboxError<String>>,
    Result<InboxOutcome<()>, InboxError<String>>,
    usize,
) {
    let (started_tx, started) = tokio::sync::oneshot::channel::<()>();
    let (release, release_rx) = tokio::sync::oneshot::channel::<()>();
    let first = tokio::spawn({
        let (inbox, model) = (inbox.clone(), model.clone());
        async move {
            inbox
                .process(
                    "projector",
                    "msg-1",
                    async move |conn: &mut PgConnection| {
                        model
                            .apply(conn, "c-1", 5)
                            .await
                            .map_err(|e| e.to_string())?;
                        let _ = started_tx.send(());
                        let _ = release_rx.await;
                        if first_commits {
                            Ok(())
                        } else {
                            Err("first instance failed".to_owned())
                        }
                    },
                )
                .await
        }
    });
    started.await.expect("first handler started");

    let second_runs = Arc::new(AtomicUsize::new(0));
    let second = tokio::spawn({
        let (inbox, model, runs) = (inbox.clone(), model.clone(), Arc::clone(&second_runs));
        async move {
            inbox
                .process(
                    "projector",
                    "msg-1",
                    async move |conn: &mut PgConnection| {
                        runs.fetch_add(1, Ordering::SeqCst);
                        model.apply(conn, "c-1", 5).await.map_err(|e| e.to_string())
                    },
                )
                .await
        }
    });
    wait_for_blocked_insert(db).await;
    let _ = release.send(());
    let first = first.await.expect("first task");
    let second = second.await.expect("second task");
    (first, second, second_runs.load(Ordering::SeqCst))
}

#[tokio::test]
async fn concurrent_handlings_of_one_message_process_it_once() {
    within(LIMIT, async {
        let (db, inbox, model) = setup("em_inbox_race").await;
        let (first, second, second_runs) = race(&db, &inbox, &model, true).await;
        assert_eq!(first.expect("first"), InboxOutcome::Processed(()));
        assert_eq!(second.expect("second"), InboxOutcome::Duplicate);
        assert_eq!(second_runs, 0);
        assert_eq!(model.row(&db, "c-1").await, Some((5, 1)));
        db.cleanup().await;
    })
    .await;
}

#[tokio::test]
async fn when_the_first_handling_fails_the_waiting_one_processes() {
    within(LIMIT, async {
        let (db, inbox, model) = setup("em_inbox_race_fail").await;
        let (first, second, second_runs) = race(&db, &inbox, &model, false).await;
        assert!(
            matches!(first, Err(InboxError::Handler { .. })),
            "{first:?}"
        );
        assert_eq!(second.expect("second"), InboxOutcome::Processed(()));
        assert_eq!(second_runs, 1);
        assert_eq!(model.row(&db, "c-1").await, Some((5, 1)));
        db.cleanup().await;
    })
    .await;
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

/// A consumer processes a message through the inbox, commits, and crashes before acking; the
/// redelivery is a duplicate, acked without being applied again.
#[tokio::test]
async fn a_redelivery_after_a_crash_before_the_ack_is_a_no_op() {
    within(LIMIT, async {
        let (db, inbox, model) = setup("em_inbox_crash").await;
        let server = LocalServer::start()
            .await
            .unwrap_or_else(|err| panic!("cannot start nats-server: {err}"));
        let jetstream = connect(&server).await;
        provision_streams(&jetstream, &[COUNTER])
            .await
            .expect("provision");

        // The producer: an increment of 5, through the outbox and the relay.
        let store = eventmap::postgres::PostgresStore::builder(db.pool.clone())
            .schema(db.schema.clone())
            .registry(registry())
            .outbox({
                let mut dispatcher = eventmap::EventDispatcher::new();
                register_integration_event_handlers(
                    &mut dispatcher,
                    eventmap::postgres::OutboxWriter::shared(),
                );
                dispatcher
            })
            .build()
            .await
            .expect("store");
        let mut counter = Counter::blank("c-1");
        counter.increment(5);
        store.save(&mut counter).await.expect("save");
        let relay = Relay::new(
            db.pool.clone(),
            Arc::new(JetStreamPublisher::new(jetstream.clone())),
            RelayConfig::default()
                .schema(db.schema.clone())
                .listen(false),
        )
        .await
        .expect("relay");
        relay.run_once().await.expect("relay round");
        assert_eq!(relay.backlog().await.expect("backlog"), 0);

        let spec = ConsumerSpec::new("projector", &[])
            .policy(DeliveryPolicy::default().ack_wait(Duration::from_secs(1)));
        let handle = async |delivery: &eventmap::nats::Delivery<CounterEvents>| {
            let CounterEvents::Incremented(event) = &delivery.event;
            let by = i64::from(event.by);
            let counter = event.counter_id.clone();
            inbox
                .process(
                    "projector",
                    delivery.id(),
                    async |conn: &mut PgConnection| model.apply(conn, &counter, by).await,
                )
                .await
                .expect("process")
        };

        // First run: processed and committed, then the process dies before the ack.
        let mut subscription = Consumer::<CounterEvents>::start(&jetstream, &spec)
            .await
            .expect("subscription")
            .deliveries();
        let delivery = subscription
            .next()
            .await
            .expect("a message")
            .expect("a delivery");
        assert_eq!(delivery.delivered, 1);
        let id = delivery.id().to_owned();
        assert_eq!(handle(&delivery).await, InboxOutcome::Processed(()));
        drop(delivery);
        drop(subscription);

        // Restarted: the server redelivers after the ack wait; the inbox skips it; it is acked.
        let mut subscription = Consumer::<CounterEvents>::start(&jetstream, &spec)
            .await
            .expect("subscription after the restart")
            .deliveries();
        let redelivery = tokio::time::timeout(Duration::from_secs(20), subscription.next())
            .await
            .expect("redelivered within 20 s")
            .expect("a message")
            .expect("a delivery");
        assert_eq!(redelivery.id(), id);
        assert_eq!(redelivery.delivered, 2);
        assert_eq!(handle(&redelivery).await, InboxOutcome::Duplicate);
        redelivery.ack().await.expect("ack");

        assert_eq!(model.row(&db, "c-1").await, Some((5, 1)), "applied once");
        let stream = jetstream.get_stream(COUNTER.stream).await.expect("stream");
        let info = stream.consumer_info("projector").await.expect("consumer");
        assert_eq!(info.num_ack_pending, 0);
        assert_eq!(info.ack_floor.stream_sequence, 1);
        drop(subscription);
        db.cleanup().await;
    })
    .await;
}
