//! [`OpsError`]: why a command could not run.

use std::path::PathBuf;

use eventmap::BoxError;

/// Why a command of `eventmap-ops` could not run (as opposed to what it found, which its
/// output reports).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpsError {
    /// The mapping table cannot be read or has errors (rendered with `file:line:column`).
    #[error("cannot use the mapping table `{}`", path.display())]
    Table {
        /// The table given by `--mappings`.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: eventmap_codegen::Error,
    },
    /// NATS refused or could not be reached.
    #[error(transparent)]
    Connect(#[from] eventmap::nats::connect::ConnectError),
    /// The relay or the PostgreSQL connection failed.
    #[error(transparent)]
    Relay(#[from] eventmap::postgres::RelayRunError),
    /// The schema given with `--schema` has no eventmap tables: an operator command never
    /// creates one (a mistyped schema or `DATABASE_URL` would otherwise get an empty outbox
    /// that reads as "nothing to do").
    #[error("schema `{schema}` {}", no_tables(*exists, url))]
    NoSchema {
        /// The schema.
        schema: String,
        /// Whether the schema exists (without eventmap's tables).
        exists: bool,
        /// The database, its password redacted.
        url: String,
    },
    /// The outbox could not be read or changed (`outbox ...`, `status`).
    #[error("outbox")]
    Outbox(#[source] eventmap::postgres::Error),
    /// The backfill checkpoints could not be read or changed (`backfill ...`).
    #[error("backfill")]
    Backfill(#[source] eventmap::postgres::BackfillError),
    /// A PostgreSQL query failed.
    #[error("PostgreSQL")]
    Database(#[from] eventmap::postgres::sqlx::Error),
    /// A JetStream request failed (`what` says which).
    #[error("{what}")]
    JetStream {
        /// The request, e.g. "cannot read stream `SEARCH_DLQ`".
        what: String,
        /// The server's or the client's error.
        #[source]
        source: BoxError,
    },
    /// What the command was asked to act on does not exist (an unknown dead letter).
    #[error("{0}")]
    NotFound(String),
    /// The command's arguments do not fit the table or each other.
    #[error("{0}")]
    Usage(String),
    /// The command was refused (a confirmation answered no, nothing selected to replay).
    #[error("{0}")]
    Refused(String),
    /// The metrics exporter failed.
    #[error("metrics: {0}")]
    Metrics(String),
    /// Writing the output failed.
    #[error("cannot write the output")]
    Output(#[from] std::io::Error),
}

impl OpsError {
    /// The process exit code: 1 when the command was refused or found nothing to act on,
    /// 2 when it could not run.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Refused(_) | Self::NotFound(_) => 1,
            _ => 2,
        }
    }

    /// A [`OpsError::JetStream`] error.
    pub(crate) fn jetstream(what: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self::JetStream {
            what: what.into(),
            source: source.into(),
        }
    }
}

/// The end of [`OpsError::NoSchema`]'s message.
fn no_tables(exists: bool, url: &str) -> String {
    if exists {
        format!("has no eventmap tables (at {url})")
    } else {
        format!("does not exist (no eventmap tables at {url})")
    }
}

/// `error` and its sources, `: `-separated, each cause once ([`eventmap::error::ErrorChain`]).
pub use eventmap::error::error_chain;
