//! The command line: the global settings ([`Cli`]) and one subcommand per group
//! ([`Command`]); each group's arguments live in its own module.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use eventmap::nats::connect::ConnectArgs;
use eventmap::postgres::RelayArgs;

use crate::backfill::BackfillCommand;
use crate::dead_letters::DeadLetterCommand;
use crate::metrics::MetricsArgs;
use crate::outbox::OutboxCommand;
use crate::status::StatusArgs;

/// eventmap-ops: operate an eventmap service: run its outbox relay, inspect and replay its
/// dead letters, see its lag.
///
/// Reads the service's mapping table (--mappings) for its channels, subscriptions and proto
/// descriptors. An unreachable NATS server is waited for until it answers, or for
/// `--connect-wait` seconds. No command but `relay` creates or migrates the PostgreSQL schema
/// (--schema) it works on. Logs go to stderr (RUST_LOG, default warn; info for `relay`).
#[derive(Debug, Parser)]
#[command(name = "eventmap-ops", version)]
pub struct Cli {
    /// The service's mapping table (its subscriptions, dead-letter channels and protos)
    #[arg(
        long,
        global = true,
        env = "EVENTMAP_MAPPINGS",
        default_value = "mappings.yaml",
        value_name = "FILE"
    )]
    pub mappings: PathBuf,
    /// PostgreSQL URL of the service's outbox (sslmode=... in the query)
    #[arg(
        long,
        global = true,
        env = "DATABASE_URL",
        hide_env_values = true,
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pub database_url: String,
    /// Output: text for people, json (one document on stdout) for scripts
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// The NATS connection.
    #[command(flatten)]
    pub nats: ConnectArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The command line of [`Cli`] with the exit codes of every subcommand after the
/// subcommands in `--help` ([`exit_codes::help`](crate::exit_codes::help)).
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command().after_help(crate::exit_codes::help())
}

/// Parses the process's arguments with [`command`]; prints the help, the version or the
/// usage error and exits as clap does (exit 2 for bad arguments).
pub fn parse() -> Cli {
    let matches = command().get_matches();
    <Cli as clap::FromArgMatches>::from_arg_matches(&matches).unwrap_or_else(|err| err.exit())
}

/// The output format of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned text; progress bars on a terminal.
    Text,
    /// One JSON document on stdout; no progress bars.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Publish the outbox to JetStream until SIGTERM or Ctrl-C (the relay of the
    /// eventmap-relay binary; several may run at once on one outbox)
    Relay {
        /// The relay's settings.
        #[command(flatten)]
        relay: RelayArgs,
        /// Also serve GET /metrics (Prometheus text format) on this address: publish
        /// latency, rows published and failed, the outbox backlog and the age of its oldest
        /// row
        #[arg(long, env = "EVENTMAP_METRICS_LISTEN", value_name = "ADDR")]
        metrics_listen: Option<std::net::SocketAddr>,
    },
    /// Dead letters of the table's subscriptions: list, show, replay, purge
    #[command(subcommand, name = "dead-letters")]
    DeadLetters(DeadLetterCommand),
    /// The outbox's backlog and the rows the relay parked because the broker refused them:
    /// list, show, retry, skip
    #[command(subcommand)]
    Outbox(OutboxCommand),
    /// The checkpoints of the service's backfills (run by the service's own binary):
    /// list, reset
    #[command(subcommand)]
    Backfill(BackfillCommand),
    /// The service's lag at a glance: outbox backlog, consumers' pending and redelivered
    /// messages, dead letters per subscription
    Status(StatusArgs),
    /// Serve the figures of `status` and the runtime's metrics on GET /metrics (Prometheus
    /// text format, read again on every scrape) until SIGTERM or Ctrl-C
    Metrics(MetricsArgs),
}

impl Command {
    /// The log level when `RUST_LOG` is not set, as `--help` says: `info` for `relay` (a
    /// service: its connections and rounds are worth seeing), `warn` for every other
    /// subcommand (their result is what they print on stdout).
    pub fn default_log_level(&self) -> &'static str {
        match self {
            Self::Relay { .. } => "info",
            _ => "warn",
        }
    }
}
