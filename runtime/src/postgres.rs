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
mod parked;
mod relay;
mod schema;
mod store;

pub use crate::inbox::{InboxError, InboxOutcome};
#[cfg(feature = "nats")]
pub use backfill::{
    Backfill, BackfillCheckpoint, BackfillError, BackfillProgress, BackfillReport,
    BackfillSelection, BackfillTarget, DEFAULT_BACKFILL_BATCH, DEFAULT_BACKFILL_SETTLE_WAIT,
    DEFAULT_BACKFILL_WINDOW, backfill_checkpoints, reset_backfill,
};
pub use connect_url::connect_options;
pub use inbox::Inbox;
pub use parked::{Outbox, OutboxBacklog, OutboxEntry, ParkedRow};
pub use relay::Relay;
#[cfg(feature = "cli")]
pub use relay::{RelayArgs, RelayRunError, connect_pool};
pub use schema::NOTIFY_CHANNEL;
pub use store::{PostgresStore, PostgresStoreBuilder, StoreTransaction};

// Shared with the SQLite backend (`crate::sql`): one type under both paths.
pub use crate::sql::{
    DEFAULT_NO_STREAM_GRACE, DEFAULT_PARK_AFTER, DEFAULT_RETENTION, DEFAULT_SCHEMA, Error,
    EventRegistry, MAX_UPCASTS, OutboxWriter, RecordedEvent, RegistryError, RelayConfig,
    RelayStats, RoundReport, RunningRelay, StoredPayload, Upcaster,
};
#[cfg(feature = "nats")]
pub use crate::sql::{WindowCheck, check_duplicate_windows};

/// The sqlx crate this module is built on (0.8), re-exported so callers use the same version.
pub use sqlx;
