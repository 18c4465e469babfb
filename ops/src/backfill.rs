//! `eventmap-ops backfill`: the checkpoints of a service's backfills (list, reset). A
//! backfill itself runs in the service's own binary (it needs the converters and upcasters
//! compiled into the service: `eventmap::postgres::Backfill`, e.g. `ordering-example
//! backfill`); this group watches and resets them from outside.

use std::io::Write;
use std::process::ExitCode;

use eventmap::postgres::{
    BackfillCheckpoint, BackfillError, DEFAULT_SCHEMA, backfill_checkpoints, reset_backfill,
};
use serde::Serialize;

use crate::OpsError;
use crate::confirm::confirm;
use crate::output::{Report, print};
use crate::session::Session;

/// `eventmap-ops backfill ...`.
#[derive(Debug, clap::Subcommand)]
pub enum BackfillCommand {
    /// Every backfill's checkpoint: position reached of its end, events, messages (new and
    /// duplicates), finished or not (a run that stopped resumes from it)
    List {
        /// The store's schema
        #[arg(long, env = "EVENTMAP_SCHEMA", default_value = DEFAULT_SCHEMA)]
        schema: String,
    },
    /// Delete a backfill's checkpoint: its next run starts over (republishing what it already
    /// published, with the same ids)
    Reset {
        /// The store's schema
        #[arg(long, env = "EVENTMAP_SCHEMA", default_value = DEFAULT_SCHEMA)]
        schema: String,
        /// The backfill's name
        name: String,
        /// Do not ask for confirmation (required when stdin is not a terminal)
        #[arg(long)]
        yes: bool,
    },
}

/// Runs a `backfill` subcommand.
///
/// # Errors
///
/// [`OpsError`]; [`OpsError::Refused`] for an unknown name, a backfill that is running or a
/// refused confirmation; [`OpsError::NoSchema`] for a schema without eventmap tables.
pub async fn run(session: &Session, command: BackfillCommand) -> Result<ExitCode, OpsError> {
    match command {
        BackfillCommand::List { schema } => {
            let checkpoints = backfill_checkpoints(session.pool().await?, &schema)
                .await
                .map_err(|err| session.schema_error(err, backfill_error))?;
            print(
                session.format,
                &Listed {
                    schema,
                    backfills: checkpoints.iter().map(Checkpoint::from).collect(),
                },
            )?;
        }
        BackfillCommand::Reset { schema, name, yes } => {
            if !yes {
                confirm(&format!(
                    "reset backfill `{name}` in `{schema}` (it starts over)?"
                ))?;
            }
            let reset = match reset_backfill(session.pool().await?, &schema, &name).await {
                Ok(reset) => reset,
                Err(BackfillError::AlreadyRunning { .. }) => {
                    return Err(OpsError::Refused(format!(
                        "backfill `{name}` in `{schema}` is running (a run holds its lock): \
                         nothing reset; stop the run or let it finish, then reset"
                    )));
                }
                Err(BackfillError::Store(err)) => {
                    return Err(session.schema_error(err, backfill_error));
                }
                Err(err) => return Err(OpsError::Backfill(err)),
            };
            if !reset {
                return Err(OpsError::Refused(format!(
                    "no backfill `{name}` in `{schema}`"
                )));
            }
            print(session.format, &Reset { name })?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A store error of `backfill` as an [`OpsError::Backfill`].
fn backfill_error(err: eventmap::postgres::Error) -> OpsError {
    OpsError::Backfill(BackfillError::Store(err))
}

/// `backfill list`.
#[derive(Debug, Serialize)]
pub struct Listed {
    /// The store's schema.
    pub schema: String,
    /// The checkpoints, by name.
    pub backfills: Vec<Checkpoint>,
}

/// [`BackfillCheckpoint`] for output.
#[derive(Debug, Serialize)]
pub struct Checkpoint {
    /// Name.
    pub name: String,
    /// Selection and target, JSON.
    pub selection: serde_json::Value,
    /// Position reached.
    pub position: u64,
    /// End position.
    pub until: u64,
    /// Events read.
    pub events: u64,
    /// Messages published.
    pub messages: u64,
    /// Of them new.
    pub published: u64,
    /// Of them duplicates.
    pub duplicates: u64,
    /// Complete.
    pub finished: bool,
}

impl From<&BackfillCheckpoint> for Checkpoint {
    fn from(c: &BackfillCheckpoint) -> Self {
        Self {
            name: c.name.clone(),
            selection: serde_json::from_str(&c.selection).unwrap_or(serde_json::Value::Null),
            position: c.position,
            until: c.until,
            events: c.events,
            messages: c.messages,
            published: c.published,
            duplicates: c.duplicates,
            finished: c.finished,
        }
    }
}

impl Report for Listed {
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        if self.backfills.is_empty() {
            return writeln!(out, "no backfill in `{}`", self.schema);
        }
        for c in &self.backfills {
            writeln!(
                out,
                "{}: {} at position {}/{}, {} events, {} messages ({} new, {} duplicates); {}",
                c.name,
                if c.finished { "finished" } else { "stopped" },
                c.position,
                c.until,
                c.events,
                c.messages,
                c.published,
                c.duplicates,
                c.selection
            )?;
        }
        Ok(())
    }
}

/// `backfill reset`.
#[derive(Debug, Serialize)]
pub struct Reset {
    /// The backfill reset.
    pub name: String,
}

impl Report for Reset {
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(
            out,
            "backfill `{}` reset: its next run starts over",
            self.name
        )
    }
}
