//! A oneof set from a domain enum, variant by variant (`<oneof>: { from, enum, variants }`
//! under `fields:`, or `mapping:` naming a oneof mapping).

use indexmap::IndexMap;
use prost_reflect::{FieldDescriptor, OneofDescriptor};
use serde_saphyr::{Location, Spanned};

use super::Validator;
use super::mappings::{NamedKind, kind};
use super::suggest::{list, suggest};
use crate::model::{Field, OneofArm, OneofMember, Shape, Value};
use crate::rules;
use crate::rust_names;
use crate::table::{FieldSource, FieldSpec, Key, Table, VariantTarget};

/// A oneof's domain enum (its Rust path) and its `variants:`.
type OneofEnum<'t> = (
    &'t Spanned<String>,
    &'t IndexMap<Key, Spanned<VariantTarget>>,
);

impl Validator<'_> {
    /// Checks the oneof `oneof` keyed by its own name: `default` leaves it unset (its members
    /// need no key), a spec sets it from a domain enum. The field returned stands for the
    /// whole oneof; `None` when it is left unset or has errors.
    pub(super) fn oneof(
        &mut self,
        table: &Table,
        oneof: &OneofDescriptor,
        key: &Key,
        source: &Spanned<FieldSource>,
    ) -> Option<Field> {
        let at = source.referenced;
        let spec = match &source.value {
            FieldSource::Default => return None,
            FieldSource::Spec(spec) if spec.default.as_ref().is_some_and(|d| d.value) => {
                return None;
            }
            FieldSource::Spec(spec) => spec,
        };
        self.oneof_keys(oneof, spec, at)?;
        let (rust_type, variants) = self.oneof_enum(table, oneof, spec, at)?;
        let path = match &spec.from {
            Some(from) => self.domain_path(from)?,
            None => Vec::new(),
        };
        if !self.rust_path(rust_type, "domain enum") {
            return None;
        }
        let arms = self.oneof_arms(table, oneof, rust_type, variants)?;
        let enum_path = self.oneof_enum_path(table, oneof);
        Some(Field {
            proto_name: oneof.name().to_owned(),
            rust_name: rust_names::field_ident(oneof.name()),
            shape: Shape::Singular,
            value: Value::Oneof {
                path,
                rust_type: rust_type.value.clone(),
                enum_path: enum_path.clone(),
                arms,
                declared: self.cx.loc(rust_type.referenced),
            },
            oneof: Some(OneofMember {
                oneof: rust_names::field_ident(oneof.name()),
                enum_path,
                variant: String::new(),
            }),
            location: self.cx.loc(key.location()),
            prost_type: None,
        })
    }

    /// Refuses the keys a oneof set from a domain enum does not take.
    fn oneof_keys(
        &mut self,
        oneof: &OneofDescriptor,
        spec: &FieldSpec,
        at: Location,
    ) -> Option<()> {
        let misplaced = [
            (spec.with.is_some(), "with"),
            (spec.envelope.is_some(), "envelope"),
            (spec.constant.is_some(), "const"),
            (spec.default.is_some(), "default"),
            (spec.fields.is_some(), "fields"),
            (spec.checked.is_some(), "checked"),
            (spec.values.is_some(), "values"),
        ];
        if let Some((_, what)) = misplaced.iter().find(|(present, _)| *present) {
            self.cx.error(
                rules::INVALID_FIELD_SOURCE,
                at,
                format!(
                    "`{}` is a oneof: it is set from a domain enum with `from`, `enum` and `variants` (or `mapping`), not with `{what}`",
                    oneof.name()
                ),
            )
            .hint = Some(format!(
                "map one member instead (`{}: ...`), or write `{}: default` to leave the oneof unset",
                oneof.fields().next().map_or_else(String::new, |f| f.name().to_owned()),
                oneof.name()
            ));
            return None;
        }
        Some(())
    }

    /// The domain enum and the `variants:` that set a oneof: written on the oneof, or those of
    /// the named oneof mapping it names.
    fn oneof_enum<'t>(
        &mut self,
        table: &'t Table,
        oneof: &OneofDescriptor,
        spec: &'t FieldSpec,
        at: Location,
    ) -> Option<OneofEnum<'t>> {
        Some(match (&spec.mapping, &spec.enum_type, &spec.variants) {
            (Some(name), None, None) => {
                let (named_key, mapping) = self.named(table, name)?;
                match (kind(mapping), &mapping.enum_type, &mapping.variants) {
                    (NamedKind::Oneof, Some(rust_type), Some(variants)) => (rust_type, variants),
                    (NamedKind::Invalid(_), _, _) => return None,
                    _ => {
                        let declared = self.cx.loc(named_key.location());
                        let d = self.cx.error(
                            rules::MAPPING_MISMATCH,
                            name.referenced,
                            format!(
                                "`{}` is a oneof; mapping `{}` is not a oneof mapping (`enum` + `variants`)",
                                oneof.name(),
                                name.value
                            ),
                        );
                        d.notes
                            .push(("the mapping is declared here".into(), declared));
                        return None;
                    }
                }
            }
            (None, Some(rust_type), Some(variants)) => (rust_type, variants),
            _ => {
                self.cx.error(
                    rules::INVALID_FIELD_SOURCE,
                    at,
                    format!(
                        "oneof `{}` is set from a domain enum: it needs `enum` and `variants` (or only `mapping`)",
                        oneof.name()
                    ),
                )
                .hint = Some("`from: kind`, `enum: crate::domain::Kind`, `variants: { Variant: { member: { ... } } }`".into());
                return None;
            }
        })
    }

    /// The arms of `variants:`: each variant leaves the oneof unset (`none`) or fills one of
    /// its members, whose value is checked like a field's, rooted at the variant's content.
    fn oneof_arms(
        &mut self,
        table: &Table,
        oneof: &OneofDescriptor,
        rust_type: &Spanned<String>,
        variants: &IndexMap<Key, Spanned<VariantTarget>>,
    ) -> Option<Vec<OneofArm>> {
        if variants.is_empty() {
            self.cx.error(
                rules::ONEOF_VARIANT,
                rust_type.referenced,
                "`variants` maps no variant",
            )
            .hint = Some(
                "map every variant of the domain enum: `Variant: { member: { ... } }` or `Variant: none`"
                    .into(),
            );
            return None;
        }
        let members: Vec<String> = oneof.fields().map(|f| f.name().to_owned()).collect();
        let mut arms = Vec::new();
        let mut ok = true;
        for (variant, target) in variants {
            match self.oneof_arm(table, oneof, &members, variant, target) {
                Some(arm) => arms.push(arm),
                None => ok = false,
            }
        }
        ok.then_some(arms)
    }

    /// One arm of `variants:`: the variant leaves the oneof unset, or fills one member.
    fn oneof_arm(
        &mut self,
        table: &Table,
        oneof: &OneofDescriptor,
        members: &[String],
        variant: &Key,
        target: &Spanned<VariantTarget>,
    ) -> Option<OneofArm> {
        if !self.variant_name(variant) {
            return None;
        }
        let entries = match &target.value {
            VariantTarget::Unset => {
                return Some(OneofArm {
                    variant: variant.as_str().to_owned(),
                    member: None,
                });
            }
            VariantTarget::Member(entries) => entries,
        };
        let (member_key, member_source) = self.filled_member(oneof, variant, target, entries)?;
        let member = self.oneof_member(oneof, members, member_key)?;
        let location = self.cx.loc(member_key.location());
        let field = self.field(table, &member, member_source, location, true)?;
        Some(OneofArm {
            variant: variant.as_str().to_owned(),
            member: Some(Box::new(field)),
        })
    }

    /// The one member that `variant` fills (`entries`, its `target`): a oneof holds one.
    fn filled_member<'e>(
        &mut self,
        oneof: &OneofDescriptor,
        variant: &Key,
        target: &Spanned<VariantTarget>,
        entries: &'e IndexMap<Key, Spanned<FieldSource>>,
    ) -> Option<(&'e Key, &'e Spanned<FieldSource>)> {
        let filled = entries.len();
        let mut entries = entries.iter();
        let (Some((member_key, member_source)), None) = (entries.next(), entries.next()) else {
            self.cx
                .error(
                    rules::ONEOF_VARIANT,
                    target.referenced,
                    format!(
                        "variant `{}` fills {} members: a oneof holds exactly one",
                        variant.as_str(),
                        if filled == 0 { "no" } else { "several" }
                    ),
                )
                .hint = Some(format!(
                "write `{}: {{ <member>: <source> }}` with one member of `{}`, or `{}: none`",
                variant.as_str(),
                oneof.name(),
                variant.as_str()
            ));
            return None;
        };
        Some((member_key, member_source))
    }

    /// The member of `oneof` named `member_key` (`members`: the names of them all).
    fn oneof_member(
        &mut self,
        oneof: &OneofDescriptor,
        members: &[String],
        member_key: &Key,
    ) -> Option<FieldDescriptor> {
        let Some(member) = oneof.fields().find(|f| f.name() == member_key.as_str()) else {
            let hint = suggest(member_key.as_str(), members.iter().map(String::as_str))
                .map(|s| format!("did you mean `{s}`?"))
                .unwrap_or_else(|| format!("members of `{}`: {}", oneof.name(), list(members)));
            self.cx
                .error(
                    rules::ONEOF_VARIANT,
                    member_key.location(),
                    format!(
                        "`{}` is not a member of the oneof `{}`",
                        member_key.as_str(),
                        oneof.name()
                    ),
                )
                .hint = Some(hint);
            return None;
        };
        Some(member)
    }
}
