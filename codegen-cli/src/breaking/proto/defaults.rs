//! What a proto2 field reads as when a message leaves it absent: its explicit
//! `[default = ...]`, or the type's own default when it has none.

use prost_reflect::{FieldDescriptor, Kind, Value};

/// How the default of a field changed, as (what changed, hint), when one side has an
/// explicit `[default = ...]` and the two sides read an absent field as different values.
/// Not compared when the type changed (its own rule reports that).
pub(super) fn default_change(
    old: &FieldDescriptor,
    new: &FieldDescriptor,
    retyped: bool,
) -> Option<(String, String)> {
    if retyped || (explicit(old).is_none() && explicit(new).is_none()) {
        return None;
    }
    if same_value(&old.default_value(), &new.default_value()) {
        return None;
    }
    let change = format!(
        "changed its default from {} to {}: a message that leaves the field absent reads `{}` instead of `{}`",
        written(old),
        written(new),
        shown(new),
        shown(old)
    );
    let hint = match explicit(old) {
        Some(text) => format!("keep `[default = {text}]`"),
        None => format!(
            "keep the field without `[default = ...]` (absent, it reads `{}`)",
            shown(old)
        ),
    };
    Some((change, hint))
}

/// The explicit `[default = ...]` of a field as written in the `.proto` (strings quoted).
fn explicit(field: &FieldDescriptor) -> Option<String> {
    let text = field.field_descriptor_proto().default_value.as_deref()?;
    Some(match field.kind() {
        Kind::String | Kind::Bytes => format!("\"{text}\""),
        _ => text.to_owned(),
    })
}

/// The default as the message says it: `[default = "x"]` or `no [default]`.
fn written(field: &FieldDescriptor) -> String {
    explicit(field).map_or_else(
        || "no `[default]`".to_owned(),
        |text| format!("`[default = {text}]`"),
    )
}

/// The value an absent field reads as: a string or bytes quoted, an enum value by name.
fn shown(field: &FieldDescriptor) -> String {
    match (field.default_value(), field.kind()) {
        (Value::String(s), _) => format!("{s:?}"),
        (Value::Bytes(b), _) => format!("{:?}", String::from_utf8_lossy(&b)),
        (Value::EnumNumber(n), Kind::Enum(e)) => e
            .get_value(n)
            .map_or_else(|| n.to_string(), |v| v.name().to_owned()),
        (Value::Bool(b), _) => b.to_string(),
        (Value::I32(n), _) | (Value::EnumNumber(n), _) => n.to_string(),
        (Value::I64(n), _) => n.to_string(),
        (Value::U32(n), _) => n.to_string(),
        (Value::U64(n), _) => n.to_string(),
        (Value::F32(x), _) => x.to_string(),
        (Value::F64(x), _) => x.to_string(),
        (other, _) => format!("{other:?}"),
    }
}

/// Whether two defaults are the same value (a NaN default equals itself).
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::F32(x), Value::F32(y)) => x.to_bits() == y.to_bits(),
        (Value::F64(x), Value::F64(y)) => x.to_bits() == y.to_bits(),
        _ => a == b,
    }
}
