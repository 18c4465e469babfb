//! `eventmap-ops dead-letters`: list, show, replay and purge the dead letters of the
//! table's subscriptions.

use std::process::ExitCode;

use clap::Subcommand;

use crate::OpsError;
use crate::session::Session;

/// The dead-letter subcommands.
#[derive(Debug, Subcommand)]
pub enum DeadLetterCommand {
    /// Dead letters counted by subscription, event type and error, with their ages
    List,
}

/// Runs a dead-letter subcommand.
///
/// # Errors
///
/// [`OpsError`].
pub async fn run(session: &Session, command: DeadLetterCommand) -> Result<ExitCode, OpsError> {
    let _ = (session, command);
    Err(OpsError::Usage("not yet".into()))
}
