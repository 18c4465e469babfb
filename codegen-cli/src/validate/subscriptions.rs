//! Checks of `subscriptions:`, the consuming side of a table: the channel, the messages, the
//! durable consumer name and the delivery policy of each declared subscription.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use prost_reflect::MessageDescriptor;
use serde_saphyr::{Location, Spanned};

use super::Validator;
use super::channels::check_subject;
use super::proto_types::WELL_KNOWN_PACKAGE;
use crate::model::{Channel, ContractPolicy, DeliveryPolicy, SubscribedEvent, Subscription};
use crate::rules;
use crate::rust_names;
use crate::table::{self, Key, Table};

/// NATS consumer names may not contain whitespace, `.`, `*`, `>`, path separators or control
/// characters (NATS ADR-6, "name" rules).
fn check_durable(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("it is empty".into());
    }
    match name
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || matches!(c, '.' | '*' | '>' | '/' | '\\'))
    {
        Some(c) => Err(format!("it contains {c:?}")),
        None => Ok(()),
    }
}

/// The default durable name `<service>-<subscription>`, with the characters a consumer name
/// may not hold replaced by `_` (the runtime's `Consumer::start` rejects a name holding them).
fn default_durable(service: &str, subscription: &str) -> String {
    consumer_name(&format!("{service}-{subscription}"))
}

/// `text` with the characters a consumer name may not hold replaced by `_`.
fn consumer_name(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_whitespace() || c.is_control() || matches!(c, '.' | '*' | '>' | '/' | '\\') {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// Whether a subject with prefix `a` can be a subject with prefix `b` or the other way round
/// (one prefix is the other, or a token-wise prefix of it).
pub(crate) fn subjects_overlap(a: &str, b: &str) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    long == short || long.starts_with(&format!("{short}."))
}

impl Validator<'_> {
    /// Checks every subscription and returns the checked ones.
    pub(super) fn subscriptions(
        &mut self,
        table: &Table,
        used_channels: &mut HashSet<String>,
    ) -> Vec<Subscription> {
        let mut durables: HashMap<String, Location> = HashMap::new();
        let mut out = Vec::new();
        for (key, subscription) in &table.subscriptions {
            if let Some(checked) = self.subscription(table, key, subscription, used_channels) {
                if let Some(first) = durables.get(&checked.durable).copied() {
                    let note = self.cx.loc(first);
                    self.cx.error(
                        rules::DUPLICATE_DURABLE,
                        subscription
                            .durable
                            .as_ref()
                            .map_or(key.location(), |d| d.referenced),
                        format!(
                            "durable consumer `{}` is declared by two subscriptions: they would split each other's events",
                            checked.durable
                        ),
                    )
                    .notes
                    .push(("first declared here".into(), note));
                } else {
                    durables.insert(
                        checked.durable.clone(),
                        subscription
                            .durable
                            .as_ref()
                            .map_or(key.location(), |d| d.referenced),
                    );
                }
                out.push(checked);
            }
        }
        out
    }

    fn subscription(
        &mut self,
        table: &Table,
        key: &Key,
        subscription: &table::Subscription,
        used_channels: &mut HashSet<String>,
    ) -> Option<Subscription> {
        let mut ok = true;
        if !rust_names::is_identifier(key.as_str()) {
            self.cx.error(
                rules::INVALID_NAME,
                key.location(),
                format!(
                    "subscription name `{}` is not a valid identifier",
                    key.as_str()
                ),
            );
            ok = false;
        }
        ok &= self.channel_ref(table, &subscription.channel, used_channels);

        let (durable, durable_ok) = self.durable(table, key, subscription);
        ok &= durable_ok;

        let (events, events_ok) = self.subscribed_events(table, key, subscription);
        ok &= events_ok;

        let delivery = match &subscription.delivery {
            Some(delivery) => self.delivery(table, subscription, delivery),
            None => Some(DeliveryPolicy::default()),
        };
        match (ok, delivery) {
            (true, Some(delivery)) => Some(Subscription {
                name: key.as_str().to_owned(),
                channel: subscription.channel.value.clone(),
                durable,
                events,
                delivery,
                location: self.cx.loc(key.location()),
            }),
            _ => None,
        }
    }

    /// The events a subscription receives (at least one), and whether they are all valid.
    fn subscribed_events(
        &mut self,
        table: &Table,
        key: &Key,
        subscription: &table::Subscription,
    ) -> (Vec<SubscribedEvent>, bool) {
        let mut ok = true;
        if subscription.events.is_empty() {
            self.cx
                .error(
                    rules::EMPTY_SUBSCRIPTION,
                    key.location(),
                    format!("subscription `{}` receives no event", key.as_str()),
                )
                .hint = Some(
                "list the events under `events:`, e.g. `OrderCreatedEvent: OrderCreated`".into(),
            );
            ok = false;
        }
        let package = subscription.package.as_ref();
        let mut events = Vec::new();
        for (name, received) in &subscription.events {
            match self.subscribed_event(table, package, name, received) {
                Some(event) => events.push(event),
                None => ok = false,
            }
        }
        (events, ok)
    }

    /// The durable consumer name of a subscription (written, or the default), and whether it
    /// is valid.
    fn durable(
        &mut self,
        table: &Table,
        key: &Key,
        subscription: &table::Subscription,
    ) -> (String, bool) {
        let mut ok = true;
        let durable = match &subscription.durable {
            Some(durable) => {
                if let Err(why) = check_durable(&durable.value) {
                    self.cx
                        .error(
                            rules::INVALID_DURABLE,
                            durable.referenced,
                            format!(
                                "`{}` is not a valid JetStream consumer name: {why}",
                                durable.value
                            ),
                        )
                        .hint =
                        Some("use letters, digits, `-` and `_`, e.g. `search-orders`".into());
                    ok = false;
                } else {
                    // Two services sharing one durable name split each other's events.
                    let owner = consumer_name(&table.service.value);
                    if !durable.value.starts_with(&owner) {
                        self.cx.error(
                            rules::DURABLE_NOT_OWNED,
                            durable.referenced,
                            format!(
                                "durable consumer `{}` does not start with the service name `{owner}`",
                                durable.value
                            ),
                        )
                        .hint = Some(format!(
                            "name it `{owner}-...` so that no other service can share it by accident"
                        ));
                    }
                }
                durable.value.clone()
            }
            None => default_durable(&table.service.value, key.as_str()),
        };
        (durable, ok)
    }

    /// One event a subscription receives: its name and proto message (in the subscription's
    /// `package` when the name is not qualified).
    fn subscribed_event(
        &mut self,
        table: &Table,
        package: Option<&Spanned<String>>,
        name: &Key,
        received: &Spanned<table::Received>,
    ) -> Option<SubscribedEvent> {
        if !rust_names::is_identifier(name.as_str()) {
            self.cx.error(
                rules::INVALID_NAME,
                name.location(),
                format!(
                    "integration event name `{}` is not a valid Rust identifier and NATS subject token",
                    name.as_str()
                ),
            )
            .hint = Some(super::ce_type::name_hint(name.as_str()));
            return None;
        }
        let descriptor = self.received_message(package, received)?;
        Some(SubscribedEvent {
            name: name.as_str().to_owned(),
            ce_type: received
                .value
                .ce_type()
                .map_or_else(|| name.as_str().to_owned(), |t| t.value.clone()),
            message: self.message_type(table, &descriptor),
        })
    }

    /// The proto message of a received event (in the subscription's `package` when its name
    /// is not qualified): a message of that package, not a well-known type.
    fn received_message(
        &mut self,
        package: Option<&Spanned<String>>,
        received: &Spanned<table::Received>,
    ) -> Option<MessageDescriptor> {
        let message = &table::Received::message(received);
        let full_name = match package {
            Some(package) if !message.value.contains('.') => Spanned {
                value: format!("{}.{}", package.value, message.value),
                referenced: message.referenced,
                defined: message.defined,
            },
            _ => message.clone(),
        };
        let descriptor = self.message(&full_name)?;
        if let Some(package) = package
            && descriptor.package_name() != package.value
        {
            let note = self.cx.loc(package.referenced);
            self.cx.error(
                rules::PACKAGE_MISMATCH,
                message.referenced,
                format!(
                    "proto message `{}` is in package `{}`, not in the subscription's package `{}`",
                    descriptor.full_name(),
                    descriptor.package_name(),
                    package.value
                ),
            )
            .notes
            .push(("the package is declared here".into(), note));
            return None;
        }
        if descriptor.package_name() == WELL_KNOWN_PACKAGE {
            self.cx.error(
                rules::WELL_KNOWN_TYPE,
                message.referenced,
                format!(
                    "`{}` is a protobuf well-known type; an integration event has a message of its own",
                    descriptor.full_name()
                ),
            );
            return None;
        }
        Some(descriptor)
    }

    /// A duration written as humantime text (`500ms`, `30s`, `2m`), in milliseconds.
    fn duration(&mut self, text: &Spanned<String>, what: &str) -> Option<u64> {
        let parsed = humantime::parse_duration(text.value.trim());
        match parsed {
            Ok(duration) if duration.is_zero() => {
                self.cx.error(
                    rules::INVALID_DURATION,
                    text.referenced,
                    format!("{what} must be longer than zero"),
                );
                None
            }
            Ok(duration) if duration > Duration::from_secs(365 * 24 * 3600) => {
                self.cx.error(
                    rules::INVALID_DURATION,
                    text.referenced,
                    format!("{what} `{}` is longer than a year", text.value),
                );
                None
            }
            Ok(duration) => Some(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)),
            Err(err) => {
                self.cx
                    .error(
                        rules::INVALID_DURATION,
                        text.referenced,
                        format!("{what} `{}` is not a duration: {err}", text.value),
                    )
                    .hint = Some("write a number and a unit, e.g. `500ms`, `30s`, `2m`".into());
                None
            }
        }
    }

    fn delivery(
        &mut self,
        table: &Table,
        subscription: &table::Subscription,
        delivery: &table::Delivery,
    ) -> Option<DeliveryPolicy> {
        let mut ok = true;
        let deliver_new = match &delivery.deliver {
            None => false,
            Some(d) if d.value == "all" => false,
            Some(d) if d.value == "new" => true,
            Some(d) => {
                self.cx
                    .error(
                        rules::INVALID_DELIVERY,
                        d.referenced,
                        format!("`deliver: {}` is not a delivery start", d.value),
                    )
                    .hint =
                    Some("`all` (the stream's history, the default) or `new` (from now on)".into());
                ok = false;
                false
            }
        };
        let ack_wait_ms = match &delivery.ack_wait {
            Some(text) => {
                let parsed = self.duration(text, "ack_wait");
                ok &= parsed.is_some();
                parsed
            }
            None => None,
        };
        let max_deliver = match &delivery.max_deliver {
            Some(max) if max.value < 1 => {
                self.cx.error(
                    rules::INVALID_DELIVERY,
                    max.referenced,
                    format!("`max_deliver: {}` must be at least 1", max.value),
                );
                ok = false;
                None
            }
            Some(max) => Some(max.value),
            None => None,
        };
        let (backoff_ms, backoff_ok) = self.backoff(delivery);
        ok &= backoff_ok;
        let (dead_letter, dead_letter_ok) = self.dead_letter(table, subscription, delivery);
        ok &= dead_letter_ok;
        let on_incompatible = match &delivery.on_incompatible {
            None => None,
            Some(p) => {
                let policy = match p.value.as_str() {
                    "refuse" => Some(ContractPolicy::Refuse),
                    "dead-letter" => Some(ContractPolicy::DeadLetter),
                    "warn" => Some(ContractPolicy::Warn),
                    other => {
                        self.cx
                            .error(
                                rules::INVALID_DELIVERY,
                                p.referenced,
                                format!("`on_incompatible: {other}` is not a contract policy"),
                            )
                            .hint = Some(
                            "`refuse` (the default: stop before handling it), `dead-letter` or `warn`"
                                .into(),
                        );
                        ok = false;
                        None
                    }
                };
                if policy == Some(ContractPolicy::DeadLetter) && delivery.dead_letter.is_none() {
                    self.cx
                        .error(
                            rules::INVALID_DELIVERY,
                            p.referenced,
                            "`on_incompatible: dead-letter` without a `dead_letter:` channel would only terminate the messages".to_owned(),
                        )
                        .hint = Some("add `dead_letter: { subject: .., stream: .. }`".into());
                    ok = false;
                }
                policy
            }
        };
        ok.then_some(DeliveryPolicy {
            deliver_new,
            ack_wait_ms,
            max_deliver,
            backoff_ms,
            dead_letter,
            on_incompatible,
        })
    }

    /// The `backoff` steps in milliseconds, and whether they are valid; more steps than
    /// deliveries is a warning.
    fn backoff(&mut self, delivery: &table::Delivery) -> (Option<Vec<u64>>, bool) {
        let mut ok = true;
        let backoff_ms = match &delivery.backoff {
            Some(steps) => {
                let mut out = Vec::new();
                for step in steps {
                    match self.duration(step, "a backoff step") {
                        Some(ms) => out.push(ms),
                        None => ok = false,
                    }
                }
                if let (Some(max), Some(last)) = (&delivery.max_deliver, steps.last())
                    && i64::try_from(steps.len()).unwrap_or(i64::MAX) >= max.value
                    && max.value >= 1
                {
                    self.cx.error(
                        rules::UNUSED_BACKOFF,
                        last.referenced,
                        format!(
                            "{} backoff steps for at most {} deliveries: only the first {} are used",
                            steps.len(),
                            max.value,
                            max.value - 1
                        ),
                    );
                }
                Some(out)
            }
            None => None,
        };
        (backoff_ms, ok)
    }

    /// The dead-letter channel, and whether it is valid and apart from the consumed channel.
    fn dead_letter(
        &mut self,
        table: &Table,
        subscription: &table::Subscription,
        delivery: &table::Delivery,
    ) -> (Option<Channel>, bool) {
        let mut ok = true;
        let dead_letter = match &delivery.dead_letter {
            Some(channel) => {
                let subject_ok = self.subject(&channel.subject);
                ok &= self.stream(&channel.stream) && subject_ok;
                if subject_ok
                    && let Some(consumed) = table.channels.get(subscription.channel.value.as_str())
                    && check_subject(&consumed.subject.value).is_ok()
                    && subjects_overlap(&channel.subject.value, &consumed.subject.value)
                {
                    self.cx.error(
                        rules::DEAD_LETTER_IN_CHANNEL,
                        channel.subject.referenced,
                        format!(
                            "dead-letter subject `{}` overlaps the consumed channel's subject `{}`: dead letters would be consumed again",
                            channel.subject.value, consumed.subject.value
                        ),
                    )
                    .hint = Some(format!(
                        "use a subject of the service's own, e.g. `{}.dead-letter`",
                        table.service.value
                    ));
                    ok = false;
                }
                let replicas = self.replicas(channel.replicas.as_ref());
                Some(Channel {
                    name: String::from("dead_letter"),
                    subject: channel.subject.value.clone(),
                    stream: channel.stream.value.clone(),
                    replicas,
                })
            }
            None => None,
        };
        (dead_letter, ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durable_names() {
        assert!(check_durable("search-orders_2").is_ok());
        assert!(check_durable("").is_err());
        assert!(check_durable("a.b").unwrap_err().contains("'.'"));
        assert_eq!(default_durable("search", "orders"), "search-orders");
        assert_eq!(
            default_durable("shop.search", "orders"),
            "shop_search-orders"
        );
    }

    #[test]
    fn overlapping_subjects() {
        assert!(subjects_overlap("ordering.order", "ordering.order"));
        assert!(subjects_overlap("ordering.order.dlq", "ordering.order"));
        assert!(subjects_overlap("ordering", "ordering.order"));
        assert!(!subjects_overlap("ordering.orders", "ordering.order"));
        assert!(!subjects_overlap("search.dead-letter", "ordering.order"));
    }
}
