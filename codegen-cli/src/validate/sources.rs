//! Field sources: `from`, `envelope`, `const` or `default`, and the keys that go with them.

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};
use serde_saphyr::{Location, Spanned};

use super::Validator;
use super::constants::const_literal;
use super::proto_types::{PRIMITIVE_WRAPPERS, WELL_KNOWN_PACKAGE, describe, identity_message};
use crate::model::{Conversion, Shape, Value};
use crate::rules;
use crate::rust_names;
use crate::table::{FieldSpec, Table};

impl Validator<'_> {
    /// Checks one field's source written as a mapping (`{ from: ..., ... }`): its keys, then
    /// the value it gives the field.
    pub(super) fn field_spec(
        &mut self,
        table: &Table,
        field: &FieldDescriptor,
        shape: Shape,
        spec: &FieldSpec,
        at: Location,
    ) -> Option<Value> {
        let whole = self.source_choice(field, spec, at)?;
        self.source_keys(field, spec, at)?;
        if let Some(default) = &spec.default {
            if !default.value {
                self.cx
                    .error(
                        rules::INVALID_FIELD_SOURCE,
                        default.referenced,
                        "`default: false` means nothing; map the field instead",
                    )
                    .hint = Some("write `default` or `{ default: true }`".into());
                return None;
            }
            return Some(Value::Default);
        }
        if spec.from.is_some() || whole {
            return self.domain_value(table, field, spec, at);
        }
        if let Some(envelope) = &spec.envelope {
            return self.envelope(field, shape, envelope);
        }
        if let Some(constant) = &spec.constant {
            return self.constant(field, shape, constant);
        }
        None
    }

    /// Checks that a field has exactly one source (`from`, `envelope`, `const` or `default`);
    /// returns whether it converts the whole domain value in scope (`with`, `fields` or
    /// `mapping` without `from`).
    fn source_choice(
        &mut self,
        field: &FieldDescriptor,
        spec: &FieldSpec,
        at: Location,
    ) -> Option<bool> {
        // `with`, `fields` and `mapping` without `from` take the whole domain value in scope.
        let converts = [
            (spec.with.is_some(), "with"),
            (spec.fields.is_some(), "fields"),
            (spec.mapping.is_some(), "mapping"),
        ];
        let other_source =
            spec.envelope.is_some() || spec.constant.is_some() || spec.default.is_some();
        if spec.from.is_none()
            && other_source
            && let Some((_, key)) = converts.iter().find(|(present, _)| *present)
        {
            self.cx.error(
                    rules::INVALID_FIELD_SOURCE,
                    at,
                    format!(
                        "`{key}` converts a domain value (`from`, or without `from` the whole value in scope); it cannot take `envelope`, `const` or `default`"
                    ),
                );
            return None;
        }
        let whole = spec.from.is_none() && converts.iter().any(|(present, _)| *present);
        let chosen = [
            spec.from.is_some() || whole,
            spec.envelope.is_some(),
            spec.constant.is_some(),
            spec.default.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if chosen != 1 {
            self.cx.error(
                rules::INVALID_FIELD_SOURCE,
                at,
                format!(
                    "field `{}` needs exactly one of `from`, `envelope`, `const`, `default` (found {chosen})",
                    field.name()
                ),
            )
            .hint = (chosen == 0).then(|| {
                "`from: self` takes the whole domain value in scope (the event, an element, a variant's content)".into()
            });
            return None;
        }
        Some(whole)
    }

    /// Checks the keys that go with a source: `checked`, `enum` and `values` need `from`,
    /// conversions exclude each other, no `variants` on a field, no `envelope` in a named
    /// mapping.
    fn source_keys(
        &mut self,
        field: &FieldDescriptor,
        spec: &FieldSpec,
        at: Location,
    ) -> Option<()> {
        self.keys_need_from(spec, at)?;
        self.no_variants_on_field(field, spec, at)?;
        self.one_conversion(field, spec, at)?;
        self.no_envelope_in_mapping(spec)
    }

    /// Checks that `checked`, `enum` and `values` come with `from`.
    fn keys_need_from(&mut self, spec: &FieldSpec, at: Location) -> Option<()> {
        for (present, key) in [
            (spec.checked.is_some(), "checked"),
            (spec.enum_type.is_some(), "enum"),
            (spec.values.is_some(), "values"),
        ] {
            if present && spec.from.is_none() {
                self.cx
                    .error(
                        rules::INVALID_FIELD_SOURCE,
                        at,
                        format!("`{key}` needs `from`"),
                    )
                    .hint = Some("`from: self` takes the whole domain value in scope".into());
                return None;
            }
        }
        Some(())
    }

    /// Checks that a field has no `variants` (which map a domain enum onto a oneof).
    fn no_variants_on_field(
        &mut self,
        field: &FieldDescriptor,
        spec: &FieldSpec,
        at: Location,
    ) -> Option<()> {
        if let Some(variants) = &spec.variants {
            self.cx.error(
                rules::INVALID_FIELD_SOURCE,
                variants.first().map_or(at, |(k, _)| k.location()),
                format!(
                    "`variants` maps a domain enum onto a oneof; `{}` is a field: write `variants` under the oneof's name",
                    field.name()
                ),
            );
            return None;
        }
        Some(())
    }

    /// Checks that a field has one conversion at most (`fields`, `checked`, `enum` with its
    /// `values`, `mapping`), and no `enum` on a map field.
    fn one_conversion(
        &mut self,
        field: &FieldDescriptor,
        spec: &FieldSpec,
        at: Location,
    ) -> Option<()> {
        if spec.enum_type.is_some() != spec.values.is_some() {
            self.cx.error(rules::INVALID_FIELD_SOURCE, at, "`enum` and `values` go together")
                .hint = Some("`enum: crate::domain::Status` names the domain enum, `values:` maps each of its variants to a proto value name".into());
            return None;
        }
        let conversions = [
            spec.fields.is_some(),
            spec.checked.is_some(),
            spec.enum_type.is_some(),
            spec.mapping.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if conversions > 1 {
            self.cx.error(
                rules::INVALID_FIELD_SOURCE,
                at,
                "`fields`, `checked`, `enum` and `mapping` exclude each other",
            );
            return None;
        }
        if field.is_map() && spec.enum_type.is_some() {
            self.cx.error(
                rules::UNSUPPORTED_FIELD,
                at,
                format!(
                    "map field `{}` converts as a whole with `from` (and `with`), or value by value with `fields` or `mapping`",
                    field.name()
                ),
            );
            return None;
        }
        Some(())
    }

    /// Checks that a field of a named mapping takes no `envelope` value.
    fn no_envelope_in_mapping(&mut self, spec: &FieldSpec) -> Option<()> {
        if let Some(envelope) = &spec.envelope
            && self.in_mapping.is_some()
        {
            self.cx
                .error(
                    rules::INVALID_FIELD_SOURCE,
                    envelope.referenced,
                    "a named mapping converts a domain value alone: it has no event envelope",
                )
                .hint = Some("map the envelope value on the row that uses the mapping".into());
            return None;
        }
        Some(())
    }

    /// A value converted from the domain (`from`, or the whole value in scope): through a named
    /// mapping, nested `fields`, or a conversion (`with`, `checked`, `enum`).
    fn domain_value(
        &mut self,
        table: &Table,
        field: &FieldDescriptor,
        spec: &FieldSpec,
        at: Location,
    ) -> Option<Value> {
        let (path, from_at) = match &spec.from {
            Some(from) => (self.domain_path(from)?, from.referenced),
            None => (Vec::new(), at),
        };
        // A map's values: the value field of its entry message.
        let value_kind = if field.is_map() {
            match field.kind() {
                Kind::Message(entry) => entry.map_entry_value_field().kind(),
                kind => kind,
            }
        } else {
            field.kind()
        };
        if let Some(name) = &spec.mapping {
            if spec.with.is_some() {
                // The mapping converts the value itself: a `with:` would be ignored.
                self.cx.error(
                    rules::INVALID_FIELD_SOURCE,
                    at,
                    "`with` and `mapping` cannot be used together",
                )
                .hint = Some(
                    "a message mapping converts the domain value itself; give its `type` the value `from` names"
                        .into(),
                );
                return None;
            }
            return self.use_mapping(table, field, &value_kind, path, name);
        }
        if spec.fields.is_some() {
            return self.nested(table, field, spec, value_kind, (path, from_at), at);
        }
        let with = match &spec.with {
            Some(w) => {
                if !self.rust_path(w, "conversion function") {
                    return None;
                }
                Some(w.value.clone())
            }
            None => None,
        };
        let conversion = self.conversion(table, field, spec, &with)?;
        Some(Value::Domain {
            path,
            with,
            conversion,
        })
    }

    /// A message value built field by field (`fields:`), from the domain value at `from`
    /// (its path and where it is written).
    fn nested(
        &mut self,
        table: &Table,
        field: &FieldDescriptor,
        spec: &FieldSpec,
        value_kind: Kind,
        from: (Vec<String>, Location),
        at: Location,
    ) -> Option<Value> {
        let Some(nested) = &spec.fields else {
            return None;
        };
        let (path, from_at) = from;
        let message = self.nested_message(field, value_kind, at)?;
        if spec.with.is_some() {
            self.cx.error(
                rules::INVALID_FIELD_SOURCE,
                at,
                "`with` and `fields` cannot be used together",
            );
            return None;
        }
        let fields = self.fields(table, &message, nested, from_at);
        Some(Value::Nested {
            path,
            message: self.message_type(table, &message),
            fields,
            map: field.is_map(),
        })
    }

    /// The message that `fields:` builds: the field's (or its map values') message type,
    /// neither a scalar nor a well-known wrapper of one.
    fn nested_message(
        &mut self,
        field: &FieldDescriptor,
        value_kind: Kind,
        at: Location,
    ) -> Option<MessageDescriptor> {
        let message = match value_kind {
            Kind::Message(m)
                if m.package_name() == WELL_KNOWN_PACKAGE
                    && m.name() != "Empty"
                    && PRIMITIVE_WRAPPERS.contains(&m.name()) =>
            {
                self.cx.error(
                    rules::WELL_KNOWN_TYPE,
                    at,
                    format!(
                        "`{}` is `{}`, which prost represents as a plain Rust value: map it with `from`, not `fields`",
                        field.name(),
                        m.full_name()
                    ),
                );
                return None;
            }
            kind => kind,
        };
        let Kind::Message(message) = message else {
            self.cx.error(
                rules::NESTED_NOT_MESSAGE,
                at,
                if field.is_map() {
                    format!(
                        "the values of map field `{}` are not messages: `fields` maps message values (convert a map of scalars as a whole, with `from`)",
                        field.name()
                    )
                } else {
                    format!(
                        "field `{}` is not a message: `fields` cannot map it",
                        field.name()
                    )
                },
            );
            return None;
        };
        Some(message)
    }

    /// The conversion of a domain value into the field: `checked`, `enum` + `values`, a
    /// `with:` function returning the prost message itself, or `Into`.
    fn conversion(
        &mut self,
        table: &Table,
        field: &FieldDescriptor,
        spec: &FieldSpec,
        with: &Option<String>,
    ) -> Option<Conversion> {
        Some(match (&spec.checked, &spec.enum_type, &spec.values) {
            (Some(checked), _, _) => {
                if !checked.value {
                    Conversion::Into
                } else if field.is_map() {
                    let (key, value) = match field.kind() {
                        Kind::Message(entry) => (
                            describe(&entry.map_entry_key_field()),
                            describe(&entry.map_entry_value_field()),
                        ),
                        _ => (String::new(), String::new()),
                    };
                    self.cx.error(
                        rules::INVALID_FIELD_SOURCE,
                        checked.referenced,
                        format!(
                            "`checked` does not apply to a map: `{}` is a `map` (keys {key}, values {value}); to narrow its keys or values, convert the map with a `with:` function returning the prost map",
                            field.name(),
                        ),
                    );
                    return None;
                } else if matches!(
                    field.kind(),
                    Kind::Message(_)
                        | Kind::String
                        | Kind::Bytes
                        | Kind::Bool
                        | Kind::Enum(_)
                        | Kind::Float
                        | Kind::Double
                ) {
                    self.cx.error(
                        rules::INVALID_FIELD_SOURCE,
                        checked.referenced,
                        format!(
                            "`checked` is for integers (no float narrowing is offered); `{}` is {}",
                            field.name(),
                            describe(field)
                        ),
                    );
                    return None;
                } else {
                    Conversion::Checked
                }
            }
            (None, Some(rust_type), Some(values)) => {
                self.enum_conversion(field, rust_type, values, None)?
            }
            // A `with:` function into a field of a prost message type (not a well-known
            // type, which convert from std types) returns that message itself.
            _ => match (&with, identity_message(field)) {
                (Some(_), Some(message)) => Conversion::Identity {
                    message: self.message_type(table, &message).rust_path,
                    map: field.is_map(),
                },
                _ => Conversion::Into,
            },
        })
    }

    /// A constant (`const:`) parsed for the field's type.
    fn constant(
        &mut self,
        field: &FieldDescriptor,
        shape: Shape,
        constant: &Spanned<String>,
    ) -> Option<Value> {
        if shape == Shape::Repeated {
            self.cx.error(
                rules::INVALID_CONST,
                constant.referenced,
                format!("repeated field `{}` cannot take a constant", field.name()),
            );
            return None;
        }
        match const_literal(field, &constant.value) {
            Ok(lit) => Some(Value::Const(lit)),
            Err(why) => {
                let hint = match field.kind() {
                    Kind::Enum(_) => {
                        "write one of these values by its proto name (as in the .proto, not prost's Rust variant name)"
                    }
                    Kind::String | Kind::Bytes => "quote the text",
                    _ => "write a literal of the field's type, e.g. `42`, `-1.5`, `true`",
                };
                self.cx
                    .error(
                        rules::INVALID_CONST,
                        constant.referenced,
                        format!(
                            "`{}` is not a valid value for field `{}`: {why}",
                            constant.value,
                            field.name()
                        ),
                    )
                    .hint = Some(hint.into());
                None
            }
        }
    }

    pub(super) fn domain_path(&mut self, from: &Spanned<String>) -> Option<Vec<String>> {
        let mut path = Vec::new();
        if from.value == "self" {
            // The whole domain value in scope (no field of a Rust struct can be named `self`).
            return Some(path);
        }
        if from.value.trim().is_empty() {
            self.cx
                .error(
                    rules::INVALID_DOMAIN_PATH,
                    from.referenced,
                    "`from` is empty",
                )
                .hint = Some(
                "name a field of the domain event, e.g. `customer_id` or `total.currency`".into(),
            );
            return None;
        }
        for segment in from.value.split('.') {
            match rust_names::domain_field(segment) {
                Some(ident) => path.push(ident),
                None => {
                    self.cx
                        .error(
                            rules::INVALID_DOMAIN_PATH,
                            from.referenced,
                            format!(
                                "`{}` is not a path of Rust field names (bad segment `{segment}`)",
                                from.value
                            ),
                        )
                        .hint =
                        Some("write field names separated by `.`, e.g. `total.currency`".into());
                    return None;
                }
            }
        }
        Some(path)
    }
}
