//! Events across tables: every event a subscription receives is published on its channel,
//! with the same proto message and CloudEvents type, and the consumer's copy of the message is
//! wire-compatible with the producer's (the rules of `--against`, the consumer's copy as the
//! baseline side: a consumer may know fewer fields).

use super::{Found, Producer, Resolved, Service, list};
use crate::breaking::proto::Compare;
use crate::breaking::{Break, Breaks};
use crate::model::{IntegrationEvent, SubscribedEvent};
use crate::rules;
use crate::validate::suggest::suggest;

/// How the notes of a compatibility break name the consumer's side.
const CONSUMER_COPY: &str = "this table's copy";

/// Checks every event of every subscription whose channel has producers.
pub(super) fn check(services: &[Service<'_>], links: &[Resolved<'_, '_>], found: &mut Found) {
    for link in links.iter().filter(|l| !l.producers.is_empty()) {
        for event in &link.subscription.events {
            let published = link.producers.iter().find_map(|producer| {
                producer
                    .service
                    .published_on(&producer.channel.name)
                    .find(|i| i.name == event.name)
                    .map(|i| (producer, i))
            });
            match published {
                None => not_published(services, link, event, found),
                Some((producer, integration)) => {
                    compare(link, event, producer, integration, found);
                }
            }
        }
    }
}

/// `event-not-published`: no producer of the channel publishes `event` on it.
fn not_published(
    services: &[Service<'_>],
    link: &Resolved<'_, '_>,
    event: &SubscribedEvent,
    found: &mut Found,
) {
    let consumer = link.consumer;
    let on_channel: Vec<(&Producer<'_, '_>, &IntegrationEvent)> = link
        .producers
        .iter()
        .flat_map(|p| p.service.published_on(&p.channel.name).map(move |i| (p, i)))
        .collect();
    let names: Vec<&str> = on_channel.iter().map(|(_, i)| i.name.as_str()).collect();
    let channel = &link.producers[0].channel;
    let d = found.add(
        consumer,
        rules::EVENT_NOT_PUBLISHED,
        format!(
            "subscription `{}` receives `{}`, which no table publishes on `{}`: it would never arrive",
            link.subscription.name, event.name, channel.subject
        ),
        consumer.subscribed_loc(&link.subscription.name, &event.name),
    );
    for producer in &link.producers {
        d.notes.push((
            format!(
                "`{}` publishes on `{}`: {}",
                producer.service.name(),
                producer.channel.subject,
                list(
                    &producer
                        .service
                        .published_on(&producer.channel.name)
                        .map(|i| i.name.as_str())
                        .collect::<Vec<_>>()
                )
            ),
            producer.service.subject_loc(&producer.channel.name),
        ));
    }
    // Published, but on another channel?
    for service in services {
        for integration in service
            .model
            .events
            .iter()
            .flat_map(|e| &e.integrations)
            .filter(|i| i.name == event.name)
        {
            let subject = service
                .channel(&integration.channel)
                .map_or("?", |c| c.subject.as_str());
            d.notes.push((
                format!(
                    "`{}` publishes `{}` on another channel, `{}` (subject `{subject}`), here",
                    service.name(),
                    integration.name,
                    integration.channel
                ),
                service.integration_loc(&integration.name),
            ));
        }
    }
    // An event of the channel with the same proto message first (a renamed event), then the
    // closest name.
    let same_message = on_channel
        .iter()
        .find(|(_, i)| i.message.full_name == event.message.full_name)
        .map(|(_, i)| i.name.as_str());
    d.hint = Some(match (same_message, suggest(&event.name, names.iter().copied())) {
        (Some(name), _) => format!(
            "did you mean `{name}`? (the channel carries `{}` under that name)",
            event.message.full_name
        ),
        (None, Some(name)) => format!("did you mean `{name}`?"),
        (None, None) => {
            "subscribe to an event the channel carries, or publish this one in the producer's table"
                .to_owned()
        }
    });
}

/// The published `integration` against the subscribed `event`: message, CloudEvents type,
/// then the consumer's copy of the message against the producer's.
fn compare(
    link: &Resolved<'_, '_>,
    event: &SubscribedEvent,
    producer: &Producer<'_, '_>,
    integration: &IntegrationEvent,
    found: &mut Found,
) {
    let consumer = link.consumer;
    let written = consumer
        .subscription(&link.subscription.name)
        .and_then(|s| s.events.get(event.name.as_str()));
    let published_here = (
        format!(
            "`{}` publishes `{}` as `{}` here",
            producer.service.name(),
            integration.name,
            integration.message.full_name
        ),
        producer.service.integration_loc(&integration.name),
    );
    if integration.message.full_name != event.message.full_name {
        let at = written
            .map(crate::table::Received::message)
            .and_then(|m| consumer.loc(m.referenced));
        let d = found.add(
            consumer,
            rules::EVENT_MESSAGE_MISMATCH,
            format!(
                "subscription `{}` decodes `{}` as `{}`, but `{}` publishes it as `{}`",
                link.subscription.name,
                event.name,
                event.message.full_name,
                producer.service.name(),
                integration.message.full_name
            ),
            at.or_else(|| consumer.subscribed_loc(&link.subscription.name, &event.name)),
        );
        let row = producer
            .service
            .side
            .integration(&integration.name)
            .and_then(|(_, row)| producer.service.loc(row.message.referenced));
        d.notes.push((published_here.0, row));
        d.hint = Some(format!("write `{}`", integration.message.full_name));
        return;
    }
    if integration.ce_type != event.ce_type {
        let at = written
            .and_then(|w| w.value.ce_type())
            .and_then(|t| consumer.loc(t.referenced))
            .or_else(|| consumer.subscribed_loc(&link.subscription.name, &event.name));
        let d = found.add(
            consumer,
            rules::EVENT_CE_TYPE_MISMATCH,
            format!(
                "subscription `{}` decodes `{}` by the CloudEvents type `{}`, but `{}` publishes it as `{}`: every message of it would be rejected",
                link.subscription.name,
                event.name,
                event.ce_type,
                producer.service.name(),
                integration.ce_type
            ),
            at,
        );
        d.notes.push(published_here.clone());
        d.hint = Some(if integration.ce_type == integration.name {
            format!("write `{}: {}`", event.name, event.message.full_name)
        } else {
            format!(
                "write `{}: {{ message: {}, ce_type: {} }}`",
                event.name, event.message.full_name, integration.ce_type
            )
        });
    }
    for broken in copy_breaks(consumer, producer, event) {
        incompatible(link, event, producer, &published_here, broken, found);
    }
}

/// The breaks between the consumer's copy of `event`'s message (the baseline side) and the
/// producer's, by the rules of `--against`. Reserved numbers and names are left out: the
/// consumer's reservations say nothing of what the producer sends.
fn copy_breaks(
    consumer: &Service<'_>,
    producer: &Producer<'_, '_>,
    event: &SubscribedEvent,
) -> Vec<Break> {
    let full_name = &event.message.full_name;
    let (Some(mine), Some(theirs)) = (
        consumer.protos.message(full_name),
        producer.service.protos.message(full_name),
    ) else {
        return Vec::new();
    };
    let mut breaks = Breaks::default();
    Compare::new(consumer.protos, producer.service.protos, &mut breaks)
        .base_side(CONSUMER_COPY)
        .messages(&mine, &theirs, &event.name);
    breaks
        .into_list()
        .into_iter()
        .filter(|b| b.diagnostic.rule != rules::BREAKING_RESERVED_REMOVED.id)
        .collect()
}

/// `incompatible-message-copy`: one break between the consumer's copy and the producer's
/// message, located at the subscribed event, the break's own places as notes.
fn incompatible(
    link: &Resolved<'_, '_>,
    event: &SubscribedEvent,
    producer: &Producer<'_, '_>,
    published_here: &(String, Option<crate::SourceLocation>),
    broken: Break,
    found: &mut Found,
) {
    let consumer = link.consumer;
    let diagnostic = broken.diagnostic;
    // A changed proto2 default leaves the wire as it is: the two sides read a value that is
    // not on the wire differently.
    let relation = if diagnostic.rule == rules::BREAKING_FIELD_DEFAULT_CHANGED.id {
        "reads an absent field as another value than"
    } else {
        "is not wire-compatible with"
    };
    let d = found.add(
        consumer,
        rules::INCOMPATIBLE_MESSAGE_COPY,
        format!(
            "`{}` consumes `{}`, whose message `{}` in `{}`'s protos {relation} this table's copy: {} [{}]",
            consumer.name(),
            event.name,
            event.message.full_name,
            producer.service.name(),
            diagnostic.message,
            diagnostic.rule
        ),
        consumer.subscribed_loc(&link.subscription.name, &event.name),
    );
    d.notes.push(published_here.clone());
    d.notes.push((
        format!(
            "`{}`'s definition (read the break as a change from this table's copy to the producer's)",
            producer.service.name()
        ),
        diagnostic.location,
    ));
    d.notes.extend(diagnostic.notes);
    // The rule's hint is written for a change to undo ("keep the type `int32`"); here either
    // side may have moved, so it says what the producer's `.proto` would need to match.
    let fix = diagnostic
        .hint
        .map(|h| {
            let h = h
                .strip_prefix("keep ")
                .map_or_else(|| h.clone(), |rest| format!("use {rest}"));
            format!(": {h}")
        })
        .unwrap_or_default();
    d.hint = Some(format!(
        "update this table's `.proto` copy of `{}` to the producer's, or make `{}`'s `.proto` match this copy{fix}",
        event.message.full_name,
        producer.service.name()
    ));
}
