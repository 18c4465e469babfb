//! [`Consumer::run`]: the consumer's own loop, calling a [`ConsumerHandler`] per event.

use std::collections::VecDeque;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::pin;

use async_nats::jetstream::AckKind;
use futures::FutureExt;
use tokio::time::{Instant, Interval, MissedTickBehavior};
use tracing::{Instrument, Span};

use super::handler::panic_message;
use super::pull::{Pulled, PulledMessage};
use super::{ConsumeError, Consumer, ConsumerHandler, ConsumerReport};
use crate::decode::IntegrationEventSet;
use crate::nats::dead_letter;
use crate::nats::delivery::{AckHandle, Delivery, Received};

impl<E: IntegrationEventSet> Consumer<E> {
    /// Pulls and handles messages until `shutdown` completes or a fatal error.
    ///
    /// Per message, in a `consume` span:
    ///
    /// * decoded, delivery `n` <= `max_deliver`: `handler` runs, with `+WPI` every
    ///   [`in_progress_period`](super::DeliveryPolicy::in_progress_period). `Ok`: ack
    ///   (confirmed unless [`double_ack`](super::DeliveryPolicy::double_ack) is off). `Err`
    ///   (or a panic) before the last delivery: nak with
    ///   [`nak_delay`](super::DeliveryPolicy::nak_delay)`(n)`. `Err` on delivery
    ///   `max_deliver`: the message is published to the dead-letter channel (see
    ///   [`dead_letter`](crate::nats::dead_letter)) and, once JetStream stored it, acked;
    ///   without a dead-letter channel it is terminated.
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
    /// With the contract guard (feature `contracts`), each message is first put before it:
    /// one whose producer contract the consumer cannot read is dead-lettered (policy
    /// `DeadLetter`), handled (`Warn`) or, by default (`Refuse`), naked at once while the run
    /// stops with [`ConsumeError::IncompatibleContract`] (the queued messages are released).
    ///
    /// # Errors
    ///
    /// [`ConsumeError::ConsumerGone`], [`ConsumeError::IncompatibleContract`].
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
            let mut pulled = Pulled::default();
            let mut report = ConsumerReport::default();
            loop {
                if pulled.queue.is_empty() {
                    tokio::select! {
                        biased;
                        () = &mut shutdown => break,
                        filled = self.fill(&mut pulled) => filled?,
                    }
                    continue;
                }
                if let Some(message) = pulled.queue.pop_front() {
                    self.prefetch(&mut pulled);
                    let processed = self
                        .process(message, handler, &mut pulled, &mut ticker, &mut report)
                        .await;
                    if let Err(err) = processed {
                        self.release(pulled).await;
                        tracing::error!(?report, error = %crate::error::ErrorChain(&err), "consumer stopped");
                        return Err(err);
                    }
                    pulled.poll_prefetch();
                }
                if shutdown.as_mut().now_or_never().is_some() {
                    break;
                }
            }
            self.release(pulled).await;
            tracing::info!(?report, "consumer shut down");
            Ok(report)
        }
        .instrument(span)
        .await
    }

    /// Handles one pulled message (see [`run`](Self::run)).
    async fn process<H: ConsumerHandler<E>>(
        &self,
        message: PulledMessage,
        handler: &H,
        pulled: &mut Pulled,
        ticker: &mut Interval,
        report: &mut ConsumerReport,
    ) -> Result<(), ConsumeError> {
        let Some(received) = Received::new(message) else {
            return Ok(());
        };
        let Some(received) = self.screen(received, report).await? else {
            return Ok(());
        };
        match received.decode::<E>() {
            Ok(delivery) => {
                let span = handler_span(&delivery, &self.spec.durable);
                let handling = self.handle(delivery, handler, pulled, ticker, report);
                // A disabled span (no subscriber at INFO) is not entered on every poll: entering
                // it does nothing for a subscriber (as `integration::publish_built`).
                if span.is_disabled() {
                    handling.await;
                } else {
                    handling.instrument(span).await;
                }
            }
            Err(undecodable) => {
                if self.reject(&undecodable.message, &undecodable.reason).await {
                    report.rejected += 1;
                } else {
                    report.failed += 1;
                }
            }
        }
        Ok(())
    }

    /// Runs the handler on a decoded delivery and settles the message.
    async fn handle<H: ConsumerHandler<E>>(
        &self,
        delivery: Delivery<E>,
        handler: &H,
        pulled: &mut Pulled,
        ticker: &mut Interval,
        report: &mut ConsumerReport,
    ) {
        let outcome = match self.exhausted(&delivery) {
            Some(error) => Err(error),
            None => self.call(handler, &delivery, pulled, ticker).await,
        };
        self.settle(delivery, outcome, report).await;
    }

    /// Runs the handler, sending in-progress acks for its message and the queued ones on
    /// every tick, and appending a prefetch to the queue as soon as it arrives (so that the
    /// next tick covers its messages too). A panic is an error.
    async fn call<H: ConsumerHandler<E>>(
        &self,
        handler: &H,
        delivery: &Delivery<E>,
        pulled: &mut Pulled,
        ticker: &mut Interval,
    ) -> Result<(), String> {
        let started = crate::metrics::HandlerStart::now();
        let mut handling = pin!(AssertUnwindSafe(handler.handle(delivery)).catch_unwind());
        loop {
            // The handler first: with the ticker first, a tick whose in-progress acks took a
            // period or more (a queue of a hundred messages on a starved machine) found the
            // next tick due at once, and the handler was never polled again while that lasted
            // (a consumer that only sent in-progress acks for over a minute, seen in the
            // cluster fault tests).
            tokio::select! {
                biased;
                result = &mut handling => {
                    let outcome = match result {
                        Ok(Ok(())) => Ok(()),
                        Ok(Err(err)) => Err(dead_letter::error_chain(&*err)),
                        Err(panic) => Err(format!("handler panicked: {}", panic_message(&*panic))),
                    };
                    crate::metrics::handled(
                        &self.spec.durable,
                        delivery.event.name(),
                        delivery.delivered,
                        started,
                        outcome.is_ok(),
                    );
                    return outcome;
                }
                _ = ticker.tick() => in_progress([&delivery.ack], &pulled.queue).await,
                () = pulled.prefetched(), if pulled.prefetching() => {}
            }
        }
    }
}

/// The span of one handled message. The single place to change what a handler runs in
/// (for instance to continue the trace of the message's `traceparent` header).
pub(super) fn handler_span<E>(delivery: &Delivery<E>, durable: &str) -> Span {
    let span = tracing::info_span!(
        "consume",
        subject = delivery.subject(),
        stream_sequence = delivery.stream_sequence,
        ce_id = tracing::field::Empty,
        ce_type = tracing::field::Empty,
        delivered = delivery.delivered,
        durable = %durable,
    );
    // Looked up in the headers only for a span that is recorded.
    if !span.is_disabled() {
        span.record("ce_id", delivery.id());
        span.record("ce_type", delivery.name());
    }
    // The handler continues the producer's trace (W3C `traceparent`, feature `otel`).
    crate::trace::continue_trace(&span, delivery);
    span
}

/// Sends `+WPI` for the running (and held) messages and the queued ones, without waiting for
/// the server.
pub(super) async fn in_progress<'a>(
    running: impl IntoIterator<Item = &'a AckHandle>,
    queue: &VecDeque<PulledMessage>,
) {
    for handle in running {
        if let Err(err) = handle.send_unconfirmed(AckKind::Progress, "progress").await {
            tracing::warn!(error = %crate::error::ErrorChain(&err), "in-progress ack failed");
        }
    }
    for message in queue {
        if let Err(err) = message.ack_with(AckKind::Progress).await {
            tracing::warn!(error = %crate::error::ErrorChain(&*err), "in-progress ack of a queued message failed");
        }
    }
}
