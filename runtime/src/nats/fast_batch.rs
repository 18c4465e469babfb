//! Fast-ingest batches (NATS ADR-50, nats-server >= 2.14): the [`BatchPublisher`] of
//! [`JetStreamPublisher`].
//!
//! The protocol, as nats-server 2.14+ implements it (`server/stream.go`,
//! `processJetStreamFastBatchMsg`; `server/jetstream_batching.go`): each message of a batch is
//! an ordinary publish whose reply subject is
//! `<prefix>.<batch id>.<flow>.<gap mode>.<batch sequence>.<operation>.$FI`, operation 0 for
//! the first message, 1 for the next ones, 2 for the last (commit), 3 for an end of batch that
//! carries no message. The server answers on that reply subject, JSON bodies:
//!
//! * `{"type":"ack","seq":S,"msgs":N}`: every message up to batch sequence `S` is stored (gap
//!   mode `fail`), and the next such ack comes after `N` more; the first message is answered
//!   with one (`S` = 0) before anything else is sent, so that a server or stream without
//!   batches is found out after one message, never after a whole batch;
//! * `{"type":"err","seq":S,"error":{...}}`: message `S` was refused; in gap mode `fail` the
//!   batch ends there (nothing after it is stored) and the final `PubAck` follows;
//! * `{"type":"gap","last_seq":E,"seq":S}`: messages from `E` were lost on the way (a
//!   reconnect); the batch ends, nothing after the gap is stored;
//! * the final `PubAck` `{"stream":...,"seq":...,"batch":...,"count":C}`: the batch is over and
//!   its first `C` messages are stored (duplicates included: a duplicate is skipped and the
//!   batch goes on). A batch of one message, committed at once, is answered like a single
//!   publish (a duplicate `PubAck` for a duplicate);
//! * an error response (`{"stream":...,"error":{...}}`) to a message refused before it joins
//!   the batch (over the stream's `max_msg_size`): the next message finds a gap and ends the
//!   batch; the reply subject the answer came on tells which message it was.
//!
//! A server without batches (before 2.14) answers the first message with an ordinary `PubAck`
//! (it stored it as a single publish); a stream without `allow_batched` with JetStream error
//! 10205. Either way only that one message was sent, and the rest is published one at a time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::StatusCode;
use futures::StreamExt;
use serde::Deserialize;
use tokio::time::Instant;

use super::JetStreamPublisher;
use crate::message::IntegrationMessage;
use crate::publisher::{BatchEnd, BatchOutcome, BatchPublisher, PublishError};

/// How long a stream that refused a batch (no `allow_batched`, or its limit of batches in
/// flight) is sent one message at a time before a batch is tried again: a stream edited to
/// allow batches is used within this time.
const REFUSAL_TTL: Duration = Duration::from_secs(60);

/// The most subjects whose stream is remembered; past it the memory starts over (subjects are
/// one per integration event type, so this is only reached by a hostile outbox).
const MAX_SUBJECTS: usize = 10_000;

/// The most messages the server may let pass between two flow acks (the `<flow>` token):
/// nats-server caps it at 500 itself and lowers it while other batches run on the stream.
/// Measured (BENCHMARKS.md, "Outbox relay"): batches of 500 at 500 ran at 0.94-1.12x raw
/// pipelining, at 100 at 0.89-0.93x.
const FLOW: u16 = 500;

/// JetStream error code "batch publish is disabled" (nats-server `errors.json`,
/// `JSBatchPublishDisabledErr`).
const BATCH_PUBLISH_DISABLED: u16 = 10205;

/// JetStream error code "batch publish ID unknown" (`JSBatchPublishUnknownBatchIDErr`): the
/// server no longer has the batch.
const UNKNOWN_BATCH_ID: u16 = 10208;

/// JetStream error code "message size exceeds maximum allowed" (`JSStreamMessageExceedsMaximumErr`).
const MESSAGE_EXCEEDS_MAXIMUM: u16 = 10054;

/// What the publisher learned of the streams, without asking the JetStream API (a publishing
/// user needs no right on it): the stream of each subject, from the acknowledgements of single
/// publishes, and the streams that refused a batch lately.
#[derive(Debug, Default)]
pub(super) struct StreamLookups {
    by_subject: Mutex<HashMap<String, String>>,
    refusing: Mutex<HashMap<String, Instant>>,
}

impl StreamLookups {
    /// Records that the stream `stream` stored a message on `subject`.
    pub(super) fn learn(&self, subject: &str, stream: &str) {
        let mut known = self.by_subject.lock().unwrap_or_else(|e| e.into_inner());
        if known.get(subject).is_some_and(|have| have == stream) {
            return;
        }
        if known.len() >= MAX_SUBJECTS {
            known.clear();
        }
        known.insert(subject.to_owned(), stream.to_owned());
    }

    /// The stream of `subject`, if learned and not refusing batches.
    fn stream_of(&self, subject: &str) -> Option<String> {
        let stream = self
            .by_subject
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(subject)
            .cloned()?;
        let refusing = self.refusing.lock().unwrap_or_else(|e| e.into_inner());
        match refusing.get(&stream) {
            Some(until) if Instant::now() < *until => None,
            _ => Some(stream),
        }
    }

    /// Records that `stream` refused a batch: one message at a time for [`REFUSAL_TTL`].
    fn refused(&self, stream: &str) {
        let mut refusing = self.refusing.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        refusing.retain(|_, until| now < *until);
        refusing.insert(stream.to_owned(), now + REFUSAL_TTL);
    }
}

/// A shared handle on the lookups (the publisher is `Clone`).
pub(super) type SharedLookups = Arc<StreamLookups>;

/// One answer of the server on a batch's reply subjects.
#[derive(Debug, Default, Deserialize)]
struct Answer {
    /// `ack`, `err` or `gap` for flow messages; absent in a `PubAck` or an error response.
    #[serde(rename = "type")]
    kind: Option<String>,
    /// Batch sequence (flow messages) or stream sequence (`PubAck`).
    seq: Option<u64>,
    /// Messages until the next flow ack.
    msgs: Option<u16>,
    /// Stream of a `PubAck`.
    stream: Option<String>,
    #[serde(default)]
    duplicate: bool,
    /// Messages of the batch stored, in a final `PubAck`.
    count: Option<u64>,
    /// A JetStream API error.
    error: Option<ApiError>,
    /// The batch sequence of the message answered, from the reply subject the answer came
    /// on (an error response names no sequence in its body).
    #[serde(skip)]
    answered: Option<u64>,
}

/// A JetStream API error as the server writes it.
#[derive(Debug, Clone, Default, Deserialize, thiserror::Error)]
#[error("JetStream error {err_code} (status {code}): {description}")]
struct ApiError {
    #[serde(default)]
    code: u16,
    #[serde(default)]
    err_code: u16,
    #[serde(default)]
    description: String,
}

/// Why a batch ended when the server gave no JSON error for it.
#[derive(Debug, thiserror::Error)]
enum BatchError {
    /// The final `PubAck` counted fewer messages than were sent, and the error of the first
    /// one missing did not arrive (it is informational: it may be lost).
    #[error("the stream ended the fast batch after {stored} of {sent} messages{}", if *gap { " (a message was lost on the way: gap)" } else { "" })]
    Cut { stored: u64, sent: u64, gap: bool },
    /// The connection dropped while the batch was in flight.
    #[error("the connection to the server dropped during a fast batch")]
    Disconnected,
    /// The subscription to the batch's answers ended.
    #[error("the answers of a fast batch stopped: the connection closed")]
    Closed,
    /// The first message was answered with something that is neither a flow ack, a `PubAck`
    /// nor an error.
    #[error("the first message of a fast batch got an answer of an unknown kind")]
    UnknownAnswer,
}

/// What one server-side batch came to.
struct Run {
    stored: usize,
    duplicates: usize,
    end: BatchEnd,
}

impl Run {
    fn end(stored: usize, duplicates: usize, end: BatchEnd) -> Self {
        Self {
            stored,
            duplicates,
            end,
        }
    }
}

/// What an answer means for the batch in flight.
enum Step {
    /// Keep going.
    Continue,
    /// The batch is over.
    End(Run),
    /// The last message sent, with this batch sequence, was refused before it joined the
    /// batch (the server checks the size first), and nothing follows it to find the gap: the
    /// batch must be ended with an end-of-batch marker at that sequence for its `PubAck`.
    EndBefore(u64),
}

#[async_trait::async_trait]
impl BatchPublisher for JetStreamPublisher {
    async fn batch_stream(&self, subject: &str) -> Option<String> {
        if !super::has_fast_batches(&self.client) {
            return None;
        }
        self.lookups.stream_of(subject)
    }

    async fn publish_batch(
        &self,
        stream: &str,
        messages: &[&IntegrationMessage],
        timeout: Duration,
    ) -> BatchOutcome {
        let started = std::time::Instant::now();
        let run = if messages.is_empty() {
            Run::end(0, 0, BatchEnd::Complete)
        } else {
            self.run(messages, timeout).await
        };
        if matches!(run.end, BatchEnd::Unsupported) {
            self.lookups.refused(stream);
        }
        tracing::debug!(
            stream,
            messages = messages.len(),
            stored = run.stored,
            end = ?run.end,
            "fast batch"
        );
        // Each stored message took the batch's time to be confirmed.
        let took = started.elapsed();
        for n in 0..run.stored {
            let outcome = if n < run.duplicates {
                crate::metrics::Outcome::Duplicate
            } else {
                crate::metrics::Outcome::Ok
            };
            crate::metrics::published(took, outcome);
        }
        if matches!(run.end, BatchEnd::Failed(_)) {
            crate::metrics::published(took, crate::metrics::Outcome::Error);
        }
        BatchOutcome {
            stored: run.stored,
            duplicates: run.duplicates,
            end: run.end,
        }
    }
}

impl JetStreamPublisher {
    /// Sends `messages` (at least one) as one server-side batch.
    async fn run(&self, messages: &[&IntegrationMessage], timeout: Duration) -> Run {
        let client = self.client.clone();
        let first = messages[0];
        let inbox = client.new_inbox();
        let mut answers = match client.subscribe(format!("{inbox}.>")).await {
            Ok(answers) => answers,
            Err(err) => {
                return Run::end(0, 0, BatchEnd::Failed(broker(first, err)));
            }
        };
        let batch = Batch {
            client,
            prefix: format!("{inbox}.{}.{FLOW}.fail", uuid::Uuid::new_v4().simple()),
            timeout,
            messages,
        };
        let total = messages.len();
        let mut state = Flow::default();
        let mut sent = 0usize;
        while sent < total {
            while sent > 0 && sent as u64 - state.confirmed() >= state.lead() {
                match batch.wait(&mut answers, messages[sent]).await {
                    Ok(answer) => match state.on_answer(answer, sent, total, messages) {
                        Step::End(run) => return run,
                        Step::Continue | Step::EndBefore(_) => {}
                    },
                    Err(err) => return state.cut(err),
                }
            }
            let message = messages[sent];
            let seq = sent as u64 + 1;
            let headers = match self.checked_headers(message) {
                Ok((headers, _)) => headers,
                Err(err) if sent == 0 => return Run::end(0, 0, BatchEnd::Failed(err)),
                Err(err) => {
                    // End the batch before this message and report it refused once the
                    // stream confirmed the ones before.
                    if let Err(send) = batch.end_before(seq).await {
                        return state.cut(send);
                    }
                    state.refused_here = Some((seq, err));
                    return batch.finish(&mut answers, &mut state, sent).await;
                }
            };
            let operation = if seq == total as u64 {
                OP_COMMIT
            } else if seq == 1 {
                OP_START
            } else {
                OP_APPEND
            };
            if let Err(err) = client_publish(&batch, message, seq, operation, headers).await {
                return state.cut(err);
            }
            sent += 1;
            if sent == 1 && total > 1 {
                // Until the first answer, one message: it tells whether batches work here.
                match batch.wait(&mut answers, first).await {
                    Ok(answer) => {
                        if let Some(run) = state.on_first(answer, first) {
                            return run;
                        }
                    }
                    Err(err) => return state.cut(err),
                }
            }
        }
        batch.finish(&mut answers, &mut state, sent).await
    }
}

/// Batch operations, the `<operation>` token of the reply subject (nats-server
/// `FastBatchOpStart`...).
const OP_START: u8 = 0;
const OP_APPEND: u8 = 1;
const OP_COMMIT: u8 = 2;
const OP_END_OF_BATCH: u8 = 3;

/// Publishes `message` as batch sequence `seq` with `operation`.
async fn client_publish(
    batch: &Batch<'_>,
    message: &IntegrationMessage,
    seq: u64,
    operation: u8,
    headers: async_nats::HeaderMap,
) -> Result<(), PublishError> {
    batch
        .client
        .publish_with_reply_and_headers(
            message.subject.clone(),
            format!("{}.{seq}.{operation}.$FI", batch.prefix),
            headers,
            message.payload.clone(),
        )
        .await
        .map_err(|err| broker(message, err))
}

/// A batch being sent.
struct Batch<'m> {
    client: async_nats::Client,
    /// `<inbox>.<batch id>.<flow>.fail`: the reply subject without sequence and operation.
    prefix: String,
    timeout: Duration,
    messages: &'m [&'m IntegrationMessage],
}

impl Batch<'_> {
    /// The next answer, within the timeout; fails early when the connection drops.
    async fn wait(
        &self,
        answers: &mut async_nats::Subscriber,
        message: &IntegrationMessage,
    ) -> Result<Answer, PublishError> {
        wait(&self.client, answers, self.timeout, message).await
    }

    /// Ends the batch before batch sequence `seq` (operation 3 carries no message).
    async fn end_before(&self, seq: u64) -> Result<(), PublishError> {
        let index = usize::try_from(seq - 1).unwrap_or(usize::MAX);
        let message = self.messages[index.min(self.messages.len() - 1)];
        self.client
            .publish_with_reply(
                message.subject.clone(),
                format!("{}.{seq}.{OP_END_OF_BATCH}.$FI", self.prefix),
                bytes::Bytes::new(),
            )
            .await
            .map_err(|err| broker(message, err))
    }

    /// Waits for the final `PubAck` of a batch whose `sent` messages are all sent.
    async fn finish(
        &self,
        answers: &mut async_nats::Subscriber,
        state: &mut Flow,
        sent: usize,
    ) -> Run {
        let last = self.messages[sent.saturating_sub(1)];
        let total = self.messages.len();
        loop {
            let answer = match self.wait(answers, last).await {
                Ok(answer) => answer,
                Err(err) => return state.cut(err),
            };
            match state.on_answer(answer, sent, total, self.messages) {
                Step::Continue => {}
                Step::End(run) => return run,
                Step::EndBefore(seq) => {
                    if let Err(err) = self.end_before(seq).await {
                        return state.cut(err);
                    }
                }
            }
        }
    }
}

/// What the client knows of a batch in flight.
#[derive(Debug, Default)]
struct Flow {
    /// Messages confirmed stored by flow acks (batch sequence).
    acked: u64,
    /// Messages between two flow acks, as the server last said.
    messages: u16,
    /// The first error the server reported for a message, and its batch sequence.
    refused: Option<(u64, ApiError)>,
    /// A message this client refused to send (it cannot be sent as it is), and its batch
    /// sequence: the batch was ended before it.
    refused_here: Option<(u64, PublishError)>,
    /// The server reported a gap.
    gap: bool,
}

impl Flow {
    /// Records that the server refused message `seq`, keeping the earliest refusal (the one
    /// that ended the batch; later ones answer messages sent after it ended).
    fn refuse(&mut self, seq: u64, error: ApiError) {
        if self.refused.as_ref().is_none_or(|(known, _)| seq < *known) {
            self.refused = Some((seq, error));
        }
    }

    /// Messages known stored: those flow acks confirmed, never a refused one or beyond it
    /// (should an ack or count ever include a message that was answered with an error).
    fn confirmed(&self) -> u64 {
        match &self.refused {
            Some((seq, _)) => self.acked.min(seq - 1),
            None => self.acked,
        }
    }

    /// Messages the client may send beyond the last flow ack: two flow windows.
    fn lead(&self) -> u64 {
        2 * u64::from(self.messages.max(1))
    }

    /// The batch ends for `err` (no answer, a lost connection): what flow acks confirmed is
    /// stored.
    fn cut(&self, err: PublishError) -> Run {
        Run::end(
            usize::try_from(self.confirmed()).unwrap_or(usize::MAX),
            0,
            BatchEnd::Failed(err),
        )
    }

    /// The answer to the first message (of a batch of more): a flow ack when batches work.
    fn on_first(&mut self, answer: Answer, first: &IntegrationMessage) -> Option<Run> {
        if answer.kind.as_deref() == Some("ack") {
            self.messages = answer.msgs.unwrap_or(1);
            return None;
        }
        if let Some(error) = answer.error {
            return Some(first_refused(first, error));
        }
        if answer.stream.is_some() {
            // An ordinary PubAck: a server without batches stored the message as a single
            // publish.
            return Some(Run::end(
                1,
                usize::from(answer.duplicate),
                BatchEnd::Unsupported,
            ));
        }
        Some(self.cut(broker(first, BatchError::UnknownAnswer)))
    }

    /// Takes an answer after the first, `sent` of `total` messages sent.
    fn on_answer(
        &mut self,
        answer: Answer,
        sent: usize,
        total: usize,
        messages: &[&IntegrationMessage],
    ) -> Step {
        match answer.kind.as_deref() {
            Some("ack") => {
                self.acked = self.acked.max(answer.seq.unwrap_or(0));
                self.messages = answer.msgs.unwrap_or(self.messages);
                return Step::Continue;
            }
            Some("err") => {
                if let (Some(seq), Some(error)) = (answer.seq, answer.error) {
                    self.refuse(seq, error);
                }
                return Step::Continue;
            }
            Some("gap") => {
                self.gap = true;
                return Step::Continue;
            }
            _ => {}
        }
        if let Some(count) = answer.count {
            return Step::End(self.settle(count, sent, answer.duplicate, messages));
        }
        let Some(error) = answer.error else {
            // A PubAck without a batch count: a batch of one message on a server without
            // batches, stored as a single publish.
            return if sent == 1 {
                Step::End(Run::end(
                    1,
                    usize::from(answer.duplicate),
                    BatchEnd::Complete,
                ))
            } else {
                Step::Continue
            };
        };
        let message = messages[sent.saturating_sub(1)];
        match (error.err_code, answer.answered) {
            // The server no longer has the batch (its inactivity timer ran out, a restart,
            // a new stream leader): what was confirmed is stored, the rest goes again.
            (UNKNOWN_BATCH_ID, _) => Step::End(self.cut(broker(message, error))),
            // The stream stopped taking batches: the rest one message at a time (any of it
            // stored meanwhile is then a duplicate).
            (BATCH_PUBLISH_DISABLED, _) => Step::End(Run::end(
                usize::try_from(self.confirmed()).unwrap_or(usize::MAX),
                0,
                BatchEnd::Unsupported,
            )),
            // The first message, refused after its flow ack (expected-sequence headers,
            // limits): the server dropped the batch.
            (_, Some(1)) => Step::End(first_refused(messages[0], error)),
            (_, Some(seq)) => {
                self.refuse(seq, error);
                if seq == sent as u64 && sent == total {
                    Step::EndBefore(seq)
                } else {
                    Step::Continue
                }
            }
            (_, None) => Step::Continue,
        }
    }

    /// The final `PubAck` counted `count` messages of the `sent`.
    fn settle(
        &mut self,
        count: u64,
        sent: usize,
        duplicate: bool,
        messages: &[&IntegrationMessage],
    ) -> Run {
        let mut stored = count.min(sent as u64);
        let mut error = None;
        if let Some((seq, refusal)) = self.refused.take()
            && seq <= stored + 1
        {
            stored = seq - 1;
            error = Some(api_error(messages[index(stored)], refusal));
        }
        if let Some((seq, refusal)) = self.refused_here.take()
            && error.is_none()
            && seq == stored + 1
        {
            error = Some(refusal);
        }
        let duplicates = usize::from(duplicate && stored == 1);
        let stored_messages = index(stored);
        match error {
            None if stored_messages == sent => {
                Run::end(stored_messages, duplicates, BatchEnd::Complete)
            }
            None => Run::end(
                stored_messages,
                duplicates,
                BatchEnd::Failed(broker(
                    messages[stored_messages.min(sent - 1)],
                    BatchError::Cut {
                        stored,
                        sent: sent as u64,
                        gap: self.gap,
                    },
                )),
            ),
            Some(error) => Run::end(stored_messages, duplicates, BatchEnd::Failed(error)),
        }
    }
}

/// The first message of a batch was refused with `error`: a refusal the relay records (over
/// the stream's `max_msg_size`), or, for anything else (a limit of batches in flight, an
/// expectation header...), one message at a time, where the single publish reports it.
fn first_refused(first: &IntegrationMessage, error: ApiError) -> Run {
    if error.err_code == MESSAGE_EXCEEDS_MAXIMUM {
        Run::end(0, 0, BatchEnd::Failed(api_error(first, error)))
    } else {
        tracing::debug!(error = %error, "the stream refused a fast batch; one at a time");
        Run::end(0, 0, BatchEnd::Unsupported)
    }
}

/// A batch sequence or count as an index into the messages.
fn index(seq: u64) -> usize {
    usize::try_from(seq).unwrap_or(usize::MAX)
}

/// The [`PublishError`] of a message the stream refused with `error`.
fn api_error(message: &IntegrationMessage, error: ApiError) -> PublishError {
    if error.err_code == MESSAGE_EXCEEDS_MAXIMUM {
        PublishError::Refused {
            subject: message.subject.clone(),
            reason: error.to_string(),
        }
    } else {
        broker(message, error)
    }
}

fn broker(
    message: &IntegrationMessage,
    err: impl std::error::Error + Send + Sync + 'static,
) -> PublishError {
    PublishError::Broker {
        subject: message.subject.clone(),
        source: Box::new(err),
    }
}

/// How often a wait for an answer looks at the connection: a batch whose connection dropped
/// fails within this time rather than after the whole timeout (the subscription outlives a
/// reconnect, and answers sent meanwhile are lost).
const CONNECTION_CHECK: Duration = Duration::from_millis(50);

/// The next answer on a batch's reply subjects, within `timeout`; fails early when the
/// connection drops.
async fn wait(
    client: &async_nats::Client,
    answers: &mut async_nats::Subscriber,
    timeout: Duration,
    message: &IntegrationMessage,
) -> Result<Answer, PublishError> {
    let deadline = Instant::now() + timeout;
    loop {
        let step = deadline
            .saturating_duration_since(Instant::now())
            .min(CONNECTION_CHECK);
        let next = tokio::time::timeout(step, answers.next()).await;
        let Ok(next) = next else {
            if client.connection_state() != async_nats::connection::State::Connected {
                return Err(broker(message, BatchError::Disconnected));
            }
            if Instant::now() >= deadline {
                return Err(PublishError::Timeout {
                    subject: message.subject.clone(),
                });
            }
            continue;
        };
        let Some(answer) = next else {
            return Err(broker(message, BatchError::Closed));
        };
        if answer.status == Some(StatusCode::NO_RESPONDERS) {
            return Err(PublishError::NoStream {
                subject: message.subject.clone(),
            });
        }
        match serde_json::from_slice::<Answer>(&answer.payload) {
            Ok(mut parsed) => {
                // `<prefix>.<batch>.<flow>.<gap>.<seq>.<op>.$FI`
                parsed.answered = answer
                    .subject
                    .rsplit('.')
                    .nth(2)
                    .and_then(|seq| seq.parse().ok());
                return Ok(parsed);
            }
            Err(err) => {
                tracing::debug!(error = %err, "an answer to a fast batch that is not JSON; skipped");
            }
        }
    }
}
