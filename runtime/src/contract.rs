//! Contracts of integration events, as generated code declares them: [`Contract`] (the
//! CloudEvents `dataschema` of an event and the encoded description of its proto message),
//! and [`IncompatibleContract`], the error of a consumer that cannot read what a producer
//! publishes.
//!
//! The generator computes each contract at build time (crate `eventmap-contract`: the
//! canonical form of the proto message's descriptor, with every type it reaches, and its
//! SHA-256 fingerprint). Every message published by a generated handler carries its
//! `dataschema` in the `ce-dataschema` header
//! ([`headers::DATASCHEMA`](crate::message::headers::DATASCHEMA)). With the feature
//! `contracts`, producers register their contracts in a JetStream key-value bucket
//! (`nats::ContractRegistry`) and consumers check every message whose `ce-dataschema` differs
//! from their own against it (`docs/delivery.md`, "The contract guard"); the feature also
//! re-exports here what that needs of `eventmap-contract` ([`Schema`], [`Dataschema`],
//! [`Fingerprint`], [`compatibility`] and its [`Break`]s).

use std::fmt;

#[cfg(feature = "contracts")]
pub use eventmap_contract::{Break, Dataschema, Fingerprint, Problem, Schema, compatibility};

use crate::channel::ChannelSpec;

/// The contract of one integration event: where it is published, its CloudEvents
/// `dataschema` URI and the description of its proto message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Contract {
    /// The channel the event is published on.
    pub channel: ChannelSpec,
    /// The integration event name: the last subject token.
    pub event: &'static str,
    /// `eventmap:<proto message full name>#<fingerprint>`, the value of `ce-dataschema`
    /// (32 lower-case hex digits: the first 16 bytes of the SHA-256 of the contract's
    /// canonical form).
    pub dataschema: &'static str,
    /// The contract as `eventmap_contract::Schema` encodes it (protobuf): the message and
    /// every message and enum it reaches.
    pub schema: &'static [u8],
}

impl Contract {
    /// The contract of `event` on `channel` (what generated code writes).
    pub const fn new(
        channel: ChannelSpec,
        event: &'static str,
        dataschema: &'static str,
        schema: &'static [u8],
    ) -> Self {
        Self {
            channel,
            event,
            dataschema,
            schema,
        }
    }

    /// The NATS subject the event is published on: `<channel subject>.<event>`.
    pub fn subject(&self) -> String {
        self.channel.subject_for(self.event)
    }
}

/// A consumer compiled with one contract of an integration event met a producer publishing
/// it with another that it cannot read (the breaking rules of `eventmap check --against`,
/// seen from the reading side: `docs/checks.md`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncompatibleContract {
    /// The integration event (`ce-type`).
    pub event: String,
    /// The consumer's durable name.
    pub durable: String,
    /// The consumer's own `dataschema`.
    pub consumer: String,
    /// The producer's `dataschema` (from `ce-dataschema` or the registry).
    pub producer: String,
    /// Why, one entry per field (`field `total_cents` (number 5) of `ordering.v1.OrderReadied`:
    /// the consumer reads `int64`, the producer writes `string``), or why the producer's
    /// contract could not be judged (not in the registry, not an eventmap dataschema).
    pub breaks: Vec<String>,
}

impl fmt::Display for IncompatibleContract {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "integration event `{}`: the producer's contract {} cannot be read by consumer `{}` compiled with {}: {}",
            self.event,
            self.producer,
            self.durable,
            self.consumer,
            self.breaks.join("; ")
        )
    }
}

impl std::error::Error for IncompatibleContract {}
