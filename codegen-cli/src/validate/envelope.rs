//! Envelope values (`envelope:`) and the proto field types they fit.

use prost_reflect::{FieldDescriptor, Kind};
use serde_saphyr::Spanned;

use super::Validator;
use super::proto_types::describe;
use super::suggest::{list, suggest};
use crate::model::{Envelope, Shape, Value};
use crate::rules;

impl Validator<'_> {
    pub(super) fn envelope(
        &mut self,
        field: &FieldDescriptor,
        shape: Shape,
        name: &Spanned<String>,
    ) -> Option<Value> {
        let Some(envelope) = Envelope::from_name(&name.value) else {
            let names: Vec<&str> = Envelope::ALL.iter().map(|(n, _)| *n).collect();
            let hint = suggest(&name.value, names.iter().copied())
                .map(|s| format!("did you mean `{s}`?"))
                .unwrap_or_else(|| format!("envelope values: {}", list(&names)));
            self.cx
                .error(
                    rules::UNKNOWN_ENVELOPE_VALUE,
                    name.referenced,
                    format!("`{}` is not an envelope value", name.value),
                )
                .hint = Some(hint);
            return None;
        };
        if shape == Shape::Repeated || !fits(&envelope, &field.kind()) {
            let note = self.protos.field_location(field);
            let d = self.cx.error(
                rules::ENVELOPE_TYPE,
                name.referenced,
                format!(
                    "envelope value `{}` needs {}; `{}` is {}",
                    name.value,
                    expected(&envelope),
                    field.name(),
                    describe(field)
                ),
            );
            d.notes.push(("the field is declared here".into(), note));
            return None;
        }
        Some(Value::Envelope(envelope))
    }
}

/// Whether a (non-repeated) field of `kind` holds `envelope`.
fn fits(envelope: &Envelope, kind: &Kind) -> bool {
    match envelope {
        Envelope::EventId | Envelope::IntegrationEventId => {
            matches!(kind, Kind::String | Kind::Bytes)
        }
        Envelope::EventName | Envelope::AggregateName | Envelope::AggregateId => {
            *kind == Kind::String
        }
        Envelope::AggregateVersion => matches!(
            kind,
            Kind::Uint64
                | Kind::Int64
                | Kind::Fixed64
                | Kind::Sfixed64
                | Kind::Sint64
                | Kind::Uint32
                | Kind::Int32
                | Kind::Fixed32
                | Kind::Sfixed32
                | Kind::Sint32
        ),
        Envelope::OccurredAt => {
            matches!(kind, Kind::Message(m) if m.full_name() == "google.protobuf.Timestamp")
        }
    }
}

/// The fields that hold `envelope`, for the error of one that does not.
fn expected(envelope: &Envelope) -> &'static str {
    match envelope {
        Envelope::EventId | Envelope::IntegrationEventId => "a `string` or `bytes` field",
        Envelope::EventName | Envelope::AggregateName | Envelope::AggregateId => "a `string` field",
        Envelope::AggregateVersion => {
            "an integer field (`uint64`; `int64`, `int32`, ... range-checked)"
        }
        Envelope::OccurredAt => "a `google.protobuf.Timestamp` field",
    }
}
