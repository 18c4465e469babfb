//! Ordered batches: several messages to one stream, stored in order and without gaps, for a
//! sender that must keep an order (the outbox relay) and would otherwise wait for each
//! message's acknowledgement before sending the next.

use std::time::Duration;

use super::PublishError;
use crate::message::IntegrationMessage;

/// A [`Publisher`](super::Publisher) that can also send several messages to one stream as
/// one *ordered batch*: the stream stores them in the order sent, and stores none after one it
/// did not store (no gap), so the messages it holds afterwards are always a prefix of the
/// batch. That is the order guarantee a relay otherwise buys by keeping one message per
/// aggregate in flight, for a whole batch at once.
///
/// On JetStream this is the fast-ingest batch of NATS ADR-50 (nats-server >= 2.14, streams
/// with `allow_batched`, gap mode `fail`), see
/// [`JetStreamPublisher`](crate::nats::JetStreamPublisher). A publisher offers it through
/// [`Publisher::batches`](super::Publisher::batches); the default is none.
#[async_trait::async_trait]
pub trait BatchPublisher: Send + Sync {
    /// The stream that stores `subject`, when that stream takes ordered batches; `None`
    /// when it does not, when no stream stores the subject, or when the broker cannot be
    /// asked (publish such messages one at a time). Implementations may cache the answer.
    async fn batch_stream(&self, subject: &str) -> Option<String>;

    /// Publishes `messages`, all stored by `stream` (as [`batch_stream`](Self::batch_stream)
    /// answered for each subject), as ordered batches, and reports how many of them, from the
    /// first, the stream holds afterwards. `timeout` bounds each wait for the broker (from
    /// one of its answers to the next), not the whole batch.
    ///
    /// Each message is checked and de-duplicated as by [`Publisher::publish`](super::Publisher::publish)
    /// (same headers, same id). Never fails as a whole: the outcome says where the batch
    /// ended and why ([`BatchEnd`]).
    async fn publish_batch(
        &self,
        stream: &str,
        messages: &[&IntegrationMessage],
        timeout: Duration,
    ) -> BatchOutcome;
}

/// What [`BatchPublisher::publish_batch`] came to.
#[derive(Debug)]
pub struct BatchOutcome {
    /// How many messages, from the first, the stream holds: stored by this batch, or already
    /// held (the same id within the stream's duplicate window).
    pub stored: usize,
    /// Of those, how many the broker reported as duplicates. A fast-ingest batch skips a
    /// duplicate after its first message without saying so: a lower bound.
    pub duplicates: usize,
    /// Why the batch ended where it did.
    pub end: BatchEnd,
}

/// How an ordered batch ended ([`BatchOutcome::end`]).
#[derive(Debug)]
pub enum BatchEnd {
    /// The stream holds every message.
    Complete,
    /// The message at [`BatchOutcome::stored`] was not confirmed, for this reason, and no
    /// later one was stored by this batch if the error is permanent or "no stream"
    /// ([`PublishError::is_permanent`]). After a transient error (a timeout, a lost
    /// connection) later messages may have been stored without their confirmation
    /// arriving; sending them again is safe (same ids, de-duplicated).
    Failed(PublishError),
    /// The stream does not take ordered batches (any longer: the setting changed, or the
    /// server is older than the lookup said), or not this one (the server's limit of batches
    /// in flight, a first message it refused after accepting the batch): publish the
    /// messages from [`BatchOutcome::stored`] on one at a time. Some of them may have been
    /// stored before the stream stopped taking batches: sent again, they are duplicates.
    Unsupported,
}
