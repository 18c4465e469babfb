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

/// How long a looked-up subject's stream (and whether it takes batches) is trusted before it
/// is asked again: a stream edited to allow batches is used within this time.
const LOOKUP_TTL: Duration = Duration::from_secs(60);

/// The most messages the server may let pass between two flow acks (the `<flow>` token):
/// nats-server caps it at 500 itself and lowers it while other batches run on the stream.
/// Measured (BENCHMARKS.md, "Outbox relay"): batches of 500 at 500 ran at 0.94-1.12x raw
/// pipelining, at 100 at 0.89-0.93x.
const FLOW: u16 = 500;

/// JetStream error code "batch publish is disabled" (nats-server `errors.json`,
/// `JSBatchPublishDisabledErr`).
const BATCH_PUBLISH_DISABLED: u16 = 10205;

/// JetStream error code "message size exceeds maximum allowed" (`JSStreamMessageExceedsMaximumErr`).
const MESSAGE_EXCEEDS_MAXIMUM: u16 = 10054;

/// Subjects whose stream was looked up: when, and the stream if it takes batches.
#[derive(Debug, Default)]
pub(super) struct StreamLookups {
    by_subject: Mutex<HashMap<String, (Instant, Option<String>)>>,
}

impl StreamLookups {
    fn get(&self, subject: &str) -> Option<Option<String>> {
        let lookups = self.by_subject.lock().unwrap_or_else(|e| e.into_inner());
        lookups
            .get(subject)
            .filter(|(at, _)| at.elapsed() < LOOKUP_TTL)
            .map(|(_, stream)| stream.clone())
    }

    fn put(&self, subject: &str, stream: Option<String>) {
        let mut lookups = self.by_subject.lock().unwrap_or_else(|e| e.into_inner());
        lookups.insert(subject.to_owned(), (Instant::now(), stream));
    }

    /// Forgets that `stream` takes batches (it refused one): its subjects are looked up again.
    fn forget(&self, stream: &str) {
        let mut lookups = self.by_subject.lock().unwrap_or_else(|e| e.into_inner());
        lookups.retain(|_, (_, known)| known.as_deref() != Some(stream));
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
    /// Batch id of a `PubAck` that ends a batch; absent from a server without batches.
    batch: Option<String>,
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
    next: Next,
}

enum Next {
    /// Every message of the run is stored.
    Done,
    /// The first message was a duplicate and ended the batch: the rest goes in a new one.
    Restart,
    /// The batch ended early.
    End(BatchEnd),
}

impl Run {
    fn end(stored: usize, duplicates: usize, end: BatchEnd) -> Self {
        Self {
            stored,
            duplicates,
            next: Next::End(end),
        }
    }
}

#[async_trait::async_trait]
impl BatchPublisher for JetStreamPublisher {
    async fn batch_stream(&self, subject: &str) -> Option<String> {
        if let Some(known) = self.lookups.get(subject) {
            return known;
        }
        let stream = match self.context.stream_by_subject(subject).await {
            Ok(name) => match self.context.get_stream(&name).await {
                Ok(stream) if stream.cached_info().config.allow_batch_publish => Some(name),
                Ok(_) => None,
                Err(err) => {
                    tracing::debug!(subject, stream = name, error = %err, "cannot read the stream");
                    return None;
                }
            },
            Err(err) => {
                tracing::debug!(subject, error = %err, "no stream found for the subject");
                return None;
            }
        };
        tracing::debug!(subject, stream = ?stream, "looked up: stream taking fast batches");
        self.lookups.put(subject, stream.clone());
        stream
    }

    async fn publish_batch(
        &self,
        stream: &str,
        messages: &[&IntegrationMessage],
        timeout: Duration,
    ) -> BatchOutcome {
        let mut outcome = BatchOutcome {
            stored: 0,
            duplicates: 0,
            end: BatchEnd::Complete,
        };
        while outcome.stored < messages.len() {
            let run = self.run(&messages[outcome.stored..], timeout).await;
            outcome.stored += run.stored;
            outcome.duplicates += run.duplicates;
            match run.next {
                Next::Done => break,
                Next::Restart => {}
                Next::End(end) => {
                    if matches!(end, BatchEnd::Unsupported) {
                        self.lookups.forget(stream);
                    }
                    outcome.end = end;
                    break;
                }
            }
        }
        tracing::debug!(
            stream,
            messages = messages.len(),
            stored = outcome.stored,
            end = ?outcome.end,
            "fast batch"
        );
        outcome
    }
}

impl JetStreamPublisher {
    /// Sends `messages` (at least one) as one server-side batch.
    async fn run(&self, messages: &[&IntegrationMessage], timeout: Duration) -> Run {
        let client = self.context.client();
        let first = messages[0];
        let inbox = client.new_inbox();
        let mut answers = match client.subscribe(format!("{inbox}.>")).await {
            Ok(answers) => answers,
            Err(err) => {
                return Run::end(0, 0, BatchEnd::Failed(broker(first, err)));
            }
        };
        let batch = uuid::Uuid::new_v4().simple().to_string();
        let total = messages.len();
        let mut state = Flow::default();
        let mut sent = 0usize;
        while sent < total {
            // Until the first answer, one message: it tells whether batches work at all.
            while sent > 0 && sent as u64 - state.acked >= state.lead() {
                match wait(&client, &mut answers, timeout, messages[sent]).await {
                    Ok(answer) => {
                        if let Some(run) = state.on_answer(answer, sent, messages) {
                            return run;
                        }
                    }
                    Err(err) => return state.cut(err),
                }
            }
            let message = messages[sent];
            let seq = sent + 1;
            let headers = match self.checked_headers(message) {
                Ok(headers) => headers,
                Err(err) if sent == 0 => return Run::end(0, 0, BatchEnd::Failed(err)),
                Err(err) => {
                    // End the batch before this message (operation 3 carries none) and
                    // report it refused once the stream confirmed the ones before.
                    let reply = format!("{inbox}.{batch}.{FLOW}.fail.{seq}.3.$FI");
                    if let Err(send) = client
                        .publish_with_reply(message.subject.clone(), reply, bytes::Bytes::new())
                        .await
                    {
                        return state.cut(broker(message, send));
                    }
                    return finish(
                        &client,
                        &mut answers,
                        &mut state,
                        timeout,
                        messages,
                        sent,
                        Some(err),
                    )
                    .await;
                }
            };
            let operation = if seq == total {
                2
            } else if seq == 1 {
                0
            } else {
                1
            };
            let reply = format!("{inbox}.{batch}.{FLOW}.fail.{seq}.{operation}.$FI");
            if let Err(err) = client
                .publish_with_reply_and_headers(
                    message.subject.clone(),
                    reply,
                    headers,
                    message.payload.clone(),
                )
                .await
            {
                return state.cut(broker(message, err));
            }
            sent += 1;
            if sent == 1 && total > 1 {
                match wait(&client, &mut answers, timeout, first).await {
                    Ok(answer) => {
                        if let Some(run) = state.on_first(answer, first) {
                            return run;
                        }
                    }
                    Err(err) => return state.cut(err),
                }
            }
        }
        finish(
            &client,
            &mut answers,
            &mut state,
            timeout,
            messages,
            sent,
            None,
        )
        .await
    }
}

/// Waits for the final `PubAck` of a batch whose `sent` messages are all sent; `refused`, the
/// error of the message after them when the batch was ended before it.
async fn finish(
    client: &async_nats::Client,
    answers: &mut async_nats::Subscriber,
    state: &mut Flow,
    timeout: Duration,
    messages: &[&IntegrationMessage],
    sent: usize,
    refused: Option<PublishError>,
) -> Run {
    let last = messages[sent.saturating_sub(1)];
    loop {
        let answer = match wait(client, answers, timeout, last).await {
            Ok(answer) => answer,
            Err(err) => return state.cut(err),
        };
        if let Some(run) = state.on_answer(answer, sent, messages) {
            return match (run, refused) {
                (
                    Run {
                        stored,
                        duplicates,
                        next: Next::Done,
                    },
                    Some(err),
                ) => Run::end(stored, duplicates, BatchEnd::Failed(err)),
                (run, _) => run,
            };
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
    /// The error the server reported for a message, and its batch sequence.
    refused: Option<(u64, ApiError)>,
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

    /// Messages the client may send beyond the last flow ack: two flow windows.
    fn lead(&self) -> u64 {
        2 * u64::from(self.messages.max(1))
    }

    /// The batch ends for `err` (no answer, a lost connection): what flow acks confirmed is
    /// stored.
    fn cut(&self, err: PublishError) -> Run {
        Run::end(
            usize::try_from(self.acked).unwrap_or(usize::MAX),
            0,
            BatchEnd::Failed(err),
        )
    }

    /// The answer to the first message: a flow ack when batches work.
    fn on_first(&mut self, answer: Answer, first: &IntegrationMessage) -> Option<Run> {
        if answer.kind.as_deref() == Some("ack") {
            self.messages = answer.msgs.unwrap_or(1);
            return None;
        }
        if let Some(error) = answer.error {
            let run = if error.err_code == BATCH_PUBLISH_DISABLED {
                Run::end(0, 0, BatchEnd::Unsupported)
            } else {
                first_refused(first, error)
            };
            return Some(run);
        }
        if answer.stream.is_some() {
            // An ordinary PubAck: a duplicate first message ended the batch, or a server
            // without batches stored the message as a single publish.
            let duplicates = usize::from(answer.duplicate);
            return Some(if answer.batch.is_some() && answer.duplicate {
                Run {
                    stored: 1,
                    duplicates,
                    next: Next::Restart,
                }
            } else if answer.batch.is_some() {
                Run {
                    stored: 1,
                    duplicates,
                    next: Next::Done,
                }
            } else {
                Run::end(1, duplicates, BatchEnd::Unsupported)
            });
        }
        Some(self.cut(broker(first, BatchError::UnknownAnswer)))
    }

    /// Takes an answer after the first: `Some` when it ends the batch (`sent` messages sent).
    fn on_answer(
        &mut self,
        answer: Answer,
        sent: usize,
        messages: &[&IntegrationMessage],
    ) -> Option<Run> {
        match answer.kind.as_deref() {
            Some("ack") => {
                self.acked = self.acked.max(answer.seq.unwrap_or(0));
                self.messages = answer.msgs.unwrap_or(self.messages);
                None
            }
            Some("err") => {
                if let (Some(seq), Some(error)) = (answer.seq, answer.error) {
                    self.refuse(seq, error);
                }
                None
            }
            Some("gap") => {
                self.gap = true;
                None
            }
            _ => {
                if sent == 1 && answer.count.is_none() {
                    // A batch of one message (committed at once) answered like a single
                    // publish, or refused.
                    return Some(match answer.error {
                        Some(error) if error.err_code == BATCH_PUBLISH_DISABLED => {
                            Run::end(0, 0, BatchEnd::Unsupported)
                        }
                        Some(error) => first_refused(messages[0], error),
                        None => Run {
                            stored: 1,
                            duplicates: usize::from(answer.duplicate),
                            next: Next::Done,
                        },
                    });
                }
                let Some(count) = answer.count else {
                    // An error response to one message: refused before it joined the batch
                    // (over the stream's max_msg_size; the next message then finds a gap and
                    // ends the batch), or sent after the batch ended (unknown batch id). The
                    // final PubAck is still to come, or was lost (then the wait times out).
                    if let (Some(seq), Some(error)) = (answer.answered, answer.error) {
                        self.refuse(seq, error);
                    }
                    return None;
                };
                let stored = usize::try_from(count).unwrap_or(usize::MAX).min(sent);
                let duplicates = usize::from(answer.duplicate && stored == 1);
                if stored == sent {
                    return Some(Run {
                        stored,
                        duplicates,
                        next: Next::Done,
                    });
                }
                let message = messages[stored];
                let err = match self.refused.take() {
                    Some((seq, error)) if seq == count + 1 => api_error(message, error),
                    _ => broker(
                        message,
                        BatchError::Cut {
                            stored: count,
                            sent: sent as u64,
                            gap: self.gap,
                        },
                    ),
                };
                Some(Run::end(stored, duplicates, BatchEnd::Failed(err)))
            }
        }
    }
}

/// The first message of a batch was refused with `error`: a refusal the relay records, or,
/// for anything else (the server's limit of batches in flight...), one message at a time.
fn first_refused(first: &IntegrationMessage, error: ApiError) -> Run {
    if error.err_code == MESSAGE_EXCEEDS_MAXIMUM {
        Run::end(0, 0, BatchEnd::Failed(api_error(first, error)))
    } else {
        tracing::debug!(error = %error, "the stream refused a fast batch; one at a time");
        Run::end(0, 0, BatchEnd::Unsupported)
    }
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
