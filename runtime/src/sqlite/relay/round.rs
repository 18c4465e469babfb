//! One round of the SQLite relay ([`Relay::run_once`]): read a batch, send it, mark what the
//! broker acknowledged in one write transaction.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use sqlx::Row;
use tracing::Instrument;

use super::Relay;
use crate::sql::relay::send::{
    self, Failure, FailureKind, OutboxRow, Outcome, RecordedFailure, log_failure, warn_past_horizon,
};
use crate::sqlite::schema::NOW;
use crate::sqlite::{Error, RoundReport};

impl Relay {
    /// Runs one round (see [`Relay`]).
    ///
    /// # Errors
    ///
    /// [`Error::Database`]: nothing is marked (rows acknowledged in the round are re-sent
    /// later, as duplicates).
    pub async fn run_once(&self) -> Result<RoundReport, Error> {
        let span = tracing::debug_span!("eventmap.relay.round", file = %self.label);
        async {
            self.counters.rounds.fetch_add(1, Ordering::Relaxed);
            let rows = self.select_batch().await?;
            warn_past_horizon(&rows, &self.config);
            let outcome = if rows.is_empty() {
                Outcome::default()
            } else {
                // No fences: the batch holds each of its aggregates' lowest unpublished rows
                // (ids are drawn in commit order).
                let probe = self.probe.load(Ordering::Relaxed);
                let outcome = send::publish(
                    &*self.publisher,
                    &self.config,
                    &rows,
                    &HashMap::new(),
                    probe,
                )
                .await;
                self.probe.store(outcome.halted, Ordering::Relaxed);
                outcome
            };
            let mut report = outcome.report(rows.len());
            if !outcome.acked.is_empty() || !outcome.failed.is_empty() {
                report.parked = self.mark(&rows, &outcome).await?;
            }
            self.counters.count_round(&self.label, &report);
            Ok(report)
        }
        .instrument(span)
        .await
    }

    /// Step 1: the batch, lowest id first, without parked rows and the rows behind them.
    async fn select_batch(&self) -> Result<Vec<OutboxRow>, Error> {
        let rows = sqlx::query(
            "SELECT id, message_id, aggregate_type, aggregate_id, subject, name, headers, payload, \
             coalesce((julianday('now') - julianday(first_attempt_at)) * 86400.0 > ?, 0) \
               AS past_horizon \
             FROM eventmap_outbox AS o WHERE published_at IS NULL AND parked_at IS NULL \
             AND NOT EXISTS (SELECT 1 FROM eventmap_outbox AS p WHERE p.parked_at IS NOT NULL \
               AND p.published_at IS NULL AND p.aggregate_type = o.aggregate_type \
               AND p.aggregate_id = o.aggregate_id AND p.id < o.id) \
             ORDER BY id LIMIT ?",
        )
        .bind(self.config.retry_horizon().as_secs_f64())
        .bind(i64::from(self.config.batch_size))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(OutboxRow::decode).collect()
    }

    /// Step 3: in one write transaction, deletes (or marks published) the acknowledged rows
    /// and records the failed attempts; returns how many rows were parked.
    async fn mark(&self, rows: &[OutboxRow], outcome: &Outcome) -> Result<usize, Error> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        if self.config.delete_published {
            let ids: Vec<i64> = outcome.acked.iter().map(|(i, _)| rows[*i].id).collect();
            if !ids.is_empty() {
                sqlx::query(
                    "DELETE FROM eventmap_outbox WHERE id IN (SELECT value FROM json_each(?))",
                )
                .bind(serde_json::to_string(&ids).unwrap_or_default())
                .execute(&mut *tx)
                .await?;
            }
        } else {
            for (index, ack) in &outcome.acked {
                sqlx::query(&format!(
                    "UPDATE eventmap_outbox SET published_at = {NOW}, stream = ?, \
                     stream_sequence = ?, attempts = attempts + 1, last_error = NULL WHERE id = ?"
                ))
                .bind(&ack.stream)
                .bind(i64::try_from(ack.sequence).unwrap_or(i64::MAX))
                .bind(rows[*index].id)
                .execute(&mut *tx)
                .await?;
            }
        }
        let mut parked = 0;
        for (index, failure) in &outcome.failed {
            if self
                .record_failure(&mut tx, rows[*index].id, failure)
                .await?
            {
                parked += 1;
            }
        }
        tx.commit().await?;
        Ok(parked)
    }

    /// Records a failed attempt of row `id`: every failure counts in `attempts` and
    /// `last_error`; a refusal also in `refusals`, and parks the row once
    /// [`RelayConfig::park_after`](crate::sqlite::RelayConfig::park_after) is reached (for
    /// "no responders", only past
    /// [`RelayConfig::no_stream_grace`](crate::sqlite::RelayConfig::no_stream_grace)).
    /// Returns whether the row was parked.
    async fn record_failure(
        &self,
        tx: &mut sqlx::SqliteConnection,
        id: i64,
        failure: &Failure,
    ) -> Result<bool, Error> {
        let refused = failure.kind != FailureKind::Transient;
        let grace = match failure.kind {
            FailureKind::NoStream => self.config.no_stream_grace.as_secs_f64(),
            FailureKind::Transient | FailureKind::Refused => 0.0,
        };
        let row = sqlx::query(&format!(
            "UPDATE eventmap_outbox SET attempts = attempts + 1, last_error = ?1, \
             first_attempt_at = coalesce(first_attempt_at, {NOW}), \
             refusals = refusals + ?2, \
             first_refused_at = CASE WHEN ?2 THEN coalesce(first_refused_at, {NOW}) \
               ELSE first_refused_at END, \
             parked_at = CASE WHEN ?2 AND ?4 > 0 AND refusals + 1 >= ?4 \
               AND (julianday('now') - julianday(coalesce(first_refused_at, {NOW}))) * 86400.0 >= ?3 \
               THEN {NOW} END \
             WHERE id = ?5 \
             RETURNING id, aggregate_type, aggregate_id, aggregate_version, refusals, last_error, \
               parked_at IS NOT NULL AS parked"
        ))
        .bind(&failure.error)
        .bind(i64::from(refused))
        .bind(grace)
        .bind(i64::from(self.config.park_after))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        let recorded = RecordedFailure {
            id: row.try_get("id")?,
            aggregate_type: row.try_get("aggregate_type")?,
            aggregate_id: row.try_get("aggregate_id")?,
            version: row.try_get("aggregate_version")?,
            refusals: row.try_get("refusals")?,
            error: row.try_get("last_error")?,
            parked: row.try_get("parked")?,
        };
        Ok(log_failure(&recorded, self.config.park_after))
    }
}
