//! The field mappings of an integration event in both versions: fields that were mapped
//! and are now left at their default, constants that changed.

use indexmap::IndexMap;
use prost_reflect::{Kind, MessageDescriptor};
use serde_saphyr::Spanned;

use super::side::Side;
use super::{Breaks, baseline_note, rules};
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
/// through nested mappings. `path` is the target of the enclosing mapping, `message` the
/// current proto message it fills (to compare constants by value).
pub(crate) fn fields(
    walk: &mut Walk<'_, '_>,
    path: &str,
    message: Option<&MessageDescriptor>,
    old: &IndexMap<Key, Spanned<FieldSource>>,
    new: &IndexMap<Key, Spanned<FieldSource>>,
) {
    let Walk {
        base, cur, event, ..
    } = *walk;
    for (key, old_source) in old {
        let Some(new_source) = new.get(key.as_str()) else {
            continue;
        };
        let kind = message
            .and_then(|m| m.get_field_by_name(key.as_str()))
            .map(|f| f.kind());
        let target = format!("{path}.{}", key.as_str());
        let field = target
            .strip_prefix(event)
            .and_then(|f| f.strip_prefix('.'))
            .unwrap_or(&target)
            .to_owned();
        let was = Source::of(old_source);
        match (&was, Source::of(new_source)) {
            (_, Source::Default) => {
                let Some(mapped) = was.mapped() else {
                    continue;
                };
                let d = walk.out.add(
                    rules::FIELD_DEFAULTED,
                    target,
                    format!(
                        "field `{field}` of integration event `{event}` was mapped (`{mapped}`) and is now left at its default"
                    ),
                    cur.loc(new_source.referenced),
                );
                d.notes.push(baseline_note(
                    "it was mapped here",
                    base.loc(old_source.referenced),
                ));
                d.hint = Some(format!("map it again: `{}: {{ {mapped} }}`", key.as_str()));
            }
            (Source::Const(a), Source::Const(b))
                if !same_const(kind.as_ref(), &a.value, &b.value) =>
            {
                let d = walk.out.add(
                    rules::CONST_CHANGED,
                    target,
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
            (Source::Enum(a, _), Source::Enum(b, _)) => {
                for (variant, was_value) in a.iter() {
                    let now = b.get_key_value(variant.as_str());
                    if now.is_some_and(|(_, v)| v.value == was_value.value) {
                        continue;
                    }
                    let (message, at) = match now {
                        Some((_, v)) => (
                            format!(
                                "variant `{}` of field `{field}` of integration event `{event}` maps to `{}` instead of `{}`",
                                variant.as_str(),
                                v.value,
                                was_value.value
                            ),
                            cur.loc(v.referenced),
                        ),
                        None => (
                            format!(
                                "variant `{}` of field `{field}` of integration event `{event}` (mapped to `{}`) is no longer mapped",
                                variant.as_str(),
                                was_value.value
                            ),
                            cur.loc(new_source.referenced),
                        ),
                    };
                    let d = walk.out.add(
                        rules::ENUM_MAPPING_CHANGED,
                        format!("{target}.{}", variant.as_str()),
                        message,
                        at,
                    );
                    d.notes.push(baseline_note(
                        "it was mapped here",
                        base.loc(was_value.referenced),
                    ));
                    d.hint = Some(format!(
                        "keep `{}: {}`: consumers read the proto value",
                        variant.as_str(),
                        was_value.value
                    ));
                }
            }
            (Source::Variants(a, _), Source::Variants(b, _)) => {
                for (variant, was) in a.iter() {
                    let member = |target: &VariantTarget| match target {
                        VariantTarget::Unset => "none".to_owned(),
                        VariantTarget::Member(entries) => entries
                            .keys()
                            .next()
                            .map_or_else(|| "none".to_owned(), |k| k.as_str().to_owned()),
                    };
                    let was_member = member(&was.value);
                    let now = b.get_key_value(variant.as_str());
                    if now.is_some_and(|(_, v)| member(&v.value) == was_member) {
                        continue;
                    }
                    let (message, at) = match now {
                        Some((_, v)) => (
                            format!(
                                "variant `{}` of oneof `{field}` of integration event `{event}` fills `{}` instead of `{was_member}`",
                                variant.as_str(),
                                member(&v.value),
                            ),
                            cur.loc(v.referenced),
                        ),
                        None => (
                            format!(
                                "variant `{}` of oneof `{field}` of integration event `{event}` (filling `{was_member}`) is no longer mapped",
                                variant.as_str(),
                            ),
                            cur.loc(new_source.referenced),
                        ),
                    };
                    let d = walk.out.add(
                        rules::ENUM_MAPPING_CHANGED,
                        format!("{target}.{}", variant.as_str()),
                        message,
                        at,
                    );
                    d.notes.push(baseline_note(
                        "it was mapped here",
                        base.loc(was.referenced),
                    ));
                    d.hint = Some(format!(
                        "keep `{}` filling `{was_member}`: consumers read the member that is set",
                        variant.as_str()
                    ));
                }
            }
            (Source::Nested(a, _), Source::Nested(b, _)) => {
                let nested = match &kind {
                    Some(Kind::Message(m)) => Some(m),
                    _ => None,
                };
                fields(walk, &target, nested, a, b);
            }
            _ => {}
        }
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
