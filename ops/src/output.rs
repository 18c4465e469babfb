//! Writing a command's result: text for people, or one JSON document for scripts.

use std::io::Write;

use serde::Serialize;

use crate::OpsError;
use crate::cli::Format;

/// A command's result, printable both ways.
pub trait Report: Serialize {
    /// Writes the text form.
    ///
    /// # Errors
    ///
    /// The writer's.
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()>;
}

/// Prints `report` on stdout in `format` (JSON pretty-printed, with a final line break).
///
/// # Errors
///
/// [`OpsError::Output`] when stdout cannot be written.
pub fn print(format: Format, report: &impl Report) -> Result<(), OpsError> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match format {
        Format::Text => report.write_text(&mut out)?,
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, report).map_err(std::io::Error::other)?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    Ok(())
}

/// `seconds` as a short age: `42s`, `5m 3s`, `2h 10m`, `3d 4h`.
pub fn age(seconds: u64) -> String {
    let (d, h, m, s) = (
        seconds / 86_400,
        seconds / 3600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::age;

    #[test]
    fn ages_are_short() {
        assert_eq!(age(0), "0s");
        assert_eq!(age(42), "42s");
        assert_eq!(age(303), "5m 3s");
        assert_eq!(age(7800), "2h 10m");
        assert_eq!(age(3 * 86_400 + 4 * 3600 + 59), "3d 4h");
    }
}
