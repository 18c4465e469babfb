//! Scenario 8: the declared-subscription consumer, current-thread runtime.
//!
//! Each round (at most 3): the stream is purged and filled with N ordering events (default
//! 200,000; built by the generated handlers, so with the CloudEvents headers eventmap
//! publishes, pipelined with a window of 1,024, chunk by chunk; not timed). Then, one after
//! the other on that stream (order rotated every round), each with a durable consumer of
//! its own reading from the start, timed from the start of the run to the last ack:
//!
//! * **eventmap**: `Consumer::<OrdersEvent>::run` with the subscription generated from
//!   `fixtures/consumer/mappings.yaml` (`OrdersRouter` over a handler that counts events by
//!   type), its default policy (pull batch 100), with `double_ack(true)` (the default:
//!   every ack waits for the server's confirmation) and `double_ack(false)`;
//! * **raw**: an async-nats pull consumer with the same settings (explicit ack, the same
//!   filters, ack wait and batch), `consumer.stream().max_messages_per_batch(batch).messages()`,
//!   the payload decoded by its `ce-type` header into the ordering example's enum, a typed
//!   `match`, then `double_ack` or a plain `ack`;
//! * **eventmap + inbox**: the confirmed eventmap consumer whose handler goes through
//!   `Inbox::process` with one `INSERT` per event (a fresh schema on `DATABASE_URL`, dropped
//!   after the run);
//! * **eventmap + inbox, batched**: `Consumer::run_with_inbox` with the same `INSERT` as a
//!   `TransactionalHandler`, confirmed acks: a pulled batch (100) per transaction; and the
//!   same with the handler's `handle_batch` writing the batch's rows in one `INSERT ...
//!   SELECT unnest(...)`; and the handler with one `INSERT` per event again, each batch split
//!   into 4 transactions run at the same time (`DeliveryPolicy::inbox_transactions(4)`).
//!
//! The confirmed variants (one round trip per message) and the inbox variants (one PostgreSQL
//! transaction per message, or per batch) read only the first M of the N events (fewer, so
//! that the suite stays within its time): their rates are events per second like the others'.

use std::time::Instant;

use eventmap::nats::{Consumer, ConsumerReport, ConsumerSpec};
use eventmap::postgres::Inbox;
use eventmap::postgres::sqlx::{self, PgPool};
use eventmap_benches::consumer::generated::subscriptions::orders;
use eventmap_benches::consumer::{
    BatchedInboxHandler, Counter, CountingHandler, EVENTS_TABLE, InboxHandler, OrdersEvent,
    OrdersRouter,
};
use eventmap_benches::outbox;
use futures::StreamExt;
use ordering_example::integration_events::OrderIntegrationEvent;

use super::jetstream::consumer::{AckPolicy, PullConsumer, pull};
use super::{Env, Error, RUN_TIMEOUT, Run, rate};

/// The scenario's key in the results.
pub const CONSUMER: &str = "8 consumer";
/// eventmap, the default policy: confirmed acks.
pub const EVENTMAP_CONFIRMED: &str = "eventmap Consumer, double_ack(true) (default)";
/// eventmap, unconfirmed acks.
pub const EVENTMAP_UNCONFIRMED: &str = "eventmap Consumer, double_ack(false)";
/// Raw, confirmed acks.
pub const RAW_DOUBLE: &str = "raw pull messages() + double_ack";
/// Raw, plain acks.
pub const RAW_ACK: &str = "raw pull messages() + ack";
/// eventmap with the inbox.
pub const EVENTMAP_INBOX: &str = "eventmap Consumer + Inbox::process, double_ack(true)";
/// eventmap with the inbox, a batch per transaction, an `INSERT` per event.
pub const EVENTMAP_INBOX_BATCHED: &str = "eventmap Consumer::run_with_inbox, double_ack(true)";
/// eventmap with the inbox, each batch split into [`INBOX_TRANSACTIONS`] transactions run at
/// the same time, an `INSERT` per event.
pub const EVENTMAP_INBOX_PARALLEL: &str =
    "eventmap Consumer::run_with_inbox, inbox_transactions(4), double_ack(true)";
/// eventmap with the inbox, a batch per transaction, one multi-row `INSERT` per batch.
pub const EVENTMAP_INBOX_MULTI_ROW: &str =
    "eventmap Consumer::run_with_inbox + handle_batch (one INSERT), double_ack(true)";

/// Transactions per batch of [`EVENTMAP_INBOX_PARALLEL`] (`DeliveryPolicy::inbox_transactions`).
pub const INBOX_TRANSACTIONS: usize = 4;
/// Events per chunk when filling the stream.
const FILL_CHUNK: usize = 10_000;
/// Prefix of the inbox schemas.
const SCHEMA_PREFIX: &str = "eventmap_bench_inbox";

/// Event counts of one round.
#[derive(Debug, Clone, Copy)]
pub struct Counts {
    /// Events in the stream; read by the unconfirmed variants.
    pub events: usize,
    /// Read by the confirmed variants.
    pub confirmed: usize,
    /// Read by the inbox variant (`Inbox::process`, a transaction per event).
    pub inbox: usize,
    /// Read by the batched inbox variant (`run_with_inbox`, a transaction per batch).
    pub inbox_batched: usize,
}

/// Purges the stream and fills it with `count` messages, chunk by chunk (not timed).
async fn fill(env: &Env, count: usize, first: usize) -> Result<(), Error> {
    env.purge().await?;
    let mut done = 0;
    while done < count {
        let chunk = FILL_CHUNK.min(count - done);
        let messages = super::order_messages(chunk, first + done)?;
        super::raw_publish_pipelined(&env.js, &messages, 1_024).await?;
        done += chunk;
    }
    Ok(())
}

/// The generated subscription under durable name `durable`, its policy with `double_ack`.
fn spec(durable: &str, double_ack: bool) -> ConsumerSpec {
    let policy = orders::spec().delivery().clone().double_ack(double_ack);
    ConsumerSpec::new(durable, orders::EVENTS).policy(policy)
}

/// Runs `consumer` with `handler` until `counter` reached its target; checks the report.
async fn run_until<H>(
    consumer: Consumer<OrdersEvent>,
    handler: &H,
    counter: &Counter,
    count: usize,
) -> Result<ConsumerReport, Error>
where
    H: eventmap::nats::ConsumerHandler<OrdersEvent>,
{
    let report = tokio::time::timeout(RUN_TIMEOUT, consumer.run(handler, counter.done()))
        .await
        .map_err(|_| {
            format!(
                "the consumer handled {} of {count} in {RUN_TIMEOUT:?}",
                counter.total()
            )
        })??;
    check_report(&report, count)?;
    Ok(report)
}

/// All `count` handled, nothing failed.
fn check_report(report: &ConsumerReport, count: usize) -> Result<(), Error> {
    if report.handled != count as u64 || report.failed + report.rejected + report.dead_lettered > 0
    {
        return Err(format!("consumer of {count} events: {report:?}").into());
    }
    Ok(())
}

/// eventmap: the generated router over [`CountingHandler`], `count` events.
pub async fn eventmap(
    env: &Env,
    count: usize,
    durable: &str,
    double_ack: bool,
) -> Result<Run, Error> {
    let consumer = Consumer::<OrdersEvent>::start(&env.js, &spec(durable, double_ack)).await?;
    let counter = Counter::new(count as u64);
    let start = Instant::now();
    run_until(
        consumer,
        &OrdersRouter(CountingHandler(&counter)),
        &counter,
        count,
    )
    .await?;
    if !double_ack {
        env.client.flush().await?;
    }
    let elapsed = start.elapsed();
    check_by_type(counter.by_type(), count)?;
    super::delete_consumer(env, durable).await?;
    Ok(Run {
        rate: rate(count, elapsed),
        p50_us: None,
    })
}

/// The stream holds whole orders, the four events in turn: so does any prefix of it.
fn check_by_type(by_type: [u64; 4], count: usize) -> Result<(), Error> {
    let expected: [u64; 4] = std::array::from_fn(|i| count.saturating_sub(i).div_ceil(4) as u64);
    if by_type != expected {
        return Err(format!("counted {by_type:?} by type, expected {expected:?}").into());
    }
    Ok(())
}

/// Index of an event in [`Counter::by_type`]'s order.
fn type_index(event: &OrderIntegrationEvent) -> usize {
    match event {
        OrderIntegrationEvent::OrderCreatedEvent(_) => 0,
        OrderIntegrationEvent::OrderReadiedEvent(_) => 1,
        OrderIntegrationEvent::OrderCanceledEvent(_) => 2,
        OrderIntegrationEvent::OrderCompletedEvent(_) => 3,
    }
}

/// Raw async-nats: a pull consumer with the settings `Consumer::start` creates, read through
/// `messages()` with the same batch; decode by `ce-type`, typed `match`, ack.
pub async fn raw(env: &Env, count: usize, durable: &str, double_ack: bool) -> Result<Run, Error> {
    let channel = super::ordering::ORDER;
    let policy = orders::spec().delivery().clone();
    let stream = env.js.get_stream(channel.stream).await?;
    let consumer: PullConsumer = stream
        .create_consumer(pull::Config {
            durable_name: Some(durable.to_owned()),
            ack_policy: AckPolicy::Explicit,
            ack_wait: policy.ack_wait,
            max_deliver: -1,
            filter_subjects: orders::EVENTS
                .iter()
                .map(|name| channel.subject_for(name))
                .collect(),
            ..pull::Config::default()
        })
        .await?;
    let mut by_type = [0u64; 4];
    let start = Instant::now();
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(policy.batch)
        .messages()
        .await?;
    for _ in 0..count {
        let message = messages.next().await.ok_or("consumer ended")??;
        let name = message
            .headers
            .as_ref()
            .and_then(|headers| headers.get("ce-type"))
            .map(|value| value.as_str())
            .ok_or("no ce-type header")?;
        // `raw_decode` goes by the last `.` token: the whole name here.
        let event = super::raw_decode(name, &message.payload)?;
        super::handle(&event);
        by_type[type_index(&event)] += 1;
        if double_ack {
            message.double_ack().await?;
        } else {
            message.ack().await?;
        }
    }
    if !double_ack {
        env.client.flush().await?;
    }
    let elapsed = start.elapsed();
    drop(messages);
    check_by_type(by_type, count)?;
    super::delete_consumer(env, durable).await?;
    Ok(Run {
        rate: rate(count, elapsed),
        p50_us: None,
    })
}

/// How the inbox variant handles its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboxMode {
    /// The generated router over [`InboxHandler`]: `Inbox::process` per event.
    PerEvent,
    /// [`BatchedInboxHandler`] under `Consumer::run_with_inbox`, an `INSERT` per event.
    Batched,
    /// The same, each batch split into [`INBOX_TRANSACTIONS`] transactions.
    Parallel,
    /// The same, its `handle_batch` writing a batch's rows in one `INSERT`.
    MultiRow,
}

/// eventmap with the inbox: a fresh schema (the inbox's migrations, not timed), `count`
/// events, confirmed acks, handled as `mode` says; checks that `count` rows were written;
/// drops the schema.
pub async fn inbox(
    env: &Env,
    pool: &PgPool,
    count: usize,
    durable: &str,
    mode: InboxMode,
) -> Result<Run, Error> {
    let schema = format!(
        "{SCHEMA_PREFIX}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let result = inbox_in(env, pool, &schema, count, durable, mode).await;
    outbox::drop_schema(pool, &schema).await?;
    result
}

async fn inbox_in(
    env: &Env,
    pool: &PgPool,
    schema: &str,
    count: usize,
    durable: &str,
    mode: InboxMode,
) -> Result<Run, Error> {
    let inbox = Inbox::new(pool.clone(), schema).await?;
    let counter = Counter::new(count as u64);
    let mut spec = spec(durable, true);
    if mode == InboxMode::Parallel {
        let policy = spec
            .delivery()
            .clone()
            .inbox_transactions(INBOX_TRANSACTIONS);
        spec = spec.policy(policy);
    }
    let consumer = Consumer::<OrdersEvent>::start(&env.js, &spec).await?;
    let start = if mode != InboxMode::PerEvent {
        let handler =
            BatchedInboxHandler::new(&inbox, &counter, mode == InboxMode::MultiRow).await?;
        let start = Instant::now();
        let report = tokio::time::timeout(
            RUN_TIMEOUT,
            consumer.run_with_inbox(&inbox, &handler, counter.done()),
        )
        .await
        .map_err(|_| {
            format!(
                "the consumer handled {} of {count} in {RUN_TIMEOUT:?}",
                counter.total()
            )
        })??;
        check_report(&report, count)?;
        start
    } else {
        let handler = InboxHandler::new(&inbox, &counter, durable).await?;
        let start = Instant::now();
        run_until(consumer, &OrdersRouter(handler), &counter, count).await?;
        start
    };
    let elapsed = start.elapsed();
    check_by_type(counter.by_type(), count)?;
    super::delete_consumer(env, durable).await?;
    let written: i64 =
        sqlx::query_scalar(&format!("SELECT count(*) FROM \"{schema}\".{EVENTS_TABLE}"))
            .fetch_one(pool)
            .await?;
    let recorded: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM \"{schema}\".eventmap_inbox WHERE consumer = $1"
    ))
    .bind(durable)
    .fetch_one(pool)
    .await?;
    if written != count as i64 || recorded != count as i64 {
        return Err(format!(
            "inbox: {written} rows written and {recorded} ids recorded for {count} events"
        )
        .into());
    }
    Ok(Run {
        rate: rate(count, elapsed),
        p50_us: None,
    })
}

/// One round: fills the stream with `counts.events` events from order `first`, then runs
/// the variants in turn (rotated by `round`); the inbox one only with a `pool`.
pub async fn round(
    env: &Env,
    pool: Option<&PgPool>,
    counts: Counts,
    first: usize,
    round: usize,
) -> Result<Vec<(&'static str, Run)>, Error> {
    let filling = Instant::now();
    fill(env, counts.events, first).await?;
    eprintln!(
        "  (stream filled with {} events in {:.1} s)",
        counts.events,
        filling.elapsed().as_secs_f64()
    );
    let mut variants = vec![
        EVENTMAP_CONFIRMED,
        RAW_DOUBLE,
        EVENTMAP_UNCONFIRMED,
        RAW_ACK,
    ];
    if pool.is_some() {
        variants.extend([
            EVENTMAP_INBOX,
            EVENTMAP_INBOX_BATCHED,
            EVENTMAP_INBOX_PARALLEL,
            EVENTMAP_INBOX_MULTI_ROW,
        ]);
    }
    let mut runs = Vec::new();
    for (index, variant) in super::rotated(&variants, round).into_iter().enumerate() {
        let durable = format!("bench-consumer-{round}-{index}");
        let run = async {
            match (variant, pool) {
                (EVENTMAP_CONFIRMED, _) => eventmap(env, counts.confirmed, &durable, true).await,
                (EVENTMAP_UNCONFIRMED, _) => eventmap(env, counts.events, &durable, false).await,
                (RAW_DOUBLE, _) => raw(env, counts.confirmed, &durable, true).await,
                (RAW_ACK, _) => raw(env, counts.events, &durable, false).await,
                (EVENTMAP_INBOX, Some(pool)) => {
                    inbox(env, pool, counts.inbox, &durable, InboxMode::PerEvent).await
                }
                (EVENTMAP_INBOX_BATCHED, Some(pool)) => {
                    let count = counts.inbox_batched;
                    inbox(env, pool, count, &durable, InboxMode::Batched).await
                }
                (EVENTMAP_INBOX_PARALLEL, Some(pool)) => {
                    let count = counts.inbox_batched;
                    inbox(env, pool, count, &durable, InboxMode::Parallel).await
                }
                (_, Some(pool)) => {
                    let count = counts.inbox_batched;
                    inbox(env, pool, count, &durable, InboxMode::MultiRow).await
                }
                (other, None) => Err(format!("{other} needs PostgreSQL").into()),
            }
        };
        let run = tokio::time::timeout(RUN_TIMEOUT, run)
            .await
            .map_err(|_| format!("{variant}: run exceeded {RUN_TIMEOUT:?}"))??;
        runs.push((variant, run));
    }
    Ok(runs)
}

/// The peak-memory role: eventmap's consumer over the `count` events in the stream,
/// unconfirmed acks (as the other consumer roles).
pub async fn memory_child(env: &Env, count: usize) -> Result<(), Error> {
    eventmap(env, count, "bench-memory-consumer", false).await?;
    Ok(())
}

/// Scenario 8's raw side as a role of its own (for `benches/profile-consumer.sh`): a raw pull
/// consumer through `messages()` over the `count` events in the stream, plain acks.
pub async fn memory_child_raw(env: &Env, count: usize) -> Result<(), Error> {
    raw(env, count, "bench-memory-raw-consumer", false).await?;
    Ok(())
}
