//! PostgreSQL event store, transactional outbox and outbox relay (feature `postgres`, sqlx
//! 0.8, PostgreSQL >= 12).
//!
//! * [`PostgresStore`]: an event-sourced [`AggregateStore`](crate::AggregateStore) with
//!   optimistic concurrency ([`Error::Conflict`]), payloads stored as JSON with name and schema
//!   version ([`EventRegistry`], with upcasters applied on every read), aggregates loaded by
//!   replay ([`EventSourced`](crate::EventSourced)).
//! * The **transactional outbox**: with [`PostgresStoreBuilder::outbox`], the integration
//!   messages of the appended events (converted, encoded, with their CloudEvents headers and
//!   deterministic ids) are written to `eventmap_outbox` in the transaction that appends the
//!   events. Generated code needs no change: `register_integration_event_handlers` is given
//!   [`OutboxWriter::shared`], which collects instead of sending.
//! * [`Relay`]: publishes the outbox to JetStream (or any [`Publisher`](crate::Publisher)):
//!   in id order, per-aggregate order kept under retries, marked published only after the
//!   broker's ack, several relays at once (`FOR UPDATE SKIP LOCKED`), woken by
//!   `LISTEN/NOTIFY` with a polling fallback, retrying transient failures forever with
//!   backoff, parking a row the broker refuses ([`RelayConfig::park_after`]).
//! * [`Outbox`], for operators: the backlog and the parked rows (list, show, retry, skip).
//! * `Backfill` (with feature `nats`): re-derives integration events from the stored events
//!   through the current table and publishes them, pipelined, resumable from a checkpoint.
//! * [`Inbox`], on the consumer side: runs a handler once per consumer and message id, with
//!   the id recorded in the handler's own transaction, so a redelivered message changes
//!   nothing the second time.
//!
//! The embedded migrations create the tables in the configured schema (default
//! `"eventmap"`) when the store or the relay is built. The delivery guarantees of each mode
//! and the relay's design are in `docs/delivery.md`.
//!
//! ```ignore
//! let pool = sqlx::postgres::PgPoolOptions::new().connect(&database_url).await?;
//! let mut registry = EventRegistry::new();
//! registry.register::<OrderCreated>("OrderCreated")?; // ... every domain event type
//! let mut outbox = EventDispatcher::new();
//! integration_events::register_integration_event_handlers(&mut outbox, OutboxWriter::shared());
//! let store = PostgresStore::builder(pool.clone()).registry(registry).outbox(outbox).build().await?;
//!
//! // In the publishing process (or in its own, see the eventmap-relay binary):
//! let relay = Relay::new(pool, Arc::new(JetStreamPublisher::new(jetstream)), RelayConfig::default()).await?;
//! relay.run(shutdown_signal).await?;
//! ```

#[cfg(feature = "nats")]
mod backfill;
mod connect_url;
mod inbox;
mod outbox;
mod parked;
mod registry;
mod relay;
mod schema;
mod store;

pub use crate::inbox::{InboxError, InboxOutcome};
#[cfg(feature = "nats")]
pub use backfill::{
    Backfill, BackfillCheckpoint, BackfillError, BackfillProgress, BackfillReport,
    BackfillSelection, BackfillTarget, DEFAULT_BACKFILL_BATCH, DEFAULT_BACKFILL_WINDOW,
    backfill_checkpoints, reset_backfill,
};
pub use connect_url::connect_options;
pub use inbox::Inbox;
pub use outbox::OutboxWriter;
pub use parked::{Outbox, OutboxBacklog, OutboxEntry, ParkedRow};
pub use registry::{EventRegistry, MAX_UPCASTS, RegistryError, StoredPayload, Upcaster};
pub use relay::{
    DEFAULT_NO_STREAM_GRACE, DEFAULT_PARK_AFTER, DEFAULT_RETENTION, Relay, RelayConfig, RelayStats,
    RoundReport, RunningRelay,
};
#[cfg(feature = "cli")]
pub use relay::{RelayArgs, RelayRunError, connect_pool};
#[cfg(feature = "nats")]
pub use relay::{WindowCheck, check_duplicate_windows};
pub use schema::{DEFAULT_SCHEMA, NOTIFY_CHANNEL};
pub use store::{PostgresStore, PostgresStoreBuilder, RecordedEvent, StoreTransaction};

/// The sqlx crate this module is built on (0.8), re-exported so callers use the same version.
pub use sqlx;

use crate::dispatcher::DispatchError;

/// Why an operation of the Postgres store failed.
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
    /// The schema name cannot be used.
    #[error("invalid schema name {name:?}: {reason}")]
    InvalidSchema {
        /// The name given.
        name: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// The schema has no eventmap tables (it does not exist, or nothing of eventmap ever ran
    /// on it), and the operation only reads: it does not create them (see
    /// [`Outbox::open`]).
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
    /// A pending event does not fit the aggregate being appended (another aggregate's event,
    /// a version out of sequence, an unrepresentable time or metadata).
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
    #[error("cannot build the outbox messages of the appended events: {0}")]
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
    #[error("eventmap migration {version} ({description}) failed: {source}")]
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
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The task of a [`RunningRelay`] panicked (a bug: the relay logs and retries every
    /// failure it knows of).
    #[error("the relay's task panicked: {message}")]
    RelayPanicked {
        /// The panic's message, when it was a string.
        message: String,
    },
}
