//! Replaying dead letters to their original subject, idempotently.
//!
//! A replay is the original message again: its payload and headers (`ce-id` unchanged,
//! so an inbox consumer still processes it once), without the dead-letter headers, plus
//! [`REPLAY_OF`], published on the original subject into the original stream
//! (`Nats-Expected-Stream`). Its `Nats-Msg-Id` is [`message_id`], derived from the dead
//! letter, not the original's (`ce-id`, which the stream's duplicate window may still hold
//! and would drop); a replay sent twice within the window is stored once. Once the replay is
//! stored, the dead letter is deleted (unless `--keep`), so a second `replay` does not find
//! it.

use std::str::FromStr;

use eventmap::nats::async_nats::HeaderMap;
use eventmap::nats::async_nats::header::{HeaderName, HeaderValue};
use eventmap::nats::async_nats::jetstream::message::PublishMessage;
use eventmap::nats::dead_letter;

use super::store::DeadLetter;

/// Header of a replayed message: the dead letter it was replayed from
/// (`<dead-letter stream>:<sequence>`).
pub const REPLAY_OF: &str = "eventmap-replay-of";

/// The headers a dead letter adds to the original, which a replay leaves out.
const DEAD_LETTER_HEADERS: [&str; 7] = [
    dead_letter::ERROR,
    dead_letter::ORIGINAL_SUBJECT,
    dead_letter::ORIGINAL_STREAM,
    dead_letter::STREAM_SEQUENCE,
    dead_letter::DELIVERED,
    dead_letter::DURABLE,
    dead_letter::ORIGINAL_MSG_ID,
];

/// The `Nats-Msg-Id` of the replay of `letter`: `replay-<dead-letter stream>-<sequence>`.
pub fn message_id(letter: &DeadLetter) -> String {
    format!("replay-{}-{}", letter.stream, letter.sequence)
}

/// Where a dead letter goes back to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The original subject.
    pub subject: String,
    /// The original stream, when recorded.
    pub stream: Option<String>,
}

/// The original subject and stream of `letter`, or why it cannot be replayed.
pub fn target(letter: &DeadLetter) -> Result<Target, String> {
    let subject = letter
        .header(dead_letter::ORIGINAL_SUBJECT)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            format!(
                "dead letter {}:{} has no `{}` header (not written by an eventmap consumer)",
                letter.stream,
                letter.sequence,
                dead_letter::ORIGINAL_SUBJECT
            )
        })?;
    Ok(Target {
        subject: subject.to_owned(),
        stream: letter
            .header(dead_letter::ORIGINAL_STREAM)
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
    })
}

/// The message that replays `letter` into `target`.
pub fn message(letter: &DeadLetter, target: &Target) -> PublishMessage {
    let mut headers = HeaderMap::new();
    for (name, values) in &letter.headers {
        let dropped = name.len() >= 5 && name[..5].eq_ignore_ascii_case("nats-")
            || DEAD_LETTER_HEADERS
                .iter()
                .chain(&[REPLAY_OF])
                .any(|h| h.eq_ignore_ascii_case(name));
        if dropped {
            continue;
        }
        let Ok(name) = HeaderName::from_str(name) else {
            continue;
        };
        for value in values {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.append(name.clone(), value);
            }
        }
    }
    headers.insert(
        REPLAY_OF,
        format!("{}:{}", letter.stream, letter.sequence).as_str(),
    );
    let message = PublishMessage::build()
        .payload(letter.payload.clone())
        .headers(headers)
        .message_id(message_id(letter));
    match &target.stream {
        Some(stream) => message.expected_stream(stream),
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::SystemTime;

    use super::*;

    fn letter() -> DeadLetter {
        let headers: BTreeMap<String, Vec<String>> = [
            ("ce-id", "evt-1"),
            ("ce-type", "OrderCreatedEvent"),
            ("eventmap-error", "boom"),
            (
                "eventmap-original-subject",
                "ordering.order.OrderCreatedEvent",
            ),
            ("eventmap-original-stream", "ORDERING_ORDERS"),
            ("eventmap-stream-sequence", "12"),
            ("eventmap-delivered", "3"),
            ("eventmap-durable", "search-orders"),
            ("eventmap-original-msg-id", "evt-1"),
            ("Nats-Msg-Id", "dlq-search-orders-12"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), vec![v.to_owned()]))
        .collect();
        DeadLetter {
            stream: "SEARCH_DLQ".into(),
            sequence: 4,
            subject: "search.dlq.OrderCreatedEvent".into(),
            time: SystemTime::now(),
            headers,
            payload: bytes::Bytes::from_static(b"\x0a\x01x"),
        }
    }

    #[test]
    fn a_replay_is_the_original_with_a_fresh_message_id() {
        let letter = letter();
        let target = target(&letter).expect("replayable");
        assert_eq!(target.subject, "ordering.order.OrderCreatedEvent");
        assert_eq!(target.stream.as_deref(), Some("ORDERING_ORDERS"));
        let outbound =
            message(&letter, &target).outbound_message("ordering.order.OrderCreatedEvent");
        let headers = outbound.headers.expect("headers");
        let get = |name: &str| headers.get(name).map(|v| v.as_str().to_owned());
        assert_eq!(get("ce-id").as_deref(), Some("evt-1"));
        assert_eq!(get("ce-type").as_deref(), Some("OrderCreatedEvent"));
        assert_eq!(get("Nats-Msg-Id").as_deref(), Some("replay-SEARCH_DLQ-4"));
        assert_eq!(
            get("Nats-Expected-Stream").as_deref(),
            Some("ORDERING_ORDERS")
        );
        assert_eq!(get(REPLAY_OF).as_deref(), Some("SEARCH_DLQ:4"));
        for gone in DEAD_LETTER_HEADERS {
            assert_eq!(get(gone), None, "{gone}");
        }
        assert_eq!(&outbound.payload[..], b"\x0a\x01x");
    }

    #[test]
    fn a_dead_letter_without_its_origin_is_not_replayed() {
        let mut letter = letter();
        letter.headers.remove("eventmap-original-subject");
        assert!(
            target(&letter)
                .unwrap_err()
                .contains("eventmap-original-subject")
        );
    }
}
