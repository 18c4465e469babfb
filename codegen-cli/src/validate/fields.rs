//! Fields: a field map checked against its proto message, and each field's shape.

use std::collections::{HashMap, HashSet};

use indexmap::IndexMap;
use prost_reflect::{Cardinality, FieldDescriptor, Kind, MessageDescriptor, OneofDescriptor};
use serde_saphyr::{Location, Spanned};

use super::Validator;
use super::proto_types::{is_boxed, prost_type, wrapper_scalar};
use super::suggest::{list, suggest};
use crate::diagnostic::SourceLocation;
use crate::model::{Field, OneofMember, Shape, Value};
use crate::rules;
use crate::rust_names;
use crate::table::{FieldSource, Key, Table};

impl Validator<'_> {
    /// Checks a field map against `message` and returns the fields in proto order.
    /// `owner` is where the message is named (for "not mapped" errors).
    pub(super) fn fields(
        &mut self,
        table: &Table,
        message: &MessageDescriptor,
        map: &IndexMap<Key, Spanned<FieldSource>>,
        owner: Location,
    ) -> Vec<Field> {
        let mut out: Vec<Field> = Vec::new();
        let (suggested, whole_oneofs) = self.other_keys(table, message, map, &mut out);
        let mut oneof_chosen: HashMap<String, (String, Location)> = HashMap::new();
        let mut unmapped_oneofs: HashSet<String> = HashSet::new();
        for field in message.fields() {
            if let Some(oneof) = field.containing_oneof()
                && let Some(at) = whole_oneofs.get(oneof.name()).copied()
            {
                self.member_of_whole_oneof(&field, &oneof, at, map);
                continue;
            }
            if !self.one_member_per_oneof(&field, map, &mut oneof_chosen) {
                continue;
            }
            match map.get_key_value(field.name()) {
                Some((key, source)) => {
                    let location = self.cx.loc(key.location());
                    if let Some(f) = self.field(table, &field, source, location, false) {
                        out.push(f);
                    }
                }
                None if suggested.contains(field.name()) => {}
                None => self.unmapped(message, &field, map, owner, &mut unmapped_oneofs),
            }
        }
        out
    }

    /// The keys of `map` that name no field of `message`: a oneof by its name (checked, its
    /// field pushed on `out`), an extension, or an unknown name. Returns the proto fields that
    /// unknown keys probably meant, whose "not mapped" error would only repeat the typo's, and
    /// the oneofs keyed by their own name (set from a domain enum, or left unset, member by
    /// member: their members are then neither required nor allowed as keys), with where.
    fn other_keys(
        &mut self,
        table: &Table,
        message: &MessageDescriptor,
        map: &IndexMap<Key, Spanned<FieldSource>>,
        out: &mut Vec<Field>,
    ) -> (HashSet<String>, HashMap<String, Location>) {
        let mut suggested: HashSet<String> = HashSet::new();
        let mut whole_oneofs: HashMap<String, Location> = HashMap::new();
        for (key, source) in map {
            if message.get_field_by_name(key.as_str()).is_some() {
                continue;
            }
            if let Some(oneof) = message
                .oneofs()
                .find(|o| !o.is_synthetic() && o.name() == key.as_str())
            {
                whole_oneofs.insert(oneof.name().to_owned(), key.location());
                if let Some(field) = self.oneof(table, &oneof, key, source) {
                    out.push(field);
                }
                continue;
            }
            // Refused below: the mappings it names are not checked, nor reported unused.
            self.unchecked_source_uses(&source.value);
            if let Some(extension) = message
                .extensions()
                .find(|e| e.name() == key.as_str() || e.full_name() == key.as_str())
            {
                suggested.insert(key.as_str().to_owned());
                self.cx.error(
                    rules::UNSUPPORTED_PROTO_FEATURE,
                    key.location(),
                    format!(
                        "`{}` is an extension of `{}`: prost generates no field for extensions, so eventmap cannot set it",
                        extension.full_name(),
                        message.full_name()
                    ),
                )
                .hint = Some("remove it, or declare the value as a field of the message".into());
            } else if let Some(name) = self.unknown_field(message, key) {
                suggested.insert(name);
            }
        }
        (suggested, whole_oneofs)
    }

    /// Reports a key that names no field of `message`; returns the field it probably meant.
    fn unknown_field(&mut self, message: &MessageDescriptor, key: &Key) -> Option<String> {
        let names: Vec<String> = message.fields().map(|f| f.name().to_owned()).collect();
        let suggestion = suggest(key.as_str(), names.iter().map(String::as_str));
        let hint = suggestion
            .map(|s| format!("did you mean `{s}`?"))
            .unwrap_or_else(|| format!("fields of `{}`: {}", message.full_name(), list(&names)));
        let note = self.protos.message_location(message);
        let d = self.cx.error(
            rules::UNKNOWN_PROTO_FIELD,
            key.location(),
            format!(
                "proto message `{}` has no field `{}`",
                message.full_name(),
                key.as_str()
            ),
        );
        d.hint = Some(hint);
        d.notes.push((
            format!("message `{}` is defined here", message.full_name()),
            note,
        ));
        suggestion.map(str::to_owned)
    }

    /// Reports a member of a oneof mapped as a whole (at `at`) that is keyed too.
    fn member_of_whole_oneof(
        &mut self,
        field: &FieldDescriptor,
        oneof: &OneofDescriptor,
        at: Location,
        map: &IndexMap<Key, Spanned<FieldSource>>,
    ) {
        if let Some((key, _)) = map.get_key_value(field.name()) {
            let note = self.cx.loc(at);
            let d = self.cx.error(
                rules::ONEOF_CONFLICT,
                key.location(),
                format!(
                    "`{}` is a member of the oneof `{}`, which is mapped as a whole",
                    field.name(),
                    oneof.name()
                ),
            );
            d.notes
                .push((format!("the oneof `{}` is mapped here", oneof.name()), note));
            d.hint = Some(format!(
                "remove `{}` here and map it under the oneof's `variants:`",
                field.name()
            ));
        }
    }

    /// Records the member of a oneof that is mapped (not `default`); reports a second one and
    /// returns false for it.
    fn one_member_per_oneof(
        &mut self,
        field: &FieldDescriptor,
        map: &IndexMap<Key, Spanned<FieldSource>>,
        oneof_chosen: &mut HashMap<String, (String, Location)>,
    ) -> bool {
        if let (Some(oneof), Some((key, source))) = (
            field.containing_oneof().filter(|o| !o.is_synthetic()),
            map.get_key_value(field.name()),
        ) {
            let defaulted = defaulted(&source.value);
            if !defaulted {
                if let Some((first, first_at)) = oneof_chosen.get(oneof.name()).cloned() {
                    let note = self.cx.loc(first_at);
                    let d = self.cx.error(
                        rules::ONEOF_CONFLICT,
                        key.location(),
                        format!(
                            "`{}` and `{first}` are members of the oneof `{}`: only one can be mapped",
                            field.name(),
                            oneof.name()
                        ),
                    );
                    d.notes.push((format!("`{first}` is mapped here"), note));
                    d.hint = Some(format!("write `{}: default`", field.name()));
                    return false;
                }
                oneof_chosen.insert(
                    oneof.name().to_owned(),
                    (field.name().to_owned(), key.location()),
                );
            }
        }
        true
    }

    /// Reports a proto field that no key maps: a oneof none of whose members is keyed is one
    /// error for the oneof (`unmapped_oneofs`), not one per member.
    fn unmapped(
        &mut self,
        message: &MessageDescriptor,
        field: &FieldDescriptor,
        map: &IndexMap<Key, Spanned<FieldSource>>,
        owner: Location,
        unmapped_oneofs: &mut HashSet<String>,
    ) {
        if let Some(oneof) = field.containing_oneof().filter(|o| !o.is_synthetic())
            && !oneof.fields().any(|f| map.contains_key(f.name()))
        {
            if !unmapped_oneofs.insert(oneof.name().to_owned()) {
                return;
            }
            let members: Vec<String> = oneof.fields().map(|f| f.name().to_owned()).collect();
            let note = self.protos.field_location(field);
            let d = self.cx.error(
                rules::UNMAPPED_FIELD,
                owner,
                format!(
                    "oneof `{}` of `{}` is not mapped (members: {})",
                    oneof.name(),
                    message.full_name(),
                    list(&members)
                ),
            );
            d.hint = Some(format!(
                "set it from a domain enum (`{0}: {{ from, enum, variants }}`), map one member (the others `default`), or write `{0}: default` to leave it unset",
                oneof.name()
            ));
            d.notes
                .push(("its first member is declared here".into(), note));
            return;
        }
        let note = self.protos.field_location(field);
        let d = self.cx.error(
            rules::UNMAPPED_FIELD,
            owner,
            format!(
                "proto field `{}` of `{}` is not mapped",
                field.name(),
                message.full_name()
            ),
        );
        d.hint = Some(format!(
            "map it under `fields:`, or write `{}: default` to leave it at its default",
            field.name()
        ));
        d.notes.push(("the field is declared here".into(), note));
    }

    /// Checks one field's source. `arm` is set for the member a oneof arm fills: `default`
    /// then sets the member to its default value rather than leaving the oneof unset.
    pub(super) fn field(
        &mut self,
        table: &Table,
        field: &FieldDescriptor,
        source: &Spanned<FieldSource>,
        location: Option<SourceLocation>,
        arm: bool,
    ) -> Option<Field> {
        let at = source.referenced;
        let defaulted = defaulted(&source.value);
        let oneof = field.containing_oneof().filter(|o| !o.is_synthetic());
        if oneof.is_some() && defaulted && !arm {
            // prost has one field per oneof (see `MessageType::oneofs`), none per member.
            return None;
        }
        if field.is_group() && !defaulted {
            let note = self.protos.field_location(field);
            let d = self.cx.error(
                rules::UNSUPPORTED_PROTO_FEATURE,
                at,
                format!(
                    "`{}` is a proto2 group: eventmap maps no group fields",
                    field.name()
                ),
            );
            d.hint = Some(format!(
                "write `{}: default`, or make the group a message field",
                field.name()
            ));
            d.notes.push(("the group is declared here".into(), note));
            return None;
        }
        let required = field.cardinality() == Cardinality::Required;
        if required && defaulted && field.field_descriptor_proto().default_value.is_none() {
            self.default_on_required(field, at);
        }
        let shape = shape(field, oneof.is_some(), required);
        let oneof = oneof.map(|o| OneofMember {
            oneof: rust_names::field_ident(o.name()),
            enum_path: self.oneof_enum_path(table, &o),
            variant: rust_names::type_ident(field.name()),
        });
        let value = match &source.value {
            FieldSource::Default => Value::Default,
            FieldSource::Spec(spec) => self.field_spec(table, field, shape, spec, at)?,
        };
        Some(Field {
            proto_name: field.name().to_owned(),
            rust_name: rust_names::field_ident(field.name()),
            shape,
            value,
            oneof,
            location,
            prost_type: prost_type(field, shape),
        })
    }

    /// Warns of a proto2 `required` field left `default` without a `[default = ...]`.
    fn default_on_required(&mut self, field: &FieldDescriptor, at: Location) {
        // prost fills a proto2 `required` field with its type's zero value: a consumer
        // cannot tell it from a real value, which is what `required` exists to prevent.
        let note = self.protos.field_location(field);
        let d = self.cx.error(
            rules::DEFAULT_ON_REQUIRED,
            at,
            format!(
                "proto2 `required` field `{}` is left at its default: every message carries its zero value, as if it were set",
                field.name()
            ),
        );
        d.hint = Some(format!(
            "map `{}` from the domain, or give it a `[default = ...]` in the .proto when a default is meant",
            field.name()
        ));
        d.notes.push(("the field is declared here".into(), note));
    }
}

/// Whether a field source leaves the field at its default (`default`, `{ default: true }`).
fn defaulted(source: &FieldSource) -> bool {
    match source {
        FieldSource::Default => true,
        FieldSource::Spec(spec) => spec.default.as_ref().is_some_and(|d| d.value),
    }
}

/// How prost represents the field (`CodeGenerator::optional`): a proto2 `required` field is
/// the plain `T` (a message too), a proto2 or proto3 `optional` scalar or enum is `Option<T>`,
/// and so is a wrapper type (`StringValue` is `Option<String>`, `Empty` `Option<()>`).
fn shape(field: &FieldDescriptor, in_oneof: bool, required: bool) -> Shape {
    if field.is_list() {
        Shape::Repeated
    } else if in_oneof || (required && matches!(field.kind(), Kind::Message(_))) {
        // A oneof member, and a proto2 `required` message (prost: `M`, not `Option<M>`).
        if is_boxed(field) {
            Shape::Boxed
        } else {
            Shape::Singular
        }
    } else if is_boxed(field) {
        Shape::BoxedMessage
    } else if wrapper_scalar(field).is_some() {
        Shape::Optional
    } else if matches!(field.kind(), Kind::Message(_)) && !field.is_map() {
        Shape::Message
    } else if field.supports_presence() && field.cardinality() == Cardinality::Optional {
        Shape::Optional
    } else {
        Shape::Singular
    }
}
