//! [`confirm`]: the confirmation asked before a command that deletes something.

use std::io::{BufRead, Write};

use crate::OpsError;

/// Asks `question` on the terminal (stderr) and reads the answer; only `y`/`yes` confirms.
/// Without a terminal on stdin (a script), refuses: such callers pass `--yes` instead.
///
/// # Errors
///
/// [`OpsError::Refused`] when not confirmed, [`OpsError::Output`] when the terminal fails.
pub fn confirm(question: &str) -> Result<(), OpsError> {
    if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return Err(OpsError::Refused(format!(
            "{question} (not confirmed: stdin is not a terminal; pass --yes)"
        )));
    }
    let mut stderr = std::io::stderr();
    write!(stderr, "{question} [y/N] ")?;
    stderr.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(OpsError::Refused("not confirmed: nothing done".into()))
    }
}
