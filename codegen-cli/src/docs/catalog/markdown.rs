//! Markdown pieces of the event catalog: code spans, table cells, fenced blocks, anchors.

/// `s` as inline code, fenced with more backticks than any run inside it.
pub fn code(s: &str) -> String {
    let longest = s.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    if longest > 0 || s.starts_with(' ') || s.ends_with(' ') {
        format!("{fence} {s} {fence}")
    } else {
        format!("{fence}{s}{fence}")
    }
}

/// After an integration event's name: its CloudEvents type, when that is not the name.
pub(super) fn ce_type_note(name: &str, ce_type: &str) -> String {
    if ce_type == name {
        String::new()
    } else {
        format!(" (`ce-type` {})", code(ce_type))
    }
}

/// `s` made safe in a table cell: `|` escaped, line breaks as spaces.
pub fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// A fenced code block of `content` (which ends with a line break), fenced with more
/// backticks than any run at a line start inside it (the unit tests' view of [`Fenced`]).
#[cfg(test)]
fn fenced(lang: &str, content: &str) -> String {
    let block = Fenced::new(content.to_owned());
    format!("{}{lang}\n{}{}\n", block.fence, block.body, block.fence)
}

/// A fenced code block as the catalog's templates write it: `fence`, the language, a line
/// break, `body`, `fence`.
pub(crate) struct Fenced {
    /// Backticks, more than any run at a line start inside `body`.
    pub fence: String,
    /// The content, ending with a line break.
    pub body: String,
}

impl Fenced {
    /// The block of `content` (a line break is added when it does not end with one).
    pub(crate) fn new(mut content: String) -> Fenced {
        let longest = content
            .lines()
            .map(|l| l.trim_start().chars().take_while(|c| *c == '`').count())
            .max()
            .unwrap_or(0);
        if !content.ends_with('\n') {
            content.push('\n');
        }
        Fenced {
            fence: "`".repeat(longest.max(2) + 1),
            body: content,
        }
    }
}

/// The anchor GitHub gives the heading `## name` (names are identifiers: lower-cased).
pub(super) fn anchor(name: &str) -> String {
    name.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_spans_outlast_the_backticks_inside() {
        assert_eq!(code("a"), "`a`");
        assert_eq!(code("a`b"), "`` a`b ``");
        assert_eq!(code("``"), "``` `` ```");
    }

    #[test]
    fn cells_escape_pipes_and_line_breaks() {
        assert_eq!(cell("a|b\nc"), "a\\|b c");
    }

    #[test]
    fn fences_outlast_fences_inside() {
        assert_eq!(fenced("json", "{}\n"), "```json\n{}\n```\n");
        assert_eq!(fenced("", "```\nx\n"), "````\n```\nx\n````\n");
    }
}
