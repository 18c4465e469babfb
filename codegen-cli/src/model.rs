//! The checked mapping model: what the table says, resolved against the protos and ready to
//! emit. Built only by [`crate::validate`]; every name in it is known to be valid.

use std::path::PathBuf;

use crate::diagnostic::SourceLocation;

/// A checked mapping table.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// The mapping file's name (no directories), for the generated header.
    pub table_name: String,
    /// The producing service (CloudEvents `ce-source`).
    pub service: String,
    /// Rust module of the domain event types (absent in a table that only consumes).
    pub domain_module: Option<String>,
    /// Rust module under which prost's packages are.
    pub proto_module: String,
    /// Where `eventmap generate` writes, resolved against the table's folder.
    pub output: Option<PathBuf>,
    /// Channels in table order.
    pub channels: Vec<Channel>,
    /// Domain events in table order.
    pub events: Vec<DomainEvent>,
    /// Declared subscriptions in table order.
    pub subscriptions: Vec<Subscription>,
    /// Named message mappings (`mappings:` with `message`), in table order: each becomes a
    /// function that converters using it call (and that may call itself).
    pub mappings: Vec<MessageMapping>,
    /// The contract of every proto message an integration event of the table is encoded as
    /// (published or subscribed), by full name.
    pub contracts: Vec<MessageContract>,
}

/// The contract of a proto message ([`eventmap_contract::Schema`]): what the generated
/// module embeds, what producers register and consumers compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageContract {
    /// Full name of the proto message.
    pub message: String,
    /// `eventmap:<full name>#<fingerprint>`: the CloudEvents `dataschema`.
    pub dataschema: String,
    /// The encoded [`eventmap_contract::Schema`].
    pub schema: Vec<u8>,
}

impl Model {
    /// The contract of the proto message `full_name`, if an integration event of the table
    /// is encoded as it.
    pub fn contract(&self, full_name: &str) -> Option<&MessageContract> {
        self.contracts.iter().find(|c| c.message == full_name)
    }
}

/// A named message mapping: a domain type onto a proto message, field by field.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageMapping {
    /// Name in the table (`mappings.<name>`).
    pub name: String,
    /// Rust path of the domain type it converts from.
    pub domain_type: String,
    /// The proto message it builds.
    pub message: MessageType,
    /// Its fields, rooted at the domain value.
    pub fields: Vec<Field>,
}

/// A declared subscription: a durable consumer on one channel, receiving some of its
/// integration events.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    /// Name in the table (gives the generated enum, trait and function names).
    pub name: String,
    /// The channel consumed (a name of [`Model::channels`]).
    pub channel: String,
    /// The durable consumer name.
    pub durable: String,
    /// The integration events received, in table order.
    pub events: Vec<SubscribedEvent>,
    /// Delivery policy; `None` fields take the runtime's defaults.
    pub delivery: DeliveryPolicy,
    /// Where the subscription is written.
    pub location: Option<SourceLocation>,
}

/// One integration event a subscription receives.
#[derive(Debug, Clone, PartialEq)]
pub struct SubscribedEvent {
    /// Integration event name: the last subject token and the Rust names.
    pub name: String,
    /// The CloudEvents `ce-type` the consumer decodes by: the name, or the `ce_type` the table
    /// gives the event.
    pub ce_type: String,
    /// Its proto message.
    pub message: MessageType,
}

/// A subscription's delivery policy as written; absent values are the runtime's defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryPolicy {
    /// `true` for `deliver: new` (only messages published after the consumer is created).
    pub deliver_new: bool,
    /// Ack wait, in milliseconds.
    pub ack_wait_ms: Option<u64>,
    /// Deliveries in all, the first included.
    pub max_deliver: Option<i64>,
    /// Redelivery delays in milliseconds.
    pub backoff_ms: Option<Vec<u64>>,
    /// Dead-letter subject prefix and stream.
    pub dead_letter: Option<Channel>,
    /// `on_incompatible:` (the contract guard's policy); `None`: the runtime's default,
    /// refuse.
    pub on_incompatible: Option<ContractPolicy>,
}

/// What the contract guard does with a producer contract the consumer cannot read
/// (`eventmap::nats::ContractPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContractPolicy {
    /// `refuse`: stop before handling any message of it.
    Refuse,
    /// `dead-letter`: dead-letter its messages with the reason.
    DeadLetter,
    /// `warn`: log and handle.
    Warn,
}

/// A channel: a subject prefix in one JetStream stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    /// Name in the table.
    pub name: String,
    /// NATS subject prefix.
    pub subject: String,
    /// JetStream stream name.
    pub stream: String,
    /// Copies of the stream in a JetStream cluster, 1 to 5 (`replicas:`, default 1).
    pub replicas: usize,
}

/// A domain event and the integration events it becomes.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainEvent {
    /// Name in the table (and the dispatcher's event name).
    pub name: String,
    /// Where the table names it (the key under `events:`).
    pub location: Option<SourceLocation>,
    /// Integration events, in table order.
    pub integrations: Vec<IntegrationEvent>,
    /// For an `internal` event, the Rust path of its payload type (`type:`, or
    /// `<domain_module>::<name>`); `None` for a published event, or when the table has no
    /// `rust.domain_module` to name it.
    pub internal_type: Option<String>,
}

/// One integration event of a domain event.
#[derive(Debug, Clone, PartialEq)]
pub struct IntegrationEvent {
    /// Integration event name: the last subject token, the Rust names and the seed of the
    /// `ce-id`.
    pub name: String,
    /// The CloudEvents `ce-type`: the name, or the row's `ce_type`.
    pub ce_type: String,
    /// Rust path of the domain event type.
    pub domain_type: String,
    /// Channel name.
    pub channel: String,
    /// The proto message it is encoded as.
    pub message: MessageType,
    /// One entry per proto field, in proto declaration order.
    pub fields: Vec<Field>,
}

/// A proto message and its Rust type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageType {
    /// Full proto name, e.g. `ordering.v1.OrderCreated`.
    pub full_name: String,
    /// Rust path of the prost type.
    pub rust_path: String,
    /// prost's Rust field names of the message's `oneof`s (one `Option<enum>` field each):
    /// `None` unless one member is mapped.
    pub oneofs: Vec<String>,
}

/// How prost represents a field: the plain type, `Option<T>`, or `Vec<T>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `T` (proto3 scalars, strings, bytes, enums as `i32`; proto2 `required` ones; oneof
    /// members).
    Singular,
    /// `Option<M>` of a singular message field: the converted value is wrapped in `Some`.
    Message,
    /// `Option<Box<M>>`: a singular message field that prost boxes because its type
    /// contains the declaring message (a recursive message).
    BoxedMessage,
    /// `Box<M>`: a oneof member of a recursive message type.
    Boxed,
    /// `Option<T>` of a proto3 or proto2 `optional` scalar or enum, or of a well-known wrapper
    /// (`StringValue`, `Empty`): a plain domain value becomes `Some`, a domain `Option<T>`
    /// maps `None` to an absent field; a constant is `Some`.
    Optional,
    /// `Vec<T>` (`repeated`).
    Repeated,
}

/// One proto field and where its value comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// Proto field name.
    pub proto_name: String,
    /// prost's Rust field name.
    pub rust_name: String,
    /// prost's representation.
    pub shape: Shape,
    /// The value.
    pub value: Value,
    /// Set when the field is a member of a (non-synthetic) oneof.
    pub oneof: Option<OneofMember>,
    /// Where the table maps it (the proto field's key).
    pub location: Option<SourceLocation>,
    /// prost's Rust type of the field when it is a scalar, string, bytes or enum (possibly
    /// repeated or optional): `i64`, `::std::vec::Vec<i32>`, ... Generated conversions name it,
    /// so that a domain type without a lossless conversion is reported as such by rustc.
    pub prost_type: Option<String>,
}

/// Where a field's value comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A path into the domain event (Rust field accesses), optionally through a function.
    Domain {
        /// Rust field names, outermost first.
        path: Vec<String>,
        /// Conversion function path, called with a reference to the value.
        with: Option<String>,
        /// How the (possibly `with`-converted) value becomes the prost value.
        conversion: Conversion,
    },
    /// An envelope value.
    Envelope(Envelope),
    /// A constant.
    Const(Literal),
    /// Left at the proto default.
    Default,
    /// A nested message built field by field from a domain value; for a repeated field,
    /// once per element; for a map field, once per value (keys convert through `IntoProto`).
    Nested {
        /// Rust field names of the domain value, outermost first (empty: the value in scope).
        path: Vec<String>,
        /// The nested message.
        message: MessageType,
        /// Its fields.
        fields: Vec<Field>,
        /// Whether the field is a proto `map` (the domain value a map of values).
        map: bool,
    },
    /// A message built by a named message mapping ([`MessageMapping`]), from a domain value
    /// (`T` or `Option<T>`, boxed or not), each element of a collection, or each map value.
    Mapped {
        /// Rust field names of the domain value, outermost first (empty: the value in scope).
        path: Vec<String>,
        /// The mapping's name.
        mapping: String,
        /// Rust path of the mapping's domain type.
        domain_type: String,
        /// Whether the field is a proto `map`.
        map: bool,
    },
    /// A oneof set from a domain enum, variant by variant (a `match` without wildcard: a new
    /// variant does not compile until mapped). The field is the oneof itself.
    Oneof {
        /// Rust field names of the domain enum (or `Option` of it), outermost first.
        path: Vec<String>,
        /// Rust path of the domain enum.
        rust_type: String,
        /// Rust path of prost's oneof enum.
        enum_path: String,
        /// One arm per domain variant, in table order.
        arms: Vec<OneofArm>,
        /// Where the variants are mapped (the `enum:` key, on the row or in a named mapping):
        /// where a missing variant is to be added.
        declared: Option<SourceLocation>,
    },
}

/// One variant of a domain enum mapped onto a oneof.
#[derive(Debug, Clone, PartialEq)]
pub struct OneofArm {
    /// The domain variant.
    pub variant: String,
    /// The member it fills, with its value rooted at the variant's content; `None` leaves the
    /// oneof unset.
    pub member: Option<Box<Field>>,
}

/// How a domain value becomes the prost value of its field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conversion {
    /// Through `eventmap::convert::IntoProto` (identity, lossless widening, own impls).
    Into,
    /// Through `eventmap::convert::checked` (`TryFrom`, range-checked at run time).
    Checked,
    /// The prost message itself, returned by a `with:` function into a message field (or an
    /// `Option`, a collection or a map of it): cloned, never converted.
    Identity {
        /// Rust path of the prost message (the map's value type for a map field).
        message: String,
        /// Whether the field is a `map` (the function returns a map of messages).
        map: bool,
    },
    /// A domain enum matched variant by variant onto proto enum numbers.
    Enum {
        /// Rust path of the domain enum.
        rust_type: String,
        /// (domain variant, proto value name, proto value number), in table order.
        arms: Vec<(String, String, i32)>,
        /// The named enum mapping (`mapping: <name>`) the arms come from, when they are not
        /// written on the row: where a missing variant is to be added.
        named: Option<NamedEnum>,
    },
}

/// A named enum mapping (`mappings.<name>` with `enum` + `values`) used by a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedEnum {
    /// The mapping's name.
    pub name: String,
    /// Where its `enum:` is written (its `values:` follow).
    pub declared: Option<SourceLocation>,
}

/// The oneof a field belongs to, as prost represents it: one `Option<Enum>` field per oneof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneofMember {
    /// prost's field name of the oneof.
    pub oneof: String,
    /// Rust path of prost's oneof enum (`crate::proto::pkg::message::Choice`).
    pub enum_path: String,
    /// The variant of this member (`A` for field `a`).
    pub variant: String,
}

/// Values taken from the event envelope rather than the domain event's payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Envelope {
    /// The domain event's id (UUID).
    EventId,
    /// The integration event's id, derived from the domain event id and the integration
    /// event name (the `ce-id`).
    IntegrationEventId,
    /// The domain event name.
    EventName,
    /// The aggregate's id.
    AggregateId,
    /// The aggregate's type name.
    AggregateName,
    /// The aggregate's version after the event.
    AggregateVersion,
    /// When the domain event occurred.
    OccurredAt,
}

impl Envelope {
    /// All envelope values with their names in the table.
    pub const ALL: &'static [(&'static str, Envelope)] = &[
        ("event_id", Envelope::EventId),
        ("integration_event_id", Envelope::IntegrationEventId),
        ("event_name", Envelope::EventName),
        ("aggregate_id", Envelope::AggregateId),
        ("aggregate_name", Envelope::AggregateName),
        ("aggregate_version", Envelope::AggregateVersion),
        ("occurred_at", Envelope::OccurredAt),
    ];

    /// The envelope value named `name` in the table.
    pub fn from_name(name: &str) -> Option<Envelope> {
        Envelope::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, e)| *e)
    }
}

/// A constant, typed by the proto field it fills.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `string`.
    String(String),
    /// `bytes` (the UTF-8 bytes of the text as written).
    Bytes(String),
    /// `bool`.
    Bool(bool),
    /// An integer of the given Rust type (`i32`, `i64`, `u32`, `u64`).
    Int {
        /// The value.
        value: i128,
        /// Rust type suffix.
        ty: &'static str,
    },
    /// A float of the given Rust type (`f32`, `f64`).
    Float {
        /// The value.
        value: f64,
        /// Rust type suffix.
        ty: &'static str,
    },
    /// An enum value, by proto name, as prost stores it (`i32`).
    Enum {
        /// Proto value name.
        name: String,
        /// Its number.
        number: i32,
    },
}
