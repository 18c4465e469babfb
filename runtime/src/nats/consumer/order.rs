//! Per-aggregate order across consumer crashes, for [`Consumer::run_with_inbox`]: the
//! messages of an aggregate that must be applied before a given one ("blockers"), and the
//! rule that holds a message while one of its blockers is outstanding.
//!
//! The rule uses the stream's order, never version arithmetic: the relay publishes each
//! aggregate's messages in version order, so within one stream a message of an aggregate with
//! a lower stream sequence is an earlier event of that aggregate. A blocker is a message known
//! to be outstanding for this consumer (delivered, not yet applied):
//!
//! * at start, the messages the previous instance left unacknowledged: the consumer's
//!   sequences between its ack floor and its last delivered sequence, read back from the
//!   stream (headers only matter), on the consumer's subjects, whose `ce-id` the inbox has
//!   not recorded ([`Consumer::scan_outstanding`]);
//! * while running, a message whose handler failed and that was naked for a redelivery.
//!
//! A message of aggregate `A` at stream sequence `s` is held while a blocker of `A` with a
//! sequence below `s` exists. A blocker goes when this consumer applies or gives it up, when
//! the inbox shows it applied (by another instance), or when the consumer's ack floor passes
//! it (it was acknowledged, by whoever). Event types a subscription does not take never reach
//! the consumer and are never blockers, so gaps in the versions are no problem.
//!
//! [`Consumer::run_with_inbox`]: super::Consumer::run_with_inbox
//! [`Consumer::scan_outstanding`]: super::Consumer::scan_outstanding

use std::collections::{HashMap, HashSet};

/// An aggregate: `(ce-aggregatetype, ce-aggregateid)`.
pub(super) type AggregateKey = (String, String);

/// One outstanding message of an aggregate.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Blocker {
    sequence: u64,
    id: String,
}

/// The outstanding messages by aggregate.
#[derive(Debug, Default)]
pub(super) struct Gate {
    blockers: HashMap<AggregateKey, Vec<Blocker>>,
}

impl Gate {
    /// Whether a message of `key` at stream `sequence` must wait: a message of the same
    /// aggregate earlier in the stream is outstanding.
    pub(super) fn holds(&self, key: &AggregateKey, sequence: u64) -> bool {
        self.blockers
            .get(key)
            .is_some_and(|list| list.iter().any(|blocker| blocker.sequence < sequence))
    }

    /// Records message `id` of `key` at `sequence` as outstanding.
    pub(super) fn block(&mut self, key: AggregateKey, sequence: u64, id: &str) {
        let list = self.blockers.entry(key).or_default();
        if !list.iter().any(|blocker| blocker.id == id) {
            list.push(Blocker {
                sequence,
                id: id.to_owned(),
            });
        }
    }

    /// Message `id` of `key` is no longer outstanding (applied, or given up).
    pub(super) fn clear(&mut self, key: &AggregateKey, id: &str) {
        if let Some(list) = self.blockers.get_mut(key) {
            list.retain(|blocker| blocker.id != id);
            if list.is_empty() {
                self.blockers.remove(key);
            }
        }
    }

    /// Drops the blockers acknowledged (sequence at or below the consumer's `ack_floor`) or
    /// applied (`ids`).
    pub(super) fn release(&mut self, ack_floor: u64, ids: &HashSet<String>) {
        self.blockers.retain(|_, list| {
            list.retain(|blocker| blocker.sequence > ack_floor && !ids.contains(&blocker.id));
            !list.is_empty()
        });
    }

    /// The ids of the outstanding messages.
    pub(super) fn ids(&self) -> Vec<&str> {
        self.blockers
            .values()
            .flatten()
            .map(|blocker| blocker.id.as_str())
            .collect()
    }

    /// Whether nothing is outstanding.
    pub(super) fn is_empty(&self) -> bool {
        self.blockers.is_empty()
    }
}

/// Whether NATS `subject` matches `filter` (`*` one token, `>` the rest).
pub(super) fn subject_matches(filter: &str, subject: &str) -> bool {
    let mut subject_tokens = subject.split('.');
    for token in filter.split('.') {
        match (token, subject_tokens.next()) {
            (">", Some(_)) => return true,
            ("*", Some(_)) => {}
            (wanted, Some(got)) if wanted == got => {}
            _ => return false,
        }
    }
    subject_tokens.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str) -> AggregateKey {
        ("Order".to_owned(), id.to_owned())
    }

    #[test]
    fn holds_only_later_messages_of_the_same_aggregate() {
        let mut gate = Gate::default();
        gate.block(key("a"), 10, "a-1");
        assert!(gate.holds(&key("a"), 11));
        assert!(!gate.holds(&key("a"), 10), "the blocker itself passes");
        assert!(!gate.holds(&key("a"), 9), "an earlier message passes");
        assert!(!gate.holds(&key("b"), 11), "another aggregate passes");
        gate.clear(&key("a"), "a-1");
        assert!(!gate.holds(&key("a"), 11));
        assert!(gate.is_empty());
    }

    #[test]
    fn releases_by_ack_floor_and_by_applied_ids() {
        let mut gate = Gate::default();
        gate.block(key("a"), 5, "a-1");
        gate.block(key("a"), 5, "a-1");
        gate.block(key("b"), 8, "b-1");
        gate.block(key("c"), 9, "c-1");
        assert_eq!(gate.ids().len(), 3, "a blocker recorded twice counts once");
        gate.release(5, &HashSet::from(["c-1".to_owned()]));
        assert_eq!(gate.ids(), vec!["b-1"]);
        assert!(gate.holds(&key("b"), 9));
        assert!(!gate.holds(&key("a"), 9));
    }

    #[test]
    fn subjects() {
        assert!(subject_matches(
            "ordering.order.Created",
            "ordering.order.Created"
        ));
        assert!(!subject_matches(
            "ordering.order.Created",
            "ordering.order.Readied"
        ));
        assert!(subject_matches(
            "ordering.order.>",
            "ordering.order.Readied"
        ));
        assert!(!subject_matches("ordering.order.>", "ordering.order"));
        assert!(subject_matches(
            "ordering.*.Readied",
            "ordering.order.Readied"
        ));
        assert!(!subject_matches("ordering.*", "ordering.order.Readied"));
    }
}
