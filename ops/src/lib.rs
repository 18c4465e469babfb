//! eventmap-ops: the operations binary of an eventmap service, as a library (the binary is
//! a thin `main` around [`run`]; the tests call both).
//!
//! One module per subcommand group: [`dead_letters`] (list, show, replay, purge),
//! [`outbox`] (backlog, parked rows: list, show, retry, skip), [`backfill`] (checkpoints:
//! list, reset), [`status`] (lag at a glance); `relay` is the runtime's
//! [`RelayArgs`](eventmap::postgres::RelayArgs), shared with the `eventmap-relay` binary.
//! [`session`] opens what a command needs (the table, NATS, PostgreSQL) on first use, and
//! [`output`] writes text or JSON. Guarantees of each command: `docs/operations.md`.
#![deny(missing_docs)]

pub mod backfill;
pub mod cli;
pub mod confirm;
pub mod dead_letters;
mod error;
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
        Command::Relay(args) => {
            let settings = cli.nats.settings().name("eventmap-ops relay");
            args.run(&cli.database_url, &settings, shutdown).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::DeadLetters(command) => dead_letters::run(&session, command).await,
        Command::Outbox(command) => outbox::run(&session, command).await,
        Command::Backfill(command) => backfill::run(&session, command).await,
        Command::Status(args) => status::run(&session, args).await,
    }
}
