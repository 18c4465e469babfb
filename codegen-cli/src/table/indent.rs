//! An indentation slip (a key one column left or right of its mapping's keys): the YAML parser
//! says only "did not find expected key", so the hint compares the line's indentation with
//! the lines above it.

/// The hint for a "did not find expected key" error at `error_line` (1-based): how the line's
/// indentation differs from the content line above it, and which indentations would continue
/// a mapping above. None when the indentations agree (the slip is elsewhere).
pub(super) fn hint(text: &str, error_line: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let current = *lines.get(error_line.checked_sub(1)?)?;
    let column = key_column(current)?;
    let above = |limit: usize| {
        lines[..limit]
            .iter()
            .enumerate()
            .rev()
            .filter_map(|(index, line)| Some((index + 1, key_column(line)?)))
    };
    let (previous, previous_column) = above(error_line - 1).next()?;
    if column > previous_column {
        return Some(format!(
            "line {error_line} is indented {column} spaces, more than line {previous} above it ({previous_column}): only a key without a value on its line (`key:`) takes a more indented block; to add a key to line {previous}'s mapping, indent it {previous_column} spaces"
        ));
    }
    if column == previous_column {
        return None;
    }
    let outer = above(previous).find(|(_, c)| *c <= column);
    Some(match outer {
        Some((line, outer_column)) if outer_column < column => format!(
            "line {error_line} is indented {column} spaces, between line {line} ({outer_column}) and line {previous} ({previous_column}) above it: keys of one mapping start in the same column; indent it {previous_column} spaces to continue line {previous}'s mapping, or {outer_column} to continue line {line}'s"
        ),
        _ => format!(
            "line {error_line} is indented {column} spaces, less than line {previous} above it ({previous_column}): keys of one mapping start in the same column"
        ),
    })
}

/// The column (0-based) where the key of a content line starts: after its indentation and a
/// sequence item's `- `; None for blank and comment lines.
fn key_column(line: &str) -> Option<usize> {
    let content = line.trim_start_matches(' ');
    if content.is_empty() || content.starts_with('#') {
        return None;
    }
    let indentation = line.len() - content.len();
    let item = content.len()
        - content
            .trim_start_matches("- ")
            .trim_start_matches(' ')
            .len();
    Some(indentation + item)
}
