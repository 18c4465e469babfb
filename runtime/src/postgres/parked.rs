//! [`Outbox`]: the outbox table as an operator sees it: its backlog and the rows parked by
//! the relay because they can never be published as they are (list, show, retry, skip).

use std::time::{Duration, SystemTime};

use sqlx::postgres::{PgPool, PgRow};
use sqlx::{Postgres, Row};
use tracing::Instrument;
use uuid::Uuid;

use super::Error;
use super::schema::Schema;

/// The outbox of one schema, for operations: [`backlog`](Self::backlog) and the parked rows
/// ([`parked`](Self::parked), [`row`](Self::row), [`retry`](Self::retry),
/// [`skip`](Self::skip)).
///
/// A [`Relay`](super::Relay) parks a row after
/// [`RelayConfig::park_after`](super::RelayConfig::park_after) refusals (a message over the
/// server's `max_payload`, an invalid message, no stream for its subject). A parked row is no
/// longer sent, and the later rows of its aggregate wait behind it, so that its aggregate's
/// order is kept; the other aggregates flow. Once the cause is fixed (the server's
/// `max_payload` raised, the stream provisioned), [`retry`](Self::retry) hands the row back to
/// the relays, which publish it and then the rows behind it, in order.
/// [`skip`](Self::skip) gives up on it instead: the row is deleted and returned, and the rows
/// behind it flow (its consumers never see that event).
#[derive(Debug, Clone)]
pub struct Outbox {
    pool: PgPool,
    schema: Schema,
}

/// The outbox's backlog at one moment ([`Outbox::backlog`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutboxBacklog {
    /// Unpublished rows, parked ones and those waiting behind them included.
    pub unpublished: u64,
    /// Parked rows.
    pub parked: u64,
    /// Unpublished rows that wait behind a parked row of their aggregate.
    pub waiting_behind_parked: u64,
    /// Creation time of the oldest unpublished row, if any.
    pub oldest_unpublished: Option<SystemTime>,
}

impl OutboxBacklog {
    /// Age of the oldest unpublished row at `now` (zero without a backlog).
    pub fn oldest_age(&self, now: SystemTime) -> Duration {
        self.oldest_unpublished
            .and_then(|oldest| now.duration_since(oldest).ok())
            .unwrap_or_default()
    }
}

/// One parked outbox row, without its message ([`Outbox::parked`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParkedRow {
    /// Outbox row id (the relay's order: per aggregate, version order).
    pub id: i64,
    /// The message id (`ce-id` and `Nats-Msg-Id`).
    pub message_id: Uuid,
    /// Aggregate type of the domain event.
    pub aggregate_type: String,
    /// Aggregate id.
    pub aggregate_id: String,
    /// Aggregate version of the domain event.
    pub aggregate_version: i64,
    /// Subject it is published on.
    pub subject: String,
    /// Integration event name.
    pub name: String,
    /// Size of the encoded payload, bytes (the headers come on top on the wire).
    pub payload_bytes: u64,
    /// Failed attempts, transient ones included.
    pub attempts: i32,
    /// Attempts the broker refused (see [`RelayConfig::park_after`](super::RelayConfig::park_after)).
    pub refusals: i32,
    /// The error of the last attempt.
    pub last_error: Option<String>,
    /// When the row was written (the transaction of its domain event).
    pub created_at: SystemTime,
    /// When the relay parked it.
    pub parked_at: SystemTime,
    /// Unpublished rows of the same aggregate behind it.
    pub waiting: u64,
}

/// One outbox row with its message ([`Outbox::row`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutboxEntry {
    /// The row as [`Outbox::parked`] lists it (`parked_at` and `waiting` as they are: for a
    /// row that is not parked, see [`Self::parked`]).
    pub row: ParkedRow,
    /// Whether the row is parked.
    pub parked: bool,
    /// When the row was published (rows kept with `delete_published` off), else `None`.
    pub published_at: Option<SystemTime>,
    /// The headers of the message, in order (CloudEvents; `Nats-Msg-Id` is
    /// [`ParkedRow::message_id`]).
    /// (Empty when the stored headers are not `[[name, value], ...]`: see
    /// [`Self::unreadable_headers`].)
    pub headers: Vec<(String, String)>,
    /// The stored headers as JSON text when they are not `[[name, value], ...]` (a corrupt
    /// row, which the relay parks as unreadable), so that it can still be shown and skipped.
    pub unreadable_headers: Option<String>,
    /// The encoded payload (protobuf).
    pub payload: Vec<u8>,
}

/// The columns [`parked_row`] reads, for a query on `{outbox} AS o`.
const ROW_COLUMNS: &str = "o.id, o.message_id, o.aggregate_type, o.aggregate_id, \
     o.aggregate_version, o.subject, o.name, octet_length(o.payload)::bigint AS payload_bytes, \
     o.attempts, o.refusals, o.last_error, extract(epoch FROM o.created_at)::float8 AS created_at, \
     extract(epoch FROM coalesce(o.parked_at, now()))::float8 AS parked_at, \
     o.parked_at IS NOT NULL AS parked, extract(epoch FROM o.published_at)::float8 AS published_at";

impl Outbox {
    /// The outbox of `schema` in `pool`. Runs the embedded migrations (idempotent): the
    /// schema and its tables are created when missing, and an outbox written by an older
    /// eventmap gets the parking columns. For a service's own code; operator tools use
    /// [`open`](Self::open), which never writes.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSchema`], [`Error::Migration`] or [`Error::Database`].
    pub async fn new(pool: PgPool, schema: &str) -> Result<Self, Error> {
        let schema = Schema::new(schema)?;
        schema.migrate(&pool).await?;
        Ok(Self { pool, schema })
    }

    /// The outbox of an existing `schema` in `pool`, without writing anything: the schema
    /// must hold eventmap's tables with every embedded migration applied (as the service's
    /// store or relay leaves it). What `eventmap-ops outbox` uses, so that looking at a
    /// mistyped schema does not create an empty one, and no operator command migrates a
    /// schema behind its service's back.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSchema`]; [`Error::SchemaMissing`] when the schema has no eventmap
    /// tables (it does not exist); [`Error::SchemaOutdated`] when it lacks a migration of
    /// this eventmap; [`Error::Database`].
    pub async fn open(pool: PgPool, schema: &str) -> Result<Self, Error> {
        let schema = Schema::new(schema)?;
        schema.check_current(&pool).await?;
        Ok(Self { pool, schema })
    }

    /// The schema name.
    pub fn schema(&self) -> &str {
        self.schema.name()
    }

    /// Counts the backlog: unpublished rows, parked rows, rows waiting behind them, and the
    /// creation time of the oldest unpublished row.
    ///
    /// # Errors
    ///
    /// [`Error::Database`].
    pub async fn backlog(&self) -> Result<OutboxBacklog, Error> {
        let outbox = &self.schema.outbox;
        let row = sqlx::query(&format!(
            "SELECT count(*) AS unpublished, \
               count(*) FILTER (WHERE o.parked_at IS NOT NULL) AS parked, \
               count(*) FILTER (WHERE o.parked_at IS NULL AND EXISTS (SELECT 1 FROM {outbox} AS p \
                 WHERE p.parked_at IS NOT NULL AND p.published_at IS NULL \
                 AND p.aggregate_type = o.aggregate_type AND p.aggregate_id = o.aggregate_id \
                 AND p.id < o.id)) AS waiting, \
               extract(epoch FROM min(o.created_at))::float8 AS oldest \
             FROM {outbox} AS o WHERE o.published_at IS NULL"
        ))
        .fetch_one(&self.pool)
        .await?;
        let count = |column: &str| -> Result<u64, Error> {
            Ok(u64::try_from(row.try_get::<i64, _>(column)?).unwrap_or_default())
        };
        Ok(OutboxBacklog {
            unpublished: count("unpublished")?,
            parked: count("parked")?,
            waiting_behind_parked: count("waiting")?,
            oldest_unpublished: row.try_get::<Option<f64>, _>("oldest")?.map(from_epoch),
        })
    }

    /// The parked rows, lowest id first, at most `limit`, each with the number of rows of its
    /// aggregate waiting behind it.
    ///
    /// # Errors
    ///
    /// [`Error::Database`].
    pub async fn parked(&self, limit: u32) -> Result<Vec<ParkedRow>, Error> {
        let outbox = &self.schema.outbox;
        let rows = sqlx::query(&format!(
            "SELECT {ROW_COLUMNS}, {WAITING} FROM {outbox} AS o \
             WHERE o.parked_at IS NOT NULL AND o.published_at IS NULL ORDER BY o.id LIMIT $1",
            WAITING = waiting_column(outbox),
        ))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(parked_row).collect()
    }

    /// Outbox row `id` with its headers and payload, parked or not; `None` when there is no
    /// such row (never written, or published and deleted).
    ///
    /// # Errors
    ///
    /// [`Error::Database`]. Headers that are not the JSON the store writes are returned as
    /// [`OutboxEntry::unreadable_headers`], not an error.
    pub async fn row(&self, id: i64) -> Result<Option<OutboxEntry>, Error> {
        let outbox = &self.schema.outbox;
        let row = sqlx::query(&format!(
            "SELECT {ROW_COLUMNS}, {WAITING}, o.headers, o.payload \
             FROM {outbox} AS o WHERE o.id = $1",
            WAITING = waiting_column(outbox),
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let summary = parked_row(&row)?;
        let (headers, unreadable_headers) = read_headers(row.try_get("headers")?);
        Ok(Some(OutboxEntry {
            parked: row.try_get("parked")?,
            published_at: row
                .try_get::<Option<f64>, _>("published_at")?
                .map(from_epoch),
            headers,
            unreadable_headers,
            payload: row.try_get("payload")?,
            row: summary,
        }))
    }

    /// Hands parked rows back to the relays: `ids`, or every parked row when `ids` is `None`.
    /// Their refusals are reset (attempts and last error are kept), so a relay sends each
    /// again at its next round, before the rows of its aggregate that waited behind it. A row
    /// refused again is parked again after [`RelayConfig::park_after`](super::RelayConfig::park_after)
    /// refusals. Returns the ids handed back, in order; ids that are not parked are left
    /// out.
    ///
    /// # Errors
    ///
    /// [`Error::Database`].
    pub async fn retry(&self, ids: Option<&[i64]>) -> Result<Vec<i64>, Error> {
        let span = tracing::info_span!("eventmap.outbox.retry", schema = %self.schema.name());
        async {
            let mut tx = self.pool.begin().await?;
            let retried: Vec<i64> = sqlx::query_scalar(&format!(
                "UPDATE {} SET parked_at = NULL, refusals = 0, first_refused_at = NULL \
                 WHERE parked_at IS NOT NULL AND published_at IS NULL \
                 AND ($1::bigint[] IS NULL OR id = ANY($1)) RETURNING id",
                self.schema.outbox
            ))
            .bind(ids)
            .fetch_all(&mut *tx)
            .await?;
            notify(&mut tx, self.schema.name()).await?;
            tx.commit().await?;
            let mut retried = retried;
            retried.sort_unstable();
            tracing::info!(rows = ?retried, "parked outbox rows handed back to the relays");
            Ok(retried)
        }
        .instrument(span)
        .await
    }

    /// Gives up on parked rows `ids`: deletes them and returns them with their messages (for
    /// the record: print or save them), in id order. The rows of their aggregates that waited
    /// behind them are published next; consumers never get the skipped events. Ids that are
    /// not parked are left out (a row that is not parked is never skipped).
    ///
    /// # Errors
    ///
    /// [`Error::Database`] (nothing is deleted then). A row whose headers are not the JSON the
    /// store writes is skipped too (its headers in [`OutboxEntry::unreadable_headers`]).
    pub async fn skip(&self, ids: &[i64]) -> Result<Vec<OutboxEntry>, Error> {
        let span = tracing::info_span!("eventmap.outbox.skip", schema = %self.schema.name());
        async {
            let mut tx = self.pool.begin().await?;
            let outbox = &self.schema.outbox;
            // Read them first, locked, so that what is returned is what is deleted.
            let rows = sqlx::query(&format!(
                "SELECT {ROW_COLUMNS}, {WAITING}, o.headers, o.payload \
                 FROM {outbox} AS o WHERE o.id = ANY($1) AND o.parked_at IS NOT NULL \
                 AND o.published_at IS NULL ORDER BY o.id FOR UPDATE OF o",
                WAITING = waiting_column(outbox),
            ))
            .bind(ids)
            .fetch_all(&mut *tx)
            .await?;
            let mut skipped = Vec::with_capacity(rows.len());
            for row in &rows {
                let summary = parked_row(row)?;
                let (headers, unreadable_headers) = read_headers(row.try_get("headers")?);
                skipped.push(OutboxEntry {
                    parked: true,
                    published_at: None,
                    headers,
                    unreadable_headers,
                    payload: row.try_get("payload")?,
                    row: summary,
                });
            }
            let deleted: Vec<i64> = skipped.iter().map(|entry| entry.row.id).collect();
            sqlx::query(&format!("DELETE FROM {outbox} WHERE id = ANY($1)"))
                .bind(&deleted)
                .execute(&mut *tx)
                .await?;
            notify(&mut tx, self.schema.name()).await?;
            tx.commit().await?;
            for entry in &skipped {
                tracing::warn!(
                    outbox_id = entry.row.id,
                    message_id = %entry.row.message_id,
                    aggregate_type = entry.row.aggregate_type,
                    aggregate_id = entry.row.aggregate_id,
                    version = entry.row.aggregate_version,
                    name = entry.row.name,
                    "parked outbox row skipped: deleted unpublished"
                );
            }
            Ok(skipped)
        }
        .instrument(span)
        .await
    }
}

/// The stored headers (JSON text) as `[[name, value], ...]`, or, when they are not
/// that (a corrupt row, parked by the relay as unreadable), none and the text as stored.
fn read_headers(text: String) -> (Vec<(String, String)>, Option<String>) {
    match serde_json::from_str(&text) {
        Ok(headers) => (headers, None),
        Err(_) => (Vec::new(), Some(text)),
    }
}

/// The `waiting` column: unpublished rows of the row's aggregate behind it.
fn waiting_column(outbox: &str) -> String {
    format!(
        "(SELECT count(*) FROM {outbox} AS w WHERE w.published_at IS NULL \
         AND w.aggregate_type = o.aggregate_type AND w.aggregate_id = o.aggregate_id \
         AND w.id > o.id) AS waiting"
    )
}

/// Wakes the relays listening on the schema (they pick up retried rows and the rows behind
/// skipped ones at once instead of at their next poll).
async fn notify(tx: &mut sqlx::Transaction<'_, Postgres>, schema: &str) -> Result<(), Error> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(super::schema::NOTIFY_CHANNEL)
        .bind(schema)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A time read as seconds since the Unix epoch (`extract(epoch FROM ...)`: microsecond
/// precision, as PostgreSQL stores it).
fn from_epoch(seconds: f64) -> SystemTime {
    if seconds >= 0.0 {
        SystemTime::UNIX_EPOCH + Duration::from_secs_f64(seconds)
    } else {
        SystemTime::UNIX_EPOCH - Duration::from_secs_f64(-seconds)
    }
}

fn parked_row(row: &PgRow) -> Result<ParkedRow, Error> {
    let time = |column: &str| -> Result<SystemTime, Error> {
        Ok(from_epoch(row.try_get::<f64, _>(column)?))
    };
    Ok(ParkedRow {
        id: row.try_get("id")?,
        message_id: row.try_get("message_id")?,
        aggregate_type: row.try_get("aggregate_type")?,
        aggregate_id: row.try_get("aggregate_id")?,
        aggregate_version: row.try_get("aggregate_version")?,
        subject: row.try_get("subject")?,
        name: row.try_get("name")?,
        payload_bytes: u64::try_from(row.try_get::<i64, _>("payload_bytes")?).unwrap_or_default(),
        attempts: row.try_get("attempts")?,
        refusals: row.try_get("refusals")?,
        last_error: row.try_get("last_error")?,
        created_at: time("created_at")?,
        parked_at: time("parked_at")?,
        waiting: u64::try_from(row.try_get::<i64, _>("waiting")?).unwrap_or_default(),
    })
}
