//! [`Consumer`]: a declared subscription run with its [`DeliveryPolicy`]: ack after the
//! handler, retries with backoff, in-progress acks while the handler runs, dead letters,
//! graceful shutdown.

use std::borrow::Borrow;
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::pin::pin;
use std::time::Duration;

use async_nats::jetstream::consumer::pull;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer};
use async_nats::jetstream::context::ConsumerInfoErrorKind;
use async_nats::jetstream::{AckKind, Context, Message};
use futures::{FutureExt, StreamExt};
use tokio::time::{Instant, Interval, MissedTickBehavior};
use tracing::{Instrument, Span};

use super::dead_letter::{self, DeadLetter};
use super::delivery::{AckHandle, Delivery, Received, Undecodable};
use super::provision::provision_streams;
use super::subscriber::{SubscribeError, check_durable_name, check_server_version, select_names};
use crate::channel::ChannelSpec;
use crate::decode::IntegrationEventSet;
use crate::dispatcher::BoxError;

/// How long one pull request waits for a message when the consumer has none pending.
const LONG_POLL: Duration = Duration::from_secs(5);
/// Added to a pull request's own expiry before the client gives up on it.
const PULL_SLACK: Duration = Duration::from_secs(5);
/// First and longest pause after a failed pull request.
const RETRY_PAUSE: (Duration, Duration) = (Duration::from_millis(250), Duration::from_secs(5));

/// How a declared subscription is delivered (from the consuming table's `delivery:` block).
///
/// `Default`: deliver all stored messages to a new consumer, 30 s ack wait, 5 deliveries,
/// backoff 1 s, 5 s, 30 s, no dead-letter channel, in-progress every ack wait / 3, pull
/// batches of 100, confirmed acks. Built with the chainable setters:
///
/// ```
/// use std::time::Duration;
/// use eventmap::ChannelSpec;
/// use eventmap::nats::DeliveryPolicy;
/// const DLQ: ChannelSpec = ChannelSpec::new("order-dlq", "dlq.ordering.order", "ORDERING_DLQ");
/// let policy = DeliveryPolicy::default()
///     .max_deliver(3)
///     .backoff([Duration::from_millis(200), Duration::from_millis(400)])
///     .dead_letter(DLQ);
/// assert_eq!(policy.nak_delay(1), Some(Duration::from_millis(200)));
/// assert_eq!(policy.nak_delay(7), Some(Duration::from_millis(400)));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DeliveryPolicy {
    /// Where a *new* durable consumer starts (an existing one keeps its position). Default
    /// [`DeliverPolicy::All`]: a consumer started late receives the history.
    pub deliver_policy: DeliverPolicy,
    /// How long the server waits for an ack before redelivering. Default 30 s.
    pub ack_wait: Duration,
    /// Deliveries of one message in all, the first one included: when the handler fails on
    /// delivery `max_deliver`, the message is dead-lettered. Default 5.
    pub max_deliver: i64,
    /// Redelivery delay requested (nak) after the n-th failed delivery: `backoff[n - 1]`, the
    /// last one repeating; empty: redeliver at once. Default 1 s, 5 s, 30 s.
    pub backoff: Vec<Duration>,
    /// Where messages go that exhausted their deliveries or cannot be decoded; `None`: they
    /// are only terminated and logged. Its stream is provisioned by [`Consumer::start`].
    pub dead_letter: Option<ChannelSpec>,
    /// How often in-progress acks (`+WPI`) are sent while a handler runs (also for the
    /// messages pulled and waiting their turn); `None`: [`Self::ack_wait`] / 3.
    pub in_progress_every: Option<Duration>,
    /// Messages requested per pull. Default 100.
    pub batch: usize,
    /// Whether acks wait for the server's confirmation (JetStream double ack). Default `true`;
    /// `false` queues the `+ACK` and moves on (see [`Delivery::ack_unconfirmed`]).
    pub double_ack: bool,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        Self {
            deliver_policy: DeliverPolicy::All,
            ack_wait: Duration::from_secs(30),
            max_deliver: 5,
            backoff: vec![
                Duration::from_secs(1),
                Duration::from_secs(5),
                Duration::from_secs(30),
            ],
            dead_letter: None,
            in_progress_every: None,
            batch: 100,
            double_ack: true,
        }
    }
}

impl DeliveryPolicy {
    /// Sets [`Self::deliver_policy`].
    pub fn deliver_policy(mut self, policy: DeliverPolicy) -> Self {
        self.deliver_policy = policy;
        self
    }

    /// Sets [`Self::ack_wait`].
    pub fn ack_wait(mut self, ack_wait: Duration) -> Self {
        self.ack_wait = ack_wait;
        self
    }

    /// Sets [`Self::max_deliver`].
    pub fn max_deliver(mut self, max_deliver: i64) -> Self {
        self.max_deliver = max_deliver;
        self
    }

    /// Sets [`Self::backoff`].
    pub fn backoff(mut self, backoff: impl IntoIterator<Item = Duration>) -> Self {
        self.backoff = backoff.into_iter().collect();
        self
    }

    /// Sets [`Self::dead_letter`].
    pub fn dead_letter(mut self, channel: ChannelSpec) -> Self {
        self.dead_letter = Some(channel);
        self
    }

    /// Sets [`Self::in_progress_every`].
    pub fn in_progress_every(mut self, every: Duration) -> Self {
        self.in_progress_every = Some(every);
        self
    }

    /// Sets [`Self::batch`] (at least 1).
    pub fn batch(mut self, batch: usize) -> Self {
        self.batch = batch.max(1);
        self
    }

    /// Sets [`Self::double_ack`].
    pub fn double_ack(mut self, confirmed: bool) -> Self {
        self.double_ack = confirmed;
        self
    }

    /// The redelivery delay after the failed delivery number `delivered` (1 for the first):
    /// `backoff[delivered - 1]`, the last entry repeating; `None` (at once) without backoff.
    pub fn nak_delay(&self, delivered: u64) -> Option<Duration> {
        let last = self.backoff.len().checked_sub(1)?;
        let index = usize::try_from(delivered.saturating_sub(1)).unwrap_or(usize::MAX);
        self.backoff
            .get(index.min(last))
            .copied()
            .filter(|delay| !delay.is_zero())
    }

    /// The in-progress period: [`Self::in_progress_every`] or [`Self::ack_wait`] / 3.
    pub fn in_progress_period(&self) -> Duration {
        self.in_progress_every.unwrap_or(self.ack_wait / 3)
    }

    /// Why the policy cannot be used, if it cannot.
    fn problem(&self) -> Option<String> {
        if self.ack_wait < Duration::from_millis(1) {
            return Some(format!("ack_wait {:?} is shorter than 1 ms", self.ack_wait));
        }
        if self.max_deliver < 1 {
            return Some(format!(
                "max_deliver {} is not at least 1",
                self.max_deliver
            ));
        }
        let every = self.in_progress_period();
        if every.is_zero() || every >= self.ack_wait {
            return Some(format!(
                "in-progress period {every:?} must be above zero and below ack_wait {:?}",
                self.ack_wait
            ));
        }
        None
    }
}

/// A declared subscription: durable consumer name, the integration events asked for, the
/// policy.
#[derive(Debug, Clone)]
pub struct ConsumerSpec {
    durable: String,
    events: Vec<&'static str>,
    policy: DeliveryPolicy,
}

impl ConsumerSpec {
    /// The subscription of the durable consumer `durable` to `events` (empty: every event of
    /// the channel, [`IntegrationEventSet::NAMES`]), with the default [`DeliveryPolicy`].
    pub fn new(durable: impl Into<String>, events: &[&'static str]) -> Self {
        Self {
            durable: durable.into(),
            events: events.to_vec(),
            policy: DeliveryPolicy::default(),
        }
    }

    /// Uses `policy`.
    pub fn policy(mut self, policy: DeliveryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The durable consumer name.
    pub fn durable(&self) -> &str {
        &self.durable
    }

    /// The integration events asked for (empty: all).
    pub fn events(&self) -> &[&'static str] {
        &self.events
    }

    /// The delivery policy.
    pub fn delivery(&self) -> &DeliveryPolicy {
        &self.policy
    }
}

/// What a consumer does with each decoded event. `Ok`: the message is acknowledged. `Err`:
/// it is redelivered after the policy's backoff; after [`DeliveryPolicy::max_deliver`]
/// deliveries it is dead-lettered, then acknowledged. A panic counts as an `Err`.
///
/// The handler must not acknowledge the delivery itself. Delivery is at least once: a
/// handler can see an event again (a lost ack, a stopped process), so it must be idempotent
/// or deduplicate on [`Delivery::id`] (`ce-id`).
pub trait ConsumerHandler<E: IntegrationEventSet>: Send + Sync {
    /// Handles one delivery.
    fn handle(&self, delivery: &Delivery<E>) -> impl Future<Output = Result<(), BoxError>> + Send;
}

/// A [`ConsumerHandler`] made of a function, see [`consumer_fn`].
struct ConsumerFn<F>(F);

impl<E, F, Fut> ConsumerHandler<E> for ConsumerFn<F>
where
    E: IntegrationEventSet,
    F: Fn(&Delivery<E>) -> Fut + Send + Sync,
    Fut: Future<Output = Result<(), BoxError>> + Send,
{
    fn handle(&self, delivery: &Delivery<E>) -> impl Future<Output = Result<(), BoxError>> + Send {
        (self.0)(delivery)
    }
}

/// A [`ConsumerHandler`] from a closure `Fn(&Delivery<E>) -> Future`.
///
/// The future may not borrow the delivery (its type cannot depend on the borrow's lifetime
/// on stable Rust, and `async` closures cannot promise a `Send` future yet): take what the
/// handler needs before the `async move` block. A type implementing [`ConsumerHandler`] has no
/// such limit.
///
/// ```
/// use eventmap::nats::{ConsumerHandler, Delivery, consumer_fn};
/// # #[derive(Debug, Clone)] enum Events { A }
/// # impl eventmap::IntegrationEventSet for Events {
/// #     const CHANNEL: eventmap::ChannelSpec = eventmap::ChannelSpec::new("c", "c", "C");
/// #     const NAMES: &'static [&'static str] = &["A"];
/// #     fn decode(_: &str, _: &[u8]) -> Result<Self, eventmap::DecodeError> { Ok(Events::A) }
/// #     fn name(&self) -> &'static str { "A" }
/// # }
/// fn handler() -> impl ConsumerHandler<Events> {
///     consumer_fn(|delivery: &Delivery<Events>| {
///         let (id, event) = (delivery.id.clone(), delivery.event.clone());
///         async move {
///             println!("{id}: {event:?}");
///             Ok(())
///         }
///     })
/// }
/// ```
pub fn consumer_fn<E, F, Fut>(f: F) -> impl ConsumerHandler<E>
where
    E: IntegrationEventSet,
    F: Fn(&Delivery<E>) -> Fut + Send + Sync,
    Fut: Future<Output = Result<(), BoxError>> + Send,
{
    ConsumerFn(f)
}

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

/// [`Consumer::run`] stopped on an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConsumeError {
    /// The durable consumer, or its stream, was deleted.
    #[error("consumer `{durable}` on stream `{stream}` no longer exists: {source}")]
    ConsumerGone {
        /// Stream name.
        stream: &'static str,
        /// Durable consumer name.
        durable: String,
        /// The server's answer.
        #[source]
        source: BoxError,
    },
}

/// A declared subscription running on a durable pull consumer of the channel of `E`.
///
/// Messages are pulled in batches of [`DeliveryPolicy::batch`] into a queue owned by the
/// consumer and handled one at a time, in order; while a handler runs, in-progress acks keep
/// both its message and the queued ones from being redelivered. See [`Consumer::run`] for what
/// happens to each message.
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
///         println!("{} {:?}", delivery.id, delivery.event); // idempotent: keyed by ce-id
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
    consumer: PullConsumer,
    spec: ConsumerSpec,
    filter_subjects: Vec<String>,
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
    /// (explicit ack, server-side `filter_subjects` for the events asked for, the policy's
    /// ack wait) and provisions the dead-letter stream if the policy has one. Pulling starts
    /// with [`run`](Self::run).
    ///
    /// The server-side `max_deliver` is unlimited: the consumer counts deliveries itself, so
    /// that a message whose dead letter could not be published is delivered again, not
    /// dropped by the server. `context` may be a `Context` or a `&Context`.
    ///
    /// # Errors
    ///
    /// As [`Subscription::start`](super::Subscription::start), plus
    /// [`SubscribeError::InvalidPolicy`] and [`SubscribeError::DeadLetter`].
    pub async fn start(
        context: impl Borrow<Context>,
        spec: &ConsumerSpec,
    ) -> Result<Self, SubscribeError> {
        let context: &Context = context.borrow();
        let channel = E::CHANNEL;
        let span = tracing::info_span!(
            "start_consumer",
            channel = channel.name,
            stream = channel.stream,
            durable = spec.durable
        );
        async {
            check_server_version(context)?;
            check_durable_name(&spec.durable)?;
            if let Some(reason) = spec.policy.problem() {
                return Err(SubscribeError::InvalidPolicy { reason });
            }
            let names = select_names::<E>(&spec.events)?;
            let filter_subjects: Vec<String> =
                names.iter().map(|name| channel.subject_for(name)).collect();
            if let Some(dead_letter) = &spec.policy.dead_letter {
                provision_streams(context, std::slice::from_ref(dead_letter))
                    .await
                    .map_err(|source| SubscribeError::DeadLetter { source })?;
            }
            let stream =
                context
                    .get_stream(channel.stream)
                    .await
                    .map_err(|err| SubscribeError::Stream {
                        stream: channel.stream,
                        source: Box::new(err),
                    })?;
            let config = pull::Config {
                durable_name: Some(spec.durable.clone()),
                description: Some(format!(
                    "eventmap consumer of {} ({})",
                    channel.name,
                    names.join(", ")
                )),
                deliver_policy: spec.policy.deliver_policy,
                ack_policy: AckPolicy::Explicit,
                ack_wait: spec.policy.ack_wait,
                max_deliver: -1,
                filter_subjects: filter_subjects.clone(),
                ..pull::Config::default()
            };
            let consumer: PullConsumer =
                stream
                    .create_consumer(config)
                    .await
                    .map_err(|err| SubscribeError::Consumer {
                        stream: channel.stream,
                        durable: spec.durable.clone(),
                        source: Box::new(err),
                    })?;
            tracing::info!(filter_subjects = ?filter_subjects, policy = ?spec.policy, "consumer started");
            Ok(Self {
                context: context.clone(),
                consumer,
                spec: spec.clone(),
                filter_subjects,
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

    /// Pulls and handles messages until `shutdown` completes or a fatal error.
    ///
    /// Per message, in a `consume` span:
    ///
    /// * decoded, delivery `n` <= `max_deliver`: `handler` runs, with `+WPI` every
    ///   [`DeliveryPolicy::in_progress_period`]. `Ok`: ack (confirmed unless
    ///   [`DeliveryPolicy::double_ack`] is off). `Err` (or a panic) before the last delivery:
    ///   nak with [`DeliveryPolicy::nak_delay`]`(n)`. `Err` on delivery `max_deliver`: the
    ///   message is published to the dead-letter channel (see [`dead_letter`](super::dead_letter))
    ///   and, once JetStream stored it, acked; without a dead-letter channel it is terminated.
    /// * decoded, delivery `n` > `max_deliver` (earlier deliveries ended without an outcome:
    ///   a stopped process, a lost ack, a failed dead-letter publish): dead-lettered as above
    ///   without calling the handler again.
    /// * undecodable (unknown `ce-type`, missing or invalid headers, bad payload): logged,
    ///   dead-lettered at once and terminated (`+TERM`).
    /// * a dead-letter publish that fails: the message is naked with the backoff and logged;
    ///   it is not acknowledged, so nothing is lost.
    ///
    /// Ack failures are logged (the server redelivers). Failed pull requests are retried with
    /// a pause; the run stops only when the consumer or its stream is gone.
    ///
    /// Shutdown is graceful: no further pull; a running handler finishes and its message is
    /// acked (or naked); the messages pulled but not handled are naked without delay so
    /// another instance gets them at once (their delivery count goes up by one). A message
    /// the server sends to a pull request abandoned by the shutdown is redelivered after the
    /// ack wait.
    ///
    /// # Errors
    ///
    /// [`ConsumeError::ConsumerGone`].
    pub async fn run<H: ConsumerHandler<E>>(
        self,
        handler: &H,
        shutdown: impl Future<Output = ()>,
    ) -> Result<ConsumerReport, ConsumeError> {
        let span = tracing::info_span!(
            "consumer",
            channel = E::CHANNEL.name,
            stream = E::CHANNEL.stream,
            durable = %self.spec.durable
        );
        async move {
            let mut shutdown = pin!(shutdown);
            let period = self.spec.policy.in_progress_period();
            let mut ticker = tokio::time::interval_at(Instant::now() + period, period);
            ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
            let mut queue = VecDeque::with_capacity(self.spec.policy.batch);
            let mut report = ConsumerReport::default();
            let mut pull_failures = 0u32;
            loop {
                if queue.is_empty() {
                    tokio::select! {
                        biased;
                        () = &mut shutdown => break,
                        filled = self.fill(&mut queue, &mut pull_failures) => filled?,
                    }
                    continue;
                }
                if let Some(message) = queue.pop_front() {
                    self.process(message, handler, &queue, &mut ticker, &mut report)
                        .await;
                }
                if shutdown.as_mut().now_or_never().is_some() {
                    break;
                }
            }
            self.release(queue).await;
            tracing::info!(?report, "consumer shut down");
            Ok(report)
        }
        .instrument(span)
        .await
    }

    /// Pulls what is pending (up to a batch); if nothing is, waits up to [`LONG_POLL`] for a
    /// message and then tops the queue up. Failed pulls pause and return `Ok` (the caller
    /// loops), unless the consumer is gone.
    async fn fill(
        &self,
        queue: &mut VecDeque<Message>,
        failures: &mut u32,
    ) -> Result<(), ConsumeError> {
        let batch = self.spec.policy.batch.max(1);
        let mut result = self.pull(queue, batch, None).await;
        if matches!(result, Ok(0)) {
            result = self.pull(queue, 1, Some(LONG_POLL)).await;
            if matches!(result, Ok(1)) && batch > 1 {
                result = self.pull(queue, batch - 1, None).await;
            }
        }
        match result {
            Ok(_) => {
                *failures = 0;
                Ok(())
            }
            Err(err) if !queue.is_empty() => {
                tracing::warn!(error = %err, pulled = queue.len(), "pull request failed after some messages");
                Ok(())
            }
            Err(err) => {
                self.check_consumer_exists().await?;
                let pause = RETRY_PAUSE
                    .0
                    .saturating_mul(2u32.saturating_pow((*failures).min(16)))
                    .min(RETRY_PAUSE.1);
                *failures = failures.saturating_add(1);
                tracing::warn!(error = %err, ?pause, "pull request failed; retrying");
                tokio::time::sleep(pause).await;
                Ok(())
            }
        }
    }

    /// One pull request for up to `max` messages, appended to `queue`: answered at once
    /// with what is pending (`wait` `None`) or waiting up to `wait`. Returns how many came.
    async fn pull(
        &self,
        queue: &mut VecDeque<Message>,
        max: usize,
        wait: Option<Duration>,
    ) -> Result<usize, BoxError> {
        let mut messages = match wait {
            None => self.consumer.fetch().max_messages(max).messages().await,
            Some(wait) => {
                self.consumer
                    .batch()
                    .max_messages(max)
                    .expires(wait)
                    .messages()
                    .await
            }
        }?;
        let mut received = 0;
        let limit = wait.unwrap_or_default() + PULL_SLACK;
        let collect = async {
            while let Some(message) = messages.next().await {
                queue.push_back(message?);
                received += 1;
            }
            Ok::<(), BoxError>(())
        };
        match tokio::time::timeout(limit, collect).await {
            Ok(result) => result.map(|()| received),
            Err(_) => Err(format!("pull request unanswered after {limit:?}").into()),
        }
    }

    /// `Err` when the consumer or its stream no longer exists; `Ok` otherwise (including
    /// when the server cannot be asked).
    async fn check_consumer_exists(&self) -> Result<(), ConsumeError> {
        match self.consumer.get_info().await {
            Err(err)
                if matches!(
                    err.kind(),
                    ConsumerInfoErrorKind::NotFound | ConsumerInfoErrorKind::StreamNotFound
                ) =>
            {
                Err(ConsumeError::ConsumerGone {
                    stream: E::CHANNEL.stream,
                    durable: self.spec.durable.clone(),
                    source: Box::new(err),
                })
            }
            _ => Ok(()),
        }
    }

    /// Handles one pulled message (see [`run`](Self::run)).
    async fn process<H: ConsumerHandler<E>>(
        &self,
        message: Message,
        handler: &H,
        queue: &VecDeque<Message>,
        ticker: &mut Interval,
        report: &mut ConsumerReport,
    ) {
        let Some(received) = Received::new(message) else {
            return;
        };
        match received.decode::<E>() {
            Ok(delivery) => {
                let span = handler_span(&delivery, &self.spec.durable);
                self.handle(delivery, handler, queue, ticker, report)
                    .instrument(span)
                    .await;
            }
            Err(undecodable) => {
                let Undecodable {
                    message: received,
                    reason,
                } = *undecodable;
                let span = tracing::info_span!(
                    "consume",
                    subject = %received.subject,
                    stream_sequence = received.stream_sequence,
                    ce_id = received.header(crate::message::headers::ID).unwrap_or(""),
                    ce_type = received.header(crate::message::headers::TYPE).unwrap_or(""),
                    delivered = received.delivered,
                    durable = %self.spec.durable,
                );
                async {
                    tracing::error!(
                        subject = %received.subject,
                        stream_sequence = received.stream_sequence,
                        reason = %reason,
                        "undecodable integration message; dead-lettering and terminating it"
                    );
                    let error = dead_letter::error_chain(&reason);
                    if self.give_up(&received, &error, AckKind::Term).await {
                        report.rejected += 1;
                    } else {
                        report.failed += 1;
                    }
                }
                .instrument(span)
                .await;
            }
        }
    }

    /// Runs the handler on a decoded delivery and settles the message.
    async fn handle<H: ConsumerHandler<E>>(
        &self,
        delivery: Delivery<E>,
        handler: &H,
        queue: &VecDeque<Message>,
        ticker: &mut Interval,
        report: &mut ConsumerReport,
    ) {
        let policy = &self.spec.policy;
        let max_deliver = u64::try_from(policy.max_deliver).unwrap_or(1);
        let outcome = if delivery.delivered > max_deliver {
            Err(format!(
                "delivered {} times, more than max_deliver {max_deliver}: the earlier deliveries \
                 ended without an outcome (process stopped, ack lost or dead-letter publish \
                 failed); not handled again",
                delivery.delivered
            ))
        } else {
            self.call(handler, &delivery, queue, ticker).await
        };
        match outcome {
            Ok(()) => {
                report.handled += 1;
                let acked = if policy.double_ack {
                    delivery.ack.send(AckKind::Ack, "ack").await
                } else {
                    delivery.ack.send_unconfirmed(AckKind::Ack, "ack").await
                };
                if let Err(err) = acked {
                    tracing::warn!(error = %err, "ack failed; the message will be redelivered");
                }
            }
            Err(error) if delivery.delivered >= max_deliver => {
                tracing::error!(%error, "handler failed on the last allowed delivery; giving up");
                let received = Received::from(delivery);
                if self.give_up(&received, &error, AckKind::Ack).await {
                    report.dead_lettered += 1;
                } else {
                    report.failed += 1;
                }
            }
            Err(error) => {
                report.failed += 1;
                let delay = policy.nak_delay(delivery.delivered);
                tracing::warn!(%error, ?delay, "handler failed; requesting redelivery");
                if let Err(err) = delivery.ack.send(AckKind::Nak(delay), "nak").await {
                    tracing::warn!(error = %err, "nak failed; the message will be redelivered after the ack wait");
                }
            }
        }
    }

    /// Runs the handler, sending in-progress acks for its message and the queued ones on
    /// every tick. A panic is an error.
    async fn call<H: ConsumerHandler<E>>(
        &self,
        handler: &H,
        delivery: &Delivery<E>,
        queue: &VecDeque<Message>,
        ticker: &mut Interval,
    ) -> Result<(), String> {
        let mut handling = pin!(AssertUnwindSafe(handler.handle(delivery)).catch_unwind());
        loop {
            tokio::select! {
                biased;
                _ = ticker.tick() => in_progress(&delivery.ack, queue).await,
                result = &mut handling => {
                    return match result {
                        Ok(Ok(())) => Ok(()),
                        Ok(Err(err)) => Err(dead_letter::error_chain(&*err)),
                        Err(panic) => Err(format!("handler panicked: {}", panic_message(&*panic))),
                    };
                }
            }
        }
    }

    /// Dead-letters `received` (if the policy has a channel), then settles it with `settle`
    /// (ack or term). Returns `false` when the dead letter could not be published: the
    /// message is then naked with the backoff, not settled.
    async fn give_up(&self, received: &Received, error: &str, settle: AckKind) -> bool {
        let policy = &self.spec.policy;
        let settle_action = if matches!(settle, AckKind::Term) {
            "term"
        } else {
            "ack"
        };
        let settle = match &policy.dead_letter {
            None => {
                tracing::error!(
                    subject = %received.subject,
                    stream_sequence = received.stream_sequence,
                    %error,
                    "no dead-letter channel: terminating the message"
                );
                received.ack.send(AckKind::Term, "term").await
            }
            Some(channel) => {
                let letter = DeadLetter {
                    channel,
                    subject: &received.subject,
                    stream: E::CHANNEL.stream,
                    stream_sequence: received.stream_sequence,
                    delivered: received.delivered,
                    durable: &self.spec.durable,
                    headers: &received.headers,
                    payload: &received.payload,
                    error,
                };
                if let Err(err) = letter.publish(&self.context).await {
                    let delay = policy.nak_delay(received.delivered);
                    tracing::error!(error = %err, ?delay, "dead-letter publish failed; the message stays and is retried");
                    if let Err(err) = received.ack.send(AckKind::Nak(delay), "nak").await {
                        tracing::warn!(error = %err, "nak failed; the message will be redelivered after the ack wait");
                    }
                    return false;
                }
                received.ack.send(settle, settle_action).await
            }
        };
        if let Err(err) = settle {
            tracing::warn!(error = %err, "settling a given-up message failed");
        }
        true
    }

    /// Naks (no delay) the messages pulled but not handled, confirmed, all at once.
    async fn release(&self, queue: VecDeque<Message>) {
        if queue.is_empty() {
            return;
        }
        let count = queue.len();
        let naks = queue
            .iter()
            .map(|message| message.double_ack_with(AckKind::Nak(None)));
        let failed = futures::future::join_all(naks)
            .await
            .into_iter()
            .filter(Result::is_err)
            .count();
        tracing::info!(
            released = count,
            failed,
            "pulled messages not handled were naked for redelivery"
        );
    }
}

/// The span of one handled message. The single place to change what a handler runs in
/// (for instance to continue the trace of the message's `traceparent` header).
fn handler_span<E>(delivery: &Delivery<E>, durable: &str) -> Span {
    tracing::info_span!(
        "consume",
        subject = %delivery.subject,
        stream_sequence = delivery.stream_sequence,
        ce_id = %delivery.id,
        ce_type = %delivery.name,
        delivered = delivery.delivered,
        durable = %durable,
    )
}

/// Sends `+WPI` for the running message and the queued ones, without waiting for the server.
async fn in_progress(running: &AckHandle, queue: &VecDeque<Message>) {
    if let Err(err) = running
        .send_unconfirmed(AckKind::Progress, "progress")
        .await
    {
        tracing::warn!(error = %err, "in-progress ack failed");
    }
    for message in queue {
        if let Err(err) = message.ack_with(AckKind::Progress).await {
            tracing::warn!(error = %err, "in-progress ack of a queued message failed");
        }
    }
}

/// The text of a panic payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nak_delay_follows_the_backoff_and_repeats_the_last() {
        let policy = DeliveryPolicy::default();
        assert_eq!(policy.nak_delay(1), Some(Duration::from_secs(1)));
        assert_eq!(policy.nak_delay(2), Some(Duration::from_secs(5)));
        assert_eq!(policy.nak_delay(3), Some(Duration::from_secs(30)));
        assert_eq!(policy.nak_delay(40), Some(Duration::from_secs(30)));
        assert_eq!(policy.nak_delay(0), Some(Duration::from_secs(1)));
        assert_eq!(policy.clone().backoff([]).nak_delay(1), None);
        assert_eq!(policy.backoff([Duration::ZERO]).nak_delay(1), None);
    }

    #[test]
    fn policy_checks() {
        let policy = DeliveryPolicy::default();
        assert_eq!(policy.problem(), None);
        assert_eq!(policy.in_progress_period(), Duration::from_secs(10));
        assert!(policy.clone().max_deliver(0).problem().is_some());
        assert!(
            policy
                .clone()
                .in_progress_every(Duration::from_secs(30))
                .problem()
                .is_some()
        );
        assert!(policy.clone().ack_wait(Duration::ZERO).problem().is_some());
        assert_eq!(policy.batch(0).batch, 1);
    }

    #[test]
    fn spec_defaults() {
        let spec = ConsumerSpec::new("search", &["OrderCreatedEvent"]);
        assert_eq!(spec.durable(), "search");
        assert_eq!(spec.events(), ["OrderCreatedEvent"]);
        assert_eq!(spec.delivery(), &DeliveryPolicy::default());
    }

    #[test]
    fn panic_messages() {
        let text: Box<dyn std::any::Any + Send> = Box::new("static");
        assert_eq!(panic_message(&*text), "static");
        let owned: Box<dyn std::any::Any + Send> = Box::new(String::from("owned"));
        assert_eq!(panic_message(&*owned), "owned");
        let other: Box<dyn std::any::Any + Send> = Box::new(7);
        assert_eq!(panic_message(&*other), "(no message)");
    }
}
