//! [`Selection`]: which dead letters `replay` and `purge` act on: ids, event types, a time
//! range, or all, narrowed to one subscription.

use std::time::SystemTime;

use clap::Args;

use super::store::{DeadLetter, DeadLetterId};
use crate::OpsError;

/// The dead letters a command acts on. At least one of IDS, --event-type, --since, --until
/// or --all is required; given together they all must match.
#[derive(Debug, Clone, Args)]
#[command(group(
    clap::ArgGroup::new("selection")
        .required(true)
        .multiple(true)
        .args(["ids", "event_types", "since", "until", "all"])
))]
pub struct Selection {
    /// Dead-letter ids: the dead-letter stream sequence (as `list` and `show` print it), or
    /// STREAM:SEQUENCE when the table dead-letters into several streams
    #[arg(value_name = "ID")]
    pub ids: Vec<DeadLetterId>,
    /// Only the dead letters of this subscription (its name in the table, or its durable
    /// consumer's name)
    #[arg(long, value_name = "NAME")]
    pub subscription: Option<String>,
    /// Only dead letters of this event type (`ce-type`); repeat for several
    #[arg(long = "event-type", value_name = "TYPE")]
    pub event_types: Vec<String>,
    /// Only dead letters stored at or after this time: RFC 3339 (2026-12-06T10:00:00Z) or a
    /// duration ago (90m, 2h, 1day)
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub since: Option<SystemTime>,
    /// Only dead letters stored before this time (same forms as --since)
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub until: Option<SystemTime>,
    /// Every dead letter (of --subscription, when given)
    #[arg(long)]
    pub all: bool,
}

impl Selection {
    /// Whether `letter` is selected. An id without a stream matches the sequence in any
    /// stream read (the command makes sure only one is read then).
    pub fn matches(&self, letter: &DeadLetter) -> bool {
        let id_ok = self.ids.is_empty()
            || self.ids.iter().any(|id| {
                id.sequence == letter.sequence
                    && id.stream.as_ref().is_none_or(|s| *s == letter.stream)
            });
        let type_ok = self.event_types.is_empty()
            || letter
                .event_type()
                .is_some_and(|t| self.event_types.iter().any(|wanted| wanted == t));
        let since_ok = self.since.is_none_or(|since| letter.time >= since);
        let until_ok = self.until.is_none_or(|until| letter.time < until);
        id_ok && type_ok && since_ok && until_ok
    }

    /// The ids asked for that are not among `found`.
    pub fn missing_ids(&self, found: &[DeadLetter]) -> Vec<DeadLetterId> {
        self.ids
            .iter()
            .filter(|id| !found.iter().any(|letter| self.id_matches(id, letter)))
            .cloned()
            .collect()
    }

    fn id_matches(&self, id: &DeadLetterId, letter: &DeadLetter) -> bool {
        id.sequence == letter.sequence && id.stream.as_ref().is_none_or(|s| *s == letter.stream)
    }

    /// Refuses bare sequences when several streams are read.
    ///
    /// # Errors
    ///
    /// [`OpsError::Usage`].
    pub fn check_ids(&self, streams: &[String]) -> Result<(), OpsError> {
        if streams.len() > 1
            && let Some(id) = self.ids.iter().find(|id| id.stream.is_none())
        {
            return Err(OpsError::Usage(format!(
                "dead letter {id} is ambiguous: the table dead-letters into several streams ({}); \
                 write STREAM:{id} or narrow with --subscription",
                streams.join(", ")
            )));
        }
        Ok(())
    }
}

/// An RFC 3339 time, or a duration before now (`humantime`'s forms: `90m`, `2h 30m`,
/// `1day`).
pub fn parse_time(text: &str) -> Result<SystemTime, String> {
    if let Ok(time) = humantime::parse_rfc3339_weak(text) {
        return Ok(time);
    }
    match humantime::parse_duration(text) {
        Ok(ago) => Ok(SystemTime::now()
            .checked_sub(ago)
            .unwrap_or(SystemTime::UNIX_EPOCH)),
        Err(_) => Err(format!(
            "`{text}` is neither an RFC 3339 time (2026-12-06T10:00:00Z) nor a duration ago (90m, 2h)"
        )),
    }
}

/// `time` as RFC 3339 in UTC, to the second.
pub fn format_time(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_or_durations_ago() {
        let at = parse_time("2026-12-06T10:00:00Z").expect("rfc 3339");
        assert_eq!(format_time(at), "2026-12-06T10:00:00Z");
        let ago = parse_time("2h").expect("duration");
        let elapsed = SystemTime::now().duration_since(ago).expect("in the past");
        assert!((7199..=7201).contains(&elapsed.as_secs()), "{elapsed:?}");
        assert!(parse_time("yesterday-ish").is_err());
    }

    fn letter(stream: &str, sequence: u64, event_type: &str, at: u64) -> DeadLetter {
        DeadLetter {
            stream: stream.into(),
            sequence,
            subject: format!("dlq.{event_type}"),
            time: SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(at),
            headers: [("ce-type".to_owned(), vec![event_type.to_owned()])].into(),
            payload: bytes::Bytes::new(),
        }
    }

    fn selection() -> Selection {
        Selection {
            ids: Vec::new(),
            subscription: None,
            event_types: Vec::new(),
            since: None,
            until: None,
            all: false,
        }
    }

    #[test]
    fn selectors_combine() {
        let at = |secs| Some(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs));
        let a = letter("A", 1, "OrderCreatedEvent", 100);
        let b = letter("B", 1, "OrderReadiedEvent", 200);
        let c = letter("A", 2, "OrderCreatedEvent", 300);
        let all = Selection {
            all: true,
            ..selection()
        };
        assert!([&a, &b, &c].iter().all(|l| all.matches(l)));
        let by_id = Selection {
            ids: vec!["A:1".parse().unwrap()],
            ..selection()
        };
        assert_eq!([&a, &b, &c].map(|l| by_id.matches(l)), [true, false, false]);
        let bare = Selection {
            ids: vec!["1".parse().unwrap()],
            ..selection()
        };
        assert_eq!([&a, &b, &c].map(|l| bare.matches(l)), [true, true, false]);
        assert!(bare.check_ids(&["A".into(), "B".into()]).is_err());
        assert!(bare.check_ids(&["A".into()]).is_ok());
        let typed_range = Selection {
            event_types: vec!["OrderCreatedEvent".into()],
            since: at(100),
            until: at(300),
            ..selection()
        };
        assert_eq!(
            [&a, &b, &c].map(|l| typed_range.matches(l)),
            [true, false, false]
        );
        let missing = Selection {
            ids: vec!["A:1".parse().unwrap(), "A:9".parse().unwrap()],
            ..selection()
        };
        assert_eq!(
            missing.missing_ids(std::slice::from_ref(&a)),
            vec!["A:9".parse::<DeadLetterId>().unwrap()]
        );
    }
}
