//! Constants (`const:`) parsed into literals of a field's type.

use prost_reflect::{EnumDescriptor, FieldDescriptor, Kind};

use super::suggest::list;
use crate::model::Literal;

/// Parses a constant as written into a literal of the field's type.
pub(super) fn const_literal(field: &FieldDescriptor, text: &str) -> Result<Literal, String> {
    match field.kind() {
        Kind::String => Ok(Literal::String(text.to_owned())),
        Kind::Bytes => Ok(Literal::Bytes(text.to_owned())),
        Kind::Bool => match text {
            "true" => Ok(Literal::Bool(true)),
            "false" => Ok(Literal::Bool(false)),
            _ => Err("expected `true` or `false`".into()),
        },
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            int(text, i32::MIN.into(), i32::MAX.into(), "i32")
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            int(text, i64::MIN.into(), i64::MAX.into(), "i64")
        }
        Kind::Uint32 | Kind::Fixed32 => int(text, 0, u32::MAX.into(), "u32"),
        Kind::Uint64 | Kind::Fixed64 => int(text, 0, u64::MAX.into(), "u64"),
        Kind::Float | Kind::Double => float(field, text),
        Kind::Enum(e) => enum_value(&e, text),
        Kind::Message(m) => Err(format!(
            "message field (`{}`) cannot take a constant",
            m.full_name()
        )),
    }
}

/// An integer constant of type `ty`, within `min..=max`.
fn int(text: &str, min: i128, max: i128, ty: &'static str) -> Result<Literal, String> {
    let value: i128 = text
        .trim()
        .parse()
        .map_err(|_| format!("expected an integer of type `{ty}`"))?;
    if value < min || value > max {
        return Err(format!("out of range for `{ty}`"));
    }
    Ok(Literal::Int { value, ty })
}

/// A finite number constant for a `float` or `double` field.
fn float(field: &FieldDescriptor, text: &str) -> Result<Literal, String> {
    let ty = if field.kind() == Kind::Float {
        "f32"
    } else {
        "f64"
    };
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("expected a number of type `{ty}`"))?;
    if !value.is_finite() {
        return Err("only finite numbers can be constants".into());
    }
    Ok(Literal::Float { value, ty })
}

/// A value of the proto enum `e`, by its proto name.
fn enum_value(e: &EnumDescriptor, text: &str) -> Result<Literal, String> {
    match e.get_value_by_name(text) {
        Some(v) => Ok(Literal::Enum {
            name: v.name().to_owned(),
            number: v.number(),
        }),
        None => {
            let names: Vec<String> = e.values().map(|v| v.name().to_owned()).collect();
            Err(format!(
                "enum `{}` has the values {}",
                e.full_name(),
                list(&names)
            ))
        }
    }
}
