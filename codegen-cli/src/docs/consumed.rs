//! The consuming side of a table for the documentation: each declared subscription resolved
//! against its channel and the protos ([`Consumed`]), and its delivery policy in words
//! ([`delivery`]).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use prost_reflect::MessageDescriptor;

use super::DocsError;
use crate::model::{Channel, DeliveryPolicy, Model, SubscribedEvent, Subscription};
use crate::protos::ProtoSet;
use crate::rust_names;

/// One subscription with everything the documentation says about it, in table order.
#[derive(Debug, Clone)]
pub struct Consumed<'a> {
    /// The subscription.
    pub subscription: &'a Subscription,
    /// The channel it consumes.
    pub channel: &'a Channel,
    /// The events it receives, in table order.
    pub events: Vec<ConsumedEvent<'a>>,
}

/// One integration event a subscription receives.
#[derive(Debug, Clone)]
pub struct ConsumedEvent<'a> {
    /// The event as the subscription declares it.
    pub event: &'a SubscribedEvent,
    /// Its proto message.
    pub message: MessageDescriptor,
    /// The subject it arrives on: `<channel subject>.<integration event name>`.
    pub subject: String,
}

impl<'a> Consumed<'a> {
    /// Every subscription of `model`, in table order, resolved against `protos`.
    ///
    /// # Errors
    /// [`DocsError::UnknownSubscriptionChannel`] or [`DocsError::UnknownMessage`] when the
    /// model and the protos disagree (a bug).
    pub fn collect(model: &'a Model, protos: &ProtoSet) -> Result<Vec<Consumed<'a>>, DocsError> {
        model
            .subscriptions
            .iter()
            .map(|subscription| {
                let channel = model
                    .channels
                    .iter()
                    .find(|c| c.name == subscription.channel)
                    .ok_or_else(|| DocsError::UnknownSubscriptionChannel {
                        subscription: subscription.name.clone(),
                        channel: subscription.channel.clone(),
                    })?;
                let events = subscription
                    .events
                    .iter()
                    .map(|event| {
                        let message =
                            protos.message(&event.message.full_name).ok_or_else(|| {
                                DocsError::UnknownMessage(event.message.full_name.clone())
                            })?;
                        Ok(ConsumedEvent {
                            event,
                            message,
                            subject: format!("{}.{}", channel.subject, event.name),
                        })
                    })
                    .collect::<Result<_, DocsError>>()?;
                Ok(Consumed {
                    subscription,
                    channel,
                    events,
                })
            })
            .collect()
    }

    /// The generated handler trait (`OrdersHandler`).
    pub fn handler_trait(&self) -> String {
        format!(
            "{}Handler",
            rust_names::type_prefix(&self.subscription.name)
        )
    }

    /// The generated router (`OrdersRouter`).
    pub fn router(&self) -> String {
        format!("{}Router", rust_names::type_prefix(&self.subscription.name))
    }

    /// The generated enum of the events received (`OrdersEvent`).
    pub fn event_enum(&self) -> String {
        format!("{}Event", rust_names::type_prefix(&self.subscription.name))
    }

    /// The subject the dead letters of `event` go to, when the policy has a dead-letter
    /// channel: `<dead-letter subject>.<event>`, `event` being the [`dead_letter_token`] of
    /// the event's `ce-type`.
    pub fn dead_letter_subject(&self, event: &str) -> Option<String> {
        self.subscription
            .delivery
            .dead_letter
            .as_ref()
            .map(|channel| format!("{}.{event}", channel.subject))
    }
}

impl ConsumedEvent<'_> {
    /// The method of the generated handler trait that receives the event
    /// (`order_created_event`).
    pub fn handler_method(&self) -> String {
        let method = rust_names::fn_ident(&self.event.name);
        method
            .strip_prefix("r#")
            .map_or(method.clone(), str::to_owned)
    }
}

/// The last subject token of a dead letter of the event with CloudEvents type `ce_type`, as
/// the runtime writes it (`eventmap::nats::dead_letter::subject`): every character other than
/// ASCII letters, digits, `-` and `_` replaced by `_` (`com.example.OrderCreated` ->
/// `com_example_OrderCreated`).
pub fn dead_letter_token(ce_type: &str) -> String {
    ce_type
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Stream names, each with its subject filters (`ordering.order.>`).
pub type Streams = Vec<(String, Vec<String>)>;

/// The streams the subscriptions read, with the subject filters of their channels, and the
/// dead-letter streams they write, sorted by stream name, each stream's filters sorted.
/// Returns `(consumed, dead_letters)`.
pub fn streams(consumed: &[Consumed<'_>]) -> (Streams, Streams) {
    let mut read: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut dead: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for c in consumed {
        read.entry(c.channel.stream.clone())
            .or_default()
            .insert(format!("{}.>", c.channel.subject));
        if let Some(channel) = &c.subscription.delivery.dead_letter {
            dead.entry(channel.stream.clone())
                .or_default()
                .insert(format!("{}.>", channel.subject));
        }
    }
    let list = |map: BTreeMap<String, BTreeSet<String>>| {
        map.into_iter()
            .map(|(stream, subjects)| (stream, subjects.into_iter().collect()))
            .collect()
    };
    (list(read), list(dead))
}

/// The delivery policy of a subscription in words: one `(what, how)` pair per setting, in a
/// fixed order, values as inline Markdown code. A setting the table leaves out is the
/// runtime's default (`eventmap::nats::DeliveryPolicy`). The dead-letter subject is that of
/// `event`, or `<subject>.<event name>` without one.
pub fn delivery(policy: &DeliveryPolicy, event: Option<&str>) -> Vec<(&'static str, String)> {
    const DEFAULT: &str = "the runtime's default";
    let start = if policy.deliver_new {
        "a new consumer starts with the events published from then on (`deliver: new`)".to_owned()
    } else {
        "a new consumer starts with the stream's history (`deliver: all`)".to_owned()
    };
    let ack_wait = match policy.ack_wait_ms {
        Some(ms) => format!(
            "{} (redelivered when neither acknowledged nor reported in progress by then)",
            duration(ms)
        ),
        None => DEFAULT.to_owned(),
    };
    let max_deliver = match policy.max_deliver {
        Some(1) => "1: a failed delivery is not retried".to_owned(),
        Some(max) => format!("{max}, the first included"),
        None => DEFAULT.to_owned(),
    };
    let backoff = match policy.backoff_ms.as_deref() {
        Some([]) => "none: redelivered at once after a failure".to_owned(),
        Some(steps) => format!(
            "{} (the delay before the redelivery after the n-th failure; the last repeats)",
            steps
                .iter()
                .map(|ms| duration(*ms))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        None => DEFAULT.to_owned(),
    };
    let dead_letter = match &policy.dead_letter {
        Some(channel) => format!(
            "`{}.{}` in the stream `{}` (after the last delivery failed)",
            channel.subject,
            event.unwrap_or("<event name>"),
            channel.stream
        ),
        None => "none declared".to_owned(),
    };
    vec![
        ("start", start),
        ("ack wait", ack_wait),
        ("max deliveries", max_deliver),
        ("backoff", backoff),
        ("dead letters", dead_letter),
    ]
}

/// `ms` milliseconds as the table writes a duration, as inline code (`` `1m 30s` ``).
fn duration(ms: u64) -> String {
    format!(
        "`{}`",
        humantime::format_duration(Duration::from_millis(ms))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_named_as_such() {
        let words = delivery(&DeliveryPolicy::default(), None);
        assert_eq!(
            words,
            vec![
                (
                    "start",
                    "a new consumer starts with the stream's history (`deliver: all`)".to_owned()
                ),
                ("ack wait", "the runtime's default".to_owned()),
                ("max deliveries", "the runtime's default".to_owned()),
                ("backoff", "the runtime's default".to_owned()),
                ("dead letters", "none declared".to_owned()),
            ]
        );
    }

    #[test]
    fn written_settings_are_shown_as_durations() {
        let policy = DeliveryPolicy {
            deliver_new: true,
            ack_wait_ms: Some(90_000),
            max_deliver: Some(1),
            backoff_ms: Some(vec![500, 60_000]),
            dead_letter: Some(Channel {
                name: "dead_letter".into(),
                subject: "svc.dlq".into(),
                stream: "SVC_DLQ".into(),
                replicas: 1,
            }),
            on_incompatible: None,
        };
        let words: BTreeMap<_, _> = delivery(&policy, None).into_iter().collect();
        assert!(words["start"].contains("`deliver: new`"));
        assert!(words["ack wait"].starts_with("`1m 30s`"), "{words:?}");
        assert_eq!(
            words["max deliveries"],
            "1: a failed delivery is not retried"
        );
        assert!(words["backoff"].starts_with("`500ms`, `1m` "), "{words:?}");
        assert!(
            words["dead letters"].starts_with("`svc.dlq.<event name>` in the stream `SVC_DLQ`")
        );
        let words: BTreeMap<_, _> = delivery(&policy, Some("Paid")).into_iter().collect();
        assert!(
            words["dead letters"].starts_with("`svc.dlq.Paid` in"),
            "{words:?}"
        );
    }
}
