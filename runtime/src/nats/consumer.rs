//! [`Consumer`]: the one way to consume a channel. A durable pull consumer created from a
//! [`ConsumerSpec`] (events asked for, [`DeliveryPolicy`]), consumed either by
//! [`Consumer::run`] (ack after the [`ConsumerHandler`], retries with backoff, in-progress
//! acks while the handler runs, dead letters, graceful shutdown) or, for a loop of one's own,
//! through [`Consumer::deliveries`].

use std::borrow::Borrow;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use async_nats::jetstream::Context;
use async_nats::jetstream::consumer::PullConsumer;
use tracing::Instrument;

#[cfg(any(feature = "postgres", feature = "sqlite"))]
mod batched;
mod create;
mod deliveries;
mod guard;
mod handler;
#[cfg(any(feature = "postgres", feature = "sqlite"))]
mod order;
mod policy;
mod pull;
mod run;
mod settle;
#[cfg(any(feature = "postgres", feature = "sqlite"))]
mod transactional;

pub use create::{MIN_SERVER_VERSION, StartError};
pub use deliveries::Deliveries;
pub use handler::{ConsumerHandler, consumer_fn};
pub use policy::{ConsumerSpec, ContractPolicy, DeliveryPolicy};
#[cfg(any(feature = "postgres", feature = "sqlite"))]
pub use transactional::TransactionalHandler;

use crate::contract::IncompatibleContract;
use crate::decode::IntegrationEventSet;
use crate::error::BoxError;
use guard::Guard;

/// Counts of one [`Consumer::run`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConsumerReport {
    /// Handled and acknowledged.
    pub handled: u64,
    /// Failed and naked for a retry (also: a dead-letter publish failed, so the message is
    /// retried later).
    pub failed: u64,
    /// Given up after their last allowed delivery: dead-lettered then acknowledged (or only
    /// terminated when the policy has no dead-letter channel).
    pub dead_lettered: u64,
    /// Undecodable: dead-lettered at once (if the policy has a channel) and terminated.
    pub rejected: u64,
}

/// [`Consumer::run`] stopped, or [`Deliveries::next`] ended, on an error. Other failures
/// (a failed pull request, ack or dead-letter publish) are logged and retried.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConsumeError {
    /// The durable consumer, or its stream, was deleted.
    #[error("consumer `{durable}` on stream `{stream}` no longer exists")]
    ConsumerGone {
        /// Stream name.
        stream: &'static str,
        /// Durable consumer name.
        durable: String,
        /// The server's answer.
        #[source]
        source: BoxError,
    },
    /// A producer publishes the event with a contract the consumer cannot read, and the
    /// policy is [`ContractPolicy::Refuse`] (feature `contracts`): the consumer stopped
    /// before handling any message of that contract; the message that showed it was naked
    /// and stays in the stream.
    #[error("{0}")]
    IncompatibleContract(IncompatibleContract),
}

/// A declared subscription on a durable pull consumer of the channel of `E`, decoding each
/// message into `E`.
///
/// The JetStream consumer is filtered on the server (`filter_subjects`) to the events of the
/// [`ConsumerSpec`] and uses explicit acks. Undecodable messages are never handed to the
/// handler: they are dead-lettered (when the policy has a dead-letter channel) and terminated.
///
/// Three ways to consume it:
///
/// * [`run`](Self::run) with a [`ConsumerHandler`]: messages are pulled in batches of
///   [`DeliveryPolicy::batch`] into a queue owned by the consumer and handled one at a time,
///   in order; when a batch or less is left the next one is requested while handling goes
///   on (prefetch: at most 2 batches queued); while a handler runs, in-progress acks keep both
///   its message and the queued ones from being redelivered. The consumer acks, naks with
///   backoff and dead-letters.
/// * `run_with_inbox` (feature `postgres` or `sqlite`) with a `TransactionalHandler`: as
///   `run`, with each pulled batch handled in one database transaction that also records the
///   message ids in the inbox (`eventmap::postgres::Inbox` or `eventmap::sqlite::Inbox`), and
///   each aggregate's events kept in order
///   across crashes (`docs/delivery.md`).
/// * [`deliveries`](Self::deliveries): the decoded [`Delivery`](super::Delivery)s one at a
///   time, settled by the caller (see [`Deliveries`]).
///
/// ```no_run
/// use eventmap::nats::{Consumer, ConsumerHandler, ConsumerSpec, Delivery, DeliveryPolicy};
/// use eventmap::{BoxError, ChannelSpec};
/// # #[derive(Debug)] enum OrderEvents { Created }
/// # impl eventmap::IntegrationEventSet for OrderEvents {
/// #     const CHANNEL: ChannelSpec = ChannelSpec::new("order", "ordering.order", "ORDERING_ORDERS");
/// #     const NAMES: &'static [&'static str] = &["OrderCreatedEvent"];
/// #     fn decode(_: &str, _: &[u8]) -> Result<Self, eventmap::DecodeError> { Ok(Self::Created) }
/// #     fn name(&self) -> &'static str { "OrderCreatedEvent" }
/// # }
/// const ORDER_DLQ: ChannelSpec =
///     ChannelSpec::new("order-dlq", "dlq.ordering.order", "ORDERING_ORDERS_DLQ");
///
/// struct Search;
///
/// impl ConsumerHandler<OrderEvents> for Search {
///     async fn handle(&self, delivery: &Delivery<OrderEvents>) -> Result<(), BoxError> {
///         println!("{} {:?}", delivery.id(), delivery.event); // idempotent: keyed by ce-id
///         Ok(())
///     }
/// }
///
/// # async fn demo(jetstream: eventmap::nats::async_nats::jetstream::Context) -> Result<(), BoxError> {
/// let spec = ConsumerSpec::new("search-order", &["OrderCreatedEvent"])
///     .policy(DeliveryPolicy::default().max_deliver(5).dead_letter(ORDER_DLQ));
/// let consumer = Consumer::<OrderEvents>::start(&jetstream, &spec).await?;
/// let shutdown = async {
///     let _ = tokio::signal::ctrl_c().await;
/// };
/// let report = consumer.run(&Search, shutdown).await?;
/// println!("handled {}, dead-lettered {}", report.handled, report.dead_lettered);
/// # Ok(())
/// # }
/// ```
pub struct Consumer<E: IntegrationEventSet> {
    context: Context,
    /// Shared with the prefetch in flight.
    consumer: Arc<PullConsumer>,
    spec: ConsumerSpec,
    filter_subjects: Vec<String>,
    guard: Guard,
    _events: PhantomData<fn() -> E>,
}

impl<E: IntegrationEventSet> fmt::Debug for Consumer<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer")
            .field("channel", &E::CHANNEL)
            .field("spec", &self.spec)
            .field("filter_subjects", &self.filter_subjects)
            .finish_non_exhaustive()
    }
}

impl<E: IntegrationEventSet> Consumer<E> {
    /// Creates or updates the durable pull consumer of `spec` on the stream of `E::CHANNEL`
    /// and provisions the dead-letter stream if the policy has one. Nothing is pulled until
    /// [`run`](Self::run) or [`deliveries`](Self::deliveries).
    ///
    /// * The consumer's `filter_subjects` are the subjects of the events of `spec`
    ///   ([`IntegrationEventSet::subject_for`]), so the server only delivers those (events
    ///   added to the channel later are not delivered until they are added to `E`). A
    ///   subscription that declares it takes the whole channel
    ///   ([`ConsumerSpec::whole_channel`]) is filtered on the channel's one wildcard
    ///   (`<subject>.>`) instead, faster on the server, when no other subject of the stream
    ///   overlaps it (else on each event's subject, logged).
    /// * Explicit acks, the policy's ack wait and [start position](DeliveryPolicy::start_at).
    ///   An existing consumer of the same name is updated (it keeps its position).
    /// * The server-side `max_deliver` is unlimited: the consumer counts deliveries itself
    ///   ([`DeliveryPolicy::max_deliver`]), so that a message whose dead letter could not be
    ///   published is delivered again, not dropped by the server.
    /// * `context` may be a `Context` or a `&Context`; the server version is read from
    ///   `context.client().server_info()` before anything is created.
    ///
    /// # Errors
    ///
    /// [`StartError::ServerTooOld`] for servers older than [`MIN_SERVER_VERSION`] (never a
    /// client-side filtering fallback), [`StartError::UnknownEventName`],
    /// [`StartError::NotWholeChannel`],
    /// [`StartError::InvalidDurableName`], [`StartError::InvalidPolicy`],
    /// [`StartError::FilterOutsideStream`] (a filter subject no subject of the stream
    /// covers), with the feature `contracts` [`StartError::UnregisteredEvents`] and
    /// [`StartError::IncompatibleContract`], or a dead-letter, stream or consumer creation
    /// failure.
    ///
    /// With the feature `contracts` and an event set that has contracts
    /// ([`IntegrationEventSet::CONTRACTS`], generated), the contract registry is read before
    /// the consumer is created: when producers registered the channel, every event asked for
    /// must be among them; and the contract registered last for each event must be readable
    /// with the consumer's (or the policy is not [`ContractPolicy::Refuse`]). Without a
    /// registry on the server, or none for the channel, this is logged and the consumer
    /// starts.
    pub async fn start(
        context: impl Borrow<Context>,
        spec: &ConsumerSpec,
    ) -> Result<Self, StartError> {
        let context: &Context = context.borrow();
        let span = tracing::info_span!(
            "start_consumer",
            channel = E::CHANNEL.name,
            stream = E::CHANNEL.stream,
            durable = spec.durable
        );
        async {
            let (consumer, filter_subjects, guard) = create::create::<E>(context, spec).await?;
            tracing::info!(filter_subjects = ?filter_subjects, policy = ?spec.policy, "consumer started");
            Ok(Self {
                context: context.clone(),
                consumer: Arc::new(consumer),
                spec: spec.clone(),
                filter_subjects,
                guard,
                _events: PhantomData,
            })
        }
        .instrument(span)
        .await
    }

    /// The declared subscription.
    pub fn spec(&self) -> &ConsumerSpec {
        &self.spec
    }

    /// The consumer's server-side subject filters.
    pub fn filter_subjects(&self) -> &[String] {
        &self.filter_subjects
    }
}
