//! Dead letters: messages a [`Consumer`](super::Consumer) gives up on, re-published to the
//! dead-letter channel of its [`DeliveryPolicy`](super::DeliveryPolicy) with the reason.
//!
//! A dead letter is the original message (payload and headers, except the JetStream control
//! headers `Nats-*`) on the subject [`subject`]`(dead_letter, ce-type)`, with the headers named
//! by the constants of this module added. Its `Nats-Msg-Id` is `dlq-<durable>-<stream
//! sequence>`, so the original's de-duplication id does not swallow it and a dead letter
//! published twice (its original redelivered before the ack arrived) is stored once within the
//! dead-letter stream's duplicate window.

use std::str::FromStr;

use async_nats::HeaderMap;
use async_nats::header::{HeaderName, HeaderValue};
use async_nats::jetstream::Context;
use async_nats::jetstream::message::PublishMessage;
use bytes::Bytes;

use crate::channel::ChannelSpec;
use crate::error::BoxError;
use crate::nats::header_map;

/// Header: why the message was dead-lettered (the error and its sources, `: `-separated, at
/// most [`MAX_ERROR_LEN`] bytes).
pub const ERROR: &str = "eventmap-error";
/// Header: the subject the original message was published on.
pub const ORIGINAL_SUBJECT: &str = "eventmap-original-subject";
/// Header: the stream that stores the original message.
pub const ORIGINAL_STREAM: &str = "eventmap-original-stream";
/// Header: the original message's sequence in [`ORIGINAL_STREAM`].
pub const STREAM_SEQUENCE: &str = "eventmap-stream-sequence";
/// Header: how many times the original message was delivered to the consumer.
pub const DELIVERED: &str = "eventmap-delivered";
/// Header: the durable consumer that gave up on the message.
pub const DURABLE: &str = "eventmap-durable";
/// Header: the original message's `Nats-Msg-Id`, when it had one.
pub const ORIGINAL_MSG_ID: &str = "eventmap-original-msg-id";

/// Longest [`ERROR`] value, in bytes; a longer error text is cut (at a character boundary)
/// and ends with `...`.
pub const MAX_ERROR_LEN: usize = 4096;

/// The subject of a dead letter: `<dead_letter.subject>.<event type>`, where the event type is
/// the original's `ce-type` with every character other than ASCII letters, digits, `-` and `_`
/// replaced by `_` (one subject token), or `unknown` when it has none.
///
/// ```
/// use eventmap::ChannelSpec;
/// use eventmap::nats::dead_letter;
/// const DLQ: ChannelSpec = ChannelSpec::new("order-dlq", "dlq.ordering.order", "ORDERING_DLQ");
/// assert_eq!(dead_letter::subject(&DLQ, Some("OrderCreatedEvent")), "dlq.ordering.order.OrderCreatedEvent");
/// assert_eq!(dead_letter::subject(&DLQ, Some("a.b *")), "dlq.ordering.order.a_b__");
/// assert_eq!(dead_letter::subject(&DLQ, None), "dlq.ordering.order.unknown");
/// ```
pub fn subject(dead_letter: &ChannelSpec, event_type: Option<&str>) -> String {
    let token: String = match event_type {
        Some(name) if !name.is_empty() => name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect(),
        _ => "unknown".to_owned(),
    };
    dead_letter.subject_for(&token)
}

/// `error` and its sources ([`crate::error::ErrorChain`]) on one line, cut to
/// [`MAX_ERROR_LEN`] bytes.
pub(super) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    one_line(&crate::error::error_chain(error))
}

/// `text` without control characters (header values cannot hold line breaks), at most
/// [`MAX_ERROR_LEN`] bytes.
pub(super) fn one_line(text: &str) -> String {
    let mut line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if line.len() > MAX_ERROR_LEN {
        let mut end = MAX_ERROR_LEN - 3;
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        line.truncate(end);
        line.push_str("...");
    }
    line
}

/// Publishing a dead letter failed; the original is not acknowledged.
#[derive(Debug, thiserror::Error)]
#[error("cannot publish the dead letter of stream message {stream_sequence} to `{subject}`")]
pub(super) struct DeadLetterError {
    /// The dead letter's subject.
    pub(super) subject: String,
    /// The original's stream sequence.
    pub(super) stream_sequence: u64,
    /// The underlying error.
    #[source]
    pub(super) source: BoxError,
}

/// A message to dead-letter: the original and why.
pub(super) struct DeadLetter<'a> {
    /// Where dead letters go.
    pub(super) channel: &'a ChannelSpec,
    /// The original's subject.
    pub(super) subject: &'a str,
    /// The original's stream.
    pub(super) stream: &'a str,
    /// The original's stream sequence.
    pub(super) stream_sequence: u64,
    /// Deliveries of the original so far.
    pub(super) delivered: u64,
    /// The consumer giving up.
    pub(super) durable: &'a str,
    /// The original's headers, as received.
    pub(super) headers: Option<&'a HeaderMap>,
    /// The original's payload.
    pub(super) payload: &'a Bytes,
    /// Why ([`error_chain`] or [`one_line`] output).
    pub(super) error: &'a str,
}

impl DeadLetter<'_> {
    /// The dead letter's subject.
    pub(super) fn subject(&self) -> String {
        let event_type = header_map::find(self.headers, crate::message::headers::TYPE);
        subject(self.channel, event_type)
    }

    /// Its `Nats-Msg-Id`.
    pub(super) fn message_id(&self) -> String {
        format!("dlq-{}-{}", self.durable, self.stream_sequence)
    }

    /// The original headers without the JetStream control headers (`Nats-*`), plus the
    /// dead-letter headers. Headers whose name or value async-nats would not accept are left
    /// out (they were received, so this does not happen in practice).
    pub(super) fn headers(&self) -> HeaderMap {
        let mut map = HeaderMap::new();
        let mut original_id = None;
        for (name, value) in header_map::pairs(self.headers) {
            if name.eq_ignore_ascii_case(crate::message::headers::NATS_MSG_ID) {
                original_id = Some(value);
            }
            if name.len() >= 5 && name[..5].eq_ignore_ascii_case("nats-") {
                continue;
            }
            if let (Ok(name), Ok(value)) =
                (HeaderName::from_str(name), HeaderValue::from_str(value))
            {
                map.append(name, value);
            }
        }
        let added = [
            (ERROR, one_line(self.error)),
            (ORIGINAL_SUBJECT, self.subject.to_owned()),
            (ORIGINAL_STREAM, self.stream.to_owned()),
            (STREAM_SEQUENCE, self.stream_sequence.to_string()),
            (DELIVERED, self.delivered.to_string()),
            (DURABLE, self.durable.to_owned()),
        ];
        for (name, value) in added
            .into_iter()
            .chain(original_id.map(|id| (ORIGINAL_MSG_ID, one_line(id))))
        {
            if let (Ok(name), Ok(value)) =
                (HeaderName::from_str(name), HeaderValue::from_str(&value))
            {
                map.insert(name, value);
            }
        }
        map
    }

    /// Publishes the dead letter and waits for the JetStream acknowledgement.
    pub(super) async fn publish(&self, context: &Context) -> Result<(), DeadLetterError> {
        let subject = self.subject();
        let failed = |source: BoxError| DeadLetterError {
            subject: subject.clone(),
            stream_sequence: self.stream_sequence,
            source,
        };
        let message = PublishMessage::build()
            .payload(self.payload.clone())
            .headers(self.headers())
            .message_id(self.message_id());
        let ack = context
            .send_publish(subject.clone(), message)
            .await
            .map_err(|err| failed(Box::new(err)))?;
        let ack = ack.await.map_err(|err| failed(Box::new(err)))?;
        crate::metrics::dead_lettered(self.durable, &ack.stream);
        tracing::warn!(
            dead_letter_subject = %subject,
            dead_letter_stream = %ack.stream,
            dead_letter_sequence = ack.sequence,
            duplicate = ack.duplicate,
            "message dead-lettered"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DLQ: ChannelSpec = ChannelSpec::new("dlq", "dlq.order", "DLQ");

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] Inner);
    #[derive(Debug, thiserror::Error)]
    #[error("inner\nline two")]
    struct Inner;

    #[test]
    fn error_chain_is_one_line() {
        assert_eq!(error_chain(&Outer(Inner)), "outer: inner line two");
        let long = "é".repeat(MAX_ERROR_LEN);
        let cut = one_line(&long);
        assert!(cut.len() <= MAX_ERROR_LEN && cut.ends_with("..."));
    }

    #[test]
    fn headers_keep_the_original_and_add_the_reason() {
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Expected-Stream", "X");
        headers.insert("Nats-Msg-Id", "id-1");
        headers.insert("ce-type", "OrderCreatedEvent");
        headers.insert("eventmap-error", "older");
        let letter = DeadLetter {
            channel: &DLQ,
            subject: "ordering.order.OrderCreatedEvent",
            stream: "ORDERS",
            stream_sequence: 42,
            delivered: 3,
            durable: "search",
            headers: Some(&headers),
            payload: &Bytes::new(),
            error: "boom\r\nX: y",
        };
        let map = letter.headers();
        let get = |name: &str| map.get(name).map(|v| v.as_str().to_owned());
        assert_eq!(get("ce-type").as_deref(), Some("OrderCreatedEvent"));
        assert_eq!(get("Nats-Msg-Id"), None);
        assert_eq!(get("Nats-Expected-Stream"), None);
        assert_eq!(get(ERROR).as_deref(), Some("boom  X: y"));
        assert_eq!(map.get_all(ERROR).count(), 1);
        assert_eq!(get(ORIGINAL_MSG_ID).as_deref(), Some("id-1"));
        assert_eq!(get(STREAM_SEQUENCE).as_deref(), Some("42"));
        assert_eq!(get(DELIVERED).as_deref(), Some("3"));
        assert_eq!(get(DURABLE).as_deref(), Some("search"));
        assert_eq!(letter.subject(), "dlq.order.OrderCreatedEvent");
        assert_eq!(letter.message_id(), "dlq-search-42");
    }
}
