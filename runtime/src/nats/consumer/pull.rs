//! Pulling a [`Consumer`](super::Consumer)'s messages: a queue filled by pull requests, topped
//! up by a prefetch while the queued messages are handled, retried after failures, and
//! released (naked) when the consumer stops.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::context::ConsumerInfoErrorKind;
use async_nats::jetstream::{AckKind, Message};
use futures::{FutureExt, StreamExt};

use super::{ConsumeError, Consumer};
use crate::decode::IntegrationEventSet;
use crate::error::BoxError;

/// How long one pull request waits for a message when the consumer has none pending.
const LONG_POLL: Duration = Duration::from_secs(5);
/// Added to a pull request's own expiry before the client gives up on it.
const PULL_SLACK: Duration = Duration::from_secs(5);
/// First and longest pause after a failed pull request.
const RETRY_PAUSE: (Duration, Duration) = (Duration::from_millis(250), Duration::from_secs(5));

/// A pulled message, boxed when it is received: it then moves from the pull to the queue, to
/// the delivery and to the ack as a pointer (a message is a few hundred bytes; copying it a
/// dozen times per message, and a prefetched batch into the queue, cost more than the
/// allocation, `BENCHMARKS.md`).
pub(super) type PulledMessage = Box<Message>;

/// A prefetch in flight: a no-wait pull request for up to a batch, owning what it pulls until
/// it completes (then [`Pulled::absorb`] appends it to the queue).
type Prefetch = Pin<Box<dyn Future<Output = Prefetched> + Send>>;

/// What a prefetch brought: the messages, the pull request's outcome, the messages asked for.
type Prefetched = (VecDeque<PulledMessage>, Result<usize, BoxError>, usize);

/// The messages pulled and not yet handed on, the prefetch in flight, and the failed pulls in
/// a row.
///
/// Every pulled message is in [`queue`](Self::queue) or, while its pull request is in flight,
/// owned by [`prefetch`](Self::prefetch): [`Consumer::release`] waits for the prefetch and
/// naks both; the in-progress acks of [`Consumer::run`](super::Consumer::run) cover the queue,
/// and the prefetch is absorbed into it as soon as it completes (a no-wait pull request is
/// answered at once).
#[derive(Default)]
pub(super) struct Pulled {
    /// Pulled, in stream order.
    pub(super) queue: VecDeque<PulledMessage>,
    /// The prefetch in flight, if any.
    prefetch: Option<Prefetch>,
    /// Whether the last pull request was answered with as many messages as it asked for (so
    /// more are probably pending: worth a prefetch).
    more: bool,
    /// Failed pull requests since the last one that succeeded.
    failures: u32,
    /// An empty buffer kept for the next prefetch: the one a completed prefetch brought,
    /// emptied into the queue (a batch of messages is tens of kilobytes; allocating it per
    /// prefetch was 7% of the consumer's CPU in the profile of `BENCHMARKS.md`).
    spare: VecDeque<PulledMessage>,
}

impl Pulled {
    /// Whether a prefetch is in flight.
    pub(super) fn prefetching(&self) -> bool {
        self.prefetch.is_some()
    }

    /// Waits for the prefetch in flight (at once without one) and appends its messages to the
    /// queue. Cancel-safe: dropped before the prefetch completed, the prefetch stays in
    /// flight.
    pub(super) async fn prefetched(&mut self) {
        if let Some(prefetch) = self.prefetch.as_mut() {
            let prefetched = prefetch.await;
            self.prefetch = None;
            self.absorb(prefetched);
        }
    }

    /// Polls the prefetch in flight once, without waiting: appends its messages to the queue
    /// when it completed.
    pub(super) fn poll_prefetch(&mut self) {
        if let Some(prefetch) = self.prefetch.as_mut()
            && let Some(prefetched) = prefetch.now_or_never()
        {
            self.prefetch = None;
            self.absorb(prefetched);
        }
    }

    /// Appends a completed prefetch's messages; a failure is left to the next [`Consumer::fill`].
    fn absorb(&mut self, (mut messages, result, asked): Prefetched) {
        match result {
            Ok(received) => self.more = received == asked,
            Err(err) => {
                tracing::debug!(error = %crate::error::ErrorChain(&*err), pulled = messages.len(), "prefetch failed");
                self.more = false;
            }
        }
        self.queue.append(&mut messages);
        self.spare = messages;
    }
}

impl<E: IntegrationEventSet> Consumer<E> {
    /// Pulls what is pending (up to a batch); if nothing is, waits up to [`LONG_POLL`] for a
    /// message and then tops the queue up. A prefetch in flight is waited for first. Failed
    /// pulls pause and return `Ok` (the caller loops), unless the consumer is gone.
    pub(super) async fn fill(&self, pulled: &mut Pulled) -> Result<(), ConsumeError> {
        pulled.prefetched().await;
        if !pulled.queue.is_empty() {
            return Ok(());
        }
        let Pulled {
            queue,
            more,
            failures,
            ..
        } = pulled;
        let batch = self.spec.policy.batch.max(1);
        let mut result = pull(&self.consumer, queue, batch, None).await;
        *more = matches!(result, Ok(n) if n == batch);
        if matches!(result, Ok(0)) {
            result = pull(&self.consumer, queue, 1, Some(LONG_POLL)).await;
            if matches!(result, Ok(1)) && batch > 1 {
                result = pull(&self.consumer, queue, batch - 1, None).await;
                *more = matches!(result, Ok(n) if n == batch - 1);
            }
        }
        match result {
            Ok(_) => {
                *failures = 0;
                Ok(())
            }
            Err(err) if !queue.is_empty() => {
                tracing::warn!(error = %crate::error::ErrorChain(&*err), pulled = queue.len(), "pull request failed after some messages");
                Ok(())
            }
            Err(err) => {
                self.check_consumer_exists().await?;
                let pause = RETRY_PAUSE
                    .0
                    .saturating_mul(2u32.saturating_pow((*failures).min(16)))
                    .min(RETRY_PAUSE.1);
                *failures = failures.saturating_add(1);
                tracing::warn!(error = %crate::error::ErrorChain(&*err), ?pause, "pull request failed; retrying");
                tokio::time::sleep(pause).await;
                Ok(())
            }
        }
    }

    /// Starts a prefetch (a no-wait pull request for a batch) when none is in flight, the
    /// queue is down to a batch or less, and the last pull request was answered in full
    /// (more messages are probably pending). The queue then holds at most 2 batches. Like
    /// async-nats' `messages()` stream, this keeps the next messages on their way while the
    /// queued ones are handled; unlike it, the messages stay in [`Pulled`], so in-progress
    /// acks, the dead-letter accounting and [`release`](Self::release) see every one of
    /// them. At half a batch (as `messages()` asks for more), the queue ran dry while the
    /// next batch was on its way: 0.90-0.93x the raw consumer's rate, against 0.99-1.03x
    /// (BENCHMARKS.md, "Consumer prefetch").
    pub(super) fn prefetch(&self, pulled: &mut Pulled) {
        let batch = self.spec.policy.batch.max(1);
        if pulled.prefetch.is_some() || !pulled.more || pulled.queue.len() > batch {
            return;
        }
        let consumer = Arc::clone(&self.consumer);
        let mut messages = std::mem::take(&mut pulled.spare);
        let mut prefetch: Prefetch = Box::pin(async move {
            let result = pull(&consumer, &mut messages, batch, None).await;
            (messages, result, batch)
        });
        // The first poll sends the pull request; the answer is buffered by the client.
        match prefetch.as_mut().now_or_never() {
            Some(prefetched) => pulled.absorb(prefetched),
            None => pulled.prefetch = Some(prefetch),
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

    /// Waits for the prefetch in flight, then naks (no delay) the messages pulled but not
    /// handed on, confirmed, all at once, so that another instance gets them at once.
    pub(super) async fn release(&self, mut pulled: Pulled) {
        pulled.prefetched().await;
        let queue = pulled.queue;
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

/// One pull request on `consumer` for up to `max` messages, appended to `queue`: answered at
/// once with what is pending (`wait` `None`) or waiting up to `wait`. Returns how many came.
async fn pull(
    consumer: &PullConsumer,
    queue: &mut VecDeque<PulledMessage>,
    max: usize,
    wait: Option<Duration>,
) -> Result<usize, BoxError> {
    let mut messages = match wait {
        None => consumer.fetch().max_messages(max).messages().await,
        Some(wait) => {
            consumer
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
            queue.push_back(Box::new(message?));
            received += 1;
        }
        Ok::<(), BoxError>(())
    };
    match tokio::time::timeout(limit, collect).await {
        Ok(result) => result.map(|()| received),
        Err(_) => Err(format!("pull request unanswered after {limit:?}").into()),
    }
}
