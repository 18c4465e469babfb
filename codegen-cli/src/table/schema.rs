//! The JSON Schema of the table's types whose YAML form serde's derive does not describe: the
//! ones read by hand (a keyword or a mapping, a name or a mapping, a keyword or a list), the
//! located map keys, and the values the table takes as written (constants, envelope names).
//! The other types derive [`JsonSchema`] next to their `Deserialize`, so the schema follows
//! the parser (`crate::schema` puts it together).

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

use super::Key;
use super::fields::{FieldSource, FieldSpec, VariantTarget};
use super::rows::{EventEntry, Integration};
use super::subscriptions::{Received, TypedReceived};
use crate::model::Envelope;

impl JsonSchema for Key {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "Key".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string" })
    }
}

impl JsonSchema for FieldSource {
    fn schema_name() -> Cow<'static, str> {
        "FieldSource".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let spec = generator.subschema_for::<FieldSpec>();
        json_schema!({
            "description": "Where one proto field's value comes from: `default` (left at its proto default, on purpose) or a mapping with exactly one of `from`, `envelope`, `const`, `default` (`with`, `fields` and `mapping` without `from` take the whole domain value in scope).",
            "anyOf": [
                {
                    "const": "default",
                    "description": "The field is left at its proto default, on purpose."
                },
                spec
            ]
        })
    }
}

impl JsonSchema for VariantTarget {
    fn schema_name() -> Cow<'static, str> {
        "VariantTarget".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let source = generator.subschema_for::<FieldSource>();
        json_schema!({
            "description": "What one domain enum variant becomes in a oneof: `none` (the oneof is left unset) or `{ <oneof member>: <field source> }`, the member it fills, with its value taken from the variant's content.",
            "anyOf": [
                {
                    "const": "none",
                    "description": "The oneof is left unset for this variant."
                },
                {
                    "type": "object",
                    "description": "The oneof member this variant fills (exactly one) and where its value comes from, in the variant's content.",
                    "minProperties": 1,
                    "maxProperties": 1,
                    "additionalProperties": source
                }
            ]
        })
    }
}

impl JsonSchema for EventEntry {
    fn schema_name() -> Cow<'static, str> {
        "EventEntry".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let integration = generator.subschema_for::<Integration>();
        json_schema!({
            "description": "What a domain event becomes: `internal` (it stays inside the service, on purpose), `{ internal: true, type: crate::path::Payload }` (the same, with its payload type), or the list of integration events it is published as (one or more; an empty list is an error, so that a new event cannot be forgotten).",
            "anyOf": [
                {
                    "const": "internal",
                    "description": "The domain event stays inside the service, on purpose."
                },
                {
                    "type": "object",
                    "description": "An internal domain event whose payload type is not `<domain_module>::<DomainEventName>`.",
                    "properties": {
                        "internal": {
                            "const": true,
                            "description": "Must be `true`: the domain event stays inside the service, on purpose."
                        },
                        "type": {
                            "type": "string",
                            "description": "Rust type of the domain event's payload, e.g. `crate::domain::PriceChanged`."
                        }
                    },
                    "required": ["internal", "type"],
                    "additionalProperties": false
                },
                {
                    "type": "array",
                    "description": "The integration events the domain event is published as.",
                    "minItems": 1,
                    "items": integration
                }
            ]
        })
    }
}

impl JsonSchema for Received {
    fn schema_name() -> Cow<'static, str> {
        "Received".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let typed = generator.subschema_for::<TypedReceived>();
        json_schema!({
            "description": "What a subscription receives under this integration event name: the proto message (full name, or a name in the subscription's `package`), or `{ message: .., ce_type: .. }` when the producer gives the event a CloudEvents type of its own.",
            "anyOf": [
                {
                    "type": "string",
                    "description": "The proto message; the `ce-type` is the event name."
                },
                typed
            ]
        })
    }
}

/// `const:`: a scalar, kept as written and typed by the proto field.
pub(super) fn scalar(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": ["string", "number", "boolean"],
        "description": "A constant, typed by the proto field: strings and bytes as written (bytes as the text's UTF-8; others through a `with:` function), integers and floats parsed and range-checked, `true`/`false`, enum values by their proto name (`ORDER_STATUS_READY`, never prost's Rust variant name)."
    })
}

/// `from:`: a dotted path, or a tuple field's index alone (`0`, which YAML reads as a number).
pub(super) fn domain_path(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": ["string", "integer"],
        "description": "A dotted path of Rust field names into the domain value in scope (the domain event's payload, a collection element, a map value, an enum variant's content), e.g. `total.currency`; keywords may be written bare (`type` means `r#type`), tuple fields are `0`, `1`; `self` is that value itself, which is also what `with`, `fields` or `mapping` without `from` take."
    })
}

/// `envelope:`: one of the envelope values' names.
pub(super) fn envelope_value(_: &mut SchemaGenerator) -> Schema {
    let names: Vec<&str> = Envelope::ALL.iter().map(|(name, _)| *name).collect();
    json_schema!({
        "type": "string",
        "enum": names,
        "description": "A value of the event envelope: `event_id` (the domain event's id), `integration_event_id` (the `ce-id`), `event_name`, `aggregate_id`, `aggregate_name`, `aggregate_version` (after this event), `occurred_at` (a `google.protobuf.Timestamp`)."
    })
}

/// `deliver:`: `all` or `new`.
pub(super) fn deliver_policy(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "enum": ["all", "new"],
        "description": "Where a new durable consumer starts: `all` (default: a consumer started late gets the history) or `new`."
    })
}
