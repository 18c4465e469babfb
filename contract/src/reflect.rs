//! [`Schema::from_message`] (feature `reflect`): the contract of a prost-reflect message
//! descriptor, as the generator computes it at build time.

use std::collections::{BTreeMap, VecDeque};

use prost_reflect::{
    Cardinality, EnumDescriptor, FieldDescriptor, Kind, MessageDescriptor, Syntax,
};

use crate::schema::{EnumSchema, EnumValueSchema, FieldSchema, Label, MessageSchema, Schema};

impl Schema {
    /// The contract of `message`: the message and every message and enum reachable from it
    /// through its fields (nested types, map entries, well-known types, recursively), sorted
    /// by full name, each field by number.
    pub fn from_message(message: &MessageDescriptor) -> Self {
        let mut messages = BTreeMap::new();
        let mut enums = BTreeMap::new();
        let mut queue = VecDeque::from([message.clone()]);
        while let Some(next) = queue.pop_front() {
            if messages.contains_key(next.full_name()) {
                continue;
            }
            let mut fields = Vec::new();
            for field in next.fields() {
                let kind = field.kind();
                match &kind {
                    Kind::Message(reached) => queue.push_back(reached.clone()),
                    Kind::Enum(reached) => {
                        enums
                            .entry(reached.full_name().to_owned())
                            .or_insert_with(|| enum_schema(reached));
                    }
                    _ => {}
                }
                fields.push(field_schema(&field, &kind));
            }
            fields.sort_by_key(|field| field.number);
            messages.insert(
                next.full_name().to_owned(),
                MessageSchema {
                    name: next.full_name().to_owned(),
                    fields,
                    map_entry: next.is_map_entry(),
                },
            );
        }
        let root = message.full_name().to_owned();
        let mut messages: Vec<MessageSchema> = messages.into_values().collect();
        // The root first, as in the canonical form.
        messages.sort_by(|a, b| (a.name != root, &a.name).cmp(&(b.name != root, &b.name)));
        Schema {
            root,
            messages,
            enums: enums.into_values().collect(),
        }
    }
}

fn field_schema(field: &FieldDescriptor, kind: &Kind) -> FieldSchema {
    // prost-reflect accepts field numbers up to 536 870 911 only.
    let number = i32::try_from(field.number()).unwrap_or(i32::MAX);
    let oneof = field
        .containing_oneof()
        .filter(|oneof| !oneof.is_synthetic())
        .map(|oneof| oneof.name().to_owned())
        .unwrap_or_default();
    let label = match field.cardinality() {
        Cardinality::Repeated => Label::Repeated,
        Cardinality::Required => Label::Required,
        Cardinality::Optional if field.supports_presence() => Label::Optional,
        Cardinality::Optional => Label::Implicit,
    };
    let (kind, type_name) = match kind {
        Kind::Message(reached) if field.is_group() => ("group", reached.full_name().to_owned()),
        Kind::Message(reached) => ("message", reached.full_name().to_owned()),
        Kind::Enum(reached) => ("enum", reached.full_name().to_owned()),
        scalar => (scalar_name(scalar), String::new()),
    };
    FieldSchema {
        name: field.name().to_owned(),
        number,
        label: label as i32,
        kind: kind.to_owned(),
        type_name,
        oneof,
    }
}

fn enum_schema(enumeration: &EnumDescriptor) -> EnumSchema {
    let mut values: Vec<EnumValueSchema> = enumeration
        .values()
        .map(|value| EnumValueSchema {
            name: value.name().to_owned(),
            number: value.number(),
        })
        .collect();
    values.sort_by(|a, b| (a.number, &a.name).cmp(&(b.number, &b.name)));
    EnumSchema {
        name: enumeration.full_name().to_owned(),
        values,
        closed: enumeration.parent_file().syntax() == Syntax::Proto2,
    }
}

/// The `.proto` keyword of a field kind (`int32`, `string`, `bytes`...), or `message` /
/// `enum` for the named types (whose full names the caller adds). The generator's breaking
/// rules name types with it too.
pub fn scalar_name(kind: &Kind) -> &'static str {
    match kind {
        Kind::Double => "double",
        Kind::Float => "float",
        Kind::Int32 => "int32",
        Kind::Int64 => "int64",
        Kind::Uint32 => "uint32",
        Kind::Uint64 => "uint64",
        Kind::Sint32 => "sint32",
        Kind::Sint64 => "sint64",
        Kind::Fixed32 => "fixed32",
        Kind::Fixed64 => "fixed64",
        Kind::Sfixed32 => "sfixed32",
        Kind::Sfixed64 => "sfixed64",
        Kind::Bool => "bool",
        Kind::String => "string",
        Kind::Bytes => "bytes",
        Kind::Message(_) => "message",
        Kind::Enum(_) => "enum",
    }
}
