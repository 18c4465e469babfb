//! Subscriptions (`subscriptions:`): the consuming side of the table.

use std::fmt;

use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_saphyr::Spanned;

use super::{Channel, Key};

/// One declared subscription (`subscriptions.<name>`): a durable consumer on one channel.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscription {
    /// The channel consumed (a key of `channels:`, which gives the producer's subject prefix
    /// and stream).
    pub channel: Spanned<String>,
    /// The producer's proto package; message names under `events:` without a `.` are taken
    /// in it.
    #[serde(default)]
    pub package: Option<Spanned<String>>,
    /// The durable consumer name; `<service>-<subscription name>` when absent.
    #[serde(default)]
    pub durable: Option<Spanned<String>>,
    /// Integration event name (last subject token) -> what is received: the proto message,
    /// and the `ce-type` when the producer gives the event one of its own.
    pub events: IndexMap<Key, Spanned<Received>>,
    /// Acknowledgement, redelivery and dead-letter policy; runtime defaults when absent.
    #[serde(default)]
    pub delivery: Option<Delivery>,
}

/// One event a subscription receives (the value under `subscriptions.<name>.events.<Event>`).
#[derive(Debug)]
pub enum Received {
    /// `OrderCreatedEvent: OrderCreated`: the proto message; the `ce-type` is the event name.
    Message(String),
    /// `OrderCreatedEvent: { message: OrderCreated, ce_type: com.example.ordering.OrderCreated }`:
    /// the proto message and the producer's CloudEvents type of the event.
    Typed(TypedReceived),
}

/// The long form of [`Received`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypedReceived {
    /// The proto message (full name, or a name in the subscription's `package`).
    pub message: Spanned<String>,
    /// The CloudEvents `ce-type` the producer writes; the event name when absent.
    #[serde(default)]
    pub ce_type: Option<Spanned<String>>,
}

impl Received {
    /// The proto message as written, located (`entry` is this value with its location).
    pub fn message(entry: &Spanned<Received>) -> Spanned<String> {
        match &entry.value {
            Received::Message(message) => Spanned {
                value: message.clone(),
                referenced: entry.referenced,
                defined: entry.defined,
            },
            Received::Typed(typed) => typed.message.clone(),
        }
    }

    /// The `ce-type` written, when the long form gives one.
    pub fn ce_type(&self) -> Option<&Spanned<String>> {
        match self {
            Received::Message(_) => None,
            Received::Typed(typed) => typed.ce_type.as_ref(),
        }
    }
}

impl<'de> Deserialize<'de> for Received {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ReceivedVisitor;

        impl<'de> Visitor<'de> for ReceivedVisitor {
            type Value = Received;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a proto message name, or `{ message: Message, ce_type: com.example.Type }`",
                )
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<Received, E> {
                Ok(Received::Message(value.to_owned()))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Received, A::Error> {
                TypedReceived::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(Received::Typed)
            }
        }

        deserializer.deserialize_any(ReceivedVisitor)
    }
}

/// `delivery:` of a subscription. Durations are written as humantime text (`500ms`, `30s`,
/// `2m`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delivery {
    /// Where a new durable consumer starts: `all` (the stream's history) or `new`.
    #[serde(default)]
    pub deliver: Option<Spanned<String>>,
    /// How long the server waits for an ack before redelivering.
    #[serde(default)]
    pub ack_wait: Option<Spanned<String>>,
    /// Deliveries of one message in all, the first included.
    #[serde(default)]
    pub max_deliver: Option<Spanned<i64>>,
    /// Redelivery delay after each failed delivery (the last one repeats).
    #[serde(default)]
    pub backoff: Option<Vec<Spanned<String>>>,
    /// Where messages that exhausted their deliveries, or cannot be decoded, are published.
    #[serde(default)]
    pub dead_letter: Option<Channel>,
    /// What the contract guard does with a producer contract the consumer cannot read:
    /// `refuse` (the runtime's default), `dead-letter` or `warn`.
    #[serde(default)]
    pub on_incompatible: Option<Spanned<String>>,
}
