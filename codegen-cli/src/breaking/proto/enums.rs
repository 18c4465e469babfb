//! Enums reached from integration events: values removed, renamed or renumbered, reserved
//! numbers and names dropped.

use prost_reflect::{EnumDescriptor, EnumValueDescriptor};

use super::shape::{covered, numbers, range_target};
use super::{Compare, WELL_KNOWN_PACKAGE};
use crate::breaking::{reached_from, side_note};
use crate::diagnostic::SourceLocation;
use crate::rules;

impl Compare<'_> {
    /// Values and reserved ranges and names of an enum present in both versions.
    pub(super) fn enums(&mut self, old: &EnumDescriptor, new: &EnumDescriptor, event: &str) {
        let key = (
            old.full_name().to_owned(),
            new.full_name().to_owned(),
            event.to_owned(),
        );
        if !self.enums.insert(key) || old.package_name() == WELL_KNOWN_PACKAGE {
            return;
        }
        for value in old.values() {
            self.enum_value(old, new, &value, event);
        }
        self.reserved_values(old, new, event);
    }

    /// Baseline value `value` of enum `old` in its current version `new`: renamed,
    /// renumbered or removed.
    fn enum_value(
        &mut self,
        old: &EnumDescriptor,
        new: &EnumDescriptor,
        value: &EnumValueDescriptor,
        event: &str,
    ) {
        let target = format!("{}.{}", old.full_name(), value.name());
        let was_here = side_note(
            self.base_side,
            format!("`{}` = {} was defined here", value.name(), value.number()),
            self.base.enum_value_location(value),
        );
        let same_number: Vec<_> = new
            .values()
            .filter(|v| v.number() == value.number())
            .collect();
        if let Some(first) = same_number.first() {
            if same_number.iter().all(|v| v.name() != value.name()) {
                let d = self.out.add_reached(
                    rules::BREAKING_ENUM_VALUE_RENAMED,
                    target,
                    format!(
                        "value {} of enum `{}` was renamed from `{}` to `{}` {}; JSON carries the name",
                        value.number(),
                        old.full_name(),
                        value.name(),
                        first.name(),
                        reached_from(&[event])
                    ),
                    self.cur.enum_value_location(first),
                    event,
                );
                d.notes.push(was_here);
                d.hint = Some(format!("keep the name `{}`", value.name()));
            }
            return;
        }
        if let Some(renumbered) = new.get_value_by_name(value.name()) {
            let d = self.out.add_reached(
                rules::BREAKING_ENUM_VALUE_NUMBER_CHANGED,
                target,
                format!(
                    "value `{}` of enum `{}` changed its number from {} to {} {}",
                    value.name(),
                    old.full_name(),
                    value.number(),
                    renumbered.number(),
                    reached_from(&[event])
                ),
                self.cur.enum_value_location(&renumbered),
                event,
            );
            d.notes.push(was_here);
            d.hint = Some(format!(
                "give `{}` back its number {}",
                value.name(),
                value.number()
            ));
            return;
        }
        self.value_removed(old, new, value, target, was_here, event);
    }

    /// Baseline value `value` of enum `old`, with neither its number nor its name in `new`:
    /// a break unless both are reserved.
    fn value_removed(
        &mut self,
        old: &EnumDescriptor,
        new: &EnumDescriptor,
        value: &EnumValueDescriptor,
        target: String,
        was_here: (String, Option<SourceLocation>),
        event: &str,
    ) {
        let number = new.reserved_ranges().any(|r| r.contains(&value.number()));
        let name = new.reserved_names().any(|n| n == value.name());
        let (missing, add) = match (number, name) {
            (true, true) => return,
            (true, false) => ("its name", format!("reserved \"{}\";", value.name())),
            (false, true) => ("its number", format!("reserved {};", value.number())),
            (false, false) => (
                "its number and name",
                format!(
                    "reserved {}; reserved \"{}\";",
                    value.number(),
                    value.name()
                ),
            ),
        };
        let d = self.out.add_reached(
            rules::BREAKING_ENUM_VALUE_REMOVED,
            target,
            format!(
                "value `{}` = {} of enum `{}` was removed without reserving {missing} {}",
                value.name(),
                value.number(),
                old.full_name(),
                reached_from(&[event])
            ),
            self.cur.enum_location(new),
            event,
        );
        d.notes.push(was_here);
        d.hint = Some(format!("add `{add}` to enum `{}`", new.name()));
    }

    /// Reserved ranges and names of an enum that are no longer reserved.
    fn reserved_values(&mut self, old: &EnumDescriptor, new: &EnumDescriptor, event: &str) {
        let ranges: Vec<(i64, i64)> = new
            .reserved_ranges()
            .map(|r| (i64::from(*r.start()), i64::from(*r.end())))
            .collect();
        let owner = format!("enum `{}`", old.full_name());
        let places = (self.cur.enum_location(new), self.base.enum_location(old));
        for range in old.reserved_ranges() {
            let (start, end) = (i64::from(*range.start()), i64::from(*range.end()));
            if !covered(start, end, &ranges) {
                self.reserved_removed(
                    old.full_name(),
                    &owner,
                    &numbers(start, end, i64::from(i32::MAX)),
                    &range_target(start, end),
                    places.clone(),
                    event,
                );
            }
        }
        for name in old.reserved_names() {
            if !new.reserved_names().any(|n| n == name) {
                self.reserved_removed(
                    old.full_name(),
                    &owner,
                    &format!("the name `{name}`"),
                    name,
                    places.clone(),
                    event,
                );
            }
        }
    }
}
