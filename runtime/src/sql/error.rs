//! [`Error`]: why an operation of an SQL event store, its outbox or its relay failed.

use super::RegistryError;
use crate::dispatcher::DispatchError;

/// Why an operation of an SQL event store (Postgres or SQLite), its outbox or its relay failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Optimistic concurrency: another transaction appended to the aggregate since it was
    /// loaded. Nothing of this append was stored, converted or published.
    #[error(
        "{aggregate} `{id}` was modified concurrently: expected version {expected}, stored version is {actual}"
    )]
    Conflict {
        /// Aggregate type name.
        aggregate: String,
        /// Aggregate id.
        id: String,
        /// The stored version the caller's copy was based on.
        expected: u64,
        /// The version stored when the append was refused.
        actual: u64,
    },
    /// No events are stored for the aggregate.
    #[error("{aggregate} `{id}` not found")]
    NotFound {
        /// Aggregate type name.
        aggregate: String,
        /// Aggregate id.
        id: String,
    },
    /// The schema name cannot be used (Postgres).
    #[error("invalid schema name {name:?}: {reason}")]
    InvalidSchema {
        /// The name given.
        name: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A pending event does not fit the aggregate being appended (another aggregate's event,
    /// a version out of sequence, an unrepresentable time or metadata), or an integration
    /// message of the outbox has a header NATS cannot carry (an aggregate id with a line
    /// break).
    #[error("cannot append to {aggregate} `{id}`: {reason}")]
    InvalidEvent {
        /// Aggregate type name.
        aggregate: String,
        /// Aggregate id.
        id: String,
        /// What is wrong.
        reason: String,
    },
    /// A payload could not be encoded, decoded or upcast.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// An integration handler of the outbox dispatcher failed (a conversion error, most
    /// likely); the append must be rolled back.
    #[error("cannot build the outbox messages of the appended events")]
    Outbox(#[source] DispatchError),
    /// A stored row cannot be read back.
    #[error("stored events of {aggregate} `{id}` are unreadable: {reason}")]
    Corrupt {
        /// Aggregate type name.
        aggregate: String,
        /// Aggregate id.
        id: String,
        /// What is wrong.
        reason: String,
    },
    /// An embedded migration failed.
    #[error("eventmap migration {version} ({description}) failed")]
    Migration {
        /// Migration version.
        version: i32,
        /// What it creates.
        description: &'static str,
        /// The database error.
        #[source]
        source: sqlx::Error,
    },
    /// The database failed (connection, statement, commit).
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// The SQLite file cannot be opened or created (its folder does not exist, no
    /// permission, not a database): `sqlite::connect`.
    #[error("cannot open or create the SQLite file {}", path.display())]
    Open {
        /// The file, as the URL names it.
        path: std::path::PathBuf,
        /// sqlx's error.
        #[source]
        source: sqlx::Error,
    },
    /// The task of a [`RunningRelay`](super::RunningRelay) panicked (a bug: the relay logs and retries every
    /// failure it knows of); also a round whose rows were being decoded on a blocking
    /// thread when the runtime shut down (PostgreSQL relay; the round is rolled back).
    #[error("the relay's task panicked: {message}")]
    RelayPanicked {
        /// The panic's message, when it was a string.
        message: String,
    },

    /// The schema has no eventmap tables (it does not exist, or nothing of eventmap ever ran
    /// on it), and the operation only reads: it does not create them (see
    /// `postgres::Outbox::open`).
    #[error(
        "schema `{schema}` {}",
        if *exists { "has no eventmap tables" } else { "does not exist (no eventmap tables)" }
    )]
    SchemaMissing {
        /// The schema name.
        schema: String,
        /// Whether the schema itself exists (without eventmap's tables).
        exists: bool,
    },
    /// The schema lacks embedded migrations of this eventmap (it was written by an older
    /// one), and the operation only reads: it does not apply them. The store, the relay and
    /// the inbox apply them when they are built.
    #[error(
        "schema `{schema}` lacks eventmap migration(s) {missing} (written by an older \
         eventmap; the service's store or relay applies them when it starts)"
    )]
    SchemaOutdated {
        /// The schema name.
        schema: String,
        /// The migrations not applied, `version (description)`, comma-separated.
        missing: String,
    },
}
