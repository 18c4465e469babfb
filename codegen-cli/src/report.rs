//! Machine-readable renderings of diagnostics for CI: JSON (one array of objects) and GitHub
//! Actions workflow commands (`::error file=..,line=..::message`), next to the text rendering
//! of [`Diagnostic::render`](crate::Diagnostic::render).

use serde::Serialize;

/// Every diagnostic as text, with a snippet of the file it points into (what `eventmap check`
/// prints by default).
pub use crate::diagnostic::render_all as render_text;

use crate::diagnostic::{Diagnostic, Severity, SourceLocation};
use crate::rules::{self, Rule};

/// One diagnostic in the JSON output (`eventmap check --format json`).
///
/// Lines and columns are 1-based; columns count characters. `end_column` is exclusive.
#[derive(Debug, Serialize)]
pub struct JsonDiagnostic<'a> {
    /// The file, as given to or found by eventmap (relative paths stay relative); `null` when
    /// the problem is not in a file.
    pub path: Option<String>,
    /// First line of the span.
    pub start_line: Option<usize>,
    /// First column of the span.
    pub start_column: Option<usize>,
    /// Last line of the span.
    pub end_line: Option<usize>,
    /// Column after the span.
    pub end_column: Option<usize>,
    /// Rule id (`docs/checks.md`).
    pub rule: &'a str,
    /// Where the rule is documented ([`Rule::docs_link`](crate::rules::Rule::docs_link)), when
    /// the rule is in the registry.
    pub docs: Option<String>,
    /// `error` or `warning`.
    pub severity: &'static str,
    /// The message.
    pub message: &'a str,
    /// The suggested fix, when there is one.
    pub hint: Option<&'a str>,
    /// Related places.
    pub notes: Vec<JsonNote<'a>>,
}

/// A note of a [`JsonDiagnostic`].
#[derive(Debug, Serialize)]
pub struct JsonNote<'a> {
    /// The note.
    pub message: &'a str,
    /// Its file, when it points somewhere.
    pub path: Option<String>,
    /// Its line.
    pub line: Option<usize>,
    /// Its column.
    pub column: Option<usize>,
}

fn severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

fn path(location: Option<&SourceLocation>) -> Option<String> {
    location.map(|l| l.file.display().to_string())
}

/// The JSON form of one diagnostic.
pub fn to_json(diagnostic: &Diagnostic) -> JsonDiagnostic<'_> {
    let loc = diagnostic.location.as_ref();
    JsonDiagnostic {
        path: path(loc),
        start_line: loc.map(|l| l.line),
        start_column: loc.map(|l| l.column),
        end_line: loc.map(|l| l.line),
        end_column: loc.map(|l| l.column + l.len.max(1)),
        rule: diagnostic.rule,
        docs: rules::find(diagnostic.rule).map(Rule::docs_link),
        severity: severity(diagnostic.severity),
        message: &diagnostic.message,
        hint: diagnostic.hint.as_deref(),
        notes: diagnostic
            .notes
            .iter()
            .map(|(message, at)| JsonNote {
                message,
                path: path(at.as_ref()),
                line: at.as_ref().map(|l| l.line),
                column: at.as_ref().map(|l| l.column),
            })
            .collect(),
    }
}

/// Every diagnostic as one pretty-printed JSON array.
pub fn render_json(diagnostics: &[Diagnostic]) -> String {
    let items: Vec<JsonDiagnostic<'_>> = diagnostics.iter().map(to_json).collect();
    // Serializing plain strings and numbers cannot fail.
    serde_json::to_string_pretty(&items).unwrap_or_else(|_| "[]".to_owned())
}

/// Escapes a workflow command's message (GitHub Actions: `%`, CR, LF).
fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow command's property value (also `:` and `,`).
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// Every diagnostic as a GitHub Actions workflow command (`::error file=F,line=L,col=C,
/// endColumn=E,title=RULE::MESSAGE`), one per line, so that problems show on the pull request
/// lines. The notes (with their `file:line:col` when they point somewhere: the producer's row
/// of a cross-table problem, a `.proto` definition) and the hint are appended to the message,
/// one a line.
pub fn render_github(diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diagnostics {
        let command = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut properties = Vec::new();
        if let Some(loc) = &d.location {
            properties.push(format!(
                "file={}",
                escape_property(&loc.file.display().to_string())
            ));
            properties.push(format!("line={}", loc.line));
            properties.push(format!("col={}", loc.column));
            properties.push(format!("endLine={}", loc.line));
            properties.push(format!("endColumn={}", loc.column + loc.len.max(1)));
        }
        properties.push(format!("title={}", escape_property(d.rule)));
        let mut message = d.message.clone();
        for (note, at) in &d.notes {
            match at {
                Some(at) => message.push_str(&format!("\n(note: {at}: {note})")),
                None => message.push_str(&format!("\n(note: {note})")),
            }
        }
        if let Some(hint) = &d.hint {
            message.push_str(&format!("\n(help: {hint})"));
        }
        out.push_str(&format!(
            "::{command} {}::{}\n",
            properties.join(","),
            escape_data(&message)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Diagnostic {
        Diagnostic::new(rules::UNKNOWN_PROTO_FIELD, "no field `a,b: c`\n100%")
            .at(Some(SourceLocation {
                file: "dir/m.yaml".into(),
                line: 3,
                column: 9,
                len: 10,
            }))
            .hint("did you mean `ab`?")
    }

    #[test]
    fn json_has_span_rule_and_severity() {
        let json = render_json(&[sample()]);
        let value: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
        let first = &value[0];
        assert_eq!(first["path"], "dir/m.yaml");
        assert_eq!(first["start_line"], 3);
        assert_eq!(first["start_column"], 9);
        assert_eq!(first["end_line"], 3);
        assert_eq!(first["end_column"], 19);
        assert_eq!(first["rule"], "unknown-proto-field");
        assert_eq!(first["severity"], "error");
        assert_eq!(first["hint"], "did you mean `ab`?");
    }

    #[test]
    fn github_commands_are_escaped() {
        let text = render_github(&[sample()]);
        assert_eq!(
            text,
            "::error file=dir/m.yaml,line=3,col=9,endLine=3,endColumn=19,title=unknown-proto-field::no field `a,b: c`%0A100%25%0A(help: did you mean `ab`?)\n"
        );
    }
}
