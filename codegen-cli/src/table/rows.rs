//! Event rows (`events:`): what each domain event becomes.

use std::fmt;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use serde_saphyr::Spanned;

use super::Key;
use super::fields::FieldSource;

/// What a domain event becomes.
#[derive(Debug)]
pub enum EventEntry {
    /// `internal`, or `{ internal: true, type: crate::path::Payload }`: the domain event stays
    /// inside the service, on purpose; the type, when its payload is not
    /// `<domain_module>::<DomainEventName>` (a payload type shared with published names).
    Internal(Option<Spanned<String>>),
    /// The integration events it is published as (one or more).
    Integrations(Vec<Integration>),
}

impl EventEntry {
    /// The integration events (none for an internal event).
    pub fn integrations(&self) -> &[Integration] {
        match self {
            EventEntry::Internal(_) => &[],
            EventEntry::Integrations(list) => list,
        }
    }
}

impl<'de> Deserialize<'de> for EventEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntryVisitor;

        impl<'de> Visitor<'de> for EntryVisitor {
            type Value = EventEntry;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "`internal`, `{ internal: true, type: crate::path::Payload }` or a list of integration events",
                )
            }

            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<EventEntry, A::Error> {
                let typed = TypedInternal::deserialize(de::value::MapAccessDeserializer::new(map))?;
                if !typed.internal {
                    return Err(de::Error::custom(
                        "`internal: false` says nothing: write the integration events as a list, or `internal: true`",
                    ));
                }
                Ok(EventEntry::Internal(Some(typed.rust_type)))
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<EventEntry, E> {
                if value == "internal" {
                    Ok(EventEntry::Internal(None))
                } else {
                    Err(E::invalid_value(de::Unexpected::Str(value), &self))
                }
            }

            fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<EventEntry, A::Error> {
                Vec::<Integration>::deserialize(de::value::SeqAccessDeserializer::new(seq))
                    .map(EventEntry::Integrations)
            }
        }

        deserializer.deserialize_any(EntryVisitor)
    }
}

/// `{ internal: true, type: crate::path::Payload }`: an internal domain event of a given type.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TypedInternal {
    /// Must be `true`.
    internal: bool,
    /// The Rust type of the domain event's payload.
    #[serde(rename = "type")]
    rust_type: Spanned<String>,
}

/// One integration event that a domain event becomes.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Integration {
    /// Integration event name, e.g. `OrderCreatedEvent`: the last subject token, the Rust
    /// names, and the `ce-type` unless `ce_type` gives another.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// The CloudEvents `ce-type`, when it is not the name (e.g. the reverse-DNS
    /// `com.example.ordering.OrderCreated`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub ce_type: Option<Spanned<String>>,
    /// Full proto message name, e.g. `ordering.v1.OrderCreated`.
    #[schemars(with = "String")]
    pub message: Spanned<String>,
    /// Channel name (a key of `channels:`).
    #[schemars(with = "String")]
    pub channel: Spanned<String>,
    /// Rust type of the domain event, when it is not `<domain_module>::<DomainEventName>`.
    #[serde(default, rename = "type")]
    #[schemars(with = "Option<String>")]
    pub rust_type: Option<Spanned<String>>,
    /// Every field of the proto message, each exactly once: proto field name -> where its
    /// value comes from.
    #[schemars(with = "IndexMap<Key, FieldSource>")]
    pub fields: IndexMap<Key, Spanned<FieldSource>>,
}
