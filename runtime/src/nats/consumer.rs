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
use async_nats::jetstream::consumer::{AckPolicy, PullConsumer};
use async_nats::jetstream::context::ConsumerInfoErrorKind;
use async_nats::jetstream::{AckKind, Context, Message};
use futures::{FutureExt, StreamExt};
use tokio::time::{Instant, Interval, MissedTickBehavior};
use tracing::{Instrument, Span};

mod handler;
mod policy;

pub use handler::{ConsumerHandler, consumer_fn};
pub use policy::{ConsumerSpec, DeliveryPolicy};

use handler::panic_message;

use super::dead_letter::{self, DeadLetter};
use super::delivery::{AckHandle, Delivery, Received, Undecodable};
use super::provision::provision_streams;
use super::subscriber::{SubscribeError, check_durable_name, check_server_version, select_names};
use crate::decode::IntegrationEventSet;
use crate::dispatcher::BoxError;

/// How long one pull request waits for a message when the consumer has none pending.
const LONG_POLL: Duration = Duration::from_secs(5);
/// Added to a pull request's own expiry before the client gives up on it.
const PULL_SLACK: Duration = Duration::from_secs(5);
/// First and longest pause after a failed pull request.
const RETRY_PAUSE: (Duration, Duration) = (Duration::from_millis(250), Duration::from_secs(5));

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
                names
                    .iter()
                    .map(|name| E::subject_for(name).unwrap_or_else(|| channel.subject_for(name)))
                    .collect();
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
    let span = tracing::info_span!(
        "consume",
        subject = %delivery.subject,
        stream_sequence = delivery.stream_sequence,
        ce_id = %delivery.id,
        ce_type = %delivery.name,
        delivered = delivery.delivered,
        durable = %durable,
    );
    // The handler continues the producer's trace (W3C `traceparent`, feature `otel`).
    crate::trace::continue_trace(&span, &delivery.headers);
    span
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
