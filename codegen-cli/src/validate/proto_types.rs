//! How prost represents proto fields: well-known types, wrappers, boxing, Rust types.

use std::collections::HashSet;

use prost_reflect::{Cardinality, FieldDescriptor, Kind, MessageDescriptor};

use crate::model::Shape;

/// The package of the protobuf well-known types, which prost maps to `::prost_types`.
pub(super) const WELL_KNOWN_PACKAGE: &str = "google.protobuf";

/// Well-known types that prost represents as plain Rust values (`Option<String>` for
/// `StringValue`, `()` for `Empty`) rather than as structs.
pub(super) const PRIMITIVE_WRAPPERS: &[&str] = &[
    "BoolValue",
    "BytesValue",
    "DoubleValue",
    "FloatValue",
    "Int32Value",
    "Int64Value",
    "StringValue",
    "UInt32Value",
    "UInt64Value",
    "Empty",
];

/// prost's Rust type of a well-known wrapper (`StringValue` is `String`, `Empty` is `()`): the
/// value of a field that prost represents as `Option<T>` rather than as a message.
pub(super) fn wrapper_scalar(field: &FieldDescriptor) -> Option<&'static str> {
    let Kind::Message(m) = field.kind() else {
        return None;
    };
    if m.package_name() != WELL_KNOWN_PACKAGE || field.is_map() {
        return None;
    }
    Some(match m.name() {
        "BoolValue" => "bool",
        "BytesValue" => "::std::vec::Vec<u8>",
        "DoubleValue" => "f64",
        "FloatValue" => "f32",
        "Int32Value" => "i32",
        "Int64Value" => "i64",
        "StringValue" => "::std::string::String",
        "UInt32Value" => "u32",
        "UInt64Value" => "u64",
        "Empty" => "()",
        _ => return None,
    })
}

/// The prost message of a field (or of a map field's values) that is not a well-known type:
/// what a `with:` function into it returns as is.
pub(super) fn identity_message(field: &FieldDescriptor) -> Option<MessageDescriptor> {
    let kind = if field.is_map() {
        match field.kind() {
            Kind::Message(entry) => entry.map_entry_value_field().kind(),
            _ => return None,
        }
    } else {
        field.kind()
    };
    match kind {
        Kind::Message(m) if m.package_name() != WELL_KNOWN_PACKAGE => Some(m),
        _ => None,
    }
}

/// Whether prost boxes this field (`Option<Box<M>>`): a singular message field whose type
/// contains, through singular message fields, the message that declares it. Mirrors
/// prost-build's `MessageGraph::is_nested`, which only follows non-repeated message fields.
pub(super) fn is_boxed(field: &FieldDescriptor) -> bool {
    let Kind::Message(start) = field.kind() else {
        return false;
    };
    if field.is_list() {
        return false;
    }
    let target = field.parent_message().clone();
    let mut seen = HashSet::new();
    let mut stack = vec![start];
    while let Some(message) = stack.pop() {
        if message == target {
            return true;
        }
        if !seen.insert(message.full_name().to_owned()) {
            continue;
        }
        for f in message.fields() {
            if let Kind::Message(m) = f.kind()
                && !f.is_list()
            {
                stack.push(m);
            }
        }
    }
    false
}

/// The `prost_types` struct of a `google.protobuf.Timestamp` or `google.protobuf.Duration`
/// field: the well-known messages that `eventmap::convert::IntoProto` converts into, from a
/// domain value or an `Option` of one (`SystemTime`, `Option<SystemTime>`, ...).
fn time_message(field: &FieldDescriptor) -> Option<&'static str> {
    let Kind::Message(m) = field.kind() else {
        return None;
    };
    if m.package_name() != WELL_KNOWN_PACKAGE || field.is_map() {
        return None;
    }
    match m.name() {
        "Timestamp" => Some("::prost_types::Timestamp"),
        "Duration" => Some("::prost_types::Duration"),
        _ => None,
    }
}

/// prost's Rust type of a scalar, string, bytes or enum field in its `shape` (prost-build's
/// defaults: `String`, `Vec<u8>`, enums as `i32`), and of a `Timestamp` or `Duration` field
/// (`Option<::prost_types::Timestamp>` for an optional one: converted into as a whole, so that
/// a domain `Option<SystemTime>` leaves the field absent; `::prost_types::Timestamp` for a
/// proto2 `required` one or a oneof member); `None` for other messages and maps.
pub(super) fn prost_type(field: &FieldDescriptor, shape: Shape) -> Option<String> {
    if field.is_map() {
        return None;
    }
    match shape {
        Shape::Message => {
            return time_message(field).map(|m| format!("::core::option::Option<{m}>"));
        }
        // A proto2 `required` one or a oneof member: the plain struct (`()` for
        // `google.protobuf.Empty`, which a oneof member mapped `default` is written as).
        Shape::Singular if matches!(field.kind(), Kind::Message(_)) => {
            return time_message(field)
                .or_else(|| wrapper_scalar(field).filter(|scalar| *scalar == "()"))
                .map(str::to_owned);
        }
        _ => {}
    }
    let scalar = match field.kind() {
        Kind::Message(_) => wrapper_scalar(field)?,
        Kind::Double => "f64",
        Kind::Float => "f32",
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 | Kind::Enum(_) => "i32",
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => "i64",
        Kind::Uint32 | Kind::Fixed32 => "u32",
        Kind::Uint64 | Kind::Fixed64 => "u64",
        Kind::Bool => "bool",
        Kind::String => "::std::string::String",
        Kind::Bytes => "::std::vec::Vec<u8>",
    };
    Some(match shape {
        Shape::Repeated => format!("::std::vec::Vec<{scalar}>"),
        Shape::Optional => format!("::core::option::Option<{scalar}>"),
        _ => scalar.to_owned(),
    })
}

/// The proto type of a field as a person would write it (`repeated string`, `OrderItem`).
pub(super) fn describe(field: &FieldDescriptor) -> String {
    let kind = match field.kind() {
        Kind::Message(m) => m.full_name().to_owned(),
        Kind::Enum(e) => e.full_name().to_owned(),
        other => format!("{other:?}").to_lowercase(),
    };
    match field.cardinality() {
        Cardinality::Repeated => format!("`repeated {kind}`"),
        _ => format!("`{kind}`"),
    }
}
