//! `eventmap-ops status`: the service's lag at a glance.

use std::process::ExitCode;

use crate::OpsError;
use crate::session::Session;

/// Arguments of `status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {}

/// Runs `status`.
///
/// # Errors
///
/// [`OpsError`].
pub async fn run(session: &Session, args: StatusArgs) -> Result<ExitCode, OpsError> {
    let _ = (session, args);
    Err(OpsError::Usage("not yet".into()))
}
