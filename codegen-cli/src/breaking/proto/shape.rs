//! What a field's declaration says beyond its number and name: its type as written, its
//! cardinality and oneof; and reserved number ranges.

use prost_reflect::{Cardinality, FieldDescriptor, Kind, MessageDescriptor, OneofDescriptor};

/// Key and value kinds of a map field.
pub(super) fn map_entry(field: &FieldDescriptor) -> Option<(Kind, Kind)> {
    if !field.is_map() {
        return None;
    }
    let Kind::Message(entry) = field.kind() else {
        return None;
    };
    Some((
        entry.map_entry_key_field().kind(),
        entry.map_entry_value_field().kind(),
    ))
}

/// The proto type of a field as written (`int64`, `shop.v1.Item`, `map<string, int32>`),
/// without its label.
pub(super) fn type_name(field: &FieldDescriptor) -> String {
    match map_entry(field) {
        Some((key, value)) => format!("map<{}, {}>", kind_name(&key), kind_name(&value)),
        None => kind_name(&field.kind()),
    }
}

fn kind_name(kind: &Kind) -> String {
    match kind {
        Kind::Message(m) => m.full_name().to_owned(),
        Kind::Enum(e) => e.full_name().to_owned(),
        scalar => eventmap_contract::scalar_name(scalar).to_owned(),
    }
}

/// A real (not synthetic, i.e. not proto3 `optional`) oneof containing `field`.
fn real_oneof(field: &FieldDescriptor) -> Option<OneofDescriptor> {
    field.containing_oneof().filter(|o| !o.is_synthetic())
}

/// How a field's cardinality changed: singular and `repeated`, proto2 `required`, or
/// explicit presence (proto3 `optional`). Presence is not compared when the type changed or
/// a oneof is involved (their own rules report those).
pub(super) fn cardinality_change(
    old: &FieldDescriptor,
    new: &FieldDescriptor,
    retyped: bool,
) -> Option<String> {
    let label = |f: &FieldDescriptor| if f.is_list() { "repeated" } else { "singular" };
    if old.is_list() != new.is_list() {
        if old.is_map() != new.is_map() {
            return None;
        }
        return Some(format!("changed from {} to {}", label(old), label(new)));
    }
    if old.is_list() || retyped {
        return None;
    }
    let required = |f: &FieldDescriptor| f.cardinality() == Cardinality::Required;
    if required(old) != required(new) {
        let word = |f: &FieldDescriptor| if required(f) { "required" } else { "optional" };
        return Some(format!("changed from `{}` to `{}`", word(old), word(new)));
    }
    if real_oneof(old).is_none()
        && real_oneof(new).is_none()
        && old.supports_presence() != new.supports_presence()
    {
        return Some(if new.supports_presence() {
            "gained explicit presence (`optional`): consumers now see `Option<T>`".to_owned()
        } else {
            "lost explicit presence (`optional`): an unset value now reads as the default"
                .to_owned()
        });
    }
    None
}

/// How a field moved into, out of or between oneofs; a oneof renamed as a whole is not a move.
pub(super) fn oneof_change(
    old_msg: &MessageDescriptor,
    new_msg: &MessageDescriptor,
    old: &FieldDescriptor,
    new: &FieldDescriptor,
) -> Option<String> {
    match (real_oneof(old), real_oneof(new)) {
        (None, None) => None,
        (None, Some(o)) => Some(format!("moved into oneof `{}`", o.name())),
        (Some(o), None) => Some(format!("moved out of oneof `{}`", o.name())),
        (Some(a), Some(b)) => {
            if a.name() == b.name() {
                return None;
            }
            let has = |m: &MessageDescriptor, name: &str| {
                m.oneofs().any(|o| !o.is_synthetic() && o.name() == name)
            };
            (has(new_msg, a.name()) || has(old_msg, b.name()))
                .then(|| format!("moved from oneof `{}` to oneof `{}`", a.name(), b.name()))
        }
    }
}

/// Whether `start..=end` is inside the union of `ranges` (inclusive).
pub(super) fn covered(start: i64, end: i64, ranges: &[(i64, i64)]) -> bool {
    let mut sorted = ranges.to_vec();
    sorted.sort_unstable();
    let mut next = start;
    for (s, e) in sorted {
        if s > next {
            break;
        }
        if e >= next {
            if e >= end {
                return true;
            }
            next = e + 1;
        }
    }
    false
}

/// Reserved numbers as a person reads them: `the number 5`, `the numbers 5 to 7`,
/// `the numbers 100 to max`.
pub(super) fn numbers(start: i64, end: i64, max: i64) -> String {
    match (start == end, end == max) {
        (true, _) => format!("the number {start}"),
        (false, true) => format!("the numbers {start} to max"),
        (false, false) => format!("the numbers {start} to {end}"),
    }
}

/// Reserved numbers in an accepted-breaks target: `5`, `5-7`.
pub(super) fn range_target(start: i64, end: i64) -> String {
    if start == end {
        start.to_string()
    } else {
        format!("{start}-{end}")
    }
}

#[cfg(test)]
mod tests {
    use super::covered;

    #[test]
    fn ranges_are_covered_by_their_union() {
        assert!(covered(5, 7, &[(5, 7)]));
        assert!(covered(5, 7, &[(7, 9), (4, 6)]));
        assert!(covered(6, 6, &[(1, 10)]));
        assert!(!covered(5, 7, &[(5, 6)]));
        assert!(!covered(5, 7, &[(5, 5), (7, 7)]));
        assert!(!covered(5, 5, &[]));
    }
}
