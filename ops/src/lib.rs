//! eventmap-ops: the operations binary of an eventmap service, as a library (the binary is
//! a thin `main` around [`run`]; the tests call both).
//!
//! One module per subcommand group: [`dead_letters`] (list, show, replay, purge),
//! [`outbox`] (backlog, parked rows: list, show, retry, skip), [`backfill`] (checkpoints:
//! list, reset), [`status`] (lag at a glance), [`metrics`] (the same and the runtime's metrics
//! on a Prometheus endpoint); `relay` is the runtime's
//! [`RelayArgs`](eventmap::postgres::RelayArgs), shared with the `eventmap-relay` binary.
//! [`session`] opens what a command needs (the table, NATS, PostgreSQL) on first use, and
//! [`output`] writes text or JSON; [`exit_codes`] says when each exits 1. Guarantees of each
//! command: `docs/operations.md`.
#![deny(missing_docs)]

pub mod backfill;
pub mod cli;
pub mod confirm;
pub mod dead_letters;
mod error;
pub mod exit_codes;
pub mod metrics;
pub mod outbox;
pub mod output;
pub mod payload;
pub mod progress;
pub mod session;
pub mod status;

use std::future::Future;
use std::process::ExitCode;

pub use error::{OpsError, error_chain};

use cli::{Cli, Command};
use session::Session;

/// Runs the command of `cli`; `shutdown` stops the long-running ones (`relay`). Output goes
/// to stdout, progress to stderr.
///
/// # Errors
///
/// [`OpsError`]: what kept the command from running (its [`OpsError::exit_code`] is the
/// process's exit code).
pub async fn run(cli: Cli, shutdown: impl Future<Output = ()>) -> Result<ExitCode, OpsError> {
    let session = Session::new(&cli);
    match cli.command {
        Command::Relay {
            relay,
            metrics_listen,
        } => {
            let settings = cli.nats.settings().name("eventmap-ops relay");
            let Some(addr) = metrics_listen else {
                relay.run(&cli.database_url, &settings, shutdown).await?;
                return Ok(ExitCode::SUCCESS);
            };
            let exporter = metrics::Exporter::install()?;
            let listener = listen(addr, session.format).await?;
            let scrape = || async {
                Ok(Some(status::StatusReport {
                    service: String::new(),
                    outbox: Some(status::outbox(&session, &relay.schema).await?),
                    subscriptions: Vec::new(),
                }))
            };
            // The endpoint stays up until the relay has finished its last round.
            let (done, relay_done) = tokio::sync::oneshot::channel::<()>();
            let relayed = async {
                let result = relay.run(&cli.database_url, &settings, shutdown).await;
                let _ = done.send(());
                result
            };
            let served = metrics::serve(listener, &exporter, scrape, async {
                let _ = relay_done.await;
            });
            let (relayed, served) = tokio::join!(relayed, served);
            exporter.shutdown();
            relayed?;
            served?;
            Ok(ExitCode::SUCCESS)
        }
        Command::DeadLetters(command) => dead_letters::run(&session, command).await,
        Command::Outbox(command) => outbox::run(&session, command).await,
        Command::Backfill(command) => backfill::run(&session, command).await,
        Command::Status(args) => status::run(&session, args).await,
        Command::Metrics(args) => {
            // The table and the connections are checked before the endpoint opens.
            status::collect(&session, &args.status).await?;
            let exporter = metrics::Exporter::install()?;
            let listener = listen(args.listen, session.format).await?;
            let scrape = || async { status::collect(&session, &args.status).await.map(Some) };
            metrics::serve(listener, &exporter, scrape, shutdown).await?;
            exporter.shutdown();
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Binds the metrics endpoint and prints its address on stdout (`listening on ADDR`, or
/// `{"listen": "ADDR"}` with `--format json`), so that port 0 can be used.
async fn listen(
    addr: std::net::SocketAddr,
    format: cli::Format,
) -> Result<tokio::net::TcpListener, OpsError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|err| OpsError::Metrics(format!("cannot listen on {addr}: {err}")))?;
    let bound = listener.local_addr()?;
    match format {
        cli::Format::Text => println!("listening on {bound}"),
        cli::Format::Json => println!("{}", serde_json::json!({ "listen": bound.to_string() })),
    }
    tracing::info!(address = %bound, "serving GET /metrics");
    Ok(listener)
}
