//! [`JetStreamPublisher`]: publishing integration messages to JetStream.

use std::str::FromStr;

use async_nats::HeaderMap;
use async_nats::header::{HeaderName, HeaderValue};
use async_nats::jetstream::Context;
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::message::PublishMessage;
use tracing::Instrument;

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
#[derive(Debug, Clone)]
pub struct JetStreamPublisher {
    context: Context,
}

impl JetStreamPublisher {
    /// A publisher on `context` (`async_nats::jetstream::new(client)`).
    pub fn new(context: Context) -> Self {
        Self { context }
    }

    /// The JetStream context.
    pub fn context(&self) -> &Context {
        &self.context
    }
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

fn invalid(message: &IntegrationMessage, reason: String) -> PublishError {
    PublishError::InvalidMessage {
        subject: message.subject.clone(),
        reason,
    }
}

/// Builds the NATS header map without the panicking `&str` conversions of async-nats.
fn header_map(message: &IntegrationMessage) -> Result<HeaderMap, PublishError> {
    let mut map = HeaderMap::new();
    for (name, value) in &message.headers {
        if name.eq_ignore_ascii_case(headers::NATS_MSG_ID) {
            continue;
        }
        let header = HeaderName::from_str(name)
            .map_err(|_| invalid(message, format!("invalid header name {name:?}")))?;
        let value = HeaderValue::from_str(value).map_err(|_| {
            invalid(
                message,
                format!("invalid value {value:?} for header `{name}`"),
            )
        })?;
        map.append(header, value);
    }
    let id = HeaderValue::from_str(&message.id.hyphenated().to_string())
        .map_err(|_| invalid(message, "invalid message id".into()))?;
    map.insert(async_nats::header::NATS_MESSAGE_ID, id);
    Ok(map)
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
        async {
            check_subject(&message.subject).map_err(|reason| invalid(message, reason))?;
            let headers = header_map(message)?;
            let publish = PublishMessage::build()
                .payload(message.payload.clone())
                .headers(headers);
            let subject = message.subject.clone();
            let ack = self
                .context
                .send_publish(subject, publish)
                .await
                .map_err(|err| map_error(message, err))?
                .await
                .map_err(|err| map_error(message, err))?;
            tracing::debug!(
                stream = %ack.stream,
                sequence = ack.sequence,
                duplicate = ack.duplicate,
                "jetstream ack"
            );
            Ok(PublishReceipt {
                stream: ack.stream,
                sequence: ack.sequence,
                duplicate: ack.duplicate,
            })
        }
        .instrument(span)
        .await
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
        PublishErrorKind::MaxPayloadExceeded => PublishError::InvalidMessage {
            subject,
            reason: err.to_string(),
        },
        _ => PublishError::Broker {
            subject,
            source: Box::new(err),
        },
    };
    tracing::warn!(error = %error, "publish failed");
    error
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
        let map = header_map(&message).unwrap();
        assert_eq!(map.get("ce-type").map(|v| v.as_str()), Some("E"));
        assert_eq!(
            map.get("Nats-Msg-Id").map(|v| v.as_str()),
            Some("00000000-0000-0000-0000-000000000007")
        );
        assert_eq!(map.get_all("Nats-Msg-Id").count(), 1);

        message
            .headers
            .push(("ce-subject".into(), "evil\r\nX: y".into()));
        let err = header_map(&message).unwrap_err();
        assert!(
            matches!(err, PublishError::InvalidMessage { .. }),
            "{err:?}"
        );
        message.headers.pop();
        message.headers.push(("bad:name".into(), "v".into()));
        assert!(matches!(
            header_map(&message),
            Err(PublishError::InvalidMessage { .. })
        ));
    }
}
