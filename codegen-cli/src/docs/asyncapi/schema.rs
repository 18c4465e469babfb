//! The part of the AsyncAPI 3.0 document the table fills, as typed structs serde-saphyr
//! writes in field order.

use indexmap::IndexMap;
use serde::Serialize;

/// The document.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Document {
    pub(super) asyncapi: &'static str,
    pub(super) info: Info,
    pub(super) default_content_type: &'static str,
    pub(super) servers: IndexMap<String, Server>,
    pub(super) channels: IndexMap<String, Channel>,
    pub(super) operations: IndexMap<String, Operation>,
    pub(super) components: Components,
}

/// `info`: title, version and description of the document.
#[derive(Debug, Serialize)]
pub(super) struct Info {
    pub(super) title: String,
    pub(super) version: &'static str,
    pub(super) description: String,
}

/// A server (`servers.nats`).
#[derive(Debug, Serialize)]
pub(super) struct Server {
    pub(super) host: &'static str,
    pub(super) protocol: &'static str,
    pub(super) description: String,
}

/// A channel: one subject.
#[derive(Debug, Serialize)]
pub(super) struct Channel {
    pub(super) address: String,
    pub(super) title: String,
    pub(super) description: String,
    pub(super) messages: IndexMap<String, Ref>,
    #[serde(rename = "x-jetstream-stream")]
    pub(super) jetstream_stream: String,
    /// The stream's replicas (`num_replicas`), written only when not the default 1.
    #[serde(
        rename = "x-jetstream-replicas",
        skip_serializing_if = "Option::is_none"
    )]
    pub(super) jetstream_replicas: Option<usize>,
}

/// A `send` or `receive` operation.
#[derive(Debug, Serialize)]
pub(super) struct Operation {
    pub(super) action: &'static str,
    pub(super) channel: Ref,
    pub(super) title: String,
    pub(super) summary: String,
    pub(super) description: String,
    pub(super) messages: Vec<Ref>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub(super) extensions: Option<ReceiveExtensions>,
    /// The subscriptions of the tables documented together that receive a sent event.
    #[serde(rename = "x-eventmap-consumers", skip_serializing_if = "Vec::is_empty")]
    pub(super) consumers: Vec<ConsumerExtension>,
    /// The services of the tables documented together that publish a received event.
    #[serde(rename = "x-eventmap-producers", skip_serializing_if = "Vec::is_empty")]
    pub(super) producers: Vec<String>,
}

/// A subscription of another service receiving a sent event (`x-eventmap-consumers`).
#[derive(Debug, Serialize)]
pub(super) struct ConsumerExtension {
    pub(super) service: String,
    pub(super) subscription: String,
    pub(super) durable: String,
}

/// The machine-readable subscription of a `receive` operation.
#[derive(Debug, Serialize)]
pub(super) struct ReceiveExtensions {
    #[serde(rename = "x-eventmap-subscription")]
    pub(super) subscription: String,
    #[serde(rename = "x-jetstream-durable")]
    pub(super) durable: String,
    #[serde(rename = "x-eventmap-delivery")]
    pub(super) delivery: DeliveryExtension,
    #[serde(
        rename = "x-dead-letter-subject",
        skip_serializing_if = "Option::is_none"
    )]
    pub(super) dead_letter_subject: Option<String>,
    #[serde(
        rename = "x-dead-letter-stream",
        skip_serializing_if = "Option::is_none"
    )]
    pub(super) dead_letter_stream: Option<String>,
}

/// The delivery settings the table writes (those absent are the runtime's defaults).
#[derive(Debug, Serialize)]
pub(super) struct DeliveryExtension {
    pub(super) deliver: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) ack_wait_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) max_deliver: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) backoff_ms: Option<Vec<u64>>,
}

/// `components`: the messages.
#[derive(Debug, Serialize)]
pub(super) struct Components {
    pub(super) messages: IndexMap<String, Message>,
}

/// A message: its headers and its protobuf payload.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Message {
    pub(super) name: String,
    pub(super) title: String,
    pub(super) summary: String,
    pub(super) description: String,
    pub(super) content_type: &'static str,
    pub(super) headers: Schema,
    pub(super) payload: MultiFormatSchema,
    #[serde(rename = "x-protobuf-message")]
    pub(super) protobuf_message: String,
    /// The contract's `dataschema` (`eventmap:<message>#<fingerprint>`), as in `ce-dataschema`.
    #[serde(
        rename = "x-eventmap-dataschema",
        skip_serializing_if = "Option::is_none"
    )]
    pub(super) dataschema: Option<String>,
}

/// A payload schema in another format than JSON Schema (the `.proto` text).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct MultiFormatSchema {
    pub(super) schema_format: &'static str,
    pub(super) schema: String,
}

/// A `$ref` to another part of the document.
#[derive(Debug, Serialize)]
pub(super) struct Ref {
    #[serde(rename = "$ref")]
    pub(super) reference: String,
}

impl Ref {
    /// A reference to `reference` (`#/components/messages/<name>`).
    pub(super) fn to(reference: String) -> Ref {
        Ref { reference }
    }
}

/// The part of JSON Schema the headers need.
#[derive(Debug, Default, Serialize)]
pub(super) struct Schema {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub(super) ty: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) description: Option<String>,
    #[serde(rename = "const", skip_serializing_if = "Option::is_none")]
    pub(super) constant: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) format: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) pattern: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) required: Vec<String>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub(super) properties: IndexMap<String, Schema>,
}
