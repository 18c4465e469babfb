//! What the dead-letter commands print, as text and as JSON.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::SystemTime;

use eventmap::nats::dead_letter;
use serde::Serialize;

use super::select::format_time;
use super::store::{DeadLetter, Source};
use crate::output::{Report, age, table};
use crate::payload::Payload;

/// Longest error text in the text form of `list` (the JSON form has it whole).
const ERROR_WIDTH: usize = 100;

/// `list`: the dead letters counted by subscription, event type and error.
#[derive(Debug, Clone, Serialize)]
pub struct ListReport {
    /// Dead letters in all.
    pub total: u64,
    /// The dead-letter streams read.
    pub streams: Vec<String>,
    /// One entry per (subscription, event type, error), oldest first.
    pub groups: Vec<Group>,
}

/// Dead letters of one subscription and event type with one error.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Group {
    /// The subscription's name in the table (`null`: a durable the table does not declare).
    pub subscription: Option<String>,
    /// The durable consumer that dead-lettered them (`eventmap-durable`).
    pub durable: Option<String>,
    /// Their `ce-type`.
    pub event_type: Option<String>,
    /// The recorded error (`eventmap-error`).
    pub error: Option<String>,
    /// How many.
    pub count: u64,
    /// Age of the oldest, in seconds.
    pub oldest_age_secs: u64,
    /// Age of the newest, in seconds.
    pub newest_age_secs: u64,
    /// Their ids, in stream order.
    pub ids: Vec<String>,
}

impl ListReport {
    /// Groups `letters` (read from `sources`) as of `now`.
    pub fn new(sources: &[Source], letters: &[DeadLetter], now: SystemTime) -> Self {
        let qualified = sources.len() > 1;
        let subscription_of = |durable: Option<&str>| {
            durable.and_then(|d| sources.iter().find_map(|s| s.durables.get(d).cloned()))
        };
        let mut groups: Vec<Group> = Vec::new();
        for letter in letters {
            let key = (
                letter.durable().map(str::to_owned),
                letter.event_type().map(str::to_owned),
                letter.error().map(str::to_owned),
            );
            let age = letter.age_secs(now);
            let id = letter.id(qualified).to_string();
            match groups
                .iter_mut()
                .find(|g| (&g.durable, &g.event_type, &g.error) == (&key.0, &key.1, &key.2))
            {
                Some(group) => {
                    group.count += 1;
                    group.oldest_age_secs = group.oldest_age_secs.max(age);
                    group.newest_age_secs = group.newest_age_secs.min(age);
                    group.ids.push(id);
                }
                None => groups.push(Group {
                    subscription: subscription_of(key.0.as_deref()),
                    durable: key.0,
                    event_type: key.1,
                    error: key.2,
                    count: 1,
                    oldest_age_secs: age,
                    newest_age_secs: age,
                    ids: vec![id],
                }),
            }
        }
        groups.sort_by_key(|g| std::cmp::Reverse(g.oldest_age_secs));
        Self {
            total: letters.len() as u64,
            streams: sources.iter().map(|s| s.stream.clone()).collect(),
            groups,
        }
    }
}

impl Report for ListReport {
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(
            out,
            "{} dead letter(s) in {}",
            self.total,
            if self.streams.is_empty() {
                "no dead-letter stream (no subscription of the table has one)".to_owned()
            } else {
                self.streams.join(", ")
            }
        )?;
        if self.groups.is_empty() {
            return Ok(());
        }
        let rows = self
            .groups
            .iter()
            .map(|g| {
                vec![
                    g.subscription
                        .clone()
                        .or_else(|| g.durable.clone())
                        .unwrap_or_else(|| "?".into()),
                    g.event_type.clone().unwrap_or_else(|| "?".into()),
                    g.count.to_string(),
                    age(g.oldest_age_secs),
                    age(g.newest_age_secs),
                    id_list(&g.ids),
                    shorten(g.error.as_deref().unwrap_or("-"), ERROR_WIDTH),
                ]
            })
            .collect();
        let header = [
            "SUBSCRIPTION",
            "EVENT TYPE",
            "COUNT",
            "OLDEST",
            "NEWEST",
            "IDS",
            "ERROR",
        ];
        out.write_all(table(&header, &[], rows).as_bytes())
    }
}

/// `ids` for the text form: all when few, else the first and last.
fn id_list(ids: &[String]) -> String {
    match ids {
        [] => String::new(),
        [a] => a.clone(),
        [a, b] => format!("{a},{b}"),
        [a, b, c] => format!("{a},{b},{c}"),
        [first, .., last] => format!("{first},..,{last}"),
    }
}

/// `text` cut to `width` characters with `...`.
fn shorten(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(width.saturating_sub(3)).collect();
        format!("{cut}...")
    }
}

/// `show`: one dead letter.
#[derive(Debug, Clone, Serialize)]
pub struct ShowReport {
    /// Its id.
    pub id: String,
    /// The dead-letter stream.
    pub stream: String,
    /// Its sequence there.
    pub sequence: u64,
    /// Its subject.
    pub subject: String,
    /// When it was stored (RFC 3339, UTC).
    pub time: String,
    /// Its age in seconds.
    pub age_secs: u64,
    /// The subscription's name in the table, when the durable is one of the table's.
    pub subscription: Option<String>,
    /// The durable consumer that dead-lettered it.
    pub durable: Option<String>,
    /// The original's `ce-type`.
    pub event_type: Option<String>,
    /// The original's `ce-id`.
    pub event_id: Option<String>,
    /// The recorded error.
    pub error: Option<String>,
    /// The original subject.
    pub original_subject: Option<String>,
    /// The original stream.
    pub original_stream: Option<String>,
    /// The original's sequence there.
    pub original_sequence: Option<u64>,
    /// Deliveries of the original before it was dead-lettered.
    pub delivered: Option<u64>,
    /// Every header, by name (several values of one name joined with `, `).
    pub headers: BTreeMap<String, String>,
    /// The payload, decoded or in hex.
    pub payload: Payload,
}

impl ShowReport {
    /// The report of `letter` (read from `sources`) with its decoded payload, as of `now`.
    pub fn new(sources: &[Source], letter: &DeadLetter, payload: Payload, now: SystemTime) -> Self {
        let header = |name: &str| letter.header(name).map(str::to_owned);
        Self {
            id: letter.id(sources.len() > 1).to_string(),
            stream: letter.stream.clone(),
            sequence: letter.sequence,
            subject: letter.subject.clone(),
            time: format_time(letter.time),
            age_secs: letter.age_secs(now),
            subscription: letter
                .durable()
                .and_then(|d| sources.iter().find_map(|s| s.durables.get(d).cloned())),
            durable: header(dead_letter::DURABLE),
            event_type: header(eventmap::message::headers::TYPE),
            event_id: header(eventmap::message::headers::ID),
            error: header(dead_letter::ERROR),
            original_subject: header(dead_letter::ORIGINAL_SUBJECT),
            original_stream: header(dead_letter::ORIGINAL_STREAM),
            original_sequence: letter
                .header(dead_letter::STREAM_SEQUENCE)
                .and_then(|s| s.parse().ok()),
            delivered: letter
                .header(dead_letter::DELIVERED)
                .and_then(|s| s.parse().ok()),
            headers: letter
                .headers
                .iter()
                .map(|(name, values)| (name.clone(), values.join(", ")))
                .collect(),
            payload,
        }
    }
}

impl Report for ShowReport {
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let none = || "-".to_owned();
        writeln!(
            out,
            "dead letter {} ({}:{})",
            self.id, self.stream, self.sequence
        )?;
        writeln!(
            out,
            "  stored       {} ({} ago)",
            self.time,
            age(self.age_secs)
        )?;
        writeln!(
            out,
            "  consumer     {} (durable {})",
            self.subscription.clone().unwrap_or_else(none),
            self.durable.clone().unwrap_or_else(none)
        )?;
        writeln!(
            out,
            "  event        {} id {}",
            self.event_type.clone().unwrap_or_else(none),
            self.event_id.clone().unwrap_or_else(none)
        )?;
        writeln!(
            out,
            "  original     {} in {} at {}, delivered {} time(s)",
            self.original_subject.clone().unwrap_or_else(none),
            self.original_stream.clone().unwrap_or_else(none),
            self.original_sequence.map_or_else(none, |s| s.to_string()),
            self.delivered.map_or_else(none, |d| d.to_string())
        )?;
        writeln!(
            out,
            "  error        {}",
            self.error.clone().unwrap_or_else(none)
        )?;
        writeln!(out, "headers:")?;
        for (name, value) in &self.headers {
            writeln!(out, "  {name}: {value}")?;
        }
        match &self.payload {
            Payload::Json { message, json } => {
                writeln!(out, "payload ({message}):")?;
                let text = serde_json::to_string_pretty(json).map_err(std::io::Error::other)?;
                for line in text.lines() {
                    writeln!(out, "  {line}")?;
                }
            }
            Payload::Hex { reason, hex } => {
                writeln!(out, "payload (not decoded: {reason}), hex:")?;
                for chunk in hex.as_bytes().chunks(64) {
                    writeln!(out, "  {}", String::from_utf8_lossy(chunk))?;
                }
            }
        }
        Ok(())
    }
}

/// `replay`: what was replayed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReplayReport {
    /// Dead letters selected.
    pub selected: usize,
    /// Replayed (stored again on their original stream, or found there from an earlier
    /// replay: `duplicate`).
    pub replayed: Vec<Replayed>,
    /// How many of `replayed` JetStream already had (an earlier replay of the same dead
    /// letter within the duplicate window).
    pub duplicates: usize,
    /// Whether the dead letters were kept (`--keep`) rather than deleted.
    pub kept: bool,
    /// Selected but not replayable.
    pub skipped: Vec<Skipped>,
    /// Ids asked for that were not found (never written, replayed, or purged).
    pub missing_ids: Vec<String>,
}

/// One replayed dead letter.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Replayed {
    /// The dead letter's id.
    pub id: String,
    /// Its `ce-type`.
    pub event_type: Option<String>,
    /// The subject it went to.
    pub subject: String,
    /// The stream that stored the replay.
    pub stream: String,
    /// The replay's sequence there.
    pub sequence: u64,
    /// JetStream had it already (same replay id within the duplicate window).
    pub duplicate: bool,
}

/// A selected dead letter that was not replayed.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Skipped {
    /// Its id.
    pub id: String,
    /// Why.
    pub reason: String,
}

impl Report for ReplayReport {
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(
            out,
            "replayed {} of {} selected dead letter(s){}{}",
            self.replayed.len(),
            self.selected,
            if self.duplicates > 0 {
                format!(" ({} already replayed before)", self.duplicates)
            } else {
                String::new()
            },
            if self.kept {
                "; dead letters kept"
            } else {
                "; dead letters deleted"
            }
        )?;
        for replayed in &self.replayed {
            writeln!(
                out,
                "  {} {} -> {} ({}:{}){}",
                replayed.id,
                replayed.event_type.as_deref().unwrap_or("?"),
                replayed.subject,
                replayed.stream,
                replayed.sequence,
                if replayed.duplicate { " duplicate" } else { "" }
            )?;
        }
        write_unmatched(out, &self.skipped, &self.missing_ids)
    }
}

/// The selected dead letters that were (or would be) skipped and the ids not found, one line
/// each.
fn write_unmatched(
    out: &mut dyn Write,
    skipped: &[Skipped],
    missing_ids: &[String],
) -> std::io::Result<()> {
    for skipped in skipped {
        writeln!(out, "  {} skipped: {}", skipped.id, skipped.reason)?;
    }
    for id in missing_ids {
        writeln!(out, "  {id} not found")?;
    }
    Ok(())
}

/// `replay --dry-run`: what a replay would do; nothing was published or deleted.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReplayPlan {
    /// Always `true`: nothing was done.
    pub dry_run: bool,
    /// Dead letters selected.
    pub selected: usize,
    /// The ids that would be replayed, in replay order.
    pub would_replay: Vec<String>,
    /// Selected but not replayable (a replay would skip them).
    pub skipped: Vec<Skipped>,
    /// Ids asked for that were not found.
    pub missing_ids: Vec<String>,
}

impl Report for ReplayPlan {
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(
            out,
            "dry run, nothing replayed or deleted: would replay {} of {} selected dead letter(s){}",
            self.would_replay.len(),
            self.selected,
            id_line(&self.would_replay)
        )?;
        write_unmatched(out, &self.skipped, &self.missing_ids)
    }
}

/// `purge`: what was deleted.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PurgeReport {
    /// Ids of the deleted dead letters.
    pub purged: Vec<String>,
    /// Ids asked for that were not found.
    pub missing_ids: Vec<String>,
}

impl Report for PurgeReport {
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(
            out,
            "purged {} dead letter(s){}",
            self.purged.len(),
            id_line(&self.purged)
        )?;
        write_unmatched(out, &[], &self.missing_ids)
    }
}

/// `purge --dry-run`: what a purge would delete; nothing was.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PurgePlan {
    /// Always `true`: nothing was done.
    pub dry_run: bool,
    /// The ids that would be deleted.
    pub would_purge: Vec<String>,
    /// Ids asked for that were not found.
    pub missing_ids: Vec<String>,
}

impl Report for PurgePlan {
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(
            out,
            "dry run, nothing deleted: would purge {} dead letter(s){}",
            self.would_purge.len(),
            id_line(&self.would_purge)
        )?;
        write_unmatched(out, &[], &self.missing_ids)
    }
}

/// `: 1, 2, 3` after a count, or nothing without ids.
fn id_line(ids: &[String]) -> String {
    if ids.is_empty() {
        String::new()
    } else {
        format!(": {}", ids.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::{Duration, SystemTime};

    use super::*;

    fn letter(sequence: u64, age: u64, event_type: &str, error: &str) -> DeadLetter {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(10_000);
        let headers: BTreeMap<String, Vec<String>> = [
            ("ce-type", event_type),
            ("eventmap-error", error),
            ("eventmap-durable", "search-orders"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), vec![v.to_owned()]))
        .collect();
        DeadLetter {
            stream: "DLQ".into(),
            sequence,
            subject: format!("dlq.{event_type}"),
            time: now - Duration::from_secs(age),
            headers,
            payload: bytes::Bytes::new(),
        }
    }

    #[test]
    fn list_groups_by_durable_type_and_error_oldest_first() {
        let source = Source {
            stream: "DLQ".into(),
            subjects: vec!["dlq".into()],
            durables: [("search-orders".to_owned(), "orders".to_owned())].into(),
            only_these_durables: false,
        };
        let letters = [
            letter(1, 50, "OrderCreatedEvent", "boom"),
            letter(2, 900, "OrderReadiedEvent", "boom"),
            letter(3, 20, "OrderCreatedEvent", "boom"),
            letter(4, 10, "OrderCreatedEvent", "other"),
        ];
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(10_000);
        let report = ListReport::new(&[source], &letters, now);
        assert_eq!(report.total, 4);
        let summary: Vec<_> = report
            .groups
            .iter()
            .map(|g| {
                (
                    g.event_type.as_deref().unwrap(),
                    g.error.as_deref().unwrap(),
                    g.count,
                    g.oldest_age_secs,
                    g.newest_age_secs,
                    g.ids.join(","),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("OrderReadiedEvent", "boom", 1, 900, 900, "2".to_owned()),
                ("OrderCreatedEvent", "boom", 2, 50, 20, "1,3".to_owned()),
                ("OrderCreatedEvent", "other", 1, 10, 10, "4".to_owned()),
            ]
        );
        assert!(
            report
                .groups
                .iter()
                .all(|g| g.subscription.as_deref() == Some("orders"))
        );
        let mut text = Vec::new();
        report.write_text(&mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(
            text.starts_with("4 dead letter(s) in DLQ\nSUBSCRIPTION"),
            "{text}"
        );
        assert!(
            text.contains("orders        OrderCreatedEvent  2      50s     20s     1,3  boom"),
            "{text}"
        );
    }

    #[test]
    fn long_id_lists_and_errors_are_shortened_in_text() {
        let ids: Vec<String> = (1..=5).map(|i| i.to_string()).collect();
        assert_eq!(id_list(&ids), "1,..,5");
        assert_eq!(shorten(&"x".repeat(10), 6), "xxx...");
        assert_eq!(shorten("short", 6), "short");
    }
}
