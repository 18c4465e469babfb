//! One round of the relay ([`Relay::run_once`](super::Relay::run_once)): lock a batch, fence
//! each aggregate, send one message per aggregate at a time, mark what the broker
//! acknowledged.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use sqlx::Row;
use tracing::Instrument;

use super::{Relay, RoundReport};
use crate::postgres::Error;
use crate::sql::relay::send::{
    self, Failure, FailureKind, OutboxRow, Outcome, RecordedFailure, log_failure, warn_past_horizon,
};

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

impl LockedRound {
    /// The highest id the round locked (rows are selected in id order); none when it found
    /// nothing.
    pub(super) fn last_id(&self) -> Option<i64> {
        self.rows.last().map(|row| row.id)
    }
}

impl SentRound {
    /// What the round did, as it will be reported once committed.
    pub(super) fn report(&self) -> &RoundReport {
        &self.report
    }
}

/// What the fence query needs of a round's locked rows: each aggregate once (type and id,
/// in the order of their first row) and every id locked.
struct FenceKeys {
    types: Vec<String>,
    ids: Vec<String>,
    locked: Vec<i64>,
}

impl FenceKeys {
    /// The keys of `rows` (the round's select: columns `id`, `aggregate_type`,
    /// `aggregate_id`).
    ///
    /// # Errors
    ///
    /// [`Error::Database`]: a column is missing or of another type.
    fn of(rows: &[sqlx::postgres::PgRow]) -> Result<Self, Error> {
        let mut keys = Self {
            types: Vec::new(),
            ids: Vec::new(),
            locked: Vec::with_capacity(rows.len()),
        };
        let mut seen = std::collections::HashSet::with_capacity(rows.len());
        for row in rows {
            let kind: &str = row.try_get("aggregate_type")?;
            let id: &str = row.try_get("aggregate_id")?;
            keys.locked.push(row.try_get("id")?);
            if seen.insert((kind, id)) {
                keys.types.push(kind.to_owned());
                keys.ids.push(id.to_owned());
            }
        }
        Ok(keys)
    }
}

/// Decodes the selected rows ([`OutboxRow::decode`]) on a blocking thread, and frees
/// sqlx's rows there: it is the relay's biggest CPU cost after the NATS headers (the headers'
/// JSON, an owned copy of each string), and on the relay's own thread it delayed the send
/// of the round before, which runs meanwhile (`BENCHMARKS.md`, "Outbox relay"). On a
/// current-thread runtime, as `eventmap-relay` runs, this is the only way the two overlap.
///
/// # Errors
///
/// [`Error::Database`] from a column ([`OutboxRow::decode`]); [`Error::RelayPanicked`] when
/// the runtime shut down before the decoding ran. A panic of the decoding (a bug: no row
/// content panics it) goes on in the relay's task, as when it decoded there.
async fn decode_rows(rows: Vec<sqlx::postgres::PgRow>) -> Result<Vec<OutboxRow>, Error> {
    match tokio::task::spawn_blocking(move || rows.iter().map(OutboxRow::decode).collect()).await {
        Ok(decoded) => decoded,
        Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
        Err(_) => Err(Error::RelayPanicked {
            message: "the runtime shut down while a round's rows were decoded".to_owned(),
        }),
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
        let locked = self.lock_round(0).await?;
        Ok(self.send_locked(locked).await)
    }

    /// Steps 1 and 2 of a round (see [`Relay`]): locks a batch of rows with ids above
    /// `start_after` (0: from the first) and fences it; the transaction stays open, holding
    /// the locks, for [`send_locked`](Self::send_locked).
    ///
    /// # Errors
    ///
    /// [`Error::Database`]: the transaction is rolled back (dropped), nothing was sent.
    pub(super) async fn lock_round(&self, start_after: i64) -> Result<LockedRound, Error> {
        let span = tracing::debug_span!("eventmap.relay.round", schema = %self.schema.name());
        async {
            self.counters.rounds.fetch_add(1, Ordering::Relaxed);
            // The plan is kept generic: `LIMIT $1` makes PostgreSQL's generic plan look
            // dearer than a custom one, so it would plan the query again every round (0.3 ms
            // warm, 1.7 ms cold, measured with `EXPLAIN ANALYZE EXECUTE` on a 100,000-row
            // outbox) for the same index walk. Both settings in one round trip, inside the
            // transaction (a failure there rolls it back when it is dropped; a failed
            // statement in a custom `BEGIN` would leave the connection in an aborted
            // transaction in the pool).
            let mut tx = self.pool.begin().await?;
            sqlx::query(
                "SELECT set_config('enable_sort', 'off', true), \
                 set_config('plan_cache_mode', 'force_generic_plan', true)",
            )
            .execute(&mut *tx)
            .await?;
            // Parked rows, and the rows behind a parked row of their aggregate, are not
            // selected: they would only be held back by the fence, round after round, and fill
            // the batch so that other aggregates' rows never get in.
            // The only good plan is the walk of the partial index in id order, stopping at
            // the batch (hence `enable_sort = off` above). Statistics taken while the outbox
            // was nearly empty (a fresh table, or before a burst) make the planner sort the
            // whole backlog instead (a bitmap scan: measured 250 ms for 100,000 rows, per
            // round, at a batch of 1,000). The walk starts past `start_after`.
            let rows = sqlx::query(&format!(
                "SELECT id, message_id::text AS message_id, aggregate_type, aggregate_id, subject, name, \
                 headers, payload, \
                 coalesce(first_attempt_at < now() - make_interval(secs => $2), false) AS past_horizon \
                 FROM {outbox} AS o WHERE published_at IS NULL AND parked_at IS NULL AND o.id > $3 \
                 AND NOT EXISTS (SELECT 1 FROM {outbox} AS p WHERE p.parked_at IS NOT NULL \
                   AND p.published_at IS NULL AND p.aggregate_type = o.aggregate_type \
                   AND p.aggregate_id = o.aggregate_id AND p.id < o.id) \
                 ORDER BY id LIMIT $1 FOR UPDATE OF o SKIP LOCKED",
                outbox = self.schema.outbox
            ))
            .bind(i64::from(self.config.batch_size))
            .bind(self.config.retry_horizon().as_secs_f64())
            .bind(start_after)
            .fetch_all(&mut *tx)
            .await?;
            // The fences are asked for while the rows are decoded (on another thread).
            let (rows, fences) = if rows.is_empty() {
                (Vec::new(), HashMap::new())
            } else {
                let keys = FenceKeys::of(&rows)?;
                let (rows, fences) = tokio::join!(decode_rows(rows), self.fences(&mut tx, &keys));
                (rows?, fences?)
            };
            warn_past_horizon(&rows, &self.config);
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
        let outcome = if rows.is_empty() {
            Outcome::default()
        } else {
            let probe = self.probe.load(Ordering::Relaxed);
            let outcome = send::publish(&*self.publisher, &self.config, &rows, &fences, probe)
                .instrument(span.clone())
                .await;
            self.probe.store(outcome.halted, Ordering::Relaxed);
            outcome
        };
        let report = outcome.report(rows.len());
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

            self.counters.count_round(self.schema.name(), &report);
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
            let failure = RecordedFailure {
                id: row.try_get("id")?,
                aggregate_type: row.try_get("aggregate_type")?,
                aggregate_id: row.try_get("aggregate_id")?,
                version: row.try_get("aggregate_version")?,
                refusals: i64::from(row.try_get::<i32, _>("refusals")?),
                error: row.try_get("last_error")?,
                parked: row.try_get("parked")?,
            };
            if log_failure(&failure, self.config.park_after) {
                parked += 1;
            }
        }
        Ok(parked)
    }

    /// For each aggregate of the round (`keys`): the lowest id of its unpublished rows that
    /// this round did not lock. This round's rows of the aggregate at or above it must not be
    /// sent.
    async fn fences(
        &self,
        tx: &mut sqlx::PgConnection,
        keys: &FenceKeys,
    ) -> Result<HashMap<(String, String), i64>, Error> {
        let FenceKeys { types, ids, locked } = keys;
        let fences = sqlx::query(&format!(
            "SELECT o.aggregate_type, o.aggregate_id, min(o.id) AS fence FROM {} AS o \
             JOIN unnest($1::text[], $2::text[]) AS k(t, a) \
               ON o.aggregate_type = k.t AND o.aggregate_id = k.a \
             WHERE o.published_at IS NULL AND o.id NOT IN (SELECT unnest($3::bigint[])) \
             GROUP BY o.aggregate_type, o.aggregate_id",
            self.schema.outbox
        ))
        .bind(types)
        .bind(ids)
        .bind(locked)
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
}
