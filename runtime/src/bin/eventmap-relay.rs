//! `eventmap-relay`: publishes the eventmap outbox of a PostgreSQL schema to NATS JetStream,
//! until SIGTERM or Ctrl-C (feature `relay-bin`).
//!
//! A thin wrapper kept for scripts: the arguments and the run are
//! [`eventmap::postgres::RelayArgs`], the same as `eventmap-ops relay` (crate
//! `eventmap-ops`). Several may run at once on one outbox. Configured by flags or environment
//! variables (`--help`; NATS connection settings as in `eventmap::nats::connect`); logs go to
//! stderr (`RUST_LOG`, default `info`).

use std::process::ExitCode;

use clap::Parser;
use eventmap::nats::connect::ConnectArgs;
use eventmap::postgres::RelayArgs;
use tracing_subscriber::EnvFilter;

/// eventmap-relay: publishes an eventmap outbox (PostgreSQL) to NATS JetStream.
///
/// Runs until SIGTERM or Ctrl-C; exits 2 when it cannot start. Logs go to stderr (RUST_LOG,
/// default info). The same relay runs as `eventmap-ops relay`.
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
    #[command(flatten)]
    relay: RelayArgs,
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
        // Colours only on a terminal: no escape codes in a redirected log file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let settings = cli.nats.settings().name("eventmap-relay");
    match cli
        .relay
        .run(&cli.database_url, &settings, eventmap::shutdown_signal())
        .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // The whole chain, each cause once: the errors' own text is a summary.
            let chain = eventmap::error::ErrorChain(&err);
            tracing::error!(error = %chain, "eventmap-relay cannot run");
            eprintln!("eventmap-relay: {chain}");
            ExitCode::from(2)
        }
    }
}
