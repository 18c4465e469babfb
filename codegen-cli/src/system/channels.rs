//! Channels across tables: each subscription's channel is a producer's channel (same subject
//! and stream), and no dead-letter subject overlaps another table's channels or dead letters.

use super::{Found, Producer, Resolved, Service, list};
use crate::model;
use crate::rules;
use crate::validate::subscriptions::subjects_overlap;
use crate::validate::suggest::suggest;

/// Finds the producers of every subscription's channel; reports the channels no table
/// publishes on (once per consumed channel, with a note at each subscription) and those with
/// a producer's subject in another stream. Returns the subscriptions with their producers.
pub(super) fn check<'s, 'a>(
    services: &'s [Service<'a>],
    found: &mut Found,
) -> Vec<Resolved<'s, 'a>> {
    let mut resolved = Vec::new();
    for consumer in services {
        let mut reported: Vec<&str> = Vec::new();
        for subscription in &consumer.model.subscriptions {
            let Some(channel) = consumer.channel(&subscription.channel) else {
                continue;
            };
            let same_subject: Vec<Producer<'s, 'a>> = services
                .iter()
                .flat_map(|service| {
                    service
                        .published_channels()
                        .filter(|c| c.subject == channel.subject)
                        .map(move |c| Producer {
                            service,
                            channel: c,
                        })
                })
                .collect();
            let (producers, elsewhere): (Vec<_>, Vec<_>) = same_subject
                .into_iter()
                .partition(|p| p.channel.stream == channel.stream);
            if producers.is_empty() && !reported.contains(&channel.name.as_str()) {
                reported.push(&channel.name);
                if elsewhere.is_empty() {
                    not_published(services, consumer, channel, found);
                } else {
                    stream_mismatch(consumer, channel, &elsewhere, found);
                }
            }
            resolved.push(Resolved {
                consumer,
                subscription,
                producers,
            });
        }
    }
    resolved
}

/// `channel-not-published`: no table publishes on the subject of the consumer's `channel`.
fn not_published(
    services: &[Service<'_>],
    consumer: &Service<'_>,
    channel: &model::Channel,
    found: &mut Found,
) {
    let published: Vec<(&Service<'_>, &model::Channel)> = services
        .iter()
        .flat_map(|s| s.published_channels().map(move |c| (s, c)))
        .collect();
    let subjects: Vec<String> = published
        .iter()
        .map(|(s, c)| format!("{} ({})", c.subject, s.name()))
        .collect();
    let closest = suggest(
        &channel.subject,
        published.iter().map(|(_, c)| c.subject.as_str()),
    );
    let d = found.add(
        consumer,
        rules::CHANNEL_NOT_PUBLISHED,
        format!(
            "channel `{}` (subject `{}`, stream `{}`) is published on by none of the tables checked together: its subscriptions would receive nothing",
            channel.name, channel.subject, channel.stream
        ),
        consumer.subject_loc(&channel.name),
    );
    for subscription in consumer
        .model
        .subscriptions
        .iter()
        .filter(|s| s.channel == channel.name)
    {
        d.notes.push((
            format!("subscription `{}` consumes it here", subscription.name),
            consumer.subscription_loc(&subscription.name),
        ));
    }
    if let Some((producer, subject)) = closest.and_then(|subject| {
        published
            .iter()
            .find(|(_, c)| c.subject == subject)
            .map(|(s, c)| (s, c))
    }) {
        d.notes.push((
            format!(
                "`{}` publishes on subject `{}` (channel `{}`) here",
                producer.name(),
                subject.subject,
                subject.name
            ),
            producer.subject_loc(&subject.name),
        ));
        d.hint = Some(format!("did you mean `{}`?", subject.subject));
    } else {
        d.notes
            .push((format!("the tables publish on: {}", list(&subjects)), None));
        d.hint = Some(
            "write the producer's subject and stream as its table declares them, or give the producer's table too (`--mappings`)"
                .to_owned(),
        );
    }
}

/// `channel-stream-mismatch`: producers publish on the subject, in another stream.
fn stream_mismatch(
    consumer: &Service<'_>,
    channel: &model::Channel,
    producers: &[Producer<'_, '_>],
    found: &mut Found,
) {
    let d = found.add(
        consumer,
        rules::CHANNEL_STREAM_MISMATCH,
        format!(
            "channel `{}` has the subject `{}` of a producer's channel but the stream `{}`, which holds none of its events",
            channel.name, channel.subject, channel.stream
        ),
        consumer.stream_loc(&channel.name),
    );
    for producer in producers {
        d.notes.push((
            format!(
                "`{}` publishes on `{}` in stream `{}` here",
                producer.service.name(),
                producer.channel.subject,
                producer.channel.stream
            ),
            producer.service.stream_loc(&producer.channel.name),
        ));
    }
    if let Some(first) = producers.first() {
        d.hint = Some(format!("write `stream: {}`", first.channel.stream));
    }
}

/// `dead-letter-overlap`: a subscription's dead-letter subject overlaps a channel another
/// table publishes on, or another table's dead-letter subject (the table's own consumed
/// channel is `dead-letter-in-channel`, the table's own check).
pub(super) fn dead_letters(services: &[Service<'_>], found: &mut Found) {
    for consumer in services {
        for subscription in &consumer.model.subscriptions {
            let Some(dead_letter) = &subscription.delivery.dead_letter else {
                continue;
            };
            let at = dead_letter_loc(consumer, &subscription.name);
            for other in services.iter().filter(|s| s.index != consumer.index) {
                for place in subjects(other)
                    .into_iter()
                    .filter(|p| subjects_overlap(&dead_letter.subject, &p.subject))
                {
                    let d = found.add(
                        consumer,
                        rules::DEAD_LETTER_OVERLAP,
                        format!(
                            "the dead-letter subject `{}` of subscription `{}` overlaps `{}` of `{}`: their messages would mix",
                            dead_letter.subject,
                            subscription.name,
                            place.subject,
                            other.name()
                        ),
                        at.clone(),
                    );
                    d.notes.push((place.note, place.location));
                    d.hint = Some(format!(
                        "use a subject of the service's own, e.g. `{}.dead-letter`",
                        consumer.name()
                    ));
                }
            }
        }
    }
}

/// A subject a table uses: a channel it publishes on, or a dead-letter subject.
struct Place {
    subject: String,
    /// What it is, for the note.
    note: String,
    location: Option<crate::SourceLocation>,
}

/// The subjects `service` publishes on: its channels, then its dead-letter subjects.
fn subjects(service: &Service<'_>) -> Vec<Place> {
    let channels = service.published_channels().map(|c| Place {
        subject: c.subject.clone(),
        note: format!(
            "`{}` publishes on `{}` (channel `{}`) here",
            service.name(),
            c.subject,
            c.name
        ),
        location: service.subject_loc(&c.name),
    });
    let dead = service.model.subscriptions.iter().filter_map(|s| {
        let theirs = s.delivery.dead_letter.as_ref()?;
        Some(Place {
            subject: theirs.subject.clone(),
            note: format!(
                "`{}` dead-letters subscription `{}` on `{}` here",
                service.name(),
                s.name,
                theirs.subject
            ),
            location: dead_letter_loc(service, &s.name),
        })
    });
    channels.chain(dead).collect()
}

/// Where the dead-letter subject of the subscription `name` of `service` is written.
fn dead_letter_loc(service: &Service<'_>, name: &str) -> Option<crate::SourceLocation> {
    service
        .subscription(name)
        .and_then(|s| s.delivery.as_ref())
        .and_then(|d| d.dead_letter.as_ref())
        .and_then(|c| service.loc(c.subject.referenced))
}
