//! Diagnostics: what `eventmap check` reports, with a location in the mapping table or a
//! `.proto` file, a rule id, and a rustc-style rendering with a source snippet.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

use crate::rules::Rule;

/// How serious a [`Diagnostic`] is. Errors fail `eventmap check` (exit 1); warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The table cannot be used as written: no code is generated.
    Error,
    /// Worth a look, but code can still be generated.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// A place in a source file (mapping table or `.proto`).
///
/// `line` and `column` are 1-based; `column` and `len` count characters (not bytes), as
/// serde-saphyr does (protox's `SourceCodeInfo` columns are bytes: they are converted). In a
/// `.proto`, the span is the name of the element (`store_id` in `repeated string store_id = 2;`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SourceLocation {
    /// The file as the user named it (relative paths are kept relative).
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// Length of the highlighted text in characters (at least 1 when rendered).
    pub len: usize,
}

impl fmt::Display for SourceLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// One problem found in a mapping table or its protos.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Stable rule id, e.g. `unknown-proto-field`: the id of a [`Rule`] of the registry
    /// ([`rules`](crate::rules), documented in `docs/checks.md`).
    pub rule: &'static str,
    /// Error or warning.
    pub severity: Severity,
    /// One-line description of the problem.
    pub message: String,
    /// Where the problem is; `None` only when no file is involved (e.g. an unreadable path).
    pub location: Option<SourceLocation>,
    /// Other places that explain the problem (e.g. the proto message definition).
    pub notes: Vec<(String, Option<SourceLocation>)>,
    /// A suggested fix, when there is an obvious one.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// A diagnostic of `rule`, with the rule's severity and the given message, without a
    /// location yet.
    pub fn new(rule: Rule, message: impl Into<String>) -> Self {
        Diagnostic {
            rule: rule.id,
            severity: rule.severity,
            message: message.into(),
            location: None,
            notes: Vec::new(),
            hint: None,
        }
    }

    /// Sets the primary location.
    pub fn at(mut self, location: Option<SourceLocation>) -> Self {
        self.location = location;
        self
    }

    /// Adds a note, optionally pointing at another place (a `.proto` definition, say).
    pub fn note(mut self, text: impl Into<String>, location: Option<SourceLocation>) -> Self {
        self.notes.push((text.into(), location));
        self
    }

    /// Sets the hint (a suggested fix).
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Whether this diagnostic is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Renders the diagnostic in the style of rustc: `file:line:col: error[rule]: message`,
    /// then the source line with the span underlined (when `sources` has the file's text),
    /// then notes and the hint.
    pub fn render(&self, sources: &Sources) -> String {
        let mut out = String::new();
        match &self.location {
            Some(loc) => {
                let _ = writeln!(
                    out,
                    "{loc}: {}[{}]: {}",
                    self.severity, self.rule, self.message
                );
                if let Some(snippet) = sources.snippet(loc) {
                    out.push_str(&snippet);
                }
            }
            None => {
                let _ = writeln!(out, "{}[{}]: {}", self.severity, self.rule, self.message);
            }
        }
        for (text, loc) in &self.notes {
            match loc {
                Some(loc) => {
                    let _ = writeln!(out, "  = note: {loc}: {text}");
                }
                None => {
                    let _ = writeln!(out, "  = note: {text}");
                }
            }
        }
        if let Some(hint) = &self.hint {
            let _ = writeln!(out, "  = help: {hint}");
        }
        // Every rule has an explanation, with a failing and a passing example.
        let _ = writeln!(out, "  = help: more with `eventmap explain {}`", self.rule);
        out
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(&Sources::default()))
    }
}

/// The text of the files that diagnostics point into, kept to draw snippets.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    files: BTreeMap<PathBuf, String>,
    /// Per file, the byte offset where each line starts: a snippet finds its line without
    /// scanning the text (thousands of diagnostics in a large table were quadratic).
    line_starts: BTreeMap<PathBuf, Vec<usize>>,
}

/// Snippet lines longer than this (in characters) are shown as a window around the column.
const SNIPPET_WIDTH: usize = 160;

impl Sources {
    /// Remembers the text of `file`.
    pub fn insert(&mut self, file: impl Into<PathBuf>, text: impl Into<String>) {
        let (file, text) = (file.into(), text.into());
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(at, _)| at + 1))
            .collect();
        self.line_starts.insert(file.clone(), starts);
        self.files.insert(file, text);
    }

    /// Line `number` (1-based) of `file`, without its line break, as `str::lines` gives it.
    fn line(&self, file: &Path, number: usize) -> Option<&str> {
        let text = self.files.get(file)?;
        let starts = self.line_starts.get(file)?;
        let index = number.checked_sub(1)?;
        let start = *starts.get(index)?;
        if start == text.len() && index > 0 {
            return None;
        }
        let end = starts.get(index + 1).map_or(text.len(), |next| next - 1);
        let line = text.get(start..end)?;
        Some(line.strip_suffix('\r').unwrap_or(line))
    }

    /// The text of `file`, when known.
    pub fn get(&self, file: &Path) -> Option<&str> {
        self.files.get(file).map(String::as_str)
    }

    /// The snippet for `loc`: the line, prefixed with its number, and a caret line.
    fn snippet(&self, loc: &SourceLocation) -> Option<String> {
        let line = self.line(&loc.file, loc.line)?;
        let number = loc.line.to_string();
        let pad = " ".repeat(number.len());
        let mut column = loc.column.saturating_sub(1);
        let mut shown: String = line.replace('\t', " ");
        let length = shown.chars().count();
        if length > SNIPPET_WIDTH {
            // A window of the line around the column, marked `...` where it is cut.
            let from = column
                .saturating_sub(SNIPPET_WIDTH / 3)
                .min(length - SNIPPET_WIDTH);
            let window: String = shown.chars().skip(from).take(SNIPPET_WIDTH).collect();
            let before = if from > 0 { "..." } else { "" };
            let after = if from + SNIPPET_WIDTH < length {
                "..."
            } else {
                ""
            };
            column = column - from + before.len();
            shown = format!("{before}{window}{after}");
        }
        let indent: String = " ".repeat(column);
        let carets = "^".repeat(loc.len.clamp(1, SNIPPET_WIDTH));
        Some(format!(
            "{pad} |\n{number} | {shown}\n{pad} | {indent}{carets}\n"
        ))
    }
}

/// Whether any diagnostic in `diagnostics` is an error.
pub fn has_errors(diagnostics: &[Diagnostic]) -> bool {
    diagnostics.iter().any(Diagnostic::is_error)
}

/// Renders every diagnostic, in order, separated by blank lines.
pub fn render_all(diagnostics: &[Diagnostic], sources: &Sources) -> String {
    diagnostics
        .iter()
        .map(|d| d.render(sources))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The 1-based line and column (in characters) of byte `offset` in `text`.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules;

    #[test]
    fn line_column_counts_characters() {
        let text = "ab\ncé d\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 3), (2, 1));
        // 'é' is two bytes: byte 6 is the space after it, the third character.
        assert_eq!(line_column(text, 6), (2, 3));
    }

    #[test]
    fn render_draws_snippet_and_hint() {
        let mut sources = Sources::default();
        sources.insert("m.yaml", "a: 1\n  custmer_id: x\n");
        let d = Diagnostic::new(rules::UNKNOWN_PROTO_FIELD, "no field `custmer_id`")
            .at(Some(SourceLocation {
                file: "m.yaml".into(),
                line: 2,
                column: 3,
                len: 10,
            }))
            .hint("did you mean `customer_id`?");
        let text = d.render(&sources);
        assert_eq!(
            text,
            "m.yaml:2:3: error[unknown-proto-field]: no field `custmer_id`\n  |\n2 |   custmer_id: x\n  |   ^^^^^^^^^^\n  = help: did you mean `customer_id`?\n  = help: more with `eventmap explain unknown-proto-field`\n"
        );
    }

    #[test]
    fn lines_are_found_as_str_lines_gives_them() {
        let mut sources = Sources::default();
        let text = "first\r\nsecond\n\nfourth\n";
        sources.insert("t.yaml", text);
        for (index, expected) in text.lines().enumerate() {
            assert_eq!(sources.line(Path::new("t.yaml"), index + 1), Some(expected));
        }
        assert_eq!(sources.line(Path::new("t.yaml"), 5), None);
        assert_eq!(sources.line(Path::new("t.yaml"), 0), None);
        sources.insert("u.yaml", "no break");
        assert_eq!(sources.line(Path::new("u.yaml"), 1), Some("no break"));
        assert_eq!(sources.line(Path::new("u.yaml"), 2), None);
    }

    #[test]
    fn a_long_line_is_shown_as_a_window_around_the_column() {
        let mut sources = Sources::default();
        let line = format!("key: [{}]", "x, ".repeat(10_000));
        sources.insert("long.yaml", line.as_str());
        let d = Diagnostic::new(rules::UNKNOWN_PROTO_FIELD, "somewhere in the middle").at(Some(
            SourceLocation {
                file: "long.yaml".into(),
                line: 1,
                column: 5_001,
                len: 1,
            },
        ));
        let text = d.render(&sources);
        let shown = text.lines().nth(2).expect("the line");
        let carets = text.lines().nth(3).expect("the carets");
        assert!(
            shown.len() < 200 && shown.starts_with("1 | ...") && shown.ends_with("..."),
            "{shown}"
        );
        // The caret stays under the same character.
        let at = carets.find('^').expect("a caret");
        assert_eq!(
            shown.as_bytes()[at],
            line.as_bytes()[5_000],
            "{shown}\n{carets}"
        );
    }
}
