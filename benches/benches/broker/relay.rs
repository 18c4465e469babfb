//! Scenarios 5 to 7: the outbox relay, PostgreSQL to JetStream (`eventmap::postgres::Relay`).
//!
//! 5. **relay throughput**: a fresh schema per round (`eventmap_bench_<random>` in
//!    `DATABASE_URL`, default the `postgres` database on 127.0.0.1:5432), its outbox filled
//!    with N events through the store API (`StoreTransaction::append`, whole orders, 500
//!    events per transaction, 3 writers; not timed); then, in turn (order rotated every round), the
//!    relay (`Relay::run`, default settings, `JetStreamPublisher`) drains it, timed from the
//!    start of `run` until its counters show N rows acknowledged *and marked published*
//!    (committed), and raw async-nats pipelines the same N messages (read back from the
//!    outbox: same subjects, payloads and headers, a new `Nats-Msg-Id` each so JetStream does
//!    not drop them as duplicates of the relay's) with the relay's `max_in_flight` as its
//!    window. The stream is purged before each; the schema dropped after the round.
//! 6. **latency**: after a `CHECKPOINT`, a producer appends one event per transaction at a
//!    steady rate (one event per millisecond by default, up to 16 transactions at once) to
//!    orders spread so that one order's events are seconds apart; a relay and a consumer (`Consumer::deliveries`, `ack_unconfirmed`) run on
//!    threads of their own (current-thread runtimes, as separate processes would); latency
//!    is the consumer's receipt minus the moment the producer issued its `COMMIT` (an upper
//!    bound: it includes the commit's own time, reported beside it), both from
//!    the same monotonic clock (matched by aggregate id and version: the commit time is only
//!    known at the commit, after the event was written, so it cannot travel in the event).
//! 7. **relay memory**: a child process runs the relay over N rows filled beforehand.
//! 9. **several relays**: 1, 2 and 3 relays (order rotated every round) drain one outbox of N
//!    events filled as in 5 (a fresh schema each), each relay on a thread of its own with a
//!    current-thread runtime, its own NATS connection and its own pool of 4 connections, as
//!    separate `eventmap-relay` processes would; timed from the moment every relay is built
//!    until their counters add up to N rows acknowledged and marked published. Checked
//!    afterwards: no unpublished row, no duplicate, N messages in the stream.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use eventmap::nats::{Consumer, ConsumerSpec};
use eventmap::postgres::sqlx::PgPool;
use eventmap::postgres::{Relay, RelayConfig};
use eventmap_benches::outbox::{self, BenchOrder, OutboxDb};
use eventmap_benches::stats::percentile;
use ordering_example::integration_events::OrderIntegrationEvent;

use super::{Env, Error, RUN_TIMEOUT, Run, rate, raw_publish_pipelined, rotated};

/// Events per transaction when filling the outbox.
const FILL_PER_TRANSACTION: usize = 500;
/// Transactions filling the outbox at once (the pool has 4 connections).
const FILL_WRITERS: usize = 3;
/// Prefix of the benchmark's schemas.
const SCHEMA_PREFIX: &str = "eventmap_bench";

/// Variant names of scenario 5.
pub const RELAY_EVENTMAP: &str = "eventmap Relay::run (outbox -> JetStream)";
/// The baseline of scenario 5.
pub const RELAY_RAW: &str = "raw pipelined, same messages and window";

/// Variant names of scenario 9, by the number of relays (index + 1).
pub const RELAYS: [&str; 3] = ["1 relay", "2 relays", "3 relays"];

/// The relay's settings in every scenario: the defaults.
pub fn relay_config() -> RelayConfig {
    RelayConfig::default()
}

/// Runs `relay` until its counters show `count` rows acknowledged and marked published, or
/// fails after [`RUN_TIMEOUT`]. Returns the time from the start of `Relay::run`.
async fn run_until_published(relay: &Relay, count: usize) -> Result<Duration, Error> {
    let start = Instant::now();
    let running = relay.spawn();
    let outcome = loop {
        let stats = relay.stats();
        if stats.published + stats.duplicates >= count as u64 {
            break Ok(start.elapsed());
        }
        if running.is_finished() {
            break Err("the relay stopped".into());
        }
        if start.elapsed() > RUN_TIMEOUT {
            break Err(format!(
                "the relay published {} of {count} rows in {RUN_TIMEOUT:?}",
                stats.published
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    running.stop().await?;
    outcome
}

/// Scenario 5 for one round: the relay and the raw baseline over `n` events each.
pub async fn relay_round(
    env: &Env,
    pool: &PgPool,
    n: usize,
    first: usize,
    round: usize,
) -> Result<[(&'static str, Run); 2], Error> {
    let db = OutboxDb::create(pool.clone(), SCHEMA_PREFIX).await?;
    let result = relay_round_in(env, &db, n, first, round).await;
    db.drop_schema().await?;
    result
}

async fn relay_round_in(
    env: &Env,
    db: &OutboxDb,
    n: usize,
    first: usize,
    round: usize,
) -> Result<[(&'static str, Run); 2], Error> {
    let filling = Instant::now();
    db.fill(n, first, FILL_PER_TRANSACTION, FILL_WRITERS)
        .await?;
    let messages = db.messages().await?;
    eprintln!(
        "  (outbox {} filled with {n} events in {:.1} s)",
        db.schema(),
        filling.elapsed().as_secs_f64()
    );
    let config = relay_config();
    let window = config.max_in_flight;
    let mut relayed = None;
    let mut raw = None;
    for variant in rotated(&[RELAY_EVENTMAP, RELAY_RAW], round) {
        env.purge().await?;
        if variant == RELAY_EVENTMAP {
            let relay = db
                .relay(Arc::new(env.publisher.clone()), config.clone())
                .await?;
            let elapsed = run_until_published(&relay, n).await?;
            let stats = relay.stats();
            let left = db.unpublished().await?;
            if stats.duplicates > 0 || left > 0 {
                return Err(format!(
                    "relay: {} duplicates, {left} rows left unpublished",
                    stats.duplicates
                )
                .into());
            }
            eprintln!(
                "  (relay: {} rounds for {n} rows, {} failures)",
                stats.rounds, stats.failures
            );
            relayed = Some(Run {
                rate: rate(n, elapsed),
                p50_us: None,
            });
        } else {
            let start = Instant::now();
            raw_publish_pipelined(&env.js, &messages, window).await?;
            raw = Some(Run {
                rate: rate(n, start.elapsed()),
                p50_us: None,
            });
        }
        let stored = stored_messages(env).await?;
        if stored != n as u64 {
            return Err(
                format!("{variant}: the stream holds {stored} messages, expected {n}").into(),
            );
        }
    }
    match (relayed, raw) {
        (Some(relayed), Some(raw)) => Ok([(RELAY_EVENTMAP, relayed), (RELAY_RAW, raw)]),
        _ => Err("a relay variant did not run".into()),
    }
}

/// Scenario 9 for one round: 1, 2 and 3 relays over `n` events each (an outbox of their own).
pub async fn relays_round(
    env: &Env,
    url: &str,
    pool: &PgPool,
    n: usize,
    first: usize,
    round: usize,
) -> Result<Vec<(&'static str, Run)>, Error> {
    let mut runs = Vec::new();
    for variant in rotated(&RELAYS, round) {
        let relays = RELAYS.iter().position(|v| *v == variant).unwrap_or(0) + 1;
        let db = OutboxDb::create(pool.clone(), SCHEMA_PREFIX).await?;
        let result = async {
            db.fill(n, first + runs.len() * n, FILL_PER_TRANSACTION, FILL_WRITERS)
                .await?;
            env.purge().await?;
            let run = several_relays(url, &db, relays, n).await?;
            let left = db.unpublished().await?;
            let stored = stored_messages(env).await?;
            if left > 0 || stored != n as u64 {
                return Err(Error::from(format!(
                    "{variant}: {left} rows left unpublished, {stored} of {n} messages in the stream"
                )));
            }
            Ok(run)
        }
        .await;
        db.drop_schema().await?;
        runs.push((variant, result?));
    }
    Ok(runs)
}

/// `relays` relays on threads of their own drain the outbox of `db` (`n` rows).
async fn several_relays(url: &str, db: &OutboxDb, relays: usize, n: usize) -> Result<Run, Error> {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let done: Arc<Vec<AtomicU64>> = Arc::new((0..relays).map(|_| AtomicU64::new(0)).collect());
    let duplicates = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let go = Arc::new(tokio::sync::Notify::new());
    let (ready_tx, mut ready) = tokio::sync::mpsc::channel::<()>(relays);
    let mut threads = Vec::new();
    for index in 0..relays {
        let (url, schema) = (url.to_owned(), db.schema().to_owned());
        let (done, duplicates, stop, go, ready_tx) = (
            done.clone(),
            duplicates.clone(),
            stop.clone(),
            go.clone(),
            ready_tx.clone(),
        );
        threads.push(on_thread(
            &format!("bench-relay-{index}"),
            move || async move {
                let relay = own_relay(&url, schema).await?;
                let started = go.notified();
                ready_tx.send(()).await.map_err(|_| "the bench stopped")?;
                started.await;
                let running = relay.spawn();
                while !stop.load(Ordering::Acquire) && !running.is_finished() {
                    done[index].store(relay.stats().published, Ordering::Release);
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                running.stop().await?;
                let stats = relay.stats();
                done[index].store(stats.published, Ordering::Release);
                duplicates.fetch_add(stats.duplicates, Ordering::AcqRel);
                Ok(())
            },
        )?);
    }
    drop(ready_tx);
    for _ in 0..relays {
        ready.recv().await.ok_or("a relay did not start")?;
    }
    let start = Instant::now();
    go.notify_waiters();
    let outcome = loop {
        let published: u64 = done.iter().map(|d| d.load(Ordering::Acquire)).sum();
        if published >= n as u64 {
            break Ok(start.elapsed());
        }
        if start.elapsed() > RUN_TIMEOUT {
            break Err(Error::from(format!(
                "{relays} relays published {published} of {n} rows in {RUN_TIMEOUT:?}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    stop.store(true, Ordering::Release);
    for thread in threads {
        join(thread)?;
    }
    let elapsed = outcome?;
    let duplicates = duplicates.load(Ordering::Acquire);
    if duplicates > 0 {
        return Err(format!("{relays} relays: {duplicates} duplicates").into());
    }
    Ok(Run {
        rate: rate(n, elapsed),
        p50_us: None,
    })
}

/// Messages in the order channel's stream.
async fn stored_messages(env: &Env) -> Result<u64, Error> {
    let stream = env.js.get_stream(super::ordering::ORDER.stream).await?;
    Ok(stream.cached_info().state.messages)
}

/// A relay over the outbox in `schema` with connections of its own (NATS at `url`, a pool of
/// 4 Postgres connections), as an `eventmap-relay` process has; built on the calling runtime.
async fn own_relay(url: &str, schema: String) -> Result<Relay, Error> {
    let env = Env::connect(url).await?;
    let pool = outbox::connect(4).await?;
    Ok(Relay::new(
        pool,
        Arc::new(env.publisher.clone()),
        relay_config().schema(schema),
    )
    .await?)
}

/// What scenario 6 measured.
#[derive(Debug, Clone)]
pub struct Latency {
    /// Events appended (one per transaction).
    pub events: usize,
    /// The rate asked for, events/s.
    pub target_rate: f64,
    /// Events over the time from the first scheduled append to the last commit.
    pub achieved_rate: f64,
    /// Median latency, ms.
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Maximum, ms.
    pub max_ms: f64,
    /// Median time of the `COMMIT` call itself, ms (included in the latencies).
    pub commit_p50_ms: f64,
    /// Events the consumer received before the producer saw its commit return.
    pub before_commit: usize,
}

/// A thread with a current-thread runtime of its own running `work`.
fn on_thread<T: Send + 'static, F>(
    name: &str,
    work: impl FnOnce() -> F + Send + 'static,
) -> Result<std::thread::JoinHandle<Result<T, Error>>, Error>
where
    F: Future<Output = Result<T, Error>>,
{
    Ok(std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let rt = super::runtime(super::Flavor::CurrentThread)?;
            rt.block_on(async { tokio::time::timeout(RUN_TIMEOUT, work()).await? })
        })?)
}

fn join<T>(handle: std::thread::JoinHandle<Result<T, Error>>) -> Result<T, Error> {
    handle
        .join()
        .map_err(|_| Error::from("a latency thread panicked"))?
}

/// Scenario 6: `rate` events/s for `seconds`, appended on the calling runtime (the
/// control runtime), relayed and consumed on threads of their own.
pub async fn latency(url: &str, rate: f64, seconds: f64) -> Result<Latency, Error> {
    let events = ((rate * seconds).round() as usize).max(1);
    // The producer's own pool: appends overlap when a commit takes longer than a period.
    let pool = outbox::connect(16).await?;
    // Flush what earlier scenarios left dirty (their fills), so that it is not written
    // during this measurement. Needs a superuser or pg_checkpoint; skipped otherwise.
    if let Err(err) = eventmap::postgres::sqlx::query("CHECKPOINT")
        .execute(&pool)
        .await
    {
        eprintln!("  (no CHECKPOINT before the latency run: {err})");
    }
    let db = OutboxDb::create(pool.clone(), SCHEMA_PREFIX).await?;
    let result = latency_in(url, &db, events, rate).await;
    db.drop_schema().await?;
    pool.close().await;
    result
}

async fn latency_in(url: &str, db: &OutboxDb, events: usize, rate: f64) -> Result<Latency, Error> {
    Env::connect(url).await?.purge().await?;
    // The consumer: ready before anything is appended.
    let (ready, consumer_ready) = tokio::sync::oneshot::channel::<()>();
    let consumer = on_thread("bench-consumer", {
        let url = url.to_owned();
        move || async move {
            let env = Env::connect(&url).await?;
            let spec = ConsumerSpec::new("bench-latency", &[]);
            let mut deliveries = Consumer::<OrderIntegrationEvent>::start(&env.js, &spec)
                .await?
                .deliveries();
            let _ = ready.send(());
            let mut received = Vec::with_capacity(events);
            while received.len() < events {
                let delivery = deliveries.next().await.ok_or("deliveries ended")??;
                received.push((
                    delivery.aggregate_id().to_owned(),
                    delivery.aggregate_version,
                    Instant::now(),
                ));
                delivery.ack_unconfirmed().await?;
            }
            env.client.flush().await?;
            Ok(received)
        }
    })?;
    consumer_ready
        .await
        .map_err(|_| "the consumer did not start")?;
    // The relay.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let relay = on_thread("bench-relay", {
        let url = url.to_owned();
        let schema = db.schema().to_owned();
        move || async move {
            let relay = own_relay(&url, schema).await?;
            relay
                .run(async {
                    let _ = stopped.await;
                })
                .await?;
            Ok(relay.stats())
        }
    })?;
    // The producer, here: event i at start + i / rate, on order i % orders, version
    // i / orders + 1 (one order's events are `orders / rate` seconds apart).
    let orders = events.div_ceil(4);
    let period = Duration::from_secs_f64(1.0 / rate);
    let start = tokio::time::Instant::now() + Duration::from_millis(200);
    let mut appends = tokio::task::JoinSet::new();
    for i in 0..events {
        tokio::time::sleep_until(start + period * i as u32).await;
        let store = db.store().clone();
        appends.spawn(async move {
            let id = format!("latency-{}", i % orders);
            let version = (i / orders) as u64;
            let mut order = BenchOrder::restored(&id, version);
            order.record_next();
            let mut tx = store.begin().await?;
            tx.append(&order).await?;
            let committing = Instant::now();
            tx.commit().await?;
            let committed = Instant::now();
            Ok::<_, Error>(((id, version + 1), (committing, committed)))
        });
    }
    let mut commits = HashMap::with_capacity(events);
    while let Some(append) = appends.join_next().await {
        let (key, at) = append??;
        commits.insert(key, at);
    }
    let last_commit = commits.values().map(|(_, end)| *end).max();
    let produced = last_commit.map_or(Duration::ZERO, |last| {
        last.saturating_duration_since(start.into_std())
    });
    let received = tokio::task::spawn_blocking(move || join(consumer)).await??;
    let _ = stop.send(());
    let stats = tokio::task::spawn_blocking(move || join(relay)).await??;
    eprintln!(
        "  (latency relay: {} rounds, {} published, {} failures)",
        stats.rounds, stats.published, stats.failures
    );
    let mut before_commit = 0;
    let mut latencies = Vec::with_capacity(received.len());
    let mut commit_calls: Vec<f64> = commits
        .values()
        .map(|(start, end)| (*end - *start).as_secs_f64() * 1e3)
        .collect();
    for (aggregate, version, at) in &received {
        let (committing, committed) = commits
            .get(&(aggregate.clone(), *version))
            .ok_or_else(|| format!("received {aggregate} v{version}, never committed"))?;
        if at < committed {
            before_commit += 1;
        }
        latencies.push(at.saturating_duration_since(*committing).as_secs_f64() * 1e3);
    }
    latencies.sort_by(f64::total_cmp);
    commit_calls.sort_by(f64::total_cmp);
    Ok(Latency {
        events,
        target_rate: rate,
        achieved_rate: events as f64 / produced.as_secs_f64().max(1e-9),
        p50_ms: percentile(&latencies, 50.0).unwrap_or(f64::NAN),
        p99_ms: percentile(&latencies, 99.0).unwrap_or(f64::NAN),
        max_ms: latencies.last().copied().unwrap_or(f64::NAN),
        commit_p50_ms: percentile(&commit_calls, 50.0).unwrap_or(f64::NAN),
        before_commit,
    })
}

/// Scenario 7, parent side: fills a fresh schema with `count` events (not timed) and
/// returns it for the child to drain.
pub async fn memory_fill(pool: &PgPool, count: usize) -> Result<OutboxDb, Error> {
    let db = OutboxDb::create(pool.clone(), SCHEMA_PREFIX).await?;
    if let Err(err) = db
        .fill(count, 2_000_000, FILL_PER_TRANSACTION, FILL_WRITERS)
        .await
    {
        db.drop_schema().await?;
        return Err(err.into());
    }
    Ok(db)
}

/// Scenario 7, child side: the relay over the `count` rows of `schema`, until all are
/// marked published.
pub async fn memory_child_relay(env: &Env, schema: &str, count: usize) -> Result<(), Error> {
    let pool = outbox::connect(4).await?;
    let relay = Relay::new(
        pool,
        Arc::new(env.publisher.clone()),
        relay_config().schema(schema),
    )
    .await?;
    run_until_published(&relay, count).await?;
    Ok(())
}
