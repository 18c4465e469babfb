//! What a consumer receives: [`Delivery`] (a decoded event and the handle that acknowledges
//! it) and the raw message it is decoded from.

use std::fmt;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::AckKind;
use bytes::Bytes;

use crate::decode::{DecodeError, Envelope, IntegrationEventSet};
use crate::error::BoxError;

/// Acknowledging a delivery failed. The server redelivers the message after the ack wait.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} stream message {stream_sequence}: {source}")]
pub struct AckError {
    /// `"ack"`, `"nak"`, `"term"` or `"progress"`.
    pub action: &'static str,
    /// Stream sequence of the message.
    pub stream_sequence: u64,
    /// The underlying error.
    #[source]
    pub source: BoxError,
}

/// What is needed to acknowledge one message: the message as received, its payload and
/// headers taken out. It acks through the message's own handle on the JetStream context, as
/// async-nats' `Message::ack` does: no context cloned per ack (a clone is an allocation and
/// several reference counts; it was a tenth of the consumer's CPU, `BENCHMARKS.md`).
#[derive(Clone)]
pub(super) struct AckHandle {
    message: async_nats::jetstream::Message,
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
}

/// One decoded integration event, to be acknowledged.
///
/// Dropping a delivery without [`ack`](Self::ack)/[`nak`](Self::nak)/[`term`](Self::term)
/// leaves it to the server's ack wait: it is redelivered later.
pub struct Delivery<E> {
    /// The decoded event.
    pub event: E,
    /// `ce-id`: the integration event id.
    pub id: String,
    /// `ce-type`: the CloudEvents type, one of [`IntegrationEventSet::NAMES`] (the
    /// integration event name, unless the producer's row gives a `ce_type:` of its own).
    pub name: String,
    /// The NATS subject the message was published on.
    pub subject: String,
    /// `ce-source`: the producing service.
    pub source: String,
    /// `ce-aggregateid`.
    pub aggregate_id: String,
    /// `ce-aggregatetype`.
    pub aggregate_type: String,
    /// `ce-aggregateversion`.
    pub aggregate_version: u64,
    /// `ce-domaineventid`.
    pub domain_event_id: String,
    /// `ce-time` (RFC 3339).
    pub time: String,
    /// Sequence of the message in the stream.
    pub stream_sequence: u64,
    /// How many times the server delivered this message (1 on first delivery).
    pub delivered: u64,
    /// Every header received, sorted by name (NATS header maps are unordered), `Nats-Msg-Id`
    /// included.
    pub headers: Vec<(String, String)>,
    payload: Bytes,
    pub(super) ack: AckHandle,
}

impl<E: fmt::Debug> fmt::Debug for Delivery<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("event", &self.event)
            .field("id", &self.id)
            .field("name", &self.name)
            .field("subject", &self.subject)
            .field("aggregate_id", &self.aggregate_id)
            .field("aggregate_version", &self.aggregate_version)
            .field("stream_sequence", &self.stream_sequence)
            .field("delivered", &self.delivered)
            .finish_non_exhaustive()
    }
}

impl<E> Delivery<E> {
    /// The message's payload as received (the protobuf encoding of [`Self::event`]).
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The value of the header `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// `ce-correlationid`, when the producer's domain event had a correlation id
    /// ([`metadata_keys::CORRELATION_ID`](crate::event::metadata_keys::CORRELATION_ID)).
    pub fn correlation_id(&self) -> Option<&str> {
        self.header(crate::message::headers::CORRELATION_ID)
    }

    /// `ce-causationid`, when the producer's domain event had a causation id
    /// ([`metadata_keys::CAUSATION_ID`](crate::event::metadata_keys::CAUSATION_ID)).
    pub fn causation_id(&self) -> Option<&str> {
        self.header(crate::message::headers::CAUSATION_ID)
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

/// Every header of `headers` as owned `(name, value)` pairs, sorted by name (then value).
/// Names are copied as text (`AsRef<str>`), not formatted.
pub(super) fn headers_of(headers: Option<&HeaderMap>) -> Vec<(String, String)> {
    let Some(headers) = headers else {
        return Vec::new();
    };
    let mut pairs = Vec::with_capacity(headers.len());
    for (name, values) in headers.iter() {
        let name: &str = name.as_ref();
        for value in values {
            pairs.push((name.to_owned(), value.as_str().to_owned()));
        }
    }
    pairs.sort_unstable();
    pairs
}

/// Decodes a received message: envelope, subject/type consistency (the subject's last token
/// is the one `E` gives the `ce-type`, [`IntegrationEventSet::subject_token`], or the
/// `ce-type` itself for a type `E` does not know), payload.
pub(super) fn decode<E: IntegrationEventSet>(
    subject: &str,
    headers: &[(String, String)],
    payload: &[u8],
) -> Result<(E, Envelope), DecodeError> {
    let envelope = Envelope::from_headers(headers)?;
    let token = E::subject_token(&envelope.name).unwrap_or(envelope.name.as_str());
    if E::CHANNEL.event_name_in(subject) != Some(token) {
        return Err(DecodeError::InvalidHeader {
            header: crate::message::headers::TYPE,
            value: envelope.name,
            reason: format!("does not match the subject `{subject}`"),
        });
    }
    let event = E::decode(&envelope.name, payload)?;
    Ok((event, envelope))
}

/// A received JetStream message taken apart: what acknowledges it, where it comes from, its
/// headers and payload. Decoded into a [`Delivery`] by [`Received::decode`].
pub(super) struct Received {
    /// The NATS subject the message was published on.
    pub(super) subject: String,
    /// Sequence of the message in its stream.
    pub(super) stream_sequence: u64,
    /// Deliveries of the message so far, this one included.
    pub(super) delivered: u64,
    /// Every header, sorted by name.
    pub(super) headers: Vec<(String, String)>,
    /// The payload as received.
    pub(super) payload: Bytes,
    /// Acknowledges the message.
    pub(super) ack: AckHandle,
}

impl Received {
    /// Takes `message` apart; `None` (logged) when it carries no JetStream metadata, so it can
    /// be neither decoded nor acknowledged.
    pub(super) fn new(message: async_nats::jetstream::Message) -> Option<Self> {
        let mut message = message;
        let subject = message.subject.as_str().to_owned();
        let (stream_sequence, delivered) = match message.info() {
            Ok(info) => (
                info.stream_sequence,
                u64::try_from(info.delivered).unwrap_or(0),
            ),
            Err(err) => {
                tracing::error!(%subject, error = %err, "message without JetStream metadata; skipped");
                return None;
            }
        };
        // The message itself acks it, its payload and headers taken out (no copy, no clone of
        // the context per message).
        let headers = headers_of(message.message.headers.take().as_ref());
        let payload = std::mem::take(&mut message.message.payload);
        Some(Self {
            subject,
            stream_sequence,
            delivered,
            headers,
            payload,
            ack: AckHandle {
                message,
                stream_sequence,
            },
        })
    }

    /// The value of the header `name` (ASCII case-insensitive).
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Decodes the message into a [`Delivery`]; on failure gives the message back with the
    /// reason.
    pub(super) fn decode<E: IntegrationEventSet>(self) -> Result<Delivery<E>, Box<Undecodable>> {
        match decode::<E>(&self.subject, &self.headers, &self.payload) {
            Ok((event, envelope)) => Ok(Delivery {
                event,
                id: envelope.id,
                name: envelope.name,
                subject: self.subject,
                source: envelope.source,
                aggregate_id: envelope.aggregate_id,
                aggregate_type: envelope.aggregate_type,
                aggregate_version: envelope.aggregate_version,
                domain_event_id: envelope.domain_event_id,
                time: envelope.time,
                stream_sequence: self.stream_sequence,
                delivered: self.delivered,
                headers: self.headers,
                payload: self.payload,
                ack: self.ack,
            }),
            Err(reason) => Err(Box::new(Undecodable {
                message: self,
                reason,
            })),
        }
    }
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
            subject: delivery.subject,
            stream_sequence: delivery.stream_sequence,
            delivered: delivery.delivered,
            headers: delivery.headers,
            payload: delivery.payload,
            ack: delivery.ack,
        }
    }
}
