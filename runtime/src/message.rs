//! What goes on the wire: an encoded protobuf payload with CloudEvents 1.0 headers.
//!
//! Messages use the CloudEvents *binary content mode*: the payload is the bare protobuf
//! encoding of the integration event and the CloudEvents attributes travel as `ce-`-prefixed
//! headers (the CloudEvents NATS protocol binding maps attributes to NATS headers the same way
//! the HTTP binding does). See [`headers`] for the names and values.
//!
//! The integration event id is derived deterministically from the domain event id
//! ([`integration_event_id`]), so re-publishing the same domain event (after a crash or a retry)
//! yields the same `ce-id`/`Nats-Msg-Id` and JetStream drops the copy within its duplicate
//! window.

use std::time::SystemTime;

use bytes::Bytes;
use uuid::Uuid;

use crate::channel::ChannelSpec;
use crate::event::{AggregateEvent, metadata_keys};

/// Header names and fixed values used on integration messages.
///
/// CloudEvents 1.0 attribute `x` travels as header `ce-x` (binary content mode). Extension
/// attribute names follow the CloudEvents rule: lower-case ASCII letters and digits only.
pub mod headers {
    /// `ce-specversion`: CloudEvents spec version, always `"1.0"`.
    pub const SPECVERSION: &str = "ce-specversion";
    /// `ce-id`: the integration event id ([`super::integration_event_id`]), hyphenated UUID.
    pub const ID: &str = "ce-id";
    /// `ce-type`: the CloudEvents type of the integration event: its name (e.g.
    /// `"OrderCreatedEvent"`), or the `ce_type:` its row in the table gives (e.g.
    /// `"com.example.ordering.OrderCreated"`).
    pub const TYPE: &str = "ce-type";
    /// `ce-source`: the producing service, e.g. `"ordering"` (`service:` in mappings.yaml).
    pub const SOURCE: &str = "ce-source";
    /// `ce-time`: when the domain event occurred, RFC 3339 in UTC with 0, 3, 6 or 9 fraction
    /// digits, e.g. `"2026-11-30T05:00:00.123456789Z"`.
    pub const TIME: &str = "ce-time";
    /// `ce-datacontenttype`: always [`CONTENT_TYPE_PROTOBUF`].
    pub const DATACONTENTTYPE: &str = "ce-datacontenttype";
    /// `ce-dataschema` (optional): the contract of the payload,
    /// `eventmap:<proto message full name>#<fingerprint>` ([`crate::contract::Contract`]);
    /// written by handlers that generated code gives it (the generator computes it at build
    /// time).
    pub const DATASCHEMA: &str = "ce-dataschema";
    /// `ce-subject`: the aggregate id the event is about.
    pub const SUBJECT: &str = "ce-subject";
    /// `ce-aggregateid` (extension): the aggregate id.
    pub const AGGREGATE_ID: &str = "ce-aggregateid";
    /// `ce-aggregatetype` (extension): the aggregate type name, e.g. `"Order"`.
    pub const AGGREGATE_TYPE: &str = "ce-aggregatetype";
    /// `ce-aggregateversion` (extension): aggregate version after the event, decimal `u64`.
    pub const AGGREGATE_VERSION: &str = "ce-aggregateversion";
    /// `ce-domaineventid` (extension): id of the domain event the message was derived from.
    pub const DOMAIN_EVENT_ID: &str = "ce-domaineventid";
    /// `ce-correlationid` (extension, optional): the correlation id of the operation the event
    /// belongs to, from the domain event's metadata
    /// [`CORRELATION_ID`](crate::event::metadata_keys::CORRELATION_ID). Written only when the
    /// metadata has it.
    pub const CORRELATION_ID: &str = "ce-correlationid";
    /// `ce-causationid` (extension, optional): the id of the message or command that caused the
    /// event, from the domain event's metadata
    /// [`CAUSATION_ID`](crate::event::metadata_keys::CAUSATION_ID). Written only when the
    /// metadata has it.
    pub const CAUSATION_ID: &str = "ce-causationid";
    /// `traceparent` (optional): W3C Trace Context of the span that built the message (the
    /// command's), written with the feature `otel` ([`crate::trace`]).
    pub const TRACEPARENT: &str = "traceparent";
    /// `tracestate` (optional): W3C Trace Context vendor state, written with `traceparent` when
    /// the trace has one.
    pub const TRACESTATE: &str = "tracestate";
    /// `Nats-Msg-Id`: JetStream de-duplication id. Set by the JetStream publisher from
    /// [`IntegrationMessage::id`](super::IntegrationMessage::id); not part of
    /// [`IntegrationMessage::headers`](super::IntegrationMessage::headers).
    pub const NATS_MSG_ID: &str = "Nats-Msg-Id";
    /// `"application/protobuf"`: value of `ce-datacontenttype`.
    pub const CONTENT_TYPE_PROTOBUF: &str = "application/protobuf";
    /// `"1.0"`: value of `ce-specversion`.
    pub const SPECVERSION_1_0: &str = "1.0";
}

/// The deterministic id of the integration event `integration_event_name` derived from the
/// domain event `domain_event_id`: `Uuid::new_v5(&domain_event_id, name.as_bytes())`
/// (RFC 9562 name-based UUID, SHA-1, with the domain event id as namespace).
///
/// The same domain event always maps to the same id, so a re-publish is de-duplicated by
/// JetStream (`Nats-Msg-Id`), and one domain event mapped to several integration events gets
/// a distinct id for each.
pub fn integration_event_id(domain_event_id: Uuid, integration_event_name: &str) -> Uuid {
    Uuid::new_v5(&domain_event_id, integration_event_name.as_bytes())
}

/// Formats `time` as RFC 3339 in UTC (prost's `Timestamp` display: 0, 3, 6 or 9 fraction
/// digits). Times outside years 1..=9999 cannot be RFC 3339; they get prost's extended-year
/// form (`+10000-...`).
pub(crate) fn rfc3339(time: SystemTime) -> String {
    let timestamp = crate::convert::timestamp_from(time).unwrap_or_else(|| {
        // Out of the protobuf range: still render something meaningful, without panicking.
        match time.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(after) => prost_types::Timestamp {
                seconds: i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
                nanos: 0,
            },
            Err(before) => prost_types::Timestamp {
                seconds: i64::try_from(before.duration().as_secs())
                    .map(|s| -s)
                    .unwrap_or(i64::MIN + 1),
                nanos: 0,
            },
        }
    });
    timestamp.to_string()
}

/// An encoded integration event ready to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrationMessage {
    /// Integration event id (`ce-id`, and `Nats-Msg-Id` on JetStream).
    pub id: Uuid,
    /// Integration event name, e.g. `"OrderCreatedEvent"`: the last token of [`Self::subject`]
    /// and the name [`Self::id`] is derived from. The `ce-type` header is the same unless the
    /// table gives the row another CloudEvents type ([`Self::ce_type`]).
    pub name: String,
    /// NATS subject, `<channel subject>.<name>`.
    pub subject: String,
    /// The protobuf encoding of the integration event.
    pub payload: Bytes,
    /// Headers in the order they are written; see [`headers`].
    pub headers: Vec<(String, String)>,
}

impl IntegrationMessage {
    /// Builds the message for the integration event `integration_event_name` derived from
    /// `event`, published on `channel` by the service `source`, with `message` as payload.
    ///
    /// Headers (CloudEvents 1.0 binary mode), in this order: `ce-specversion` (`1.0`), `ce-id`
    /// ([`integration_event_id`]), `ce-type` (`integration_event_name`), `ce-source`
    /// (`source`), `ce-subject` (aggregate id), `ce-time` (RFC 3339 of `occurred_at`),
    /// `ce-datacontenttype` (`application/protobuf`), [`ce-dataschema`](headers::DATASCHEMA)
    /// (only from a handler given one), `ce-aggregateid`, `ce-aggregatetype`
    /// (aggregate name), `ce-aggregateversion` (decimal) and `ce-domaineventid`; then, when
    /// present, `ce-correlationid` and `ce-causationid` (the metadata entries
    /// [`metadata_keys::CORRELATION_ID`] and [`metadata_keys::CAUSATION_ID`]) and, with the
    /// feature `otel`, `traceparent`/`tracestate` of the current span ([`crate::trace`]).
    ///
    /// Other domain event metadata is not copied. `Nats-Msg-Id` is not in [`Self::headers`]:
    /// the JetStream publisher sets it from [`Self::id`]. Header values are not validated here:
    /// a value with a line break (an aggregate id, a correlation or causation id) is kept, and
    /// the message is refused where it would leave the service, naming the header: by the
    /// publishers ([`PublishError::InvalidMessage`](crate::PublishError::InvalidMessage)) and
    /// by the append to an outbox. An empty correlation or causation id is left out.
    pub fn from_aggregate_event<P: ?Sized, M: prost::Message>(
        event: &AggregateEvent<P>,
        channel: &ChannelSpec,
        integration_event_name: &str,
        source: &str,
        message: &M,
    ) -> Self {
        Self::from_aggregate_event_with_type(
            event,
            channel,
            integration_event_name,
            integration_event_name,
            source,
            message,
        )
    }

    /// Like [`from_aggregate_event`](Self::from_aggregate_event), with `ce_type` as the
    /// `ce-type` header instead of the integration event name: for a row of the table with a
    /// `ce_type:` of its own (a reverse-DNS type such as `com.example.ordering.OrderCreated`).
    ///
    /// The subject (`<channel subject>.<integration_event_name>`) and the id
    /// ([`integration_event_id`] of `integration_event_name`) do not depend on `ce_type`.
    ///
    /// ```
    /// # use eventmap::{AggregateEvent, ChannelSpec, DomainEvent, IntegrationMessage};
    /// # #[derive(Debug)] struct Placed;
    /// # impl DomainEvent for Placed { fn event_name(&self) -> &'static str { "Placed" } }
    /// const ORDER: ChannelSpec = ChannelSpec::new("order", "ordering.order", "ORDERING_ORDERS");
    /// let event = AggregateEvent::new("Order", "order-1", 1, Placed);
    /// let message = IntegrationMessage::from_aggregate_event_with_type(
    ///     &event, &ORDER, "OrderCreatedEvent", "com.example.ordering.OrderCreated", "ordering", &(),
    /// );
    /// assert_eq!(message.subject, "ordering.order.OrderCreatedEvent");
    /// assert_eq!(message.ce_type(), Some("com.example.ordering.OrderCreated"));
    /// assert_eq!(message.id, eventmap::integration_event_id(event.id(), "OrderCreatedEvent"));
    /// ```
    pub fn from_aggregate_event_with_type<P: ?Sized, M: prost::Message>(
        event: &AggregateEvent<P>,
        channel: &ChannelSpec,
        integration_event_name: &str,
        ce_type: &str,
        source: &str,
        message: &M,
    ) -> Self {
        let id = integration_event_id(event.id(), integration_event_name);
        Self::with_id(
            id,
            event,
            channel,
            integration_event_name,
            ce_type,
            None,
            source,
            message,
        )
    }

    /// [`from_aggregate_event_with_type`](Self::from_aggregate_event_with_type) with its `id`
    /// already computed (it must be [`integration_event_id`] of the event's id and
    /// `integration_event_name`): the integration handlers compute it once for the message and
    /// their tracing span. With `dataschema`, the headers have `ce-dataschema` after
    /// `ce-datacontenttype`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn with_id<P: ?Sized, M: prost::Message>(
        id: Uuid,
        event: &AggregateEvent<P>,
        channel: &ChannelSpec,
        integration_event_name: &str,
        ce_type: &str,
        dataschema: Option<&str>,
        source: &str,
        message: &M,
    ) -> Self {
        let mut headers: Vec<(String, String)> = [
            (headers::SPECVERSION, headers::SPECVERSION_1_0.to_owned()),
            (headers::ID, id.hyphenated().to_string()),
            (headers::TYPE, ce_type.to_owned()),
            (headers::SOURCE, source.to_owned()),
            (headers::SUBJECT, event.aggregate_id().to_owned()),
            (headers::TIME, rfc3339(event.occurred_at())),
            (
                headers::DATACONTENTTYPE,
                headers::CONTENT_TYPE_PROTOBUF.to_owned(),
            ),
            (
                headers::DATASCHEMA,
                dataschema.unwrap_or_default().to_owned(),
            ),
            (headers::AGGREGATE_ID, event.aggregate_id().to_owned()),
            (headers::AGGREGATE_TYPE, event.aggregate_name().to_owned()),
            (
                headers::AGGREGATE_VERSION,
                event.aggregate_version().to_string(),
            ),
            (
                headers::DOMAIN_EVENT_ID,
                event.id().hyphenated().to_string(),
            ),
        ]
        .into_iter()
        .filter(|(name, value)| *name != headers::DATASCHEMA || !value.is_empty())
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
        for (key, header) in [
            (metadata_keys::CORRELATION_ID, headers::CORRELATION_ID),
            (metadata_keys::CAUSATION_ID, headers::CAUSATION_ID),
        ] {
            match event.metadata().get(key) {
                Some(value) if !value.is_empty() => {
                    headers.push((header.to_owned(), value.clone()));
                }
                Some(_) => tracing::debug!(metadata = key, "empty metadata value left out"),
                None => {}
            }
        }
        crate::trace::inject(&mut headers);
        Self {
            id,
            name: integration_event_name.to_owned(),
            subject: channel.subject_for(integration_event_name),
            payload: Bytes::from(message.encode_to_vec()),
            headers,
        }
    }

    /// The value of the first header called `name` (ASCII case-insensitive, like NATS and
    /// HTTP header names), or `None`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Why a header of this message could never be sent, naming the integration event and the
    /// header, or `None`. The rules are the NATS header format's (as async-nats checks them):
    /// a name of visible ASCII characters without `:`, a value without CR or LF (a header is
    /// one line). The aggregate id travels in `ce-subject` and `ce-aggregateid`, the
    /// correlation and causation ids in `ce-correlationid` and `ce-causationid`.
    pub(crate) fn unsendable_header(&self) -> Option<String> {
        self.headers.iter().find_map(|(name, value)| {
            // Byte scans: every header of every message passes here (a char pattern decodes
            // UTF-8 and was the relay's costliest function of its own in `perf`); a non-ASCII
            // character's bytes are not ASCII graphic either.
            if name.is_empty()
                || name
                    .bytes()
                    .any(|b| !b.is_ascii_graphic() || b == b':')
            {
                Some(format!(
                    "integration event `{}` ({}): header name {name:?} is not a NATS header name (visible ASCII, no `:`)",
                    self.name, self.id
                ))
            } else if value.bytes().any(|b| b == b'\r' || b == b'\n') {
                Some(format!(
                    "integration event `{}` ({}): header `{name}` = {value:?} has a line break, which a NATS header cannot carry",
                    self.name, self.id
                ))
            } else {
                None
            }
        })
    }

    /// The message with `dataschema` as its `ce-dataschema` header (after
    /// `ce-datacontenttype`, replacing one already there): what a hand-written producer adds
    /// to name its payload's contract as generated handlers do
    /// ([`Contract::dataschema`](crate::Contract::dataschema)).
    #[must_use]
    pub fn with_dataschema(mut self, dataschema: &str) -> Self {
        let value = dataschema.to_owned();
        if let Some(existing) = self
            .headers
            .iter_mut()
            .find(|(key, _)| key.eq_ignore_ascii_case(headers::DATASCHEMA))
        {
            existing.1 = value;
            return self;
        }
        let at = self
            .headers
            .iter()
            .position(|(key, _)| key.eq_ignore_ascii_case(headers::DATACONTENTTYPE))
            .map_or(self.headers.len(), |i| i + 1);
        self.headers
            .insert(at, (headers::DATASCHEMA.to_owned(), value));
        self
    }

    /// The contract of the payload (the `ce-dataschema` header,
    /// `eventmap:<message>#<fingerprint>`), when the handler that built it has one.
    pub fn dataschema(&self) -> Option<&str> {
        self.header(headers::DATASCHEMA)
    }

    /// The CloudEvents type (the `ce-type` header): [`Self::name`], or the `ce_type:` of the
    /// row in the table. `None` when the headers have none.
    pub fn ce_type(&self) -> Option<&str> {
        self.header(headers::TYPE)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::event::DomainEvent;

    #[derive(Debug)]
    struct OrderCreated;
    impl DomainEvent for OrderCreated {
        fn event_name(&self) -> &'static str {
            "OrderCreated"
        }
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct Proto {
        #[prost(string, tag = "1")]
        order_id: String,
        #[prost(uint64, tag = "2")]
        version: u64,
    }

    const ORDER: ChannelSpec = ChannelSpec::new("order", "ordering.order", "ORDERING_ORDERS");

    #[test]
    fn integration_id_is_deterministic_v5() {
        let domain = Uuid::parse_str("3f2504e0-4f89-41d3-9a0c-0305e82c3301").unwrap();
        let a = integration_event_id(domain, "OrderCreatedEvent");
        assert_eq!(a, integration_event_id(domain, "OrderCreatedEvent"));
        assert_eq!(a, Uuid::new_v5(&domain, b"OrderCreatedEvent"));
        assert_eq!(a.get_version_num(), 5);
        assert_ne!(a, integration_event_id(domain, "OrderAuditEvent"));
    }

    #[test]
    fn builds_cloudevents_binary_headers() {
        let domain_id = Uuid::parse_str("3f2504e0-4f89-41d3-9a0c-0305e82c3301").unwrap();
        let event = AggregateEvent::new("Order", "order-7", 4, OrderCreated)
            .with_id(domain_id)
            .with_occurred_at(UNIX_EPOCH + Duration::new(1_796_014_800, 123_456_789))
            .with_metadata("user", "u-1");
        let proto = Proto {
            order_id: "order-7".into(),
            version: 4,
        };
        let msg = IntegrationMessage::from_aggregate_event(
            &event,
            &ORDER,
            "OrderCreatedEvent",
            "ordering",
            &proto,
        );

        let expected_id = Uuid::new_v5(&domain_id, b"OrderCreatedEvent");
        assert_eq!(msg.id, expected_id);
        assert_eq!(msg.name, "OrderCreatedEvent");
        assert_eq!(msg.subject, "ordering.order.OrderCreatedEvent");
        assert_eq!(
            <Proto as prost::Message>::decode(msg.payload.clone()).unwrap(),
            proto
        );
        let expected: Vec<(String, String)> = [
            ("ce-specversion", "1.0".to_owned()),
            ("ce-id", expected_id.to_string()),
            ("ce-type", "OrderCreatedEvent".into()),
            ("ce-source", "ordering".into()),
            ("ce-subject", "order-7".into()),
            ("ce-time", "2026-11-30T05:00:00.123456789Z".into()),
            ("ce-datacontenttype", "application/protobuf".into()),
            ("ce-aggregateid", "order-7".into()),
            ("ce-aggregatetype", "Order".into()),
            ("ce-aggregateversion", "4".into()),
            (
                "ce-domaineventid",
                "3f2504e0-4f89-41d3-9a0c-0305e82c3301".into(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        assert_eq!(msg.headers, expected);
        assert_eq!(msg.header("CE-TYPE"), Some("OrderCreatedEvent"));
        assert_eq!(msg.header(headers::NATS_MSG_ID), None);
        assert_eq!(msg.header("user"), None, "metadata is not copied");
    }

    #[test]
    fn a_ce_type_of_its_own_changes_the_header_only() {
        let event = AggregateEvent::new("Order", "order-7", 4, OrderCreated);
        let proto = Proto {
            order_id: "order-7".into(),
            version: 4,
        };
        let plain = IntegrationMessage::from_aggregate_event(
            &event,
            &ORDER,
            "OrderCreatedEvent",
            "ordering",
            &proto,
        );
        let typed = IntegrationMessage::from_aggregate_event_with_type(
            &event,
            &ORDER,
            "OrderCreatedEvent",
            "com.example.ordering.OrderCreated",
            "ordering",
            &proto,
        );
        assert_eq!(plain.ce_type(), Some("OrderCreatedEvent"));
        assert_eq!(typed.ce_type(), Some("com.example.ordering.OrderCreated"));
        assert_eq!(typed.headers[2].1, "com.example.ordering.OrderCreated");
        assert_eq!(typed.subject, "ordering.order.OrderCreatedEvent");
        assert_eq!(typed.name, "OrderCreatedEvent");
        assert_eq!(typed.id, plain.id, "the id is derived from the name");
        let mut without_type = typed.headers.clone();
        without_type.remove(2);
        let mut plain_without_type = plain.headers.clone();
        plain_without_type.remove(2);
        assert_eq!(without_type, plain_without_type);
    }

    #[test]
    fn correlation_and_causation_ids_ride_along_when_valid() {
        let proto = Proto {
            order_id: "order-7".into(),
            version: 1,
        };
        let build = |event: AggregateEvent<OrderCreated>| {
            IntegrationMessage::from_aggregate_event(
                &event,
                &ORDER,
                "OrderCreatedEvent",
                "ordering",
                &proto,
            )
        };
        let event = || AggregateEvent::new("Order", "order-7", 1, OrderCreated);

        let msg = build(
            event()
                .with_metadata(metadata_keys::CORRELATION_ID, "checkout-42")
                .with_metadata(metadata_keys::CAUSATION_ID, "cmd-7"),
        );
        let tail: Vec<_> = msg.headers[msg.headers.len() - 2..].to_vec();
        assert_eq!(
            tail,
            [
                ("ce-correlationid".to_owned(), "checkout-42".to_owned()),
                ("ce-causationid".to_owned(), "cmd-7".to_owned()),
            ]
        );

        let msg = build(event().with_metadata(metadata_keys::CAUSATION_ID, "cmd-7"));
        assert_eq!(msg.header(headers::CORRELATION_ID), None);
        assert_eq!(msg.header(headers::CAUSATION_ID), Some("cmd-7"));

        // An empty id is left out; one with a line break is kept, for the publisher or the
        // outbox to refuse the message naming the header (not dropped in silence).
        let msg = build(
            event()
                .with_metadata(metadata_keys::CORRELATION_ID, "a\r\nX-Injected: 1")
                .with_metadata(metadata_keys::CAUSATION_ID, ""),
        );
        assert_eq!(
            msg.header(headers::CORRELATION_ID),
            Some("a\r\nX-Injected: 1")
        );
        assert_eq!(msg.header(headers::CAUSATION_ID), None);
        assert_eq!(msg.headers.len(), 12);
        let reason = msg.unsendable_header().expect("refused");
        assert!(
            reason.contains("integration event `OrderCreatedEvent`")
                && reason.contains("header `ce-correlationid`"),
            "{reason}"
        );
        let fine = build(event().with_metadata(metadata_keys::CORRELATION_ID, "checkout-42"));
        assert_eq!(fine.unsendable_header(), None);
    }

    #[test]
    fn a_dataschema_follows_the_content_type() {
        let event = AggregateEvent::new("Order", "order-7", 4, OrderCreated);
        let proto = Proto::default();
        let dataschema = "eventmap:ordering.v1.OrderCreated#e3b0c44298fc1c149afbf4c8996fb924";
        let message = IntegrationMessage::with_id(
            integration_event_id(event.id(), "OrderCreatedEvent"),
            &event,
            &ORDER,
            "OrderCreatedEvent",
            "OrderCreatedEvent",
            Some(dataschema),
            "ordering",
            &proto,
        );
        assert_eq!(message.dataschema(), Some(dataschema));
        assert_eq!(message.headers[6].0, "ce-datacontenttype");
        assert_eq!(
            message.headers[7],
            ("ce-dataschema".to_owned(), dataschema.to_owned())
        );
        assert_eq!(message.headers.len(), 12);
        let plain = IntegrationMessage::from_aggregate_event(
            &event,
            &ORDER,
            "OrderCreatedEvent",
            "ordering",
            &proto,
        );
        assert_eq!(plain.dataschema(), None);
        assert_eq!(plain.headers.len(), 11);
        // Added by hand: the same headers, in the same place; a second call replaces it.
        let by_hand = plain
            .with_dataschema("eventmap:x.Y#00")
            .with_dataschema(dataschema);
        assert_eq!(by_hand.headers, message.headers);
    }

    #[test]
    fn rfc3339_fraction_digits() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_millis(1_500)),
            "1970-01-01T00:00:01.500Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH - Duration::from_micros(1)),
            "1969-12-31T23:59:59.999999Z"
        );
    }
}
