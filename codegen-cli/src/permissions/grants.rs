//! The rules: which subjects each part of a table needs, and why.
//!
//! Each rule follows a call of the eventmap runtime (async-nats 0.52 underneath) and the
//! JetStream API subjects of the NATS reference (docs.nats.io, "JetStream API Reference":
//! `$JS.API.STREAM.INFO|CREATE|UPDATE.<stream>`, `$JS.API.CONSUMER.CREATE.<stream>.<consumer>`,
//! `$JS.API.CONSUMER.INFO.<stream>.<consumer>`, `$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>`;
//! acks are published to the reply subject of each delivered message,
//! `$JS.ACK.<stream>.<consumer>.<delivery tokens>`):
//!
//! * an integration event is published on `<channel subject>.<event name>` (`ChannelSpec::
//!   subject_for`): exactly that subject, not the channel's wildcard, so that a service cannot
//!   publish an event its table does not map (and the permissions change, visibly, with it);
//! * `provision_streams` looks a stream up, creates it, or adds subjects to it (`STREAM.INFO`,
//!   `STREAM.CREATE`, `STREAM.UPDATE`): for the streams of the channels the service publishes
//!   on, and for the dead-letter stream of each subscription (`Consumer::start` provisions it);
//!   the relay's duplicate-window check reads the stream (`STREAM.INFO`);
//! * `Consumer::start` opens the channel's stream (`STREAM.INFO`) and creates or updates the
//!   durable with `filter_subjects` (`CONSUMER.CREATE.<stream>.<durable>`: with several filter
//!   subjects, or one in `filter_subjects`, async-nats adds no filter token);
//! * the pull loop requests messages (`CONSUMER.MSG.NEXT`) and, after a failed pull, checks that
//!   the durable still exists (`CONSUMER.INFO`); each message is settled (ack, nak, term,
//!   in-progress) on its reply subject under `$JS.ACK.<stream>.<durable>.>`;
//! * `Consumer::run_with_inbox` reads the durable's ack floor (`CONSUMER.INFO`) and, at start
//!   after a crash, reads back the messages left unacknowledged by sequence
//!   (`STREAM.MSG.GET.<stream>`) to keep each aggregate in order;
//! * a dead letter is published on `<dead-letter subject>.<one token>` (the original's `ce-type`
//!   made one token, any value: `*`);
//! * the contract registry (runtime feature `contracts`, bucket `EVENTMAP_CONTRACTS`, stream
//!   `KV_EVENTMAP_CONTRACTS`): a producer's `ContractRegistry::open` looks the bucket up
//!   (`STREAM.INFO`) and creates it when absent (`STREAM.CREATE`, after async-nats reads the
//!   account's limits, `$JS.API.INFO`); `register` writes the keys of its own events
//!   (`$KV.EVENTMAP_CONTRACTS.event.<subject>`, `.channel.<channel subject>`, `.schema.*`) and
//!   reads keys back (`DIRECT.GET` of each key's subject); a consumer's guard looks the bucket
//!   up and reads the keys of its events and channels and the contracts (`schema.*`: the one
//!   API grant with a wildcard, within the registry's stream);
//! * every reply (JetStream API responses, publish acks, pulled messages, double-ack
//!   confirmations) arrives on the client's inbox: `<inbox prefix>.>`.
//!
//! Nothing else: no `$JS.API.>`, no `$JS.API.INFO` but for a producer's registry, no deletes, no listing, no core NATS
//! subscription on an event subject (events are pulled).

use indexmap::IndexMap;

use super::Grant;
use crate::model::{Channel, Model, Subscription};

/// The publish and subscribe grants of `model`'s service, in table order.
pub(super) fn of_model(model: &Model, inbox_prefix: &str) -> (Vec<Grant>, Vec<Grant>) {
    let mut publish = Grants::default();
    published_events(model, &mut publish);
    for (stream, channels) in published_streams(model) {
        provisioned_stream(
            &mut publish,
            &stream,
            &format!("of channel{} {}", plural(channels.len()), quoted(&channels)),
        );
        publish.add(
            format!("$JS.API.STREAM.INFO.{stream}"),
            format!("the relay's duplicate-window check reads stream `{stream}`"),
        );
    }
    for subscription in &model.subscriptions {
        if let Some(channel) = channel(model, &subscription.channel) {
            consumer(&mut publish, subscription, channel);
        }
    }
    registry(model, &mut publish);
    let mut subscribe = Grants::default();
    subscribe.add(
        format!("{inbox_prefix}.>"),
        "replies to this service's requests: JetStream API responses, publish acks, pulled \
         messages, ack confirmations"
            .to_owned(),
    );
    (publish.into_vec(), subscribe.into_vec())
}

/// Subjects in first-seen order, each with its reasons.
#[derive(Default)]
struct Grants(IndexMap<String, Vec<String>>);

impl Grants {
    /// Allows `subject` for `why` (a second reason for a subject already there is appended).
    fn add(&mut self, subject: String, why: String) {
        let reasons = self.0.entry(subject).or_default();
        if !reasons.contains(&why) {
            reasons.push(why);
        }
    }

    fn into_vec(self) -> Vec<Grant> {
        self.0
            .into_iter()
            .map(|(subject, why)| Grant { subject, why })
            .collect()
    }
}

/// One exact subject per integration event the table maps.
fn published_events(model: &Model, publish: &mut Grants) {
    for event in &model.events {
        for integration in &event.integrations {
            if let Some(channel) = channel(model, &integration.channel) {
                publish.add(
                    format!("{}.{}", channel.subject, integration.name),
                    format!(
                        "publishes `{}` (domain event `{}`) on channel `{}`",
                        integration.name, event.name, channel.name
                    ),
                );
            }
        }
    }
}

/// The streams of the channels the service publishes on, in table order, with their channels.
fn published_streams(model: &Model) -> IndexMap<String, Vec<String>> {
    let mut streams: IndexMap<String, Vec<String>> = IndexMap::new();
    for integration in model.events.iter().flat_map(|e| &e.integrations) {
        if let Some(channel) = channel(model, &integration.channel) {
            let channels = streams.entry(channel.stream.clone()).or_default();
            if !channels.contains(&channel.name) {
                channels.push(channel.name.clone());
            }
        }
    }
    streams
}

/// What `provision_streams` asks of `stream`; `of` says whose stream it is.
fn provisioned_stream(publish: &mut Grants, stream: &str, of: &str) {
    for (call, does) in [
        ("INFO", "looks up"),
        ("CREATE", "creates"),
        ("UPDATE", "adds missing subjects to"),
    ] {
        publish.add(
            format!("$JS.API.STREAM.{call}.{stream}"),
            format!("provision_streams {does} stream `{stream}` {of}"),
        );
    }
}

/// What the durable consumer of `subscription` (on `channel`) and its dead letters need.
fn consumer(publish: &mut Grants, subscription: &Subscription, channel: &Channel) {
    let stream = &channel.stream;
    let durable = &subscription.durable;
    let of = format!("durable `{durable}` (subscription `{}`)", subscription.name);
    let calls = [
        (
            format!("$JS.API.STREAM.INFO.{stream}"),
            format!(
                "Consumer::start opens stream `{stream}` of channel `{}` for {of}",
                channel.name
            ),
        ),
        (
            format!("$JS.API.CONSUMER.CREATE.{stream}.{durable}"),
            format!("Consumer::start creates or updates {of}"),
        ),
        (
            format!("$JS.API.CONSUMER.INFO.{stream}.{durable}"),
            format!("checks that {of} still exists after a failed pull"),
        ),
        (
            format!("$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}"),
            format!("pulls the messages of {of}"),
        ),
        (
            format!("$JS.API.STREAM.MSG.GET.{stream}"),
            format!(
                "Consumer::run_with_inbox reads back the messages {of} left unacknowledged \
                 before a restart (per-aggregate order)"
            ),
        ),
        (
            format!("$JS.ACK.{stream}.{durable}.>"),
            format!("acks, naks, terms and in-progress of the messages of {of}"),
        ),
    ];
    for (subject, why) in calls {
        publish.add(subject, why);
    }
    if let Some(dead_letter) = &subscription.delivery.dead_letter {
        publish.add(
            format!("{}.*", dead_letter.subject),
            format!("dead letters of {of}, one subject token per event type"),
        );
        provisioned_stream(
            publish,
            &dead_letter.stream,
            &format!("for the dead letters of {of}"),
        );
    }
}

/// The bucket of the contract registry (`eventmap::nats::registry::BUCKET`).
const REGISTRY_BUCKET: &str = "EVENTMAP_CONTRACTS";

/// What the contract registry (runtime feature `contracts`) asks: a producer registers its
/// events' contracts, a consumer's guard reads them. Keys are read with direct gets of their
/// own subject (`$JS.API.DIRECT.GET.<stream>.$KV.<bucket>.<key>`): each event's and channel's
/// key, and the contracts (`schema.<fingerprint>`, one token).
fn registry(model: &Model, publish: &mut Grants) {
    let produces = !model.events.is_empty();
    let consumes = !model.subscriptions.is_empty();
    if !produces && !consumes {
        return;
    }
    let stream = format!("KV_{REGISTRY_BUCKET}");
    let who = match (produces, consumes) {
        (true, true) => "registering its contracts and checking its producers'",
        (true, false) => "registering its contracts",
        _ => "checking its producers' contracts",
    };
    publish.add(
        format!("$JS.API.STREAM.INFO.{stream}"),
        format!(
            "the contract registry (feature `contracts`): opens bucket `{REGISTRY_BUCKET}` for {who}"
        ),
    );
    let read = |publish: &mut Grants, key: String, why: String| {
        publish.add(
            format!("$JS.API.DIRECT.GET.{stream}.$KV.{REGISTRY_BUCKET}.{key}"),
            why,
        );
    };
    read(
        publish,
        "schema.*".to_owned(),
        format!("the contract registry: reads contracts by fingerprint for {who}"),
    );
    // (channel, event, published by this table)
    let mut events: Vec<(&Channel, &str, bool)> = Vec::new();
    for integration in model.events.iter().flat_map(|e| &e.integrations) {
        if let Some(channel) = channel(model, &integration.channel) {
            events.push((channel, &integration.name, true));
        }
    }
    for subscription in &model.subscriptions {
        if let Some(channel) = channel(model, &subscription.channel) {
            for event in &subscription.events {
                events.push((channel, &event.name, false));
            }
        }
    }
    let mut channels: Vec<&Channel> = Vec::new();
    for (channel, event, published) in &events {
        let key = format!("event.{}.{event}", channel.subject);
        read(
            publish,
            key.clone(),
            format!("the contract registry: reads the current contract of `{event}`"),
        );
        if *published {
            publish.add(
                format!("$KV.{REGISTRY_BUCKET}.{key}"),
                format!(
                    "ContractRegistry::register records the contract `{event}` is published with"
                ),
            );
        }
        if !channels.iter().any(|known| known.name == channel.name) {
            channels.push(channel);
        }
    }
    for channel in channels {
        let key = format!("channel.{}", channel.subject);
        read(
            publish,
            key.clone(),
            format!(
                "the contract registry: reads the events registered on channel `{}`",
                channel.name
            ),
        );
        if events
            .iter()
            .any(|(c, _, published)| *published && c.name == channel.name)
        {
            publish.add(
                format!("$KV.{REGISTRY_BUCKET}.{key}"),
                format!(
                    "ContractRegistry::register records the events of channel `{}`",
                    channel.name
                ),
            );
        }
    }
    if !produces {
        return;
    }
    publish.add(
        "$JS.API.INFO".to_owned(),
        "ContractRegistry::open creates the registry's bucket when absent (async-nats reads the account's limits first)".to_owned(),
    );
    publish.add(
        format!("$JS.API.STREAM.CREATE.{stream}"),
        format!("ContractRegistry::open creates bucket `{REGISTRY_BUCKET}` when absent"),
    );
    publish.add(
        format!("$KV.{REGISTRY_BUCKET}.schema.*"),
        "ContractRegistry::register stores each contract under its fingerprint".to_owned(),
    );
}

fn channel<'m>(model: &'m Model, name: &str) -> Option<&'m Channel> {
    model.channels.iter().find(|c| c.name == name)
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
