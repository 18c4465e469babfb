//! The fast path of a relay round, the same on every backend: the aggregates whose rows of
//! the round all go to one stream that takes ordered batches
//! ([`BatchPublisher`](crate::publisher::BatchPublisher): JetStream fast-ingest batches) are
//! sent as one batch per stream, all their rows at once, in id order; the others one message
//! per aggregate at a time, beside them ([`send`](super::send)).
//!
//! Why order per aggregate survives: a stream stores a batch's messages in the order sent and
//! none after one it did not store, so what it holds is always a prefix of the batch: an
//! aggregate's later row is never stored before an earlier one of the same batch, even when a
//! reconnect loses a message on the way. The round marks that prefix, and the rest goes again
//! in a later round (de-duplicated by id if it was stored after all). An aggregate whose rows
//! of the round go to more than one stream is sent one message at a time, so that its order
//! holds across streams too.

use std::collections::{BTreeMap, HashMap, VecDeque};

use super::RelayConfig;
use super::send::{self, Ack, Failure, OutboxRow, Outcome};
use crate::message::IntegrationMessage;
use crate::publisher::{BatchEnd, BatchOutcome, BatchPublisher, Publisher};

/// Sends the rows of `queues` (per aggregate, in id order): by ordered batches where their
/// aggregate's rows all go to one stream that takes them and that stream has at least
/// `min_rows` such rows in the round, one at a time otherwise (and for what a batch could not
/// take: a stream that turned out not to take batches, the rows after a refused one). A
/// transient failure of a batch stops the round, as one of a single publish does.
pub(crate) async fn publish(
    publisher: &dyn Publisher,
    batches: &dyn BatchPublisher,
    config: &RelayConfig,
    rows: &[OutboxRow],
    queues: Vec<VecDeque<usize>>,
    min_rows: usize,
) -> Outcome {
    let streams = streams_of(batches, rows, &queues).await;
    let lane_of_queue: Vec<Option<&str>> = queues
        .iter()
        .map(|queue| lane_of(queue, rows, &streams))
        .collect();
    let mut sizes: HashMap<&str, usize> = HashMap::new();
    for (queue, lane) in queues.iter().zip(&lane_of_queue) {
        if let Some(stream) = lane {
            *sizes.entry(stream).or_default() += queue.len();
        }
    }
    let mut lanes: BTreeMap<&str, Vec<(usize, &IntegrationMessage)>> = BTreeMap::new();
    let mut single = Vec::new();
    for (queue, lane) in queues.into_iter().zip(lane_of_queue) {
        // A short lane goes one message at a time: a batch costs a round trip more (its
        // first message waits for the flow ack), which only pays off over many rows.
        match lane.filter(|stream| sizes[stream] >= min_rows) {
            Some(stream) => {
                let lane = lanes.entry(stream).or_default();
                for &index in &queue {
                    if let Ok(message) = &rows[index].message {
                        lane.push((index, message));
                    }
                }
            }
            None => single.push(queue),
        }
    }
    for lane in lanes.values_mut() {
        lane.sort_unstable_by_key(|(index, _)| *index);
    }
    let timeout = config.publish_timeout;
    let sent = futures::future::join_all(lanes.iter().map(|(stream, lane)| async move {
        let messages: Vec<&IntegrationMessage> = lane.iter().map(|(_, message)| *message).collect();
        batches.publish_batch(stream, &messages, timeout).await
    }));
    let (sent, mut outcome) = futures::join!(
        sent,
        send::one_at_a_time(publisher, config, rows, single, false)
    );
    let mut leftover = Vec::new();
    for ((stream, lane), batch) in lanes.iter().zip(sent) {
        settle(stream, lane, batch, rows, &mut outcome, &mut leftover);
    }
    if !outcome.halted && !leftover.is_empty() {
        leftover.sort_unstable();
        let queues = send::aggregate_queues(rows, leftover.into_iter(), &HashMap::new());
        let rest = send::one_at_a_time(publisher, config, rows, queues, false).await;
        outcome.merge(rest);
    }
    outcome
}

/// The stream of each subject of the sendable rows, where it takes ordered batches (the
/// lookups of subjects the publisher has not seen lately run at once).
async fn streams_of<'r>(
    batches: &dyn BatchPublisher,
    rows: &'r [OutboxRow],
    queues: &[VecDeque<usize>],
) -> HashMap<&'r str, Option<String>> {
    let mut subjects: Vec<&'r str> = queues
        .iter()
        .flatten()
        .filter_map(|&index| rows[index].message.as_ref().ok())
        .map(|message| message.subject.as_str())
        .collect();
    subjects.sort_unstable();
    subjects.dedup();
    let streams =
        futures::future::join_all(subjects.iter().map(|subject| batches.batch_stream(subject)))
            .await;
    subjects.into_iter().zip(streams).collect()
}

/// The stream an aggregate's `queue` of rows goes to as a batch: every row readable, and
/// every subject stored by the same stream, one that takes batches.
fn lane_of<'s>(
    queue: &VecDeque<usize>,
    rows: &[OutboxRow],
    streams: &'s HashMap<&str, Option<String>>,
) -> Option<&'s str> {
    let mut lane: Option<&str> = None;
    for &index in queue {
        let message = rows[index].message.as_ref().ok()?;
        let stream = streams.get(message.subject.as_str())?.as_deref()?;
        match lane {
            None => lane = Some(stream),
            Some(known) if known == stream => {}
            Some(_) => return None,
        }
    }
    lane
}

/// Records what the batch of `lane` (to `stream`) came to in `outcome`; the rows to send one
/// at a time after it go to `leftover`.
fn settle(
    stream: &str,
    lane: &[(usize, &IntegrationMessage)],
    batch: BatchOutcome,
    rows: &[OutboxRow],
    outcome: &mut Outcome,
    leftover: &mut Vec<usize>,
) {
    let stored = batch.stored.min(lane.len());
    for (n, (index, _)) in lane[..stored].iter().enumerate() {
        let ack = Ack {
            stream: stream.to_owned(),
            // A fast batch reports no sequence per message; the sequence is only kept
            // when published rows are (`delete_published(false)`), which sends one at a time.
            sequence: 0,
            duplicate: n < batch.duplicates,
        };
        outcome.acked.push((*index, ack));
        outcome.batched += 1;
    }
    let rest = &lane[stored..];
    match batch.end {
        BatchEnd::Complete => {}
        BatchEnd::Unsupported => leftover.extend(rest.iter().map(|(index, _)| *index)),
        BatchEnd::Failed(err) => {
            let Some(((failed, _), after)) = rest.split_first() else {
                return;
            };
            let failure = Failure::of(&err);
            tracing::debug!(outbox_id = rows[*failed].id, error = %failure.error, "batch publish failed");
            if failure.kind.halts() {
                outcome.halted = true;
            } else {
                // A refusal: the stream stored nothing after it. The other aggregates' rows
                // go one at a time; this aggregate's later rows wait behind the refused one.
                let refused = &rows[*failed];
                leftover.extend(
                    after
                        .iter()
                        .map(|(index, _)| *index)
                        .filter(|index| !rows[*index].same_aggregate(refused)),
                );
            }
            outcome.failed.push((*failed, failure));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use bytes::Bytes;
    use uuid::Uuid;

    use super::*;
    use crate::publisher::{InMemoryPublisher, PublishError, PublishReceipt};

    /// A broker of streams by subject prefix: `s1.*` and `s2.*` take batches (streams S1 and
    /// S2), `s3.*` does not. Single publishes go to an in-memory stream; a batch is recorded,
    /// stored there in order up to a message whose subject ends in `.big` (refused), and
    /// every message is logged in the order the broker stored it.
    #[derive(Default)]
    struct Broker {
        stored: InMemoryPublisher,
        batches: Mutex<Vec<(String, Vec<i64>)>>,
    }

    fn row_id(message: &IntegrationMessage) -> i64 {
        message.name.parse().expect("row id in the name")
    }

    #[async_trait::async_trait]
    impl Publisher for Broker {
        async fn publish(
            &self,
            message: &IntegrationMessage,
        ) -> Result<PublishReceipt, PublishError> {
            if message.subject.ends_with(".big") {
                return Err(PublishError::Refused {
                    subject: message.subject.clone(),
                    reason: "too big".into(),
                });
            }
            self.stored.publish(message).await
        }

        fn batches(&self) -> Option<&dyn BatchPublisher> {
            Some(self)
        }
    }

    #[async_trait::async_trait]
    impl BatchPublisher for Broker {
        async fn batch_stream(&self, subject: &str) -> Option<String> {
            match subject.split('.').next() {
                Some("s1") => Some("S1".into()),
                Some("s2") => Some("S2".into()),
                _ => None,
            }
        }

        async fn publish_batch(
            &self,
            stream: &str,
            messages: &[&IntegrationMessage],
            _timeout: Duration,
        ) -> BatchOutcome {
            self.batches.lock().unwrap().push((
                stream.to_owned(),
                messages.iter().map(|m| row_id(m)).collect(),
            ));
            for (stored, message) in messages.iter().enumerate() {
                if message.subject.ends_with(".big") {
                    return BatchOutcome {
                        stored,
                        duplicates: 0,
                        end: BatchEnd::Failed(PublishError::Refused {
                            subject: message.subject.clone(),
                            reason: "too big".into(),
                        }),
                    };
                }
                self.stored.publish(message).await.expect("stored");
            }
            BatchOutcome {
                stored: messages.len(),
                duplicates: 0,
                end: BatchEnd::Complete,
            }
        }
    }

    /// A row of aggregate `aggregate` with outbox id `id` on `subject`.
    fn row(id: i64, aggregate: &str, subject: &str) -> OutboxRow {
        OutboxRow {
            id,
            aggregate_type: "Order".into(),
            aggregate_id: aggregate.into(),
            message: Ok(IntegrationMessage {
                id: Uuid::new_v4(),
                name: id.to_string(),
                subject: subject.into(),
                payload: Bytes::new(),
                headers: Vec::new(),
            }),
            past_horizon: false,
        }
    }

    async fn send(broker: &Broker, rows: &[OutboxRow]) -> Outcome {
        let queues = send::aggregate_queues(rows, 0..rows.len(), &HashMap::new());
        publish(broker, broker, &RelayConfig::default(), rows, queues, 1).await
    }

    /// Ids of the acknowledged rows, sorted, and of the stored messages in stored order.
    fn acked(outcome: &Outcome, rows: &[OutboxRow]) -> Vec<i64> {
        let mut ids: Vec<i64> = outcome.acked.iter().map(|(i, _)| rows[*i].id).collect();
        ids.sort_unstable();
        ids
    }

    fn stored(broker: &Broker) -> Vec<i64> {
        broker.stored.messages().iter().map(row_id).collect()
    }

    #[tokio::test]
    async fn aggregates_on_one_batching_stream_go_in_its_batch_the_others_one_at_a_time() {
        let broker = Broker::default();
        let rows = vec![
            row(1, "a", "s1.created"),
            row(2, "b", "s1.created"),
            row(3, "c", "s3.created"),
            row(4, "a", "s1.readied"),
            // b's rows span two streams: one at a time, in order.
            row(5, "b", "s2.noted"),
            row(6, "d", "s2.created"),
            row(7, "b", "s1.readied"),
            row(8, "c", "s3.readied"),
        ];
        let outcome = send(&broker, &rows).await;
        assert_eq!(acked(&outcome, &rows), vec![1, 2, 3, 4, 5, 6, 7, 8]);
        assert!(outcome.failed.is_empty() && !outcome.halted);
        assert_eq!(outcome.batched, 3, "a's two rows and d's");
        assert_eq!(
            *broker.batches.lock().unwrap(),
            vec![("S1".to_owned(), vec![1, 4]), ("S2".to_owned(), vec![6])]
        );
        let stored = stored(&broker);
        let position = |id: i64| stored.iter().position(|s| *s == id).expect("stored");
        for (earlier, later) in [(1, 4), (2, 5), (5, 7), (3, 8)] {
            assert!(
                position(earlier) < position(later),
                "{earlier} before {later}: {stored:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_refusal_in_a_batch_holds_back_its_aggregate_and_the_rest_goes_one_at_a_time() {
        let broker = Broker::default();
        let rows = vec![
            row(1, "a", "s1.created"),
            row(2, "b", "s1.big"),
            row(3, "c", "s1.created"),
            row(4, "b", "s1.readied"),
            row(5, "a", "s1.readied"),
        ];
        let outcome = send(&broker, &rows).await;
        assert_eq!(
            acked(&outcome, &rows),
            vec![1, 3, 5],
            "b waits behind its refused row"
        );
        assert_eq!(outcome.failed.len(), 1);
        assert_eq!(rows[outcome.failed[0].0].id, 2);
        assert!(!outcome.halted, "a refusal does not halt the round");
        assert_eq!(
            outcome.batched, 1,
            "only the row before the refused one went in the batch"
        );
        assert_eq!(stored(&broker), vec![1, 3, 5]);
    }

    #[tokio::test]
    async fn a_lane_shorter_than_the_minimum_goes_one_at_a_time() {
        let broker = Broker::default();
        let mut rows = vec![row(1, "a", "s2.created"), row(2, "a", "s2.readied")];
        rows.extend((3..=34).map(|id| row(id, &format!("x{id}"), "s1.created")));
        let queues = send::aggregate_queues(&rows, 0..rows.len(), &HashMap::new());
        let outcome = publish(&broker, &broker, &RelayConfig::default(), &rows, queues, 32).await;
        assert_eq!(outcome.acked.len(), 34);
        assert_eq!(
            outcome.batched, 32,
            "S1's 32 rows in a batch, S2's 2 one at a time"
        );
        assert_eq!(broker.batches.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn kept_rows_and_probes_never_go_in_batches() {
        for (config, probe) in [
            (RelayConfig::default().delete_published(false), false),
            (RelayConfig::default().batch_publish(false), false),
            (RelayConfig::default(), true),
        ] {
            let broker = Broker::default();
            let rows = vec![row(1, "a", "s1.created"), row(2, "a", "s1.readied")];
            let outcome = send::publish(&broker, &config, &rows, &HashMap::new(), probe).await;
            assert_eq!(acked(&outcome, &rows), vec![1, 2]);
            assert_eq!(outcome.batched, 0);
            assert!(broker.batches.lock().unwrap().is_empty());
        }
    }
}
