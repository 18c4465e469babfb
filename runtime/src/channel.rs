//! Channels: where integration events of one kind travel.
//!
//! A channel (the `channels:` section of mappings.yaml) has a NATS subject prefix and the
//! JetStream stream that stores it. Each integration event gets its own subject
//! `<subject>.<IntegrationEventName>`, so consumers can filter by event name on the server.

/// A channel of integration events, as declared in mappings.yaml.
///
/// `const`-constructible so generated code can declare `pub const ORDER: ChannelSpec = ...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChannelSpec {
    /// Channel name (the key in mappings.yaml `channels:`), e.g. `"order"`.
    pub name: &'static str,
    /// NATS subject prefix, e.g. `"ordering.order"` (dot-separated tokens, no wildcards).
    pub subject: &'static str,
    /// JetStream stream that stores the channel, e.g. `"ORDERING_ORDERS"`.
    pub stream: &'static str,
    /// How many servers of a JetStream cluster keep a copy of the stream (its `num_replicas`):
    /// 1 (the default, [`DEFAULT_REPLICAS`](Self::DEFAULT_REPLICAS)) to
    /// [`MAX_REPLICAS`](Self::MAX_REPLICAS). 3 survives the loss of one server; more than 1
    /// needs a cluster of at least that many servers. Set with
    /// [`with_replicas`](Self::with_replicas); applied by
    /// [`provision_streams`](crate::nats::provision_streams) (which raises an existing
    /// stream's replicas to it, never lowers them).
    pub replicas: usize,
}

impl ChannelSpec {
    /// Replicas of a channel's stream unless [`with_replicas`](Self::with_replicas) says
    /// otherwise: 1, JetStream's own default.
    pub const DEFAULT_REPLICAS: usize = 1;
    /// The most replicas JetStream allows a stream: 5 (NATS docs, "Streams", configuration
    /// field `Replicas`, <https://docs.nats.io/nats-concepts/jetstream/streams>).
    pub const MAX_REPLICAS: usize = 5;

    /// Declares a channel whose stream has [`DEFAULT_REPLICAS`](Self::DEFAULT_REPLICAS).
    pub const fn new(name: &'static str, subject: &'static str, stream: &'static str) -> Self {
        Self {
            name,
            subject,
            stream,
            replicas: Self::DEFAULT_REPLICAS,
        }
    }

    /// The same channel with `replicas` copies of its stream in a JetStream cluster, e.g.
    /// `ChannelSpec::new("order", "ordering.order", "ORDERING_ORDERS").with_replicas(3)`.
    ///
    /// Not checked here (the table's check, rule `invalid-replicas`, keeps it within
    /// 1..=[`MAX_REPLICAS`](Self::MAX_REPLICAS)); the server refuses other values when the
    /// stream is provisioned ([`ProvisionError::Replicas`](crate::nats::ProvisionError::Replicas)).
    pub const fn with_replicas(mut self, replicas: usize) -> Self {
        self.replicas = replicas;
        self
    }

    /// The NATS subject of one integration event: `"<subject>.<integration_event_name>"`,
    /// e.g. `"ordering.order.OrderCreatedEvent"`.
    pub fn subject_for(&self, integration_event_name: &str) -> String {
        format!("{}.{}", self.subject, integration_event_name)
    }

    /// The subject filter that matches every event of the channel: `"<subject>.>"` (NATS
    /// full wildcard: one or more trailing tokens). This is the subject a stream binds.
    pub fn wildcard(&self) -> String {
        format!("{}.>", self.subject)
    }

    /// The integration event name encoded in `subject` (its last token), the inverse of
    /// [`subject_for`](Self::subject_for): `"ordering.order.OrderCreatedEvent"` ->
    /// `Some("OrderCreatedEvent")`. `None` when the subject is not `<subject>.<one token>`.
    /// It is the event's `ce-type` unless the producer's table gives the row a `ce_type:` of
    /// its own ([`IntegrationEventSet::SUBJECT_TOKENS`](crate::IntegrationEventSet::SUBJECT_TOKENS)).
    pub fn event_name_in<'a>(&self, subject: &'a str) -> Option<&'a str> {
        let rest = subject.strip_prefix(self.subject)?.strip_prefix('.')?;
        (!rest.is_empty() && !rest.contains('.')).then_some(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDER: ChannelSpec = ChannelSpec::new("order", "ordering.order", "ORDERING_ORDERS");

    #[test]
    fn subjects() {
        assert_eq!(
            ORDER.subject_for("OrderCreatedEvent"),
            "ordering.order.OrderCreatedEvent"
        );
        assert_eq!(ORDER.wildcard(), "ordering.order.>");
        assert_eq!(ORDER.stream, "ORDERING_ORDERS");
        assert_eq!(ORDER.name, "order");
    }

    #[test]
    fn replicas_default_to_one_and_can_be_set() {
        assert_eq!(ORDER.replicas, 1);
        const R3: ChannelSpec = ORDER.with_replicas(3);
        assert_eq!(R3.replicas, 3);
        assert_eq!(R3.stream, ORDER.stream);
        assert_ne!(R3, ORDER);
    }

    #[test]
    fn event_name_in_subject() {
        assert_eq!(
            ORDER.event_name_in("ordering.order.OrderCreatedEvent"),
            Some("OrderCreatedEvent")
        );
        assert_eq!(ORDER.event_name_in("ordering.order"), None);
        assert_eq!(ORDER.event_name_in("ordering.order."), None);
        assert_eq!(ORDER.event_name_in("ordering.orders.X"), None);
        assert_eq!(ORDER.event_name_in("ordering.order.a.b"), None);
    }
}
