//! The headers schema of an AsyncAPI message: the CloudEvents 1.0 binary-mode headers the
//! runtime writes (`eventmap::message::headers`).

use indexmap::IndexMap;

use super::CONTENT_TYPE;
use super::schema::Schema;

/// Headers written only when they apply (`eventmap::message::headers`).
const OPTIONAL: [&str; 4] = [
    "ce-correlationid",
    "ce-causationid",
    "traceparent",
    "tracestate",
];

/// The headers schema of a message of integration event `event` (CloudEvents type `ce_type`)
/// published by `service` (`None`: by another service, which the table does not name): the
/// headers the runtime writes (`eventmap::message::headers`), required but for [`OPTIONAL`].
/// With `dataschema`, `ce-dataschema`: for an event the service publishes, required with that
/// value (the generated code writes it on every message); for one it receives, optional and
/// described (a producer may publish a compatible contract of its own: the consumer's guard
/// judges it).
pub(super) fn headers(
    service: Option<&str>,
    event: &str,
    ce_type: &str,
    dataschema: Option<&str>,
) -> Schema {
    const CONTRACT: &str = "The contract of the payload: `eventmap:<proto message>#<fingerprint>`, \
        the fingerprint being the first 16 bytes of the SHA-256 of the canonical form of the \
        message's descriptor (docs/checks.md).";
    let dataschema = dataschema.map(|value| {
        let schema = match service {
            Some(_) => Schema {
                constant: Some(value.into()),
                ..string(CONTRACT)
            },
            None => string(&format!(
                "{CONTRACT} This service was built with `{value}`; another one is judged by its contract guard (docs/delivery.md)."
            )),
        };
        ("ce-dataschema", schema)
    });
    let received = service.is_none();
    let properties: IndexMap<&str, Schema> = cloudevents(service, event, ce_type)
        .into_iter()
        .chain(dataschema)
        .chain(aggregate())
        .chain(optional())
        .collect();
    Schema {
        ty: Some("object"),
        required: properties
            .keys()
            .filter(|k| {
                let optional = OPTIONAL.contains(k) || (received && **k == "ce-dataschema");
                !optional
            })
            .map(|k| (*k).to_owned())
            .collect(),
        properties: properties
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        ..Schema::default()
    }
}

/// A string header described by `description`.
fn string(description: &str) -> Schema {
    Schema {
        ty: Some("string"),
        description: Some(description.to_owned()),
        ..Schema::default()
    }
}

/// The CloudEvents context attributes of the message (`ce-specversion` to
/// `ce-datacontenttype`).
fn cloudevents(service: Option<&str>, event: &str, ce_type: &str) -> [(&'static str, Schema); 6] {
    [
        (
            "ce-specversion",
            Schema {
                constant: Some("1.0".into()),
                ..string("CloudEvents spec version.")
            },
        ),
        (
            "ce-id",
            Schema {
                format: Some("uuid"),
                ..string(
                    "Integration event id: UUID v5 of the integration event name in the \
                     namespace of the domain event id (the same domain event always gives the \
                     same id).",
                )
            },
        ),
        ("ce-type", ce_type_header(event, ce_type)),
        ("ce-source", ce_source(service)),
        (
            "ce-time",
            Schema {
                format: Some("date-time"),
                ..string("When the domain event occurred, RFC 3339 in UTC.")
            },
        ),
        (
            "ce-datacontenttype",
            Schema {
                constant: Some(CONTENT_TYPE.to_owned()),
                ..string("The payload is the protobuf encoding of the message.")
            },
        ),
    ]
}

/// `ce-type`: the integration event name, or its CloudEvents type when that differs.
fn ce_type_header(event: &str, ce_type: &str) -> Schema {
    if ce_type == event {
        Schema {
            constant: Some(event.to_owned()),
            ..string("The integration event name.")
        }
    } else {
        Schema {
            constant: Some(ce_type.to_owned()),
            ..string(&format!(
                "The CloudEvents type of the integration event `{event}` (the last token of its subject)."
            ))
        }
    }
}

/// `ce-source`: the producing service, named when the table names it.
fn ce_source(service: Option<&str>) -> Schema {
    match service {
        Some(service) => Schema {
            constant: Some(service.to_owned()),
            ..string("The producing service.")
        },
        None => string("The producing service (another service than the one receiving)."),
    }
}

/// The aggregate and de-duplication headers (`ce-subject` to `Nats-Msg-Id`).
fn aggregate() -> [(&'static str, Schema); 6] {
    [
        (
            "ce-subject",
            string("The aggregate id the event is about (equals `ce-aggregateid`)."),
        ),
        ("ce-aggregateid", string("The aggregate id.")),
        (
            "ce-aggregatetype",
            string("The aggregate type name (e.g. `Order`)."),
        ),
        (
            "ce-aggregateversion",
            Schema {
                pattern: Some("^[0-9]+$"),
                ..string(
                    "The aggregate version after the event, a decimal unsigned 64-bit integer.",
                )
            },
        ),
        (
            "ce-domaineventid",
            Schema {
                format: Some("uuid"),
                ..string("Id of the domain event the message was derived from.")
            },
        ),
        (
            "Nats-Msg-Id",
            Schema {
                format: Some("uuid"),
                ..string("JetStream de-duplication id; equals `ce-id`.")
            },
        ),
    ]
}

/// The headers written only when they apply ([`OPTIONAL`]).
fn optional() -> [(&'static str, Schema); 4] {
    [
        (
            "ce-correlationid",
            string(
                "Optional: the correlation id of the operation the event belongs to (domain \
                 event metadata `correlation_id`).",
            ),
        ),
        (
            "ce-causationid",
            string(
                "Optional: the id of the command or message that caused the event (domain event \
                 metadata `causation_id`).",
            ),
        ),
        (
            "traceparent",
            Schema {
                pattern: Some("^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"),
                ..string(
                    "Optional: W3C Trace Context of the command that produced the event \
                     (producers built with the runtime feature `otel`).",
                )
            },
        ),
        (
            "tracestate",
            string("Optional: W3C Trace Context vendor state, with `traceparent`."),
        ),
    ]
}
