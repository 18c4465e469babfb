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

/// `header` and `rows` as aligned columns (comfy-table, no borders): two spaces between
/// columns, widths as a terminal shows the text, the columns at the indexes in `right`
/// right-aligned (counts), no trailing spaces; one line per row, each ending in a line break.
/// Control characters in a cell are shown escaped ([`one_line`]).
pub fn table(header: &[&str], right: &[usize], rows: Vec<Vec<String>>) -> String {
    let rows = rows.into_iter().map(|row| {
        row.into_iter()
            .map(|cell| one_line(&cell).into_owned())
            .collect::<Vec<_>>()
    });
    let mut table = comfy_table::Table::new();
    table
        .load_style(comfy_table::presets::NOTHING)
        .set_header(header.to_vec())
        .add_rows(rows);
    let last = header.len().saturating_sub(1);
    for (index, column) in table.column_iter_mut().enumerate() {
        column.set_padding((0, if index == last { 0 } else { 2 }));
        if right.contains(&index) {
            column.set_cell_alignment(comfy_table::CellAlignment::Right);
        }
    }
    let mut text = table.trim_fmt();
    text.push('\n');
    text
}

/// `text` with its control characters escaped (`\r`, `\n`, `\u{1b}`, ...), the rest as it
/// is: data from the outbox (an aggregate id, say) printed on an operator's terminal can
/// neither break a line of the output nor send escape sequences.
pub fn one_line(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains(char::is_control) {
        text.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_debug().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect::<String>()
            .into()
    } else {
        text.into()
    }
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
    use super::{age, one_line, table};

    #[test]
    fn tables_align_every_column_whatever_the_cell_widths() {
        let text = table(
            &["NAME", "COUNT", "NOTE"],
            &[1],
            vec![
                vec!["a-much-longer-name".into(), "7".into(), "-".into()],
                vec!["b".into(), "1234".into(), "not created".into()],
            ],
        );
        assert_eq!(
            text,
            "NAME                COUNT  NOTE\n\
             a-much-longer-name      7  -\n\
             b                    1234  not created\n"
        );
    }

    #[test]
    fn ages_are_short() {
        assert_eq!(age(0), "0s");
        assert_eq!(age(42), "42s");
        assert_eq!(age(303), "5m 3s");
        assert_eq!(age(7800), "2h 10m");
        assert_eq!(age(3 * 86_400 + 4 * 3600 + 59), "3d 4h");
    }

    #[test]
    fn cells_with_control_characters_stay_on_their_line() {
        let text = table(
            &["AGGREGATE", "ERROR"],
            &[],
            vec![vec![
                "Payment pay-1\r\nX-Evil: 1".into(),
                "\u{1b}[31mred".into(),
            ]],
        );
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(text.contains("Payment pay-1\\r\\nX-Evil: 1"), "{text}");
        assert!(!text.contains('\u{1b}'), "{text}");
        assert_eq!(one_line("order-1"), "order-1");
    }
}
