//! Event-level rules, from the tables: `service`, integration events removed or renamed,
//! channels (subject, stream), the message an event carries; then the fields the table fills
//! ([`super::mapped`]).

use std::collections::HashSet;

use prost_reflect::MessageDescriptor;

use super::mapped::{Walk, fields};
use super::side::Side;
use super::{Breaks, baseline_note};
use crate::rules;
use crate::table::{Integration, Key};

/// Two versions of the message of one integration event, to compare field by field.
pub(crate) struct Pair {
    /// The integration event, by its baseline name.
    pub event: String,
    /// The baseline's message.
    pub old: MessageDescriptor,
    /// The current message.
    pub new: MessageDescriptor,
}

/// An integration event of the baseline and what it is now.
struct Matched<'s> {
    old: &'s Integration,
    new: &'s Integration,
    /// Matched by domain event and message under a new name (reported as renamed).
    renamed: bool,
}

/// Reports the event-level breaks and returns the message pairs to compare.
pub(crate) fn compare(base: &Side<'_>, cur: &Side<'_>, out: &mut Breaks) -> Vec<Pair> {
    service(base, cur, out);
    let matched = match_events(base, cur, out);
    channels(base, cur, &matched, out);
    let mut pairs = Vec::new();
    for m in &matched {
        event(base, cur, m, out, &mut pairs);
    }
    pairs
}

fn service(base: &Side<'_>, cur: &Side<'_>, out: &mut Breaks) {
    let (old, new) = (&base.table.service, &cur.table.service);
    if old.value != new.value {
        let d = out.add(
            rules::BREAKING_SERVICE_CHANGED,
            "service",
            format!(
                "`service` changed from `{}` to `{}`: every integration event's `ce-source` changes",
                old.value, new.value
            ),
            cur.loc(new.referenced),
        );
        d.notes
            .push(baseline_note("it was set here", base.loc(old.referenced)));
        d.hint = Some(format!("keep `service: {}`", old.value));
    }
}

/// Pairs every baseline integration event with the current one of the same name, or with
/// a renamed one (a new name for the same domain event and message); reports the others
/// as removed.
fn match_events<'s>(base: &'s Side<'_>, cur: &'s Side<'_>, out: &mut Breaks) -> Vec<Matched<'s>> {
    let base_names: HashSet<&str> = base
        .integrations()
        .map(|(_, i)| i.name.value.as_str())
        .collect();
    let mut seen = HashSet::new();
    let mut claimed = HashSet::new();
    let mut matched = Vec::new();
    for (domain, old) in base.integrations() {
        if !seen.insert(old.name.value.as_str()) {
            continue;
        }
        if let Some((_, new)) = cur.integration(&old.name.value) {
            matched.push(Matched {
                old,
                new,
                renamed: false,
            });
            continue;
        }
        let renamed = cur.integrations().find(|(key, new)| {
            key.as_str() == domain.as_str()
                && new.message.value == old.message.value
                && !base_names.contains(new.name.value.as_str())
                && !claimed.contains(new.name.value.as_str())
        });
        match renamed {
            Some((_, new)) => {
                claimed.insert(new.name.value.as_str());
                renamed_event(base, cur, domain, old, new, out);
                matched.push(Matched {
                    old,
                    new,
                    renamed: true,
                });
            }
            None => removed_event(base, cur, domain, old, out),
        }
    }
    matched
}

fn renamed_event(
    base: &Side<'_>,
    cur: &Side<'_>,
    domain: &Key,
    old: &Integration,
    new: &Integration,
    out: &mut Breaks,
) {
    let subject = base
        .channel(&old.channel.value)
        .map_or_else(String::new, |c| {
            format!(" on `{}.{}`", c.subject.value, old.name.value)
        });
    let d = out.add(
        rules::BREAKING_EVENT_RENAMED,
        old.name.value.clone(),
        format!(
            "integration event `{}` was renamed to `{}` (domain event `{}`, message `{}`): consumers subscribe to `{}`{subject}",
            old.name.value,
            new.name.value,
            domain.as_str(),
            old.message.value,
            old.name.value,
        ),
        cur.loc(new.name.referenced),
    );
    d.notes.push(baseline_note(
        format!("`{}` was defined here", old.name.value),
        base.loc(old.name.referenced),
    ));
    d.hint = Some(format!(
        "publish both: keep `{}` next to `{}` under `{}` until every consumer moved",
        old.name.value,
        new.name.value,
        domain.as_str()
    ));
}

fn removed_event(
    base: &Side<'_>,
    cur: &Side<'_>,
    domain: &Key,
    old: &Integration,
    out: &mut Breaks,
) {
    let was_here = base.loc(old.name.referenced);
    let (location, gone) = match cur.domain_event(domain.as_str()) {
        Some(key) => (cur.loc(key.location()), ""),
        None => (
            cur.events_key(),
            " (its domain event is no longer in the table)",
        ),
    };
    let location_is_baseline = location.is_none();
    let d = out.add(
        rules::BREAKING_EVENT_REMOVED,
        old.name.value.clone(),
        format!(
            "integration event `{}` (domain event `{}`, channel `{}`) is no longer published{gone}",
            old.name.value,
            domain.as_str(),
            old.channel.value
        ),
        location.or_else(|| was_here.clone()),
    );
    let note = if location_is_baseline {
        "it was defined here (this location is in the baseline)"
    } else {
        "it was defined here"
    };
    d.notes.push(baseline_note(note, was_here));
}

/// Subject and stream changes of channels that carry integration events in both versions.
fn channels(base: &Side<'_>, cur: &Side<'_>, matched: &[Matched<'_>], out: &mut Breaks) {
    for (key, old) in &base.table.channels {
        let Some(new) = cur.channel(key.as_str()) else {
            continue;
        };
        let carried: Vec<String> = matched
            .iter()
            .filter(|m| m.old.channel.value == key.as_str() && m.new.channel.value == key.as_str())
            .map(|m| format!("`{}`", m.new.name.value))
            .collect();
        if carried.is_empty() {
            continue;
        }
        let carried = carried.join(", ");
        if old.subject.value != new.subject.value {
            let d = out.add(
                rules::BREAKING_SUBJECT_CHANGED,
                key.as_str(),
                format!(
                    "the subject of channel `{}` changed from `{}` to `{}`: consumers of {carried} listen on `{}.>`",
                    key.as_str(),
                    old.subject.value,
                    new.subject.value,
                    old.subject.value
                ),
                cur.loc(new.subject.referenced),
            );
            d.notes.push(baseline_note(
                "it was set here",
                base.loc(old.subject.referenced),
            ));
            d.hint = Some(format!(
                "keep `subject: {}`; to move the events, publish them on a new channel next to this one until consumers moved",
                old.subject.value
            ));
        }
        if old.stream.value != new.stream.value {
            let d = out.add(
                rules::BREAKING_STREAM_CHANGED,
                key.as_str(),
                format!(
                    "the stream of channel `{}` changed from `{}` to `{}`: consumers bound to `{}` no longer receive {carried}",
                    key.as_str(),
                    old.stream.value,
                    new.stream.value,
                    old.stream.value
                ),
                cur.loc(new.stream.referenced),
            );
            d.notes.push(baseline_note(
                "it was set here",
                base.loc(old.stream.referenced),
            ));
            d.hint = Some(format!("keep `stream: {}`", old.stream.value));
        }
    }
}

/// The CloudEvents type of an integration event that kept its name: the `ce_type`, or the
/// name without one.
fn ce_type(
    base: &Side<'_>,
    cur: &Side<'_>,
    old: &Integration,
    new: &Integration,
    out: &mut Breaks,
) {
    let effective = |row: &Integration| {
        row.ce_type
            .as_ref()
            .map_or(row.name.value.clone(), |t| t.value.clone())
    };
    let (was, is) = (effective(old), effective(new));
    if was == is {
        return;
    }
    let name = &old.name.value;
    let at = |row: &Integration| {
        row.ce_type
            .as_ref()
            .map_or(row.name.referenced, |t| t.referenced)
    };
    let d = out.add(
        rules::BREAKING_CE_TYPE_CHANGED,
        name.clone(),
        format!(
            "the CloudEvents type of integration event `{name}` changed from `{was}` to `{is}`: its consumers decode by `ce-type` and would reject `{is}` as an unknown event"
        ),
        cur.loc(at(new)),
    );
    let note = if old.ce_type.is_some() {
        "its `ce_type` was set here"
    } else {
        "it had no `ce_type` (the name was its type)"
    };
    d.notes.push(baseline_note(note, base.loc(at(old))));
    d.hint = Some(if old.ce_type.is_some() {
        format!(
            "keep `ce_type: {was}`; to change it, publish a new integration event with the new type next to `{name}` until every consumer moved"
        )
    } else {
        format!(
            "remove the `ce_type` (the type stays `{was}`), or publish a new integration event with `ce_type: {is}` next to `{name}` until every consumer moved"
        )
    });
}

/// The channel, the message and the fields of one integration event.
fn event(
    base: &Side<'_>,
    cur: &Side<'_>,
    m: &Matched<'_>,
    out: &mut Breaks,
    pairs: &mut Vec<Pair>,
) {
    let (old, new) = (m.old, m.new);
    let name = &old.name.value;
    if !m.renamed {
        ce_type(base, cur, old, new, out);
    }
    if old.channel.value != new.channel.value {
        event_channel(base, cur, old, new, out);
    }
    let old_message = base.message(&old.message.value);
    let new_message = cur.message(&new.message.value);
    if old.message.value != new.message.value {
        let switched = cur.message(&old.message.value).is_some()
            || old_message.is_none()
            || new_message.is_none();
        if switched {
            message_switched(base, cur, old, new, out);
            return;
        }
    }
    let mut walk = Walk {
        base,
        cur,
        event: name,
        out,
    };
    fields(
        &mut walk,
        name,
        old_message.as_ref(),
        new_message.as_ref(),
        &old.fields,
        &new.fields,
    );
    if let (Some(old), Some(new)) = (old_message, new_message) {
        pairs.push(Pair {
            event: name.clone(),
            old,
            new,
        });
    }
}

/// The channel of an integration event set to another one: a break unless both have the
/// same subject and stream.
fn event_channel(
    base: &Side<'_>,
    cur: &Side<'_>,
    old: &Integration,
    new: &Integration,
    out: &mut Breaks,
) {
    let name = &old.name.value;
    let describe = |side: &Side<'_>, channel: &str| match side.channel(channel) {
        Some(c) => (
            Some((c.subject.value.clone(), c.stream.value.clone())),
            format!(
                "channel `{channel}` (subject `{}`, stream `{}`)",
                c.subject.value, c.stream.value
            ),
        ),
        None => (None, format!("channel `{channel}`")),
    };
    let (was, was_text) = describe(base, &old.channel.value);
    let (is, is_text) = describe(cur, &new.channel.value);
    if was.is_none() || was != is {
        let d = out.add(
            rules::BREAKING_EVENT_CHANNEL_CHANGED,
            name.clone(),
            format!("integration event `{name}` moved from {was_text} to {is_text}"),
            cur.loc(new.channel.referenced),
        );
        d.notes.push(baseline_note(
            "its channel was set here",
            base.loc(old.channel.referenced),
        ));
        d.hint = Some(format!(
            "keep `channel: {}`; to move it, publish it on both channels (a second integration event) until consumers moved",
            old.channel.value
        ));
    }
}

/// Reports an integration event now encoded as another message.
fn message_switched(
    base: &Side<'_>,
    cur: &Side<'_>,
    old: &Integration,
    new: &Integration,
    out: &mut Breaks,
) {
    let name = &old.name.value;
    let d = out.add(
        rules::BREAKING_EVENT_MESSAGE_CHANGED,
        name.clone(),
        format!(
            "integration event `{name}` is now encoded as `{}` instead of `{}`: its consumers decode `{}`",
            new.message.value, old.message.value, old.message.value
        ),
        cur.loc(new.message.referenced),
    );
    d.notes.push(baseline_note(
        "its message was set here",
        base.loc(old.message.referenced),
    ));
    d.hint = Some(format!(
        "publish `{}` as a new integration event (e.g. `{name}V2`) next to `{name}`",
        new.message.value
    ));
}
