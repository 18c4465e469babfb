//! What the SQL backends of the event store share (features `postgres` and `sqlite`): the
//! error type, the [`EventRegistry`] of domain event types, the [`OutboxWriter`], the
//! encoding of events and outbox messages into rows and back, and the relay's settings,
//! counters and send loop.
//!
//! Each backend ([`postgres`](crate::postgres), [`sqlite`](crate::sqlite)) keeps only its SQL
//! and its locking strategy, and re-exports these types under its own path
//! (`eventmap::postgres::EventRegistry` and `eventmap::sqlite::EventRegistry` are one type).

mod error;
mod outbox_writer;
mod registry;
pub(crate) mod relay;
pub(crate) mod rows;
pub(crate) mod store;

pub use error::Error;
pub use outbox_writer::OutboxWriter;
pub(crate) use outbox_writer::collect;
pub use registry::{EventRegistry, MAX_UPCASTS, RegistryError, StoredPayload, Upcaster};
#[cfg(feature = "postgres")]
pub use relay::DEFAULT_SCHEMA;
pub use relay::{
    DEFAULT_NO_STREAM_GRACE, DEFAULT_PARK_AFTER, DEFAULT_RETENTION, RelayConfig, RelayStats,
    RoundReport, RunningRelay,
};
#[cfg(feature = "nats")]
pub use relay::{WindowCheck, check_duplicate_windows};
pub use rows::RecordedEvent;
