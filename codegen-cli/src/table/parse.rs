//! Parsing the YAML text into a [`Table`](super::Table), and the diagnostics of YAML errors.

use std::path::Path;

use serde_saphyr::Location;

use super::{Table, anchors, duplicates, flow, indent, location, missing, tabs};
use crate::diagnostic::{Diagnostic, SourceLocation};
use crate::rules;

/// Parses a mapping table. `file` is only used to name the file in diagnostics.
///
/// # Errors
/// A [`Diagnostic`] with rule `yaml` and the line and column of the problem when the text
/// is not valid YAML or does not follow the format (unknown or duplicate key, wrong type).
pub fn parse(file: &Path, text: &str) -> Result<Table, Box<Diagnostic>> {
    // Deserializing the 64 levels of nesting YAML allows takes more than 2 MiB of stack in a
    // debug build, the default size of a spawned thread (and of test threads): a stack
    // overflow aborts the process. Parse on a thread with room to spare.
    std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new()
            .name("eventmap-yaml".into())
            .stack_size(PARSE_STACK_BYTES)
            .spawn_scoped(scope, || parse_on_this_thread(file, text));
        match spawned {
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            Err(_) => parse_on_this_thread(file, text),
        }
    })
}

/// Stack of the thread that parses a table (see [`parse`]); only what is used is committed.
pub(super) const PARSE_STACK_BYTES: usize = 64 << 20;

pub(super) fn parse_on_this_thread(file: &Path, text: &str) -> Result<Table, Box<Diagnostic>> {
    let options = serde_saphyr::options! {
        strict_booleans: true,
        // serde-saphyr's default budget (250,000 nodes, 1,000,000 events) refuses tables of
        // more than about 3,500 events. Size is bounded by the text itself; what must stay
        // bounded is alias expansion, which `alias_limits` caps below.
        budget: serde_saphyr::budget! {
            max_nodes: MAX_NODES,
            max_events: 3 * MAX_NODES,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: MAX_REPLAYED_EVENTS,
        },
    };
    serde_saphyr::from_str_with_options::<Table>(text, options)
        .map_err(|err| Box::new(yaml_diagnostic(file, text, &err)))
}

/// Most YAML nodes (scalars, mappings, sequences) a table may have: about 70 per event, so
/// tables of well over 50,000 events.
pub(super) const MAX_NODES: usize = 5_000_000;

/// Most parser events that aliases may replay in one table: far more than anchors and merge
/// keys need, far less than an "alias bomb" (aliases of aliases) expands to.
pub(super) const MAX_REPLAYED_EVENTS: usize = 250_000;

/// The diagnostic for a serde-saphyr error: its message without serde-saphyr's location
/// suffix, at the error's location, with a note at the anchor when an alias is involved.
pub(super) fn yaml_diagnostic(file: &Path, text: &str, err: &serde_saphyr::Error) -> Diagnostic {
    use serde_saphyr::Error as E;
    let mut original = err;
    let mut anchor = None;
    loop {
        match original {
            E::AliasError {
                error, locations, ..
            } => {
                anchor = anchor.or(Some(locations.defined_location));
                original = error;
            }
            E::WithSnippet { error, .. } => original = error,
            _ => break,
        }
    }
    let located = err
        .location()
        .filter(|loc| loc.line() > 0 && loc.column() > 0);
    let message = yaml_message(original, text, anchor.is_some());
    let error_line = located.and_then(|l| usize::try_from(l.line()).ok());
    if let Some(open) = error_line.and_then(|line| flow::unclosed(text, original, line)) {
        return unclosed_diagnostic(file, &message, open, located);
    }
    if let Some((line, column)) =
        error_line.and_then(|line| tabs::indentation_tab(text, original, line))
    {
        return Diagnostic::new(rules::YAML, tabs::MESSAGE).at(Some(at(file, line, column, 1)));
    }
    if matches!(original, E::UnknownAnchor { .. })
        && let Some(alias) = anchors::first_unresolved(text)
    {
        return unknown_anchor_diagnostic(file, &alias, located);
    }
    if matches!(original, E::Eof { .. }) && is_blank(text) {
        // serde-saphyr puts the end of the input past the last line: point at the start.
        return Diagnostic::new(rules::YAML, message)
            .at(Some(at(file, 1, 1, 1)))
            .hint(MINIMAL_TABLE_HINT);
    }
    if message.starts_with("missing field `")
        && let Some(loc) = located
        && let Some((line, column, len)) = error_line
            .and_then(|line| missing::item_start(text, line, usize::try_from(loc.column()).ok()?))
    {
        let mut diagnostic =
            Diagnostic::new(rules::YAML, message.clone()).at(Some(at(file, line, column, len)));
        if message == "missing field `channel`" {
            let channels = missing::declared_channels(text);
            if !channels.is_empty() {
                let listed: Vec<String> = channels.iter().map(|c| format!("`{c}`")).collect();
                diagnostic = diagnostic.hint(format!(
                    "add `channel:` to the row, one of the channels the table declares: {}",
                    listed.join(", ")
                ));
            }
        }
        return diagnostic;
    }
    let indentation_slip = message.contains("did not find expected key");
    let mut diagnostic =
        Diagnostic::new(rules::YAML, message).at(located.map(|l| location(file, l)));
    if let Some(defined) = anchor.filter(|d| d.line() > 0 && d.column() > 0 && Some(*d) != located)
    {
        diagnostic = diagnostic.note(
            "the alias refers to the anchor defined here",
            Some(location(file, defined)),
        );
    }
    if let E::DuplicateMappingKey { key, .. } = original
        && let Some(second) = located
        && let Some((line, column)) =
            duplicates::first_occurrence(text, error_line.unwrap_or(0), column_of(second))
    {
        let len = key.as_deref().map_or(1, |k| k.chars().count());
        diagnostic = diagnostic.note("first defined here", Some(at(file, line, column, len)));
    }
    if let Some(hint) = yaml_hint(original, text, located, anchor.is_some()) {
        diagnostic = diagnostic.hint(hint);
    } else if indentation_slip
        && let Some(hint) = error_line.and_then(|line| indent::hint(text, line))
    {
        diagnostic = diagnostic.hint(hint);
    }
    diagnostic
}

/// The diagnostic for an alias whose anchor is not defined before it (at `alias_at`, where
/// serde-saphyr stopped, or else where the parser found it): defined later (YAML anchors must
/// come before their aliases), or nowhere.
fn unknown_anchor_diagnostic(
    file: &Path,
    alias: &anchors::Unresolved,
    alias_at: Option<Location>,
) -> Diagnostic {
    let name = &alias.name;
    let len = name.chars().count() + 1;
    let at_alias = Some(match alias_at {
        Some(l) => SourceLocation {
            len,
            ..location(file, l)
        },
        None => at(file, alias.at.0, alias.at.1, len),
    });
    match alias.later {
        Some((line, column)) => Diagnostic::new(
            rules::YAML,
            format!(
                "alias `*{name}` is used before its anchor `&{name}`, which is defined later, at {line}:{column}: YAML anchors must come before their aliases"
            ),
        )
        .at(at_alias)
        .note(
            format!("the anchor `&{name}` is defined here, after the alias"),
            Some(at(file, line, column, len)),
        )
        .hint(format!(
            "move the value anchored `&{name}` above this alias, or swap them: `&{name}` on the first value, `*{name}` on the later ones"
        )),
        None => Diagnostic::new(
            rules::YAML,
            format!("alias `*{name}` refers to an anchor that is not defined: the file has no `&{name}`"),
        )
        .at(at_alias)
        .hint(format!(
            "anchor a value with `&{name}` before the alias, or write the value out"
        )),
    }
}

/// `file`:`line`:`column`, `len` characters long.
fn at(file: &Path, line: usize, column: usize, len: usize) -> SourceLocation {
    SourceLocation {
        file: file.to_path_buf(),
        line,
        column,
        len,
    }
}

/// The 1-based column of `loc`, in characters.
fn column_of(loc: Location) -> usize {
    usize::try_from(loc.column()).unwrap_or(usize::MAX)
}

/// What an empty table lacks: the keys a minimal table has.
pub(super) const MINIMAL_TABLE_HINT: &str = "a minimal table has `version: 1`, `service: <name>`, \
`protos: { include: [<dir>], files: [<file>.proto] }`, `rust: { proto_module: crate::proto }` \
and `channels:` with one channel (`<name>: { subject: <subject>, stream: <STREAM> }`); \
`eventmap init` writes one from your protos, docs/mappings.md explains each key";

/// The diagnostic for a flow collection that is not closed: at its bracket, with a note
/// where the parser noticed (the next key, or the end of the file).
pub(super) fn unclosed_diagnostic(
    file: &Path,
    message: &str,
    open: flow::OpenBracket,
    noticed: Option<Location>,
) -> Diagnostic {
    let (close, what) = if open.bracket == '{' {
        ('}', "flow mapping")
    } else {
        (']', "flow sequence")
    };
    Diagnostic::new(
        rules::YAML,
        format!(
            "`{}` is not closed: the {what} opened here has no `{close}` ({message})",
            open.bracket
        ),
    )
    .at(Some(at(file, open.line, open.column, 1)))
    .note(
        "the YAML parser noticed here",
        noticed.map(|l| location(file, l)),
    )
    .hint(format!(
        "close it with `{close}` (on its line, for a one-line {what}), or separate its entries with `,`"
    ))
}

/// The message of a serde-saphyr error (already unwrapped from alias and snippet wrappers),
/// in the table's terms where serde-saphyr's own words name its API or its internals.
/// `through_alias` says whether the error happened while an alias was expanded.
pub(super) fn yaml_message(err: &serde_saphyr::Error, text: &str, through_alias: bool) -> String {
    use serde_saphyr::budget::BudgetBreach as B;
    use serde_saphyr::{Error as E, MessageFormatter as _};
    let too_large = if through_alias {
        "aliases expand the table beyond"
    } else {
        "the table has more than"
    };
    match err {
        E::Eof { .. } if is_blank(text) => {
            "the table is empty: the file holds no YAML, at most comments and blank lines"
                .to_owned()
        }
        E::MultipleDocuments { .. } => {
            "the file holds more than one YAML document (`---`); a mapping table is one document"
                .to_owned()
        }
        E::DuplicateMappingKey { key: Some(key), .. } => format!("duplicate key `{key}`"),
        E::DuplicateMappingKey { key: None, .. } => "duplicate key".to_owned(),
        E::Budget {
            breach: B::Depth { .. },
            ..
        } => format!(
            "the table is nested deeper than {} levels",
            serde_saphyr::Budget::default().max_depth
        ),
        E::Budget {
            breach: B::Nodes { .. },
            ..
        } => format!("{too_large} {MAX_NODES} YAML nodes"),
        E::Budget {
            breach: B::Events { .. },
            ..
        } => format!("{too_large} {} YAML events", 3 * MAX_NODES),
        E::Budget { breach, .. } => {
            format!("the table is too large or has too many aliases ({breach:?})")
        }
        E::AliasReplayLimitExceeded { .. }
        | E::AliasExpansionLimitExceeded { .. }
        | E::AliasReplayStackDepthExceeded { .. }
        | E::AliasReplayCounterOverflow { .. } => {
            format!("aliases expand to more than {MAX_REPLAYED_EVENTS} YAML events")
        }
        other => {
            let message = serde_saphyr::DefaultMessageFormatter.format_message(other);
            // Values quoted in the message may hold line breaks or other control characters.
            message
                .chars()
                .flat_map(|c| {
                    let escaped: Vec<char> = if c.is_control() {
                        c.escape_debug().collect()
                    } else {
                        vec![c]
                    };
                    escaped
                })
                .collect()
        }
    }
}

/// A suggested fix for the errors where one is clear.
/// `through_alias` says whether the error happened while an alias was expanded.
pub(super) fn yaml_hint(
    err: &serde_saphyr::Error,
    text: &str,
    at: Option<Location>,
    through_alias: bool,
) -> Option<String> {
    use serde_saphyr::Error as E;
    use serde_saphyr::budget::BudgetBreach as B;
    match err {
        E::Budget {
            breach: B::Depth { .. },
            ..
        } => None,
        E::Budget { .. } if !through_alias => None,
        E::Budget { .. }
        | E::AliasReplayLimitExceeded { .. }
        | E::AliasExpansionLimitExceeded { .. }
        | E::AliasReplayStackDepthExceeded { .. }
        | E::AliasReplayCounterOverflow { .. } => Some(
            "aliases of aliases multiply (an \"alias bomb\"); write the values out or nest fewer aliases"
                .into(),
        ),
        _ => {
            // YAML allows an implicit (unmarked) key of at most 1024 characters.
            let at = at?;
            let line = text
                .lines()
                .nth(usize::try_from(at.line()).ok()?.checked_sub(1)?)?;
            let key_len = line
                .chars()
                .skip(usize::try_from(at.column()).ok()?.saturating_sub(1))
                .take_while(|c| *c != ':')
                .count();
            (key_len > 1024).then(|| {
                "YAML limits a key to 1024 characters unless it is written as an explicit key (`? key`)"
                    .to_owned()
            })
        }
    }
}

/// Whether `text` holds no YAML content (only blank lines and comments).
pub(super) fn is_blank(text: &str) -> bool {
    text.lines().all(|line| {
        let line = line.trim();
        line.is_empty() || line.starts_with('#')
    })
}
