//! Publishing integration messages.
//!
//! [`Publisher`] is the transport seam: the JetStream implementation lives in
//! [`crate::nats::JetStreamPublisher`] (feature `nats`); [`InMemoryPublisher`] keeps messages in
//! memory for tests and single-process setups.

mod batch;
mod in_memory;

pub use batch::{BatchEnd, BatchOutcome, BatchPublisher};
pub use in_memory::InMemoryPublisher;

use crate::error::BoxError;
use crate::message::IntegrationMessage;

/// Sends integration messages to a broker.
#[async_trait::async_trait]
pub trait Publisher: Send + Sync {
    /// Publishes `message` and returns once the broker has *stored* it.
    ///
    /// Implementations must de-duplicate by [`IntegrationMessage::id`] (as JetStream does with
    /// `Nats-Msg-Id`) and report a copy with [`PublishReceipt::duplicate`].
    ///
    /// # Errors
    ///
    /// [`PublishError`] whenever the broker did not confirm the message; a message is never
    /// dropped silently.
    async fn publish(&self, message: &IntegrationMessage) -> Result<PublishReceipt, PublishError>;

    /// The publisher's ordered batches, if it has them ([`BatchPublisher`]: JetStream's
    /// fast-ingest batches on [`JetStreamPublisher`](crate::nats::JetStreamPublisher)); the
    /// outbox relays send through them where a stream takes them. Default: none.
    fn batches(&self) -> Option<&dyn BatchPublisher> {
        None
    }
}

#[async_trait::async_trait]
impl<P: Publisher + ?Sized> Publisher for std::sync::Arc<P> {
    async fn publish(&self, message: &IntegrationMessage) -> Result<PublishReceipt, PublishError> {
        (**self).publish(message).await
    }

    fn batches(&self) -> Option<&dyn BatchPublisher> {
        (**self).batches()
    }
}

/// What the registration functions accept as the publisher their handlers share: an
/// `Arc` of a concrete publisher (`Arc<JetStreamPublisher>`), an `Arc<dyn Publisher>`, or a
/// reference to either (the `Arc` is cloned).
///
/// ```
/// use std::sync::Arc;
/// use eventmap::{InMemoryPublisher, IntoSharedPublisher, Publisher};
///
/// let concrete = Arc::new(InMemoryPublisher::new());
/// let shared: Arc<dyn Publisher> = (&concrete).into_shared();
/// let again: Arc<dyn Publisher> = (&shared).into_shared();
/// assert!(Arc::ptr_eq(&shared, &again));
/// ```
pub trait IntoSharedPublisher {
    /// The publisher as handlers hold it.
    fn into_shared(self) -> std::sync::Arc<dyn Publisher>;
}

impl<P: Publisher + 'static> IntoSharedPublisher for std::sync::Arc<P> {
    fn into_shared(self) -> std::sync::Arc<dyn Publisher> {
        self
    }
}

impl IntoSharedPublisher for std::sync::Arc<dyn Publisher> {
    fn into_shared(self) -> std::sync::Arc<dyn Publisher> {
        self
    }
}

impl<T: IntoSharedPublisher + Clone> IntoSharedPublisher for &T {
    fn into_shared(self) -> std::sync::Arc<dyn Publisher> {
        self.clone().into_shared()
    }
}

/// The broker's confirmation of a published message (a JetStream `PubAck`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishReceipt {
    /// Stream that stored the message.
    pub stream: String,
    /// Stream sequence of the message (1-based). For a duplicate, the sequence reported by the
    /// broker (JetStream: the sequence of the original message).
    pub sequence: u64,
    /// `true` when the broker recognised the message id as already stored and did not store
    /// it again.
    pub duplicate: bool,
}

/// Publishing a message failed; the broker has not confirmed it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// No stream binds the subject (JetStream answered "no responders").
    /// Run [`crate::nats::provision_streams`] first. In a JetStream cluster the same answer
    /// comes while the subject's stream has no leader (an election after its leader's server
    /// died, or no quorum): then it passes once a leader is elected (seconds).
    #[error("no stream stores subject `{subject}` (or, in a cluster, its stream has no leader)")]
    NoStream {
        /// Subject of the message.
        subject: String,
    },
    /// The broker did not acknowledge in time. The message may or may not be stored; a
    /// re-publish with the same id is safe (de-duplicated).
    #[error("timed out waiting for the broker to acknowledge a message on `{subject}`")]
    Timeout {
        /// Subject of the message.
        subject: String,
    },
    /// The message cannot be sent as is: invalid subject, or a header name or value NATS does
    /// not allow (e.g. a line break in an aggregate id). Retrying does not help.
    #[error("invalid message on `{subject}`: {reason}")]
    InvalidMessage {
        /// Subject of the message.
        subject: String,
        /// What is wrong.
        reason: String,
    },
    /// The encoded message (headers and payload, as NATS frames them) is larger than the
    /// server's `max_payload` (NATS default 1 MiB), so the server would refuse it. Nothing was
    /// sent: the check runs before sending, never waiting for an ack that cannot come. Only
    /// a raised `max_payload` (server configuration) or a smaller message helps.
    #[error(
        "message on `{subject}` is {size} bytes, above the server's max_payload of {max_payload} bytes"
    )]
    TooLarge {
        /// Subject of the message.
        subject: String,
        /// Bytes of the message on the wire: the header block and the payload.
        size: usize,
        /// The server's `max_payload` in bytes, as announced to the connection.
        max_payload: usize,
    },
    /// The stream refused the message for a reason retrying does not fix: JetStream error
    /// 10054, the message (headers and payload) is over the stream's `max_msg_size`, which
    /// can be far below the server's `max_payload`. Only a raised `max_msg_size` (stream
    /// configuration) or a smaller message helps.
    #[error("stream refused the message on `{subject}`: {reason}")]
    Refused {
        /// Subject of the message.
        subject: String,
        /// The broker's error (description and codes).
        reason: String,
    },
    /// The server does not let the connection's user publish on the subject: it answered
    /// the publish with `Permissions Violation for Publish to "<subject>"` (`reason`, the
    /// server's text). Only a change of the user's permissions (server or account
    /// configuration) or another subject helps. Reported by a
    /// [`JetStreamPublisher`](crate::nats::JetStreamPublisher) whose connection records its
    /// violations ([`connect_recording_violations`](crate::nats::connect::connect_recording_violations));
    /// without that, the server's refusal is only seen as a [`Self::Timeout`].
    #[error("the server does not permit publishing on `{subject}`: {reason}")]
    NotPermitted {
        /// Subject of the message.
        subject: String,
        /// The server's error text.
        reason: String,
    },
    /// Any other broker or connection failure.
    #[error("broker failed to store a message on `{subject}`")]
    Broker {
        /// Subject of the message.
        subject: String,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
}

impl PublishError {
    /// [`Self::InvalidMessage`] when a header of `message` could never be sent (a line break
    /// in an aggregate, correlation or causation id), naming the integration event and the
    /// header: what every publisher of this crate checks before it takes a message.
    pub(crate) fn check_headers(message: &IntegrationMessage) -> Result<(), Self> {
        match message.unsendable_header() {
            Some(reason) => Err(Self::InvalidMessage {
                subject: message.subject.clone(),
                reason,
            }),
            None => Ok(()),
        }
    }

    /// Subject of the message that failed.
    pub fn subject(&self) -> &str {
        match self {
            Self::NoStream { subject }
            | Self::Timeout { subject }
            | Self::InvalidMessage { subject, .. }
            | Self::TooLarge { subject, .. }
            | Self::Refused { subject, .. }
            | Self::NotPermitted { subject, .. }
            | Self::Broker { subject, .. } => subject,
        }
    }

    /// Whether retrying the same message can succeed (timeouts and broker failures; not a
    /// missing stream, an invalid message or one too large).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Timeout { .. } | Self::Broker { .. })
    }

    /// Whether the broker can never accept this message as it is, whatever the retries: an
    /// invalid message ([`Self::InvalidMessage`]), one over the server's limit
    /// ([`Self::TooLarge`]), one its stream refuses ([`Self::Refused`]) or one on a subject
    /// the user may not publish on ([`Self::NotPermitted`]). A missing stream
    /// ([`Self::NoStream`]) is neither transient nor permanent: provisioning the stream, or a
    /// JetStream cluster electing the stream's leader, makes the same message publishable.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            Self::InvalidMessage { .. }
                | Self::TooLarge { .. }
                | Self::Refused { .. }
                | Self::NotPermitted { .. }
        )
    }
}
