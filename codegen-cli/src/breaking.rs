//! Breaking-change detection: compares the integration contract of a mapping table with a
//! baseline (a git revision or a directory) and reports every break with a stable rule id.
//!
//! The contract is what consumers depend on: the integration event names, the channels they
//! are published on (subject prefix and JetStream stream), the `service` (`ce-source`), the
//! proto messages the events carry and, recursively through message fields, their field
//! numbers, names (JSON names), types, cardinality, oneofs, enum values and reserved
//! numbers and names (in the spirit of `buf breaking`'s `WIRE_JSON` category), and which
//! fields the table fills (a field that was mapped and is now left at its default, a
//! constant that changed).
//!
//! ```no_run
//! use eventmap_codegen::breaking::{self, Baseline};
//!
//! let path = std::path::Path::new("mappings.yaml");
//! let mut current = eventmap_codegen::analyze(path)?;
//! let baseline = breaking::load_baseline(
//!     &Baseline::GitRef { repo_dir: ".".into(), rev: "origin/main".into() },
//!     path,
//! )?;
//! // Compares, applies `eventmap-accepted-breaks.yaml` next to the table, and appends the
//! // breaks (errors) and stale acceptances (warnings) to `current.diagnostics`.
//! breaking::check_against(&baseline, &mut current)?;
//! eprintln!("{}", current.render());
//! # Ok::<(), eventmap_codegen::Error>(())
//! ```
//!
//! Rule ids are in [`rules`](crate::rules) and in `docs/checks.md`. Breaks are located in the current
//! table or `.proto` where possible, with a note pointing at the baseline.

mod accepted;
mod baseline;
mod events;
mod git;
mod mapped;
pub(crate) mod proto;
pub(crate) mod side;

pub use accepted::{ACCEPTED_BREAKS_FILE, AcceptedBreaks, accepted_breaks_path};
pub use baseline::{Baseline, BaselineProblem, load_baseline};

use std::collections::HashMap;

use crate::diagnostic::{Diagnostic, SourceLocation};
use crate::rules::Rule;
use crate::{Analysis, Error};

/// One break of the integration contract: the diagnostic and the target that names the
/// broken element in `eventmap-accepted-breaks.yaml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    /// What broke, as an accepted-breaks entry names it: an integration event
    /// (`OrderCreatedEvent`), a mapped field (`OrderCreatedEvent.items.quantity`), a channel
    /// (`order`), `service`, or a proto element by its baseline full name
    /// (`ordering.v1.OrderCreated.note`, `ordering.v1.Status.STATUS_READY`,
    /// `ordering.v1.OrderCreated#reserved:5-7`).
    pub target: String,
    /// The error: rule id, message, location, notes and hint.
    pub diagnostic: Diagnostic,
}

/// Compares the integration contract of `current` with `baseline` and returns one error per
/// break, without applying accepted breaks (see [`breaks`] for the targets and
/// [`check_against`] for the whole check).
pub fn compare(baseline: &Analysis, current: &Analysis) -> Vec<Diagnostic> {
    breaks(baseline, current)
        .into_iter()
        .map(|b| b.diagnostic)
        .collect()
}

/// Like [`compare`], with the accepted-breaks target of each break.
///
/// A side whose table does not parse has nothing to compare: the result is then empty (the
/// current table's own problems are `eventmap check`'s to report). Proto rules need both
/// sides' protos to have compiled.
pub fn breaks(baseline: &Analysis, current: &Analysis) -> Vec<Break> {
    let (Some(base), Some(cur)) = (side::Side::of(baseline), side::Side::of(current)) else {
        return Vec::new();
    };
    let mut out = Breaks::default();
    let pairs = events::compare(&base, &cur, &mut out);
    if let (Some(base_protos), Some(cur_protos)) = (base.protos, cur.protos) {
        let mut protos = proto::Compare::new(base_protos, cur_protos, &mut out);
        for pair in &pairs {
            protos.messages(&pair.old, &pair.new, &pair.event);
        }
    }
    out.finish()
}

/// The whole breaking-change check of `eventmap check --against`: compares `current` with
/// `baseline`, drops the breaks accepted in [`ACCEPTED_BREAKS_FILE`] next to the current
/// table, and appends to `current.diagnostics` the remaining breaks (errors) and a warning
/// (`breaking-accepted-stale`) for each accepted entry that matches no break. The
/// accepted-breaks file's text is added to `current.sources` for snippets; when it does not
/// follow its format, its `yaml` error is appended and no break is accepted.
///
/// Nothing is compared (and nothing appended) when either side's protos did not compile or
/// the current table does not parse: the current table's own diagnostics say why, and
/// every accepted entry would otherwise look stale.
///
/// # Errors
/// [`Error::Io`] when the accepted-breaks file exists but cannot be read.
pub fn check_against(baseline: &Analysis, current: &mut Analysis) -> Result<(), Error> {
    if baseline.protos.is_none() || current.protos.is_none() || side::Side::of(current).is_none() {
        return Ok(());
    }
    let found = breaks(baseline, current);
    let path = accepted_breaks_path(&current.file);
    let accepted = match std::fs::read_to_string(&path) {
        Ok(text) => {
            let parsed = AcceptedBreaks::parse(&path, &text);
            current.sources.insert(&path, text);
            match parsed {
                Ok(accepted) => accepted,
                Err(diagnostic) => {
                    current.diagnostics.push(*diagnostic);
                    AcceptedBreaks::default()
                }
            }
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => AcceptedBreaks::default(),
        Err(source) => {
            return Err(Error::Io {
                action: "read",
                path,
                source,
            });
        }
    };
    current.diagnostics.extend(accepted.apply(found));
    Ok(())
}

/// The breaks found so far.
#[derive(Debug, Default)]
pub(crate) struct Breaks {
    /// Each break, with the integration event that reached it when it was added with
    /// [`Self::add_reached`].
    list: Vec<(Break, Option<String>)>,
}

impl Breaks {
    /// Records a break and returns its diagnostic, to add notes and a hint.
    pub(crate) fn add(
        &mut self,
        rule: Rule,
        target: impl Into<String>,
        message: impl Into<String>,
        location: Option<SourceLocation>,
    ) -> &mut Diagnostic {
        self.push(rule, target.into(), message.into(), location, None)
    }

    /// Records a break of a proto message or enum reached from integration event `event`,
    /// whose `message` names the event with [`reached_from`]. An element that several events
    /// reach (a message or enum their messages share) breaks once per event; those breaks
    /// become one that names every event (see [`Self::merged`]).
    pub(crate) fn add_reached(
        &mut self,
        rule: Rule,
        target: impl Into<String>,
        message: impl Into<String>,
        location: Option<SourceLocation>,
        event: &str,
    ) -> &mut Diagnostic {
        let event = Some(event.to_owned());
        self.push(rule, target.into(), message.into(), location, event)
    }

    fn push(
        &mut self,
        rule: Rule,
        target: String,
        message: String,
        location: Option<SourceLocation>,
        event: Option<String>,
    ) -> &mut Diagnostic {
        let diagnostic = Diagnostic::new(rule, message).at(location);
        self.list.push((Break { target, diagnostic }, event));
        let last = self.list.len() - 1;
        &mut self.list[last].0.diagnostic
    }

    /// Every break as found, one per change, without the notes [`Self::finish`] adds (for
    /// comparisons whose breaks are not accepted in a file: a consumer's copy of a message).
    pub(crate) fn into_list(self) -> Vec<Break> {
        self.merged()
    }

    /// Every break, one per change, each with a note saying how to accept it and a hint when
    /// none was set.
    fn finish(self) -> Vec<Break> {
        self.merged()
            .into_iter()
            .map(|mut b| {
                let entry = format!(
                    "to accept this break, add to `{ACCEPTED_BREAKS_FILE}`: `- {{ rule: {}, target: \"{}\", reason: \"...\" }}`",
                    b.diagnostic.rule, b.target
                );
                b.diagnostic.notes.push((entry, None));
                if b.diagnostic.hint.is_none() {
                    b.diagnostic.hint = Some(format!(
                        "if the break is intended, record it in `{ACCEPTED_BREAKS_FILE}` next to the table"
                    ));
                }
                b
            })
            .collect()
    }

    /// The breaks in the order found, those that differ only by the integration event that
    /// reached them merged into the first, whose message then names every such event.
    fn merged(self) -> Vec<Break> {
        let mut out: Vec<Merged> = Vec::new();
        let mut first: HashMap<(&'static str, String, String), usize> = HashMap::new();
        for (found, event) in self.list {
            let Some(event) = event else {
                out.push(Merged::Alone(found));
                continue;
            };
            let mut generic = found.diagnostic;
            generic.message = generic
                .message
                .replacen(&reached_from(&[&event]), EVENTS, 1);
            let key = (generic.rule, found.target.clone(), generic.message.clone());
            if let Some(Merged::Reached { events, .. }) = first
                .get(&key)
                .map(|i| &mut out[*i])
                .filter(|same| matches!(same, Merged::Reached { generic: g, .. } if *g == generic))
            {
                if !events.contains(&event) {
                    events.push(event);
                }
                continue;
            }
            first.insert(key, out.len());
            out.push(Merged::Reached {
                target: found.target,
                generic,
                events: vec![event],
            });
        }
        out.into_iter().map(Merged::into_break).collect()
    }
}

/// A break while [`Breaks::merged`] merges them.
enum Merged {
    /// A break that names no integration event.
    Alone(Break),
    /// A break reached from `events`, its message's event phrase replaced by [`EVENTS`].
    Reached {
        target: String,
        generic: Diagnostic,
        events: Vec<String>,
    },
}

impl Merged {
    /// The break, its message naming its events.
    fn into_break(self) -> Break {
        match self {
            Merged::Alone(found) => found,
            Merged::Reached {
                target,
                mut generic,
                events,
            } => {
                generic.message = generic.message.replacen(EVENTS, &reached_from(&events), 1);
                Break {
                    target,
                    diagnostic: generic,
                }
            }
        }
    }
}

/// Where the event phrase of a break's message was cut out while breaks are merged.
const EVENTS: &str = "\u{0}events\u{0}";

/// How a proto break names the integration events that reach what broke:
/// ``(integration event `A`)``, ``(integration events `A`, `B`)``.
pub(crate) fn reached_from<S: AsRef<str>>(events: &[S]) -> String {
    let s = if events.len() == 1 { "" } else { "s" };
    format!(
        "(integration event{s} {})",
        crate::validate::suggest::list(events)
    )
}

/// How notes name the baseline side of a comparison.
pub(crate) const BASELINE: &str = "the baseline";

/// The note that points at where something was in the baseline.
pub(crate) fn baseline_note(
    what: impl std::fmt::Display,
    location: Option<SourceLocation>,
) -> (String, Option<SourceLocation>) {
    side_note(BASELINE, what, location)
}

/// The note that points at where something is on the `side` of a comparison that is not the
/// current one (`the baseline`, `this table's copy`).
pub(crate) fn side_note(
    side: &str,
    what: impl std::fmt::Display,
    location: Option<SourceLocation>,
) -> (String, Option<SourceLocation>) {
    (format!("{what} in {side}"), location)
}
