//! Runtime of **eventmap**: the types that code generated from a `mappings.yaml` table relies on.
//!
//! The flow of an event through this crate:
//!
//! 1. An aggregate records a [`DomainEvent`] wrapped in an
//!    [`AggregateEvent`] ([`store::AggregateRoot::record`]).
//! 2. A store ([`store::AggregateStore`]) saves the aggregate; the
//!    [`store::DispatchingStore`] middleware hands the saved events to an
//!    [`EventDispatcher`], or to any [`Dispatch`] such as the router generated per table
//!    ([`Route`]: a `match` on the event's type and name).
//! 3. Generated [`IntegrationEventHandler`]s convert each
//!    domain event field by field ([`convert::IntoProto`]) into a protobuf message and wrap it in
//!    an [`IntegrationMessage`] with CloudEvents 1.0 binary-mode
//!    headers.
//! 4. A [`Publisher`] puts the message on the wire: the NATS JetStream one
//!    ([`nats::JetStreamPublisher`], feature `nats`) or the in-memory one
//!    ([`publisher::InMemoryPublisher`]).
//! 5. Consumers read a channel with a durable pull consumer and decode the messages into a
//!    generated [`IntegrationEventSet`] enum: a declared subscription runs as a
//!    [`nats::Consumer`] with its [`nats::DeliveryPolicy`], either with
//!    [`nats::Consumer::run`] (ack, nak with backoff, in-progress acks, dead letters, graceful
//!    shutdown) or, for a loop of one's own, through [`nats::Consumer::deliveries`], the
//!    stream of [`nats::Delivery`]s.
//!
//! With the `postgres` feature, step 2 can be transactional instead: `postgres::PostgresStore`
//! appends the events and, in the same transaction, writes the integration messages the
//! generated handlers build (through `postgres::OutboxWriter`) to an outbox table, which
//! `postgres::Relay` publishes (steps 3-4 split across the commit). With the `sqlite` feature,
//! `sqlite::SqliteStore` and `sqlite::Relay` do the same on one SQLite file. `docs/delivery.md`
//! compares the guarantees.
//!
//! # Choices made where the contract left them open
//!
//! * `Nats-Msg-Id` is not stored in [`IntegrationMessage::headers`]; the JetStream publisher
//!   sets it from [`IntegrationMessage::id`] (always, replacing any copy in the headers).
//! * Received headers ([`nats::Delivery::headers`]) are sorted by name: NATS header maps are
//!   unordered.
//! * Consumers require every CloudEvents header the producer writes
//!   ([`decode::Envelope::from_headers`]) and a `ce-type` matching the subject (the subject's
//!   last token is the event's [`IntegrationEventSet::SUBJECT_TOKENS`] entry: its name, which
//!   is the `ce-type` unless the table gives a `ce_type:`); anything else
//!   is logged and terminated (`+TERM`), never acked; a [`nats::Consumer`] with a dead-letter
//!   channel publishes it there first.
//! * [`nats::Consumer`] counts deliveries itself (the server-side `max_deliver` is unlimited)
//!   and dead-letters on the last allowed one, so a failed dead-letter publish is retried, not
//!   dropped by the server; a handler panic counts as a failure.
//! * [`InMemoryPublisher`] de-duplicates by id forever (JetStream only within its window).
//! * [`AggregateRoot::take_pending`] marks the taken events as stored (the stored version
//!   advances); stores call it only after committing.
//! * [`nats::provision_streams`] and [`nats::Consumer::start`] accept a `Context` or a
//!   `&Context`; the server version check reads `context.client().server_info()`.
//! * [`nats::Consumer::run`] naks failures with the policy's backoff
//!   ([`nats::DeliveryPolicy::nak_delay`], default 1 s, 5 s, 30 s).
//! * [`nats::Delivery::ack`] waits for the server's confirmation (JetStream double ack), and so
//!   does [`nats::Consumer::run`] unless [`nats::DeliveryPolicy::double_ack`] is off;
//!   [`nats::Delivery::ack_unconfirmed`] is the plain ack, for consumers that need the
//!   throughput (`BENCHMARKS.md`).
//! * [`nats::JetStreamPublisher::publish_all`] reports the first message not confirmed, with
//!   the receipts before it; it sends nothing after a failure.
//! * `ce-dataschema` is written only by handlers given one ([`IntegrationEventHandler::with_dataschema`],
//!   what generated code does); with the feature `contracts`, a consumer handles a message
//!   without it as before (a producer older than the header), and counts a producer
//!   fingerprint the registry does not have as incompatible (it cannot be judged).
//!
//! # Paths used by generated code
//!
//! Besides the module paths, generated code relies on these root re-exports:
//! [`AggregateEvent`], [`ChannelSpec`], [`DomainEvent`], [`EventDispatcher`], [`Publisher`],
//! [`IntegrationEventHandler`], [`IntegrationEventSet`], [`DecodeError`], [`decode_payload`],
//! [`integration_event_id`], [`Route`], [`DispatchError`], [`Contract`] (and
//! [`IntegrationEventSet::CONTRACTS`], [`IntegrationEventHandler::with_dataschema`]), and on [`convert::field`],
//! [`convert::map_each`], [`convert::map_one`] and, for the generated router,
//! [`dispatcher::publish_routed`], [`dispatcher::dispatch_span`], [`dispatcher::row_failed`],
//! [`dispatcher::unmapped_event_name`] and [`IntegrationEventHandler::publish_converted`].
//!
//! # Module layering
//!
//! Modules use each other in one direction only, without cycles: `error`, `channel`, `contract`,
//! `convert`, `event`, `trace`, `shutdown` < `message` < `decode`, `publisher` < `integration`
//! < `dispatcher` < `mapped`, `store` < `nats` < `sql` (what the SQL backends share) <
//! `postgres`, `sqlite` (each uses only modules to its left). Shared errors such as [`BoxError`] live in [`error`] for that reason.
//!
//! # Features
//!
//! * `nats` (default): the [`nats`] module (async-nats 0.52, NATS server >= 2.10 for consumers).
//! * `test-util`: the test kit `eventmap::test_util`: `test_util::LocalServer` spawns a private
//!   `nats-server` with JetStream for integration tests and examples.
//! * `postgres`: the `postgres` module: an event store with optimistic concurrency, a
//!   transactional outbox and the relay that publishes it, and the consumer-side inbox
//!   (sqlx 0.8, PostgreSQL >= 12).
//! * `sqlite`: the `sqlite` module: the same event store, transactional outbox and relay on one
//!   SQLite file (sqlx 0.8, SQLite compiled in; WAL, one writer at a time, a polling relay
//!   woken by the commits of the same process), for small services, tests and a first try
//!   without a database server. The types shared with `postgres` (`EventRegistry`,
//!   `OutboxWriter`, `RelayConfig`, `Error`, ...) are one type under both paths.
//! * `relay-bin`: the `eventmap-relay` binary (`postgres` + `nats`).
//! * `otel`: W3C trace context on integration messages ([`trace`]): the `traceparent` of the
//!   span that builds a message goes into its headers, and consumers continue that trace
//!   (OpenTelemetry 0.33, tracing-opentelemetry 0.34); and OpenTelemetry [`metrics`]
//!   (publish latency, relay throughput, outbox backlog, handler durations, redeliveries,
//!   dead letters). Off by default; without it the [`trace`] functions do nothing and no
//!   metric is recorded.
//! * `contracts`: the contract registry and guard ([`contract`]; `nats::ContractRegistry`):
//!   producers register the contracts of what they publish in a JetStream key-value bucket,
//!   consumers check each producer's contract against their own before handling its messages
//!   (crate `eventmap-contract`, sha2). Without it, messages still carry `ce-dataschema`.
//! * `derive` (default): `#[derive(IntegrationEvent)]` (converters, `DomainEvent` and
//!   [`MappedEvent`] from the struct's row in `mappings.yaml`, checked at compile time) and
//!   `#[derive(DomainEvent)]`.
#![deny(missing_docs)]
// One `unsafe` block, allowed where it is: the allocation-free typed view of an event that
// every integration handler converts (`AggregateEvent::with_downcast`).
#![deny(unsafe_code)]
#![warn(rust_2018_idioms)]

pub mod channel;
pub mod contract;
pub mod convert;
pub mod decode;
pub mod dispatcher;
pub mod error;
pub mod event;
pub mod integration;
pub mod mapped;
pub mod message;
pub mod metrics;
pub mod publisher;
pub mod redact;
pub mod shutdown;
pub mod store;
pub mod trace;

#[cfg(any(feature = "postgres", feature = "sqlite"))]
pub mod inbox;
#[cfg(feature = "nats")]
pub mod nats;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(any(feature = "postgres", feature = "sqlite"))]
mod sql;
#[cfg(feature = "sqlite")]
pub mod sqlite;
#[cfg(feature = "test-util")]
pub mod test_util;

pub use channel::ChannelSpec;
pub use contract::{Contract, IncompatibleContract};
pub use convert::{ConversionError, IntoProto};
pub use decode::{DecodeError, IntegrationEventSet, decode_payload};
pub use dispatcher::{
    Dispatch, DispatchError, EventDispatcher, EventHandler, Route, UnmappedEventName,
    UnmappedEventType,
};
pub use error::BoxError;
pub use event::{AggregateEvent, DomainEvent, Event, Metadata};
pub use integration::{IntegrationError, IntegrationEventHandler, IntegrationSource};
pub use mapped::MappedEvent;

#[cfg(feature = "derive")]
pub use eventmap_macros::{DomainEvent, IntegrationEvent, subscriptions};
pub use message::{IntegrationMessage, integration_event_id};
pub use publisher::{
    InMemoryPublisher, IntoSharedPublisher, PublishError, PublishReceipt, Publisher,
};
pub use shutdown::shutdown_signal;
pub use store::{
    Aggregate, AggregateRoot, AggregateStore, DispatchingStore, EventSourced, InMemoryStore,
    StoreError,
};
