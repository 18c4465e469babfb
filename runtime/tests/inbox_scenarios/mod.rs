//! The inbox's contract as scenarios written once and run on every backend
//! (`tests/inbox.rs` on PostgreSQL, `tests/sqlite_inbox.rs` on SQLite): once per consumer and
//! message id, a failure rolls back the handler's writes and the id together, concurrent
//! handlings of one message apply it once, and a redelivery after a crash between the commit
//! and the ack is a no-op.
//!
//! A backend gives a fresh database with its inbox and a read model of counter totals
//! (`counter_totals`, the same SQL on both: [`create_table`], [`apply`], [`row`]), whose
//! `applications` column counts the updates applied to each row.
#![allow(dead_code)]

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use eventmap::inbox::{InboxError, InboxOutcome};
use eventmap::nats::async_nats::{self, jetstream::Context};
use eventmap::nats::{Consumer, ConsumerSpec, DeliveryPolicy, provision_streams};
use eventmap::test_util::LocalServer;
use tokio::sync::oneshot;

use crate::{COUNTER, CounterEvents};

/// Upper bound of each test.
pub const LIMIT: Duration = Duration::from_secs(60);

/// The `#[tokio::test]` of every scenario on backend `$backend`, each within [`LIMIT`]; the
/// scenarios' names are the tests' names. The crash test
/// (`a_redelivery_after_a_crash_before_the_ack_is_a_no_op`): a consumer processes a message
/// through the inbox, commits, and crashes before acking; the redelivery is a duplicate, acked
/// without being applied again.
macro_rules! scenario_tests {
    ($backend:ty: $($scenario:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $scenario() {
                crate::within(
                    crate::inbox_scenarios::LIMIT,
                    crate::inbox_scenarios::$scenario::<$backend>(),
                )
                .await;
            }
        )+
    };
    ($backend:ty) => {
        crate::inbox_scenarios::scenario_tests!(
            $backend:
            processed_once_then_a_duplicate_changes_nothing,
            a_failing_handler_leaves_no_trace_and_the_retry_processes,
            concurrent_handlings_of_one_message_process_it_once,
            when_the_first_handling_fails_the_waiting_one_processes,
            a_redelivery_after_a_crash_before_the_ack_is_a_no_op,
        );
    };
}
pub(crate) use scenario_tests;

/// What `process` returns in these scenarios.
pub type Outcome = Result<InboxOutcome<()>, InboxError<String>>;

/// The read model's table.
pub fn create_table(table: &str) -> String {
    format!(
        "CREATE TABLE {table} (counter_id text PRIMARY KEY, total bigint NOT NULL, \
         applications bigint NOT NULL)"
    )
}

/// The handler's own write: adds `$2` to the total of counter `$1`.
pub fn apply(table: &str) -> String {
    format!(
        "INSERT INTO {table} (counter_id, total, applications) VALUES ($1, $2, 1) \
         ON CONFLICT (counter_id) DO UPDATE \
         SET total = {table}.total + excluded.total, applications = {table}.applications + 1"
    )
}

/// `(total, applications)` of counter `$1`.
pub fn row(table: &str) -> String {
    format!("SELECT total, applications FROM {table} WHERE counter_id = $1")
}

/// What a handler does after its write: counts its run, tells it started, waits to be
/// released, fails if told to.
#[derive(Default)]
pub struct Step {
    pub runs: Option<Arc<AtomicUsize>>,
    pub started: Option<oneshot::Sender<()>>,
    pub release: Option<oneshot::Receiver<()>>,
    pub fail: Option<String>,
}

impl Step {
    /// Runs after the handler's write; `Err` makes the handler fail.
    pub async fn after_write(self) -> Result<(), String> {
        if let Some(runs) = &self.runs {
            runs.fetch_add(1, Ordering::SeqCst);
        }
        if let Some(started) = self.started {
            let _ = started.send(());
        }
        if let Some(release) = self.release {
            let _ = release.await;
        }
        match self.fail {
            Some(message) => Err(message),
            None => Ok(()),
        }
    }
}

/// A database with the inbox and the read model.
pub trait Backend: Sized {
    /// A fresh database (or schema) named after `prefix`, migrated, with the read model.
    async fn setup(prefix: &str) -> Self;

    /// `inbox.process(consumer, message_id, ...)` with a handler that adds `by` to `counter`
    /// on the transaction's connection, then runs `step`.
    fn process(
        &self,
        consumer: &str,
        message_id: &str,
        counter: &str,
        by: i64,
        step: Step,
    ) -> impl Future<Output = Outcome> + Send + 'static;

    /// Whether the inbox has `(consumer, message_id)` committed.
    async fn is_processed(&self, consumer: &str, message_id: &str) -> bool;

    /// [`row`] of `counter`.
    async fn row(&self, counter: &str) -> Option<(i64, i64)>;

    /// Rows of `eventmap_inbox`.
    async fn inbox_rows(&self) -> i64;

    /// Returns once a second handling of a message is waiting for the first one's
    /// transaction (Postgres: its insert waits on the row lock; SQLite: its `BEGIN
    /// IMMEDIATE` on the write lock).
    async fn second_waits(&self);

    /// Publishes an increment of `by` of counter `counter` on [`COUNTER`] through the
    /// backend's producer path.
    async fn publish_increment(&self, jetstream: &Context, counter: &str, by: u32);

    /// Drops what the test created.
    async fn cleanup(self);
}

pub async fn processed_once_then_a_duplicate_changes_nothing<B: Backend>() {
    let db = B::setup("em_inbox_once").await;
    let runs = Arc::new(AtomicUsize::new(0));
    let step = || Step {
        runs: Some(Arc::clone(&runs)),
        ..Step::default()
    };

    let first = db.process("projector", "msg-1", "c-1", 5, step()).await;
    assert_eq!(first.expect("process"), InboxOutcome::Processed(()));
    assert!(db.is_processed("projector", "msg-1").await);
    let second = db.process("projector", "msg-1", "c-1", 5, step()).await;
    assert!(second.expect("process").is_duplicate());
    assert_eq!(runs.load(Ordering::SeqCst), 1, "the handler ran once");
    assert_eq!(db.row("c-1").await, Some((5, 1)));

    // Another consumer keeps its own record of the same message.
    let other = db.process("auditor", "msg-1", "c-2", 1, step()).await;
    assert_eq!(other.expect("process"), InboxOutcome::Processed(()));
    assert_eq!(db.row("c-2").await, Some((1, 1)));
    assert_eq!(db.inbox_rows().await, 2);
    db.cleanup().await;
}

pub async fn a_failing_handler_leaves_no_trace_and_the_retry_processes<B: Backend>() {
    let db = B::setup("em_inbox_fail").await;
    let failing = Step {
        fail: Some("downstream rejected it".to_owned()),
        ..Step::default()
    };
    match db.process("projector", "msg-1", "c-1", 5, failing).await {
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
    assert_eq!(db.row("c-1").await, None, "its write was rolled back");
    assert!(!db.is_processed("projector", "msg-1").await);
    assert_eq!(db.inbox_rows().await, 0);

    let retried = db
        .process("projector", "msg-1", "c-1", 5, Step::default())
        .await;
    assert_eq!(retried.expect("retry"), InboxOutcome::Processed(()));
    assert_eq!(db.row("c-1").await, Some((5, 1)));
    db.cleanup().await;
}

/// Two instances handle the same message at once. The first holds its transaction open (its
/// handler waits after its write) until the second is seen waiting for it; then the first
/// either commits (`first_commits`) or fails. Returns both outcomes and the runs of the
/// second handler.
async fn race<B: Backend>(db: &B, first_commits: bool) -> (Outcome, Outcome, usize) {
    let (started_tx, started) = oneshot::channel::<()>();
    let (release, release_rx) = oneshot::channel::<()>();
    let first = tokio::spawn(db.process(
        "projector",
        "msg-1",
        "c-1",
        5,
        Step {
            started: Some(started_tx),
            release: Some(release_rx),
            fail: (!first_commits).then(|| "first instance failed".to_owned()),
            ..Step::default()
        },
    ));
    started.await.expect("first handler started");

    let second_runs = Arc::new(AtomicUsize::new(0));
    let second = tokio::spawn(db.process(
        "projector",
        "msg-1",
        "c-1",
        5,
        Step {
            runs: Some(Arc::clone(&second_runs)),
            ..Step::default()
        },
    ));
    db.second_waits().await;
    assert!(
        !second.is_finished(),
        "the second handling did not wait for the first one's transaction"
    );
    let _ = release.send(());
    let first = first.await.expect("first task");
    let second = second.await.expect("second task");
    (first, second, second_runs.load(Ordering::SeqCst))
}

pub async fn concurrent_handlings_of_one_message_process_it_once<B: Backend>() {
    let db = B::setup("em_inbox_race").await;
    let (first, second, second_runs) = race(&db, true).await;
    assert_eq!(first.expect("first"), InboxOutcome::Processed(()));
    assert_eq!(second.expect("second"), InboxOutcome::Duplicate);
    assert_eq!(second_runs, 0);
    assert_eq!(db.row("c-1").await, Some((5, 1)));
    db.cleanup().await;
}

pub async fn when_the_first_handling_fails_the_waiting_one_processes<B: Backend>() {
    let db = B::setup("em_inbox_race_fail").await;
    let (first, second, second_runs) = race(&db, false).await;
    assert!(
        matches!(first, Err(InboxError::Handler { .. })),
        "{first:?}"
    );
    assert_eq!(second.expect("second"), InboxOutcome::Processed(()));
    assert_eq!(second_runs, 1);
    assert_eq!(db.row("c-1").await, Some((5, 1)));
    db.cleanup().await;
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
pub async fn a_redelivery_after_a_crash_before_the_ack_is_a_no_op<B: Backend>() {
    let db = B::setup("em_inbox_crash").await;
    let server = LocalServer::start()
        .await
        .unwrap_or_else(|err| panic!("cannot start nats-server: {err}"));
    let jetstream = connect(&server).await;
    provision_streams(&jetstream, &[COUNTER])
        .await
        .expect("provision");
    db.publish_increment(&jetstream, "c-1", 5).await;

    let spec = ConsumerSpec::new("projector", &[])
        .policy(DeliveryPolicy::default().ack_wait(Duration::from_secs(1)));
    let handle = async |delivery: &eventmap::nats::Delivery<CounterEvents>| {
        let CounterEvents::Incremented(event) = &delivery.event;
        db.process(
            "projector",
            delivery.id(),
            &event.counter_id,
            i64::from(event.by),
            Step::default(),
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

    assert_eq!(db.row("c-1").await, Some((5, 1)), "applied once");
    let stream = jetstream.get_stream(COUNTER.stream).await.expect("stream");
    let info = stream.consumer_info("projector").await.expect("consumer");
    assert_eq!(info.num_ack_pending, 0);
    assert_eq!(info.ack_floor.stream_sequence, 1);
    drop(subscription);
    db.cleanup().await;
}
