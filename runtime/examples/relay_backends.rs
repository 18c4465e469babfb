//! The outbox relay's throughput on each backend, in one run: an outbox of `EVENTS` rows
//! (default 20,000: 200 counters, 50 events per transaction, 4 writers; not timed) drained by
//! `Relay::run` with the default `RelayConfig` to a private `nats-server -js`, timed from the
//! start of `run` until its counters show every row acknowledged and marked; Postgres
//! (`DATABASE_URL`, default the machine's `test` database, a schema of its own, dropped) and
//! SQLite (a file in a temporary directory) in turn, the order swapped each round.
//!
//! ```sh
//! flock /tmp/eventmap-cargo.lock cargo run --release -p eventmap --example relay_backends \
//!     --features "postgres sqlite test-util" -- [EVENTS] [ROUNDS]
//! ```

#[path = "../tests/counter/mod.rs"]
mod counter;

use std::sync::Arc;
use std::time::{Duration, Instant};

use counter::{COUNTER, append_increments, register_integration_event_handlers, registry};
use eventmap::EventDispatcher;
use eventmap::nats::async_nats::{self, jetstream::Context};
use eventmap::nats::{JetStreamPublisher, provision_streams};
use eventmap::postgres::{PostgresStore, RelayConfig, RelayStats};
use eventmap::sqlite::SqliteStore;
use eventmap::test_util::LocalServer;

const AGGREGATES: usize = 200;

/// One backend's figures of a round.
struct Figures {
    append_per_s: f64,
    relay_per_s: f64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let events: usize = args.next().map_or(Ok(20_000), |a| a.parse())?;
    let rounds: usize = args.next().map_or(Ok(2), |a| a.parse())?;
    let per_aggregate = (events / AGGREGATES).max(1);
    let events = per_aggregate * AGGREGATES;
    let server = LocalServer::start().await?;
    let jetstream = async_nats::jetstream::new(async_nats::connect(server.url()).await?);
    provision_streams(&jetstream, &[COUNTER]).await?;
    let database_url = std::env::var("DATABASE_URL")
        .ok()
        .filter(|v| v.starts_with("postgres"))
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_owned());

    let mut postgres = Vec::new();
    let mut sqlite = Vec::new();
    for round in 0..rounds {
        for on_sqlite in if round % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        } {
            purge(&jetstream).await?;
            let figures = if on_sqlite {
                on_sqlite_file(&jetstream, per_aggregate).await?
            } else {
                on_postgres(&jetstream, &database_url, per_aggregate).await?
            };
            let stored = jetstream
                .get_stream(COUNTER.stream)
                .await?
                .info()
                .await?
                .state
                .messages;
            assert_eq!(stored, events as u64, "every event once in the stream");
            eprintln!(
                "round {round} {}: append {:.0} events/s, relay {:.0} events/s",
                if on_sqlite { "sqlite" } else { "postgres" },
                figures.append_per_s,
                figures.relay_per_s
            );
            if on_sqlite {
                &mut sqlite
            } else {
                &mut postgres
            }
            .push(figures);
        }
    }
    let median = |figures: &[Figures], f: fn(&Figures) -> f64| {
        let mut values: Vec<f64> = figures.iter().map(f).collect();
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let (pg_relay, lite_relay) = (
        median(&postgres, |f| f.relay_per_s),
        median(&sqlite, |f| f.relay_per_s),
    );
    let (pg_append, lite_append) = (
        median(&postgres, |f| f.append_per_s),
        median(&sqlite, |f| f.append_per_s),
    );
    println!(
        "| {events} events, {rounds} rounds, median | Postgres | SQLite | SQLite / Postgres |"
    );
    println!("|---|---|---|---|");
    println!(
        "| relay, events/s | {pg_relay:.0} | {lite_relay:.0} | {:.2} |",
        lite_relay / pg_relay
    );
    println!(
        "| append through the store (50 events a transaction, 4 writers), events/s | {pg_append:.0} | {lite_append:.0} | {:.2} |",
        lite_append / pg_append
    );
    Ok(())
}

async fn purge(jetstream: &Context) -> Result<(), Box<dyn std::error::Error>> {
    jetstream.get_stream(COUNTER.stream).await?.purge().await?;
    Ok(())
}

fn outbox() -> EventDispatcher {
    let mut dispatcher = EventDispatcher::new();
    register_integration_event_handlers(
        &mut dispatcher,
        eventmap::postgres::OutboxWriter::shared(),
    );
    dispatcher
}

/// Fills the outbox through `store` and times it.
async fn fill<S>(store: &S, per_aggregate: usize) -> f64
where
    S: eventmap::AggregateStore<counter::Counter> + Clone + 'static,
{
    let started = Instant::now();
    append_increments(store, AGGREGATES, per_aggregate, 50, 4).await;
    (AGGREGATES * per_aggregate) as f64 / started.elapsed().as_secs_f64()
}

/// Times a relay from its start until `stats` shows `events` rows acknowledged and marked.
async fn time_drain(events: usize, stats: impl Fn() -> RelayStats) -> f64 {
    let started = Instant::now();
    while stats().published < events as u64 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    events as f64 / started.elapsed().as_secs_f64()
}

async fn on_postgres(
    jetstream: &Context,
    database_url: &str,
    per_aggregate: usize,
) -> Result<Figures, Box<dyn std::error::Error>> {
    let pool = eventmap::postgres::sqlx::postgres::PgPoolOptions::new()
        .max_connections(8)
        .connect(database_url)
        .await?;
    let schema = format!(
        "em_bench_lite_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let store = PostgresStore::builder(pool.clone())
        .schema(schema.clone())
        .registry(registry())
        .outbox(outbox())
        .build()
        .await?;
    let append_per_s = fill(&store, per_aggregate).await;
    let relay = eventmap::postgres::Relay::new(
        pool.clone(),
        Arc::new(JetStreamPublisher::new(jetstream.clone())),
        RelayConfig::default().schema(schema.clone()),
    )
    .await?;
    let running = relay.spawn();
    let relay_per_s = time_drain(AGGREGATES * per_aggregate, || relay.stats()).await;
    running.stop().await?;
    eventmap::postgres::sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .execute(&pool)
        .await?;
    pool.close().await;
    Ok(Figures {
        append_per_s,
        relay_per_s,
    })
}

async fn on_sqlite_file(
    jetstream: &Context,
    per_aggregate: usize,
) -> Result<Figures, Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let pool = eventmap::sqlite::connect(&url).await?;
    let store = SqliteStore::builder(pool.clone())
        .registry(registry())
        .outbox(outbox())
        .build()
        .await?;
    let append_per_s = fill(&store, per_aggregate).await;
    let relay = eventmap::sqlite::Relay::new(
        pool.clone(),
        Arc::new(JetStreamPublisher::new(jetstream.clone())),
        RelayConfig::default(),
    )
    .await?;
    let running = relay.spawn();
    let relay_per_s = time_drain(AGGREGATES * per_aggregate, || relay.stats()).await;
    running.stop().await?;
    pool.close().await;
    Ok(Figures {
        append_per_s,
        relay_per_s,
    })
}
