//! One round of the relay ([`Relay::run_once`](super::Relay::run_once)): lock a batch, fence
//! each aggregate, send one message per aggregate at a time, mark what the broker
//! acknowledged.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use sqlx::Row;
use sqlx::postgres::PgRow;
use tracing::Instrument;
use uuid::Uuid;

use super::{Relay, RoundReport};
use crate::message::IntegrationMessage;
use crate::postgres::Error;
use crate::publisher::{PublishError, Publisher};

/// One locked outbox row.
struct OutboxRow {
    id: i64,
    aggregate_type: String,
    aggregate_id: String,
    /// The message, or why the row cannot be turned into one.
    message: Result<IntegrationMessage, String>,
    past_horizon: bool,
}

/// A round whose batch is locked and fenced ([`Relay::lock_round`]), not sent yet: its
/// transaction holds the row locks.
pub(super) struct LockedRound {
    tx: sqlx::Transaction<'static, sqlx::Postgres>,
    rows: Vec<OutboxRow>,
    fences: HashMap<(String, String), i64>,
    span: tracing::Span,
}

/// A round whose batch has been sent ([`Relay::send_round`]): its transaction still holds the
/// row locks; marking the acknowledged rows and the commit remain
/// ([`Relay::finish_round`]).
pub(super) struct SentRound {
    tx: sqlx::Transaction<'static, sqlx::Postgres>,
    rows: Vec<OutboxRow>,
    outcome: Outcome,
    report: RoundReport,
    span: tracing::Span,
}

impl SentRound {
    /// What the round did, as it will be reported once committed.
    pub(super) fn report(&self) -> &RoundReport {
        &self.report
    }
}

impl Relay {
    /// Runs one round (see [`Relay`]).
    ///
    /// # Errors
    ///
    /// [`Error::Database`]: the round's transaction is rolled back, nothing is marked (rows
    /// acknowledged in it are re-sent later, as duplicates).
    pub async fn run_once(&self) -> Result<RoundReport, Error> {
        let sent = self.send_round().await?;
        self.finish_round(sent).await
    }

    /// Steps 1 to 4 of a round (see [`Relay`]): locks a batch, fences it and sends it; the
    /// transaction stays open, holding the locks, for [`finish_round`](Self::finish_round).
    ///
    /// # Errors
    ///
    /// [`Error::Database`]: the transaction is rolled back (dropped), nothing was sent.
    pub(super) async fn send_round(&self) -> Result<SentRound, Error> {
        let locked = self.lock_round().await?;
        Ok(self.send_locked(locked).await)
    }

    /// Steps 1 and 2 of a round (see [`Relay`]): locks a batch and fences it; the
    /// transaction stays open, holding the locks, for [`send_locked`](Self::send_locked).
    ///
    /// # Errors
    ///
    /// [`Error::Database`]: the transaction is rolled back (dropped), nothing was sent.
    pub(super) async fn lock_round(&self) -> Result<LockedRound, Error> {
        let span = tracing::debug_span!("eventmap.relay.round", schema = %self.schema.name());
        async {
            self.counters.rounds.fetch_add(1, Ordering::Relaxed);
            let mut tx = self.pool.begin().await?;
            // Parked rows, and the rows behind a parked row of their aggregate, are not
            // selected: they would only be held back by the fence, round after round, and fill
            // the batch so that other aggregates' rows never get in.
            // The only good plan is the walk of the partial index in id order, stopping at
            // the batch. Statistics taken while the outbox was nearly empty (a fresh table,
            // or before a burst) make the planner sort the whole backlog instead (a bitmap
            // scan: measured 250 ms for 100,000 rows, per round, at a batch of 1,000).
            sqlx::query("SET LOCAL enable_sort = off")
                .execute(&mut *tx)
                .await?;
            let rows = sqlx::query(&format!(
                "SELECT id, message_id, aggregate_type, aggregate_id, subject, name, \
                 headers::text AS headers, payload, \
                 coalesce(first_attempt_at < now() - make_interval(secs => $2), false) AS past_horizon \
                 FROM {outbox} AS o WHERE published_at IS NULL AND parked_at IS NULL \
                 AND NOT EXISTS (SELECT 1 FROM {outbox} AS p WHERE p.parked_at IS NOT NULL \
                   AND p.published_at IS NULL AND p.aggregate_type = o.aggregate_type \
                   AND p.aggregate_id = o.aggregate_id AND p.id < o.id) \
                 ORDER BY id LIMIT $1 FOR UPDATE OF o SKIP LOCKED",
                outbox = self.schema.outbox
            ))
            .bind(i64::from(self.config.batch_size))
            .bind(self.config.retry_horizon().as_secs_f64())
            .fetch_all(&mut *tx)
            .await?;
            let rows: Vec<OutboxRow> = rows.iter().map(outbox_row).collect::<Result<_, _>>()?;
            let past_horizon = rows.iter().filter(|row| row.past_horizon).count();
            if past_horizon > 0 {
                tracing::warn!(
                    rows = past_horizon,
                    retry_horizon = ?self.config.retry_horizon(),
                    "rows retried for longer than the retry horizon: if an earlier attempt was \
                     stored and only its ack lost, a stream whose duplicate window has passed \
                     stores the retry again (consumers deduplicate by ce-id)"
                );
            }
            let fences = if rows.is_empty() {
                HashMap::new()
            } else {
                self.fences(&mut tx, &rows).await?
            };
            Ok(LockedRound {
                tx,
                rows,
                fences,
                span: tracing::Span::current(),
            })
        }
        .instrument(span)
        .await
    }

    /// Steps 3 and 4 of a round (see [`Relay`]): sends the batch `locked` holds; the
    /// transaction stays open for [`finish_round`](Self::finish_round).
    pub(super) async fn send_locked(&self, locked: LockedRound) -> SentRound {
        let LockedRound {
            tx,
            rows,
            fences,
            span,
        } = locked;
        let mut report = RoundReport {
            selected: rows.len(),
            ..RoundReport::default()
        };
        let outcome = if rows.is_empty() {
            Outcome::default()
        } else {
            let outcome = self
                .publish(&rows, &fences, self.probe.load(Ordering::Relaxed))
                .instrument(span.clone())
                .await;
            self.probe.store(outcome.halted, Ordering::Relaxed);
            outcome
        };
        report.held_back = rows.len() - outcome.acked.len() - outcome.failed.len();
        report.failed = outcome.failed.len();
        report.error = outcome
            .failed
            .first()
            .map(|(_, failure)| failure.error.clone());
        report.halted = outcome.halted;
        for (_, ack) in &outcome.acked {
            if ack.duplicate {
                report.duplicates += 1;
            } else {
                report.published += 1;
            }
        }
        SentRound {
            tx,
            rows,
            outcome,
            report,
            span,
        }
    }

    /// Step 5 of a round (see [`Relay`]): marks the acknowledged rows of `sent` published,
    /// records the failed attempts, commits, and counts the round in the stats.
    ///
    /// # Errors
    ///
    /// [`Error::Database`]: the transaction is rolled back, nothing is marked (rows
    /// acknowledged in it are re-sent later, as duplicates).
    pub(super) async fn finish_round(&self, sent: SentRound) -> Result<RoundReport, Error> {
        let SentRound {
            mut tx,
            rows,
            outcome,
            report,
            span,
        } = sent;
        async {
            if !outcome.acked.is_empty() && self.config.delete_published {
                let ids: Vec<i64> = outcome.acked.iter().map(|(i, _)| rows[*i].id).collect();
                sqlx::query(&format!(
                    "DELETE FROM {} WHERE id = ANY($1)",
                    self.schema.outbox
                ))
                .bind(&ids)
                .execute(&mut *tx)
                .await?;
            } else if !outcome.acked.is_empty() {
                let mut ids = Vec::with_capacity(outcome.acked.len());
                let mut streams = Vec::with_capacity(outcome.acked.len());
                let mut sequences = Vec::with_capacity(outcome.acked.len());
                for (index, ack) in &outcome.acked {
                    ids.push(rows[*index].id);
                    streams.push(ack.stream.as_str());
                    sequences.push(i64::try_from(ack.sequence).unwrap_or(i64::MAX));
                }
                sqlx::query(&format!(
                    "UPDATE {} AS o SET published_at = now(), stream = x.stream, \
                     stream_sequence = x.seq, attempts = o.attempts + 1, last_error = NULL \
                     FROM unnest($1::bigint[], $2::text[], $3::bigint[]) AS x(id, stream, seq) \
                     WHERE o.id = x.id",
                    self.schema.outbox
                ))
                .bind(&ids)
                .bind(&streams)
                .bind(&sequences)
                .execute(&mut *tx)
                .await?;
            }
            let mut report = report;
            if !outcome.failed.is_empty() {
                report.parked = self
                    .record_failures(&mut tx, &rows, &outcome.failed)
                    .await?;
            }
            tx.commit().await?;

            let c = &self.counters;
            c.published
                .fetch_add(report.published as u64, Ordering::Relaxed);
            c.duplicates
                .fetch_add(report.duplicates as u64, Ordering::Relaxed);
            c.failures
                .fetch_add(report.failed as u64, Ordering::Relaxed);
            c.parked.fetch_add(report.parked as u64, Ordering::Relaxed);
            crate::metrics::relay_round(self.schema.name(), report.published, report.failed);
            if report.selected > 0 {
                tracing::debug!(
                    selected = report.selected,
                    published = report.published,
                    duplicates = report.duplicates,
                    failed = report.failed,
                    parked = report.parked,
                    held_back = report.held_back,
                    "round done"
                );
            }
            Ok(report)
        }
        .instrument(span)
        .await
    }

    /// Records the failed attempts of a round: every failure counts in `attempts` and
    /// `last_error`; a refusal also in `refusals`, and parks the row once
    /// [`RelayConfig::park_after`](super::RelayConfig::park_after) is reached (for "no
    /// responders", only past [`RelayConfig::no_stream_grace`](super::RelayConfig::no_stream_grace)).
    /// Returns how many rows were parked.
    async fn record_failures(
        &self,
        tx: &mut sqlx::PgConnection,
        rows: &[OutboxRow],
        failed: &[(usize, Failure)],
    ) -> Result<usize, Error> {
        let mut ids = Vec::with_capacity(failed.len());
        let mut errors = Vec::with_capacity(failed.len());
        let mut refused = Vec::with_capacity(failed.len());
        let mut graces = Vec::with_capacity(failed.len());
        for (index, failure) in failed {
            ids.push(rows[*index].id);
            errors.push(failure.error.as_str());
            refused.push(failure.kind != FailureKind::Transient);
            graces.push(match failure.kind {
                FailureKind::NoStream => self.config.no_stream_grace.as_secs_f64(),
                FailureKind::Transient | FailureKind::Refused => 0.0,
            });
        }
        let recorded = sqlx::query(&format!(
            "UPDATE {} AS o SET attempts = o.attempts + 1, last_error = x.error, \
             first_attempt_at = coalesce(o.first_attempt_at, now()), \
             refusals = o.refusals + CASE WHEN x.refused THEN 1 ELSE 0 END, \
             first_refused_at = CASE WHEN x.refused THEN coalesce(o.first_refused_at, now()) \
               ELSE o.first_refused_at END, \
             parked_at = CASE WHEN x.refused AND $5 > 0 AND o.refusals + 1 >= $5 \
               AND coalesce(o.first_refused_at, now()) <= now() - make_interval(secs => x.grace) \
               THEN now() END \
             FROM unnest($1::bigint[], $2::text[], $3::bool[], $4::float8[]) \
               AS x(id, error, refused, grace) \
             WHERE o.id = x.id \
             RETURNING o.id, o.aggregate_type, o.aggregate_id, o.aggregate_version, o.refusals, \
               o.last_error, o.parked_at IS NOT NULL AS parked",
            self.schema.outbox
        ))
        .bind(&ids)
        .bind(&errors)
        .bind(&refused)
        .bind(&graces)
        .bind(i32::try_from(self.config.park_after).unwrap_or(i32::MAX))
        .fetch_all(&mut *tx)
        .await?;
        let mut parked = 0;
        for row in &recorded {
            let id: i64 = row.try_get("id")?;
            let aggregate_type: String = row.try_get("aggregate_type")?;
            let aggregate_id: String = row.try_get("aggregate_id")?;
            let version: i64 = row.try_get("aggregate_version")?;
            let refusals: i32 = row.try_get("refusals")?;
            let error: Option<String> = row.try_get("last_error")?;
            if row.try_get::<bool, _>("parked")? {
                parked += 1;
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
            } else if refusals > 0 {
                tracing::warn!(
                    outbox_id = id,
                    aggregate_type,
                    aggregate_id,
                    version,
                    refusals,
                    park_after = self.config.park_after,
                    error = error.as_deref().unwrap_or_default(),
                    "outbox row refused by the broker"
                );
            }
        }
        Ok(parked)
    }

    /// For each aggregate of `rows`: the lowest id of its unpublished rows that this round
    /// did not lock. This round's rows of the aggregate at or above it must not be sent.
    async fn fences(
        &self,
        tx: &mut sqlx::PgConnection,
        rows: &[OutboxRow],
    ) -> Result<HashMap<(String, String), i64>, Error> {
        let mut types = Vec::new();
        let mut ids = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for row in rows {
            if seen.insert((row.aggregate_type.as_str(), row.aggregate_id.as_str())) {
                types.push(row.aggregate_type.as_str());
                ids.push(row.aggregate_id.as_str());
            }
        }
        let locked: Vec<i64> = rows.iter().map(|row| row.id).collect();
        let fences = sqlx::query(&format!(
            "SELECT o.aggregate_type, o.aggregate_id, min(o.id) AS fence FROM {} AS o \
             JOIN unnest($1::text[], $2::text[]) AS k(t, a) \
               ON o.aggregate_type = k.t AND o.aggregate_id = k.a \
             WHERE o.published_at IS NULL AND o.id NOT IN (SELECT unnest($3::bigint[])) \
             GROUP BY o.aggregate_type, o.aggregate_id",
            self.schema.outbox
        ))
        .bind(&types)
        .bind(&ids)
        .bind(&locked)
        .fetch_all(&mut *tx)
        .await?;
        fences
            .iter()
            .map(|row| {
                Ok((
                    (row.try_get("aggregate_type")?, row.try_get("aggregate_id")?),
                    row.try_get("fence")?,
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Error::from)
    }

    /// Sends the rows below their fences, one in flight per aggregate, at most
    /// `max_in_flight` in all (1 until the first ack when `probe`); stops starting new sends
    /// after a transient failure.
    async fn publish(
        &self,
        rows: &[OutboxRow],
        fences: &HashMap<(String, String), i64>,
        probe: bool,
    ) -> Outcome {
        // Per-aggregate queues of row indexes, in id order; aggregates in order of their
        // first row.
        let mut queue_of: HashMap<(&str, &str), usize> = HashMap::new();
        let mut queues: Vec<VecDeque<usize>> = Vec::new();
        for (index, row) in rows.iter().enumerate() {
            let key = (row.aggregate_type.as_str(), row.aggregate_id.as_str());
            let fence = fences
                .get(&(row.aggregate_type.clone(), row.aggregate_id.clone()))
                .copied();
            if fence.is_some_and(|fence| row.id > fence) {
                continue;
            }
            let queue = *queue_of.entry(key).or_insert_with(|| {
                queues.push(VecDeque::new());
                queues.len() - 1
            });
            queues[queue].push_back(index);
        }
        let mut ready: VecDeque<usize> = (0..queues.len()).collect();
        let mut outcome = Outcome::default();
        let timeout = self.config.publish_timeout;
        let publisher = &self.publisher;
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
                self.config.max_in_flight
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
}

/// Why a publish of a row failed, as the relay treats it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FailureKind {
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
    fn halts(self) -> bool {
        matches!(self, Self::Transient)
    }
}

/// A failed publish: its kind and the error text recorded on the row.
#[derive(Debug)]
struct Failure {
    kind: FailureKind,
    error: String,
}

impl Failure {
    fn of(err: &PublishError) -> Self {
        let kind = if matches!(err, PublishError::NoStream { .. }) {
            FailureKind::NoStream
        } else if err.is_permanent() {
            FailureKind::Refused
        } else {
            FailureKind::Transient
        };
        Self {
            kind,
            error: err.to_string(),
        }
    }
}

#[derive(Debug)]
struct Ack {
    stream: String,
    sequence: u64,
    duplicate: bool,
}

#[derive(Debug, Default)]
struct Outcome {
    acked: Vec<(usize, Ack)>,
    failed: Vec<(usize, Failure)>,
    /// A transient failure stopped the round.
    halted: bool,
}

fn outbox_row(row: &PgRow) -> Result<OutboxRow, Error> {
    let id: i64 = row.try_get("id")?;
    let message_id: Uuid = row.try_get("message_id")?;
    let subject: String = row.try_get("subject")?;
    let name: String = row.try_get("name")?;
    let headers: String = row.try_get("headers")?;
    let payload: Vec<u8> = row.try_get("payload")?;
    let message = serde_json::from_str::<Vec<(String, String)>>(&headers)
        .map(|headers| IntegrationMessage {
            id: message_id,
            name,
            subject,
            payload: Bytes::from(payload),
            headers,
        })
        .map_err(|e| format!("outbox row {id}: headers are not [[name, value], ...]: {e}"));
    Ok(OutboxRow {
        id,
        aggregate_type: row.try_get("aggregate_type")?,
        aggregate_id: row.try_get("aggregate_id")?,
        message,
        past_horizon: row.try_get("past_horizon")?,
    })
}
