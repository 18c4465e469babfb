//! A corpus of service tables written as teams write them (`fixtures/corpus/`), each with its
//! own contracts and domain model, built by `build.rs` with the `Builder` and run by
//! `tests/corpus.rs`:
//!
//! - [`payments`]: a proto2 contract (required fields, `[default = ..]`, deprecated fields,
//!   enums) fed from a domain model ported from Go (unsigned amounts, `i64` counters);
//! - [`catalog`]: proto3 with `optional` fields, wrappers, a oneof, a map, keywords as field
//!   names, nested messages, a `with:` function building a message, `google.protobuf.Empty`,
//!   and one payload type recorded under two domain event names;
//! - [`inventory`]: proto3 contracts on a shared `common/v1/types.proto`, two channels, and one
//!   event published under two contract versions.

pub mod catalog;
pub mod inventory;
pub mod payments;
