//! `eventmap explain RULE`: what a rule reports, why it matters, a failing and a passing
//! example, and for a breaking rule how to accept an intended break.
//!
//! The examples of the mapping rules are the fixtures their tests use
//! (`tests/rules/cases.yaml`, each case a patch of `tests/rules/base.yaml` or of
//! `rules.proto`), so an explanation shows what the test checks; those of the breaking rules
//! are the changes `tests/breaking.rs` makes.
//!
//! ```
//! let text = eventmap_codegen::explain::explain("unknown-proto-field")?;
//! assert!(text.contains("skew: { from: sku }"));
//! # Ok::<(), eventmap_codegen::explain::ExplainError>(())
//! ```

use std::fmt::Write as _;

use serde::Deserialize;

use crate::rules::{self, Rule, Section};

mod why;

/// The rule fixtures: one case per mapping rule.
const CASES: &str = include_str!("../tests/rules/cases.yaml");
/// The table the cases patch.
const BASE_TABLE: &str = include_str!("../tests/rules/base.yaml");
/// The proto the `proto_fail` cases patch.
const BASE_PROTO: &str = include_str!("../tests/rules/proto/rules/v1/rules.proto");
/// The other fixture protos a case may be reported in (`in_proto_file`), by file name.
const OTHER_PROTOS: &[(&str, &str)] = &[(
    "open_enum.proto",
    include_str!("../tests/rules/proto/rules/v1/open_enum.proto"),
)];

/// Why there is no explanation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExplainError {
    /// No rule has this id.
    #[error("no rule `{id}`{}; the rules are listed in docs/checks.md", suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default())]
    UnknownRule {
        /// The id asked for.
        id: String,
        /// The closest rule id, when one is close.
        suggestion: Option<String>,
    },
}

/// One fixture of `cases.yaml` (the fields an explanation shows).
#[derive(Debug, Deserialize)]
struct Case {
    rule: String,
    #[serde(default)]
    fail: Vec<(String, String)>,
    #[serde(default)]
    proto_fail: Vec<(String, String)>,
    at: String,
    #[serde(default)]
    pass: Option<Vec<(String, String)>>,
    /// Another fixture proto the rule is reported in (the table's `fail` lists it).
    #[serde(default)]
    in_proto_file: Option<String>,
}

/// The explanation of the rule `id`, as text for a terminal (prose wrapped at 100 columns).
///
/// # Errors
/// [`ExplainError::UnknownRule`] when no rule has the id (with the closest id).
pub fn explain(id: &str) -> Result<String, ExplainError> {
    let rule = rules::find(id).ok_or_else(|| ExplainError::UnknownRule {
        id: id.to_owned(),
        suggestion: rules::ALL
            .iter()
            .map(|r| (strsim::jaro_winkler(id, r.id), r.id))
            .filter(|(score, _)| *score > 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, id)| id.to_owned()),
    })?;
    Ok(render(rule))
}

/// The command line that explains `rule`, as diagnostics' help lines print it.
pub fn command(rule: &str) -> String {
    format!("eventmap explain {rule}")
}

fn render(rule: &Rule) -> String {
    let mut out = String::new();
    let section = match rule.section {
        Section::Run => "running eventmap",
        Section::Mapping => "mapping rules",
        Section::Breaking => "breaking changes",
        Section::System => "tables checked together",
        Section::Registry => "against the live registry",
    };
    let _ = writeln!(out, "{} ({}, {section})", rule.id, rule.severity);
    let _ = writeln!(out);
    wrap(&mut out, &format!("{}.", upper_first(rule.summary)));
    let _ = writeln!(out);
    let _ = writeln!(out, "Why it matters:");
    wrap(&mut out, why::why(rule.id));
    if let Some(case) = cases().into_iter().find(|c| c.rule == rule.id) {
        examples(&mut out, &case);
    }
    if let Some((_, breaks, safe)) = why::breaking(rule.id) {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "Failing (against a baseline: `eventmap check --against REV`):"
        );
        wrap(&mut out, breaks);
        let _ = writeln!(out);
        let _ = writeln!(out, "Passing:");
        wrap(&mut out, safe);
    }
    if rule.is_break() {
        let target = why::breaking(rule.id).map_or("<target>", |(target, _, _)| target);
        let _ = writeln!(out);
        let _ = writeln!(out, "Accepting it, when the break is intended:");
        let _ = writeln!(
            out,
            "  add an entry to `eventmap-accepted-breaks.yaml` next to the table, reviewed like code"
        );
        let _ = writeln!(
            out,
            "  (the diagnostic's note gives the exact entry; its target is {target}):"
        );
        let _ = writeln!(
            out,
            "    - {{ rule: {}, target: \"{target}\", reason: \"...\" }}",
            rule.id
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "Documentation: {}", rule.docs_link());
    out
}

/// The failing and passing fixtures of a mapping rule, as numbered lines around the place the
/// rule reports.
fn examples(out: &mut String, case: &Case) {
    let in_proto = !case.proto_fail.is_empty();
    let (base, file, fail) = if in_proto {
        (BASE_PROTO, "rules.proto", &case.proto_fail)
    } else {
        (BASE_TABLE, "mappings.yaml", &case.fail)
    };
    let other = case.in_proto_file.as_deref().and_then(|name| {
        OTHER_PROTOS
            .iter()
            .find(|(other, _)| *other == name)
            .map(|(name, text)| (*name, (*text).to_owned()))
    });
    let Some((failing_file, failing)) = other.or_else(|| Some((file, patched(base, fail)?))) else {
        return;
    };
    let Some(fail_excerpt) = excerpt(&failing, &case.at) else {
        return;
    };
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Failing ({failing_file}, reported at `{}`):",
        case.at.trim()
    );
    out.push_str(&fail_excerpt);
    // The passing table: the case's own, or the base (the change undone), around the same
    // place.
    let (passing, near) = match &case.pass {
        Some(pass) if !pass.is_empty() && !in_proto => {
            let Some(text) = patched(BASE_TABLE, pass) else {
                return;
            };
            let near = pass[0]
                .1
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or_default()
                .to_owned();
            (text, near)
        }
        _ => {
            let near = fail
                .first()
                .and_then(|(from, _)| from.lines().find(|l| !l.trim().is_empty()))
                .unwrap_or_default()
                .to_owned();
            (base.to_owned(), near)
        }
    };
    if let Some(pass_excerpt) = excerpt(&passing, near.trim()) {
        let _ = writeln!(out);
        let _ = writeln!(out, "Passing ({file}):");
        out.push_str(&pass_excerpt);
    }
}

/// Every fixture (none when `cases.yaml` does not read, which its own test rules out).
fn cases() -> Vec<Case> {
    serde_saphyr::from_str(CASES).unwrap_or_default()
}

/// `text` with each `(from, to)` replaced once; `None` when a `from` is not there.
fn patched(text: &str, patches: &[(String, String)]) -> Option<String> {
    let mut text = text.to_owned();
    for (from, to) in patches {
        if !text.contains(from.as_str()) {
            return None;
        }
        text = text.replacen(from.as_str(), to, 1);
    }
    Some(text)
}

/// The lines around the first occurrence of `needle` (two before, two after), numbered, the
/// line of the needle marked with `>`.
fn excerpt(text: &str, needle: &str) -> Option<String> {
    let offset = text.find(needle)?;
    let line = text[..offset].matches('\n').count();
    let last = line + needle.trim_end().matches('\n').count();
    let lines: Vec<&str> = text.lines().collect();
    let from = line.saturating_sub(2);
    let to = (last + 2).min(lines.len().saturating_sub(1));
    let width = (to + 1).to_string().len();
    let mut out = String::new();
    for (i, text) in lines.iter().enumerate().take(to + 1).skip(from) {
        let mark = if (line..=last).contains(&i) { '>' } else { ' ' };
        let _ = writeln!(out, "  {mark} {:>width$} | {text}", i + 1);
    }
    Some(out)
}

/// Writes `text` indented by two spaces, wrapped at 100 columns.
fn wrap(out: &mut String, text: &str) {
    let mut line = String::from(" ");
    for word in text.split_whitespace() {
        if line.len() + 1 + word.len() > 100 && line.len() > 2 {
            let _ = writeln!(out, "{line}");
            line = String::from(" ");
        }
        line.push(' ');
        line.push_str(word);
    }
    let _ = writeln!(out, "{line}");
}

/// `text` with its first letter upper-case.
fn upper_first(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_is_explained() {
        for rule in rules::ALL {
            let text = explain(rule.id).expect("a rule");
            assert!(
                !text.contains("see the rule's documentation"),
                "{}: no reason why it matters: add one in src/explain/why.rs",
                rule.id
            );
            assert!(text.contains(&rule.docs_link()), "{text}");
            if rule.section == Section::Mapping {
                assert!(
                    text.contains("\nFailing (") && text.contains("\nPassing ("),
                    "{}: no failing and passing example:\n{text}",
                    rule.id
                );
            }
            if rule.is_break() {
                assert!(
                    why::breaking(rule.id).is_some(),
                    "{}: no example: add one in src/explain/why.rs",
                    rule.id
                );
                assert!(text.contains("eventmap-accepted-breaks.yaml"), "{text}");
            }
        }
    }

    #[test]
    fn cases_read() {
        assert!(cases().len() >= 50);
    }

    #[test]
    fn unknown_rules_get_the_closest_id() {
        assert_eq!(
            explain("unknown-proto-feild"),
            Err(ExplainError::UnknownRule {
                id: "unknown-proto-feild".into(),
                suggestion: Some("unknown-proto-field".into())
            })
        );
        assert!(matches!(
            explain("zzz"),
            Err(ExplainError::UnknownRule {
                suggestion: None,
                ..
            })
        ));
    }

    #[test]
    fn excerpts_mark_the_line() {
        let text = "a\nb\nc\nd\ne\nf\ng\n";
        assert_eq!(
            excerpt(text, "d").as_deref(),
            Some("    2 | b\n    3 | c\n  > 4 | d\n    5 | e\n    6 | f\n")
        );
        assert_eq!(excerpt(text, "zz"), None);
    }
}
