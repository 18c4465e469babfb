//! The AsyncAPI 3.0 document of a table's integration events (`asyncapi.yaml`).
//!
//! - `servers.nats`: a placeholder NATS server (`localhost:4222`): the table does not say where
//!   the server runs, the team edits it or overrides it in its tooling;
//! - one channel per integration event, keyed by its name, at its subject
//!   (`<channel subject>.<integration event name>`), with the JetStream stream in
//!   `x-jetstream-stream`;
//! - one `send` operation per integration event (`send<Event>`), for the producing service;
//!   consumers' `receive` operations are not written: no table declares consumers yet;
//! - one message per integration event in `components.messages`: the CloudEvents 1.0
//!   binary-mode headers as a JSON Schema (`ce-type` and `ce-source` as constants) and the
//!   protobuf payload as a multi-format schema (`application/vnd.google.protobuf;version=3`)
//!   whose schema is the text of the `.proto` file that defines the message (see
//!   [`super::proto_source::inline_schema`]), and the message's full proto name in
//!   `x-protobuf-message`.
//!
//! Written with serde-saphyr's serializer from typed structs, in table order.

use indexmap::IndexMap;
use serde::Serialize;

use super::proto_source::{inline_schema, leading_comment, message_summary};
use super::{DocsError, Published};
use crate::Sources;
use crate::model::Model;
use crate::protos::ProtoSet;

/// The AsyncAPI version written.
pub const ASYNCAPI_VERSION: &str = "3.0.0";
/// The schema format of the payloads.
pub const PROTOBUF_SCHEMA_FORMAT: &str = "application/vnd.google.protobuf;version=3";
/// The content type of every message (`ce-datacontenttype`).
pub const CONTENT_TYPE: &str = "application/protobuf";
/// The host of the placeholder server.
pub const PLACEHOLDER_HOST: &str = "localhost:4222";

/// The AsyncAPI document of the integration events `published` by the table of `model`, as
/// YAML. `sources` holds the text of the `.proto` files (inlined as payload schemas).
///
/// # Errors
/// [`DocsError::ProtoSource`] when the text of a `.proto` file is not known,
/// [`DocsError::Yaml`] when serialization fails.
pub fn render(
    model: &Model,
    published: &[Published<'_>],
    protos: &ProtoSet,
    sources: &Sources,
) -> Result<String, DocsError> {
    let document = document(model, published, protos, sources)?;
    Ok(serde_saphyr::to_string(&document)?)
}

fn document(
    model: &Model,
    published: &[Published<'_>],
    protos: &ProtoSet,
    sources: &Sources,
) -> Result<Document, DocsError> {
    let service = &model.service;
    let mut channels = IndexMap::new();
    let mut operations = IndexMap::new();
    let mut messages = IndexMap::new();
    for p in published {
        let name = &p.event.name;
        let message_ref = format!("#/components/messages/{name}");
        channels.insert(
            name.clone(),
            Channel {
                address: p.subject.clone(),
                title: format!("{name} ({})", p.channel.name),
                description: format!(
                    "`{name}` events of `{service}`, on channel `{}` (subjects `{}.>`), kept in the \
                     JetStream stream `{}`. Consumers filter on this subject.",
                    p.channel.name, p.channel.subject, p.channel.stream
                ),
                messages: IndexMap::from([(name.clone(), Ref::to(message_ref))]),
                jetstream_stream: p.channel.stream.clone(),
            },
        );
        operations.insert(
            format!("send{name}"),
            Operation {
                action: "send",
                channel: Ref::to(format!("#/channels/{name}")),
                title: format!("{service} publishes {name}"),
                summary: format!(
                    "Published by `{service}` for every `{}` domain event.",
                    p.domain.name
                ),
                description: format!(
                    "The generated integration handler converts the domain event `{}` field by \
                     field into `{}` and publishes it on `{}`; publishing returns once JetStream \
                     acknowledged it. Re-publishing the same domain event gives the same `ce-id` \
                     (and `Nats-Msg-Id`), so JetStream drops the copy within its duplicate window.",
                    p.domain.name,
                    p.message.full_name(),
                    p.subject
                ),
                messages: vec![Ref::to(format!("#/channels/{name}/messages/{name}"))],
            },
        );
        messages.insert(name.clone(), message(model, p, protos, sources)?);
    }
    Ok(Document {
        asyncapi: ASYNCAPI_VERSION,
        info: Info {
            title: format!("{service} integration events"),
            version: "1.0.0",
            description: format!(
                "The integration events the service `{service}` publishes on NATS JetStream, \
                 generated from `{}` by `eventmap docs` (do not edit; regenerate). Each message \
                 is the protobuf encoding of its payload message with CloudEvents 1.0 \
                 binary-mode headers (`ce-*`). The contract is versioned by its proto packages \
                 and guarded by `eventmap check --against`; `version` is not maintained.",
                model.table_name
            ),
        },
        default_content_type: CONTENT_TYPE,
        servers: IndexMap::from([(
            "nats".to_owned(),
            Server {
                host: PLACEHOLDER_HOST,
                protocol: "nats",
                description: "Placeholder: the mapping table does not say where the NATS \
                              server runs. Replace the host with your deployment's (or override \
                              it in your AsyncAPI tooling)."
                    .to_owned(),
            },
        )]),
        channels,
        operations,
        components: Components { messages },
    })
}

fn message(
    model: &Model,
    p: &Published<'_>,
    protos: &ProtoSet,
    sources: &Sources,
) -> Result<Message, DocsError> {
    let full_name = p.message.full_name();
    let file = p.message.parent_file();
    let comment = leading_comment(&file, p.message.path());
    let mut description = format!(
        "Produced from the domain event `{}`. Payload: `{full_name}`, defined in `{}` (the whole \
         file is inlined; the line `// @RootNode` above the message is added so that AsyncAPI's \
         protobuf schema parser takes it as the payload).",
        p.domain.name,
        file.name()
    );
    if let Some(comment) = comment {
        description = format!("{comment}\n\n{description}");
    }
    Ok(Message {
        name: p.event.name.clone(),
        title: p.event.name.clone(),
        summary: message_summary(&p.message)
            .unwrap_or_else(|| format!("{} as {full_name}", p.domain.name)),
        description,
        content_type: CONTENT_TYPE,
        headers: headers(&model.service, &p.event.name),
        payload: MultiFormatSchema {
            schema_format: PROTOBUF_SCHEMA_FORMAT,
            schema: inline_schema(protos, sources, &p.message)?,
        },
        protobuf_message: full_name.to_owned(),
    })
}

/// Headers written only when they apply (`eventmap::message::headers`).
const OPTIONAL: [&str; 4] = [
    "ce-correlationid",
    "ce-causationid",
    "traceparent",
    "tracestate",
];

/// The headers schema of a message of integration event `event` published by `service`: the
/// headers the runtime writes (`eventmap::message::headers`), required but for [`OPTIONAL`].
fn headers(service: &str, event: &str) -> Schema {
    let string = |description: &str| Schema {
        ty: Some("string"),
        description: Some(description.to_owned()),
        ..Schema::default()
    };
    let properties = IndexMap::from([
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
        (
            "ce-type",
            Schema {
                constant: Some(event.to_owned()),
                ..string("The integration event name.")
            },
        ),
        (
            "ce-source",
            Schema {
                constant: Some(service.to_owned()),
                ..string("The producing service.")
            },
        ),
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
    ]);
    Schema {
        ty: Some("object"),
        required: properties
            .keys()
            .filter(|k| !OPTIONAL.contains(k))
            .map(|k| (*k).to_owned())
            .collect(),
        properties: properties
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        ..Schema::default()
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    asyncapi: &'static str,
    info: Info,
    default_content_type: &'static str,
    servers: IndexMap<String, Server>,
    channels: IndexMap<String, Channel>,
    operations: IndexMap<String, Operation>,
    components: Components,
}

#[derive(Debug, Serialize)]
struct Info {
    title: String,
    version: &'static str,
    description: String,
}

#[derive(Debug, Serialize)]
struct Server {
    host: &'static str,
    protocol: &'static str,
    description: String,
}

#[derive(Debug, Serialize)]
struct Channel {
    address: String,
    title: String,
    description: String,
    messages: IndexMap<String, Ref>,
    #[serde(rename = "x-jetstream-stream")]
    jetstream_stream: String,
}

#[derive(Debug, Serialize)]
struct Operation {
    action: &'static str,
    channel: Ref,
    title: String,
    summary: String,
    description: String,
    messages: Vec<Ref>,
}

#[derive(Debug, Serialize)]
struct Components {
    messages: IndexMap<String, Message>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Message {
    name: String,
    title: String,
    summary: String,
    description: String,
    content_type: &'static str,
    headers: Schema,
    payload: MultiFormatSchema,
    #[serde(rename = "x-protobuf-message")]
    protobuf_message: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct MultiFormatSchema {
    schema_format: &'static str,
    schema: String,
}

#[derive(Debug, Serialize)]
struct Ref {
    #[serde(rename = "$ref")]
    reference: String,
}

impl Ref {
    fn to(reference: String) -> Ref {
        Ref { reference }
    }
}

/// The part of JSON Schema the headers need.
#[derive(Debug, Default, Serialize)]
struct Schema {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    ty: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(rename = "const", skip_serializing_if = "Option::is_none")]
    constant: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    format: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pattern: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    required: Vec<String>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    properties: IndexMap<String, Schema>,
}
