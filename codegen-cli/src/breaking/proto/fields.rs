//! Fields of a message present in both versions, paired by name first and by number second:
//! a field that kept its name is the same field wherever its number went (a renumbering),
//! and a number whose field has a new name is that field renamed, unless the field now at
//! the number is another baseline field that moved there (then the baseline field at that
//! number was removed). Renumbered and renamed fields are then compared as one field: JSON
//! name, type, cardinality, oneof and proto2 `[default = ...]`.

use prost_reflect::{FieldDescriptor, MessageDescriptor};

use super::Compare;
use super::defaults::default_change;
use super::shape::{cardinality_change, oneof_change, type_name};
use crate::breaking::{Breaks, reached_from, side_note};
use crate::rules::{self, Rule};

impl Compare<'_> {
    /// Compares the baseline field `old` of `old_msg` with its counterpart in `new_msg`, or
    /// reports it removed.
    pub(super) fn field(
        &mut self,
        old_msg: &MessageDescriptor,
        new_msg: &MessageDescriptor,
        old: &FieldDescriptor,
        event: &str,
    ) {
        if let Some(new) = new_msg.get_field_by_name(old.name()) {
            if new.number() != old.number() {
                self.renumbered(old_msg, old, &new, event);
            }
            self.paired(old_msg, new_msg, old, &new, event);
            return;
        }
        match new_msg.get_field(old.number()) {
            // A new name at the old number: the field was renamed.
            Some(new) if old_msg.get_field_by_name(new.name()).is_none() => {
                self.paired(old_msg, new_msg, old, &new, event);
            }
            // Another baseline field moved onto the number (its renumbering is reported).
            taken => self.removed(old_msg, new_msg, old, taken.as_ref(), event),
        }
    }

    /// A field that kept its name and changed its number.
    fn renumbered(
        &mut self,
        old_msg: &MessageDescriptor,
        old: &FieldDescriptor,
        new: &FieldDescriptor,
        event: &str,
    ) {
        let was_here = side_note(
            self.base_side,
            format!("`{}` = {} was defined here", old.name(), old.number()),
            self.base.field_location(old),
        );
        let d = self.out.add_reached(
            rules::BREAKING_FIELD_NUMBER_CHANGED,
            format!("{}.{}", old_msg.full_name(), old.name()),
            format!(
                "field `{}` of `{}` changed its number from {} to {} {}",
                old.name(),
                old_msg.full_name(),
                old.number(),
                new.number(),
                reached_from(&[event])
            ),
            self.cur.field_location(new),
            event,
        );
        d.notes.push(was_here);
        d.hint = Some(format!(
            "give `{}` back its number {}; a new number is a new field",
            old.name(),
            old.number()
        ));
    }

    /// A baseline field with neither its name nor its number in `new_msg`, or whose number
    /// is now used by another baseline field (`taken`).
    fn removed(
        &mut self,
        old_msg: &MessageDescriptor,
        new_msg: &MessageDescriptor,
        old: &FieldDescriptor,
        taken: Option<&FieldDescriptor>,
        event: &str,
    ) {
        let was_here = side_note(
            self.base_side,
            format!("`{}` = {} was defined here", old.name(), old.number()),
            self.base.field_location(old),
        );
        let number = new_msg.reserved_ranges().any(|r| r.contains(&old.number()));
        let name = new_msg.reserved_names().any(|n| n == old.name());
        let (missing, add) = match (number, name) {
            (true, true) => return,
            (true, false) => ("its name", format!("reserved \"{}\";", old.name())),
            (false, true) => ("its number", format!("reserved {};", old.number())),
            (false, false) => (
                "its number and name",
                format!("reserved {}; reserved \"{}\";", old.number(), old.name()),
            ),
        };
        let (message, hint) = match taken {
            Some(moved) => (
                format!(
                    "field `{}` = {} of `{}` was removed and its number is now used by field `{}` {}",
                    old.name(),
                    old.number(),
                    old_msg.full_name(),
                    moved.name(),
                    reached_from(&[event])
                ),
                format!(
                    "give `{}` back its number and add `{add}` to message `{}`",
                    moved.name(),
                    new_msg.name()
                ),
            ),
            None => (
                format!(
                    "field `{}` = {} of `{}` was removed without reserving {missing} {}",
                    old.name(),
                    old.number(),
                    old_msg.full_name(),
                    reached_from(&[event])
                ),
                format!("add `{add}` to message `{}`", new_msg.name()),
            ),
        };
        let d = self.out.add_reached(
            rules::BREAKING_FIELD_REMOVED,
            format!("{}.{}", old_msg.full_name(), old.name()),
            message,
            self.cur.message_location(new_msg),
            event,
        );
        d.notes.push(was_here);
        d.hint = Some(hint);
    }

    /// Two versions of one field (same name, or same number and a new name): name, JSON
    /// name, type, cardinality, oneof, proto2 default.
    fn paired(
        &mut self,
        old_msg: &MessageDescriptor,
        new_msg: &MessageDescriptor,
        old: &FieldDescriptor,
        new: &FieldDescriptor,
        event: &str,
    ) {
        let target = format!("{}.{}", old_msg.full_name(), old.name());
        let here = self.cur.field_location(new);
        let was_here = side_note(
            self.base_side,
            format!("`{}` = {} was defined here", old.name(), old.number()),
            self.base.field_location(old),
        );
        let of = format!("of `{}` {}", old_msg.full_name(), reached_from(&[event]));
        let report = |out: &mut Breaks, rule: Rule, message: String, hint: Option<String>| {
            let d = out.add_reached(rule, target.clone(), message, here.clone(), event);
            d.notes.push(was_here.clone());
            d.hint = hint;
        };
        if let Some((rule, message, hint)) = json_name_change(old, new, &of) {
            report(self.out, rule, message, Some(hint));
        }
        let retyped = !self.same_type(old, new, event);
        if retyped {
            report(
                self.out,
                rules::BREAKING_FIELD_TYPE_CHANGED,
                format!(
                    "field `{}` {of} changed its type from `{}` to `{}`",
                    old.name(),
                    type_name(old),
                    type_name(new)
                ),
                Some(format!(
                    "keep the type `{}`; a new type is a new field",
                    type_name(old)
                )),
            );
        }
        if let Some(change) = cardinality_change(old, new, retyped) {
            report(
                self.out,
                rules::BREAKING_FIELD_CARDINALITY_CHANGED,
                format!("field `{}` {of} {change}", old.name()),
                None,
            );
        }
        if let Some((change, hint)) = default_change(old, new, retyped) {
            report(
                self.out,
                rules::BREAKING_FIELD_DEFAULT_CHANGED,
                format!("field `{}` {of} {change}", old.name()),
                Some(hint),
            );
        }
        if let Some(change) = oneof_change(old_msg, new_msg, old, new) {
            report(
                self.out,
                rules::BREAKING_FIELD_ONEOF_CHANGED,
                format!("field `{}` {of} {change}", old.name()),
                None,
            );
        }
    }
}

/// The rule, message and hint of a field whose JSON name changed (`of`: of which message and
/// event), when it did: renamed, or given another `json_name`.
fn json_name_change(
    old: &FieldDescriptor,
    new: &FieldDescriptor,
    of: &str,
) -> Option<(Rule, String, String)> {
    if old.json_name() == new.json_name() {
        return None;
    }
    Some(if old.name() == new.name() {
        (
            rules::BREAKING_FIELD_JSON_NAME_CHANGED,
            format!(
                "the JSON name of field `{}` {of} changed from `{}` to `{}`",
                old.name(),
                old.json_name(),
                new.json_name()
            ),
            format!("keep `[json_name = \"{}\"]`", old.json_name()),
        )
    } else {
        (
            rules::BREAKING_FIELD_RENAMED,
            format!(
                "field {} {of} was renamed from `{}` to `{}` (JSON name `{}` to `{}`)",
                old.number(),
                old.name(),
                new.name(),
                old.json_name(),
                new.json_name()
            ),
            format!(
                "keep the name `{}`, or at least its JSON name: `{} = {} [json_name = \"{}\"]`",
                old.name(),
                new.name(),
                new.number(),
                old.json_name()
            ),
        )
    })
}
