//! Contracts of eventmap's integration events.
//!
//! A *contract* is what a producer promises about the payload of an integration event: the
//! proto message it is encoded as and every type that message reaches (nested messages,
//! enums, map entries, well-known types), with the field names, numbers, types and labels and
//! the enum values. This crate holds, in one place:
//!
//! * [`Schema`]: that description, self-contained (no imports), as a small protobuf message of
//!   its own so that it travels (the generator embeds it in the generated module, producers
//!   register it on NATS, consumers read it back);
//! * its canonical form ([`Schema::canonical_form`]): a text with one line per message, field,
//!   enum and value, sorted, from which the [`Fingerprint`] is computed (SHA-256, first 16
//!   bytes, lower-case hex);
//! * the CloudEvents `dataschema` URI naming a contract ([`Dataschema`]:
//!   `eventmap:<message full name>#<fingerprint>`);
//! * the layout of the contract registry on NATS ([`registry`]: bucket, keys, values);
//! * the wire-compatibility judgement between what a consumer was compiled with and what a
//!   producer publishes ([`compatibility`], the [`Break`]s it finds).
//!
//! With the feature `reflect`, `Schema::from_message` builds a schema from a prost-reflect
//! `MessageDescriptor` (what the generator does at build time); the runtime's contract guard
//! only decodes and compares schemas and does without it.
//!
//! ```
//! use eventmap_contract::{Dataschema, Schema};
//! let schema = Schema { root: "ordering.v1.OrderReadied".into(), ..Schema::default() };
//! let dataschema = Dataschema::of(&schema);
//! let parsed: Dataschema = dataschema.to_string().parse().unwrap();
//! assert_eq!(parsed, dataschema);
//! assert!(dataschema.to_string().starts_with("eventmap:ordering.v1.OrderReadied#"));
//! ```
#![deny(missing_docs)]
#![warn(rust_2018_idioms)]

mod canonical;
mod compat;
mod dataschema;
mod fingerprint;
#[cfg(feature = "reflect")]
mod reflect;
pub mod registry;
mod schema;

pub use compat::{Break, Problem, compatibility};
pub use dataschema::{Dataschema, DataschemaError};
pub use fingerprint::{Fingerprint, FingerprintError};
#[cfg(feature = "reflect")]
pub use reflect::scalar_name;
pub use schema::{EnumSchema, EnumValueSchema, FieldSchema, Label, MessageSchema, Schema};
