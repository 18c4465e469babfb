//! `eventmap-accepted-breaks.yaml`: breaks of the integration contract accepted on purpose,
//! kept next to the table and reviewed like code.
//!
//! ```yaml
//! accepted:
//!   - rule: breaking-event-removed
//!     target: OrderArchivedEvent
//!     reason: no consumer left (search and notification dropped it in PR 412)
//! ```
//!
//! An entry suppresses exactly the break with its rule id and target (the target is shown in
//! the note of every break). An entry that matches no break is reported as a warning
//! (`breaking-accepted-stale`), so acceptances are removed once the baseline has moved on.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::Break;
use crate::diagnostic::Diagnostic;
use crate::rules;
use crate::{table, validate};

/// The accepted-breaks file's name; it sits next to the mapping table.
pub const ACCEPTED_BREAKS_FILE: &str = "eventmap-accepted-breaks.yaml";

/// Where the accepted-breaks file of the table at `table` is.
pub fn accepted_breaks_path(table: &Path) -> PathBuf {
    validate::table_dir(table).join(ACCEPTED_BREAKS_FILE)
}

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    accepted: Vec<Entry>,
}

/// One accepted break.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    rule: Spanned<String>,
    target: Spanned<String>,
    reason: Spanned<String>,
}

/// The breaks accepted in an accepted-breaks file.
#[derive(Debug, Default)]
pub struct AcceptedBreaks {
    file: PathBuf,
    entries: Vec<Entry>,
}

impl AcceptedBreaks {
    /// Parses an accepted-breaks file; `file` names it in diagnostics. A file with nothing
    /// but comments accepts nothing.
    ///
    /// # Errors
    /// A [`Diagnostic`] with rule `yaml` and the location of the problem when the text is not
    /// YAML or does not follow the format (unknown or missing key, empty `reason`).
    pub fn parse(file: &Path, text: &str) -> Result<AcceptedBreaks, Box<Diagnostic>> {
        let blank = text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'));
        if blank {
            return Ok(AcceptedBreaks {
                file: file.to_path_buf(),
                entries: Vec::new(),
            });
        }
        let parsed: File = serde_saphyr::from_str(text).map_err(|err| {
            let location = err.location().map(|loc| table::location(file, loc));
            let options = serde_saphyr::render_options! {
                snippets: serde_saphyr::SnippetMode::Off,
            };
            let text = err.render_with_options(options);
            let first = text.lines().next().unwrap_or_default().trim();
            // serde-saphyr appends ` at line L, column C`: the location is ours to print.
            let message = first.rfind(" at line ").map_or(first, |i| &first[..i]);
            Box::new(Diagnostic::new(rules::YAML, message).at(location))
        })?;
        for entry in &parsed.accepted {
            if entry.reason.value.trim().is_empty() {
                return Err(Box::new(
                    Diagnostic::new(rules::YAML, "an accepted break needs a `reason`")
                        .at(Some(table::location(file, entry.reason.referenced)))
                        .hint("say why the break is acceptable, for the reviewers"),
                ));
            }
        }
        Ok(AcceptedBreaks {
            file: file.to_path_buf(),
            entries: parsed.accepted,
        })
    }

    /// How many breaks are accepted.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no break is accepted.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Drops the accepted breaks and returns the others' diagnostics, followed by a warning
    /// (`breaking-accepted-stale`) for each entry that matches no break.
    pub fn apply(&self, breaks: Vec<Break>) -> Vec<Diagnostic> {
        let matches = |entry: &Entry, b: &Break| {
            entry.rule.value == b.diagnostic.rule && entry.target.value == b.target
        };
        let mut out: Vec<Diagnostic> = breaks
            .iter()
            .filter(|b| !self.entries.iter().any(|e| matches(e, b)))
            .map(|b| b.diagnostic.clone())
            .collect();
        for entry in &self.entries {
            if breaks.iter().any(|b| matches(entry, b)) {
                continue;
            }
            out.push(self.stale(entry, &breaks));
        }
        out
    }

    fn stale(&self, entry: &Entry, breaks: &[Break]) -> Diagnostic {
        let (rule, target) = (&entry.rule.value, &entry.target.value);
        let known = rules::breaks().any(|r| r.id == rule.as_str());
        let (at, hint) = if known {
            let targets = breaks
                .iter()
                .filter(|b| b.diagnostic.rule == rule.as_str())
                .map(|b| b.target.as_str());
            let hint = match closest(target, targets) {
                Some(t) => format!("did you mean target `{t}`?"),
                None => "remove the entry: the break is no longer there (the baseline has it already, or it was undone)".to_owned(),
            };
            (entry.target.referenced, hint)
        } else {
            let hint = match closest(rule, rules::breaks().map(|r| r.id)) {
                Some(r) => format!("`{rule}` is not a breaking rule id; did you mean `{r}`?"),
                None => format!("`{rule}` is not a breaking rule id (they start with `breaking-`)"),
            };
            (entry.rule.referenced, hint)
        };
        Diagnostic::new(
            rules::BREAKING_ACCEPTED_STALE,
            format!("accepted break `{rule}` of `{target}` matches no break"),
        )
        .at(Some(table::location(&self.file, at)))
        .hint(hint)
    }
}

/// The candidate closest to `name`, when close enough to be a likely typo.
fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (strsim::damerau_levenshtein(name, c), c))
        .filter(|(d, c)| *d > 0 && *d <= (c.chars().count() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}
