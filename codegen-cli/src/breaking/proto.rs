//! Proto-level rules (in the spirit of `buf breaking`'s `WIRE_JSON` category) for every
//! message reachable from an integration event, recursively through message fields: fields
//! removed, renamed, renumbered, retyped, changed in cardinality, oneof or proto2 default; enum values
//! removed, renamed, renumbered; reserved numbers and names dropped; messages renamed or
//! moved to another package.

use std::collections::HashSet;

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};

use super::{Breaks, reached_from, side_note};
use crate::diagnostic::SourceLocation;
use crate::protos::ProtoSet;
use crate::rules;
use shape::{covered, map_entry, numbers, range_target};

mod defaults;
mod enums;
mod fields;
mod shape;

/// The package of the protobuf well-known types, which never change under us.
const WELL_KNOWN_PACKAGE: &str = "google.protobuf";

/// The largest field number (`max` in `reserved 10 to max;`).
const MAX_FIELD_NUMBER: i64 = 536_870_911;

/// Compares messages and enums of the baseline's protos with the current ones; each pair
/// is compared once per integration event that reaches it, and [`Breaks`] merges what a
/// pair shared by several events breaks into one break naming them all.
pub(crate) struct Compare<'a> {
    base: &'a ProtoSet,
    cur: &'a ProtoSet,
    out: &'a mut Breaks,
    /// The message pairs compared: (baseline name, current name, integration event).
    messages: HashSet<(String, String, String)>,
    /// The enum pairs compared: (baseline name, current name, integration event).
    enums: HashSet<(String, String, String)>,
    /// How notes name the `base` side: `the baseline`, or `this table's copy` when a
    /// consumer's copy of a message is compared with its producer's.
    base_side: &'static str,
}

impl<'a> Compare<'a> {
    /// A comparison that records breaks in `out`.
    pub fn new(base: &'a ProtoSet, cur: &'a ProtoSet, out: &'a mut Breaks) -> Self {
        Compare {
            base,
            cur,
            out,
            messages: HashSet::new(),
            enums: HashSet::new(),
            base_side: super::BASELINE,
        }
    }

    /// Names the `base` side `side` in notes (`this table's copy`) instead of `the baseline`.
    pub fn base_side(mut self, side: &'static str) -> Self {
        self.base_side = side;
        self
    }

    /// Compares the baseline message `old` with the current `new` (the same message, or
    /// one renamed), reached from integration event `event`.
    pub fn messages(&mut self, old: &MessageDescriptor, new: &MessageDescriptor, event: &str) {
        let key = (
            old.full_name().to_owned(),
            new.full_name().to_owned(),
            event.to_owned(),
        );
        if !self.messages.insert(key) {
            return;
        }
        if old.package_name() == WELL_KNOWN_PACKAGE && old.full_name() == new.full_name() {
            return;
        }
        if old.full_name() != new.full_name() {
            self.renamed(old, new, event);
        }
        for field in old.fields() {
            self.field(old, new, &field, event);
        }
        self.reserved_fields(old, new, event);
    }

    fn renamed(&mut self, old: &MessageDescriptor, new: &MessageDescriptor, event: &str) {
        let (rule, message, hint) = if old.package_name() == new.package_name() {
            (
                rules::BREAKING_MESSAGE_RENAMED,
                format!(
                    "proto message `{}` was renamed to `{}` {}",
                    old.full_name(),
                    new.full_name(),
                    reached_from(&[event])
                ),
                format!("keep the name `{}`", old.name()),
            )
        } else {
            (
                rules::BREAKING_PACKAGE_CHANGED,
                format!(
                    "proto message `{}` moved to package `{}` as `{}` {}",
                    old.full_name(),
                    new.package_name(),
                    new.full_name(),
                    reached_from(&[event])
                ),
                format!(
                    "keep `package {};` for this contract; publish the new package as a new integration event",
                    old.package_name()
                ),
            )
        };
        let d = self.out.add_reached(
            rule,
            old.full_name(),
            message,
            self.cur.message_location(new),
            event,
        );
        d.notes.push(side_note(
            self.base_side,
            format!("`{}` was defined here", old.full_name()),
            self.base.message_location(old),
        ));
        d.hint = Some(hint);
    }

    /// Whether two paired fields have the same type (map key and value, scalar
    /// kind, message, enum); compares same or renamed messages and same enums on the way.
    fn same_type(&mut self, old: &FieldDescriptor, new: &FieldDescriptor, event: &str) -> bool {
        match (map_entry(old), map_entry(new)) {
            (Some((old_key, old_value)), Some((new_key, new_value))) => {
                let key = self.same_kind(&old_key, &new_key, event);
                let value = self.same_kind(&old_value, &new_value, event);
                key && value
            }
            (None, None) => self.same_kind(&old.kind(), &new.kind(), event),
            _ => false,
        }
    }

    fn same_kind(&mut self, old: &Kind, new: &Kind, event: &str) -> bool {
        match (old, new) {
            (Kind::Message(a), Kind::Message(b)) => {
                // The same message, or a renamed one: its old name is gone.
                let same =
                    a.full_name() == b.full_name() || self.cur.message(a.full_name()).is_none();
                if same {
                    self.messages(a, b, event);
                }
                same
            }
            (Kind::Enum(a), Kind::Enum(b)) => {
                let same = a.full_name() == b.full_name();
                if same {
                    self.enums(a, b, event);
                }
                same
            }
            (a, b) => a == b,
        }
    }

    /// Reserved ranges and names of a message that are no longer reserved.
    fn reserved_fields(&mut self, old: &MessageDescriptor, new: &MessageDescriptor, event: &str) {
        let ranges: Vec<(i64, i64)> = new
            .reserved_ranges()
            .map(|r| (i64::from(r.start), i64::from(r.end) - 1))
            .collect();
        let what = format!("message `{}`", old.full_name());
        for range in old.reserved_ranges() {
            let (start, end) = (i64::from(range.start), i64::from(range.end) - 1);
            if !covered(start, end, &ranges) {
                self.reserved_removed(
                    old.full_name(),
                    &what,
                    &numbers(start, end, MAX_FIELD_NUMBER),
                    &range_target(start, end),
                    (
                        self.cur.message_location(new),
                        self.base.message_location(old),
                    ),
                    event,
                );
            }
        }
        for name in old.reserved_names() {
            if !new.reserved_names().any(|n| n == name) {
                self.reserved_removed(
                    old.full_name(),
                    &what,
                    &format!("the name `{name}`"),
                    name,
                    (
                        self.cur.message_location(new),
                        self.base.message_location(old),
                    ),
                    event,
                );
            }
        }
    }

    /// Records that `owner` (`owner_text` in messages) no longer reserves `what`
    /// (`target` in the accepted-breaks target); `places` are the current and baseline
    /// declarations of the owner.
    fn reserved_removed(
        &mut self,
        owner: &str,
        owner_text: &str,
        what: &str,
        target: &str,
        places: (Option<SourceLocation>, Option<SourceLocation>),
        event: &str,
    ) {
        let d = self.out.add_reached(
            rules::BREAKING_RESERVED_REMOVED,
            format!("{owner}#reserved:{target}"),
            format!(
                "{owner_text} no longer reserves {what} {}",
                reached_from(&[event])
            ),
            places.0,
            event,
        );
        d.notes
            .push(side_note(self.base_side, "it was reserved here", places.1));
        d.hint = Some(format!(
            "reserve {what} again; a reused number or name would be read as the old field"
        ));
    }
}
