//! What a consumer receives: [`Delivery`] (a decoded event and the handle that acknowledges
//! it) and the raw message it is decoded from.

use std::fmt;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::AckKind;
use bytes::Bytes;

use super::header_map;
use crate::decode::{DecodeError, EnvelopeRef, IntegrationEventSet};
use crate::error::BoxError;
use crate::message::headers;

/// Acknowledging a delivery failed. The server redelivers the message after the ack wait.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} stream message {stream_sequence}")]
pub struct AckError {
    /// `"ack"`, `"nak"`, `"term"` or `"progress"`.
    pub action: &'static str,
    /// Stream sequence of the message.
    pub stream_sequence: u64,
    /// The underlying error.
    #[source]
    pub source: BoxError,
}

/// The received message, which acknowledges itself: it acks through its own handle on the
/// JetStream context, as async-nats' `Message::ack` does (no context cloned per ack: a clone
/// is an allocation and several reference counts; it was a tenth of the consumer's CPU,
/// `BENCHMARKS.md`). Its subject, headers and payload are read in place. Boxed since it was
/// pulled: a message is a few hundred bytes, moved a dozen times on its way from the pull to
/// the ack (queued, received, screened, decoded, handled, settled).
pub(super) struct AckHandle {
    message: Box<async_nats::jetstream::Message>,
    stream_sequence: u64,
}

impl AckHandle {
    /// Sends `kind` without waiting for the server (a plain JetStream ack): returns once the
    /// client has queued it.
    pub(super) async fn send_unconfirmed(
        &self,
        kind: AckKind,
        action: &'static str,
    ) -> Result<(), AckError> {
        self.message
            .ack_with(kind)
            .await
            .map_err(|source| AckError {
                action,
                stream_sequence: self.stream_sequence,
                source,
            })
    }

    /// Sends `kind` and waits for the server to confirm it (JetStream "double ack").
    pub(super) async fn send(&self, kind: AckKind, action: &'static str) -> Result<(), AckError> {
        self.message
            .double_ack_with(kind)
            .await
            .map_err(|source| AckError {
                action,
                stream_sequence: self.stream_sequence,
                source,
            })
    }

    /// The NATS subject the message was published on.
    fn subject(&self) -> &str {
        self.message.subject.as_str()
    }

    /// The headers as received.
    pub(super) fn headers(&self) -> Option<&HeaderMap> {
        self.message.headers.as_ref()
    }

    /// The payload as received.
    pub(super) fn payload(&self) -> &Bytes {
        &self.message.payload
    }
}

/// One decoded integration event, to be acknowledged.
///
/// The delivery keeps the message as received: the CloudEvents attributes ([`id`](Self::id),
/// [`name`](Self::name), [`aggregate_id`](Self::aggregate_id), ...), the subject and the
/// headers are read from it in place, as `&str`s, checked when the message was decoded (so
/// the required ones are always there). Nothing is copied per message unless the caller
/// copies it (owned `String` fields, as an earlier version had, cost an allocation per
/// attribute and header: about a third of the consumer's CPU, `BENCHMARKS.md`).
///
/// Dropping a delivery without [`ack`](Self::ack)/[`nak`](Self::nak)/[`term`](Self::term)
/// leaves it to the server's ack wait: it is redelivered later.
pub struct Delivery<E> {
    /// The decoded event.
    pub event: E,
    /// `ce-aggregateversion`: the aggregate's version after the event.
    pub aggregate_version: u64,
    /// Sequence of the message in the stream.
    pub stream_sequence: u64,
    /// How many times the server delivered this message (1 on first delivery).
    pub delivered: u64,
    pub(super) ack: AckHandle,
}

impl<E: fmt::Debug> fmt::Debug for Delivery<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("event", &self.event)
            .field("id", &self.id())
            .field("name", &self.name())
            .field("subject", &self.subject())
            .field("aggregate_id", &self.aggregate_id())
            .field("aggregate_version", &self.aggregate_version)
            .field("stream_sequence", &self.stream_sequence)
            .field("delivered", &self.delivered)
            .finish_non_exhaustive()
    }
}

impl<E> Delivery<E> {
    /// A header the decoding found (and checked non-empty); `""` cannot happen.
    fn envelope(&self, name: &str) -> &str {
        self.header(name).unwrap_or_default()
    }

    /// `ce-id`: the integration event id.
    pub fn id(&self) -> &str {
        self.envelope(headers::ID)
    }

    /// `ce-type`: the CloudEvents type, one of [`IntegrationEventSet::NAMES`] (the
    /// integration event name, unless the producer's row gives a `ce_type:` of its own).
    pub fn name(&self) -> &str {
        self.envelope(headers::TYPE)
    }

    /// The NATS subject the message was published on.
    pub fn subject(&self) -> &str {
        self.ack.subject()
    }

    /// `ce-source`: the producing service.
    pub fn source(&self) -> &str {
        self.envelope(headers::SOURCE)
    }

    /// `ce-aggregateid`.
    pub fn aggregate_id(&self) -> &str {
        self.envelope(headers::AGGREGATE_ID)
    }

    /// `ce-aggregatetype`.
    pub fn aggregate_type(&self) -> &str {
        self.envelope(headers::AGGREGATE_TYPE)
    }

    /// `ce-domaineventid`: the id of the domain event the integration event was built from.
    pub fn domain_event_id(&self) -> &str {
        self.envelope(headers::DOMAIN_EVENT_ID)
    }

    /// `ce-time`: when the domain event occurred (RFC 3339, as received).
    pub fn time(&self) -> &str {
        self.envelope(headers::TIME)
    }

    /// Every header received, `Nats-Msg-Id` included, as `(name, value)` (a header with
    /// several values once per value), in no particular order: NATS header maps are
    /// unordered. Collect and sort them for a stable order.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        header_map::pairs(self.ack.headers())
    }

    /// The message's payload as received (the protobuf encoding of [`Self::event`]).
    pub fn payload(&self) -> &[u8] {
        self.ack.payload()
    }

    /// The first value of the header `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header_map::find(self.ack.headers(), name)
    }

    /// `ce-correlationid`, when the producer's domain event had a correlation id
    /// ([`metadata_keys::CORRELATION_ID`](crate::event::metadata_keys::CORRELATION_ID)).
    pub fn correlation_id(&self) -> Option<&str> {
        self.header(headers::CORRELATION_ID)
    }

    /// `ce-causationid`, when the producer's domain event had a causation id
    /// ([`metadata_keys::CAUSATION_ID`](crate::event::metadata_keys::CAUSATION_ID)).
    pub fn causation_id(&self) -> Option<&str> {
        self.header(headers::CAUSATION_ID)
    }

    /// Acknowledges the message and waits for the server's confirmation, so the message is
    /// not redelivered.
    ///
    /// # Errors
    ///
    /// [`AckError`] when the confirmation did not arrive (request timeout of the context).
    pub async fn ack(self) -> Result<(), AckError> {
        self.ack.send(AckKind::Ack, "ack").await
    }

    /// Acknowledges the message without waiting for the server's confirmation: returns once
    /// the client has queued the `+ACK`, so the next message need not wait for a round trip
    /// (several times the throughput of [`ack`](Self::ack) for a consumer handling one message
    /// at a time; `BENCHMARKS.md`).
    ///
    /// An ack lost on the way (connection lost before it was written, server restart) is not
    /// reported: the server redelivers the message after the ack wait. That is the
    /// at-least-once delivery a consumer must handle anyway (idempotent handling, or the
    /// `ce-id` as a de-duplication key); use [`ack`](Self::ack) when a handler needs to know
    /// the ack arrived.
    ///
    /// # Errors
    ///
    /// [`AckError`] when the ack cannot be queued (connection closed).
    pub async fn ack_unconfirmed(self) -> Result<(), AckError> {
        self.ack.send_unconfirmed(AckKind::Ack, "ack").await
    }

    /// Negatively acknowledges the message: redeliver after `delay` (immediately with `None`).
    ///
    /// # Errors
    ///
    /// [`AckError`] when the server did not confirm.
    pub async fn nak(self, delay: Option<Duration>) -> Result<(), AckError> {
        self.ack.send(AckKind::Nak(delay), "nak").await
    }

    /// Terminates the message: never redeliver it, without processing it.
    ///
    /// # Errors
    ///
    /// [`AckError`] when the server did not confirm.
    pub async fn term(self) -> Result<(), AckError> {
        self.ack.send(AckKind::Term, "term").await
    }

    /// Tells the server work is still in progress (resets the ack wait timer).
    ///
    /// # Errors
    ///
    /// [`AckError`] when the server did not confirm.
    pub async fn in_progress(&self) -> Result<(), AckError> {
        self.ack.send(AckKind::Progress, "progress").await
    }
}

impl<E> crate::trace::TraceHeaders for Delivery<E> {
    fn trace_header(&self, name: &str) -> Option<&str> {
        self.header(name)
    }
}

/// Decodes a received message: envelope (checked, borrowed from the headers), subject/type
/// consistency (the subject's last token is the one `E` gives the `ce-type`,
/// [`IntegrationEventSet::subject_token`], or the `ce-type` itself for a type `E` does not
/// know), payload. Returns the event and its aggregate version.
pub(super) fn decode<'a, E: IntegrationEventSet>(
    subject: &str,
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    payload: &[u8],
) -> Result<(E, u64), DecodeError> {
    let envelope = EnvelopeRef::parse(headers)?;
    let token = E::subject_token(envelope.name).unwrap_or(envelope.name);
    if E::CHANNEL.event_name_in(subject) != Some(token) {
        return Err(DecodeError::InvalidHeader {
            header: headers::TYPE,
            value: envelope.name.to_owned(),
            reason: format!("does not match the subject `{subject}`"),
        });
    }
    let event = E::decode(envelope.name, payload)?;
    Ok((event, envelope.aggregate_version))
}

/// A received JetStream message with its JetStream metadata: what acknowledges it and where
/// it comes from; subject, headers and payload read in place. Decoded into a [`Delivery`] by
/// [`Received::decode`].
pub(super) struct Received {
    /// Sequence of the message in its stream.
    pub(super) stream_sequence: u64,
    /// Deliveries of the message so far, this one included.
    pub(super) delivered: u64,
    /// The message; acknowledges it.
    pub(super) ack: AckHandle,
}

impl Received {
    /// Reads `message`'s JetStream metadata; `None` (logged) when it has none, so it can be
    /// neither decoded nor acknowledged.
    pub(super) fn new(message: Box<async_nats::jetstream::Message>) -> Option<Self> {
        let Some((stream_sequence, delivered)) = message.reply.as_deref().and_then(ack_metadata)
        else {
            tracing::error!(
                subject = %message.subject,
                reply = ?message.reply.as_deref(),
                "message without JetStream metadata; skipped"
            );
            return None;
        };
        Some(Self {
            stream_sequence,
            delivered,
            ack: AckHandle {
                message,
                stream_sequence,
            },
        })
    }

    /// The NATS subject the message was published on.
    pub(super) fn subject(&self) -> &str {
        self.ack.subject()
    }

    /// The first value of the header `name` (ASCII case-insensitive).
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        header_map::find(self.ack.headers(), name)
    }

    /// The first value of each header of `names`, in one pass (ASCII case-insensitive).
    #[cfg_attr(not(feature = "contracts"), allow(dead_code))]
    pub(super) fn headers_named<const N: usize>(&self, names: [&str; N]) -> [Option<&str>; N] {
        header_map::find_each(self.ack.headers(), names)
    }

    /// Decodes the message into a [`Delivery`]; on failure gives the message back with the
    /// reason.
    pub(super) fn decode<E: IntegrationEventSet>(self) -> Result<Delivery<E>, Box<Undecodable>> {
        let decoded = decode::<E>(
            self.subject(),
            header_map::firsts(self.ack.headers()),
            self.ack.payload(),
        );
        match decoded {
            Ok((event, aggregate_version)) => Ok(Delivery {
                event,
                aggregate_version,
                stream_sequence: self.stream_sequence,
                delivered: self.delivered,
                ack: self.ack,
            }),
            Err(reason) => Err(Box::new(Undecodable {
                message: self,
                reason,
            })),
        }
    }
}

/// The stream sequence and the delivery count of a JetStream message, from its reply subject
/// (ADR-15: `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>`,
/// or with `<domain>.<account hash>.` before the stream and more tokens after, 9 or more
/// tokens after `$JS.ACK.`); `None` for another subject.
///
/// async-nats' `Message::info` parses every token (the time into a date); this reads the two
/// the consumer needs: the full parse was 2,000 instructions per message, a fifth of what
/// separated the consumer from a raw pull consumer (`BENCHMARKS.md`).
fn ack_metadata(reply: &str) -> Option<(u64, u64)> {
    let tokens = reply.strip_prefix("$JS.ACK.")?;
    // One pass: where the first tokens start (the dots are ASCII, so these are char
    // boundaries) and how many tokens there are.
    let mut starts = [0; 7];
    let mut count = 1;
    for (at, byte) in tokens.bytes().enumerate() {
        if byte == b'.' {
            if let Some(start) = starts.get_mut(count) {
                *start = at + 1;
            }
            count += 1;
        }
    }
    let delivered_at = match count {
        7 => 2,
        9.. => 4,
        _ => return None,
    };
    let token = |index: usize| tokens.get(starts[index]..starts[index + 1] - 1);
    let delivered = token(delivered_at)?.parse().ok()?;
    let stream_sequence = token(delivered_at + 1)?.parse().ok()?;
    Some((stream_sequence, delivered))
}

/// A message that could not be decoded, and why.
pub(super) struct Undecodable {
    /// The message.
    pub(super) message: Received,
    /// Why it could not be decoded.
    pub(super) reason: DecodeError,
}

impl<E> From<Delivery<E>> for Received {
    /// The raw message back from a delivery (to dead-letter it).
    fn from(delivery: Delivery<E>) -> Self {
        Self {
            stream_sequence: delivery.stream_sequence,
            delivered: delivery.delivered,
            ack: delivery.ack,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ack_metadata;

    #[test]
    fn ack_metadata_of_both_reply_formats() {
        // 7 tokens after the prefix (no domain, no account hash).
        assert_eq!(
            ack_metadata("$JS.ACK.ORDERS.search.3.1042.17.1796014800123456789.5"),
            Some((1042, 3))
        );
        // 9 tokens and more: domain (`_` for none) and account hash first, a random token last.
        assert_eq!(
            ack_metadata("$JS.ACK._.ACCHASH.ORDERS.search.1.7.7.1796014800123456789.0"),
            Some((7, 1))
        );
        assert_eq!(
            ack_metadata("$JS.ACK.hub.ACCHASH.ORDERS.search.2.9.8.1796014800123456789.0.r4nd"),
            Some((9, 2))
        );
        assert_eq!(ack_metadata("_INBOX.abc.def"), None);
        assert_eq!(ack_metadata("$JS.ACK.ORDERS.search.3.1042"), None);
        assert_eq!(
            ack_metadata("$JS.ACK.ORDERS.search.x.1042.17.1796014800123456789.5"),
            None
        );
    }
}
