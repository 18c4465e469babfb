//! [`OutboxWriter`]: the [`Publisher`] that generated handlers are given when an SQL store
//! (Postgres or SQLite) writes their messages to the outbox; it sends nothing, it collects.

use std::future::Future;
use std::sync::{Arc, Mutex};

use crate::message::IntegrationMessage;
use crate::publisher::{PublishError, PublishReceipt, Publisher};

tokio::task_local! {
    /// The messages collected by the save running on this task.
    static COLLECTED: Arc<Mutex<Vec<IntegrationMessage>>>;
}

/// A [`Publisher`] that does not send anything: it hands each message to the store save
/// running on the current task ([`PostgresStore`](crate::postgres::PostgresStore) or
/// [`SqliteStore`](crate::sqlite::SqliteStore)), which inserts it into the outbox table in
/// the transaction that appends the domain events.
///
/// Pass it where generated code wants a publisher, and give the resulting dispatcher to the
/// store ([`PostgresStoreBuilder::outbox`](crate::postgres::PostgresStoreBuilder::outbox),
/// [`SqliteStoreBuilder::outbox`](crate::sqlite::SqliteStoreBuilder::outbox)):
///
/// ```ignore
/// let mut outbox = eventmap::EventDispatcher::new();
/// integration_events::register_integration_event_handlers(&mut outbox, OutboxWriter::shared());
/// let store = PostgresStore::builder(pool).registry(registry).outbox(outbox).build().await?;
/// ```
///
/// The handlers still convert and encode each domain event (with the CloudEvents headers and
/// the deterministic id); only the sending moves to the relay. The receipt it returns names
/// the stream [`OutboxWriter::STREAM`] with the message's position in the save.
///
/// Outside a store save (for instance when the same dispatcher is used elsewhere) `publish`
/// fails with [`PublishError::Broker`]: nothing is dropped silently.
#[derive(Debug, Clone, Copy, Default)]
pub struct OutboxWriter;

impl OutboxWriter {
    /// Stream name reported in the receipts.
    pub const STREAM: &'static str = "eventmap-outbox";

    /// An outbox writer, shared, as generated registration code takes its publisher.
    pub fn shared() -> Arc<dyn Publisher> {
        Arc::new(Self)
    }
}

#[async_trait::async_trait]
impl Publisher for OutboxWriter {
    async fn publish(&self, message: &IntegrationMessage) -> Result<PublishReceipt, PublishError> {
        let pushed = COLLECTED.try_with(|collected| {
            let mut collected = collected
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            collected.push(message.clone());
            collected.len() as u64
        });
        match pushed {
            Ok(sequence) => Ok(PublishReceipt {
                stream: Self::STREAM.to_owned(),
                sequence,
                duplicate: false,
            }),
            Err(_) => Err(PublishError::Broker {
                subject: message.subject.clone(),
                source: "the outbox writer was used outside a store save \
                         (its dispatcher belongs to a PostgresStore or SqliteStore)"
                    .into(),
            }),
        }
    }
}

/// Runs `future` with an outbox collection open on this task and returns its output with
/// the messages [`OutboxWriter`] collected, in publish order.
pub(crate) async fn collect<F: Future>(future: F) -> (F::Output, Vec<IntegrationMessage>) {
    let collected = Arc::new(Mutex::new(Vec::new()));
    let output = COLLECTED.scope(Arc::clone(&collected), future).await;
    let messages = std::mem::take(
        &mut *collected
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()),
    );
    (output, messages)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use uuid::Uuid;

    use super::*;

    fn message(n: u128) -> IntegrationMessage {
        IntegrationMessage {
            id: Uuid::from_u128(n),
            name: "E".into(),
            subject: "s.E".into(),
            payload: Bytes::new(),
            headers: Vec::new(),
        }
    }

    #[tokio::test]
    async fn collects_inside_a_scope_and_refuses_outside() {
        let publisher = OutboxWriter::shared();
        let (receipts, messages) = collect(async {
            let a = publisher.publish(&message(1)).await.unwrap();
            let b = publisher.publish(&message(2)).await.unwrap();
            (a.sequence, b.sequence)
        })
        .await;
        assert_eq!(receipts, (1, 2));
        let ids: Vec<_> = messages.iter().map(|m| m.id.as_u128()).collect();
        assert_eq!(ids, [1, 2]);
        assert!(matches!(
            publisher.publish(&message(3)).await,
            Err(PublishError::Broker { .. })
        ));
    }
}
