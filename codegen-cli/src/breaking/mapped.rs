//! The field mappings of an integration event in both versions: fields that were mapped
//! and are now left at their default, constants that changed.

use indexmap::IndexMap;
use prost_reflect::{EnumDescriptor, Kind, MessageDescriptor};
use serde_saphyr::Spanned;

use super::side::Side;
use super::{Breaks, baseline_note};
use crate::rules;
use crate::table::{FieldSource, Key, VariantTarget};

/// How a field's value is given, as far as the contract is concerned.
enum Source<'t> {
    /// Left at its default.
    Default,
    /// A constant.
    Const(&'t Spanned<String>),
    /// A nested message mapped field by field (`from` + `fields`).
    Nested(&'t IndexMap<Key, Spanned<FieldSource>>, String),
    /// A domain enum mapped variant by variant (`enum:` + `values:`).
    Enum(&'t IndexMap<Key, Spanned<String>>, String),
    /// A oneof set from a domain enum variant by variant (`enum:` + `variants:`).
    Variants(&'t IndexMap<Key, Spanned<VariantTarget>>, String),
    /// Mapped from the domain event or the envelope; how, as written.
    Mapped(String),
    /// Not a valid source (`eventmap check` reports it).
    Invalid,
}

impl Source<'_> {
    fn of(source: &Spanned<FieldSource>) -> Source<'_> {
        let FieldSource::Spec(spec) = &source.value else {
            return Source::Default;
        };
        if spec.default.as_ref().is_some_and(|d| d.value) {
            return Source::Default;
        }
        if let Some(constant) = &spec.constant {
            return Source::Const(constant);
        }
        // `with`, `fields`, `mapping` and `variants` without `from` take the whole domain
        // value in scope.
        let whole = spec.with.is_some()
            || spec.fields.is_some()
            || spec.mapping.is_some()
            || spec.variants.is_some();
        if spec.from.is_some() || whole {
            let from = match (&spec.from, &spec.with, &spec.mapping) {
                (Some(from), _, _) => format!("from: {}", from.value),
                (None, Some(with), _) => format!("with: {}", with.value),
                (None, None, Some(mapping)) => format!("mapping: {}", mapping.value),
                (None, None, None) => "from: self".to_owned(),
            };
            return match (&spec.fields, &spec.values, &spec.variants) {
                (Some(fields), _, _) => Source::Nested(fields, from),
                (None, Some(values), _) => Source::Enum(values, from),
                (None, None, Some(variants)) => Source::Variants(variants, from),
                (None, None, None) => Source::Mapped(from),
            };
        }
        match &spec.envelope {
            Some(envelope) => Source::Mapped(format!("envelope: {}", envelope.value)),
            None => Source::Invalid,
        }
    }

    /// How the value was mapped, when it was.
    fn mapped(&self) -> Option<String> {
        match self {
            Source::Const(c) => Some(format!("const: {}", c.value)),
            Source::Nested(_, from)
            | Source::Enum(_, from)
            | Source::Variants(_, from)
            | Source::Mapped(from) => Some(from.clone()),
            Source::Default | Source::Invalid => None,
        }
    }
}

/// What the walk over an integration event's field mappings needs.
pub(crate) struct Walk<'a, 's> {
    pub base: &'a Side<'s>,
    pub cur: &'a Side<'s>,
    /// The integration event, by its baseline name.
    pub event: &'a str,
    pub out: &'a mut Breaks,
}

/// Fields that were mapped and are now defaulted, and constants that changed, recursively
/// through nested mappings. `path` is the target of the enclosing mapping,
/// `was_message` and `message` the baseline and current proto message it fills (to compare
/// constants and enum values by value).
pub(crate) fn fields(
    walk: &mut Walk<'_, '_>,
    path: &str,
    was_message: Option<&MessageDescriptor>,
    message: Option<&MessageDescriptor>,
    old: &IndexMap<Key, Spanned<FieldSource>>,
    new: &IndexMap<Key, Spanned<FieldSource>>,
) {
    let event = walk.event;
    for (key, old_source) in old {
        let Some(new_source) = new.get(key.as_str()) else {
            continue;
        };
        let kind_in = |m: Option<&MessageDescriptor>| {
            m.and_then(|m| m.get_field_by_name(key.as_str()))
                .map(|f| f.kind())
        };
        let (was_kind, kind) = (kind_in(was_message), kind_in(message));
        let target = format!("{path}.{}", key.as_str());
        let field = target
            .strip_prefix(event)
            .and_then(|f| f.strip_prefix('.'))
            .unwrap_or(&target)
            .to_owned();
        let pair = Pair {
            key: key.as_str(),
            target,
            field,
            old: old_source,
            new: new_source,
        };
        let was = Source::of(old_source);
        match (&was, Source::of(new_source)) {
            (_, Source::Default) => {
                if let Some(mapped) = was.mapped() {
                    defaulted(walk, pair, &mapped);
                }
            }
            (Source::Const(a), Source::Const(b))
                if !same_const(kind.as_ref(), &a.value, &b.value) =>
            {
                const_changed(walk, pair, a, b);
            }
            (Source::Enum(a, _), Source::Enum(b, _)) => {
                let enums = (enum_of(was_kind.as_ref()), enum_of(kind.as_ref()));
                enum_values_changed(walk, &pair, enums, a, b);
            }
            (Source::Variants(a, _), Source::Variants(b, _)) => {
                oneof_variants_changed(walk, &pair, a, b);
            }
            (Source::Nested(a, _), Source::Nested(b, _)) => {
                let nested = |kind: &Option<Kind>| match kind {
                    Some(Kind::Message(m)) => Some(m.clone()),
                    _ => None,
                };
                let (was_nested, nested) = (nested(&was_kind), nested(&kind));
                fields(
                    walk,
                    &pair.target,
                    was_nested.as_ref(),
                    nested.as_ref(),
                    a,
                    b,
                );
            }
            _ => {}
        }
    }
}

/// A field mapped in both versions.
struct Pair<'a> {
    /// The field, as the table keys it.
    key: &'a str,
    /// The break's target (`Event.path.field`).
    target: String,
    /// The field's path in the integration event.
    field: String,
    /// Its baseline source.
    old: &'a Spanned<FieldSource>,
    /// Its current source.
    new: &'a Spanned<FieldSource>,
}

/// Reports field `pair`, mapped (`mapped`) and now left at its default
/// (rule `breaking-field-defaulted`).
fn defaulted(walk: &mut Walk<'_, '_>, pair: Pair<'_>, mapped: &str) {
    let Walk {
        base, cur, event, ..
    } = *walk;
    let field = &pair.field;
    let d = walk.out.add(
        rules::BREAKING_FIELD_DEFAULTED,
        pair.target,
        format!(
            "field `{field}` of integration event `{event}` was mapped (`{mapped}`) and is now left at its default"
        ),
        cur.loc(pair.new.referenced),
    );
    d.notes.push(baseline_note(
        "it was mapped here",
        base.loc(pair.old.referenced),
    ));
    d.hint = Some(format!("map it again: `{}: {{ {mapped} }}`", pair.key));
}

/// Reports the constant of field `pair`, changed from `a` to `b`
/// (rule `breaking-const-changed`).
fn const_changed(
    walk: &mut Walk<'_, '_>,
    pair: Pair<'_>,
    a: &Spanned<String>,
    b: &Spanned<String>,
) {
    let Walk {
        base, cur, event, ..
    } = *walk;
    let field = &pair.field;
    let d = walk.out.add(
        rules::BREAKING_CONST_CHANGED,
        pair.target,
        format!(
            "the constant of field `{field}` of integration event `{event}` changed from `{}` to `{}`",
            a.value, b.value
        ),
        cur.loc(b.referenced),
    );
    d.notes
        .push(baseline_note("it was set here", base.loc(a.referenced)));
    d.hint = Some(format!("keep `const: {}`", a.value));
}

/// The enum type of a field of `kind`, when it is one.
fn enum_of(kind: Option<&Kind>) -> Option<EnumDescriptor> {
    match kind {
        Some(Kind::Enum(e)) => Some(e.clone()),
        _ => None,
    }
}

/// Reports the variants of the domain enum mapped to field `pair` (`values:`) that map to
/// another value from `a` to `b`. Values compare by number, each name resolved in its side's
/// enum (`enums`, baseline and current): with `option allow_alias = true;` a variant moved
/// from a value to its alias (`REFUND_REASON_FRAUD = 2; FRAUD = 2;`) is sent as the same
/// number and is no break. A name that does not resolve compares as written.
fn enum_values_changed(
    walk: &mut Walk<'_, '_>,
    pair: &Pair<'_>,
    enums: (Option<EnumDescriptor>, Option<EnumDescriptor>),
    a: &IndexMap<Key, Spanned<String>>,
    b: &IndexMap<Key, Spanned<String>>,
) {
    let values = |map: &'_ IndexMap<Key, Spanned<String>>, e: &Option<EnumDescriptor>| {
        map.iter()
            .map(|(k, v)| {
                let number = e
                    .as_ref()
                    .and_then(|e| e.get_value_by_name(&v.value))
                    .map(|v| v.number());
                (k.as_str().to_owned(), v.value.clone(), number, v.referenced)
            })
            .collect::<Vec<Arm>>()
    };
    let (field, event) = (&pair.field, walk.event);
    let changed = Changed {
        target: &pair.target,
        what: format!("field `{field}` of integration event `{event}`"),
        now_at: pair.new.referenced,
        verb: "maps to",
        keep: |variant, was| format!("keep `{variant}: {was}`: consumers read the proto value"),
    };
    variants_changed(walk, &changed, &values(a, &enums.0), &values(b, &enums.1));
}

/// Reports the variants of the domain enum setting oneof `pair` (`variants:`) that fill
/// another member from `a` to `b`.
fn oneof_variants_changed(
    walk: &mut Walk<'_, '_>,
    pair: &Pair<'_>,
    a: &IndexMap<Key, Spanned<VariantTarget>>,
    b: &IndexMap<Key, Spanned<VariantTarget>>,
) {
    let members = |map: &'_ IndexMap<Key, Spanned<VariantTarget>>| -> Vec<Arm> {
        map.iter()
            .map(|(k, v)| (k.as_str().to_owned(), member(&v.value), None, v.referenced))
            .collect()
    };
    let (field, event) = (&pair.field, walk.event);
    let changed = Changed {
        target: &pair.target,
        what: format!("oneof `{field}` of integration event `{event}`"),
        now_at: pair.new.referenced,
        verb: "fills",
        keep: |variant, was| {
            format!("keep `{variant}` filling `{was}`: consumers read the member that is set")
        },
    };
    variants_changed(walk, &changed, &members(a), &members(b));
}

/// One variant of a domain enum as a table maps it: (variant, what it maps to as written,
/// the proto enum value's number when known, where).
type Arm = (String, String, Option<i32>, serde_saphyr::Location);

/// The member a oneof variant fills (`none` when it leaves the oneof unset).
fn member(target: &VariantTarget) -> String {
    match target {
        VariantTarget::Member(entries) => entries
            .keys()
            .next()
            .map_or_else(|| "none".to_owned(), |k| k.as_str().to_owned()),
        VariantTarget::Unset => "none".to_owned(),
    }
}

/// How the variants of one domain enum mapping are reported when they change.
struct Changed<'a> {
    /// The break's target prefix (`Event.field`).
    target: &'a str,
    /// The mapped field or oneof, in words.
    what: String,
    /// Where the current mapping is (for a variant no longer mapped).
    now_at: serde_saphyr::Location,
    /// `maps to` (enum values) or `fills` (oneof members).
    verb: &'static str,
    /// The hint, from the variant and what it mapped to.
    keep: fn(&str, &str) -> String,
}

/// Reports each variant of `old` that maps to something else in `new` (another name, unless
/// both names resolve to the same proto enum number: an `allow_alias` alias), or is no longer
/// mapped (rule `breaking-enum-mapping-changed`).
fn variants_changed(walk: &mut Walk<'_, '_>, changed: &Changed<'_>, old: &[Arm], new: &[Arm]) {
    let Walk { base, cur, .. } = *walk;
    for (variant, was, was_number, was_at) in old {
        let now = new.iter().find(|(v, ..)| v == variant);
        let same = |(_, value, number, _): &Arm| {
            value == was || (number.is_some() && number == was_number)
        };
        if now.is_some_and(same) {
            continue;
        }
        let (message, at) = match now {
            Some((_, value, _, at)) => (
                format!(
                    "variant `{variant}` of {} {} `{value}` instead of `{was}`",
                    changed.what, changed.verb
                ),
                cur.loc(*at),
            ),
            None => (
                format!(
                    "variant `{variant}` of {} ({} `{was}`) is no longer mapped",
                    changed.what,
                    if changed.verb == "fills" {
                        "filling"
                    } else {
                        "mapped to"
                    }
                ),
                cur.loc(changed.now_at),
            ),
        };
        let d = walk.out.add(
            rules::BREAKING_ENUM_MAPPING_CHANGED,
            format!("{}.{variant}", changed.target),
            message,
            at,
        );
        d.notes
            .push(baseline_note("it was mapped here", base.loc(*was_at)));
        d.hint = Some((changed.keep)(variant, was));
    }
}

/// Whether two constants as written are the same value for a field of `kind`: the same
/// number for numeric fields (`7` and `07`, `1.5` and `1.50`), the same text otherwise.
fn same_const(kind: Option<&Kind>, a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    match kind {
        Some(Kind::Float | Kind::Double) => matches!(
            (a.trim().parse::<f64>(), b.trim().parse::<f64>()),
            (Ok(x), Ok(y)) if x == y
        ),
        Some(Kind::Message(_) | Kind::Enum(_) | Kind::String | Kind::Bytes | Kind::Bool) | None => {
            false
        }
        Some(_) => matches!(
            (a.trim().parse::<i128>(), b.trim().parse::<i128>()),
            (Ok(x), Ok(y)) if x == y
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::same_const;

    use prost_reflect::Kind;

    #[test]
    fn constants_compare_by_value_of_their_type() {
        assert!(same_const(None, "7", "7"));
        assert!(same_const(Some(&Kind::Int32), "7", "07"));
        assert!(same_const(Some(&Kind::Double), "1.50", "1.5"));
        assert!(!same_const(Some(&Kind::String), "7", "07"));
        assert!(!same_const(None, "7", "07"));
        assert!(!same_const(Some(&Kind::String), "EUR", "USD"));
        assert!(!same_const(Some(&Kind::String), " a", "a"));
    }
}
