//! NATS JetStream transport (feature `nats`, async-nats 0.52).
//!
//! * [`JetStreamPublisher`]: a [`Publisher`](crate::publisher::Publisher) that returns only
//!   after the JetStream acknowledgement (`PubAck`), with `Nats-Msg-Id` de-duplication;
//!   [`JetStreamPublisher::publish_all`] pipelines a batch with a bounded window of acks.
//! * [`provision_streams`]: creates or extends the stream of each channel.
//! * [`Consumer`]: a durable pull consumer of a declared subscription ([`ConsumerSpec`]),
//!   filtered on the server by event name (`filter_subjects`, NATS server >= 2.10), with its
//!   [`DeliveryPolicy`]. [`Consumer::run`] acks after the [`ConsumerHandler`], naks with
//!   backoff, sends in-progress acks, writes [`dead_letter`]s and shuts down gracefully;
//!   [`Consumer::deliveries`] hands the decoded [`Delivery`]s to a loop of one's own.
//! * `ContractRegistry` (feature `contracts`): the contracts producers publish, in a
//!   JetStream key-value bucket; a [`Consumer`] checks each producer contract that differs
//!   from its own against it ([`ContractPolicy`]).
//! * [`connect`](connect::connect): one way to connect from [`connect::ConnectSettings`]
//!   (server list, credentials, TLS; the `nats` CLI's names), waiting while no server is
//!   reachable, secrets never shown.

pub mod connect;
mod consumer;
pub mod dead_letter;
mod delivery;
mod fast_batch;
mod header_map;
mod provision;
mod publisher;
#[cfg(feature = "contracts")]
pub mod registry;

/// The async-nats crate this module is built on (0.52), re-exported so callers use the same
/// version.
pub use async_nats;
pub use async_nats::jetstream::consumer::DeliverPolicy;
#[cfg(any(feature = "postgres", feature = "sqlite"))]
pub use consumer::TransactionalHandler;
pub use consumer::{
    ConsumeError, Consumer, ConsumerHandler, ConsumerReport, ConsumerSpec, ContractPolicy,
    Deliveries, DeliveryPolicy, MIN_SERVER_VERSION, StartError, consumer_fn,
};
pub use delivery::{AckError, Delivery};
pub use provision::{DUPLICATE_WINDOW, ProvisionError, SCALE_SETTLE, provision_streams};
pub use publisher::{JetStreamPublisher, PublishAllError};
#[cfg(feature = "contracts")]
pub use registry::{ContractRegistry, RegistryError};

/// Whether the server `client` is connected to has fast-ingest batches (NATS ADR-50:
/// nats-server 2.14).
pub(crate) fn has_fast_batches(client: &async_nats::Client) -> bool {
    parse_version(&client.server_info().version).is_some_and(|version| version >= (2, 14, 0))
}

/// A parsed `major.minor.patch` version (pre-release and build suffixes ignored).
pub(crate) type Version = (u64, u64, u64);

/// Parses NATS server versions such as `"2.9.10"`, `"v2.15.1"` or `"2.11.0-RC.2"`; a missing
/// patch (or minor) counts as 0. `None` when the text does not start with a number.
pub(crate) fn parse_version(text: &str) -> Option<Version> {
    let text = text.trim();
    let text = text.strip_prefix('v').unwrap_or(text);
    let core = text.split(['-', '+', ' ']).next()?;
    let mut parts = core.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().map_or(Some(0), |p| p.parse().ok())?;
    let patch = parts.next().map_or(Some(0), |p| p.parse().ok())?;
    Some((major, minor, patch))
}

#[cfg(test)]
mod tests {
    use super::parse_version;

    #[test]
    fn parses_server_versions() {
        assert_eq!(parse_version("2.9.10"), Some((2, 9, 10)));
        assert_eq!(parse_version("v2.15.1"), Some((2, 15, 1)));
        assert_eq!(parse_version("2.11.0-RC.2"), Some((2, 11, 0)));
        assert_eq!(parse_version("2.10"), Some((2, 10, 0)));
        assert_eq!(parse_version(""), None);
        assert_eq!(parse_version("dev"), None);
        assert!(parse_version("2.9.10").unwrap() < (2, 10, 0));
        assert!(parse_version("2.10.0").unwrap() >= (2, 10, 0));
    }
}
