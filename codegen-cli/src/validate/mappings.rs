//! Named mappings (`mappings:`): declared once, used by any field with `mapping: <name>`.
//!
//! A message mapping becomes a function of the generated converters that use it, so it may
//! use itself (recursive messages such as `Failure.cause`); an enum or oneof mapping is
//! checked where it is used, against the field it fills.

use indexmap::IndexMap;
use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor, OneofDescriptor};
use serde_saphyr::Spanned;

use super::Validator;
use super::proto_types::{PRIMITIVE_WRAPPERS, WELL_KNOWN_PACKAGE, describe};
use super::suggest::{list, suggest};
use crate::diagnostic::Diagnostic;
use crate::model::{MessageMapping, Value};
use crate::rules;
use crate::rust_names;
use crate::table::{FieldSource, Key, NamedMapping, Table, VariantTarget};

/// A declared named message mapping, resolved against the protos.
pub(super) struct NamedMessage {
    /// The proto message it builds.
    pub(super) message: MessageDescriptor,
    /// Rust path of the domain type it converts from.
    pub(super) domain_type: String,
}

/// What a named mapping is, by its keys.
pub(super) enum NamedKind {
    /// `enum` + `values`.
    Enum,
    /// `enum` + `variants`.
    Oneof,
    /// `message` + `type` + `fields`.
    Message,
    /// Anything else (reported where it is declared).
    Invalid(&'static str),
}

/// The kind of `mapping` from the keys it has.
pub(super) fn kind(mapping: &NamedMapping) -> NamedKind {
    let message =
        mapping.message.is_some() || mapping.rust_type.is_some() || mapping.fields.is_some();
    let enumish =
        mapping.enum_type.is_some() || mapping.values.is_some() || mapping.variants.is_some();
    match (message, enumish) {
        (true, true) => NamedKind::Invalid(
            "a named mapping is either an enum mapping (`enum` + `values`), a oneof mapping (`enum` + `variants`) or a message mapping (`message` + `type` + `fields`), not a mix",
        ),
        (false, false) => NamedKind::Invalid(
            "an empty named mapping: give `enum` + `values`, `enum` + `variants`, or `message` + `type` + `fields`",
        ),
        (true, false) => {
            if mapping.message.is_some() && mapping.rust_type.is_some() && mapping.fields.is_some()
            {
                NamedKind::Message
            } else {
                NamedKind::Invalid("a message mapping needs `message`, `type` and `fields`")
            }
        }
        (false, true) => match (
            mapping.enum_type.is_some(),
            mapping.values.is_some(),
            mapping.variants.is_some(),
        ) {
            (true, true, false) => NamedKind::Enum,
            (true, false, true) => NamedKind::Oneof,
            (false, _, _) => {
                NamedKind::Invalid("an enum or oneof mapping names its domain enum with `enum`")
            }
            _ => NamedKind::Invalid(
                "an enum mapping has `values` (onto a proto enum) or `variants` (onto a oneof), not both",
            ),
        },
    }
}

impl Validator<'_> {
    /// Checks the names and kinds of `mappings:` and resolves the message mappings' messages,
    /// before any field uses them.
    pub(super) fn declare_mappings(&mut self, table: &Table) {
        for (key, mapping) in &table.mappings {
            if !rust_names::is_identifier(key.as_str()) {
                self.cx
                    .error(
                        rules::INVALID_NAME,
                        key.location(),
                        format!("mapping name `{}` is not an identifier", key.as_str()),
                    )
                    .hint = Some("use letters, digits and `_`, e.g. `order_status`".into());
                continue;
            }
            match kind(mapping) {
                NamedKind::Invalid(why) => {
                    self.cx.error(
                        rules::INVALID_MAPPING,
                        key.location(),
                        format!("mapping `{}`: {why}", key.as_str()),
                    );
                }
                NamedKind::Enum | NamedKind::Oneof => {
                    if let Some(rust_type) = &mapping.enum_type {
                        self.rust_path(rust_type, "domain enum");
                    }
                }
                NamedKind::Message => self.declare_message_mapping(key, mapping),
            }
        }
    }

    /// Resolves the message and the domain type of the message mapping `key`: a message that
    /// prost builds (not a well-known wrapper of a plain value).
    fn declare_message_mapping(&mut self, key: &Key, mapping: &NamedMapping) {
        let (Some(message), Some(rust_type)) = (&mapping.message, &mapping.rust_type) else {
            return;
        };
        let path_ok = self.rust_path(rust_type, "domain type");
        let descriptor = self.message(message);
        if let Some(wrapper) = descriptor.as_ref().filter(|m| {
            m.package_name() == WELL_KNOWN_PACKAGE && PRIMITIVE_WRAPPERS.contains(&m.name())
        }) {
            // As `fields:` on such a field: prost has no message to build.
            self.cx.error(
                rules::WELL_KNOWN_TYPE,
                message.referenced,
                format!(
                    "mapping `{}` builds `{}`, which prost represents as a plain Rust value: map the fields of that type with `from`",
                    key.as_str(),
                    wrapper.full_name()
                ),
            );
            return;
        }
        if let Some(descriptor) = descriptor
            && path_ok
        {
            self.named_messages.insert(
                key.as_str().to_owned(),
                NamedMessage {
                    message: descriptor,
                    domain_type: rust_type.value.clone(),
                },
            );
        }
    }

    /// Checks the fields of every named message mapping (declared by
    /// [`declare_mappings`](Self::declare_mappings)), in table order.
    pub(super) fn message_mappings(&mut self, table: &Table) -> Vec<MessageMapping> {
        let mut out = Vec::new();
        for (key, mapping) in &table.mappings {
            let (Some(fields), Some(message)) = (&mapping.fields, &mapping.message) else {
                continue;
            };
            let Some(named) = self.named_messages.get(key.as_str()) else {
                // Its message or type was refused: the fields are not checked.
                self.in_mapping = Some(key.as_str().to_owned());
                self.unchecked_uses(fields);
                self.in_mapping = None;
                continue;
            };
            let (descriptor, domain_type) = (named.message.clone(), named.domain_type.clone());
            self.in_mapping = Some(key.as_str().to_owned());
            let fields = self.fields(table, &descriptor, fields, message.referenced);
            self.in_mapping = None;
            out.push(MessageMapping {
                name: key.as_str().to_owned(),
                domain_type,
                message: self.message_type(table, &descriptor),
                fields,
            });
        }
        out
    }

    /// Warns about named mappings that no field uses (rule `unused-mapping`): used by no row,
    /// directly or through the message mappings a row uses (a mapping used only by itself, or
    /// only by unused mappings, is unused). A mapping already refused by `invalid-name` or
    /// `invalid-mapping` is not reported again.
    pub(super) fn unused_mappings(&mut self, table: &Table) {
        let mut used = self.used_mappings.clone();
        loop {
            let before = used.len();
            for (user, target) in &self.mapping_uses {
                if used.contains(user) {
                    used.insert(target.clone());
                }
            }
            if used.len() == before {
                break;
            }
        }
        for (key, mapping) in &table.mappings {
            let refused = !rust_names::is_identifier(key.as_str())
                || matches!(kind(mapping), NamedKind::Invalid(_));
            if !refused && !used.contains(key.as_str()) {
                self.cx
                    .error(
                        rules::UNUSED_MAPPING,
                        key.location(),
                        format!("mapping `{}` is not used by any field", key.as_str()),
                    )
                    .hint = Some("use it with `mapping: <name>` on a field, or remove it".into());
            }
        }
    }

    /// Records that the mapping `name` is used: by the named message mapping being checked,
    /// or else by a row.
    fn record_use(&mut self, name: &str) {
        match &self.in_mapping {
            Some(user) => self.mapping_uses.push((user.clone(), name.to_owned())),
            None => {
                self.used_mappings.insert(name.to_owned());
            }
        }
    }

    /// Records the mappings that `fields` name (at any depth) as used, without checking
    /// them: for fields that cannot be checked because their row, mapping or key was refused
    /// (an unknown message, an unknown field). The refusal is the problem; the mappings
    /// they name are not also unused.
    pub(super) fn unchecked_uses(&mut self, fields: &IndexMap<Key, Spanned<FieldSource>>) {
        for source in fields.values() {
            self.unchecked_source_uses(&source.value);
        }
    }

    /// [`unchecked_uses`](Self::unchecked_uses) for one field source.
    pub(super) fn unchecked_source_uses(&mut self, source: &FieldSource) {
        let FieldSource::Spec(spec) = source else {
            return;
        };
        if let Some(name) = &spec.mapping {
            self.record_use(&name.value);
        }
        if let Some(fields) = &spec.fields {
            self.unchecked_uses(fields);
        }
        for target in spec.variants.iter().flat_map(IndexMap::values) {
            if let VariantTarget::Member(members) = &target.value {
                self.unchecked_uses(members);
            }
        }
    }

    /// The named mapping `name` (rule `unknown-mapping` when there is none), recorded as used.
    pub(super) fn named<'t>(
        &mut self,
        table: &'t Table,
        name: &Spanned<String>,
    ) -> Option<(&'t Key, &'t NamedMapping)> {
        if let Some(found) = table.mappings.get_key_value(name.value.as_str()) {
            self.record_use(&name.value);
            return Some(found);
        }
        let names: Vec<&str> = table.mappings.keys().map(Key::as_str).collect();
        let hint = if names.is_empty() {
            "declare it under `mappings:` at the top level of the table".to_owned()
        } else {
            suggest(&name.value, names.iter().copied())
                .map(|s| format!("did you mean `{s}`?"))
                .unwrap_or_else(|| format!("mappings of the table: {}", list(&names)))
        };
        self.cx
            .error(
                rules::UNKNOWN_MAPPING,
                name.referenced,
                format!("no mapping `{}` is declared under `mappings:`", name.value),
            )
            .hint = Some(hint);
        None
    }

    /// `mapping: <name>` on a field (`value_kind` is the kind of its values: the map's value
    /// type for a map field): a message mapping for a message of its type, or an enum mapping
    /// for a proto enum.
    pub(super) fn use_mapping(
        &mut self,
        table: &Table,
        field: &FieldDescriptor,
        value_kind: &Kind,
        path: Vec<String>,
        name: &Spanned<String>,
    ) -> Option<Value> {
        let (key, mapping) = self.named(table, name)?;
        match kind(mapping) {
            NamedKind::Invalid(_) => None,
            NamedKind::Message => self.use_message_mapping(field, value_kind, path, name, key),
            NamedKind::Enum => self.use_enum_mapping(field, path, name, key, mapping),
            NamedKind::Oneof => {
                let d = self.mapping_mismatch(
                    name,
                    key,
                    format!(
                        "mapping `{}` maps a domain enum onto a oneof; `{}` is a field",
                        key.as_str(),
                        field.name()
                    ),
                );
                d.hint = Some("use it on the oneof's name, under `fields:`".into());
                None
            }
        }
    }

    /// The message mapping `key` on a field whose values (`value_kind`) are of the message it
    /// builds.
    fn use_message_mapping(
        &mut self,
        field: &FieldDescriptor,
        value_kind: &Kind,
        path: Vec<String>,
        name: &Spanned<String>,
        key: &Key,
    ) -> Option<Value> {
        let named = self.named_messages.get(key.as_str())?;
        let fits =
            matches!(value_kind, Kind::Message(m) if m.full_name() == named.message.full_name());
        if fits {
            return Some(Value::Mapped {
                path,
                mapping: key.as_str().to_owned(),
                domain_type: named.domain_type.clone(),
                map: field.is_map(),
            });
        }
        let built = named.message.full_name().to_owned();
        self.mapping_mismatch(
            name,
            key,
            format!(
                "mapping `{}` builds `{built}`; field `{}` is {}",
                key.as_str(),
                field.name(),
                describe(field)
            ),
        );
        None
    }

    /// The enum mapping `key` on a (non-map) field of a proto enum.
    fn use_enum_mapping(
        &mut self,
        field: &FieldDescriptor,
        path: Vec<String>,
        name: &Spanned<String>,
        key: &Key,
        mapping: &NamedMapping,
    ) -> Option<Value> {
        let (Some(rust_type), Some(values)) = (&mapping.enum_type, &mapping.values) else {
            return None;
        };
        if field.is_map() {
            self.cx.error(
                rules::MAPPING_MISMATCH,
                name.referenced,
                format!(
                    "mapping `{}` maps an enum; map field `{}` converts as a whole with `from`",
                    key.as_str(),
                    field.name()
                ),
            );
            return None;
        }
        let conversion = self.enum_conversion(field, rust_type, values, Some(key))?;
        Some(Value::Domain {
            path,
            with: None,
            conversion,
        })
    }

    /// A `mapping-mismatch` error at the use `name` of the mapping `key`, with a note where
    /// the mapping is declared.
    fn mapping_mismatch(
        &mut self,
        name: &Spanned<String>,
        key: &Key,
        message: String,
    ) -> &mut Diagnostic {
        let declared = self.cx.loc(key.location());
        let d = self
            .cx
            .error(rules::MAPPING_MISMATCH, name.referenced, message);
        d.notes
            .push(("the mapping is declared here".into(), declared));
        d
    }

    /// Rust path of prost's enum for `oneof` (`<proto module>::<package>::<message>::<Oneof>`).
    pub(super) fn oneof_enum_path(&self, table: &Table, oneof: &OneofDescriptor) -> String {
        let message = oneof.parent_message();
        let message_path = self.message_type(table, message).rust_path;
        let module = match message_path.rsplit_once("::") {
            Some((parent, _)) => format!("{parent}::{}", rust_names::module_ident(message.name())),
            None => rust_names::module_ident(message.name()),
        };
        format!("{module}::{}", rust_names::type_ident(oneof.name()))
    }
}
