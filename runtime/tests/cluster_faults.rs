//! Fault tests on a 3-server JetStream cluster (`LocalCluster`), with an R3 stream.
//!
//! Each test: 10,000 events (`EVENTMAP_FAULT_EVENTS`) over 100 aggregates go through the
//! Postgres outbox (a schema of the test's own) and the in-process relay into the R3 stream;
//! a durable consumer handles them through the inbox (exactly once) and records, per
//! aggregate, the versions in the order it handled them. Mid-stream, a server fault: (a) the
//! stream leader SIGKILLed, (b) a follower SIGKILLed, (c) two of three killed (no quorum) for
//! a few seconds. Each asserts 0 lost, 0 handled twice, versions ascending per aggregate, and
//! prints the time from the kill to the first publish acknowledged after it (figures in
//! BENCHMARKS.md, "JetStream cluster faults (issue 15)"). The clients get all three URLs.

mod pg;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventmap::nats::async_nats::{self, jetstream::Context};
use eventmap::nats::connect::ConnectSettings;
use eventmap::nats::{
    Consumer, ConsumerSpec, DeliveryPolicy, JetStreamPublisher, ProvisionError, consumer_fn,
    provision_streams,
};
use eventmap::postgres::{Inbox, InboxOutcome, Relay, RelayConfig};
use eventmap::publisher::{PublishError, Publisher};
use eventmap::test_util::LocalCluster;
use eventmap::{ChannelSpec, DecodeError, IntegrationEventSet, IntegrationMessage, PublishReceipt};
use pg::*;
use tokio::time::Instant;

/// Upper bound of each test (a broken run fails instead of hanging).
const LIMIT: Duration = Duration::from_secs(180);
/// The counter channel, replicated on the three servers.
const COUNTER_R3: ChannelSpec = COUNTER.with_replicas(3);
/// The consumer's durable name (and the inbox's consumer name).
const DURABLE: &str = "faults-projector";

/// A client of the whole cluster through `eventmap::nats::connect`, given the comma-separated
/// URL list (as `NATS_URL` gives it to the binaries).
async fn connect(cluster: &LocalCluster) -> Context {
    let settings = ConnectSettings::new(&cluster.url());
    let client = eventmap::nats::connect::connect(&settings)
        .await
        .expect("connect");
    with_timeout(client)
}

/// A client of the whole cluster connected to server `first` (the others in order after it,
/// `retain_servers_order`, which `ConnectSettings` does not offer), so that a test knows whose
/// death it rides over.
async fn connect_to(cluster: &LocalCluster, first: usize) -> Context {
    let mut urls = cluster.urls();
    urls.rotate_left(first);
    let client = async_nats::ConnectOptions::new()
        .retain_servers_order()
        .retry_on_initial_connect()
        .connect(urls)
        .await
        .expect("connect");
    with_timeout(client)
}

/// A JetStream context with a 2 s request timeout.
fn with_timeout(client: async_nats::Client) -> Context {
    let mut jetstream = async_nats::jetstream::new(client);
    jetstream.set_timeout(Duration::from_secs(2));
    jetstream
}

/// The leader of the counter stream, waiting up to 30 s for one to be elected.
async fn leader(cluster: &LocalCluster, jetstream: &Context) -> usize {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(leader) = cluster.stream_leader(jetstream, COUNTER_R3.stream).await {
            return leader;
        }
        assert!(Instant::now() < deadline, "no stream leader elected");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The relay's publisher, timing the first acknowledged publish sent after a kill.
struct ResumeClock {
    inner: JetStreamPublisher,
    /// When the fault began.
    killed: Mutex<Option<Instant>>,
    /// From the kill to the first acknowledgement of a publish sent after it.
    resumed_after: Mutex<Option<Duration>>,
}

impl ResumeClock {
    fn new(jetstream: Context) -> Self {
        Self {
            inner: JetStreamPublisher::new(jetstream),
            killed: Mutex::new(None),
            resumed_after: Mutex::new(None),
        }
    }

    fn start(&self) {
        *self.killed.lock().expect("lock") = Some(Instant::now());
    }

    fn resumed_after(&self) -> Option<Duration> {
        *self.resumed_after.lock().expect("lock")
    }
}

#[async_trait::async_trait]
impl Publisher for ResumeClock {
    async fn publish(&self, message: &IntegrationMessage) -> Result<PublishReceipt, PublishError> {
        let sent = Instant::now();
        let receipt = self.inner.publish(message).await?;
        let killed = *self.killed.lock().expect("lock");
        if let Some(killed) = killed.filter(|killed| sent >= *killed) {
            self.resumed_after
                .lock()
                .expect("lock")
                .get_or_insert_with(|| killed.elapsed());
        }
        Ok(receipt)
    }
}

/// The counter's events as a consumer sees them whose table declares the channel with
/// `replicas: 3`.
#[derive(Debug, Clone, PartialEq)]
struct CounterEventsR3(CounterEvents);

impl IntegrationEventSet for CounterEventsR3 {
    const CHANNEL: ChannelSpec = COUNTER_R3;
    const NAMES: &'static [&'static str] = CounterEvents::NAMES;

    fn decode(name: &str, payload: &[u8]) -> Result<Self, DecodeError> {
        CounterEvents::decode(name, payload).map(Self)
    }

    fn name(&self) -> &'static str {
        self.0.name()
    }
}

/// Which servers a test kills.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// The stream's leader, restarted 3 s after the kill.
    Leader,
    /// A follower of the stream, restarted 3 s after the kill.
    Follower,
    /// The leader and a follower (no quorum), both restarted 3 s after the kill.
    Quorum,
}

/// One scenario at a time: each runs a three-server cluster, a relay, a consumer and a writer;
/// two at once on a 2-core machine starved the consumer of the follower scenario (it stopped
/// handling its queued messages for over a minute; seen on 2026-12-07, with and without the
/// relay of that day: a consumer stall under overload, not understood yet, see the closing
/// note of session 15).
static ONE_CLUSTER_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Runs the scenario of `fault` once no other scenario runs, within [`LIMIT`] of its start.
async fn one_at_a_time(prefix: &str, fault: Fault) {
    let _alone = ONE_CLUSTER_AT_A_TIME.lock().await;
    within(LIMIT, scenario(prefix, fault)).await;
}

/// Runs the scenario of `fault` (see the module doc) and checks its outcome.
async fn scenario(prefix: &str, fault: Fault) {
    let mut cluster = LocalCluster::start()
        .await
        .unwrap_or_else(|err| panic!("cannot start the cluster: {err}"));
    let db = TestDb::new(prefix).await;
    let store = db.store(true).await;
    let inbox = Inbox::new(db.pool.clone(), &db.schema)
        .await
        .expect("inbox");
    let jetstream = connect(&cluster).await;
    provision_streams(&jetstream, &[COUNTER_R3])
        .await
        .expect("provision R3");

    // The relay and the consumer are connected to a server the fault kills: they ride over
    // the loss of their own server.
    let planned = leader(&cluster, &jetstream).await;
    let clients_on = match fault {
        Fault::Follower => (planned + 1) % 3,
        Fault::Leader | Fault::Quorum => planned,
    };

    // The relay, on a connection of its own.
    let clock = Arc::new(ResumeClock::new(connect_to(&cluster, clients_on).await));
    let relay = Relay::new(
        db.pool.clone(),
        Arc::clone(&clock) as Arc<dyn Publisher>,
        RelayConfig::default()
            .schema(db.schema.clone())
            .poll_interval(Duration::from_millis(200))
            .publish_timeout(Duration::from_secs(3))
            .backoff(Duration::from_millis(50), Duration::from_secs(1)),
    )
    .await
    .expect("relay");
    let running_relay = relay.spawn();

    // The consumer, through the inbox, recording what it handles.
    let handled: Arc<Mutex<Vec<(String, u64)>>> = Arc::default();
    let duplicates = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (stop_consumer, consumer_stopped) = tokio::sync::oneshot::channel::<()>();
    let consumer = tokio::spawn({
        let (jetstream, inbox) = (connect_to(&cluster, clients_on).await, inbox.clone());
        let (handled, duplicates) = (Arc::clone(&handled), Arc::clone(&duplicates));
        async move {
            let spec = ConsumerSpec::new(DURABLE, &[])
                .policy(DeliveryPolicy::default().ack_wait(Duration::from_secs(5)));
            let consumer = Consumer::<CounterEvents>::start(&jetstream, &spec)
                .await
                .expect("consumer");
            let handler = consumer_fn(|delivery: &eventmap::nats::Delivery<CounterEvents>| {
                let CounterEvents::Incremented(event) = &delivery.event;
                let key = (event.counter_id.clone(), event.version);
                let (id, inbox) = (delivery.id().to_owned(), inbox.clone());
                let (handled, duplicates) = (Arc::clone(&handled), Arc::clone(&duplicates));
                async move {
                    let outcome = inbox
                        .process(DURABLE, &id, async |_conn: &mut sqlx_conn::PgConnection| {
                            Ok::<(), std::io::Error>(())
                        })
                        .await?;
                    match outcome {
                        InboxOutcome::Processed(()) => handled.lock().expect("lock").push(key),
                        InboxOutcome::Duplicate => {
                            duplicates.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                    Ok(())
                }
            });
            consumer
                .run(&handler, async {
                    let _ = consumer_stopped.await;
                })
                .await
                .expect("consumer run")
        }
    });

    let n = fault_events();
    let aggregates = 100;
    let writer = tokio::spawn({
        let store = store.clone();
        async move { append_increments(&store, aggregates, n / aggregates, 5, 4).await }
    });
    let total = (n / aggregates * aggregates) as u64;

    // Mid-stream: a third published.
    let third = eventually(
        Duration::from_secs(60),
        Duration::from_millis(5),
        async || relay.stats().published >= total / 3,
    )
    .await;
    assert!(third, "a third not published in time");
    let leader = leader(&cluster, &jetstream).await;
    let victims: Vec<usize> = match fault {
        Fault::Leader => vec![leader],
        Fault::Follower => vec![(leader + 1) % 3],
        Fault::Quorum => vec![leader, (leader + 1) % 3],
    };
    clock.start();
    tracing::warn!(?victims, leader, clients_on, "fault: SIGKILL");
    for &victim in &victims {
        cluster.kill(victim).await.expect("SIGKILL");
    }
    // The outage: the victims stay away for 3 s while the writer goes on, then come back.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for &victim in &victims {
        cluster.restart(victim).await.expect("restart");
    }
    tracing::warn!(?victims, "fault: restarted");
    let expected = writer.await.expect("writer");

    // Everything published, then everything handled.
    let drained = eventually(
        Duration::from_secs(90),
        Duration::from_millis(50),
        async || relay.backlog().await.is_ok_and(|backlog| backlog == 0),
    )
    .await;
    assert!(drained, "outbox not drained: {:?}", relay.stats());
    let all_handled = eventually(
        Duration::from_secs(60),
        Duration::from_millis(50),
        async || handled.lock().expect("lock").len() as u64 >= total,
    )
    .await;
    let _ = stop_consumer.send(());
    let report = consumer.await.expect("consumer task");
    running_relay.stop().await.expect("relay run");
    let stats = relay.stats();
    let handled = handled.lock().expect("lock").clone();
    let resumed_after = clock.resumed_after();
    let resumed_ms = resumed_after.map(|d| d.as_millis());
    eprintln!(
        "cluster fault {fault:?} (killed {victims:?}, leader was {leader}, clients on \
         {clients_on}): publishing resumed \
         {resumed_ms:?} ms after the kill; relay {stats:?}; consumer {report:?}; \
         {} inbox duplicates",
        duplicates.load(std::sync::atomic::Ordering::Relaxed)
    );
    assert!(all_handled, "handled {} of {total}", handled.len());
    assert!(resumed_after.is_some(), "publishing never resumed");
    assert_handled_once_in_order(&handled, &expected);
    db.cleanup().await;
}

/// Every expected event handled exactly once, each aggregate's versions ascending (1..=n)
/// in the order handled.
fn assert_handled_once_in_order(handled: &[(String, u64)], expected: &BTreeMap<String, u64>) {
    let total: u64 = expected.values().sum();
    let mut versions: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for (aggregate, version) in handled {
        versions.entry(aggregate).or_default().push(*version);
    }
    let mut lost = 0;
    let mut twice = 0;
    for (aggregate, count) in expected {
        let seen = versions
            .get(aggregate.as_str())
            .cloned()
            .unwrap_or_default();
        let mut distinct = seen.clone();
        distinct.sort_unstable();
        distinct.dedup();
        twice += seen.len() - distinct.len();
        lost += (1..=*count)
            .filter(|v| distinct.binary_search(v).is_err())
            .count();
    }
    assert_eq!((lost, twice), (0, 0), "lost, handled twice (of {total})");
    assert_eq!(handled.len() as u64, total);
    for (aggregate, count) in expected {
        let wanted: Vec<u64> = (1..=*count).collect();
        assert_eq!(
            versions[aggregate.as_str()],
            wanted,
            "versions of {aggregate} in the order handled"
        );
    }
}

/// (a) The stream leader is SIGKILLed mid-stream and restarted 3 s later.
#[tokio::test]
async fn stream_leader_killed_loses_nothing_and_keeps_order() {
    one_at_a_time("em_cl_leader", Fault::Leader).await;
}

/// (b) A follower of the stream is SIGKILLed mid-stream and restarted 3 s later.
#[tokio::test]
async fn follower_killed_loses_nothing_and_keeps_order() {
    one_at_a_time("em_cl_follower", Fault::Follower).await;
}

/// (c) Two of three servers are SIGKILLed (no quorum) for 3 s, then restarted.
#[tokio::test]
async fn quorum_lost_for_seconds_loses_nothing_and_keeps_order() {
    one_at_a_time("em_cl_quorum", Fault::Quorum).await;
}

/// Provisioning on the cluster: an R1 stream is scaled to R3, and not back down; a consumer
/// starts on it at once and its dead-letter stream gets 3 replicas; more replicas than
/// servers is refused with the stream, the counts and the server's reason.
#[tokio::test]
async fn provisioning_scales_replicas_and_reports_refusals() {
    within(LIMIT, async {
        let cluster = LocalCluster::start()
            .await
            .unwrap_or_else(|err| panic!("cannot start the cluster: {err}"));
        let jetstream = connect(&cluster).await;
        let replicas = async || {
            let mut stream = jetstream.get_stream(COUNTER.stream).await.expect("stream");
            stream.info().await.expect("info").config.num_replicas
        };
        provision_streams(&jetstream, &[COUNTER]).await.expect("R1");
        assert_eq!(replicas().await, 1);
        provision_streams(&jetstream, &[COUNTER_R3])
            .await
            .expect("R1 -> R3");
        assert_eq!(replicas().await, 3);
        provision_streams(&jetstream, &[COUNTER_R3])
            .await
            .expect("idempotent");
        assert_eq!(replicas().await, 3);
        // A consumer of the R3 channel provisions its dead-letter stream with (at least) the
        // channel's replicas.
        const DEAD_LETTERS: ChannelSpec =
            ChannelSpec::new("dead_letter", "faults.dead-letter", "FAULTS_DEAD_LETTERS");
        let spec = ConsumerSpec::new(DURABLE, &[])
            .policy(DeliveryPolicy::default().dead_letter(DEAD_LETTERS));
        // Right after the scale-up: provisioning waited for the new replicas to be current.
        Consumer::<CounterEventsR3>::start(&jetstream, &spec)
            .await
            .expect("consumer");
        let mut dead_letters = jetstream
            .get_stream(DEAD_LETTERS.stream)
            .await
            .expect("DLQ");
        assert_eq!(
            dead_letters.info().await.expect("info").config.num_replicas,
            3
        );

        let err = provision_streams(&jetstream, &[COUNTER.with_replicas(5)])
            .await
            .expect_err("5 replicas on 3 servers");
        assert!(
            matches!(&err, ProvisionError::Replicas { stream, current: Some(3), wanted: 5, .. }
                if stream == COUNTER.stream),
            "{err:?}"
        );
        eprintln!("3 servers refuse R5: {err}");
        // Never lowered: the R3 stream stays R3 when a table says 1.
        provision_streams(&jetstream, &[COUNTER])
            .await
            .expect("R1 wanted on R3");
        assert_eq!(replicas().await, 3);
    })
    .await;
}

/// The connection type the inbox hands its handler.
mod sqlx_conn {
    pub use eventmap::postgres::sqlx::PgConnection;
}
