//! What a producer's breaking change (`eventmap check --against` over several tables) breaks
//! for each consumer: the integration events a break reaches, and the subscriptions of the
//! other tables that receive them.

use std::collections::BTreeSet;
use std::path::Path;

use prost_reflect::{Kind, MessageDescriptor};

use super::Service;
use crate::Analysis;
use crate::breaking::side::Side;
use crate::breaking::{ACCEPTED_BREAKS_FILE, Break, accepted_breaks_path};
use crate::diagnostic::Diagnostic;
use crate::protos::ProtoSet;
use crate::rules;

/// For each break of the producer `analyses[producer]` against its `baseline`, a
/// `break-reaches-consumer` error in every other table of `analyses` with a subscription
/// that receives an integration event the break reaches; each diagnostic comes with the
/// index in `analyses` of the consumer's table it is located in (the subscribed event).
///
/// An event is reached by a break of its name, CloudEvents type, channel, message or mapped
/// fields, by a break of its channel's subject or stream, by a change of `service`, and by a
/// break of a proto message or enum its message uses (recursively, in the baseline's protos).
/// A consumer receives the event when its subscription's channel has the event's subject and
/// stream in the baseline or now. Tables without a checked model (errors of their own) are
/// left out; problems the cross-checks found do not keep a consumer from being told.
pub fn consumer_impacts(
    analyses: &[Analysis],
    producer: usize,
    baseline: &Analysis,
    breaks: &[Break],
) -> Vec<(usize, Diagnostic)> {
    let Some(base) = Side::of(baseline) else {
        return Vec::new();
    };
    let current = analyses
        .get(producer)
        .and_then(|a| Service::of(producer, a));
    let producer_name = current
        .as_ref()
        .map_or(base.table.service.value.as_str(), |s| s.name());
    let accepted = analyses
        .get(producer)
        .map(|a| accepted_breaks_path(&a.file));
    let consumers: Vec<Service<'_>> = analyses
        .iter()
        .enumerate()
        .filter(|(index, _)| *index != producer)
        .filter_map(|(index, a)| Service::of(index, a))
        .collect();
    let mut found = Vec::new();
    for broken in breaks {
        for event in affected(
            &broken.diagnostic,
            &broken.target,
            &base,
            baseline.protos.as_ref(),
        ) {
            let channels = [
                channel_of(&base, &event),
                current.as_ref().and_then(|c| channel_of(&c.side, &event)),
            ];
            for consumer in &consumers {
                for subscription in &consumer.model.subscriptions {
                    let Some(channel) = consumer.channel(&subscription.channel) else {
                        continue;
                    };
                    let on_channel = channels.iter().flatten().any(|(subject, stream)| {
                        *subject == channel.subject && *stream == channel.stream
                    });
                    if !on_channel || !subscription.events.iter().any(|e| e.name == event) {
                        continue;
                    }
                    found.push((
                        consumer.index,
                        reached(
                            consumer,
                            (&subscription.name, &event),
                            (producer_name, accepted.as_deref()),
                            broken,
                        ),
                    ));
                }
            }
        }
    }
    found
}

/// The `break-reaches-consumer` error of `broken` in `consumer`'s subscription, for its
/// event; `producer` is the producer's service and its accepted-breaks file.
fn reached(
    consumer: &Service<'_>,
    (subscription, event): (&str, &str),
    (producer, accepted): (&str, Option<&Path>),
    broken: &Break,
) -> Diagnostic {
    let source = &broken.diagnostic;
    let mut d = Diagnostic::new(
        rules::BREAK_REACHES_CONSUMER,
        format!(
            "`{}` consumes `{event}` (subscription `{subscription}`), which a change of `{producer}` breaks: {} [{}]",
            consumer.name(),
            source.message,
            source.rule
        ),
    )
    .at(consumer.subscribed_loc(subscription, event))
    .note(
        format!("the break, in `{producer}`'s table or protos"),
        source.location.clone(),
    );
    // The accepted-breaks file is the producer's, not the one next to this table.
    let file = format!("`{ACCEPTED_BREAKS_FILE}`");
    d.notes.extend(source.notes.iter().map(|(text, at)| {
        let text = match accepted {
            Some(path) => text.replacen(&file, &format!("`{}`", path.display()), 1),
            None => text.clone(),
        };
        (text, at.clone())
    }));
    d.hint(format!(
        "adapt `{}` to the new contract before `{producer}` publishes it, publish the change as a new integration event beside the old one, or undo it",
        consumer.name()
    ))
}

/// The subject and stream of the channel the integration event `event` is published on in
/// `side`'s table.
fn channel_of(side: &Side<'_>, event: &str) -> Option<(String, String)> {
    let (_, row) = side.integration(event)?;
    let channel = side.channel(&row.channel.value)?;
    Some((channel.subject.value.clone(), channel.stream.value.clone()))
}

/// The baseline names of the integration events a break reaches (see [`consumer_impacts`]).
fn affected(
    diagnostic: &Diagnostic,
    target: &str,
    base: &Side<'_>,
    protos: Option<&ProtoSet>,
) -> BTreeSet<String> {
    let rule = diagnostic.rule;
    let is = |r: rules::Rule| r.id == rule;
    let events = base.integrations().map(|(_, i)| i);
    if is(rules::BREAKING_SERVICE_CHANGED) {
        return events.map(|i| i.name.value.clone()).collect();
    }
    if is(rules::BREAKING_SUBJECT_CHANGED) || is(rules::BREAKING_STREAM_CHANGED) {
        return events
            .filter(|i| i.channel.value == target)
            .map(|i| i.name.value.clone())
            .collect();
    }
    let by_event = [
        rules::BREAKING_EVENT_REMOVED,
        rules::BREAKING_EVENT_RENAMED,
        rules::BREAKING_CE_TYPE_CHANGED,
        rules::BREAKING_EVENT_CHANNEL_CHANGED,
        rules::BREAKING_EVENT_MESSAGE_CHANGED,
        rules::BREAKING_FIELD_DEFAULTED,
        rules::BREAKING_CONST_CHANGED,
        rules::BREAKING_ENUM_MAPPING_CHANGED,
    ];
    if by_event.into_iter().any(is) {
        // `Event` or `Event.field.path`.
        let name = target.split('.').next().unwrap_or(target);
        return BTreeSet::from([name.to_owned()]);
    }
    // A proto element, by its baseline full name: `pkg.Message`, `pkg.Message.field`,
    // `pkg.Enum.VALUE`, `pkg.Message#reserved:5-7`.
    let Some(protos) = protos else {
        return BTreeSet::new();
    };
    let element = target.split('#').next().unwrap_or(target);
    let owner = if protos.message(element).is_some() || protos.enum_(element).is_some() {
        element
    } else {
        element.rsplit_once('.').map_or(element, |(owner, _)| owner)
    };
    events
        .filter(|i| {
            protos
                .message(&i.message.value)
                .is_some_and(|m| uses(&m, owner))
        })
        .map(|i| i.name.value.clone())
        .collect()
}

/// Whether `message` is `owner` or uses the message or enum `owner`, recursively through its
/// fields (map entries included).
fn uses(message: &MessageDescriptor, owner: &str) -> bool {
    let mut seen = BTreeSet::new();
    let mut stack = vec![message.clone()];
    while let Some(message) = stack.pop() {
        if message.full_name() == owner {
            return true;
        }
        if !seen.insert(message.full_name().to_owned()) {
            continue;
        }
        for field in message.fields() {
            match field.kind() {
                Kind::Message(m) => stack.push(m),
                Kind::Enum(e) if e.full_name() == owner => return true,
                _ => {}
            }
        }
    }
    false
}
