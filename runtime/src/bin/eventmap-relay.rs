//! `eventmap-relay`: publishes the eventmap outbox of a PostgreSQL schema to NATS JetStream,
//! until SIGTERM or Ctrl-C (feature `relay-bin`).
//!
//! Several may run at once on one outbox. Configured by flags or environment variables
//! (`--help`; NATS connection settings as in `eventmap::nats::connect`); logs go to stderr
//! (`RUST_LOG`, default `info`).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use eventmap::BoxError;
use eventmap::nats::JetStreamPublisher;
use eventmap::nats::async_nats;
use eventmap::nats::connect::{ConnectArgs, connect};
use eventmap::postgres::sqlx::postgres::PgPoolOptions;
use eventmap::postgres::{DEFAULT_RETENTION, DEFAULT_SCHEMA, Relay, RelayConfig};
use eventmap::redact::redact_url;
use tracing_subscriber::EnvFilter;

/// eventmap-relay: publishes an eventmap outbox (PostgreSQL) to NATS JetStream.
///
/// Runs until SIGTERM or Ctrl-C; exits 2 when it cannot start. Logs go to stderr (RUST_LOG,
/// default info).
#[derive(Debug, Parser)]
#[command(name = "eventmap-relay", version)]
struct Cli {
    /// PostgreSQL URL (sslmode=disable|prefer|require|verify-ca|verify-full in the query)
    #[arg(
        long,
        env = "DATABASE_URL",
        hide_env_values = true,
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    database_url: String,
    /// Schema of the outbox
    #[arg(long, env = "EVENTMAP_SCHEMA", default_value = DEFAULT_SCHEMA)]
    schema: String,
    /// Comma-separated JetStream streams whose duplicate window is checked against the
    /// relay's retry horizon at start
    #[arg(
        long,
        env = "EVENTMAP_STREAMS",
        value_delimiter = ',',
        default_value = ""
    )]
    streams: Vec<String>,
    /// Rows per round
    #[arg(long, env = "EVENTMAP_RELAY_BATCH", default_value_t = 500)]
    batch: u32,
    /// Publishes awaiting their ack at once
    #[arg(long, env = "EVENTMAP_RELAY_IN_FLIGHT", default_value_t = 256)]
    in_flight: usize,
    /// Polling interval without notifications, ms
    #[arg(long, env = "EVENTMAP_RELAY_POLL_MS", default_value_t = 1000)]
    poll_ms: u64,
    /// Backoff cap while the broker is away, ms
    #[arg(long, env = "EVENTMAP_RELAY_MAX_BACKOFF_MS", default_value_t = 10_000)]
    max_backoff_ms: u64,
    /// Keep published rows (marked published, with their stream and sequence) instead of
    /// deleting each in the round that publishes it; --retention-secs then purges them (the
    /// variable takes 1/0, true/false, yes/no, on/off)
    #[arg(
        long,
        env = "EVENTMAP_RELAY_KEEP_PUBLISHED",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    keep_published: bool,
    /// Kept published rows (--keep-published, or rows an older relay marked) older than this
    /// many seconds are deleted (every minute, 1,000 rows per statement); 0 keeps them
    #[arg(long, env = "EVENTMAP_RELAY_RETENTION_SECS", default_value_t = DEFAULT_RETENTION.as_secs())]
    retention_secs: u64,
    #[command(flatten)]
    nats: ConnectArgs,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "eventmap-relay cannot run");
            eprintln!("eventmap-relay: {err}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> Result<(), BoxError> {
    let config = RelayConfig::default()
        .schema(cli.schema)
        .batch_size(cli.batch)
        .max_in_flight(cli.in_flight)
        .poll_interval(Duration::from_millis(cli.poll_ms))
        .backoff(
            Duration::from_millis(100),
            Duration::from_millis(cli.max_backoff_ms),
        )
        .delete_published(!cli.keep_published)
        .retention((cli.retention_secs > 0).then(|| Duration::from_secs(cli.retention_secs)));
    let streams: Vec<String> = cli
        .streams
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();

    let pool = PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(
            eventmap::postgres::connect_options(&cli.database_url).map_err(|err| {
                format!(
                    "invalid DATABASE_URL {}: {err}",
                    redact_url(&cli.database_url)
                )
            })?,
        )
        .await
        .map_err(|err| {
            format!(
                "cannot connect to PostgreSQL at {}: {err}",
                redact_url(&cli.database_url)
            )
        })?;
    // Waits while the broker is away (and says so); once connected, the client keeps
    // reconnecting and the relay keeps retrying.
    let client = connect(&cli.nats.settings().name("eventmap-relay")).await?;
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
