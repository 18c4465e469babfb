//! The send loop of a relay round, the same on every backend: the rows a round selected go
//! out in ordered batches where the publisher and the stream take them ([`batched`](super::batched)),
//! otherwise at most [`RelayConfig::max_in_flight`] at once but one message per aggregate at
//! a time (an aggregate's next row only once the broker acknowledged the previous one); a
//! failure holds back the rest of its aggregate, a transient one stops the round. See
//! [`postgres::Relay`](crate::postgres::Relay) for why per-aggregate order survives retries.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use sqlx::{ColumnIndex, Decode, Row, Type};
use uuid::Uuid;

use super::{RelayConfig, RoundReport, batched};
use crate::message::IntegrationMessage;
use crate::publisher::{PublishError, Publisher};
use crate::sql::Error;

/// One outbox row selected by a round.
pub(crate) struct OutboxRow {
    pub(crate) id: i64,
    pub(crate) aggregate_type: String,
    pub(crate) aggregate_id: String,
    /// The message, or why the row cannot be turned into one.
    pub(crate) message: Result<IntegrationMessage, String>,
    /// The row's first failed attempt is older than [`RelayConfig::retry_horizon`].
    pub(crate) past_horizon: bool,
}

impl OutboxRow {
    /// Decodes a row whose columns are `id`, `message_id` (text), `aggregate_type`,
    /// `aggregate_id`, `subject`, `name`, `headers` (JSON text), `payload` (bytes) and
    /// `past_horizon` (bool). Headers that are not `[[name, value], ...]` make a row that
    /// cannot be sent (a refusal), not an error.
    ///
    /// # Errors
    ///
    /// [`Error::Database`]: a column is missing or of another type.
    pub(crate) fn decode<'r, R>(row: &'r R) -> Result<Self, Error>
    where
        R: Row,
        &'static str: ColumnIndex<R>,
        String: Decode<'r, R::Database> + Type<R::Database>,
        &'r str: Decode<'r, R::Database> + Type<R::Database>,
        i64: Decode<'r, R::Database> + Type<R::Database>,
        Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
        bool: Decode<'r, R::Database> + Type<R::Database>,
    {
        let id: i64 = row.try_get("id")?;
        // The id and the headers' JSON are read in place: only what the message keeps is
        // copied (the relay's profile was dominated by allocations, `BENCHMARKS.md`).
        let message_id: &str = row.try_get("message_id")?;
        let subject: String = row.try_get("subject")?;
        let name: String = row.try_get("name")?;
        let headers: &str = row.try_get("headers")?;
        let payload: Vec<u8> = row.try_get("payload")?;
        let message = Uuid::parse_str(message_id)
            .map_err(|e| format!("outbox row {id}: message id {message_id:?} is not a UUID: {e}"))
            .and_then(|message_id| {
                decode_headers(headers)
                    .map(|headers| IntegrationMessage {
                        id: message_id,
                        name,
                        subject,
                        payload: Bytes::from(payload),
                        headers,
                    })
                    .map_err(|e| {
                        format!("outbox row {id}: headers are not [[name, value], ...]: {e}")
                    })
            });
        Ok(Self {
            id,
            aggregate_type: row.try_get("aggregate_type")?,
            aggregate_id: row.try_get("aggregate_id")?,
            message,
            past_horizon: row.try_get("past_horizon")?,
        })
    }
}

/// The headers of an outbox row, `[[name, value], ...]` as JSON, into a vector allocated once
/// for the usual dozen (serde's `Vec` starts empty and grows, JSON arrays give no length).
fn decode_headers(json: &str) -> Result<Vec<(String, String)>, serde_json::Error> {
    struct Headers;
    impl<'de> serde::de::Visitor<'de> for Headers {
        type Value = Vec<(String, String)>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an array of [name, value] pairs")
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            // A size hint comes from the deserializer (serde_json gives none): capped at the
            // expected count, so that no hint makes the relay allocate ahead of the elements.
            let hint = seq.size_hint().unwrap_or(HEADERS_EXPECTED);
            let mut headers = Vec::with_capacity(hint.min(HEADERS_EXPECTED));
            while let Some(header) = seq.next_element()? {
                headers.push(header);
            }
            Ok(headers)
        }
    }
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let headers = serde::Deserializer::deserialize_seq(&mut deserializer, Headers)?;
    // Nothing but whitespace after the array, as `serde_json::from_str` requires.
    deserializer.end()?;
    Ok(headers)
}

/// The headers a message of the generated glue carries: the CloudEvents attributes, the
/// aggregate's id, type and version, the domain event's id (11), and room for a trace context.
const HEADERS_EXPECTED: usize = 16;

impl OutboxRow {
    /// Whether `other` is a row of the same aggregate.
    pub(crate) fn same_aggregate(&self, other: &Self) -> bool {
        self.aggregate_id == other.aggregate_id && self.aggregate_type == other.aggregate_type
    }
}

/// Warns when rows of a batch have been retried for longer than the retry horizon.
pub(crate) fn warn_past_horizon(rows: &[OutboxRow], config: &RelayConfig) {
    let past_horizon = rows.iter().filter(|row| row.past_horizon).count();
    if past_horizon > 0 {
        tracing::warn!(
            rows = past_horizon,
            retry_horizon = ?config.retry_horizon(),
            "rows retried for longer than the retry horizon: if an earlier attempt was \
             stored and only its ack lost, a stream whose duplicate window has passed \
             stores the retry again (consumers deduplicate by ce-id)"
        );
    }
}

/// Sends `rows` (in id order) through `publisher`: the rows below their aggregate's fence
/// (`fences`: per aggregate, the lowest id this round must not send; none on a backend whose
/// batch always holds an aggregate's lowest rows). By ordered batches where the publisher
/// offers them ([`Publisher::batches`]), [`RelayConfig::batch_publish`] is on, published rows
/// are deleted (a batch reports no sequence per message) and the round is not a probe;
/// otherwise, and for what batches cannot take, one in flight per aggregate, at most
/// `config.max_in_flight` in all (1 until the first ack when `probe`). Stops starting new
/// sends after a transient failure.
pub(crate) async fn publish(
    publisher: &dyn Publisher,
    config: &RelayConfig,
    rows: &[OutboxRow],
    fences: &HashMap<(String, String), i64>,
    probe: bool,
) -> Outcome {
    let queues = aggregate_queues(rows, 0..rows.len(), fences);
    let batches = publisher
        .batches()
        .filter(|_| config.batch_publish && config.delete_published && !probe);
    match batches {
        Some(batches) => {
            batched::publish(publisher, batches, config, rows, queues, MIN_BATCH_ROWS).await
        }
        None => one_at_a_time(publisher, config, rows, queues, probe).await,
    }
}

/// The fewest rows of a round going to one stream that are sent there as a batch: a batch
/// costs one round trip more than single publishes (its first message waits for the flow
/// ack), so a short round (the relay keeping up, where latency matters) sends one message per
/// aggregate at a time, as before batches; a backlog's full rounds go in batches.
pub(crate) const MIN_BATCH_ROWS: usize = 32;

/// Per-aggregate queues of the row indexes `indexes` (ascending, so in id order), aggregates
/// in order of their first row; rows at or above their aggregate's fence left out.
pub(crate) fn aggregate_queues(
    rows: &[OutboxRow],
    indexes: impl Iterator<Item = usize>,
    fences: &HashMap<(String, String), i64>,
) -> Vec<VecDeque<usize>> {
    // The fences keyed by borrowed names: no key built (two allocations) per row.
    let fences: HashMap<(&str, &str), i64> = fences
        .iter()
        .map(|((kind, id), fence)| ((kind.as_str(), id.as_str()), *fence))
        .collect();
    let mut queue_of: HashMap<(&str, &str), usize> = HashMap::with_capacity(rows.len());
    let mut queues: Vec<VecDeque<usize>> = Vec::new();
    for index in indexes {
        let row = &rows[index];
        let key = (row.aggregate_type.as_str(), row.aggregate_id.as_str());
        if fences.get(&key).is_some_and(|fence| row.id > *fence) {
            continue;
        }
        let queue = *queue_of.entry(key).or_insert_with(|| {
            queues.push(VecDeque::new());
            queues.len() - 1
        });
        queues[queue].push_back(index);
    }
    queues
}

/// Sends the rows of `queues` (per aggregate, in id order) one message per aggregate at a
/// time, at most `config.max_in_flight` in all (1 until the first ack when `probe`); stops
/// starting new sends after a transient failure.
pub(crate) async fn one_at_a_time(
    publisher: &dyn Publisher,
    config: &RelayConfig,
    rows: &[OutboxRow],
    mut queues: Vec<VecDeque<usize>>,
    probe: bool,
) -> Outcome {
    let mut ready: VecDeque<usize> = (0..queues.len()).collect();
    let mut outcome = Outcome::default();
    let timeout = config.publish_timeout;
    let send = |queue: usize, index: usize| {
        let row = &rows[index];
        async move {
            let result = match &row.message {
                Ok(message) => {
                    match tokio::time::timeout(timeout, publisher.publish(message)).await {
                        Ok(Ok(receipt)) => Ok(Ack {
                            stream: receipt.stream,
                            sequence: receipt.sequence,
                            duplicate: receipt.duplicate,
                        }),
                        Ok(Err(err)) => Err(Failure::of(&err)),
                        Err(_) => Err(Failure {
                            kind: FailureKind::Transient,
                            error: format!("no ack within {timeout:?}"),
                        }),
                    }
                }
                Err(reason) => Err(Failure {
                    kind: FailureKind::Refused,
                    error: reason.clone(),
                }),
            };
            (queue, index, result)
        }
    };
    let mut in_flight = FuturesUnordered::new();
    loop {
        let limit = if probe && outcome.acked.is_empty() {
            1
        } else {
            config.max_in_flight
        };
        while !outcome.halted && in_flight.len() < limit {
            let Some(queue) = ready.pop_front() else {
                break;
            };
            if let Some(index) = queues[queue].pop_front() {
                in_flight.push(send(queue, index));
            }
        }
        let Some((queue, index, result)) = in_flight.next().await else {
            break;
        };
        match result {
            Ok(ack) => {
                outcome.acked.push((index, ack));
                if !queues[queue].is_empty() {
                    ready.push_back(queue);
                }
            }
            Err(failure) => {
                tracing::debug!(outbox_id = rows[index].id, error = %failure.error, "publish failed");
                // The aggregate's later rows must not overtake this one.
                queues[queue].clear();
                if failure.kind.halts() {
                    outcome.halted = true;
                }
                outcome.failed.push((index, failure));
            }
        }
    }
    outcome
}

impl Outcome {
    /// Adds the sends of `other` (other rows of the same round).
    pub(crate) fn merge(&mut self, other: Self) {
        self.acked.extend(other.acked);
        self.failed.extend(other.failed);
        self.halted |= other.halted;
        self.batched += other.batched;
    }

    /// The report of a round that selected `rows` and sent them with this outcome
    /// (`parked` is counted when the failures are recorded).
    pub(crate) fn report(&self, rows: usize) -> RoundReport {
        let mut report = RoundReport {
            selected: rows,
            held_back: rows - self.acked.len() - self.failed.len(),
            failed: self.failed.len(),
            error: self
                .failed
                .first()
                .map(|(_, failure)| failure.error.clone()),
            halted: self.halted,
            batched: self.batched,
            ..RoundReport::default()
        };
        for (_, ack) in &self.acked {
            if ack.duplicate {
                report.duplicates += 1;
            } else {
                report.published += 1;
            }
        }
        report
    }
}

/// A failed attempt as recorded on its row, for [`log_failure`].
pub(crate) struct RecordedFailure {
    pub(crate) id: i64,
    pub(crate) aggregate_type: String,
    pub(crate) aggregate_id: String,
    pub(crate) version: i64,
    pub(crate) refusals: i64,
    pub(crate) error: Option<String>,
    pub(crate) parked: bool,
}

/// Logs a recorded failure: at `error` when it parked its row, at `warn` when it was a
/// refusal; returns whether the row was parked.
pub(crate) fn log_failure(failure: &RecordedFailure, park_after: u32) -> bool {
    let RecordedFailure {
        id,
        aggregate_type,
        aggregate_id,
        version,
        refusals,
        error,
        parked,
    } = failure;
    if *parked {
        tracing::error!(
            outbox_id = id,
            aggregate_type,
            aggregate_id,
            version,
            refusals,
            error = error.as_deref().unwrap_or_default(),
            "outbox row parked: it can never be published as it is; the later rows of \
             its aggregate wait (eventmap-ops outbox list|show|retry|skip)"
        );
    } else if *refusals > 0 {
        tracing::warn!(
            outbox_id = id,
            aggregate_type,
            aggregate_id,
            version,
            refusals,
            park_after,
            error = error.as_deref().unwrap_or_default(),
            "outbox row refused by the broker"
        );
    }
    *parked
}

/// Why a publish of a row failed, as the relay treats it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailureKind {
    /// Timeout or broker failure: retried forever, never parks.
    Transient,
    /// "No responders" ([`PublishError::NoStream`]): no stream binds the subject, or, in a
    /// JetStream cluster, the stream has no leader (an election after its leader's server
    /// died, or no quorum). Every later publish to the stream would get it too. A refusal,
    /// parked only past the grace (`RelayConfig::no_stream_grace`).
    NoStream,
    /// The message can never be published as it is ([`PublishError::is_permanent`], or the
    /// row cannot be read into a message): a refusal.
    Refused,
}

impl FailureKind {
    /// Whether the failure stops the round (no new publish starts; the next round probes):
    /// only a transient failure. A refused message, "no responders" included, holds back only
    /// its own aggregate: "no responders" is answered at once (no timeout is spent), and
    /// halting on it would stop every aggregate, since the next round's probe is the lowest
    /// row, the refused one again, until it is parked past `no_stream_grace` (and again for
    /// each later row on a deleted stream).
    pub(crate) fn halts(self) -> bool {
        matches!(self, Self::Transient)
    }
}

/// A failed publish: its kind and the error text recorded on the row.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) kind: FailureKind,
    pub(crate) error: String,
}

impl Failure {
    pub(crate) fn of(err: &PublishError) -> Self {
        let kind = if matches!(err, PublishError::NoStream { .. }) {
            FailureKind::NoStream
        } else if err.is_permanent() {
            FailureKind::Refused
        } else {
            FailureKind::Transient
        };
        Self {
            kind,
            error: crate::error::error_chain(err),
        }
    }
}

/// A publish the broker acknowledged.
#[derive(Debug)]
pub(crate) struct Ack {
    pub(crate) stream: String,
    pub(crate) sequence: u64,
    pub(crate) duplicate: bool,
}

/// What the sends of a round came to, by row index.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub(crate) acked: Vec<(usize, Ack)>,
    pub(crate) failed: Vec<(usize, Failure)>,
    /// A transient failure stopped the round.
    pub(crate) halted: bool,
    /// Of the acknowledged rows, those sent in ordered batches.
    pub(crate) batched: usize,
}
