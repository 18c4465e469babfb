//! The layout of the contract registry: the JetStream key-value bucket in which producers
//! register the contracts they publish (the runtime's `eventmap::nats::ContractRegistry` writes
//! it, its consumer guard and `eventmap check --against-registry` read it). Kept here, without a
//! NATS client, so that every reader and writer agrees on one layout.
//!
//! Keys (NATS key-value keys may hold letters, digits, `-`, `_`, `=`, `/` and `.`; the NATS
//! documentation, "Key/Value Store"):
//!
//! * [`schema_key`] `schema.<fingerprint>`: a contract (an encoded [`Schema`](crate::Schema)),
//!   written once;
//! * [`event_key`] `event.<subject>`: the `dataschema` ([`Dataschema`](crate::Dataschema)) the
//!   last producer that registered publishes the event on `<subject>` with; earlier ones stay
//!   in the bucket's history;
//! * [`channel_key`] `channel.<channel subject>`: the integration events registered on the
//!   channel, one per line ([`channel_events`]).
//!
//! ```
//! use eventmap_contract::registry;
//! assert_eq!(
//!     registry::event_key("ordering.order.OrderReadiedEvent").unwrap(),
//!     "event.ordering.order.OrderReadiedEvent"
//! );
//! assert!(registry::event_key("ordering.*").is_err());
//! ```

use crate::Fingerprint;

/// The name of the key-value bucket of the contract registry.
pub const BUCKET: &str = "EVENTMAP_CONTRACTS";

/// Revisions kept per key (the most a NATS key-value bucket allows).
pub const HISTORY: i64 = 64;

/// A subject that cannot be part of a key-value key (a wildcard, a space, an empty subject).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the subject `{subject}` cannot be a contract registry key (letters, digits, `-`, `_`, `=`, `/` and `.` only)"
)]
pub struct InvalidSubject {
    /// The subject.
    pub subject: String,
}

/// `schema.<fingerprint>`: the key of the contract with `fingerprint`.
pub fn schema_key(fingerprint: &Fingerprint) -> String {
    format!("schema.{fingerprint}")
}

/// `event.<subject>`: the key of the `dataschema` of the event published on `subject`
/// (`<channel subject>.<integration event name>`).
///
/// # Errors
///
/// [`InvalidSubject`] when `subject` has a character a key cannot have.
pub fn event_key(subject: &str) -> Result<String, InvalidSubject> {
    key("event", subject)
}

/// `channel.<channel subject>`: the key of the events registered on a channel.
///
/// # Errors
///
/// [`InvalidSubject`] when `channel_subject` has a character a key cannot have.
pub fn channel_key(channel_subject: &str) -> Result<String, InvalidSubject> {
    key("channel", channel_subject)
}

/// The events of a [`channel_key`] value: one name per line, empty lines skipped (the value is
/// UTF-8; invalid bytes are replaced, as no event name has them).
pub fn channel_events(value: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(value)
        .lines()
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The value of a [`channel_key`]: `events`, one per line, in the order given.
pub fn channel_value<S: AsRef<str>>(events: impl IntoIterator<Item = S>) -> String {
    events
        .into_iter()
        .map(|e| e.as_ref().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

fn key(kind: &str, subject: &str) -> Result<String, InvalidSubject> {
    let valid = !subject.is_empty()
        && subject
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '=' | '/' | '.'));
    if valid {
        Ok(format!("{kind}.{subject}"))
    } else {
        Err(InvalidSubject {
            subject: subject.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_made_of_subjects_that_can_be_keys() {
        assert_eq!(
            event_key("billing.invoice.IssuedEvent").unwrap(),
            "event.billing.invoice.IssuedEvent"
        );
        assert_eq!(
            channel_key("billing.invoice").unwrap(),
            "channel.billing.invoice"
        );
        for subject in ["", "billing invoice", "billing.*", "billing.>"] {
            assert_eq!(
                event_key(subject),
                Err(InvalidSubject {
                    subject: subject.to_owned()
                }),
                "{subject:?}"
            );
        }
    }

    #[test]
    fn channel_values_round_trip() {
        let value = channel_value(["A", "B"]);
        assert_eq!(value, "A\nB");
        assert_eq!(channel_events(value.as_bytes()), ["A", "B"]);
        assert_eq!(channel_events(b"\nA\n\nB\n"), ["A", "B"]);
        assert!(channel_events(b"").is_empty());
    }
}
