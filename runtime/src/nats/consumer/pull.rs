//! Pulling a [`Consumer`](super::Consumer)'s messages: a queue filled by pull requests, retried
//! after failures, and released (naked) when the consumer stops.

use std::collections::VecDeque;
use std::time::Duration;

use async_nats::jetstream::context::ConsumerInfoErrorKind;
use async_nats::jetstream::{AckKind, Message};
use futures::StreamExt;

use super::{ConsumeError, Consumer};
use crate::decode::IntegrationEventSet;
use crate::error::BoxError;

/// How long one pull request waits for a message when the consumer has none pending.
const LONG_POLL: Duration = Duration::from_secs(5);
/// Added to a pull request's own expiry before the client gives up on it.
const PULL_SLACK: Duration = Duration::from_secs(5);
/// First and longest pause after a failed pull request.
const RETRY_PAUSE: (Duration, Duration) = (Duration::from_millis(250), Duration::from_secs(5));

/// The messages pulled and not yet handed on, and the failed pulls in a row.
#[derive(Default)]
pub(super) struct Pulled {
    /// Pulled, in stream order.
    pub(super) queue: VecDeque<Message>,
    /// Failed pull requests since the last one that succeeded.
    failures: u32,
}

impl<E: IntegrationEventSet> Consumer<E> {
    /// Pulls what is pending (up to a batch); if nothing is, waits up to [`LONG_POLL`] for a
    /// message and then tops the queue up. Failed pulls pause and return `Ok` (the caller
    /// loops), unless the consumer is gone.
    pub(super) async fn fill(&self, pulled: &mut Pulled) -> Result<(), ConsumeError> {
        let Pulled { queue, failures } = pulled;
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

    /// Naks (no delay) the messages pulled but not handed on, confirmed, all at once, so that
    /// another instance gets them at once.
    pub(super) async fn release(&self, pulled: Pulled) {
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
