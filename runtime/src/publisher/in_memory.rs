//! A [`Publisher`] that keeps messages in memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::broadcast;
use uuid::Uuid;

use super::{PublishError, PublishReceipt, Publisher};
use crate::message::IntegrationMessage;

/// Capacity of the broadcast channel behind [`InMemoryPublisher::subscribe`]; a receiver that
/// falls further behind gets `RecvError::Lagged`.
const BROADCAST_CAPACITY: usize = 1024;

#[derive(Debug, Default)]
struct State {
    messages: Vec<IntegrationMessage>,
    sequence_by_id: HashMap<Uuid, u64>,
}

/// An in-memory [`Publisher`] that behaves like a single JetStream stream.
///
/// * Messages are kept in publish order; the receipt sequence is 1-based.
/// * De-duplication by [`IntegrationMessage::id`] like JetStream's `Nats-Msg-Id`, except that
///   the window is unbounded: a copy gets `duplicate: true` and the original's sequence, and is
///   neither stored nor broadcast again.
/// * Every receipt names the stream [`InMemoryPublisher::STREAM`].
/// * A message with a header NATS cannot carry (a line break in an aggregate, correlation or
///   causation id) is refused with [`PublishError::InvalidMessage`], as JetStream's publisher
///   refuses it.
///
/// Cloning is cheap and clones share the messages.
#[derive(Debug, Clone)]
pub struct InMemoryPublisher {
    state: Arc<Mutex<State>>,
    sender: broadcast::Sender<IntegrationMessage>,
}

impl Default for InMemoryPublisher {
    fn default() -> Self {
        Self::new()
    }
}

impl InMemoryPublisher {
    /// Stream name reported in receipts.
    pub const STREAM: &'static str = "in-memory";

    /// An empty publisher.
    pub fn new() -> Self {
        let (sender, _) = broadcast::channel(BROADCAST_CAPACITY);
        Self {
            state: Arc::default(),
            sender,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave `State` half-updated in a way that
        // matters (push and insert are the only mutations), so poisoning is ignored.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The stored messages, in publish order (duplicates excluded).
    pub fn messages(&self) -> Vec<IntegrationMessage> {
        self.state().messages.clone()
    }

    /// Number of stored messages.
    pub fn len(&self) -> usize {
        self.state().messages.len()
    }

    /// Whether no message was stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every stored message and forgets their ids (so they are no longer duplicates).
    pub fn clear(&self) {
        let mut state = self.state();
        state.messages.clear();
        state.sequence_by_id.clear();
    }

    /// Receives every message stored after this call (duplicates excluded), in order.
    pub fn subscribe(&self) -> broadcast::Receiver<IntegrationMessage> {
        self.sender.subscribe()
    }
}

#[async_trait::async_trait]
impl Publisher for InMemoryPublisher {
    async fn publish(&self, message: &IntegrationMessage) -> Result<PublishReceipt, PublishError> {
        // Refused like the JetStream publisher refuses it: a test passes where a service would.
        PublishError::check_headers(message)?;
        let receipt = {
            let mut state = self.state();
            if let Some(&sequence) = state.sequence_by_id.get(&message.id) {
                tracing::debug!(subject = %message.subject, id = %message.id, "duplicate message");
                return Ok(PublishReceipt {
                    stream: Self::STREAM.to_owned(),
                    sequence,
                    duplicate: true,
                });
            }
            state.messages.push(message.clone());
            let sequence = state.messages.len() as u64;
            state.sequence_by_id.insert(message.id, sequence);
            // Sent under the lock so broadcast order equals sequence order.
            // No receiver is not an error.
            let _ = self.sender.send(message.clone());
            PublishReceipt {
                stream: Self::STREAM.to_owned(),
                sequence,
                duplicate: false,
            }
        };
        Ok(receipt)
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn message(id: u128, name: &str) -> IntegrationMessage {
        IntegrationMessage {
            id: Uuid::from_u128(id),
            name: name.into(),
            subject: format!("ordering.order.{name}"),
            payload: Bytes::from_static(b"\x0a\x01x"),
            headers: vec![("ce-type".into(), name.into())],
        }
    }

    #[tokio::test]
    async fn stores_in_order_and_dedups_by_id() {
        let publisher = InMemoryPublisher::new();
        let mut rx = publisher.subscribe();
        let clone = publisher.clone();

        let first = publisher.publish(&message(1, "A")).await.unwrap();
        let second = clone.publish(&message(2, "B")).await.unwrap();
        let again = publisher.publish(&message(1, "A")).await.unwrap();

        assert_eq!(
            first,
            PublishReceipt {
                stream: "in-memory".into(),
                sequence: 1,
                duplicate: false
            }
        );
        assert_eq!(second.sequence, 2);
        assert!(!second.duplicate);
        assert_eq!(
            again,
            PublishReceipt {
                stream: "in-memory".into(),
                sequence: 1,
                duplicate: true
            }
        );
        let names: Vec<_> = publisher.messages().into_iter().map(|m| m.name).collect();
        assert_eq!(names, ["A", "B"]);
        assert_eq!(clone.len(), 2);

        assert_eq!(rx.recv().await.unwrap().name, "A");
        assert_eq!(rx.recv().await.unwrap().name, "B");
        assert!(rx.try_recv().is_err(), "duplicate is not broadcast");

        publisher.clear();
        assert!(publisher.is_empty());
        assert!(!publisher.publish(&message(1, "A")).await.unwrap().duplicate);
    }
}
