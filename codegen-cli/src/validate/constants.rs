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
    float_of(ty, text)
}

/// A number constant of type `ty` (`f32` or `f64`) that the type holds as written: finite,
/// not rounded to zero or to infinity, and, for an integer, exactly (generated code writes
/// the value the type holds; a constant that silently became another number would be a
/// wrong value on every event).
fn float_of(ty: &'static str, text: &str) -> Result<Literal, String> {
    let text = text.trim();
    let value: f64 = text
        .parse()
        .map_err(|_| format!("expected a number of type `{ty}`"))?;
    if !value.is_finite() {
        return Err("only finite numbers can be constants".into());
    }
    let held = if ty == "f32" {
        let narrowed = value as f32;
        if !narrowed.is_finite() {
            return Err(format!(
                "out of range for `f32` (at most {:e} in magnitude): use a `double` field, or a smaller value",
                f32::MAX
            ));
        }
        f64::from(narrowed)
    } else {
        value
    };
    let mantissa = text.split(['e', 'E']).next().unwrap_or(text);
    if held == 0.0 && mantissa.chars().any(|c| matches!(c, '1'..='9')) {
        return Err(format!(
            "`{text}` is too close to zero for `{ty}`: it would be 0 (the smallest `{ty}` is about {:e})",
            if ty == "f32" {
                f64::from(f32::from_bits(1))
            } else {
                f64::from_bits(1)
            }
        ));
    }
    if let Ok(integer) = text.parse::<i128>() {
        // `as` saturates; the comparison is exact for every `f64` that is an integer.
        if held.fract() != 0.0 || held as i128 != integer {
            return Err(format!(
                "`{text}` is not exactly a `{ty}`: it would be {} (a `{ty}` holds every integer up to 2^{} exactly); use an integer field for such a value",
                held as i128,
                if ty == "f32" { 24 } else { 53 }
            ));
        }
    }
    Ok(Literal::Float { value: held, ty })
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

#[cfg(test)]
mod tests {
    use super::float_of;
    use crate::model::Literal;

    fn held(ty: &'static str, text: &str) -> Result<f64, String> {
        float_of(ty, text).map(|literal| match literal {
            Literal::Float { value, .. } => value,
            other => panic!("not a float: {other:?}"),
        })
    }

    #[test]
    fn a_float_constant_is_what_the_type_holds_or_refused() {
        assert_eq!(held("f32", "1.5"), Ok(1.5));
        assert_eq!(held("f64", "-0.25e3"), Ok(-250.0));
        assert_eq!(held("f32", "16777216"), Ok(16_777_216.0));
        assert_eq!(held("f64", "9007199254740992"), Ok(9_007_199_254_740_992.0));
        assert_eq!(held("f32", "0"), Ok(0.0));
        assert_eq!(held("f64", "0.000e5"), Ok(0.0));
        // 0.1 is no `f32` exactly, and no `f64` either: a decimal fraction is taken as the
        // nearest value, as in Rust source.
        assert_eq!(held("f32", "0.1"), Ok(f64::from(0.1f32)));
        for (ty, text, says) in [
            ("f32", "3.4e39", "out of range for `f32`"),
            ("f32", "-1e300", "out of range for `f32`"),
            ("f32", "1e-50", "too close to zero for `f32`"),
            ("f64", "1e-400", "too close to zero for `f64`"),
            ("f64", "1e400", "only finite numbers"),
            (
                "f64",
                "9007199254740993",
                "is not exactly a `f64`: it would be 9007199254740992",
            ),
            (
                "f32",
                "16777217",
                "is not exactly a `f32`: it would be 16777216",
            ),
            ("f32", "one", "expected a number of type `f32`"),
        ] {
            let err = held(ty, text).expect_err(text);
            assert!(err.contains(says), "{text}: {err}");
        }
    }
}
