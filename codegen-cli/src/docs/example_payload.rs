//! An example payload of each integration event, in the proto3 JSON mapping (as
//! `protoc --print` or `protojson` would show the decoded message): JSON names, 64-bit integers
//! as strings, enums by value name, `Timestamp`s in RFC 3339, bytes in base64.
//!
//! The message is filled as the mapping fills it: envelope values with sample envelope values,
//! constants with their value, `default` fields left at the proto default, nested messages
//! field by field, a domain enum with the first of its values that is not zero, and every
//! other domain value with a sample of its proto type: strings
//! `"example"`, numbers `1`, `true`, an enum's first non-zero value, one element in a
//! repeated field or a map, messages field by field (down to [`MAX_DEPTH`] levels and never
//! into a message already being filled, so recursive messages end). Fields that are not
//! filled are shown with their default value (messages and `optional` fields: absent).

use prost_reflect::{
    DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, SerializeOptions, Value,
};

use super::{DocsError, proto_field};
use crate::model::{Conversion, Envelope, Field, Literal, Value as Source};

/// How many message levels a sample of a domain value fills before leaving deeper messages
/// unset.
pub const MAX_DEPTH: usize = 4;
/// `occurred_at` of the example (`ce-time`): 2024-01-01T12:00:00Z.
pub const EXAMPLE_TIME_SECONDS: i64 = 1_704_110_400;
/// The example domain event id (`event_id`, `ce-domaineventid`).
pub const EXAMPLE_DOMAIN_EVENT_ID: &str = "3f1c2a9e-5b7d-4e8a-9c61-0d2f4b6a8e13";
/// The example integration event id (`integration_event_id`, `ce-id`, `Nats-Msg-Id`).
pub const EXAMPLE_INTEGRATION_EVENT_ID: &str = "7d6f0b3a-1c2e-5f4a-8b9c-2e3d4f5a6b7c";
/// The example aggregate id (`aggregate_id`, `ce-subject`, `ce-aggregateid`).
pub const EXAMPLE_AGGREGATE_ID: &str = "example-aggregate-id";
/// The example aggregate type (`aggregate_name`, `ce-aggregatetype`).
pub const EXAMPLE_AGGREGATE_NAME: &str = "ExampleAggregate";
/// The example aggregate version (`aggregate_version`, `ce-aggregateversion`).
pub const EXAMPLE_AGGREGATE_VERSION: u64 = 1;
/// The sample of a `string` domain value.
pub const EXAMPLE_STRING: &str = "example";

/// The example payload of an integration event carried as `message` and filled from `fields`,
/// produced from the domain event `domain_event`: pretty-printed JSON (two-space indents),
/// fields in field-number order.
///
/// # Errors
/// [`DocsError::UnknownField`] or [`DocsError::Example`] when the model and the protos
/// disagree (a bug), [`DocsError::Json`] when the message cannot be printed.
pub fn render(
    message: &MessageDescriptor,
    fields: &[Field],
    domain_event: &str,
) -> Result<String, DocsError> {
    let filled = mapped_message(message, fields, domain_event)?;
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"  ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    filled.serialize_with_options(
        &mut serializer,
        &SerializeOptions::new().skip_default_fields(false),
    )?;
    String::from_utf8(out).map_err(|e| DocsError::Example {
        message: message.full_name().to_owned(),
        field: String::new(),
        problem: e.to_string(),
    })
}

/// `message` filled as the mapping `fields` fills it.
fn mapped_message(
    message: &MessageDescriptor,
    fields: &[Field],
    domain_event: &str,
) -> Result<DynamicMessage, DocsError> {
    let mut out = DynamicMessage::new(message.clone());
    for field in fields {
        // A oneof set from a domain enum: the example shows its first arm that fills a member.
        let field = match &field.value {
            Source::Oneof { arms, .. } => match arms.iter().find_map(|a| a.member.as_deref()) {
                Some(member) => member,
                None => continue,
            },
            _ => field,
        };
        let descriptor = proto_field(message, &field.proto_name)?;
        let value = match &field.value {
            Source::Oneof { .. } => None,
            Source::Mapped { .. } | Source::Nested { map: true, .. } => {
                sample_field(&descriptor, &mut Vec::new())
            }
            Source::Default => None,
            Source::Const(literal) => literal_value(&descriptor, literal),
            Source::Envelope(envelope) => envelope_value(&descriptor, *envelope, domain_event),
            Source::Domain {
                conversion: Conversion::Enum { arms, .. },
                ..
            } => match arms.iter().find(|(_, _, n)| *n != 0).or(arms.first()) {
                Some((_, _, number)) => {
                    Some(repeat_if_list(&descriptor, Value::EnumNumber(*number)))
                }
                None => sample_field(&descriptor, &mut Vec::new()),
            },
            Source::Domain { .. } => sample_field(&descriptor, &mut Vec::new()),
            Source::Nested {
                message: nested,
                fields: nested_fields,
                ..
            } => {
                let Kind::Message(nested_descriptor) = descriptor.kind() else {
                    return Err(problem(message, field, "not a message field"));
                };
                if nested_descriptor.full_name() != nested.full_name {
                    return Err(problem(message, field, "another message than the model's"));
                }
                let element = mapped_message(&nested_descriptor, nested_fields, domain_event)?;
                Some(repeat_if_list(&descriptor, Value::Message(element)))
            }
        };
        if let Some(value) = value {
            out.try_set_field(&descriptor, value)
                .map_err(|e| problem(message, field, &e.to_string()))?;
        }
    }
    Ok(out)
}

fn problem(message: &MessageDescriptor, field: &Field, what: &str) -> DocsError {
    DocsError::Example {
        message: message.full_name().to_owned(),
        field: field.proto_name.clone(),
        problem: what.to_owned(),
    }
}

/// `value` as the value of `field`: a list of one element for a repeated field.
fn repeat_if_list(field: &FieldDescriptor, value: Value) -> Value {
    if field.is_list() {
        Value::List(vec![value])
    } else {
        value
    }
}

/// The value of a constant, typed by its field (`None` when it does not fit, which the
/// checker does not let through).
fn literal_value(field: &FieldDescriptor, literal: &Literal) -> Option<Value> {
    let value = match (literal, field.kind()) {
        (Literal::String(s), Kind::String) => Value::String(s.clone()),
        (Literal::Bytes(s), Kind::Bytes) => Value::Bytes(s.clone().into_bytes().into()),
        (Literal::Bool(b), Kind::Bool) => Value::Bool(*b),
        (Literal::Enum { number, .. }, Kind::Enum(_)) => Value::EnumNumber(*number),
        (Literal::Int { value, .. }, kind) => int_value(&kind, *value)?,
        (Literal::Float { value, .. }, Kind::Double) => Value::F64(*value),
        #[allow(clippy::cast_possible_truncation)]
        (Literal::Float { value, .. }, Kind::Float) => Value::F32(*value as f32),
        _ => return None,
    };
    Some(value)
}

/// `value` as an integer of `kind`, when it fits.
fn int_value(kind: &Kind, value: i128) -> Option<Value> {
    Some(match kind {
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(i32::try_from(value).ok()?),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(i64::try_from(value).ok()?),
        Kind::Uint32 | Kind::Fixed32 => Value::U32(u32::try_from(value).ok()?),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(u64::try_from(value).ok()?),
        #[allow(clippy::cast_precision_loss)]
        Kind::Double => Value::F64(value as f64),
        #[allow(clippy::cast_precision_loss)]
        Kind::Float => Value::F32(value as f32),
        _ => return None,
    })
}

/// The example value of an envelope value, typed by its field.
fn envelope_value(
    field: &FieldDescriptor,
    envelope: Envelope,
    domain_event: &str,
) -> Option<Value> {
    let kind = field.kind();
    let text = |s: &str| match kind {
        Kind::String => Some(Value::String(s.to_owned())),
        Kind::Bytes => Some(Value::Bytes(uuid_bytes(s).into())),
        _ => None,
    };
    match envelope {
        Envelope::EventId => text(EXAMPLE_DOMAIN_EVENT_ID),
        Envelope::IntegrationEventId => text(EXAMPLE_INTEGRATION_EVENT_ID),
        Envelope::EventName => Some(Value::String(domain_event.to_owned())),
        Envelope::AggregateId => Some(Value::String(EXAMPLE_AGGREGATE_ID.to_owned())),
        Envelope::AggregateName => Some(Value::String(EXAMPLE_AGGREGATE_NAME.to_owned())),
        Envelope::AggregateVersion => int_value(&kind, i128::from(EXAMPLE_AGGREGATE_VERSION)),
        Envelope::OccurredAt => match kind {
            Kind::Message(m) => timestamp(&m, EXAMPLE_TIME_SECONDS),
            _ => None,
        },
    }
    .map(|value| repeat_if_list(field, value))
}

/// The 16 bytes of a hyphenated UUID (the text's bytes when it is not one).
fn uuid_bytes(uuid: &str) -> Vec<u8> {
    let hex: Vec<u8> = uuid.bytes().filter(|b| *b != b'-').collect();
    let digits: Option<Vec<u8>> = hex
        .chunks(2)
        .map(|pair| {
            let text = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(text, 16).ok()
        })
        .collect();
    match digits {
        Some(bytes) if bytes.len() == 16 => bytes,
        _ => uuid.as_bytes().to_vec(),
    }
}

/// A `google.protobuf.Timestamp` (or `Duration`) message of `seconds`.
fn timestamp(message: &MessageDescriptor, seconds: i64) -> Option<Value> {
    let mut out = DynamicMessage::new(message.clone());
    let field = message.get_field_by_name("seconds")?;
    out.try_set_field(&field, Value::I64(seconds)).ok()?;
    Some(Value::Message(out))
}

/// A sample value of `field` (a list of one element, a map of one entry), `None` to leave
/// the field unset. `stack` holds the messages being filled.
fn sample_field(field: &FieldDescriptor, stack: &mut Vec<String>) -> Option<Value> {
    if field.is_map() {
        let Kind::Message(entry) = field.kind() else {
            return None;
        };
        let key = sample_key(&entry.map_entry_key_field().kind())?;
        let value = sample_kind(&entry.map_entry_value_field().kind(), stack)?;
        return Some(Value::Map([(key, value)].into_iter().collect()));
    }
    let value = sample_kind(&field.kind(), stack)?;
    Some(repeat_if_list(field, value))
}

/// A sample map key of `kind`.
fn sample_key(kind: &Kind) -> Option<MapKey> {
    Some(match kind {
        Kind::String => MapKey::String(EXAMPLE_STRING.to_owned()),
        Kind::Bool => MapKey::Bool(true),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => MapKey::I32(1),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => MapKey::I64(1),
        Kind::Uint32 | Kind::Fixed32 => MapKey::U32(1),
        Kind::Uint64 | Kind::Fixed64 => MapKey::U64(1),
        _ => return None,
    })
}

/// A sample value of `kind`; `None` for a message that is not filled (too deep, recursive,
/// or a well-known type without a plain example).
fn sample_kind(kind: &Kind, stack: &mut Vec<String>) -> Option<Value> {
    Some(match kind {
        Kind::Double => Value::F64(1.5),
        Kind::Float => Value::F32(1.5),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(1),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(1),
        Kind::Uint32 | Kind::Fixed32 => Value::U32(1),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(1),
        Kind::Bool => Value::Bool(true),
        Kind::String => Value::String(EXAMPLE_STRING.to_owned()),
        Kind::Bytes => Value::Bytes(EXAMPLE_STRING.as_bytes().to_vec().into()),
        Kind::Enum(e) => Value::EnumNumber(
            e.values()
                .find(|v| v.number() != 0)
                .map_or(0, |v| v.number()),
        ),
        Kind::Message(m) => sample_message(m, stack)?,
    })
}

/// A sample of the message `message`, filled field by field (one member per oneof).
fn sample_message(message: &MessageDescriptor, stack: &mut Vec<String>) -> Option<Value> {
    let name = message.full_name();
    match name {
        "google.protobuf.Timestamp" => return timestamp(message, EXAMPLE_TIME_SECONDS),
        "google.protobuf.Duration" => return timestamp(message, 1),
        "google.protobuf.DoubleValue"
        | "google.protobuf.FloatValue"
        | "google.protobuf.Int64Value"
        | "google.protobuf.UInt64Value"
        | "google.protobuf.Int32Value"
        | "google.protobuf.UInt32Value"
        | "google.protobuf.BoolValue"
        | "google.protobuf.StringValue"
        | "google.protobuf.BytesValue" => {}
        // Any, Struct, Value, ListValue, FieldMask, Empty: left unset.
        _ if name.starts_with("google.protobuf.") => return None,
        _ => {}
    }
    if stack.len() >= MAX_DEPTH || stack.iter().any(|s| s == name) {
        return None;
    }
    stack.push(name.to_owned());
    let mut out = DynamicMessage::new(message.clone());
    let mut oneofs_set = Vec::new();
    for field in message.fields() {
        if let Some(oneof) = field.containing_oneof().filter(|o| !o.is_synthetic()) {
            if oneofs_set.contains(&oneof.name().to_owned()) {
                continue;
            }
            oneofs_set.push(oneof.name().to_owned());
        }
        if let Some(value) = sample_field(&field, stack) {
            // A sample always fits its field; a field that refuses it stays unset.
            let _ = out.try_set_field(&field, value);
        }
    }
    stack.pop();
    Some(Value::Message(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_become_their_sixteen_bytes() {
        let bytes = uuid_bytes(EXAMPLE_DOMAIN_EVENT_ID);
        assert_eq!(bytes.len(), 16);
        assert_eq!(bytes[0], 0x3f);
        assert_eq!(uuid_bytes("not-a-uuid"), b"not-a-uuid".to_vec());
    }

    #[test]
    fn integers_that_do_not_fit_are_not_examples() {
        assert_eq!(int_value(&Kind::Int32, i128::from(i64::MAX)), None);
        assert_eq!(int_value(&Kind::Uint64, 7), Some(Value::U64(7)));
    }
}
