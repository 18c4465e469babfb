//! Durable pull consumers that decode a channel's integration events.

use std::borrow::Borrow;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::time::Duration;

use async_nats::jetstream::consumer::pull::{self, MessagesError, MessagesErrorKind};
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer};
use async_nats::jetstream::{AckKind, Context};
use futures::StreamExt;
use tracing::Instrument;

use super::delivery::{Delivery, Received, Undecodable};
use super::parse_version;
use crate::decode::IntegrationEventSet;
use crate::dispatcher::BoxError;

/// Oldest NATS server version accepted by [`Subscription::start`]: consumers with several
/// `filter_subjects` exist since NATS 2.10.
pub const MIN_SERVER_VERSION: &str = "2.10.0";
const MIN_SERVER: (u64, u64, u64) = (2, 10, 0);

/// Settings of a [`Subscription`]. `Default` gives: deliver all stored messages, server
/// defaults for ack wait (30 s), redeliveries (unlimited) and max ack pending (1000), pull
/// batches of 100 messages, and a 1 s redelivery delay for [`Subscription::run`] failures.
///
/// Built with the chainable setters: `SubscriptionOptions::default().ack_wait(..)`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SubscriptionOptions {
    /// Where a *new* durable consumer starts (ignored for an existing one, whose position is
    /// kept by the server). Default [`DeliverPolicy::All`].
    pub deliver_policy: DeliverPolicy,
    /// How long the server waits for an ack before redelivering; `None`: server default.
    pub ack_wait: Option<Duration>,
    /// Maximum deliveries of one message; `None`: unlimited.
    pub max_deliver: Option<i64>,
    /// Maximum unacknowledged messages in flight; `None`: server default.
    pub max_ack_pending: Option<i64>,
    /// Messages requested per pull request. Default 100.
    pub batch: usize,
    /// Redelivery delay requested by [`Subscription::run`] when the handler fails. Default 1 s.
    pub nak_delay: Duration,
}

impl Default for SubscriptionOptions {
    fn default() -> Self {
        Self {
            deliver_policy: DeliverPolicy::All,
            ack_wait: None,
            max_deliver: None,
            max_ack_pending: None,
            batch: 100,
            nak_delay: Duration::from_secs(1),
        }
    }
}

impl SubscriptionOptions {
    /// Sets [`Self::deliver_policy`].
    pub fn deliver_policy(mut self, policy: DeliverPolicy) -> Self {
        self.deliver_policy = policy;
        self
    }

    /// Sets [`Self::ack_wait`].
    pub fn ack_wait(mut self, ack_wait: Duration) -> Self {
        self.ack_wait = Some(ack_wait);
        self
    }

    /// Sets [`Self::max_deliver`].
    pub fn max_deliver(mut self, max_deliver: i64) -> Self {
        self.max_deliver = Some(max_deliver);
        self
    }

    /// Sets [`Self::max_ack_pending`].
    pub fn max_ack_pending(mut self, max_ack_pending: i64) -> Self {
        self.max_ack_pending = Some(max_ack_pending);
        self
    }

    /// Sets [`Self::batch`] (at least 1).
    pub fn batch(mut self, batch: usize) -> Self {
        self.batch = batch.max(1);
        self
    }

    /// Sets [`Self::nak_delay`].
    pub fn nak_delay(mut self, delay: Duration) -> Self {
        self.nak_delay = delay;
        self
    }
}

/// Starting a [`Subscription`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SubscribeError {
    /// The server cannot filter a consumer on several subjects. There is deliberately no
    /// client-side filtering fallback.
    #[error(
        "NATS server {version} is too old: server-side event filtering needs {required} or newer"
    )]
    ServerTooOld {
        /// Version reported by the server (`INFO`).
        version: String,
        /// [`MIN_SERVER_VERSION`].
        required: &'static str,
    },
    /// The server version reported in `INFO` could not be parsed.
    #[error("cannot parse the NATS server version {version:?}")]
    UnrecognizedServerVersion {
        /// The text reported.
        version: String,
    },
    /// A requested name is not an event of the channel.
    #[error("`{name}` is not an integration event of channel `{channel}` (known: {known:?})")]
    UnknownEventName {
        /// The requested name.
        name: String,
        /// Channel name.
        channel: &'static str,
        /// [`IntegrationEventSet::NAMES`].
        known: &'static [&'static str],
    },
    /// The durable name cannot be used as a NATS consumer name.
    #[error("invalid durable consumer name {name:?}: {reason}")]
    InvalidDurableName {
        /// The name.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// The channel's stream does not exist or cannot be read (see
    /// [`provision_streams`](super::provision_streams)).
    #[error("cannot open stream `{stream}`: {source}")]
    Stream {
        /// Stream name.
        stream: &'static str,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
    /// Creating or updating the durable consumer failed.
    #[error("cannot create consumer `{durable}` on stream `{stream}`: {source}")]
    Consumer {
        /// Stream name.
        stream: &'static str,
        /// Durable consumer name.
        durable: String,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
    /// The [`DeliveryPolicy`](super::DeliveryPolicy) of a [`Consumer`](super::Consumer)
    /// cannot be used.
    #[error("invalid delivery policy: {reason}")]
    InvalidPolicy {
        /// Why.
        reason: String,
    },
    /// Provisioning the dead-letter stream of a [`Consumer`](super::Consumer) failed.
    #[error("cannot provision the dead-letter stream: {source}")]
    DeadLetter {
        /// The provisioning error.
        #[source]
        source: super::ProvisionError,
    },
    /// Starting the pull loop failed.
    #[error("cannot start pulling from consumer `{durable}`: {source}")]
    Pull {
        /// Durable consumer name.
        durable: String,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
}

/// Receiving from a [`Subscription`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiveError {
    /// The pull loop reported an error (missed heartbeat, consumer deleted, ...). See
    /// [`ReceiveError::is_fatal`].
    #[error("receiving from the consumer failed: {source}")]
    Messages {
        /// async-nats' error.
        #[source]
        source: MessagesError,
    },
    /// The message stream ended (connection closed for good, or consumer gone).
    #[error("the subscription's message stream ended")]
    Closed,
}

impl ReceiveError {
    /// Whether the subscription cannot continue (the consumer was deleted, is not a pull
    /// consumer, the pull request exceeds its limits, or the stream ended). Other errors
    /// (missed heartbeats, transient pull failures) may be followed by more messages.
    pub fn is_fatal(&self) -> bool {
        match self {
            Self::Messages { source } => matches!(
                source.kind(),
                MessagesErrorKind::ConsumerDeleted
                    | MessagesErrorKind::PushBasedConsumer
                    | MessagesErrorKind::RequestLimitExceeded
            ),
            Self::Closed => true,
        }
    }
}

/// A durable pull consumer on the channel of `E`, decoding each message into `E`.
///
/// The consumer is filtered on the server (`filter_subjects`) to the requested event names and
/// uses explicit acks. Messages that cannot be decoded (missing or invalid CloudEvents
/// headers, unknown `ce-type`, `ce-type` not matching the subject, invalid payload) are logged
/// with `tracing::error!` and *terminated* (`+TERM`, never redelivered, never acked as
/// processed); reading continues with the next message.
pub struct Subscription<E: IntegrationEventSet> {
    durable_name: String,
    names: Vec<&'static str>,
    filter_subjects: Vec<String>,
    options: SubscriptionOptions,
    messages: pull::Stream,
    _events: PhantomData<fn() -> E>,
}

impl<E: IntegrationEventSet> fmt::Debug for Subscription<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("channel", &E::CHANNEL)
            .field("durable_name", &self.durable_name)
            .field("filter_subjects", &self.filter_subjects)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// NATS consumer names may not contain whitespace, `.`, `*`, `>`, path separators or control
/// characters (ADR-6 "name" rules).
pub(super) fn check_durable_name(name: &str) -> Result<(), SubscribeError> {
    let reason = if name.is_empty() {
        Some("must not be empty")
    } else if name
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '.' | '*' | '>' | '/' | '\\'))
    {
        Some("must not contain whitespace, `.`, `*`, `>`, `/` or `\\`")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(SubscribeError::InvalidDurableName {
            name: name.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

/// Fails unless the server behind `context` is at least [`MIN_SERVER_VERSION`].
pub(super) fn check_server_version(context: &Context) -> Result<(), SubscribeError> {
    let version = context.client().server_info().version;
    match parse_version(&version) {
        Some(parsed) if parsed >= MIN_SERVER => Ok(()),
        Some(_) => Err(SubscribeError::ServerTooOld {
            version,
            required: MIN_SERVER_VERSION,
        }),
        None => Err(SubscribeError::UnrecognizedServerVersion { version }),
    }
}

/// Maps requested names to the set's names; empty means all; duplicates removed.
pub(super) fn select_names<E: IntegrationEventSet>(
    names: &[&str],
) -> Result<Vec<&'static str>, SubscribeError> {
    if names.is_empty() {
        return Ok(E::NAMES.to_vec());
    }
    let mut selected = Vec::with_capacity(names.len());
    for name in names {
        let known = E::NAMES
            .iter()
            .find(|known| *known == name)
            .ok_or_else(|| SubscribeError::UnknownEventName {
                name: (*name).to_owned(),
                channel: E::CHANNEL.name,
                known: E::NAMES,
            })?;
        if !selected.contains(known) {
            selected.push(*known);
        }
    }
    Ok(selected)
}

impl<E: IntegrationEventSet> Subscription<E> {
    /// Creates (or updates) the durable pull consumer `durable_name` on the stream of
    /// `E::CHANNEL` and starts pulling.
    ///
    /// * `names`: the integration events to receive (their `ce-type`s), a subset of
    ///   [`IntegrationEventSet::NAMES`]; empty means all of them. The consumer's
    ///   `filter_subjects` are the subjects of these events
    ///   ([`IntegrationEventSet::subject_for`]: the channel's subject and the event's subject
    ///   token), so the server only delivers those (events added to the channel later are not delivered
    ///   until they are added to `E`).
    /// * Ack policy explicit; [`SubscriptionOptions`] for the rest. An existing consumer with
    ///   the same name is updated to the new filter (its position is kept).
    /// * `context` may be a `Context` or a `&Context`; the server version is read from
    ///   `context.client().server_info()` before anything is created.
    ///
    /// # Errors
    ///
    /// [`SubscribeError::ServerTooOld`] for servers older than 2.10 (never a client-side
    /// filtering fallback), [`SubscribeError::UnknownEventName`],
    /// [`SubscribeError::InvalidDurableName`], or a stream/consumer/pull failure.
    pub async fn start(
        context: impl Borrow<Context>,
        durable_name: &str,
        names: &[&str],
        options: SubscriptionOptions,
    ) -> Result<Self, SubscribeError> {
        let context: &Context = context.borrow();
        let channel = E::CHANNEL;
        let span = tracing::info_span!(
            "subscribe",
            channel = channel.name,
            stream = channel.stream,
            durable = durable_name
        );
        async {
            check_server_version(context)?;
            check_durable_name(durable_name)?;
            let names = select_names::<E>(names)?;
            let filter_subjects: Vec<String> = names
                .iter()
                .map(|name| E::subject_for(name).unwrap_or_else(|| channel.subject_for(name)))
                .collect();

            let stream =
                context
                    .get_stream(channel.stream)
                    .await
                    .map_err(|err| SubscribeError::Stream {
                        stream: channel.stream,
                        source: Box::new(err),
                    })?;
            let mut config = pull::Config {
                durable_name: Some(durable_name.to_owned()),
                description: Some(format!(
                    "eventmap subscription to {} ({})",
                    channel.name,
                    names.join(", ")
                )),
                deliver_policy: options.deliver_policy,
                ack_policy: AckPolicy::Explicit,
                filter_subjects: filter_subjects.clone(),
                ..pull::Config::default()
            };
            if let Some(ack_wait) = options.ack_wait {
                config.ack_wait = ack_wait;
            }
            if let Some(max_deliver) = options.max_deliver {
                config.max_deliver = max_deliver;
            }
            if let Some(max_ack_pending) = options.max_ack_pending {
                config.max_ack_pending = max_ack_pending;
            }
            let consumer: PullConsumer =
                stream
                    .create_consumer(config)
                    .await
                    .map_err(|err| SubscribeError::Consumer {
                        stream: channel.stream,
                        durable: durable_name.to_owned(),
                        source: Box::new(err),
                    })?;
            let messages = consumer
                .stream()
                .max_messages_per_batch(options.batch.max(1))
                .messages()
                .await
                .map_err(|err| SubscribeError::Pull {
                    durable: durable_name.to_owned(),
                    source: Box::new(err),
                })?;
            tracing::info!(filter_subjects = ?filter_subjects, "subscription started");
            Ok(Self {
                durable_name: durable_name.to_owned(),
                names,
                filter_subjects,
                options,
                messages,
                _events: PhantomData,
            })
        }
        .instrument(span)
        .await
    }

    /// The durable consumer name.
    pub fn durable_name(&self) -> &str {
        &self.durable_name
    }

    /// The integration events received (their `ce-type`s).
    pub fn names(&self) -> &[&'static str] {
        &self.names
    }

    /// The consumer's server-side subject filters.
    pub fn filter_subjects(&self) -> &[String] {
        &self.filter_subjects
    }

    /// The next decoded event.
    ///
    /// Undecodable messages are terminated and skipped (see [`Subscription`]). Returns `None`
    /// when the message stream has ended; after `Some(Err(_))` that is not
    /// [fatal](ReceiveError::is_fatal), calling again continues. Cancel-safe in the sense
    /// that a message being decoded when the future is dropped is redelivered after the ack
    /// wait.
    pub async fn next(&mut self) -> Option<Result<Delivery<E>, ReceiveError>> {
        loop {
            let message = match self.messages.next().await? {
                Ok(message) => message,
                Err(source) => return Some(Err(ReceiveError::Messages { source })),
            };
            if let Some(delivery) = self.prepare(message).await {
                return Some(Ok(delivery));
            }
        }
    }

    /// Decodes `message`; terminates it and returns `None` when that fails.
    async fn prepare(&self, message: async_nats::jetstream::Message) -> Option<Delivery<E>> {
        match Received::new(message)?.decode::<E>() {
            Ok(delivery) => Some(delivery),
            Err(undecodable) => {
                let Undecodable { message, reason } = *undecodable;
                let Received {
                    subject,
                    stream_sequence,
                    ack,
                    ..
                } = message;
                tracing::error!(
                    %subject,
                    stream_sequence,
                    durable = %self.durable_name,
                    reason = %reason,
                    "undecodable integration message; terminating it"
                );
                if let Err(err) = ack.send(AckKind::Term, "term").await {
                    tracing::error!(%subject, stream_sequence, error = %err, "terminating an undecodable message failed; it will be redelivered");
                }
                None
            }
        }
    }

    /// Convenience loop: calls `handler` for each delivery, acks on `Ok`, naks with
    /// [`SubscriptionOptions::nak_delay`] (default 1 s) on `Err`, until `shutdown` completes.
    ///
    /// The handler must not ack the delivery itself. Shutdown is checked between messages:
    /// a running handler is not interrupted. Ack/nak failures and transient receive errors are
    /// logged and the loop goes on (the server redelivers unacked messages).
    ///
    /// # Errors
    ///
    /// A [fatal](ReceiveError::is_fatal) [`ReceiveError`], including
    /// [`ReceiveError::Closed`] when the message stream ends. `Ok(())` after `shutdown`.
    pub async fn run<F, Fut, S>(mut self, mut handler: F, shutdown: S) -> Result<(), ReceiveError>
    where
        F: FnMut(Delivery<E>) -> Fut,
        Fut: Future<Output = Result<(), BoxError>>,
        S: Future<Output = ()>,
    {
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let next = tokio::select! {
                biased;
                () = &mut shutdown => {
                    tracing::info!(durable = %self.durable_name, "subscription shut down");
                    return Ok(());
                }
                next = self.next() => next,
            };
            let delivery = match next {
                None => return Err(ReceiveError::Closed),
                Some(Err(err)) if err.is_fatal() => return Err(err),
                Some(Err(err)) => {
                    tracing::warn!(durable = %self.durable_name, error = %err, "receive error; continuing");
                    continue;
                }
                Some(Ok(delivery)) => delivery,
            };
            let ack = delivery.ack.clone();
            let span = tracing::info_span!(
                "handle_integration_event",
                name = %delivery.name,
                id = %delivery.id,
                subject = %delivery.subject,
                stream_sequence = delivery.stream_sequence,
                delivered = delivery.delivered,
            );
            crate::trace::continue_trace(&span, &delivery.headers);
            async {
                match handler(delivery).await {
                    Ok(()) => {
                        if let Err(err) = ack.send(AckKind::Ack, "ack").await {
                            tracing::warn!(error = %err, "ack failed; the message will be redelivered");
                        }
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, delay = ?self.options.nak_delay, "handler failed; requesting redelivery");
                        if let Err(err) = ack
                            .send(AckKind::Nak(Some(self.options.nak_delay)), "nak")
                            .await
                        {
                            tracing::warn!(error = %err, "nak failed; the message will be redelivered after the ack wait");
                        }
                    }
                }
            }
            .instrument(span)
            .await;
        }
    }
}

/// Creates the subscriptions of one service: one durable consumer per (service, channel).
///
/// The durable name is `<service>-<channel name>` with characters NATS does not allow in
/// consumer names (whitespace, `.`, `*`, `>`, `/`, `\`) replaced by `_`.
#[derive(Debug, Clone)]
pub struct Subscriber {
    context: Context,
    service: String,
    options: SubscriptionOptions,
}

impl Subscriber {
    /// Subscriptions of the service `service` on `context`, with default options.
    pub fn new(context: Context, service: impl Into<String>) -> Self {
        Self {
            context,
            service: service.into(),
            options: SubscriptionOptions::default(),
        }
    }

    /// Uses `options` for the subscriptions created from now on.
    pub fn with_options(mut self, options: SubscriptionOptions) -> Self {
        self.options = options;
        self
    }

    /// The durable consumer name of this service on the channel of `E`.
    pub fn durable_name<E: IntegrationEventSet>(&self) -> String {
        format!("{}-{}", self.service, E::CHANNEL.name)
            .chars()
            .map(|c| {
                if c.is_whitespace() || c.is_control() || matches!(c, '.' | '*' | '>' | '/' | '\\')
                {
                    '_'
                } else {
                    c
                }
            })
            .collect()
    }

    /// Starts the subscription of this service to `names` (empty: all) of the channel of `E`;
    /// see [`Subscription::start`].
    ///
    /// # Errors
    ///
    /// As [`Subscription::start`].
    pub async fn subscribe<E: IntegrationEventSet>(
        &self,
        names: &[&str],
    ) -> Result<Subscription<E>, SubscribeError> {
        Subscription::start(
            &self.context,
            &self.durable_name::<E>(),
            names,
            self.options.clone(),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::ChannelSpec;
    use crate::decode::DecodeError;
    use crate::nats::delivery::decode;

    #[derive(Debug)]
    enum Events {
        A,
        B,
    }
    impl IntegrationEventSet for Events {
        const CHANNEL: ChannelSpec = ChannelSpec::new("order", "ordering.order", "ORDERS");
        const NAMES: &'static [&'static str] = &["AEvent", "BEvent"];
        fn decode(name: &str, _payload: &[u8]) -> Result<Self, DecodeError> {
            match name {
                "AEvent" => Ok(Self::A),
                "BEvent" => Ok(Self::B),
                other => Err(DecodeError::UnknownEvent { name: other.into() }),
            }
        }
        fn name(&self) -> &'static str {
            match self {
                Self::A => "AEvent",
                Self::B => "BEvent",
            }
        }
    }

    #[test]
    fn names_are_selected_and_checked() {
        assert_eq!(select_names::<Events>(&[]).unwrap(), ["AEvent", "BEvent"]);
        assert_eq!(
            select_names::<Events>(&["BEvent", "BEvent"]).unwrap(),
            ["BEvent"]
        );
        let err = select_names::<Events>(&["CEvent"]).unwrap_err();
        assert!(
            matches!(&err, SubscribeError::UnknownEventName { name, channel: "order", .. } if name == "CEvent"),
            "{err:?}"
        );
    }

    #[test]
    fn durable_names() {
        assert!(check_durable_name("search-order").is_ok());
        assert!(check_durable_name("").is_err());
        assert!(check_durable_name("a.b").is_err());
        assert!(check_durable_name("a b").is_err());
        assert!(check_durable_name("a>").is_err());
    }

    #[test]
    fn decode_checks_subject_against_type() {
        let event = crate::event::AggregateEvent::new("Order", "o", 1, Dummy);
        #[derive(Clone, PartialEq, prost::Message)]
        struct Empty {}
        let message = crate::message::IntegrationMessage::from_aggregate_event(
            &event,
            &Events::CHANNEL,
            "AEvent",
            "svc",
            &Empty {},
        );
        let (decoded, envelope) =
            decode::<Events>("ordering.order.AEvent", &message.headers, &message.payload).unwrap();
        assert_eq!(decoded.name(), "AEvent");
        assert_eq!(envelope.source, "svc");
        let err = decode::<Events>("ordering.order.BEvent", &message.headers, &message.payload)
            .unwrap_err();
        assert!(
            matches!(
                &err,
                DecodeError::InvalidHeader {
                    header: "ce-type",
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[derive(Debug)]
    enum Typed {
        Created,
    }
    impl IntegrationEventSet for Typed {
        const CHANNEL: ChannelSpec = ChannelSpec::new("order", "ordering.order", "ORDERS");
        const NAMES: &'static [&'static str] = &["com.example.ordering.OrderCreated"];
        const SUBJECT_TOKENS: &'static [&'static str] = &["OrderCreatedEvent"];
        fn decode(name: &str, _payload: &[u8]) -> Result<Self, DecodeError> {
            match name {
                "com.example.ordering.OrderCreated" => Ok(Self::Created),
                other => Err(DecodeError::UnknownEvent { name: other.into() }),
            }
        }
        fn name(&self) -> &'static str {
            "com.example.ordering.OrderCreated"
        }
    }

    #[test]
    fn decode_checks_the_subject_token_of_a_ce_type() {
        let event = crate::event::AggregateEvent::new("Order", "o", 1, Dummy);
        #[derive(Clone, PartialEq, prost::Message)]
        struct Empty {}
        let message = crate::message::IntegrationMessage::from_aggregate_event_with_type(
            &event,
            &Typed::CHANNEL,
            "OrderCreatedEvent",
            "com.example.ordering.OrderCreated",
            "svc",
            &Empty {},
        );
        assert_eq!(message.subject, "ordering.order.OrderCreatedEvent");
        let (decoded, envelope) =
            decode::<Typed>(&message.subject, &message.headers, &message.payload).unwrap();
        assert!(matches!(decoded, Typed::Created));
        assert_eq!(envelope.name, "com.example.ordering.OrderCreated");
        // The ce-type is not a subject token of its own.
        for subject in [
            "ordering.order.com.example.ordering.OrderCreated",
            "ordering.order.OrderCreated",
        ] {
            let err = decode::<Typed>(subject, &message.headers, &message.payload).unwrap_err();
            assert!(
                matches!(
                    &err,
                    DecodeError::InvalidHeader {
                        header: "ce-type",
                        ..
                    }
                ),
                "{subject}: {err:?}"
            );
        }
        assert_eq!(
            select_names::<Typed>(&[]).unwrap(),
            ["com.example.ordering.OrderCreated"]
        );
    }

    #[derive(Debug)]
    struct Dummy;
    impl crate::event::DomainEvent for Dummy {
        fn event_name(&self) -> &'static str {
            "Dummy"
        }
    }
}
