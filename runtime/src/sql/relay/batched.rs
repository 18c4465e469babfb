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
/// aggregate's rows all go to one stream that takes them, one at a time otherwise (and for
/// what a batch could not take: a stream that turned out not to take batches, the rows after
/// a refused one). A transient failure of a batch stops the round, as one of a single publish
/// does.
pub(crate) async fn publish(
    publisher: &dyn Publisher,
    batches: &dyn BatchPublisher,
    config: &RelayConfig,
    rows: &[OutboxRow],
    queues: Vec<VecDeque<usize>>,
) -> Outcome {
    let streams = streams_of(batches, rows, &queues).await;
    let mut lanes: BTreeMap<&str, Vec<(usize, &IntegrationMessage)>> = BTreeMap::new();
    let mut single = Vec::new();
    for queue in queues {
        match lane_of(&queue, rows, &streams) {
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
