//! `eventmap-ops outbox`: the outbox's backlog and the rows the relay parked because the
//! broker refused them (list, show, retry, skip), through [`eventmap::postgres::Outbox`].

use std::io::Write;
use std::process::ExitCode;
use std::time::SystemTime;

use eventmap::postgres::{DEFAULT_SCHEMA, Outbox, OutboxBacklog, OutboxEntry, ParkedRow};
use serde::Serialize;

use crate::OpsError;
use crate::confirm::confirm;
use crate::output::{Report, age, one_line, print, table};
use crate::session::Session;

/// `eventmap-ops outbox ...`.
#[derive(Debug, clap::Subcommand)]
pub enum OutboxCommand {
    /// The backlog (unpublished rows, parked rows, rows waiting behind them, oldest age) and
    /// the parked rows, lowest id first
    List {
        /// The outbox's schema
        #[arg(long, env = "EVENTMAP_SCHEMA", default_value = DEFAULT_SCHEMA)]
        schema: String,
        /// Parked rows shown at most
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// One outbox row: its headers, attempts and last error, and its payload decoded to JSON
    /// with the table's descriptors (hex when it does not decode)
    Show {
        /// The outbox's schema
        #[arg(long, env = "EVENTMAP_SCHEMA", default_value = DEFAULT_SCHEMA)]
        schema: String,
        /// Outbox row id (from `list`)
        id: i64,
    },
    /// Hand parked rows back to the relays once the cause is fixed (max_payload raised,
    /// stream provisioned): each is sent at the next round, then the rows that waited behind
    /// it, in order; a row refused again is parked again
    Retry {
        /// The outbox's schema
        #[arg(long, env = "EVENTMAP_SCHEMA", default_value = DEFAULT_SCHEMA)]
        schema: String,
        /// Parked row ids
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        ids: Vec<i64>,
        /// Every parked row
        #[arg(long)]
        all: bool,
    },
    /// Give up on parked rows: they are deleted unpublished (printed in full first, for the
    /// record) and the rows behind them flow; consumers never get those events
    Skip {
        /// The outbox's schema
        #[arg(long, env = "EVENTMAP_SCHEMA", default_value = DEFAULT_SCHEMA)]
        schema: String,
        /// Parked row ids
        #[arg(required = true)]
        ids: Vec<i64>,
        /// Do not ask for confirmation (required when stdin is not a terminal)
        #[arg(long)]
        yes: bool,
    },
}

/// Runs an `outbox` subcommand.
///
/// # Errors
///
/// [`OpsError`]; [`OpsError::Refused`] for an unknown row or a refused confirmation.
pub async fn run(session: &Session, command: OutboxCommand) -> Result<ExitCode, OpsError> {
    match command {
        OutboxCommand::List { schema, limit } => {
            let outbox = open(session, &schema).await?;
            let report = list(&outbox, limit).await?;
            print(session.format, &report)?;
        }
        OutboxCommand::Show { schema, id } => {
            let outbox = open(session, &schema).await?;
            let entry =
                outbox.row(id).await.map_err(database)?.ok_or_else(|| {
                    OpsError::Refused(format!("no outbox row {id} in `{schema}`"))
                })?;
            print(session.format, &Shown::new(session, &entry).await)?;
        }
        OutboxCommand::Retry { schema, ids, all } => {
            let outbox = open(session, &schema).await?;
            let retried = outbox
                .retry((!all).then_some(ids.as_slice()))
                .await
                .map_err(database)?;
            let missing: Vec<i64> = ids
                .iter()
                .copied()
                .filter(|id| !retried.contains(id))
                .collect();
            print(
                session.format,
                &Retried {
                    retried,
                    not_parked: missing.clone(),
                },
            )?;
            if !missing.is_empty() {
                return Ok(ExitCode::from(1));
            }
        }
        OutboxCommand::Skip { schema, ids, yes } => {
            let outbox = open(session, &schema).await?;
            if !yes {
                confirm(&format!(
                    "skip (delete unpublished) {} parked outbox row(s) {ids:?} in `{schema}`?",
                    ids.len()
                ))?;
            }
            let skipped = outbox.skip(&ids).await.map_err(database)?;
            let mut shown = Vec::with_capacity(skipped.len());
            for entry in &skipped {
                shown.push(Shown::new(session, entry).await);
            }
            let missing: Vec<i64> = ids
                .iter()
                .copied()
                .filter(|id| !skipped.iter().any(|entry| entry.row.id == *id))
                .collect();
            print(
                session.format,
                &Skipped {
                    skipped: shown,
                    not_parked: missing.clone(),
                },
            )?;
            if !missing.is_empty() {
                return Ok(ExitCode::from(1));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The outbox of `schema`, which must exist with eventmap's tables: no subcommand creates
/// or migrates it (reading a mistyped schema must not create an empty one).
async fn open(session: &Session, schema: &str) -> Result<Outbox, OpsError> {
    Outbox::open(session.pool().await?.clone(), schema)
        .await
        .map_err(|err| session.schema_error(err, database))
}

fn database(err: eventmap::postgres::Error) -> OpsError {
    OpsError::Outbox(err)
}

/// `outbox list`: the backlog and the parked rows.
#[derive(Debug, Serialize)]
pub struct Listed {
    /// The outbox's schema.
    pub schema: String,
    /// The backlog.
    pub backlog: Backlog,
    /// The parked rows.
    pub parked: Vec<Parked>,
}

/// [`OutboxBacklog`] for output.
#[derive(Debug, Serialize)]
pub struct Backlog {
    /// Unpublished rows (parked and waiting ones included).
    pub unpublished: u64,
    /// Parked rows.
    pub parked: u64,
    /// Rows waiting behind a parked row of their aggregate.
    pub waiting_behind_parked: u64,
    /// Age of the oldest unpublished row, seconds.
    pub oldest_age_secs: u64,
}

impl From<&OutboxBacklog> for Backlog {
    fn from(backlog: &OutboxBacklog) -> Self {
        Self {
            unpublished: backlog.unpublished,
            parked: backlog.parked,
            waiting_behind_parked: backlog.waiting_behind_parked,
            oldest_age_secs: backlog.oldest_age(SystemTime::now()).as_secs(),
        }
    }
}

/// [`ParkedRow`] for output (times in RFC 3339).
#[derive(Debug, Serialize)]
pub struct Parked {
    /// Outbox row id.
    pub id: i64,
    /// `ce-id`.
    pub message_id: String,
    /// Aggregate type.
    pub aggregate_type: String,
    /// Aggregate id.
    pub aggregate_id: String,
    /// Aggregate version.
    pub version: i64,
    /// Integration event name.
    pub event: String,
    /// Subject.
    pub subject: String,
    /// Payload size, bytes.
    pub payload_bytes: u64,
    /// Failed attempts.
    pub attempts: i32,
    /// Refused attempts.
    pub refusals: i32,
    /// Last error.
    pub last_error: Option<String>,
    /// When written.
    pub created_at: String,
    /// When parked (for a row that is not parked: now).
    pub parked_at: String,
    /// Rows of its aggregate waiting behind it.
    pub waiting: u64,
}

impl From<&ParkedRow> for Parked {
    fn from(row: &ParkedRow) -> Self {
        Self {
            id: row.id,
            message_id: row.message_id.to_string(),
            aggregate_type: row.aggregate_type.clone(),
            aggregate_id: row.aggregate_id.clone(),
            version: row.aggregate_version,
            event: row.name.clone(),
            subject: row.subject.clone(),
            payload_bytes: row.payload_bytes,
            attempts: row.attempts,
            refusals: row.refusals,
            last_error: row.last_error.clone(),
            created_at: humantime::format_rfc3339_seconds(row.created_at).to_string(),
            parked_at: humantime::format_rfc3339_seconds(row.parked_at).to_string(),
            waiting: row.waiting,
        }
    }
}

/// Reads the backlog and up to `limit` parked rows.
///
/// # Errors
///
/// [`OpsError::Outbox`].
pub async fn list(outbox: &Outbox, limit: u32) -> Result<Listed, OpsError> {
    let backlog = outbox.backlog().await.map_err(database)?;
    let parked = outbox.parked(limit).await.map_err(database)?;
    Ok(Listed {
        schema: outbox.schema().to_owned(),
        backlog: Backlog::from(&backlog),
        parked: parked.iter().map(Parked::from).collect(),
    })
}

impl Report for Listed {
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let b = &self.backlog;
        writeln!(
            out,
            "outbox `{}`: {} unpublished (oldest {}), {} parked, {} waiting behind them",
            self.schema,
            b.unpublished,
            age(b.oldest_age_secs),
            b.parked,
            b.waiting_behind_parked
        )?;
        if self.parked.is_empty() {
            return Ok(());
        }
        let rows = self
            .parked
            .iter()
            .map(|row| {
                vec![
                    row.id.to_string(),
                    format!("{} {}", row.aggregate_type, row.aggregate_id),
                    row.version.to_string(),
                    row.event.clone(),
                    row.payload_bytes.to_string(),
                    row.refusals.to_string(),
                    row.waiting.to_string(),
                    row.last_error.clone().unwrap_or_default(),
                ]
            })
            .collect();
        out.write_all(
            table(
                &[
                    "ID",
                    "AGGREGATE",
                    "VERSION",
                    "EVENT",
                    "BYTES",
                    "REFUSALS",
                    "WAITING",
                    "ERROR",
                ],
                &[0, 2, 4, 5, 6],
                rows,
            )
            .as_bytes(),
        )?;
        Ok(())
    }
}

/// One row in full (`show`, and each row `skip` deleted).
#[derive(Debug, Serialize)]
pub struct Shown {
    /// The row.
    #[serde(flatten)]
    pub row: Parked,
    /// Whether it is parked.
    pub is_parked: bool,
    /// When published (kept rows only).
    pub published_at: Option<String>,
    /// The headers, in order.
    pub headers: Vec<(String, String)>,
    /// The stored headers, as JSON text, when they are not `[[name, value], ...]` (a corrupt
    /// row).
    pub unreadable_headers: Option<String>,
    /// The payload decoded to JSON (proto3 JSON mapping), when the table knows its type and
    /// it decodes.
    pub payload: Option<serde_json::Value>,
    /// The payload in hex, when it was not decoded.
    pub payload_hex: Option<String>,
    /// Why it was not decoded.
    pub payload_error: Option<String>,
}

impl Shown {
    async fn new(session: &Session, entry: &OutboxEntry) -> Self {
        let ce_type = entry
            .headers
            .iter()
            .find(|(name, _)| name == eventmap::message::headers::TYPE)
            .map_or(entry.row.name.as_str(), |(_, value)| value.as_str());
        let decoded = match session.service().await {
            Ok(service) => match service.message(ce_type) {
                Some(descriptor) => {
                    prost_reflect::DynamicMessage::decode(descriptor, entry.payload.as_slice())
                        .map_err(|e| format!("not a `{ce_type}` message: {e}"))
                        .and_then(|message| {
                            serde_json::to_value(&message).map_err(|e| e.to_string())
                        })
                }
                None => Err(format!("the table has no event `{ce_type}`")),
            },
            Err(err) => Err(crate::error_chain(&err)),
        };
        let (payload, payload_hex, payload_error) = match decoded {
            Ok(json) => (Some(json), None, None),
            Err(error) => (
                None,
                Some(crate::payload::to_hex(&entry.payload)),
                Some(error),
            ),
        };
        Self {
            row: Parked::from(&entry.row),
            is_parked: entry.parked,
            published_at: entry
                .published_at
                .map(|at| humantime::format_rfc3339_seconds(at).to_string()),
            headers: entry.headers.clone(),
            unreadable_headers: entry.unreadable_headers.clone(),
            payload,
            payload_hex,
            payload_error,
        }
    }
}

impl Report for Shown {
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let row = &self.row;
        let state = if self.is_parked {
            format!(
                "parked at {}, {} rows waiting behind it",
                row.parked_at, row.waiting
            )
        } else if let Some(at) = &self.published_at {
            format!("published at {at}")
        } else {
            "unpublished".to_owned()
        };
        writeln!(out, "outbox row {} ({state})", row.id)?;
        writeln!(
            out,
            "  {} {} version {}: {} on `{}`",
            one_line(&row.aggregate_type),
            one_line(&row.aggregate_id),
            row.version,
            one_line(&row.event),
            one_line(&row.subject)
        )?;
        writeln!(
            out,
            "  written {}, {} attempts, {} refusals",
            row.created_at, row.attempts, row.refusals
        )?;
        if let Some(error) = &row.last_error {
            writeln!(out, "  last error: {error}")?;
        }
        writeln!(out, "  headers:")?;
        writeln!(out, "    Nats-Msg-Id: {}", row.message_id)?;
        for (name, value) in &self.headers {
            writeln!(out, "    {name}: {value}")?;
        }
        if let Some(stored) = &self.unreadable_headers {
            writeln!(out, "    (unreadable, as stored: {stored})")?;
        }
        match (&self.payload, &self.payload_hex) {
            (Some(json), _) => {
                let pretty = serde_json::to_string_pretty(json).unwrap_or_default();
                writeln!(out, "  payload ({} bytes):", row.payload_bytes)?;
                for line in pretty.lines() {
                    writeln!(out, "    {line}")?;
                }
            }
            (None, Some(hex)) => {
                writeln!(
                    out,
                    "  payload ({} bytes, hex; {}):",
                    row.payload_bytes,
                    self.payload_error.as_deref().unwrap_or("not decoded")
                )?;
                writeln!(out, "    {hex}")?;
            }
            (None, None) => {}
        }
        Ok(())
    }
}

/// `outbox retry`.
#[derive(Debug, Serialize)]
pub struct Retried {
    /// Rows handed back to the relays.
    pub retried: Vec<i64>,
    /// Ids given that are not parked (nothing done).
    pub not_parked: Vec<i64>,
}

impl Report for Retried {
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(
            out,
            "{} parked row(s) handed back to the relays: {:?}",
            self.retried.len(),
            self.retried
        )?;
        if !self.not_parked.is_empty() {
            writeln!(out, "not parked (nothing done): {:?}", self.not_parked)?;
        }
        Ok(())
    }
}

/// `outbox skip`.
#[derive(Debug, Serialize)]
pub struct Skipped {
    /// The rows deleted, in full.
    pub skipped: Vec<Shown>,
    /// Ids given that are not parked (nothing done).
    pub not_parked: Vec<i64>,
}

impl Report for Skipped {
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(
            out,
            "{} parked row(s) skipped (deleted unpublished):",
            self.skipped.len()
        )?;
        for shown in &self.skipped {
            shown.write_text(out)?;
        }
        if !self.not_parked.is_empty() {
            writeln!(out, "not parked (nothing done): {:?}", self.not_parked)?;
        }
        Ok(())
    }
}
