//! Fixtures of the event store tests of every backend: a counter domain with serde events,
//! its integration event (what generated code would emit), writers, and stream checks.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use eventmap::convert::{ConversionError, IntoProto, checked};
use eventmap::decode::{DecodeError, IntegrationEventSet, decode_payload};
use eventmap::nats::async_nats::{HeaderMap, jetstream::Context};
// One type under both backends' paths.
#[cfg(feature = "postgres")]
use eventmap::postgres::{EventRegistry, OutboxWriter};
#[cfg(not(feature = "postgres"))]
use eventmap::sqlite::{EventRegistry, OutboxWriter};
use eventmap::{
    Aggregate, AggregateEvent, AggregateRoot, ChannelSpec, DomainEvent, EventDispatcher,
    EventSourced, IntegrationEventHandler, Publisher, integration_event_id,
};
use serde::{Deserialize, Serialize};

/// The channel of the counter's integration events.
pub const COUNTER: ChannelSpec = ChannelSpec::new("counter", "faults.counter", "FAULTS_COUNTER");
pub const SOURCE: &str = "faults";
pub const INCREMENTED_EVENT: &str = "IncrementedEvent";

/// Mapped to `IncrementedEvent`. `by` above `i32::MAX` fails the (checked) conversion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incremented {
    pub by: u32,
}
impl DomainEvent for Incremented {
    fn event_name(&self) -> &'static str {
        "Incremented"
    }
}

/// An internal event: stored, never published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Labelled {
    pub label: String,
}
impl DomainEvent for Labelled {
    fn event_name(&self) -> &'static str {
        "Labelled"
    }
}

/// An internal event with a float: stored, never published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    pub reading: Option<f64>,
}
impl DomainEvent for Measured {
    fn event_name(&self) -> &'static str {
        "Measured"
    }
}

pub mod proto {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Incremented {
        #[prost(string, tag = "1")]
        pub id: String,
        #[prost(string, tag = "2")]
        pub counter_id: String,
        #[prost(uint64, tag = "3")]
        pub version: u64,
        #[prost(int32, tag = "4")]
        pub by: i32,
    }
}

/// What generated code would emit for `Incremented -> IncrementedEvent`.
pub fn incremented_event(
    event: &AggregateEvent<Incremented>,
) -> Result<proto::Incremented, ConversionError> {
    Ok(proto::Incremented {
        id: integration_event_id(event.id(), INCREMENTED_EVENT).to_string(),
        counter_id: IntoProto::into_proto(event.aggregate_id())
            .map_err(|e: ConversionError| e.at("counter_id"))?,
        version: event.aggregate_version(),
        by: checked(&event.payload().by, "by")?,
    })
}

/// What generated `register_integration_event_handlers` would do.
pub fn register_integration_event_handlers(
    dispatcher: &mut EventDispatcher,
    publisher: Arc<dyn Publisher>,
) {
    // `Labelled` is `internal` in the table: its type is mapped, with no row.
    dispatcher.map_type::<Labelled>("pg::counter", &["Labelled"]);
    dispatcher.map_type::<Measured>("pg::counter", &["Measured"]);
    if dispatcher.map_type::<Incremented>("pg::counter", &["Incremented"]) {
        dispatcher.subscribe_to_named::<Incremented>(
            "Incremented",
            IntegrationEventHandler::new(
                publisher,
                COUNTER,
                INCREMENTED_EVENT,
                SOURCE,
                incremented_event,
            ),
        );
    }
}

/// The dispatcher of a store's outbox: the counter's handlers on
/// [`OutboxWriter::shared`].
pub fn outbox_dispatcher() -> EventDispatcher {
    let mut dispatcher = EventDispatcher::new();
    register_integration_event_handlers(&mut dispatcher, OutboxWriter::shared());
    dispatcher
}

/// Consumer side of the channel.
#[derive(Debug, Clone, PartialEq)]
pub enum CounterEvents {
    Incremented(proto::Incremented),
}

impl IntegrationEventSet for CounterEvents {
    const CHANNEL: ChannelSpec = COUNTER;
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

/// The event-sourced aggregate.
#[derive(Debug, Clone)]
pub struct Counter {
    pub root: AggregateRoot,
    pub total: u64,
    pub label: String,
}

impl Aggregate for Counter {
    const NAME: &'static str = "Counter";
    fn root(&self) -> &AggregateRoot {
        &self.root
    }
    fn root_mut(&mut self) -> &mut AggregateRoot {
        &mut self.root
    }
}

impl EventSourced for Counter {
    fn blank(id: &str) -> Self {
        Self {
            root: AggregateRoot::new(id),
            total: 0,
            label: String::new(),
        }
    }

    fn apply(&mut self, event: &AggregateEvent) {
        if let Some(e) = event.downcast::<Incremented>() {
            self.total += u64::from(e.payload().by);
        } else if let Some(e) = event.downcast::<Labelled>() {
            self.label = e.payload().label.clone();
        }
    }
}

impl Counter {
    pub fn increment(&mut self, by: u32) {
        self.total += u64::from(by);
        self.root.record(Self::NAME, Incremented { by });
    }

    pub fn measure(&mut self, reading: Option<f64>) {
        self.root.record(Self::NAME, Measured { reading });
    }

    pub fn label(&mut self, label: &str) {
        self.label = label.to_owned();
        self.root.record(
            Self::NAME,
            Labelled {
                label: label.to_owned(),
            },
        );
    }
}

pub fn registry() -> EventRegistry {
    let mut registry = EventRegistry::new();
    registry
        .register::<Incremented>("Incremented")
        .expect("register Incremented")
        .register::<Labelled>("Labelled")
        .expect("register Labelled")
        .register::<Measured>("Measured")
        .expect("register Measured");
    registry
}

/// Appends `per_aggregate` increments to each of `aggregates` counters (ids `c-0`...),
/// `per_save` events per transaction, with `concurrency` writers. Returns the expected
/// number of events per aggregate.
pub async fn append_increments<S>(
    store: &S,
    aggregates: usize,
    per_aggregate: usize,
    per_save: usize,
    concurrency: usize,
) -> BTreeMap<String, u64>
where
    S: eventmap::AggregateStore<Counter> + Clone + 'static,
{
    let ids: Vec<String> = (0..aggregates).map(|i| format!("c-{i}")).collect();
    let chunks: Vec<Vec<String>> = ids
        .chunks(aggregates.div_ceil(concurrency.max(1)))
        .map(<[String]>::to_vec)
        .collect();
    let mut tasks = Vec::new();
    for chunk in chunks {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut counters: Vec<Counter> = chunk.iter().map(|id| Counter::blank(id)).collect();
            let mut done = 0;
            while done < per_aggregate {
                let n = per_save.min(per_aggregate - done);
                for counter in &mut counters {
                    for k in 0..n {
                        counter.increment((done + k + 1) as u32);
                    }
                    store.save(counter).await.expect("save");
                }
                done += n;
            }
        }));
    }
    for task in tasks {
        task.await.expect("writer task");
    }
    ids.into_iter()
        .map(|id| (id, per_aggregate as u64))
        .collect()
}

/// What a consumer saw on the stream.
#[derive(Debug, Default)]
pub struct Observed {
    /// Messages stored in the stream (its message count).
    pub stream_messages: u64,
    /// Distinct `ce-id`s among them.
    pub distinct_ids: usize,
    /// Per aggregate, the versions in stream order.
    pub versions: BTreeMap<String, Vec<u64>>,
    /// Deliveries received by the consumer (including redeliveries).
    pub deliveries: u64,
}

impl Observed {
    /// Asserts exactly the `expected` events: every aggregate's versions 1..=n in order,
    /// nothing lost, nothing stored twice.
    pub fn assert_exactly(&self, expected: &BTreeMap<String, u64>) {
        let total: u64 = expected.values().sum();
        assert_eq!(
            self.stream_messages, total,
            "stream holds {} messages, expected {total}",
            self.stream_messages
        );
        assert_eq!(self.distinct_ids as u64, total, "distinct ce-ids");
        for (aggregate, count) in expected {
            let versions = self.versions.get(aggregate).cloned().unwrap_or_default();
            let wanted: Vec<u64> = (1..=*count).collect();
            assert_eq!(versions, wanted, "versions of {aggregate} in stream order");
        }
        let unexpected: Vec<_> = self
            .versions
            .keys()
            .filter(|k| !expected.contains_key(*k))
            .collect();
        assert!(
            unexpected.is_empty(),
            "unexpected aggregates {unexpected:?}"
        );
    }
}

/// Waits for `condition`: checks it, then again every `every`, until it holds (`true`) or
/// `limit` has passed (`false`, checked once more at the deadline). Callers assert on the
/// result with their own message.
pub async fn eventually(
    limit: Duration,
    every: Duration,
    mut condition: impl AsyncFnMut() -> bool,
) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if condition().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(every).await;
    }
}

/// Reads the whole channel with a durable consumer (acking each message) until `expected`
/// distinct stream messages were seen or `within` passed.
pub async fn consume_all(
    context: &eventmap::nats::async_nats::jetstream::Context,
    expected: u64,
    within: Duration,
) -> Observed {
    use eventmap::nats::{Consumer, ConsumerSpec, DeliveryPolicy};
    let spec = ConsumerSpec::new("verify", &[]).policy(DeliveryPolicy::default().batch(500));
    let mut subscription = Consumer::<CounterEvents>::start(context, &spec)
        .await
        .expect("consumer starts")
        .deliveries();
    let mut by_sequence: BTreeMap<u64, (String, String, u64)> = BTreeMap::new();
    let mut deliveries = 0;
    let deadline = tokio::time::Instant::now() + within;
    while (by_sequence.len() as u64) < expected {
        let next = tokio::time::timeout_at(deadline, subscription.next()).await;
        let Ok(Some(delivery)) = next else { break };
        let delivery = match delivery {
            Ok(delivery) => delivery,
            Err(err) => panic!("consumer failed: {err}"),
        };
        deliveries += 1;
        let CounterEvents::Incremented(event) = &delivery.event;
        assert_eq!(event.counter_id, delivery.aggregate_id());
        assert_eq!(event.version, delivery.aggregate_version);
        by_sequence.insert(
            delivery.stream_sequence,
            (
                delivery.id().to_owned(),
                delivery.aggregate_id().to_owned(),
                delivery.aggregate_version,
            ),
        );
        delivery.ack().await.expect("ack");
    }
    let mut stream = context
        .get_stream(COUNTER.stream)
        .await
        .expect("stream exists");
    let info = stream.info().await.expect("stream info");
    let mut versions: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut ids = HashSet::new();
    for (id, aggregate, version) in by_sequence.values() {
        ids.insert(id.clone());
        versions
            .entry(aggregate.clone())
            .or_default()
            .push(*version);
    }
    Observed {
        stream_messages: info.state.messages,
        distinct_ids: ids.len(),
        versions,
        deliveries,
    }
}

/// Number of events for the big fault tests: `EVENTMAP_FAULT_EVENTS` (default 10,000).
pub fn fault_events() -> usize {
    std::env::var("EVENTMAP_FAULT_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n: &usize| n >= 200)
        .unwrap_or(10_000)
}

/// Runs `test` with a `tracing` subscriber writing to the test's output (`RUST_LOG`, default
/// `warn`), and fails it when it takes longer than `limit` (a broken fault test fails instead
/// of hanging).
pub async fn within<F: std::future::Future>(limit: Duration, test: F) -> F::Output {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
    tokio::time::timeout(limit, test)
        .await
        .expect("test exceeded its time limit")
}

/// Publishes a copy of stream message `sequence` with another `Nats-Msg-Id` (so JetStream
/// stores it again): the same `ce-id`, a duplicate for the inbox.
pub async fn republish(jetstream: &Context, sequence: u64) {
    let stream = jetstream.get_stream(COUNTER.stream).await.expect("stream");
    let message = stream.get_raw_message(sequence).await.expect("message");
    let mut headers = HeaderMap::new();
    for (name, values) in message.headers.iter() {
        for value in values {
            if !name.to_string().eq_ignore_ascii_case("Nats-Msg-Id") {
                headers.append(name.clone(), value.clone());
            }
        }
    }
    headers.insert("Nats-Msg-Id", format!("copy-{sequence}").as_str());
    jetstream
        .publish_with_headers(message.subject, headers, message.payload)
        .await
        .expect("publish")
        .await
        .expect("stored");
}

/// Every counter's versions `1..=n`, each once, in order, except those in `skipped`.
pub fn assert_in_order(
    applied: &BTreeMap<String, Vec<u64>>,
    expected: &BTreeMap<String, u64>,
    skipped: &[(&str, u64)],
) {
    assert_eq!(
        applied.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (counter, count) in expected {
        let wanted: Vec<u64> = (1..=*count)
            .filter(|version| !skipped.contains(&(counter.as_str(), *version)))
            .collect();
        assert_eq!(applied[counter], wanted, "versions of {counter} as applied");
    }
}
