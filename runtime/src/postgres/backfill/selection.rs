//! What a backfill re-publishes ([`BackfillSelection`]) and where ([`BackfillTarget`]).

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::BackfillError;
use crate::sql::rows::to_nanos;

/// The stored events a [`Backfill`](super::Backfill) re-derives integration events from, and
/// the integration events it publishes. Every part left empty selects everything; the parts
/// combine with AND.
///
/// ```
/// # use eventmap::postgres::BackfillSelection;
/// let selection = BackfillSelection::default()
///     .aggregate_type("Order")
///     .event_names(["OrderCreated", "OrderReadied"])
///     .integration_events(["OrderReadiedEvent"]);
/// # let _ = selection;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BackfillSelection {
    /// Only events of this aggregate type (the store's aggregate name, e.g. `"Order"`).
    pub aggregate_type: Option<String>,
    /// Only events of these aggregate ids (empty: all).
    pub aggregate_ids: Vec<String>,
    /// Only domain events of these names, as the registry reads them today (after the
    /// upcasters, so an event renamed since it was stored is selected by its new name; empty:
    /// all).
    pub event_names: Vec<String>,
    /// Only these integration events (the table's names, e.g. `"OrderReadiedEvent"`: a v2
    /// contract row added to the table, published for the past; empty: every row of the
    /// selected events).
    pub integration_events: Vec<String>,
    /// Only events that occurred at or after this time (nanoseconds since the Unix epoch,
    /// as stored).
    pub occurred_from_ns: Option<i64>,
    /// Only events that occurred before this time (nanoseconds since the Unix epoch).
    pub occurred_before_ns: Option<i64>,
}

impl BackfillSelection {
    /// Sets [`Self::aggregate_type`].
    pub fn aggregate_type(mut self, aggregate_type: impl Into<String>) -> Self {
        self.aggregate_type = Some(aggregate_type.into());
        self
    }

    /// Sets [`Self::aggregate_ids`].
    pub fn aggregate_ids<S: Into<String>>(mut self, ids: impl IntoIterator<Item = S>) -> Self {
        self.aggregate_ids = ids.into_iter().map(Into::into).collect();
        self
    }

    /// Sets [`Self::event_names`].
    pub fn event_names<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.event_names = names.into_iter().map(Into::into).collect();
        self
    }

    /// Sets [`Self::integration_events`].
    pub fn integration_events<S: Into<String>>(
        mut self,
        names: impl IntoIterator<Item = S>,
    ) -> Self {
        self.integration_events = names.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the time range: events that occurred at or after `from` and before `before`
    /// (either bound may be `None`).
    ///
    /// # Errors
    ///
    /// [`BackfillError::InvalidSelection`] for a time the store cannot represent (about 292
    /// years around 1970).
    pub fn occurred(
        mut self,
        from: Option<SystemTime>,
        before: Option<SystemTime>,
    ) -> Result<Self, BackfillError> {
        let nanos = |time: SystemTime| {
            to_nanos(time).ok_or_else(|| BackfillError::InvalidSelection {
                reason: format!("time {time:?} is out of the store's range"),
            })
        };
        self.occurred_from_ns = from.map(nanos).transpose()?;
        self.occurred_before_ns = before.map(nanos).transpose()?;
        Ok(self)
    }
}

/// Where a [`Backfill`](super::Backfill) publishes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum BackfillTarget {
    /// The live subjects, as the relay publishes them: the same messages with the same
    /// `ce-id`/`Nats-Msg-Id`, so JetStream drops what its stream already holds within the
    /// duplicate window, and consumers deduplicating by `ce-id` (the inbox) drop the rest.
    #[default]
    Live,
    /// `<prefix>.<live subject>` (e.g. prefix `backfill.search`:
    /// `backfill.search.ordering.order.OrderCreatedEvent`), for one new consumer reading a
    /// stream bound to `<prefix>.>`; the channel's tokens and the event name stay, so the
    /// consumer decodes them as on the live channel. The stream must exist.
    Prefix(String),
}

impl BackfillTarget {
    /// Checks a prefix: dot-separated non-empty tokens, no wildcards, no whitespace.
    pub(super) fn check(&self) -> Result<(), BackfillError> {
        let Self::Prefix(prefix) = self else {
            return Ok(());
        };
        let bad = prefix.is_empty()
            || prefix
                .split('.')
                .any(|token| token.is_empty() || token == "*" || token == ">")
            || prefix.chars().any(|c| c.is_whitespace() || c.is_control());
        if bad {
            return Err(BackfillError::InvalidSelection {
                reason: format!(
                    "subject prefix {prefix:?}: dot-separated non-empty tokens without wildcards or whitespace"
                ),
            });
        }
        Ok(())
    }

    /// The subject a message of `subject` is published on.
    pub(super) fn subject(&self, subject: &str) -> Option<String> {
        match self {
            Self::Live => None,
            Self::Prefix(prefix) => Some(format!("{prefix}.{subject}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_checked_and_applied() {
        let target = BackfillTarget::Prefix("backfill.search".into());
        assert!(target.check().is_ok());
        assert_eq!(
            target
                .subject("ordering.order.OrderCreatedEvent")
                .as_deref(),
            Some("backfill.search.ordering.order.OrderCreatedEvent")
        );
        assert_eq!(BackfillTarget::Live.subject("a.b"), None);
        for bad in ["", "a..b", "a.*", "a.>", "a b", ".a"] {
            assert!(
                matches!(
                    BackfillTarget::Prefix(bad.into()).check(),
                    Err(BackfillError::InvalidSelection { .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn time_bounds_are_stored_in_nanoseconds() {
        let from = SystemTime::UNIX_EPOCH + std::time::Duration::new(10, 5);
        let selection = BackfillSelection::default()
            .occurred(Some(from), None)
            .unwrap();
        assert_eq!(selection.occurred_from_ns, Some(10_000_000_005));
        assert_eq!(selection.occurred_before_ns, None);
    }
}
