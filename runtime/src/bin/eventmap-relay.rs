//! `eventmap-relay`: publishes the eventmap outbox of a PostgreSQL schema to NATS JetStream,
//! until SIGTERM or Ctrl-C (feature `relay-bin`).
//!
//! Several may run at once on one outbox. Configured by environment variables (see
//! [`USAGE`]); logs go to stderr (`RUST_LOG`, default `info`).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use eventmap::BoxError;
use eventmap::nats::JetStreamPublisher;
use eventmap::nats::async_nats;
use eventmap::postgres::sqlx::postgres::PgPoolOptions;
use eventmap::postgres::{DEFAULT_SCHEMA, Relay, RelayConfig};
use tracing_subscriber::EnvFilter;

/// What `--help` prints.
const USAGE: &str = "\
eventmap-relay: publishes an eventmap outbox (PostgreSQL) to NATS JetStream.

Environment:
  DATABASE_URL                PostgreSQL URL (default postgres://postgres@127.0.0.1:5432/postgres)
  NATS_URL                    NATS URL (default nats://127.0.0.1:4222); nats://user:password@host:port
                              connects as that user
  EVENTMAP_SCHEMA             schema of the outbox (default eventmap)
  EVENTMAP_STREAMS            comma-separated JetStream streams whose duplicate window is checked
                              against the relay's retry horizon at start (default none)
  EVENTMAP_RELAY_BATCH        rows per round (default 500)
  EVENTMAP_RELAY_IN_FLIGHT    publishes awaiting their ack at once (default 256)
  EVENTMAP_RELAY_POLL_MS      polling interval without notifications, ms (default 1000)
  EVENTMAP_RELAY_MAX_BACKOFF_MS  backoff cap while the broker is away, ms (default 10000)
  RUST_LOG                    log filter (default info)

Runs until SIGTERM or Ctrl-C; exits 2 when it cannot start.
";

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    if std::env::args()
        .skip(1)
        .any(|arg| arg == "--help" || arg == "-h")
    {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "eventmap-relay cannot run");
            eprintln!("eventmap-relay: {err}");
            ExitCode::from(2)
        }
    }
}

fn var(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|value| !value.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

fn number<T: std::str::FromStr>(name: &str, default: T) -> Result<T, BoxError> {
    match std::env::var(name).ok().filter(|value| !value.is_empty()) {
        None => Ok(default),
        Some(text) => text
            .trim()
            .parse()
            .map_err(|_| format!("{name}={text:?} is not a valid number").into()),
    }
}

async fn run() -> Result<(), BoxError> {
    let database_url = var(
        "DATABASE_URL",
        "postgres://postgres@127.0.0.1:5432/postgres",
    );
    let nats_url = var("NATS_URL", "nats://127.0.0.1:4222");
    let config = RelayConfig::default()
        .schema(var("EVENTMAP_SCHEMA", DEFAULT_SCHEMA))
        .batch_size(number("EVENTMAP_RELAY_BATCH", 500)?)
        .max_in_flight(number("EVENTMAP_RELAY_IN_FLIGHT", 256)?)
        .poll_interval(Duration::from_millis(number(
            "EVENTMAP_RELAY_POLL_MS",
            1000,
        )?))
        .backoff(
            Duration::from_millis(100),
            Duration::from_millis(number("EVENTMAP_RELAY_MAX_BACKOFF_MS", 10_000)?),
        );
    let streams: Vec<String> = var("EVENTMAP_STREAMS", "")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();

    let pool = PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(10))
        .connect(&database_url)
        .await
        .map_err(|err| format!("cannot connect to PostgreSQL: {err}"))?;
    // Starts even while the broker is away: the client keeps reconnecting, the relay
    // keeps retrying.
    let client = eventmap::nats::connect_options(&nats_url)
        .retry_on_initial_connect()
        .connect(&nats_url)
        .await
        .map_err(|err| format!("cannot connect to NATS at {nats_url}: {err}"))?;
    let jetstream = async_nats::jetstream::new(client);
    let relay = Relay::new(
        pool,
        Arc::new(JetStreamPublisher::new(jetstream.clone())),
        config,
    )
    .await?;
    if !streams.is_empty() {
        let check = relay.check_duplicate_windows(&jetstream, &streams);
        if tokio::time::timeout(Duration::from_secs(10), check)
            .await
            .is_err()
        {
            tracing::warn!("duplicate window check timed out (broker away?)");
        }
    }
    relay.run(shutdown()).await?;
    Ok(())
}

/// Completes on SIGTERM or Ctrl-C.
async fn shutdown() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
