//! Creating the durable pull consumer of a [`Consumer`](super::Consumer): the checks made
//! before anything is created, and the one JetStream consumer configuration of this crate.

use async_nats::jetstream::consumer::{AckPolicy, PullConsumer, pull};
use async_nats::jetstream::context::GetStreamErrorKind;
use async_nats::jetstream::{Context, ErrorCode};

use super::ConsumerSpec;
use super::guard::Guard;
use crate::contract::IncompatibleContract;
use crate::decode::IntegrationEventSet;
use crate::error::BoxError;
use crate::nats::provision::{covers, overlaps, provision_streams};
use crate::nats::{ProvisionError, Version, parse_version};

/// Oldest NATS server version accepted by [`Consumer::start`](super::Consumer::start):
/// consumers with several `filter_subjects` exist since NATS 2.10.
pub const MIN_SERVER_VERSION: &str = "2.10.0";
const MIN_SERVER: Version = (2, 10, 0);

/// [`Consumer::start`](super::Consumer::start) failed; nothing is pulled.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The server cannot filter a consumer on several subjects. There is deliberately no
    /// client-side filtering fallback.
    #[error(
        "NATS server {version} is too old: server-side event filtering needs {required} or newer"
    )]
    ServerTooOld {
        /// Version reported by the server (`INFO`).
        version: String,
        /// [`MIN_SERVER_VERSION`].
        required: &'static str,
    },
    /// The server version reported in `INFO` could not be parsed.
    #[error("cannot parse the NATS server version {version:?}")]
    UnrecognizedServerVersion {
        /// The text reported.
        version: String,
    },
    /// A requested name is not an event of the channel.
    #[error("`{name}` is not an integration event of channel `{channel}` (known: {known:?})")]
    UnknownEventName {
        /// The requested name.
        name: String,
        /// Channel name.
        channel: &'static str,
        /// [`IntegrationEventSet::NAMES`].
        known: &'static [&'static str],
    },
    /// The subscription declares it takes the whole channel
    /// ([`ConsumerSpec::whole_channel`](super::ConsumerSpec::whole_channel)) but does not ask
    /// for every event of it.
    #[error(
        "the subscription takes the whole channel `{channel}` but leaves out {missing:?}: ask for every event (an empty list) or drop whole_channel()"
    )]
    NotWholeChannel {
        /// Channel name.
        channel: &'static str,
        /// The channel's events the subscription does not ask for.
        missing: Vec<&'static str>,
    },
    /// The durable name cannot be used as a NATS consumer name.
    #[error("invalid durable consumer name {name:?}: {reason}")]
    InvalidDurableName {
        /// The name.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// The [`DeliveryPolicy`](super::DeliveryPolicy) cannot be used.
    #[error("invalid delivery policy: {reason}")]
    InvalidPolicy {
        /// Why.
        reason: String,
    },
    /// Provisioning the dead-letter stream of the policy failed.
    #[error("cannot provision the dead-letter stream")]
    DeadLetter {
        /// The provisioning error.
        #[source]
        source: ProvisionError,
    },
    /// The channel's stream does not exist or cannot be read (see
    /// [`provision_streams`](crate::nats::provision_streams)).
    #[error("cannot open stream `{stream}`{hint}")]
    Stream {
        /// Stream name.
        stream: &'static str,
        /// What to do, when the stream does not exist: `"; ..."`, else empty.
        hint: &'static str,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
    /// A filter subject of the consumer is outside every subject of the channel's stream: the
    /// stream can never hold what it asks for (a typo in the channel's subject, or a stream
    /// another channel provisioned), and a consumer created anyway would receive nothing.
    #[error(
        "consumer filter subject `{filter}` is not in stream `{stream}` (its subjects: {stream_subjects:?}): the stream never stores what it asks for; check the channel's subject against the producer's table"
    )]
    FilterOutsideStream {
        /// The filter subject.
        filter: String,
        /// Stream name.
        stream: &'static str,
        /// The stream's subjects.
        stream_subjects: Vec<String>,
    },
    /// The contract registry (feature `contracts`) shows that producers registered the
    /// channel, and none of them one of the events asked for: it would never arrive.
    #[error(
        "no producer registered {missing:?} on channel `{channel}` (registered there: {registered:?}): the consumer would wait for events nobody publishes"
    )]
    UnregisteredEvents {
        /// Channel name.
        channel: &'static str,
        /// The events asked for that no producer registered.
        missing: Vec<String>,
        /// The events registered on the channel.
        registered: Vec<String>,
    },
    /// The contract a producer registered last for an event asked for cannot be read with
    /// the consumer's (feature `contracts`, policy
    /// [`ContractPolicy::Refuse`](super::ContractPolicy::Refuse)).
    #[error("{0}")]
    IncompatibleContract(IncompatibleContract),
    /// The consumer's own contract of an event (generated code) does not decode.
    #[error("the contract of `{event}` in the consumer's event set is invalid: {reason}")]
    InvalidContract {
        /// The event.
        event: String,
        /// Why.
        reason: String,
    },
    /// The contract registry could not be read (feature `contracts`).
    #[cfg(feature = "contracts")]
    #[error(transparent)]
    Registry {
        /// The registry's error.
        source: crate::nats::registry::RegistryError,
    },
    /// Creating or updating the durable consumer failed.
    #[error("cannot create consumer `{durable}` on stream `{stream}`")]
    Consumer {
        /// Stream name.
        stream: &'static str,
        /// Durable consumer name.
        durable: String,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
}

/// Checks `spec` and the server, provisions the dead-letter stream of the policy (with at
/// least the replicas of `E::CHANNEL`), then
/// creates (or updates) the durable pull consumer of `spec` on the stream of `E::CHANNEL`:
/// explicit ack, the policy's ack wait and start position, `filter_subjects` for the events
/// asked for, server-side `max_deliver` unlimited (deliveries are counted by the consumer,
/// see [`DeliveryPolicy::max_deliver`](super::DeliveryPolicy::max_deliver)). Returns the
/// consumer, its filter subjects and its contract guard.
///
/// Before the consumer is created, every filter subject must be inside a subject of the
/// stream ([`StartError::FilterOutsideStream`]) and the contract guard (feature `contracts`)
/// must accept what producers registered.
pub(super) async fn create<E: IntegrationEventSet>(
    context: &Context,
    spec: &ConsumerSpec,
) -> Result<(PullConsumer, Vec<String>, Guard), StartError> {
    let channel = E::CHANNEL;
    // A client made with `retry_on_initial_connect` may not be connected yet: the server's
    // version arrives with its INFO on connection. Then it is checked after the stream
    // lookup below, which waits for the connection.
    let version_known = !context.client().server_info().version.is_empty();
    if version_known {
        check_server_version(context)?;
    }
    check_durable_name(&spec.durable)?;
    if let Some(reason) = spec.policy.problem() {
        return Err(StartError::InvalidPolicy { reason });
    }
    let names = select_names::<E>(&spec.events)?;
    if spec.whole_channel {
        check_whole_channel::<E>(&names)?;
    }
    if let Some(dead_letter) = &spec.policy.dead_letter {
        // A dead-letter stream is kept as safe as the stream it drains: at least the
        // subscribed channel's replicas.
        let dead_letter = dead_letter.with_replicas(dead_letter.replicas.max(channel.replicas));
        provision_streams(context, std::slice::from_ref(&dead_letter))
            .await
            .map_err(|source| StartError::DeadLetter { source })?;
    }
    let stream = context
        .get_stream(channel.stream)
        .await
        .map_err(|err| StartError::Stream {
            stream: channel.stream,
            hint: match err.kind() {
                GetStreamErrorKind::JetStream(js)
                    if js.error_code() == ErrorCode::STREAM_NOT_FOUND =>
                {
                    "; the producing service creates it (provision_streams): start it first"
                }
                _ => "",
            },
            source: Box::new(err),
        })?;
    if !version_known {
        check_server_version(context)?;
    }
    let stream_subjects = &stream.cached_info().config.subjects;
    let filter_subjects = filter_subjects::<E>(spec, &names, stream_subjects);
    check_in_stream(channel.stream, &filter_subjects, stream_subjects)?;
    let guard = Guard::start::<E>(context, spec, &names).await?;
    let config = pull::Config {
        durable_name: Some(spec.durable.clone()),
        description: Some(format!(
            "eventmap consumer of {} ({})",
            channel.name,
            names.join(", ")
        )),
        deliver_policy: spec.policy.start_at,
        ack_policy: AckPolicy::Explicit,
        ack_wait: spec.policy.ack_wait,
        max_deliver: -1,
        filter_subjects: filter_subjects.clone(),
        ..pull::Config::default()
    };
    let consumer = stream
        .create_consumer(config)
        .await
        .map_err(|err| StartError::Consumer {
            stream: channel.stream,
            durable: spec.durable.clone(),
            source: Box::new(err),
        })?;
    Ok((consumer, filter_subjects, guard))
}

/// Fails unless every filter subject is inside one of the stream's subjects.
fn check_in_stream(
    stream: &'static str,
    filters: &[String],
    stream_subjects: &[String],
) -> Result<(), StartError> {
    match filters.iter().find(|filter| {
        !stream_subjects
            .iter()
            .any(|subject| covers(subject, filter))
    }) {
        None => Ok(()),
        Some(filter) => Err(StartError::FilterOutsideStream {
            filter: filter.clone(),
            stream,
            stream_subjects: stream_subjects.to_vec(),
        }),
    }
}

/// Fails unless `names` are every event of `E` (a subscription that takes the whole channel).
fn check_whole_channel<E: IntegrationEventSet>(names: &[&'static str]) -> Result<(), StartError> {
    let missing: Vec<&'static str> = E::NAMES
        .iter()
        .filter(|name| !names.contains(name))
        .copied()
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(StartError::NotWholeChannel {
            channel: E::CHANNEL.name,
            missing,
        })
    }
}

/// The consumer's subject filters: the channel's wildcard ([`ChannelSpec::wildcard`](crate::ChannelSpec::wildcard),
/// one filter, matched faster by the server than many) when the subscription declares it
/// takes the whole channel and no other subject of the stream (`stream_subjects`) overlaps
/// the wildcard, so that it matches the channel's messages and nothing else; otherwise the
/// subject of each event in `names` (a stream subject such as `ordering.>` or
/// `ordering.order.archive.>` beside the channel's could store messages of other producers
/// under the wildcard: the exact filters keep them out, logged).
fn filter_subjects<E: IntegrationEventSet>(
    spec: &ConsumerSpec,
    names: &[&'static str],
    stream_subjects: &[String],
) -> Vec<String> {
    let channel = E::CHANNEL;
    if spec.whole_channel {
        let wildcard = channel.wildcard();
        let overlapping: Vec<&String> = stream_subjects
            .iter()
            .filter(|subject| **subject != wildcard && overlaps(subject, &wildcard))
            .collect();
        if overlapping.is_empty() {
            return vec![wildcard];
        }
        tracing::warn!(
            ?overlapping,
            %wildcard,
            "other subjects of the stream overlap the channel's wildcard: filtering on each event's subject instead"
        );
    }
    names
        .iter()
        .map(|name| E::subject_for(name).unwrap_or_else(|| channel.subject_for(name)))
        .collect()
}

/// NATS consumer names may not contain whitespace, `.`, `*`, `>`, path separators or control
/// characters (ADR-6 "name" rules).
fn check_durable_name(name: &str) -> Result<(), StartError> {
    let reason = if name.is_empty() {
        Some("must not be empty")
    } else if name
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '.' | '*' | '>' | '/' | '\\'))
    {
        Some("must not contain whitespace, `.`, `*`, `>`, `/` or `\\`")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(StartError::InvalidDurableName {
            name: name.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

/// Fails unless the server behind `context` is at least [`MIN_SERVER_VERSION`].
fn check_server_version(context: &Context) -> Result<(), StartError> {
    let version = context.client().server_info().version;
    match parse_version(&version) {
        Some(parsed) if parsed >= MIN_SERVER => Ok(()),
        Some(_) => Err(StartError::ServerTooOld {
            version,
            required: MIN_SERVER_VERSION,
        }),
        None => Err(StartError::UnrecognizedServerVersion { version }),
    }
}

/// Maps requested names to the set's names; empty means all; duplicates removed.
fn select_names<E: IntegrationEventSet>(names: &[&str]) -> Result<Vec<&'static str>, StartError> {
    if names.is_empty() {
        return Ok(E::NAMES.to_vec());
    }
    let mut selected = Vec::with_capacity(names.len());
    for name in names {
        let known = E::NAMES
            .iter()
            .find(|known| *known == name)
            .ok_or_else(|| StartError::UnknownEventName {
                name: (*name).to_owned(),
                channel: E::CHANNEL.name,
                known: E::NAMES,
            })?;
        if !selected.contains(known) {
            selected.push(*known);
        }
    }
    Ok(selected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::ChannelSpec;
    use crate::decode::DecodeError;
    use crate::nats::delivery::decode;

    #[derive(Debug)]
    enum Events {
        A,
        B,
    }
    impl IntegrationEventSet for Events {
        const CHANNEL: ChannelSpec = ChannelSpec::new("order", "ordering.order", "ORDERS");
        const NAMES: &'static [&'static str] = &["AEvent", "BEvent"];
        fn decode(name: &str, _payload: &[u8]) -> Result<Self, DecodeError> {
            match name {
                "AEvent" => Ok(Self::A),
                "BEvent" => Ok(Self::B),
                other => Err(DecodeError::UnknownEvent { name: other.into() }),
            }
        }
        fn name(&self) -> &'static str {
            match self {
                Self::A => "AEvent",
                Self::B => "BEvent",
            }
        }
    }

    #[test]
    fn names_are_selected_and_checked() {
        assert_eq!(select_names::<Events>(&[]).unwrap(), ["AEvent", "BEvent"]);
        assert_eq!(
            select_names::<Events>(&["BEvent", "BEvent"]).unwrap(),
            ["BEvent"]
        );
        let err = select_names::<Events>(&["CEvent"]).unwrap_err();
        assert!(
            matches!(&err, StartError::UnknownEventName { name, channel: "order", .. } if name == "CEvent"),
            "{err:?}"
        );
    }

    #[test]
    fn whole_channel_filters_on_the_wildcard_unless_the_stream_overlaps_it() {
        let all = ConsumerSpec::new("all", &[]).whole_channel();
        let own = [
            "ordering.order.>".to_owned(),
            "ordering.payment.>".to_owned(),
        ];
        assert_eq!(
            filter_subjects::<Events>(&all, &["AEvent", "BEvent"], &own),
            ["ordering.order.>"]
        );
        let exact = ["ordering.order.AEvent", "ordering.order.BEvent"];
        for overlapping in [
            "ordering.>",
            "ordering.order.archive.>",
            "ordering.order.AEvent",
        ] {
            let subjects = ["ordering.order.>".to_owned(), overlapping.to_owned()];
            assert_eq!(
                filter_subjects::<Events>(&all, &["AEvent", "BEvent"], &subjects),
                exact,
                "{overlapping}"
            );
        }
        // Every event, not declared whole: one filter per event.
        let listed = ConsumerSpec::new("listed", &[]);
        assert_eq!(
            filter_subjects::<Events>(&listed, &["AEvent", "BEvent"], &own),
            exact
        );
        assert!(check_whole_channel::<Events>(&["BEvent", "AEvent"]).is_ok());
        let err = check_whole_channel::<Events>(&["BEvent"]).unwrap_err();
        assert!(
            matches!(&err, StartError::NotWholeChannel { channel: "order", missing } if missing == &["AEvent"]),
            "{err:?}"
        );
    }

    #[test]
    fn filters_must_be_inside_the_stream() {
        let stream = ["ordering.order.>".to_owned()];
        assert!(check_in_stream("S", &["ordering.order.AEvent".to_owned()], &stream).is_ok());
        assert!(check_in_stream("S", &["ordering.order.>".to_owned()], &stream).is_ok());
        let err = check_in_stream(
            "S",
            &[
                "ordering.order.AEvent".to_owned(),
                "ordering.ordr.AEvent".to_owned(),
            ],
            &stream,
        )
        .unwrap_err();
        assert!(
            matches!(&err, StartError::FilterOutsideStream { filter, stream: "S", .. } if filter == "ordering.ordr.AEvent"),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .contains("`ordering.ordr.AEvent` is not in stream `S`"),
            "{err}"
        );
        // A filter wider than the stream is outside too.
        assert!(check_in_stream("S", &["ordering.>".to_owned()], &stream).is_err());
    }

    #[test]
    fn durable_names() {
        assert!(check_durable_name("search-order").is_ok());
        assert!(check_durable_name("").is_err());
        assert!(check_durable_name("a.b").is_err());
        assert!(check_durable_name("a b").is_err());
        assert!(check_durable_name("a>").is_err());
    }

    #[test]
    fn decode_checks_subject_against_type() {
        let event = crate::event::AggregateEvent::new("Order", "o", 1, Dummy);
        #[derive(Clone, PartialEq, prost::Message)]
        struct Empty {}
        let message = crate::message::IntegrationMessage::from_aggregate_event(
            &event,
            &Events::CHANNEL,
            "AEvent",
            "svc",
            &Empty {},
        );
        let headers = || {
            message
                .headers
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str()))
        };
        let (decoded, aggregate_version) =
            decode::<Events>("ordering.order.AEvent", headers(), &message.payload).unwrap();
        assert_eq!(decoded.name(), "AEvent");
        assert_eq!(aggregate_version, 1);
        let err =
            decode::<Events>("ordering.order.BEvent", headers(), &message.payload).unwrap_err();
        assert!(
            matches!(
                &err,
                DecodeError::InvalidHeader {
                    header: "ce-type",
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[derive(Debug)]
    enum Typed {
        Created,
    }
    impl IntegrationEventSet for Typed {
        const CHANNEL: ChannelSpec = ChannelSpec::new("order", "ordering.order", "ORDERS");
        const NAMES: &'static [&'static str] = &["com.example.ordering.OrderCreated"];
        const SUBJECT_TOKENS: &'static [&'static str] = &["OrderCreatedEvent"];
        fn decode(name: &str, _payload: &[u8]) -> Result<Self, DecodeError> {
            match name {
                "com.example.ordering.OrderCreated" => Ok(Self::Created),
                other => Err(DecodeError::UnknownEvent { name: other.into() }),
            }
        }
        fn name(&self) -> &'static str {
            "com.example.ordering.OrderCreated"
        }
    }

    #[test]
    fn decode_checks_the_subject_token_of_a_ce_type() {
        let event = crate::event::AggregateEvent::new("Order", "o", 1, Dummy);
        #[derive(Clone, PartialEq, prost::Message)]
        struct Empty {}
        let message = crate::message::IntegrationMessage::from_aggregate_event_with_type(
            &event,
            &Typed::CHANNEL,
            "OrderCreatedEvent",
            "com.example.ordering.OrderCreated",
            "svc",
            &Empty {},
        );
        assert_eq!(message.subject, "ordering.order.OrderCreatedEvent");
        let headers = || {
            message
                .headers
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str()))
        };
        let (decoded, _) = decode::<Typed>(&message.subject, headers(), &message.payload).unwrap();
        assert!(matches!(decoded, Typed::Created));
        // The ce-type is not a subject token of its own.
        for subject in [
            "ordering.order.com.example.ordering.OrderCreated",
            "ordering.order.OrderCreated",
        ] {
            let err = decode::<Typed>(subject, headers(), &message.payload).unwrap_err();
            assert!(
                matches!(
                    &err,
                    DecodeError::InvalidHeader {
                        header: "ce-type",
                        ..
                    }
                ),
                "{subject}: {err:?}"
            );
        }
        assert_eq!(
            select_names::<Typed>(&[]).unwrap(),
            ["com.example.ordering.OrderCreated"]
        );
    }

    #[derive(Debug)]
    struct Dummy;
    impl crate::event::DomainEvent for Dummy {
        fn event_name(&self) -> &'static str {
            "Dummy"
        }
    }
}
