//! [`JetStreamPublisher`]: publishing integration messages to JetStream.

use std::collections::VecDeque;
use std::str::FromStr;

use async_nats::HeaderMap;
use async_nats::header::{HeaderName, HeaderValue};
use async_nats::jetstream::Context;
use async_nats::jetstream::context::{PublishAckFuture, PublishErrorKind};
use async_nats::jetstream::message::PublishMessage;
use tokio::time::Instant;
use tracing::Instrument;
use uuid::Uuid;

use super::connect::PermissionViolations;
use crate::message::{IntegrationMessage, headers};
use crate::publisher::{PublishError, PublishReceipt, Publisher};

/// A [`Publisher`] on NATS JetStream.
///
/// Each message is sent with `send_publish` and the JetStream acknowledgement is awaited
/// before [`publish`](Publisher::publish) returns, so `Ok` means the stream stored the message
/// (or already had it: [`PublishReceipt::duplicate`]). Every failure is an error, never a silent
/// drop. The ack timeout is the context's request timeout (async-nats default: 5 s).
///
/// Headers: the message's headers in order, plus `Nats-Msg-Id` = [`IntegrationMessage::id`]
/// (replacing any `Nats-Msg-Id` in the message), so JetStream drops copies published within the
/// stream's duplicate window.
///
/// [`publish_all`](Self::publish_all) publishes a batch with up to `window` acknowledgements
/// outstanding: one round trip per message is what limits [`publish`](Publisher::publish)
/// (about 10,000 events/s on loopback), pipelining reaches more than ten times that
/// (`BENCHMARKS.md`).
///
/// A subject the connection's user may not publish on gets no answer from NATS but an
/// asynchronous `Permissions Violation` on the connection: given the connection's
/// [`PermissionViolations`] ([`with_permission_violations`](Self::with_permission_violations)),
/// such a publish fails with [`PublishError::NotPermitted`] as soon as the server's error
/// arrives; without them, it times out ([`PublishError::Timeout`]).
///
/// Ordered batches ([`Publisher::batches`], used by the outbox relays): NATS fast-ingest
/// batches (ADR-50, nats-server >= 2.14) to streams created with `allow_batched` (what
/// [`provision_streams`](super::provision_streams) does on such a server). The publisher
/// learns which stream stores a subject from the acknowledgements of its single publishes
/// (no JetStream API request, so no right on `$JS.API` is needed); a subject it has not
/// published on yet, and a stream that refused a batch in the last minute, get single
/// publishes.
#[derive(Debug, Clone)]
pub struct JetStreamPublisher {
    pub(super) context: Context,
    /// The context's client, kept: `Context::client` clones it (a dozen reference counts and
    /// a channel sender), which was measured at every message (`max_payload`).
    pub(super) client: async_nats::Client,
    violations: Option<PermissionViolations>,
    pub(super) lookups: super::fast_batch::SharedLookups,
}

impl JetStreamPublisher {
    /// A publisher on `context` (`async_nats::jetstream::new(client)`).
    pub fn new(context: Context) -> Self {
        Self {
            client: context.client(),
            context,
            violations: None,
            lookups: Default::default(),
        }
    }

    /// Reads the publish permission violations of the context's connection from
    /// `violations` (the recorder given to
    /// [`connect_recording_violations`](super::connect::connect_recording_violations) for
    /// that connection): a publish the server refuses for the user's permissions then fails
    /// at once with [`PublishError::NotPermitted`], the server's text included, rather than
    /// with a [`PublishError::Timeout`] a relay would retry forever.
    ///
    /// A violation is matched to a publish by subject and time (recorded after the publish
    /// was sent); should the user's permissions be widened while a publish on a refused
    /// subject is awaiting its ack, that publish may still be reported refused: publishing
    /// it again is safe (same `Nats-Msg-Id`).
    pub fn with_permission_violations(mut self, violations: PermissionViolations) -> Self {
        self.violations = Some(violations);
        self
    }

    /// The JetStream context.
    pub fn context(&self) -> &Context {
        &self.context
    }

    /// Publishes `messages` in order, keeping up to `window` of them sent but not yet
    /// acknowledged (a `window` of 0 counts as 1), and returns one receipt per message, in the
    /// order of `messages`, once every message is acknowledged.
    ///
    /// Each message is sent exactly as [`publish`](Publisher::publish) sends it (same checks,
    /// headers and `Nats-Msg-Id`). Messages go out in slice order on one connection, so a stream
    /// stores them in that order. The JetStream context bounds the wait for each ack (its
    /// request timeout) and the number of acks outstanding over all publishers sharing it
    /// (`max_ack_inflight`, async-nats default 5,000): a `window` above it waits for permits.
    ///
    /// ```no_run
    /// # async fn demo(jetstream: eventmap::nats::async_nats::jetstream::Context,
    /// #               messages: Vec<eventmap::IntegrationMessage>) {
    /// let publisher = eventmap::nats::JetStreamPublisher::new(jetstream);
    /// match publisher.publish_all(&messages, 256).await {
    ///     Ok(receipts) => assert_eq!(receipts.len(), messages.len()),
    ///     // `messages[err.index..]` may or may not be stored: publish them again (same ids,
    ///     // so JetStream drops the copies within the stream's duplicate window).
    ///     Err(err) => eprintln!("{} confirmed, then: {}", err.receipts.len(), err.source),
    /// }
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`PublishAllError`] at the first message, in slice order, that was not confirmed:
    /// its [`index`](PublishAllError::index), the receipts of every message before it (all
    /// acknowledged) and the [`PublishError`]. No new message is sent after a failure; the
    /// messages from `index` on may or may not be stored, and re-publishing them is safe.
    pub async fn publish_all(
        &self,
        messages: &[IntegrationMessage],
        window: usize,
    ) -> Result<Vec<PublishReceipt>, PublishAllError> {
        let window = window.max(1);
        let span = tracing::info_span!("publish_all", messages = messages.len(), window);
        async {
            let mut receipts = Vec::with_capacity(messages.len());
            let mut in_flight: VecDeque<(usize, Sent)> =
                VecDeque::with_capacity(window.min(messages.len()));
            // (index of the first unconfirmed message, its error); `receipts.len()` equals
            // that index once the outstanding acks before it are collected.
            let mut failure: Option<(usize, PublishError)> = None;
            let mut ack_failed = false;
            for (index, message) in messages.iter().enumerate() {
                if in_flight.len() >= window
                    && let Some((oldest, ack)) = in_flight.pop_front()
                {
                    match self.confirm(&messages[oldest], ack).await {
                        Ok(receipt) => receipts.push(receipt),
                        Err(err) => {
                            failure = Some((oldest, err));
                            ack_failed = true;
                            break;
                        }
                    }
                }
                match self.send(message).await {
                    Ok(ack) => in_flight.push_back((index, ack)),
                    Err(err) => {
                        // The messages before it may still be confirmed: collect their acks.
                        failure = Some((index, err));
                        break;
                    }
                }
            }
            // Collect the acks still outstanding, in order, unless an ack already failed (the
            // later messages are then left to the caller's re-publish from the index).
            if !ack_failed {
                while let Some((index, ack)) = in_flight.pop_front() {
                    match self.confirm(&messages[index], ack).await {
                        Ok(receipt) => receipts.push(receipt),
                        Err(err) => {
                            failure = Some((index, err));
                            break;
                        }
                    }
                }
            }
            match failure {
                None => {
                    tracing::debug!(confirmed = receipts.len(), "jetstream batch acknowledged");
                    Ok(receipts)
                }
                Some((index, source)) => {
                    debug_assert_eq!(index, receipts.len());
                    Err(PublishAllError {
                        index,
                        receipts,
                        source,
                    })
                }
            }
        }
        .instrument(span)
        .await
    }

    /// Checks `message` and sends it; the returned [`Sent`] holds the future of the JetStream
    /// ack.
    async fn send(&self, message: &IntegrationMessage) -> Result<Sent, PublishError> {
        let (headers, size) = self.checked_headers(message)?;
        let publish = PublishMessage::build()
            .payload(message.payload.clone())
            .headers(headers);
        let at = Instant::now();
        let ack = self
            .context
            .send_publish(message.subject.clone(), publish)
            .await
            .map_err(|err| match err.kind() {
                // The server lowered its limit between the check above and the send.
                PublishErrorKind::MaxPayloadExceeded => {
                    too_large(message, size, self.client.max_payload())
                }
                _ => map_error(message, err),
            })?;
        Ok(Sent { at, ack })
    }

    /// The headers `message` is sent with and its size on the wire (header block and
    /// payload, bytes), after the checks every send makes: a valid subject, sendable headers
    /// ([`header_map`]), and a size within the server's `max_payload`.
    pub(super) fn checked_headers(
        &self,
        message: &IntegrationMessage,
    ) -> Result<(HeaderMap, usize), PublishError> {
        check_subject(&message.subject).map_err(|reason| invalid(message, reason))?;
        let (headers, header_lines) = header_map(message)?;
        // async-nats checks the size too (since 0.50), but with an untyped error; a message
        // over the limit must never be sent: the server would close the connection, and older
        // clients waited for an ack that never came.
        let max_payload = self.client.max_payload();
        let size = wire_size(header_lines, message.payload.len());
        if max_payload > 0 && size > max_payload {
            return Err(too_large(message, size, max_payload));
        }
        Ok((headers, size))
    }

    /// Awaits the JetStream acknowledgement of `message`, or, with the connection's
    /// [`PermissionViolations`], the server's refusal of its subject, whichever comes first.
    async fn confirm(
        &self,
        message: &IntegrationMessage,
        sent: Sent,
    ) -> Result<PublishReceipt, PublishError> {
        let acked = match &self.violations {
            None => sent.ack.await,
            Some(violations) => tokio::select! {
                acked = sent.ack => acked,
                reason = violations.publish_refused(&message.subject, sent.at) => {
                    let error = PublishError::NotPermitted {
                        subject: message.subject.clone(),
                        reason,
                    };
                    tracing::warn!(error = %crate::error::ErrorChain(&error), "publish failed");
                    return Err(error);
                }
            },
        };
        let ack = acked.map_err(|err| map_error(message, err))?;
        Ok(PublishReceipt {
            stream: ack.stream,
            sequence: ack.sequence,
            duplicate: ack.duplicate,
        })
    }
}

/// A message sent and awaiting its ack.
struct Sent {
    /// When it was sent (a permissions violation recorded before is not its answer).
    at: Instant,
    /// The JetStream ack.
    ack: PublishAckFuture,
}

/// Publishing a batch with [`JetStreamPublisher::publish_all`] stopped at a message the
/// broker did not confirm.
#[derive(Debug, thiserror::Error)]
#[error("message {index} of the batch was not confirmed")]
pub struct PublishAllError {
    /// Index in the batch of the first message not confirmed. Every message before it was
    /// acknowledged; it and the messages after it may or may not be stored.
    pub index: usize,
    /// The receipts of the messages before [`index`](Self::index), in order
    /// (`receipts.len() == index`).
    pub receipts: Vec<PublishReceipt>,
    /// Why the message at [`index`](Self::index) was not confirmed.
    #[source]
    pub source: PublishError,
}

/// Checks a publish subject the way the NATS protocol requires: non-empty dot-separated
/// tokens, no whitespace, no wildcards.
fn check_subject(subject: &str) -> Result<(), String> {
    if subject.is_empty() {
        return Err("empty subject".into());
    }
    if subject.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("subject contains whitespace".into());
    }
    for token in subject.split('.') {
        match token {
            "" => return Err("subject has an empty token".into()),
            "*" | ">" => return Err("wildcards are not allowed in a publish subject".into()),
            _ => {}
        }
    }
    Ok(())
}

/// Bytes of a message on the wire as the server counts them against `max_payload`: the
/// header block (`NATS/1.0\r\n`, a `name: value\r\n` line per header, `\r\n`) and the
/// payload.
fn wire_size(header_lines: usize, payload: usize) -> usize {
    const VERSION_LINE: usize = "NATS/1.0\r\n".len();
    VERSION_LINE + header_lines + "\r\n".len() + payload
}

/// The bytes of one header line, `<name>: <value>\r\n`.
fn header_line(name: &str, value: &str) -> usize {
    name.len() + ": ".len() + value.len() + "\r\n".len()
}

fn too_large(message: &IntegrationMessage, size: usize, max_payload: usize) -> PublishError {
    PublishError::TooLarge {
        subject: message.subject.clone(),
        size,
        max_payload,
    }
}

fn invalid(message: &IntegrationMessage, reason: String) -> PublishError {
    PublishError::InvalidMessage {
        subject: message.subject.clone(),
        reason,
    }
}

/// The CloudEvents header names eventmap writes, as static `HeaderName`s: no allocation per
/// header of every message.
static KNOWN_HEADERS: [HeaderName; 11] = [
    HeaderName::from_static(headers::SPECVERSION),
    HeaderName::from_static(headers::ID),
    HeaderName::from_static(headers::TYPE),
    HeaderName::from_static(headers::SOURCE),
    HeaderName::from_static(headers::SUBJECT),
    HeaderName::from_static(headers::TIME),
    HeaderName::from_static(headers::DATACONTENTTYPE),
    HeaderName::from_static(headers::AGGREGATE_ID),
    HeaderName::from_static(headers::AGGREGATE_TYPE),
    HeaderName::from_static(headers::AGGREGATE_VERSION),
    HeaderName::from_static(headers::DOMAIN_EVENT_ID),
];

/// The index in [`KNOWN_HEADERS`] of `name` (exactly, as the generated glue writes it).
fn known_header(name: &str) -> Option<usize> {
    KNOWN_HEADERS.iter().position(|known| {
        let known: &str = known.as_ref();
        known == name
    })
}

/// Builds the NATS header map of `message` without the panicking `&str` conversions of
/// async-nats, and counts the bytes of its header lines ([`header_line`]). The header
/// checks are async-nats' own parses (a name of visible ASCII without `:`, a value without
/// CR or LF: the NATS header format), plus a non-empty name; a header that fails them is
/// refused with [`IntegrationMessage::unsendable_header`]'s reason. A `Nats-Msg-Id` among
/// the headers is replaced by the message id.
fn header_map(message: &IntegrationMessage) -> Result<(HeaderMap, usize), PublishError> {
    let mut map = HeaderMap::new();
    let mut lines = 0;
    // The CloudEvents names already in the map, by index in `KNOWN_HEADERS`: the first value
    // of such a name is inserted (one hash; `HeaderMap::append` looks the name up first, then
    // inserts it), a second one appended.
    let mut known_seen = 0u16;
    for (name, value) in &message.headers {
        if name.eq_ignore_ascii_case(headers::NATS_MSG_ID) {
            // Replaced by the message id, but refused like any header that cannot be sent
            // (as `InMemoryPublisher` refuses it).
            if value.contains(['\r', '\n']) {
                return Err(unsendable(message));
            }
            continue;
        }
        let Ok(header_value) = HeaderValue::from_str(value) else {
            return Err(unsendable(message));
        };
        lines += header_line(name, value);
        match known_header(name) {
            Some(known) if known_seen & (1 << known) == 0 => {
                known_seen |= 1 << known;
                map.insert(KNOWN_HEADERS[known].clone(), header_value);
            }
            Some(known) => map.append(KNOWN_HEADERS[known].clone(), header_value),
            None => {
                let header = (!name.is_empty())
                    .then(|| HeaderName::from_str(name).ok())
                    .flatten();
                let Some(header) = header else {
                    return Err(unsendable(message));
                };
                map.append(header, header_value);
            }
        }
    }
    let mut buffer = Uuid::encode_buffer();
    let id = message.id.hyphenated().encode_lower(&mut buffer);
    let id_header: &str = async_nats::header::NATS_MESSAGE_ID.as_ref();
    lines += header_line(id_header, id);
    let id =
        HeaderValue::from_str(id).map_err(|_| invalid(message, "invalid message id".into()))?;
    map.insert(async_nats::header::NATS_MESSAGE_ID, id);
    Ok((map, lines))
}

/// The refusal of a message whose headers cannot be sent.
fn unsendable(message: &IntegrationMessage) -> PublishError {
    let reason = message.unsendable_header().unwrap_or_else(|| {
        format!(
            "integration event `{}` ({}): a header cannot be sent",
            message.name, message.id
        )
    });
    invalid(message, reason)
}

#[async_trait::async_trait]
impl Publisher for JetStreamPublisher {
    async fn publish(&self, message: &IntegrationMessage) -> Result<PublishReceipt, PublishError> {
        let span = tracing::info_span!(
            "publish",
            subject = %message.subject,
            integration_event = %message.name,
            integration_event_id = %message.id,
        );
        let started = std::time::Instant::now();
        let result = async {
            let sent = self.send(message).await?;
            let receipt = self.confirm(message, sent).await?;
            self.lookups.learn(&message.subject, &receipt.stream);
            tracing::debug!(
                stream = %receipt.stream,
                sequence = receipt.sequence,
                duplicate = receipt.duplicate,
                "jetstream ack"
            );
            Ok(receipt)
        }
        .instrument(span)
        .await;
        let outcome = match &result {
            Ok(receipt) if receipt.duplicate => crate::metrics::Outcome::Duplicate,
            Ok(_) => crate::metrics::Outcome::Ok,
            Err(_) => crate::metrics::Outcome::Error,
        };
        crate::metrics::published(started.elapsed(), outcome);
        result
    }

    fn batches(&self) -> Option<&dyn crate::publisher::BatchPublisher> {
        Some(self)
    }
}

fn map_error(
    message: &IntegrationMessage,
    err: async_nats::jetstream::context::PublishError,
) -> PublishError {
    let subject = message.subject.clone();
    let error = match err.kind() {
        PublishErrorKind::StreamNotFound => PublishError::NoStream { subject },
        PublishErrorKind::TimedOut => PublishError::Timeout { subject },
        _ => match permanent_refusal(&err) {
            Some(refusal) => PublishError::Refused {
                subject,
                reason: refusal.to_string(),
            },
            None => PublishError::Broker {
                subject,
                source: Box::new(err),
            },
        },
    };
    tracing::warn!(error = %crate::error::ErrorChain(&error), "publish failed");
    error
}

/// The JetStream error of a publish the stream answered with an error no retry fixes: 10054,
/// the message is over the stream's `max_msg_size` (async-nats reports it as
/// `PublishErrorKind::Other`, the JetStream error as its source).
fn permanent_refusal(
    err: &async_nats::jetstream::context::PublishError,
) -> Option<&async_nats::jetstream::Error> {
    let source = std::error::Error::source(err)?;
    let jetstream = source.downcast_ref::<async_nats::jetstream::Error>()?;
    (jetstream.error_code() == async_nats::jetstream::ErrorCode::STREAM_MESSAGE_EXCEEDS_MAXIMUM)
        .then_some(jetstream)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use uuid::Uuid;

    use super::*;

    #[test]
    fn subjects_are_checked() {
        assert!(check_subject("ordering.order.OrderCreatedEvent").is_ok());
        assert!(check_subject("").is_err());
        assert!(check_subject("a..b").is_err());
        assert!(check_subject("a.*").is_err());
        assert!(check_subject("a.>").is_err());
        assert!(check_subject("a b").is_err());
    }

    #[test]
    fn header_map_sets_msg_id_and_rejects_line_breaks() {
        let mut message = IntegrationMessage {
            id: Uuid::from_u128(7),
            name: "E".into(),
            subject: "s.E".into(),
            payload: Bytes::new(),
            headers: vec![
                ("ce-type".into(), "E".into()),
                ("Nats-Msg-Id".into(), "other".into()),
            ],
        };
        let (map, lines) = header_map(&message).unwrap();
        assert_eq!(map.get("ce-type").map(|v| v.as_str()), Some("E"));
        // `ce-type: E\r\n` and `Nats-Msg-Id: <36 characters>\r\n`, as async-nats writes them.
        assert_eq!(lines, 12 + 51);
        let written: usize = map
            .iter()
            .flat_map(|(name, values)| {
                let name: &str = name.as_ref();
                values
                    .iter()
                    .map(move |value| format!("{name}: {value}\r\n").len())
            })
            .sum();
        assert_eq!(lines, written);
        assert_eq!(
            map.get("Nats-Msg-Id").map(|v| v.as_str()),
            Some("00000000-0000-0000-0000-000000000007")
        );
        assert_eq!(map.get_all("Nats-Msg-Id").count(), 1);

        // A CloudEvents name given twice keeps both values, in order (the first is inserted,
        // the second appended), and both lines are counted.
        message.headers.push(("ce-type".into(), "F".into()));
        let (twice, twice_lines) = header_map(&message).unwrap();
        let values: Vec<&str> = twice.get_all("ce-type").map(|v| v.as_str()).collect();
        assert_eq!(values, ["E", "F"]);
        assert_eq!(twice_lines, lines + 12);
        message.headers.pop();

        message
            .headers
            .push(("ce-subject".into(), "evil\r\nX: y".into()));
        let err = header_map(&message).unwrap_err();
        assert!(
            matches!(&err, PublishError::InvalidMessage { reason, .. } if reason.contains("header `ce-subject`") && reason.contains("line break")),
            "{err:?}"
        );
        message.headers.pop();
        message.headers.push(("nats-msg-id".into(), "a\nb".into()));
        assert!(matches!(
            header_map(&message),
            Err(PublishError::InvalidMessage { .. })
        ));
        for name in ["bad:name", "", "caf\u{e9}"] {
            message.headers.pop();
            message.headers.push((name.into(), "v".into()));
            let err = header_map(&message).unwrap_err();
            assert!(
                matches!(&err, PublishError::InvalidMessage { reason, .. } if reason.contains("is not a NATS header name")),
                "{name:?}: {err:?}"
            );
        }
    }
}
