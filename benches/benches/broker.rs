//! The broker benchmark: eventmap's JetStream paths against raw async-nats doing the same
//! work, in the same run, on a private `nats-server -js` (free loopback port, file store in a
//! temporary directory) that it starts and stops. A plain binary (`harness = false`, no
//! criterion).
//!
//! ```sh
//! flock /tmp/eventmap-cargo.lock cargo bench -p eventmap-benches --bench broker -- \
//!     [--rounds N] [--quick] [--only publish|pipeline|consume|relay|latency|consumer|relays|filters|memory]... \
//!     [--no-memory] [--table FILE]
//! ```
//!
//! Each scenario runs its variants interleaved, `--rounds` times (default 5), on a
//! current-thread and on a multi-thread (2 workers) tokio runtime, and reports the median and
//! min-max over the rounds of the events per second, and of the per-round ratios. Publishing
//! variants alternate slice by slice within a round (A B C A B C ..., the order rotated every
//! round), consuming variants run one after the other on the same filled stream.
//!
//! 1. **publish, one at a time**: `JetStreamPublisher::publish` awaiting each ack, vs raw
//!    `send_publish(..).await?.await?` with the same subject, payload and headers (CloudEvents
//!    and `Nats-Msg-Id`); plus the full synchronous flow (`EventDispatcher::publish` of one
//!    domain event: generated conversion, encoding, publish, ack).
//! 2. **publish, pipelined**: `JetStreamPublisher::publish_all(&messages, window)` vs raw
//!    pipelining with the same window (a queue of ack futures, the oldest awaited when full);
//!    and vs scenario 1's one-at-a-time rate.
//! 3. **consume**: `eventmap::nats::Consumer::deliveries` (decode the CloudEvents envelope and the
//!    payload into the generated enum, typed `match`, then `Delivery::ack_unconfirmed` or
//!    `Delivery::ack`, which waits for the server's confirmation) vs a raw pull consumer
//!    (decode the payload by subject, typed `match`, then a plain ack, `+ACK` not confirmed,
//!    or a double ack, confirmed). Same consumer settings and pull batch on both sides.
//! 4. **peak memory** (VmHWM of a fresh process, which runs one role and exits) of the
//!    publisher (pipelined, messages built chunk by chunk) and the consumer (the
//!    declared-subscription `Consumer`, unconfirmed acks; raw: a pull consumer) at 10,000 and
//!    200,000 events, eventmap and raw.
//!
//! 5. to 7. **the outbox relay** (PostgreSQL, `DATABASE_URL`, default the `postgres` database
//!    on 127.0.0.1:5432): `Relay::run` draining 100,000 outbox rows vs raw pipelined
//!    publishing of the same messages with the relay's window, current-thread runtime, at
//!    most 3 rounds; the end-to-end latency (commit to consumer) at a steady 1,000 events/s
//!    for 10 s, as many runs; the relay's peak memory at 10,000 and 200,000 rows. See [`relay`].
//! 8. **the declared-subscription consumer**: `Consumer::run` with a generated
//!    subscription and router over 200,000 events, `double_ack(true)` and `(false)`, vs a raw
//!    pull consumer (`messages()`, plain and double ack), and with the PostgreSQL inbox;
//!    current-thread runtime, at most 3 rounds. See [`consumer`].
//! 9. **several relays on one outbox**: 1, 2 and 3 relays (threads of their own, as separate
//!    processes) draining 100,000 rows; at most 3 rounds. See [`relay`].
//! 10. **filter subjects**: a raw pull consumer of a channel of 4, 20 and 100 event types
//!     filtered on one subject per type vs one wildcard, 100,000 events; current-thread
//!     runtime, at most 3 rounds. See [`filters`].

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::hint::black_box;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use eventmap::nats::async_nats::{self, HeaderMap, jetstream};
use eventmap::nats::{
    Consumer, ConsumerSpec, DeliveryPolicy, JetStreamPublisher, provision_streams,
};
use eventmap::test_util::LocalServer;
use eventmap::{
    AggregateEvent, EventDispatcher, IntegrationMessage, PublishError, PublishReceipt, Publisher,
};
use eventmap_benches::stats::Summary;
use eventmap_benches::{generated_dispatcher, ordering, run_ready};
use futures::StreamExt;
use jetstream::consumer::{AckPolicy, pull};
use jetstream::message::PublishMessage;
use ordering_example::integration_events::OrderIntegrationEvent;
use ordering_example::proto::ordering::v1 as proto;
use prost::Message as _;

#[path = "broker/consumer.rs"]
mod consumer;
#[path = "broker/filters.rs"]
mod filters;
#[path = "broker/relay.rs"]
mod relay;
#[path = "broker/summary.rs"]
mod summary;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Upper bound of one timed run: loops are bounded by their event count and by this.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone)]
struct Config {
    rounds: usize,
    one_at_a_time: usize,
    one_slice: usize,
    pipelined: usize,
    pipelined_slice: usize,
    window: usize,
    consume: usize,
    batch: usize,
    memory_counts: Vec<usize>,
    memory: bool,
    /// Events the relay drains per round (scenario 5).
    relay_events: usize,
    /// Latency scenario: events/s and seconds.
    latency_rate: f64,
    latency_secs: f64,
    /// Scenario 8: events in the stream (read by the unconfirmed variants), read by the
    /// confirmed variants, read by the inbox variant.
    consumer: consumer::Counts,
    /// Scenario 10: events per number of event types.
    filter_events: usize,
    /// Scenarios to run (`publish`, `pipeline`, `consume`, `relay`, `latency`, `consumer`,
    /// `relays`, `filters`, `memory`); all
    /// when empty.
    only: Vec<String>,
    table: Option<String>,
    /// Where to write this benchmark's rows of `./benches/run.sh`'s summary table.
    summary: Option<String>,
}

impl Config {
    /// Whether `scenario` runs.
    fn runs(&self, scenario: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s == scenario)
    }

    /// Rounds of the relay scenario: at most 3 (each fills an outbox of `relay_events`).
    fn relay_rounds(&self) -> usize {
        self.rounds.min(3)
    }

    /// Rounds of the consumer scenario: at most 3 (each fills a stream of
    /// `consumer.events`).
    fn consumer_rounds(&self) -> usize {
        self.rounds.min(3)
    }

    /// Whether anything needs PostgreSQL.
    fn needs_postgres(&self) -> bool {
        self.runs("relay")
            || self.runs("relays")
            || self.runs("latency")
            || self.runs("consumer")
            || (self.memory && self.runs("memory"))
    }

    fn from_args(args: &[String]) -> Result<Self, String> {
        let mut config = Config {
            rounds: 5,
            one_at_a_time: 5_000,
            one_slice: 250,
            pipelined: 50_000,
            pipelined_slice: 5_000,
            window: 1_024,
            consume: 20_000,
            batch: 500,
            memory_counts: vec![10_000, 200_000],
            memory: true,
            relay_events: 100_000,
            latency_rate: 1_000.0,
            latency_secs: 10.0,
            consumer: consumer::Counts {
                events: 200_000,
                confirmed: 20_000,
                inbox: 2_000,
                inbox_batched: 40_000,
            },
            filter_events: 100_000,
            only: Vec::new(),
            table: None,
            summary: None,
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--rounds" => {
                    config.rounds = args
                        .next()
                        .and_then(|v| v.parse().ok())
                        .filter(|&n: &usize| n >= 1)
                        .ok_or("--rounds needs a number >= 1")?;
                }
                "--quick" => {
                    config.rounds = config.rounds.min(2);
                    config.one_at_a_time = 500;
                    config.one_slice = 100;
                    config.pipelined = 5_000;
                    config.pipelined_slice = 1_000;
                    config.consume = 2_000;
                    config.memory_counts = vec![2_000, 20_000];
                    config.relay_events = 5_000;
                    config.latency_secs = 3.0;
                    config.consumer = consumer::Counts {
                        events: 20_000,
                        confirmed: 2_000,
                        inbox: 500,
                        inbox_batched: 5_000,
                    };
                    config.filter_events = 10_000;
                }
                "--no-memory" => config.memory = false,
                "--only" => {
                    let scenario = args.next().ok_or(
                        "--only needs publish, pipeline, consume, relay, latency, consumer, relays, filters or memory",
                    )?;
                    if ![
                        "publish", "pipeline", "consume", "relay", "latency", "consumer", "relays",
                        "filters", "memory",
                    ]
                    .contains(&scenario.as_str())
                    {
                        return Err(format!("unknown scenario {scenario:?}"));
                    }
                    config.only.push(scenario.clone());
                }
                "--table" => {
                    config.table = Some(args.next().ok_or("--table needs a file")?.clone())
                }
                "--summary" => {
                    config.summary = Some(args.next().ok_or("--summary needs a file")?.clone())
                }
                "--bench" => {} // passed by `cargo bench`
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        Ok(config)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Flavor {
    CurrentThread,
    MultiThread,
}

impl Flavor {
    const ALL: [Flavor; 2] = [Flavor::CurrentThread, Flavor::MultiThread];

    fn label(self) -> &'static str {
        match self {
            Flavor::CurrentThread => "current-thread",
            Flavor::MultiThread => "multi-thread (2 workers)",
        }
    }
}

/// A connection and what the variants use, created inside the runtime that drives it.
struct Env {
    client: async_nats::Client,
    js: jetstream::Context,
    publisher: JetStreamPublisher,
    dispatcher: EventDispatcher,
}

impl Env {
    async fn connect(url: &str) -> Result<Self, Error> {
        let client = tokio::time::timeout(Duration::from_secs(10), async_nats::connect(url))
            .await
            .map_err(|_| "connect timed out")??;
        let js = jetstream::new(client.clone());
        provision_streams(&js, &[ordering::ORDER]).await?;
        let publisher = JetStreamPublisher::new(js.clone());
        let dispatcher = generated_dispatcher(Arc::new(publisher.clone()));
        Ok(Env {
            client,
            js,
            publisher,
            dispatcher,
        })
    }

    async fn purge(&self) -> Result<(), Error> {
        self.js
            .get_stream(ordering::ORDER.stream)
            .await?
            .purge()
            .await?;
        Ok(())
    }
}

/// Collects the messages the generated handlers build.
#[derive(Default)]
struct Collect(Mutex<Vec<IntegrationMessage>>);

#[async_trait::async_trait]
impl Publisher for Collect {
    async fn publish(&self, message: &IntegrationMessage) -> Result<PublishReceipt, PublishError> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(message.clone());
        Ok(PublishReceipt {
            stream: String::new(),
            sequence: 0,
            duplicate: false,
        })
    }
}

/// `count` domain events of the example, the four kinds in turn, fresh ids.
fn order_events(count: usize, first: usize) -> Vec<AggregateEvent> {
    let mut events = Vec::with_capacity(count + 4);
    let mut order = first;
    while events.len() < count {
        events.extend(ordering::sample_events(&format!("order-{order}")));
        order += 1;
    }
    events.truncate(count);
    events
}

/// The integration messages of [`order_events`], built by the generated handlers.
fn order_messages(count: usize, first: usize) -> Result<Vec<IntegrationMessage>, Error> {
    let collect = Arc::new(Collect::default());
    let dispatcher = generated_dispatcher(collect.clone());
    run_ready(dispatcher.publish(&order_events(count, first)))?;
    let messages = std::mem::take(&mut *collect.0.lock().unwrap_or_else(PoisonError::into_inner));
    Ok(messages)
}

/// Raw async-nats with no CloudEvents headers: the payload and `Nats-Msg-Id` only (what the
/// pipelined figures of `shared/README.md` were measured with), to show what the headers cost.
async fn raw_publish_bare(
    js: &jetstream::Context,
    messages: &[IntegrationMessage],
    window: usize,
) -> Result<(), Error> {
    let mut in_flight = VecDeque::with_capacity(window);
    for message in messages {
        if in_flight.len() >= window
            && let Some(ack) = in_flight.pop_front()
        {
            black_box(ack.await?);
        }
        let publish = PublishMessage::build()
            .payload(message.payload.clone())
            .message_id(message.id.hyphenated().to_string());
        in_flight.push_back(js.send_publish(message.subject.clone(), publish).await?);
    }
    while let Some(ack) = in_flight.pop_front() {
        black_box(ack.await?);
    }
    Ok(())
}

/// Raw async-nats: the message's headers and `Nats-Msg-Id`, as hand-written code sets them.
fn raw_publish_message(message: &IntegrationMessage) -> PublishMessage {
    let mut headers = HeaderMap::new();
    for (name, value) in &message.headers {
        headers.insert(name.as_str(), value.as_str());
    }
    headers.insert(
        async_nats::header::NATS_MESSAGE_ID,
        message.id.hyphenated().to_string().as_str(),
    );
    PublishMessage::build()
        .payload(message.payload.clone())
        .headers(headers)
}

async fn raw_publish_one(
    js: &jetstream::Context,
    message: &IntegrationMessage,
) -> Result<(), Error> {
    js.send_publish(message.subject.clone(), raw_publish_message(message))
        .await?
        .await?;
    Ok(())
}

async fn raw_publish_pipelined(
    js: &jetstream::Context,
    messages: &[IntegrationMessage],
    window: usize,
) -> Result<(), Error> {
    let mut in_flight = VecDeque::with_capacity(window);
    for message in messages {
        if in_flight.len() >= window
            && let Some(ack) = in_flight.pop_front()
        {
            black_box(ack.await?);
        }
        in_flight.push_back(
            js.send_publish(message.subject.clone(), raw_publish_message(message))
                .await?,
        );
    }
    while let Some(ack) = in_flight.pop_front() {
        black_box(ack.await?);
    }
    Ok(())
}

/// `variants` starting at the `round`-th (1-based), wrapping around.
fn rotated(variants: &[&'static str], round: usize) -> Vec<&'static str> {
    let mut order = variants.to_vec();
    order.rotate_left((round - 1) % variants.len().max(1));
    order
}

/// Runs `run` on `rt`, failing after [`RUN_TIMEOUT`].
fn drive<T>(
    rt: &tokio::runtime::Runtime,
    run: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    rt.block_on(async {
        tokio::time::timeout(RUN_TIMEOUT, run)
            .await
            .map_err(|_| format!("run exceeded {RUN_TIMEOUT:?}"))?
    })
}

/// One timed run: events per second, and the per-call p50 in µs when measured.
struct Run {
    rate: f64,
    p50_us: Option<f64>,
}

fn rate(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

fn p50(latencies: &mut [Duration]) -> Option<f64> {
    latencies.sort_unstable();
    latencies
        .get(latencies.len() / 2)
        .map(|d| d.as_secs_f64() * 1e6)
}

// ---------------------------------------------------------------------------------------------
// Scenarios 1 and 2: publishing, measured slice by slice
//
// A run of each variant is cut into slices that alternate (A B C A B C ...), so that both
// sides of a ratio see the same moments of a shared machine; a variant's rate is its events
// over the sum of its slices' times.

/// The messages or events one publishing variant sends in a round, and what it measured.
struct PublishRun<T> {
    items: Vec<T>,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl<T> PublishRun<T> {
    fn new(items: Vec<T>) -> Self {
        Self {
            latencies: Vec::with_capacity(items.len()),
            items,
            elapsed: Duration::ZERO,
        }
    }

    fn finish(mut self) -> Run {
        Run {
            rate: rate(self.items.len(), self.elapsed),
            p50_us: p50(&mut self.latencies),
        }
    }
}

async fn one_eventmap(
    env: &Env,
    messages: &[IntegrationMessage],
    latencies: &mut Vec<Duration>,
) -> Result<(), Error> {
    for message in messages {
        let sent = Instant::now();
        black_box(env.publisher.publish(message).await?);
        latencies.push(sent.elapsed());
    }
    Ok(())
}

async fn one_raw(
    env: &Env,
    messages: &[IntegrationMessage],
    latencies: &mut Vec<Duration>,
) -> Result<(), Error> {
    for message in messages {
        let sent = Instant::now();
        raw_publish_one(&env.js, message).await?;
        latencies.push(sent.elapsed());
    }
    Ok(())
}

async fn one_dispatch(
    env: &Env,
    events: &[AggregateEvent],
    latencies: &mut Vec<Duration>,
) -> Result<(), Error> {
    for event in events {
        let sent = Instant::now();
        env.dispatcher.publish(std::slice::from_ref(event)).await?;
        latencies.push(sent.elapsed());
    }
    Ok(())
}

async fn pipelined_eventmap(
    env: &Env,
    messages: &[IntegrationMessage],
    window: usize,
) -> Result<(), Error> {
    let receipts = env.publisher.publish_all(messages, window).await?;
    if receipts.len() != messages.len() || receipts.iter().any(|r| r.duplicate) {
        return Err("publish_all: unexpected receipts".into());
    }
    Ok(())
}

/// Times `run` (one slice) and adds its time to `elapsed`.
async fn timed(
    elapsed: &mut Duration,
    run: impl Future<Output = Result<(), Error>>,
) -> Result<(), Error> {
    let start = Instant::now();
    run.await?;
    *elapsed += start.elapsed();
    Ok(())
}

/// Scenario 1 for one round on one runtime: `n` events per variant in slices of `slice`.
async fn one_at_a_time(
    env: &Env,
    n: usize,
    slice: usize,
    first: usize,
    round: usize,
) -> Result<[(&'static str, Run); 3], Error> {
    env.purge().await?;
    let mut eventmap = PublishRun::new(order_messages(n, first)?);
    let mut raw = PublishRun::new(order_messages(n, first + n)?);
    let mut dispatch = PublishRun::new(order_events(n, first + 2 * n));
    let order = rotated(&[ONE_EVENTMAP, ONE_RAW, ONE_DISPATCH], round);
    for start in (0..n).step_by(slice.max(1)) {
        let range = start..(start + slice).min(n);
        for variant in &order {
            match *variant {
                ONE_EVENTMAP => {
                    let run = &mut eventmap;
                    timed(
                        &mut run.elapsed,
                        one_eventmap(env, &run.items[range.clone()], &mut run.latencies),
                    )
                    .await?
                }
                ONE_RAW => {
                    let run = &mut raw;
                    timed(
                        &mut run.elapsed,
                        one_raw(env, &run.items[range.clone()], &mut run.latencies),
                    )
                    .await?
                }
                _ => {
                    let run = &mut dispatch;
                    timed(
                        &mut run.elapsed,
                        one_dispatch(env, &run.items[range.clone()], &mut run.latencies),
                    )
                    .await?
                }
            }
        }
    }
    Ok([
        (ONE_EVENTMAP, eventmap.finish()),
        (ONE_RAW, raw.finish()),
        (ONE_DISPATCH, dispatch.finish()),
    ])
}

/// Scenario 2 for one round on one runtime: `n` messages per pipelining variant in slices of
/// `slice`, each slice pipelined with `window` acks in flight, interleaved with a tenth as
/// many published one at a time by eventmap (the pattern pipelining is compared with).
async fn pipelined(
    env: &Env,
    n: usize,
    slice: usize,
    window: usize,
    first: usize,
    round: usize,
) -> Result<[(&'static str, Run); 4], Error> {
    env.purge().await?;
    let slice = slice.max(10);
    let mut eventmap = PublishRun::new(order_messages(n, first)?);
    let mut raw = PublishRun::new(order_messages(n, first + n)?);
    let mut one = PublishRun::new(order_messages(n / 10, first + 2 * n)?);
    let mut bare = PublishRun::new(order_messages(n, first + 3 * n)?);
    let order = rotated(&[PIPE_EVENTMAP, PIPE_RAW, PIPE_ONE, PIPE_BARE], round);
    for start in (0..n).step_by(slice) {
        let range = start..(start + slice).min(n);
        for variant in &order {
            match *variant {
                PIPE_EVENTMAP => {
                    let run = &mut eventmap;
                    timed(
                        &mut run.elapsed,
                        pipelined_eventmap(env, &run.items[range.clone()], window),
                    )
                    .await?
                }
                PIPE_RAW => {
                    let run = &mut raw;
                    timed(
                        &mut run.elapsed,
                        raw_publish_pipelined(&env.js, &run.items[range.clone()], window),
                    )
                    .await?
                }
                PIPE_BARE => {
                    let run = &mut bare;
                    timed(
                        &mut run.elapsed,
                        raw_publish_bare(&env.js, &run.items[range.clone()], window),
                    )
                    .await?
                }
                _ => {
                    let run = &mut one;
                    let range = (range.start / 10)..(range.end / 10).min(run.items.len());
                    timed(
                        &mut run.elapsed,
                        one_eventmap(env, &run.items[range], &mut run.latencies),
                    )
                    .await?
                }
            }
        }
    }
    let mut eventmap = eventmap.finish();
    let mut raw = raw.finish();
    let mut bare = bare.finish();
    eventmap.p50_us = None;
    raw.p50_us = None;
    bare.p50_us = None;
    Ok([
        (PIPE_EVENTMAP, eventmap),
        (PIPE_RAW, raw),
        (PIPE_ONE, one.finish()),
        (PIPE_BARE, bare),
    ])
}

// ---------------------------------------------------------------------------------------------
// Scenario 3: consume

/// Purges the stream and fills it with `count` messages (not timed).
async fn fill(env: &Env, count: usize, first: usize) -> Result<(), Error> {
    env.purge().await?;
    let messages = order_messages(count, first)?;
    raw_publish_pipelined(&env.js, &messages, 1_024).await
}

/// What a consumer does with an event: look at it, by type.
fn handle(event: &OrderIntegrationEvent) {
    match event {
        OrderIntegrationEvent::OrderCreatedEvent(e) => black_box(e.items.len()),
        OrderIntegrationEvent::OrderReadiedEvent(e) => black_box(e.total_cents as usize),
        OrderIntegrationEvent::OrderCanceledEvent(e) => black_box(e.reason.len()),
        OrderIntegrationEvent::OrderCompletedEvent(e) => black_box(e.invoice_id.len()),
    };
}

async fn consume_eventmap(
    env: &Env,
    count: usize,
    batch: usize,
    durable: &str,
    confirmed: bool,
) -> Result<Run, Error> {
    let spec = ConsumerSpec::new(durable, &[]).policy(DeliveryPolicy::default().batch(batch));
    let mut deliveries = Consumer::<OrderIntegrationEvent>::start(&env.js, &spec)
        .await?
        .deliveries();
    let start = Instant::now();
    for _ in 0..count {
        let delivery = deliveries.next().await.ok_or("deliveries ended")??;
        handle(&delivery.event);
        if confirmed {
            delivery.ack().await?;
        } else {
            delivery.ack_unconfirmed().await?;
        }
    }
    if !confirmed {
        env.client.flush().await?;
    }
    let elapsed = start.elapsed();
    drop(deliveries);
    delete_consumer(env, durable).await?;
    Ok(Run {
        rate: rate(count, elapsed),
        p50_us: None,
    })
}

/// The same decoding a hand-written consumer does: by the subject's last token (or by a
/// `ce-type`, which has no `.`).
fn raw_decode(subject: &str, payload: &[u8]) -> Result<OrderIntegrationEvent, Error> {
    Ok(match subject.rsplit('.').next() {
        Some("OrderCreatedEvent") => {
            OrderIntegrationEvent::OrderCreatedEvent(proto::OrderCreated::decode(payload)?)
        }
        Some("OrderReadiedEvent") => {
            OrderIntegrationEvent::OrderReadiedEvent(proto::OrderReadied::decode(payload)?)
        }
        Some("OrderCanceledEvent") => {
            OrderIntegrationEvent::OrderCanceledEvent(proto::OrderCanceled::decode(payload)?)
        }
        Some("OrderCompletedEvent") => {
            OrderIntegrationEvent::OrderCompletedEvent(proto::OrderCompleted::decode(payload)?)
        }
        _ => return Err(format!("unexpected subject {subject}").into()),
    })
}

async fn consume_raw(
    env: &Env,
    count: usize,
    batch: usize,
    durable: &str,
    confirmed: bool,
) -> Result<Run, Error> {
    let channel = ordering::ORDER;
    let stream = env.js.get_stream(channel.stream).await?;
    let consumer: jetstream::consumer::PullConsumer = stream
        .create_consumer(pull::Config {
            durable_name: Some(durable.to_owned()),
            ack_policy: AckPolicy::Explicit,
            filter_subjects: ordering::EVENT_NAMES
                .iter()
                .map(|name| channel.subject_for(&format!("{name}Event")))
                .collect(),
            ..pull::Config::default()
        })
        .await?;
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(batch)
        .messages()
        .await?;
    let start = Instant::now();
    for _ in 0..count {
        let message = messages.next().await.ok_or("consumer ended")??;
        let event = raw_decode(message.subject.as_str(), &message.payload)?;
        handle(&event);
        if confirmed {
            message.double_ack().await?;
        } else {
            message.ack().await?;
        }
    }
    if !confirmed {
        env.client.flush().await?;
    }
    let elapsed = start.elapsed();
    drop(messages);
    delete_consumer(env, durable).await?;
    Ok(Run {
        rate: rate(count, elapsed),
        p50_us: None,
    })
}

async fn delete_consumer(env: &Env, durable: &str) -> Result<(), Error> {
    env.js
        .get_stream(ordering::ORDER.stream)
        .await?
        .delete_consumer(durable)
        .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Results

type Key = (&'static str, Flavor, &'static str);

#[derive(Default)]
struct Results {
    /// (scenario, flavor, variant) -> events/s of each round.
    rates: BTreeMap<Key, Vec<f64>>,
    /// (scenario, flavor, variant) -> p50 latency (µs) of each round.
    p50: BTreeMap<Key, Vec<f64>>,
}

impl Results {
    fn add(&mut self, key: Key, run: Run) {
        eprintln!(
            "  {:<10} {:<26} {:<34} {:>10.0} events/s{}",
            key.0,
            key.1.label(),
            key.2,
            run.rate,
            run.p50_us
                .map(|p| format!("  p50 {p:.0} µs"))
                .unwrap_or_default()
        );
        self.rates.entry(key).or_default().push(run.rate);
        if let Some(p) = run.p50_us {
            self.p50.entry(key).or_default().push(p);
        }
    }

    /// Per-round ratio of `a` to `b` (same round, same flavor).
    fn ratio(&self, a: Key, b: Key) -> Option<Summary> {
        let a = self.rates.get(&a)?;
        let b = self.rates.get(&b)?;
        let ratios: Vec<f64> = a.iter().zip(b).map(|(a, b)| a / b).collect();
        Summary::of(&ratios)
    }
}

const ONE: &str = "1 publish";
const PIPE: &str = "2 pipeline";
const CONSUME: &str = "3 consume";
const RELAY: &str = "5 relay";
/// Scenario 9's name in the results.
const RELAYS: &str = "9 relays";

const ONE_EVENTMAP: &str = "eventmap publish (await ack)";
const ONE_RAW: &str = "raw send_publish + await ack";
const ONE_DISPATCH: &str = "eventmap dispatch (convert+publish)";
const PIPE_EVENTMAP: &str = "eventmap publish_all";
const PIPE_RAW: &str = "raw pipelined";
const PIPE_ONE: &str = "eventmap publish (await ack), interleaved";
const PIPE_BARE: &str = "raw pipelined, payload + Nats-Msg-Id only";
const CONSUME_EVENTMAP: &str = "eventmap Consumer::deliveries + ack";
const CONSUME_EVENTMAP_FAST: &str = "eventmap Consumer::deliveries + ack_unconfirmed";
const CONSUME_RAW: &str = "raw pull + ack";
const CONSUME_RAW_DOUBLE: &str = "raw pull + double_ack";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("memory-child") {
        return match memory_child(&args[1..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("memory child: {err}");
                ExitCode::FAILURE
            }
        };
    }
    let config = match Config::from_args(&args) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("broker benchmark: {err}");
            return ExitCode::from(2);
        }
    };
    match run(&config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("broker benchmark: {err}");
            ExitCode::FAILURE
        }
    }
}

fn runtime(flavor: Flavor) -> Result<tokio::runtime::Runtime, Error> {
    let mut builder = match flavor {
        Flavor::CurrentThread => tokio::runtime::Builder::new_current_thread(),
        Flavor::MultiThread => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(2);
            builder
        }
    };
    Ok(builder.enable_all().build()?)
}

fn run(config: &Config) -> Result<(), Error> {
    let control = runtime(Flavor::CurrentThread)?;
    let mut server = control.block_on(LocalServer::start())?;
    eprintln!(
        "nats-server {} at {} (JetStream file store in {})",
        server.version(),
        server.url(),
        server.store_dir().display()
    );
    let result = measure(config, &server, &control);
    control.block_on(server.stop())?;
    let (table, summary) = result?;
    println!("{table}");
    if let Some(path) = &config.table {
        std::fs::write(path, &table)?;
    }
    if let Some(path) = &config.summary {
        eventmap_benches::summary::write(path.as_ref(), &summary)?;
    }
    Ok(())
}

fn measure(
    config: &Config,
    server: &LocalServer,
    control: &tokio::runtime::Runtime,
) -> Result<(String, Vec<eventmap_benches::summary::Row>), Error> {
    let url = server.url();
    let mut runtimes = Vec::new();
    for flavor in Flavor::ALL {
        let rt = if flavor == Flavor::CurrentThread {
            None
        } else {
            Some(runtime(flavor)?)
        };
        let env = match &rt {
            Some(rt) => rt.block_on(Env::connect(&url))?,
            None => control.block_on(Env::connect(&url))?,
        };
        runtimes.push((flavor, rt, env));
    }
    let pool = if config.needs_postgres() {
        let pool = control.block_on(eventmap_benches::outbox::connect(4)).map_err(|err| {
            format!(
                "the relay scenarios need PostgreSQL at {} (set DATABASE_URL, or leave them out with --only): {err}",
                eventmap_benches::outbox::database_url()
            )
        })?;
        Some(pool)
    } else {
        None
    };
    let mut results = Results::default();
    let mut next_order = 0;
    let mut ids = |count: usize| {
        let first = next_order;
        next_order += count;
        first
    };
    for round in 1..=config.rounds {
        eprintln!("round {round}/{}", config.rounds);
        for (flavor, rt, env) in &runtimes {
            let flavor = *flavor;
            let rt = rt.as_ref().unwrap_or(control);
            // Variants run in turn, their order rotated every round (A B C, B C A, ...).
            if config.runs("publish") {
                let n = config.one_at_a_time;
                let first = ids(3 * n);
                for (variant, run) in
                    drive(rt, one_at_a_time(env, n, config.one_slice, first, round))?
                {
                    results.add((ONE, flavor, variant), run);
                }
            }
            if config.runs("pipeline") {
                let n = config.pipelined;
                let first = ids(4 * n);
                for (variant, run) in drive(
                    rt,
                    pipelined(env, n, config.pipelined_slice, config.window, first, round),
                )? {
                    results.add((PIPE, flavor, variant), run);
                }
            }
            // 3: consume: one filled stream, read by one durable consumer per variant, in turn.
            let n = config.consume;
            if config.runs("consume") {
                drive(rt, fill(env, n, ids(n)))?;
            }
            let batch = config.batch;
            let variants: &[&str] = if config.runs("consume") {
                &[
                    CONSUME_EVENTMAP_FAST,
                    CONSUME_RAW,
                    CONSUME_EVENTMAP,
                    CONSUME_RAW_DOUBLE,
                ]
            } else {
                &[]
            };
            for (index, variant) in rotated(variants, round).into_iter().enumerate() {
                let durable = format!("bench-{round}-{index}");
                let run = match variant {
                    CONSUME_EVENTMAP_FAST => {
                        drive(rt, consume_eventmap(env, n, batch, &durable, false))?
                    }
                    CONSUME_EVENTMAP => drive(rt, consume_eventmap(env, n, batch, &durable, true))?,
                    CONSUME_RAW => drive(rt, consume_raw(env, n, batch, &durable, false))?,
                    _ => drive(rt, consume_raw(env, n, batch, &durable, true))?,
                };
                results.add((CONSUME, flavor, variant), run);
            }
            // 5: the relay, current-thread only (as `eventmap-relay` runs it).
            if let Some(pool) = &pool
                && config.runs("relay")
                && flavor == Flavor::CurrentThread
                && round <= config.relay_rounds()
            {
                let n = config.relay_events;
                for (variant, run) in drive(rt, relay::relay_round(env, pool, n, ids(n), round))? {
                    results.add((RELAY, flavor, variant), run);
                }
            }
            // 9: several relays on one outbox, current-thread runtimes.
            if let Some(pool) = &pool
                && config.runs("relays")
                && flavor == Flavor::CurrentThread
                && round <= config.relay_rounds()
            {
                let n = config.relay_events;
                let first = ids(relay::RELAYS.len() * n);
                for (variant, run) in
                    drive(rt, relay::relays_round(env, &url, pool, n, first, round))?
                {
                    results.add((RELAYS, flavor, variant), run);
                }
            }
            // 8: the declared-subscription consumer, current-thread only (each variant is
            // bounded by `RUN_TIMEOUT` on its own).
            if config.runs("consumer")
                && flavor == Flavor::CurrentThread
                && round <= config.consumer_rounds()
            {
                let counts = config.consumer;
                let first = ids(counts.events);
                for (variant, run) in
                    rt.block_on(consumer::round(env, pool.as_ref(), counts, first, round))?
                {
                    results.add((consumer::CONSUMER, flavor, variant), run);
                }
            }
            // 10: filter subjects, current-thread only, a stream of its own.
            if config.runs("filters")
                && flavor == Flavor::CurrentThread
                && round <= config.consumer_rounds()
            {
                for (variant, run) in drive(rt, filters::round(env, config.filter_events, round))? {
                    results.add((filters::FILTERS, flavor, variant), run);
                }
            }
        }
    }
    // 6: latency, `relay_rounds` runs of `latency_secs` each.
    let mut latencies = Vec::new();
    if pool.is_some() && config.runs("latency") {
        for run in 1..=config.relay_rounds() {
            eprintln!(
                "latency {run}/{}: {} events/s for {} s",
                config.relay_rounds(),
                config.latency_rate,
                config.latency_secs
            );
            let latency = control.block_on(relay::latency(
                &url,
                config.latency_rate,
                config.latency_secs,
            ))?;
            eprintln!("  {latency:?}");
            latencies.push(latency);
        }
    }
    let memory = if config.memory && config.runs("memory") {
        Some(memory(
            config,
            &url,
            control,
            &runtimes[0].2,
            pool.as_ref(),
        )?)
    } else {
        None
    };
    if let Some(pool) = pool {
        control.block_on(pool.close());
    }
    let summary = summary::rows(config, &results, &latencies, memory.as_ref());
    let table = table(
        config,
        server,
        &results,
        &latencies,
        memory.as_ref().map(|m| m.table.as_str()),
    );
    Ok((table, summary))
}

/// The ratios of scenario 8, if it ran.
fn consumer_ratios(config: &Config, results: &Results) -> Option<String> {
    use consumer::{
        CONSUMER, EVENTMAP_CONFIRMED, EVENTMAP_INBOX, EVENTMAP_INBOX_BATCHED,
        EVENTMAP_INBOX_MULTI_ROW, EVENTMAP_INBOX_PARALLEL, EVENTMAP_UNCONFIRMED, RAW_ACK,
        RAW_DOUBLE,
    };
    let ratio = |a, b| {
        results.ratio(
            (CONSUMER, Flavor::CurrentThread, a),
            (CONSUMER, Flavor::CurrentThread, b),
        )
    };
    let confirmed = ratio(EVENTMAP_CONFIRMED, RAW_DOUBLE)?;
    let unconfirmed = ratio(EVENTMAP_UNCONFIRMED, RAW_ACK);
    let counts = config.consumer;
    let mut out = format!(
        "\n| consumer (current-thread), {} rounds | value | target | |\n|---|---|---|---|\n\
         | 8: Consumer double_ack(true) / raw double_ack ({} events) | {} | >= 0.8 | {} |\n\
         | 8: Consumer double_ack(false) / raw ack ({} events) | {} | >= 0.95 | {} |\n",
        config.consumer_rounds(),
        counts.confirmed,
        cell(Some(confirmed), 2),
        verdict(Some(confirmed), 0.8),
        counts.events,
        cell(unconfirmed, 2),
        verdict(unconfirmed, 0.95),
    );
    if let Some(inbox) = ratio(EVENTMAP_INBOX, EVENTMAP_CONFIRMED) {
        out.push_str(&format!(
            "| 8: Consumer + inbox ({} events) / Consumer double_ack(true) | {} | - | |\n",
            counts.inbox,
            cell(Some(inbox), 2)
        ));
    }
    // The targets apply to the two ways past a round trip per event (summary.rs, INBOX_VARIANTS).
    for (variant, label, targeted) in [
        (EVENTMAP_INBOX_BATCHED, "Consumer::run_with_inbox", false),
        (
            EVENTMAP_INBOX_PARALLEL,
            "Consumer::run_with_inbox, 4 transactions per batch",
            true,
        ),
        (
            EVENTMAP_INBOX_MULTI_ROW,
            "Consumer::run_with_inbox + handle_batch",
            true,
        ),
    ] {
        let Some(gain) = ratio(variant, EVENTMAP_INBOX) else {
            continue;
        };
        let beside = ratio(variant, EVENTMAP_CONFIRMED);
        let (target, met) = if targeted {
            (">= 10", verdict(Some(gain), 10.0))
        } else {
            ("-", "")
        };
        out.push_str(&format!(
            "| 8: {label} ({} events) / Consumer + Inbox::process | {} | {target} | {met} |\n\
             | 8: {label} / Consumer double_ack(true) (no inbox) | {} | - | |\n",
            counts.inbox_batched,
            cell(Some(gain), 2),
            cell(beside, 2),
        ));
    }
    out.push_str(&format!(
        "| 8: Consumer double_ack(false) / double_ack(true) | {} | - | |\n",
        cell(ratio(EVENTMAP_UNCONFIRMED, EVENTMAP_CONFIRMED), 2)
    ));
    Some(out)
}

// ---------------------------------------------------------------------------------------------
// Scenario 4: peak memory, one process per measurement

/// Runs `role` over `count` events in a child process; returns (VmHWM, VmRSS after connecting)
/// in MiB and the elapsed seconds.
fn child(
    role: &str,
    count: usize,
    url: &str,
    window: usize,
    batch: usize,
    schema: &str,
) -> Result<(f64, f64, f64), Error> {
    let exe = std::env::current_exe()?;
    let output = std::process::Command::new(exe)
        .args([
            "memory-child",
            role,
            &count.to_string(),
            url,
            &window.to_string(),
            &batch.to_string(),
            schema,
        ])
        .stdin(std::process::Stdio::null())
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "memory child {role} {count} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    let field = |name: &str| -> Result<f64, Error> {
        stdout
            .split_whitespace()
            .find_map(|word| word.strip_prefix(name)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("memory child printed no {name}: {stdout}").into())
    };
    Ok((
        field("vmhwm_kb")? / 1024.0,
        field("rss_start_kb")? / 1024.0,
        field("secs")?,
    ))
}

fn memory(
    config: &Config,
    url: &str,
    control: &tokio::runtime::Runtime,
    env: &Env,
    pool: Option<&eventmap::postgres::sqlx::PgPool>,
) -> Result<Memory, Error> {
    let mut peaks = Vec::new();
    let mut out = String::from(
        "| role | events | peak RSS (VmHWM) MiB | RSS after connect MiB | seconds |\n|---|---|---|---|---|\n",
    );
    for &count in &config.memory_counts {
        for roles in [
            &["publish", "consumer"][..],
            &["raw-publish", "raw-consume"][..],
        ] {
            control.block_on(env.purge())?;
            for &role in roles {
                let (hwm, start, secs) = child(role, count, url, config.window, config.batch, "-")?;
                eprintln!(
                    "  memory {role:<12} {count:>7} events: peak {hwm:.1} MiB (start {start:.1} MiB), {secs:.1} s"
                );
                out.push_str(&format!(
                    "| {role} | {count} | {hwm:.1} | {start:.1} | {secs:.1} |\n"
                ));
                peaks.push((role, count, hwm));
            }
        }
        if let Some(pool) = pool {
            // The relay over `count` outbox rows, filled beforehand (the fill is not part of it).
            control.block_on(env.purge())?;
            let db = control.block_on(relay::memory_fill(pool, count))?;
            let measured = child(
                "relay",
                count,
                url,
                config.window,
                config.batch,
                db.schema(),
            );
            control.block_on(db.drop_schema())?;
            let (hwm, start, secs) = measured?;
            eprintln!(
                "  memory relay        {count:>7} events: peak {hwm:.1} MiB (start {start:.1} MiB), {secs:.1} s"
            );
            out.push_str(&format!(
                "| relay | {count} | {hwm:.1} | {start:.1} | {secs:.1} |\n"
            ));
            peaks.push(("relay", count, hwm));
        }
    }
    control.block_on(env.purge())?;
    Ok(Memory { table: out, peaks })
}

/// Scenario 4's figures.
struct Memory {
    /// The table (Markdown).
    table: String,
    /// (role, events, peak RSS in MiB), in the order measured.
    peaks: Vec<(&'static str, usize, f64)>,
}

/// `kB` value of `field` (`VmHWM`, `VmRSS`) in `/proc/self/status`.
fn status_kb(field: &str) -> Result<u64, Error> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|line| {
            line.strip_prefix(field)?
                .strip_prefix(':')?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        })
        .ok_or_else(|| format!("no {field} in /proc/self/status").into())
}

fn memory_child(args: &[String]) -> Result<(), Error> {
    let [role, count, url, window, batch, schema] = args else {
        return Err("usage: memory-child ROLE COUNT URL WINDOW BATCH SCHEMA".into());
    };
    let count: usize = count.parse()?;
    let window: usize = window.parse()?;
    let batch: usize = batch.parse()?;
    let rt = runtime(Flavor::CurrentThread)?;
    rt.block_on(async {
        let env = Env::connect(url).await?;
        let rss_start = status_kb("VmRSS")?;
        let start = Instant::now();
        match role.as_str() {
            "publish" | "raw-publish" => {
                // Built and published chunk by chunk, as a service publishes what it produces.
                let mut done = 0;
                while done < count {
                    let chunk = window.min(count - done);
                    let messages = order_messages(chunk, 1_000_000 + done)?;
                    if role == "publish" {
                        env.publisher.publish_all(&messages, window).await?;
                    } else {
                        raw_publish_pipelined(&env.js, &messages, window).await?;
                    }
                    done += chunk;
                }
            }
            "raw-consume" => {
                consume_raw(&env, count, batch, "bench-memory", false).await?;
            }
            // Scenario 3's eventmap side (`Consumer::deliveries` + `ack_unconfirmed`), for
            // `benches/profile-consumer.sh`.
            "deliveries" => {
                consume_eventmap(&env, count, batch, "bench-memory-deliveries", false).await?;
            }
            "consumer" => consumer::memory_child(&env, count).await?,
            // Scenario 8's raw side (`messages()`, `ce-type`, typed `match`, plain ack).
            "raw-consumer" => consumer::memory_child_raw(&env, count).await?,
            "relay" => relay::memory_child_relay(&env, schema, count).await?,
            other => return Err(format!("unknown role {other}").into()),
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "vmhwm_kb={} rss_start_kb={rss_start} secs={secs:.3}",
            status_kb("VmHWM")?
        );
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// The table

fn cell(summary: Option<Summary>, decimals: usize) -> String {
    summary.map_or_else(|| "-".to_owned(), |s| s.display(decimals))
}

fn verdict(summary: Option<Summary>, target: f64) -> &'static str {
    match summary {
        Some(s) if s.median >= target => "met",
        Some(_) => "MISSED",
        None => "-",
    }
}

fn table(
    config: &Config,
    server: &LocalServer,
    results: &Results,
    latencies: &[relay::Latency],
    memory: Option<&str>,
) -> String {
    let mut out = format!(
        "nats-server {}, JetStream file store (temp dir), loopback; {} interleaved rounds; median [min-max]\n\n",
        server.version(),
        config.rounds
    );
    out.push_str("| scenario | runtime | variant | events/s | p50 µs |\n|---|---|---|---|---|\n");
    for (key, rates) in &results.rates {
        let p50 = results.p50.get(key).and_then(|v| Summary::of(v));
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            key.0,
            key.1.label(),
            key.2,
            cell(Summary::of(rates), 0),
            cell(p50, 0)
        ));
    }
    out.push_str("\n| ratio | runtime | value | target | |\n|---|---|---|---|---|\n");
    for flavor in Flavor::ALL {
        let rows: [(&str, Option<Summary>, f64); 8] = [
            (
                "1: eventmap publish / raw publish-and-await",
                results.ratio((ONE, flavor, ONE_EVENTMAP), (ONE, flavor, ONE_RAW)),
                0.95,
            ),
            (
                "1: eventmap dispatch (convert+publish) / raw publish-and-await",
                results.ratio((ONE, flavor, ONE_DISPATCH), (ONE, flavor, ONE_RAW)),
                0.0,
            ),
            (
                "2: eventmap publish_all / raw pipelined (same window)",
                results.ratio((PIPE, flavor, PIPE_EVENTMAP), (PIPE, flavor, PIPE_RAW)),
                0.9,
            ),
            (
                "2: raw pipelined with the CloudEvents headers / without (payload + Nats-Msg-Id)",
                results.ratio((PIPE, flavor, PIPE_RAW), (PIPE, flavor, PIPE_BARE)),
                0.0,
            ),
            (
                "2: eventmap publish_all / eventmap one at a time",
                results.ratio((PIPE, flavor, PIPE_EVENTMAP), (PIPE, flavor, PIPE_ONE)),
                10.0,
            ),
            (
                "3: eventmap deliveries + ack_unconfirmed / raw pull + ack",
                results.ratio(
                    (CONSUME, flavor, CONSUME_EVENTMAP_FAST),
                    (CONSUME, flavor, CONSUME_RAW),
                ),
                0.95,
            ),
            (
                "3: eventmap deliveries + ack (confirmed) / raw pull + double_ack",
                results.ratio(
                    (CONSUME, flavor, CONSUME_EVENTMAP),
                    (CONSUME, flavor, CONSUME_RAW_DOUBLE),
                ),
                0.8,
            ),
            (
                "3: eventmap deliveries + ack (confirmed) / raw pull + ack",
                results.ratio(
                    (CONSUME, flavor, CONSUME_EVENTMAP),
                    (CONSUME, flavor, CONSUME_RAW),
                ),
                0.0,
            ),
        ];
        for (name, summary, target) in rows {
            let (target, met) = if target > 0.0 {
                (format!(">= {target}"), verdict(summary, target))
            } else {
                ("-".to_owned(), "")
            };
            out.push_str(&format!(
                "| {name} | {} | {} | {target} | {met} |\n",
                flavor.label(),
                cell(summary, 2)
            ));
        }
    }
    out.push_str("\n| runtime comparison (multi-thread / current-thread) | value |\n|---|---|\n");
    for (scenario, variant) in [
        (ONE, ONE_EVENTMAP),
        (PIPE, PIPE_EVENTMAP),
        (CONSUME, CONSUME_EVENTMAP_FAST),
    ] {
        out.push_str(&format!(
            "| {scenario}: {variant} | {} |\n",
            cell(
                results.ratio(
                    (scenario, Flavor::MultiThread, variant),
                    (scenario, Flavor::CurrentThread, variant)
                ),
                2
            )
        ));
    }
    out.push_str(&format!(
        "\nevents per variant and round: one at a time {} (slices of {}), pipelined {} (slices of {}, window {}), consume {} (pull batch {})\n",
        config.one_at_a_time,
        config.one_slice,
        config.pipelined,
        config.pipelined_slice,
        config.window,
        config.consume,
        config.batch
    ));
    if let Some(ratio) = results.ratio(
        (RELAY, Flavor::CurrentThread, relay::RELAY_EVENTMAP),
        (RELAY, Flavor::CurrentThread, relay::RELAY_RAW),
    ) {
        let window = relay::relay_config().max_in_flight;
        out.push_str(&format!(
            "\n| relay (current-thread) | value | target | |\n|---|---|---|---|\n\
             | 5: Relay::run / raw pipelined (window {window}), {} events, {} rounds | {} | >= 0.5 | {} |\n",
            config.relay_events,
            config.relay_rounds(),
            cell(Some(ratio), 2),
            verdict(Some(ratio), 0.5)
        ));
    }
    if let Some(one) = results
        .rates
        .get(&(RELAYS, Flavor::CurrentThread, relay::RELAYS[0]))
    {
        out.push_str(&format!(
            "\n| several relays on one outbox (current-thread each), {} events, {} rounds | events/s | / 1 relay |\n|---|---|---|\n",
            config.relay_events,
            one.len()
        ));
        for variant in relay::RELAYS {
            let key = (RELAYS, Flavor::CurrentThread, variant);
            out.push_str(&format!(
                "| 9: {variant} | {} | {} |\n",
                cell(results.rates.get(&key).and_then(|r| Summary::of(r)), 0),
                cell(
                    results.ratio(key, (RELAYS, Flavor::CurrentThread, relay::RELAYS[0])),
                    2
                )
            ));
        }
    }
    if let Some(rows) = consumer_ratios(config, results) {
        out.push_str(&rows);
    }
    if let Some(rows) = filters::table(results, config.consumer_rounds(), config.filter_events) {
        out.push_str(&rows);
    }
    if let Some(first) = latencies.first() {
        let summary = |value: fn(&relay::Latency) -> f64, decimals: usize| {
            let values: Vec<f64> = latencies.iter().map(value).collect();
            cell(Summary::of(&values), decimals)
        };
        out.push_str(&format!(
            "\nEnd-to-end latency, COMMIT issued -> consumer received: {} runs of {} events at {:.0} events/s, one event per transaction; relay and consumer on threads of their own:\n\n\
             | achieved events/s | p50 ms | p99 ms | max ms | COMMIT call p50 ms | received before the commit returned |\n\
             |---|---|---|---|---|---|\n\
             | {} | {} | {} | {} | {} | {} |\n",
            latencies.len(),
            first.events,
            first.target_rate,
            summary(|l| l.achieved_rate, 0),
            summary(|l| l.p50_ms, 2),
            summary(|l| l.p99_ms, 2),
            summary(|l| l.max_ms, 2),
            summary(|l| l.commit_p50_ms, 2),
            summary(|l| l.before_commit as f64, 0),
        ));
    }
    if let Some(memory) = memory {
        out.push_str("\nPeak memory, one process per row (current-thread runtime):\n\n");
        out.push_str(memory);
    }
    out
}
