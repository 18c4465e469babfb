//! The canonical form of a [`Schema`]: the text its fingerprint is the hash of.
//!
//! ```text
//! eventmap-contract 1
//! root ordering.v1.OrderCreated
//! message ordering.v1.OrderCreated
//!   field 1 id implicit string
//!   field 5 items repeated message ordering.v1.OrderItem
//!   field 9 created_at optional message google.protobuf.Timestamp
//! message google.protobuf.Timestamp
//!   ...
//! enum payments.v1.Method closed
//!   value 0 METHOD_UNSPECIFIED
//! ```
//!
//! One line per message (`map_entry` appended for the entry of a map field), field (number,
//! name, label, type, then `oneof <name>` for a member of a oneof), enum (`open` or `closed`)
//! and enum value (number, name). The root message comes first, then the other messages by
//! full name, then the enums by full name; fields by number, values by number then name.
//! Lines end with `\n`. Not part of it: comments, options other than `map_entry`, proto2
//! default values, reserved ranges, the file a type is declared in.

use std::fmt::Write as _;

use crate::schema::{EnumSchema, MessageSchema, Schema};

/// The first line: the version of the canonical form.
const HEADER: &str = "eventmap-contract 1";

impl Schema {
    /// The canonical form of the schema (see the module documentation of
    /// [`crate`]'s `canonical` rules: sorted, one line per item), independent of the order of
    /// its entries.
    pub fn canonical_form(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{HEADER}");
        let _ = writeln!(out, "root {}", self.root);
        let mut messages: Vec<&MessageSchema> = self.messages.iter().collect();
        messages
            .sort_by(|a, b| (a.name != self.root, &a.name).cmp(&(b.name != self.root, &b.name)));
        for message in messages {
            write_message(&mut out, message);
        }
        let mut enums: Vec<&EnumSchema> = self.enums.iter().collect();
        enums.sort_by(|a, b| a.name.cmp(&b.name));
        for enumeration in enums {
            write_enum(&mut out, enumeration);
        }
        out
    }
}

fn write_message(out: &mut String, message: &MessageSchema) {
    let entry = if message.map_entry { " map_entry" } else { "" };
    let _ = writeln!(out, "message {}{entry}", message.name);
    let mut fields: Vec<_> = message.fields.iter().collect();
    fields.sort_by_key(|field| (field.number, field.name.as_str()));
    for field in fields {
        let _ = write!(
            out,
            "  field {} {} {} {}",
            field.number,
            field.name,
            field.label().as_str(),
            field.type_text()
        );
        if !field.oneof.is_empty() {
            let _ = write!(out, " oneof {}", field.oneof);
        }
        out.push('\n');
    }
}

fn write_enum(out: &mut String, enumeration: &EnumSchema) {
    let openness = if enumeration.closed { "closed" } else { "open" };
    let _ = writeln!(out, "enum {} {openness}", enumeration.name);
    let mut values: Vec<_> = enumeration.values.iter().collect();
    values.sort_by_key(|value| (value.number, value.name.as_str()));
    for value in values {
        let _ = writeln!(out, "  value {} {}", value.number, value.name);
    }
}

#[cfg(test)]
mod tests {
    use crate::schema::{EnumValueSchema, FieldSchema, Label};

    use super::*;

    fn field(name: &str, number: i32, label: Label, kind: &str, type_name: &str) -> FieldSchema {
        FieldSchema {
            name: name.into(),
            number,
            label: label as i32,
            kind: kind.into(),
            type_name: type_name.into(),
            oneof: String::new(),
        }
    }

    #[test]
    fn the_form_is_sorted_and_independent_of_the_order_of_entries() {
        let mut schema = Schema {
            root: "a.B".into(),
            messages: vec![
                MessageSchema {
                    name: "a.A".into(),
                    fields: vec![field("x", 1, Label::Implicit, "int32", "")],
                    map_entry: false,
                },
                MessageSchema {
                    name: "a.B".into(),
                    fields: vec![
                        field("s", 2, Label::Optional, "enum", "a.S"),
                        field("a", 1, Label::Repeated, "message", "a.A"),
                    ],
                    map_entry: false,
                },
            ],
            enums: vec![EnumSchema {
                name: "a.S".into(),
                values: vec![
                    EnumValueSchema {
                        name: "S_ONE".into(),
                        number: 1,
                    },
                    EnumValueSchema {
                        name: "S_ZERO".into(),
                        number: 0,
                    },
                ],
                closed: true,
            }],
        };
        let expected = "eventmap-contract 1\nroot a.B\nmessage a.B\n  field 1 a repeated message a.A\n  field 2 s optional enum a.S\nmessage a.A\n  field 1 x implicit int32\nenum a.S closed\n  value 0 S_ZERO\n  value 1 S_ONE\n";
        assert_eq!(schema.canonical_form(), expected);
        let fingerprint = schema.fingerprint();
        schema.messages.reverse();
        schema.messages[0].fields.reverse();
        assert_eq!(schema.canonical_form(), expected);
        assert_eq!(schema.fingerprint(), fingerprint);
        schema.messages[1].fields[0].name = "y".into();
        assert_ne!(
            schema.fingerprint(),
            fingerprint,
            "a field name is in the form"
        );
    }
}
