//! Consumer side: decoding integration messages back into typed events.
//!
//! Generated code declares, per channel, an enum with one variant per integration event and
//! implements [`IntegrationEventSet`] for it (usually with [`decode_payload`]). The CloudEvents
//! headers are parsed into an [`Envelope`].

use crate::channel::ChannelSpec;
use crate::message::headers;

/// The integration events of one channel, as a decodable type (normally a generated enum).
pub trait IntegrationEventSet: Sized + Send + 'static {
    /// The channel these events travel on.
    const CHANNEL: ChannelSpec;
    /// The `ce-type` values of the events of this set (their integration event names, unless
    /// the producer's table gives a row a `ce_type:` of its own).
    const NAMES: &'static [&'static str];
    /// The last subject token of each event of [`Self::NAMES`], in the same order: the event
    /// `NAMES[i]` is published on `<CHANNEL.subject>.<SUBJECT_TOKENS[i]>`. By default the
    /// names themselves (an event whose `ce-type` is its integration event name); a set
    /// with a reverse-DNS `ce-type` such as `com.example.ordering.OrderCreated` gives its
    /// integration event name (`OrderCreatedEvent`) here.
    const SUBJECT_TOKENS: &'static [&'static str] = Self::NAMES;
    /// The contract of each event of [`Self::NAMES`], in the same order, as the consumer was
    /// compiled with it (generated from its table's protos); empty (the default) for a set
    /// without contracts, which the contract guard (feature `contracts`) leaves unchecked.
    const CONTRACTS: &'static [crate::contract::Contract] = &[];

    /// Decodes the protobuf `payload` of the integration event `name`.
    ///
    /// # Errors
    ///
    /// [`DecodeError::UnknownEvent`] when `name` is not in [`Self::NAMES`],
    /// [`DecodeError::Payload`] when the bytes are not a valid message.
    fn decode(name: &str, payload: &[u8]) -> Result<Self, DecodeError>;

    /// The `ce-type` of this value (one of [`Self::NAMES`]).
    fn name(&self) -> &'static str;

    /// The last subject token of the event whose `ce-type` is `name`
    /// ([`Self::SUBJECT_TOKENS`] at the position of `name` in [`Self::NAMES`]); `None` when
    /// `name` is not an event of the set.
    fn subject_token(name: &str) -> Option<&'static str> {
        let index = Self::NAMES.iter().position(|known| *known == name)?;
        Self::SUBJECT_TOKENS.get(index).copied()
    }

    /// The NATS subject of the event whose `ce-type` is `name`:
    /// `<CHANNEL.subject>.<subject token>`; `None` when `name` is not an event of the set.
    fn subject_for(name: &str) -> Option<String> {
        Self::subject_token(name).map(|token| Self::CHANNEL.subject_for(token))
    }
}

/// An integration message could not be decoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The `ce-type` is not an event of the set.
    #[error("unknown integration event `{name}`")]
    UnknownEvent {
        /// The `ce-type` received.
        name: String,
    },
    /// The payload is not a valid protobuf encoding of the event's message.
    #[error("invalid protobuf payload for `{name}`")]
    Payload {
        /// The integration event name.
        name: String,
        /// prost's error.
        #[source]
        source: prost::DecodeError,
    },
    /// A required header is absent.
    #[error("missing header `{header}`")]
    MissingHeader {
        /// The header name.
        header: &'static str,
    },
    /// A header has a value that cannot be accepted.
    #[error("invalid header `{header}` = {value:?}: {reason}")]
    InvalidHeader {
        /// The header name.
        header: &'static str,
        /// The value received.
        value: String,
        /// Why it is rejected.
        reason: String,
    },
}

/// Decodes `payload` as the prost message `M` of the integration event `name`; the building
/// block of generated [`IntegrationEventSet::decode`] implementations.
///
/// # Errors
///
/// [`DecodeError::Payload`] naming `name`.
pub fn decode_payload<M: prost::Message + Default>(
    name: &str,
    payload: &[u8],
) -> Result<M, DecodeError> {
    M::decode(payload).map_err(|source| DecodeError::Payload {
        name: name.to_owned(),
        source,
    })
}

/// The CloudEvents attributes of an integration message, parsed from its headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// `ce-id`: the integration event id.
    pub id: String,
    /// `ce-type`: the integration event name.
    pub name: String,
    /// `ce-source`: the producing service.
    pub source: String,
    /// `ce-time`: RFC 3339 time the domain event occurred (not re-parsed).
    pub time: String,
    /// `ce-aggregateid`: the aggregate id.
    pub aggregate_id: String,
    /// `ce-aggregatetype`: the aggregate type name.
    pub aggregate_type: String,
    /// `ce-aggregateversion`: aggregate version after the event.
    pub aggregate_version: u64,
    /// `ce-domaineventid`: id of the originating domain event.
    pub domain_event_id: String,
}

/// The headers an [`Envelope`] is parsed from, in the order they are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    SpecVersion,
    DataContentType,
    AggregateId,
    Subject,
    AggregateVersion,
    Id,
    Type,
    Source,
    Time,
    AggregateType,
    DomainEventId,
}

impl Slot {
    /// Every slot, in the order of their discriminants.
    const ALL: [Slot; 11] = [
        Slot::SpecVersion,
        Slot::DataContentType,
        Slot::AggregateId,
        Slot::Subject,
        Slot::AggregateVersion,
        Slot::Id,
        Slot::Type,
        Slot::Source,
        Slot::Time,
        Slot::AggregateType,
        Slot::DomainEventId,
    ];

    /// The slot of the header `name`: the one slot whose header has `name`'s length (and,
    /// where two have it, the byte that tells them apart), compared first as eventmap spells
    /// it (lower case), then ASCII case-insensitively. A message carries about a dozen
    /// headers and every one is classified: a `match` on the strings compared each name with
    /// up to all eleven (780 of the consumer's instructions per message, `BENCHMARKS.md`).
    /// The unit test `slots_by_length` checks the lengths and bytes against the names.
    fn of(name: &str) -> Option<Slot> {
        let byte = |at: usize| name.as_bytes()[at].to_ascii_lowercase();
        let slot = match name.len() {
            5 => Slot::Id,
            // ce-type, ce-time
            7 if byte(4) == b'y' => Slot::Type,
            7 => Slot::Time,
            9 => Slot::Source,
            10 => Slot::Subject,
            // ce-specversion, ce-aggregateid
            14 if byte(3) == b's' => Slot::SpecVersion,
            14 => Slot::AggregateId,
            // ce-aggregatetype, ce-domaineventid
            16 if byte(3) == b'a' => Slot::AggregateType,
            16 => Slot::DomainEventId,
            18 => Slot::DataContentType,
            19 => Slot::AggregateVersion,
            _ => return None,
        };
        let header = slot.header();
        (header == name || header.eq_ignore_ascii_case(name)).then_some(slot)
    }

    /// The header's name.
    const fn header(self) -> &'static str {
        match self {
            Slot::SpecVersion => headers::SPECVERSION,
            Slot::DataContentType => headers::DATACONTENTTYPE,
            Slot::AggregateId => headers::AGGREGATE_ID,
            Slot::Subject => headers::SUBJECT,
            Slot::AggregateVersion => headers::AGGREGATE_VERSION,
            Slot::Id => headers::ID,
            Slot::Type => headers::TYPE,
            Slot::Source => headers::SOURCE,
            Slot::Time => headers::TIME,
            Slot::AggregateType => headers::AGGREGATE_TYPE,
            Slot::DomainEventId => headers::DOMAIN_EVENT_ID,
        }
    }
}

/// The envelope's header values found in one pass over a message's headers, by [`Slot`]: the
/// first value of each name (names compared ASCII case-insensitively).
struct EnvelopeHeaders<'a>([Option<&'a str>; Slot::ALL.len()]);

impl<'a> EnvelopeHeaders<'a> {
    fn collect(headers: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut values = [None; Slot::ALL.len()];
        for (name, value) in headers {
            if let Some(slot) = Slot::of(name) {
                values[slot as usize].get_or_insert(value);
            }
        }
        Self(values)
    }

    /// The non-empty value of the header of `slot`.
    fn required(&self, slot: Slot) -> Result<&'a str, DecodeError> {
        let header = slot.header();
        match self.0[slot as usize] {
            None => Err(DecodeError::MissingHeader { header }),
            Some("") => Err(DecodeError::InvalidHeader {
                header,
                value: String::new(),
                reason: "must not be empty".into(),
            }),
            Some(value) => Ok(value),
        }
    }

    /// Checks that the header of `slot` is `expected`.
    fn exactly(&self, slot: Slot, expected: &str) -> Result<(), DecodeError> {
        let value = self.required(slot)?;
        if value == expected {
            Ok(())
        } else {
            Err(DecodeError::InvalidHeader {
                header: slot.header(),
                value: value.to_owned(),
                reason: format!("expected `{expected}`"),
            })
        }
    }
}

/// An [`Envelope`] borrowing its values from the message's headers: what a consumer checks
/// on every message without copying a value (see [`EnvelopeRef::parse`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EnvelopeRef<'a> {
    /// `ce-id`.
    pub(crate) id: &'a str,
    /// `ce-type`.
    pub(crate) name: &'a str,
    /// `ce-source`.
    pub(crate) source: &'a str,
    /// `ce-time`.
    pub(crate) time: &'a str,
    /// `ce-aggregateid`.
    pub(crate) aggregate_id: &'a str,
    /// `ce-aggregatetype`.
    pub(crate) aggregate_type: &'a str,
    /// `ce-aggregateversion`, parsed.
    pub(crate) aggregate_version: u64,
    /// `ce-domaineventid`.
    pub(crate) domain_event_id: &'a str,
}

impl<'a> EnvelopeRef<'a> {
    /// Parses the envelope from `(name, value)` header pairs, by the rules (and with the
    /// errors) of [`Envelope::from_headers`]; of a header given twice, the first value counts.
    pub(crate) fn parse(
        headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, DecodeError> {
        let found = EnvelopeHeaders::collect(headers);
        found.exactly(Slot::SpecVersion, headers::SPECVERSION_1_0)?;
        found.exactly(Slot::DataContentType, headers::CONTENT_TYPE_PROTOBUF)?;
        let aggregate_id = found.required(Slot::AggregateId)?;
        found.exactly(Slot::Subject, aggregate_id)?;
        let version = found.required(Slot::AggregateVersion)?;
        let aggregate_version =
            version
                .parse::<u64>()
                .map_err(|err| DecodeError::InvalidHeader {
                    header: headers::AGGREGATE_VERSION,
                    value: version.to_owned(),
                    reason: format!("not a decimal u64: {err}"),
                })?;
        Ok(Self {
            id: found.required(Slot::Id)?,
            name: found.required(Slot::Type)?,
            source: found.required(Slot::Source)?,
            time: found.required(Slot::Time)?,
            aggregate_id,
            aggregate_type: found.required(Slot::AggregateType)?,
            aggregate_version,
            domain_event_id: found.required(Slot::DomainEventId)?,
        })
    }

    /// The owned copy.
    pub(crate) fn to_envelope(self) -> Envelope {
        Envelope {
            id: self.id.to_owned(),
            name: self.name.to_owned(),
            source: self.source.to_owned(),
            time: self.time.to_owned(),
            aggregate_id: self.aggregate_id.to_owned(),
            aggregate_type: self.aggregate_type.to_owned(),
            aggregate_version: self.aggregate_version,
            domain_event_id: self.domain_event_id.to_owned(),
        }
    }
}

impl Envelope {
    /// Parses the headers written by
    /// [`IntegrationMessage::from_aggregate_event`](crate::message::IntegrationMessage::from_aggregate_event)
    /// (names compared ASCII case-insensitively; of a header given twice, the first value
    /// counts).
    ///
    /// Every header it always writes is required and must be non-empty; the optional ones
    /// (`ce-correlationid`, `ce-causationid`, `traceparent`, `tracestate`) are not part of the
    /// envelope (read them from the headers, e.g.
    /// `nats::Delivery::correlation_id` with the feature `nats`, or [`crate::trace::continue_trace`]). `ce-specversion` must be `1.0`,
    /// `ce-datacontenttype` must be `application/protobuf`, `ce-aggregateversion` a decimal
    /// `u64`, and `ce-subject` must equal `ce-aggregateid`. A consumer checks the same rules
    /// on every message without copying the values (`nats::Delivery`'s accessors borrow them).
    ///
    /// # Errors
    ///
    /// [`DecodeError::MissingHeader`] or [`DecodeError::InvalidHeader`].
    pub fn from_headers(headers: &[(String, String)]) -> Result<Self, DecodeError> {
        EnvelopeRef::parse(
            headers
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str())),
        )
        .map(EnvelopeRef::to_envelope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{AggregateEvent, DomainEvent};
    use crate::message::IntegrationMessage;

    /// Every envelope header is classified into its own slot, as spelled and in upper
    /// case (the lengths `Slot::of` switches on match the names); other names into none.
    #[test]
    fn slots_by_length() {
        for slot in Slot::ALL {
            assert_eq!(Slot::of(slot.header()), Some(slot), "{}", slot.header());
            let upper = slot.header().to_ascii_uppercase();
            assert_eq!(Slot::of(&upper), Some(slot), "{upper}");
        }
        for other in [
            "ce-dataschema",
            "Nats-Msg-Id",
            "traceparent",
            "ce-tim",
            "",
            "CE-IDX",
        ] {
            assert_eq!(Slot::of(other), None, "{other}");
        }
    }

    #[derive(Debug)]
    struct Shipped;
    impl DomainEvent for Shipped {
        fn event_name(&self) -> &'static str {
            "Shipped"
        }
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct ShippedEvent {
        #[prost(string, tag = "1")]
        order_id: String,
    }

    const CH: ChannelSpec = ChannelSpec::new("order", "ordering.order", "ORDERING_ORDERS");

    fn message() -> IntegrationMessage {
        let event = AggregateEvent::new("Order", "o-9", 12, Shipped);
        IntegrationMessage::from_aggregate_event(
            &event,
            &CH,
            "ShippedEvent",
            "ordering",
            &ShippedEvent {
                order_id: "o-9".into(),
            },
        )
    }

    #[test]
    fn envelope_round_trips() {
        let message = message();
        let envelope = Envelope::from_headers(&message.headers).unwrap();
        assert_eq!(envelope.id, message.id.to_string());
        assert_eq!(envelope.name, "ShippedEvent");
        assert_eq!(envelope.source, "ordering");
        assert_eq!(envelope.aggregate_id, "o-9");
        assert_eq!(envelope.aggregate_type, "Order");
        assert_eq!(envelope.aggregate_version, 12);
        assert_eq!(envelope.time, message.header("ce-time").unwrap());
        assert_eq!(
            decode_payload::<ShippedEvent>("ShippedEvent", &message.payload).unwrap(),
            ShippedEvent {
                order_id: "o-9".into()
            }
        );
    }

    #[test]
    fn envelope_errors() {
        let without = |name: &str| {
            let mut headers = message().headers;
            headers.retain(|(k, _)| k != name);
            Envelope::from_headers(&headers)
        };
        let replaced = |name: &str, value: &str| {
            let mut headers = message().headers;
            for (k, v) in &mut headers {
                if k == name {
                    *v = value.to_owned();
                }
            }
            Envelope::from_headers(&headers)
        };
        assert!(matches!(
            without("ce-type"),
            Err(DecodeError::MissingHeader { header: "ce-type" })
        ));
        assert!(matches!(
            without("ce-aggregateversion"),
            Err(DecodeError::MissingHeader {
                header: "ce-aggregateversion"
            })
        ));
        let err = replaced("ce-aggregateversion", "-1").unwrap_err();
        assert!(
            matches!(&err, DecodeError::InvalidHeader { header: "ce-aggregateversion", value, .. } if value == "-1"),
            "{err:?}"
        );
        assert!(matches!(
            replaced("ce-specversion", "0.3"),
            Err(DecodeError::InvalidHeader {
                header: "ce-specversion",
                ..
            })
        ));
        assert!(matches!(
            replaced("ce-datacontenttype", "application/json"),
            Err(DecodeError::InvalidHeader {
                header: "ce-datacontenttype",
                ..
            })
        ));
        assert!(matches!(
            replaced("ce-id", ""),
            Err(DecodeError::InvalidHeader {
                header: "ce-id",
                ..
            })
        ));
        assert_eq!(
            replaced("ce-subject", "other").unwrap_err().to_string(),
            "invalid header `ce-subject` = \"other\": expected `o-9`"
        );
    }

    #[derive(Debug)]
    enum Typed {
        Created,
        Shipped,
    }
    impl IntegrationEventSet for Typed {
        const CHANNEL: ChannelSpec = CH;
        const NAMES: &'static [&'static str] = &["com.example.ordering.OrderCreated", "Shipped"];
        const SUBJECT_TOKENS: &'static [&'static str] = &["OrderCreatedEvent", "Shipped"];
        fn decode(name: &str, _: &[u8]) -> Result<Self, DecodeError> {
            match name {
                "com.example.ordering.OrderCreated" => Ok(Self::Created),
                "Shipped" => Ok(Self::Shipped),
                _ => Err(DecodeError::UnknownEvent { name: name.into() }),
            }
        }
        fn name(&self) -> &'static str {
            match self {
                Self::Created => "com.example.ordering.OrderCreated",
                Self::Shipped => "Shipped",
            }
        }
    }

    #[derive(Debug)]
    struct Plain;
    impl IntegrationEventSet for Plain {
        const CHANNEL: ChannelSpec = CH;
        const NAMES: &'static [&'static str] = &["ShippedEvent"];
        fn decode(_: &str, _: &[u8]) -> Result<Self, DecodeError> {
            Ok(Self)
        }
        fn name(&self) -> &'static str {
            "ShippedEvent"
        }
    }

    #[test]
    fn subject_tokens_default_to_the_names() {
        assert_eq!(Plain::SUBJECT_TOKENS, ["ShippedEvent"]);
        assert_eq!(Plain::subject_token("ShippedEvent"), Some("ShippedEvent"));
        assert_eq!(
            Plain::subject_for("ShippedEvent").as_deref(),
            Some("ordering.order.ShippedEvent")
        );
        assert_eq!(Plain::subject_token("Other"), None);
        assert_eq!(
            Typed::subject_token("com.example.ordering.OrderCreated"),
            Some("OrderCreatedEvent")
        );
        assert_eq!(
            Typed::subject_for("com.example.ordering.OrderCreated").as_deref(),
            Some("ordering.order.OrderCreatedEvent")
        );
        assert_eq!(Typed::subject_token("Shipped"), Some("Shipped"));
        assert_eq!(Typed::subject_token("OrderCreatedEvent"), None);
        assert!(matches!(Typed::decode("Shipped", b""), Ok(Typed::Shipped)));
        assert_eq!(Typed::Created.name(), "com.example.ordering.OrderCreated");
    }

    #[test]
    fn payload_error_names_event() {
        let err = decode_payload::<ShippedEvent>("ShippedEvent", b"\xff\xff").unwrap_err();
        assert!(matches!(&err, DecodeError::Payload { name, .. } if name == "ShippedEvent"));
        assert!(
            err.to_string()
                .starts_with("invalid protobuf payload for `ShippedEvent`")
        );
    }
}
