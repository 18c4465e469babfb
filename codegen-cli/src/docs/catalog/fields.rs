//! The fields of an integration event in the event catalog: one row per proto field with
//! where the mapping takes its value from, in words.

use prost_reflect::{Kind, MessageDescriptor};

use super::markdown::{cell, code};
use crate::docs::proto_source::{leading_comment, one_line};
use crate::docs::{DocsError, field_type, proto_field};
use crate::model::{Conversion, Envelope, Field, Literal, MessageType, OneofArm, Value};

/// One row of the fields table, ready for Markdown.
pub(super) struct FieldRow {
    /// The proto path of the field (`items.product_id`).
    pub path: String,
    /// Its proto type.
    pub ty: String,
    /// Its field number.
    pub number: u32,
    /// Where its value comes from.
    pub value: String,
    /// Its proto comment, on one line.
    pub description: String,
}

/// One row per field of `message` (in declaration order) as `fields` maps it, nested fields
/// after their parent (`items.product_id`); a field the mapping does not list (a `default`
/// member of a oneof) is `default`. `prefix` is the proto path of the parent, `domain` the
/// domain path of the value the fields are taken from (`items[].` for the elements of a
/// collection).
pub(super) fn field_rows(
    out: &mut Vec<FieldRow>,
    message: &MessageDescriptor,
    fields: &[Field],
    prefix: &str,
    domain: &str,
) -> Result<(), DocsError> {
    for declared in &message.descriptor_proto().field {
        let descriptor = proto_field(message, declared.name())?;
        let field = fields.iter().find(|f| f.proto_name == declared.name());
        let mut ty = field_type(&descriptor);
        if let Some(oneof) = descriptor.containing_oneof().filter(|o| !o.is_synthetic()) {
            ty = format!("{ty} (oneof {})", oneof.name());
        }
        let description = leading_comment(&descriptor.parent_file(), descriptor.path())
            .map(|c| one_line(&c))
            .unwrap_or_default();
        let value = match (field, oneof_arms(fields, &descriptor)) {
            (Some(field), _) => source(field, domain, descriptor.is_list()),
            (None, Some(arms)) => arms,
            (None, None) => DEFAULT.to_owned(),
        };
        out.push(FieldRow {
            path: cell(&code(&format!("{prefix}{}", declared.name()))),
            ty: cell(&code(&ty)),
            number: descriptor.number(),
            value: cell(&value),
            description: cell(&description),
        });
        if let Some(Field {
            value: Value::Nested { path, fields, .. },
            ..
        }) = field
            && let Kind::Message(nested) = descriptor.kind()
        {
            // A map's values: the value message of its entry.
            let (nested, element) = if descriptor.is_map() {
                match nested.map_entry_value_field().kind() {
                    Kind::Message(value) => (value, "[key]"),
                    _ => continue,
                }
            } else if descriptor.is_list() {
                (nested, "[]")
            } else {
                (nested, "")
            };
            let key = if descriptor.is_map() { "[key]" } else { "" };
            field_rows(
                out,
                &nested,
                fields,
                &format!("{prefix}{}{key}.", declared.name()),
                &nested_domain(domain, path, element),
            )?;
        }
    }
    Ok(())
}

/// The domain prefix of the fields of a nested message built from the value at `path` (its
/// elements when `element` is `[]` or `[key]`): `items[].` for the elements of `items`. A
/// nested message without `from:` (an empty `path`) is built from the value in scope itself,
/// so its fields keep the prefix `domain` (the whole event's fields have none).
fn nested_domain(domain: &str, path: &[String], element: &str) -> String {
    let value = format!("{domain}{}", rust_path(path));
    let value = if path.is_empty() {
        value.strip_suffix('.').unwrap_or(&value).to_owned()
    } else {
        value
    };
    match (value.is_empty(), element.is_empty()) {
        (true, true) => String::new(),
        // A collection that is the value in scope (`self`): its elements.
        (true, false) => format!("self{element}."),
        (false, _) => format!("{value}{element}."),
    }
}

/// For a member of a oneof set from a domain enum: the variants that fill it, and from what.
fn oneof_arms(fields: &[Field], member: &prost_reflect::FieldDescriptor) -> Option<String> {
    let oneof = member.containing_oneof()?;
    let (path, arms) = fields.iter().find_map(|f| match &f.value {
        Value::Oneof { path, arms, .. } if f.proto_name == oneof.name() => Some((path, arms)),
        _ => None,
    })?;
    let filled: Vec<String> = arms
        .iter()
        .filter_map(|arm| {
            let field = arm
                .member
                .as_deref()
                .filter(|m| m.proto_name == member.name())?;
            let text = if field.value == Value::Default {
                "set, at its default value".to_owned()
            } else {
                source(
                    field,
                    &format!("{}::{}(x).", rust_path(path), arm.variant),
                    member.is_list(),
                )
            };
            Some(format!("{}: {text}", code(&arm.variant)))
        })
        .collect();
    Some(if filled.is_empty() {
        "unset: no variant of the domain enum fills it".to_owned()
    } else {
        format!(
            "when domain {} is {}",
            code(&rust_path(path)),
            filled.join("; ")
        )
    })
}

/// How a `default` field is described.
const DEFAULT: &str = "default: left at the proto default";

/// Where the value of `field` comes from, in words.
fn source(field: &Field, domain: &str, repeated: bool) -> String {
    match &field.value {
        Value::Domain {
            path,
            with,
            conversion,
        } => domain_source(domain, path, with.as_deref(), conversion),
        Value::Envelope(envelope) => {
            let name = Envelope::ALL
                .iter()
                .find(|(_, e)| e == envelope)
                .map_or("?", |(n, _)| n);
            format!("envelope {}: {}", code(name), envelope_meaning(*envelope))
        }
        Value::Const(literal) => format!("constant {}", code(&literal_text(literal))),
        Value::Default => DEFAULT.to_owned(),
        Value::Mapped { path, mapping, .. } => {
            let path = domain_path(domain, path);
            format!("mapping {} from {path}", code(mapping))
        }
        Value::Oneof {
            path,
            rust_type,
            arms,
            ..
        } => oneof_source(domain, path, rust_type, arms),
        Value::Nested {
            path, message, map, ..
        } => nested_source(domain, path, message, *map, repeated),
    }
}

/// A value taken from the domain event at `path` (through function `with`), converted by
/// `conversion`, in words.
fn domain_source(
    domain: &str,
    path: &[String],
    with: Option<&str>,
    conversion: &Conversion,
) -> String {
    let mut text = domain_path(domain, path);
    if let Some(with) = with {
        text.push_str(&format!(" through {}", code(with)));
    }
    match conversion {
        Conversion::Into => {}
        Conversion::Checked => text.push_str(", range-checked"),
        Conversion::Identity { .. } => text.push_str(", the prost message as returned"),
        Conversion::Enum {
            rust_type, arms, ..
        } => {
            let arms: Vec<String> = arms
                .iter()
                .map(|(variant, value, _)| format!("{} → {}", code(variant), code(value)))
                .collect();
            text.push_str(&format!(", enum {}: {}", code(rust_type), arms.join(", ")));
        }
    }
    text
}

/// A oneof set from the domain enum `rust_type` at `path`, variant by variant, in words.
fn oneof_source(domain: &str, path: &[String], rust_type: &str, arms: &[OneofArm]) -> String {
    let arms: Vec<String> = arms
        .iter()
        .map(|arm| match &arm.member {
            Some(member) => {
                format!("{} → {}", code(&arm.variant), code(&member.proto_name))
            }
            None => format!("{} → unset", code(&arm.variant)),
        })
        .collect();
    format!(
        "oneof from {} (enum {}): {}",
        domain_path(domain, path),
        code(rust_type),
        arms.join(", ")
    )
}

/// A nested `message` built from the domain value at `path` (one per value of a `map`, one
/// per element when `repeated`), in words.
fn nested_source(
    domain: &str,
    path: &[String],
    message: &MessageType,
    map: bool,
    repeated: bool,
) -> String {
    let path = domain_path(domain, path);
    if map {
        format!(
            "nested: one {} per value of {path}",
            code(&message.full_name)
        )
    } else if repeated {
        format!(
            "nested: one {} per element of {path}",
            code(&message.full_name)
        )
    } else {
        format!("nested: {} from {path}", code(&message.full_name))
    }
}

/// What an envelope value is.
fn envelope_meaning(envelope: Envelope) -> &'static str {
    match envelope {
        Envelope::EventId => "the domain event's id",
        Envelope::IntegrationEventId => "the integration event's id (`ce-id`)",
        Envelope::EventName => "the domain event name",
        Envelope::AggregateId => "the aggregate's id",
        Envelope::AggregateName => "the aggregate's type name",
        Envelope::AggregateVersion => "the aggregate's version after the event",
        Envelope::OccurredAt => "when the domain event occurred",
    }
}

/// A constant as the table means it: strings and bytes quoted (JSON escapes), the rest as
/// written.
fn literal_text(literal: &Literal) -> String {
    match literal {
        Literal::String(s) | Literal::Bytes(s) => serde_json::Value::String(s.clone()).to_string(),
        Literal::Bool(b) => b.to_string(),
        Literal::Int { value, .. } => value.to_string(),
        Literal::Float { value, .. } => value.to_string(),
        Literal::Enum { name, .. } => name.clone(),
    }
}

/// A domain path as the table writes it (`r#type` as `type`).
/// The domain value at `path` in words: `domain `<domain><path>`` (`domain` is the prefix of
/// the value in scope, `items[].`), or the value in scope itself for the empty path.
fn domain_path(domain: &str, path: &[String]) -> String {
    let full = format!("{domain}{}", rust_path(path));
    if full.is_empty() {
        return "the whole domain event".to_owned();
    }
    let shown = match full.strip_suffix('.') {
        Some(whole) if path.is_empty() => whole.to_owned(),
        _ => full,
    };
    format!("domain {}", code(&shown))
}

fn rust_path(path: &[String]) -> String {
    path.iter()
        .map(|p| p.strip_prefix("r#").unwrap_or(p))
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nested_message_without_from_keeps_the_value_in_scope() {
        let path = |p: &[&str]| p.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(nested_domain("", &path(&[]), ""), "");
        assert_eq!(nested_domain("lines[].", &path(&[]), ""), "lines[].");
        assert_eq!(nested_domain("", &path(&["lines"]), "[]"), "lines[].");
        assert_eq!(nested_domain("a.", &path(&["r#type"]), ""), "a.type.");
        assert_eq!(nested_domain("", &path(&[]), "[]"), "self[].");
    }

    #[test]
    fn constants_are_shown_as_written() {
        assert_eq!(
            literal_text(&Literal::String("a \"b\"\n".into())),
            r#""a \"b\"\n""#
        );
        assert_eq!(
            literal_text(&Literal::Int {
                value: -7,
                ty: "i32"
            }),
            "-7"
        );
        assert_eq!(
            literal_text(&Literal::Enum {
                name: "STATUS_READY".into(),
                number: 1
            }),
            "STATUS_READY"
        );
    }
}
