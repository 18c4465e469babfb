//! The ordering service example of eventmap.
//!
//! The Order aggregate records domain events ([`domain::events`]); `mappings.yaml` (at the
//! repository root) maps them to the integration events of `proto/ordering/v1/events.proto`;
//! [`integration_events`] is the module `eventmap generate` wrote from it. The
//! [`consumers`] (search, notifications) receive the integration events from NATS JetStream.
//! The service's gRPC API ([`grpc`], `proto/ordering/v1/service.proto`) runs the commands in
//! a process of its own ([`serve`]).

pub mod application;
#[cfg(feature = "postgres")]
pub mod backfill;
pub mod consumers;
pub mod demo;
pub mod domain;
pub mod grpc;
#[cfg(feature = "postgres")]
pub mod history;
#[cfg(any(feature = "postgres", feature = "sqlite"))]
pub mod outbox;
pub mod sample;
pub mod serve;

/// The prost types of `proto/`, generated at build time by `eventmap_codegen::Builder`.
#[allow(missing_docs, clippy::all)]
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/protos.rs"));
}

/// The glue generated from `mappings.yaml` by `eventmap generate` (committed, as sqlc users do).
/// Formatted by eventmap (prettyplease), so rustfmt leaves it alone.
#[cfg(not(feature = "derive"))]
#[rustfmt::skip]
#[path = "generated/integration_events.rs"]
pub mod integration_events;

/// With the `derive` feature: the converters come from `#[derive(IntegrationEvent)]` on the
/// domain events; the names, channels, decoding enums and `register_integration_event_handlers`
/// (which registers every domain type of the table through its derive) from the `Builder`.
#[cfg(feature = "derive")]
pub mod integration_events {
    include!(concat!(env!("OUT_DIR"), "/integration_names.rs"));
}
