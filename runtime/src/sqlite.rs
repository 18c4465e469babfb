//! SQLite event store, transactional outbox and outbox relay (feature `sqlite`, sqlx 0.8 with
//! SQLite compiled in): the API and guarantees of [`postgres`](crate::postgres) on one file,
//! for a small service, a test suite or a first try without a database server.
//!
//! * [`SqliteStore`]: an event-sourced [`AggregateStore`](crate::AggregateStore) with
//!   optimistic concurrency ([`Error::Conflict`], [`StoreError::Conflict`](crate::StoreError)
//!   through the trait, as on Postgres), payloads stored as JSON through the
//!   [`EventRegistry`] (upcasters applied on every read).
//! * The **transactional outbox**: with [`SqliteStoreBuilder::outbox`] the integration
//!   messages of the appended events are written to `eventmap_outbox` in the transaction that
//!   appends the events; generated handlers are given [`OutboxWriter::shared`], unchanged.
//! * [`Relay`]: publishes the outbox in id order, one message per aggregate in flight,
//!   marking (deleting) a row only after the broker's ack; a relay killed mid-round re-sends
//!   the unmarked rows with the same ids, which JetStream drops as duplicates. Refused rows
//!   are parked as on Postgres ([`RelayConfig::park_after`]).
//!
//! The types shared with the Postgres backend ([`EventRegistry`], [`OutboxWriter`],
//! [`RelayConfig`], [`RelayStats`], [`Error`], ...) are the same types under both paths.
//!
//! # What differs from Postgres
//!
//! * **One writer at a time.** Every write transaction starts with `BEGIN IMMEDIATE`: it
//!   takes the file's write lock at once (waiting up to the busy timeout,
//!   [`DEFAULT_BUSY_TIMEOUT`]), so appends are serialised and a racing append of the same
//!   aggregate finds the version moved. Reads run beside it (WAL mode).
//! * **A polling relay.** SQLite has no `LISTEN/NOTIFY`: the relay polls every
//!   [`RelayConfig::poll_interval`], and a commit that wrote outbox rows wakes the relays of
//!   the same process on the same file at once. One relay per file: rows are not locked, so
//!   a second relay would send the same rows again (dropped by JetStream as duplicates, and
//!   in order per aggregate, but useless work).
//! * **One file per service**, no schemas: the tables are `eventmap_*` in the file.
//! * **Durability**: WAL with `synchronous = FULL`: a commit is on disk before `save`
//!   returns, so an event the relay published cannot be lost by a power failure (with
//!   `NORMAL`, the last commits before a power loss could vanish after their messages were
//!   published).
//!
//! ```no_run
//! # async fn demo() -> Result<(), eventmap::sqlite::Error> {
//! use eventmap::sqlite::{EventRegistry, OutboxWriter, SqliteStore};
//! let pool = eventmap::sqlite::connect("sqlite://orders.db").await?;
//! let registry = EventRegistry::new(); // registry.register::<OrderCreated>("OrderCreated")?; ...
//! let mut outbox = eventmap::EventDispatcher::new();
//! // integration_events::register_integration_event_handlers(&mut outbox, OutboxWriter::shared());
//! let store = SqliteStore::builder(pool.clone()).registry(registry).outbox(outbox).build().await?;
//! // let relay = Relay::new(pool, Arc::new(JetStreamPublisher::new(jetstream)), RelayConfig::default()).await?;
//! // let running = relay.spawn();
//! # Ok(()) }
//! ```

mod connect;
mod inbox;
mod relay;
mod schema;
mod store;
mod wake;

pub use crate::inbox::{InboxError, InboxOutcome};
pub use connect::{
    DEFAULT_BUSY_TIMEOUT, DEFAULT_MAX_CONNECTIONS, connect, connect_options, is_sqlite_url,
};
pub use inbox::Inbox;
pub use relay::Relay;
pub use store::{SqliteStore, SqliteStoreBuilder, StoreTransaction};

// Shared with the Postgres backend (`crate::sql`): one type under both paths.
pub use crate::sql::{
    DEFAULT_NO_STREAM_GRACE, DEFAULT_PARK_AFTER, DEFAULT_RETENTION, Error, EventRegistry,
    MAX_UPCASTS, OutboxWriter, RecordedEvent, RegistryError, RelayConfig, RelayStats, RoundReport,
    RunningRelay, StoredPayload, Upcaster,
};
#[cfg(feature = "nats")]
pub use crate::sql::{WindowCheck, check_duplicate_windows};

/// The sqlx crate this module is built on (0.8), re-exported so callers use the same version.
pub use sqlx;
