//! The ordering service example of eventmap.
//!
//! The Order aggregate records domain events ([`domain::events`]); `mappings.yaml` (at the
//! repository root) maps them to the integration events of `proto/ordering/v1/events.proto`;
//! [`integration_events`] is the module `eventmap generate` wrote from it. The
//! [`consumers`] (search, notifications) receive the integration events from NATS JetStream.

pub mod application;
pub mod consumers;
pub mod demo;
pub mod domain;

/// The prost types of `proto/`, generated at build time by `eventmap_codegen::Builder`.
#[allow(missing_docs, clippy::all)]
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/protos.rs"));
}

/// The glue generated from `mappings.yaml` by `eventmap generate` (committed, as sqlc users do).
/// Formatted by eventmap (prettyplease), so rustfmt leaves it alone.
#[rustfmt::skip]
#[path = "generated/integration_events.rs"]
pub mod integration_events;
