//! Tables checked against the contracts live in a contract registry: what a deploy pipeline
//! asks before it deploys a service (`eventmap check --against-registry NATS_URL`).
//!
//! Producers register the contracts they publish on NATS when they start (the runtime's
//! `eventmap::nats::ContractRegistry`, layout in [`eventmap_contract::registry`]); consumers'
//! guards compare what arrives with what they were compiled with. This module does the same
//! comparison before the deploy, with the breaking rules of the guard
//! ([`eventmap_contract::compatibility`]):
//!
//! - a table that publishes an event with a contract other than the live one: the consumers
//!   compiled with the live contract must be able to read the table's
//!   (`registry-producer-break`);
//! - a table that subscribes to an event: its copy must read the live contract
//!   (`registry-consumer-incompatible`); producers must have registered the event when they
//!   registered its channel, or the consumer refuses to start (`registry-event-unregistered`);
//!   a channel no producer registered cannot be checked (`registry-channel-unregistered`,
//!   a warning);
//! - the registry itself names a contract it does not hold, or one that does not decode
//!   (`registry-invalid`).
//!
//! Reading the registry ([`read`], feature `registry`) and checking the tables against what was
//! read ([`check`]) are apart, so that the checks run on a [`Snapshot`] built in memory too.
//!
//! ```no_run
//! # #[cfg(feature = "registry")]
//! # fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use eventmap_codegen::{analyze, contract_registry};
//!
//! let mut analyses = vec![analyze(std::path::Path::new("mappings.yaml"))?];
//! let wanted = contract_registry::wanted(&analyses);
//! let snapshot = contract_registry::read(&contract_registry::Server::new("nats://127.0.0.1:4222"), &wanted)?;
//! contract_registry::check(&mut analyses, &snapshot);
//! # Ok(()) }
//! ```

#[cfg(feature = "registry")]
mod read;

use std::collections::{BTreeMap, BTreeSet};

use eventmap_contract::{Break, Dataschema, Schema, compatibility};

#[cfg(feature = "registry")]
pub use read::{ReadError, Server, read};

use crate::Analysis;
use crate::model::{Channel, IntegrationEvent, SubscribedEvent, Subscription};
use crate::rules;
use crate::system::{Found, Service, list};
use crate::validate::suggest::suggest;

/// The subjects whose registry entries [`check`] needs: every event a table publishes or
/// subscribes to, and every channel a table subscribes to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wanted {
    /// Event subjects (`<channel subject>.<integration event name>`).
    pub events: BTreeSet<String>,
    /// Subjects of the channels subscribed to.
    pub channels: BTreeSet<String>,
}

/// What a registry held for the [`Wanted`] subjects when it was read.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The server it was read from, as given (for messages).
    pub server: String,
    /// Whether the registry's bucket exists (no producer ever registered when it does not).
    pub exists: bool,
    /// The `dataschema` registered last per event subject; absent: not registered.
    pub events: BTreeMap<String, String>,
    /// The events registered per channel subject; absent: the channel is not registered.
    pub channels: BTreeMap<String, Vec<String>>,
    /// The contracts the registered `dataschema`s name, by fingerprint (lower-case hex): the
    /// schema, or why it cannot be used (absent, does not decode, another fingerprint).
    pub schemas: BTreeMap<String, Result<Schema, String>>,
}

impl Snapshot {
    /// The registry as the producers of `analyses` leave it once each has started: every
    /// integration event their valid tables publish, with its channel and contract (what the
    /// runtime's `ContractRegistry::register` writes). For trying a table against producers
    /// that are not deployed, and for tests.
    pub fn registered_by(server: impl Into<String>, analyses: &[Analysis]) -> Snapshot {
        let mut snapshot = Snapshot {
            server: server.into(),
            exists: true,
            ..Snapshot::default()
        };
        for (index, analysis) in analyses.iter().enumerate() {
            let Some(service) = Service::of(index, analysis) else {
                continue;
            };
            for (channel, integration) in published(&service) {
                let Some(contract) = service.model.contract(&integration.message.full_name) else {
                    continue;
                };
                let events = snapshot
                    .channels
                    .entry(channel.subject.clone())
                    .or_default();
                if !events.contains(&integration.name) {
                    events.push(integration.name.clone());
                    events.sort();
                }
                snapshot.events.insert(
                    subject(channel, &integration.name),
                    contract.dataschema.clone(),
                );
                if let (Ok(schema), Ok(dataschema)) = (
                    Schema::from_bytes(&contract.schema),
                    contract.dataschema.parse::<Dataschema>(),
                ) {
                    snapshot
                        .schemas
                        .insert(dataschema.fingerprint.to_string(), Ok(schema));
                }
            }
        }
        snapshot
    }
}

/// What [`check`] compared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Compared {
    /// Events whose live contract is the table's own (same fingerprint).
    pub same: usize,
    /// Events whose live contract differs and was compared with the breaking rules.
    pub differ: usize,
    /// Events no producer registered (new events of a producer, or unchecked subscriptions).
    pub unregistered: usize,
    /// Tables skipped because they have errors of their own.
    pub skipped: usize,
}

/// The subject of `event` published on `channel`: `<channel subject>.<event name>` (the
/// runtime's `ChannelSpec::subject_for`).
fn subject(channel: &Channel, event: &str) -> String {
    format!("{}.{event}", channel.subject)
}

/// The registry entries the valid tables of `analyses` need.
pub fn wanted(analyses: &[Analysis]) -> Wanted {
    let mut wanted = Wanted::default();
    for (index, analysis) in analyses.iter().enumerate() {
        let Some(service) = Service::of(index, analysis) else {
            continue;
        };
        for (channel, integration) in published(&service) {
            wanted.events.insert(subject(channel, &integration.name));
        }
        for (channel, subscription) in subscribed(&service) {
            wanted.channels.insert(channel.subject.clone());
            for event in &subscription.events {
                wanted.events.insert(subject(channel, &event.name));
            }
        }
    }
    wanted
}

/// Checks the valid tables of `analyses` against `snapshot` (see the module documentation)
/// and appends each problem to the diagnostics of its table. A table with errors of its own is
/// skipped (counted in [`Compared::skipped`]).
pub fn check(analyses: &mut [Analysis], snapshot: &Snapshot) -> Compared {
    let mut compared = Compared::default();
    let found = {
        let mut found = Found::default();
        for (index, analysis) in analyses.iter().enumerate() {
            let Some(service) = Service::of(index, analysis).filter(|_| !analysis.has_errors())
            else {
                compared.skipped += 1;
                continue;
            };
            for (channel, integration) in published(&service) {
                producer(
                    &service,
                    channel,
                    integration,
                    snapshot,
                    &mut compared,
                    &mut found,
                );
            }
            for (channel, subscription) in subscribed(&service) {
                consumer(
                    &service,
                    channel,
                    subscription,
                    snapshot,
                    &mut compared,
                    &mut found,
                );
            }
        }
        found.into_list()
    };
    for (index, diagnostic) in found {
        if let Some(analysis) = analyses.get_mut(index) {
            analysis.diagnostics.push(diagnostic);
        }
    }
    compared
}

/// The integration events a table publishes, with their channels.
fn published<'a>(
    service: &Service<'a>,
) -> impl Iterator<Item = (&'a Channel, &'a IntegrationEvent)> + 'a {
    let model = service.model;
    model
        .events
        .iter()
        .flat_map(|e| &e.integrations)
        .filter_map(move |i| Some((model.channels.iter().find(|c| c.name == i.channel)?, i)))
}

/// The subscriptions of a table, with their channels.
fn subscribed<'a>(
    service: &Service<'a>,
) -> impl Iterator<Item = (&'a Channel, &'a Subscription)> + 'a {
    let model = service.model;
    model
        .subscriptions
        .iter()
        .filter_map(move |s| Some((model.channels.iter().find(|c| c.name == s.channel)?, s)))
}

/// The live contract of the event on a subject, against the table's own one.
enum Live<'s> {
    /// Not registered.
    Unregistered,
    /// The table's own contract.
    Same,
    /// Another contract, usable.
    Other(&'s str, &'s Schema),
    /// Another contract the registry does not hold in a usable form (reported).
    Invalid,
}

impl<'s> Live<'s> {
    /// Counts `self` in `compared`; the other contract when there is one to compare.
    fn counted(self, compared: &mut Compared) -> Option<(&'s str, &'s Schema)> {
        match self {
            Live::Unregistered => compared.unregistered += 1,
            Live::Same => compared.same += 1,
            Live::Invalid => {}
            Live::Other(dataschema, schema) => {
                compared.differ += 1;
                return Some((dataschema, schema));
            }
        }
        None
    }
}

/// The live contract of the event on `subject` against the table's `own` `dataschema`; a
/// `registry-invalid` diagnostic added when the registry names one it cannot give.
fn live<'s>(
    service: &Service<'_>,
    snapshot: &'s Snapshot,
    subject: &str,
    own: &str,
    at: Option<crate::SourceLocation>,
    found: &mut Found,
) -> Live<'s> {
    let Some(dataschema) = snapshot.events.get(subject) else {
        return Live::Unregistered;
    };
    if dataschema == own {
        return Live::Same;
    }
    let problem = match dataschema.parse::<Dataschema>() {
        Err(err) => err.to_string(),
        Ok(parsed) => match snapshot.schemas.get(&parsed.fingerprint.to_string()) {
            Some(Ok(schema)) => return Live::Other(dataschema, schema),
            Some(Err(why)) => why.clone(),
            None => "the registry does not hold it".to_owned(),
        },
    };
    let d = found.add(
        service,
        rules::REGISTRY_INVALID,
        format!(
            "the registry at `{}` names the contract `{dataschema}` for `{subject}`, which cannot be read: {problem}",
            snapshot.server
        ),
        at,
    );
    d.hint =
        Some("restart a producer of the event so that it registers its contract again".to_owned());
    Live::Invalid
}

/// The table's own contract of `message`, decoded.
fn own_contract<'m>(service: &Service<'m>, message: &str) -> Option<(&'m str, Schema)> {
    let contract = service.model.contract(message)?;
    let schema = Schema::from_bytes(&contract.schema).ok()?;
    Some((contract.dataschema.as_str(), schema))
}

/// `registry-producer-break`: the table publishes `integration` with a contract that the
/// consumers of the live one cannot read.
fn producer(
    service: &Service<'_>,
    channel: &Channel,
    integration: &IntegrationEvent,
    snapshot: &Snapshot,
    compared: &mut Compared,
    found: &mut Found,
) {
    let Some((own, schema)) = own_contract(service, &integration.message.full_name) else {
        return;
    };
    let subject = subject(channel, &integration.name);
    let at = service.integration_loc(&integration.name);
    let Some((dataschema, live)) =
        live(service, snapshot, &subject, own, at.clone(), found).counted(compared)
    else {
        return;
    };
    for broken in compatibility(live, &schema) {
        let d = found.add(
            service,
            rules::REGISTRY_PRODUCER_BREAK,
            format!(
                "`{}` would publish `{}` on `{subject}` with a contract that consumers compiled with the live one cannot read: {broken}",
                service.name(),
                integration.name
            ),
            at.clone(),
        );
        d.notes.push((live_note(snapshot, dataschema), None));
        d.notes.push((
            format!("this table's contract: `{own}`"),
            local_place(service, &broken),
        ));
        d.hint = Some(producer_hint(&broken));
    }
}

/// `registry-consumer-incompatible`, `registry-event-unregistered` and
/// `registry-channel-unregistered` for one subscription.
fn consumer(
    service: &Service<'_>,
    channel: &Channel,
    subscription: &Subscription,
    snapshot: &Snapshot,
    compared: &mut Compared,
    found: &mut Found,
) {
    let Some(registered) = snapshot.channels.get(&channel.subject) else {
        compared.unregistered += subscription.events.len();
        let d = found.add(
            service,
            rules::REGISTRY_CHANNEL_UNREGISTERED,
            format!(
                "subscription `{}`: no producer registered contracts on `{}` at `{}`: its events cannot be checked",
                subscription.name, channel.subject, snapshot.server
            ),
            service.subscription_loc(&subscription.name),
        );
        d.hint = Some(if snapshot.exists {
            "deploy the channel's producer first (it registers its contracts when it starts), or check the channel's subject".to_owned()
        } else {
            format!(
                "the server has no contract registry yet (bucket `{}`): no producer registered",
                eventmap_contract::registry::BUCKET
            )
        });
        return;
    };
    for event in &subscription.events {
        let at = service.subscribed_loc(&subscription.name, &event.name);
        if !registered.contains(&event.name) {
            compared.unregistered += 1;
            unregistered(service, channel, subscription, event, registered, at, found);
            continue;
        }
        let Some((own, schema)) = own_contract(service, &event.message.full_name) else {
            continue;
        };
        let subject = subject(channel, &event.name);
        let Some((dataschema, live)) =
            live(service, snapshot, &subject, own, at.clone(), found).counted(compared)
        else {
            continue;
        };
        for broken in compatibility(&schema, live) {
            let d = found.add(
                service,
                rules::REGISTRY_CONSUMER_INCOMPATIBLE,
                format!(
                    "subscription `{}` cannot read `{}` as producers publish it now: {broken}",
                    subscription.name, event.name
                ),
                at.clone(),
            );
            d.notes.push((live_note(snapshot, dataschema), None));
            d.notes.push((
                format!("this table's copy: `{own}`"),
                local_place(service, &broken),
            ));
            d.hint = Some(format!(
                "update this table's `.proto` copy of `{}` to the producer's (a consumer may know fewer fields, never other numbers, types or cardinalities)",
                event.message.full_name
            ));
        }
    }
}

/// `registry-event-unregistered`: the channel is registered, the event is not.
fn unregistered(
    service: &Service<'_>,
    channel: &Channel,
    subscription: &Subscription,
    event: &SubscribedEvent,
    registered: &[String],
    at: Option<crate::SourceLocation>,
    found: &mut Found,
) {
    let d = found.add(
        service,
        rules::REGISTRY_EVENT_UNREGISTERED,
        format!(
            "subscription `{}` receives `{}`, which no producer registered on `{}`: the consumer would refuse to start",
            subscription.name, event.name, channel.subject
        ),
        at,
    );
    d.notes.push((
        format!("registered on `{}`: {}", channel.subject, list(registered)),
        None,
    ));
    d.hint = Some(
        match suggest(&event.name, registered.iter().map(String::as_str)) {
            Some(name) => format!("did you mean `{name}`?"),
            None => "deploy the producer that publishes it first, or subscribe to an event the channel carries".to_owned(),
        },
    );
}

/// Where the table's own `.proto` defines what `broken` is about: the field with the break's
/// number in the message of the same full name, else that message; `None` when the table's
/// protos have neither (a message the live contract has and the table's does not).
fn local_place(service: &Service<'_>, broken: &Break) -> Option<crate::SourceLocation> {
    let message = service.protos.pool().get_message_by_name(&broken.message)?;
    let field = u32::try_from(broken.number)
        .ok()
        .filter(|number| *number > 0)
        .and_then(|number| message.get_field(number));
    match field {
        Some(field) => service.protos.field_location(&field),
        None => service.protos.message_location(&message),
    }
}

fn live_note(snapshot: &Snapshot, dataschema: &str) -> String {
    format!(
        "live in the registry at `{}`: `{dataschema}`",
        snapshot.server
    )
}

fn producer_hint(broken: &Break) -> String {
    format!(
        "keep the change wire-compatible for `{}` (add fields, never renumber, retype or change cardinality), or publish the new contract as a new integration event and keep the old one until its consumers moved",
        broken.message
    )
}
