//! [`Consumer::run_with_inbox`]: the consumer's loop with an inbox ([`InboxBackend`]: Postgres or SQLite), handling
//! each pulled batch in one transaction (or, split by aggregate, in several at once) and keeping each aggregate's events in stream order
//! across crashes (see `order.rs`).

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::hash::Hash;
use std::panic::AssertUnwindSafe;
use std::pin::pin;

use async_nats::jetstream::AckKind;
use futures::FutureExt;
use tokio::time::{Instant, Interval, MissedTickBehavior};
use tracing::Instrument;

use super::handler::panic_message;
use super::order::{AggregateKey, Gate, subject_matches};
use super::pull::{Pulled, PulledMessage};
use super::run::in_progress;
use super::settle::Settled;
use super::transactional::TransactionalHandler;
use super::{ConsumeError, Consumer, ConsumerReport};
use crate::decode::IntegrationEventSet;
use crate::inbox::InboxBackend;
use crate::message::headers;
use crate::nats::dead_letter;
use crate::nats::delivery::{AckHandle, Delivery, Received};

/// Most stream sequences read back at start to find the messages an earlier instance left
/// outstanding (see [`Consumer::scan_outstanding`]).
const SCAN_LIMIT: u64 = 10_000;

/// The state of one [`Consumer::run_with_inbox`].
struct Batching<E> {
    /// Pulled and not yet looked at.
    pulled: Pulled,
    /// Decoded, waiting for an earlier message of their aggregate (under in-progress acks).
    held: Vec<Delivery<E>>,
    /// The outstanding messages by aggregate.
    gate: Gate,
    report: ConsumerReport,
    /// In-progress acks.
    ticker: Interval,
    /// The acks of the last committed batch, sent while the next batch is pulled and handled.
    acking: Option<tokio::task::JoinHandle<()>>,
}

impl<E> Batching<E> {
    /// Whether a held message may go now (its blockers were applied or given up here).
    fn any_due(&self) -> bool {
        self.held
            .iter()
            .any(|delivery| !holds(&self.gate, delivery))
    }
}

/// The aggregate of `delivery`; `None` without a `ce-aggregateid` (never held).
fn key_of<E>(delivery: &Delivery<E>) -> Option<AggregateKey> {
    let aggregate_id = delivery.aggregate_id();
    (!aggregate_id.is_empty()).then(|| {
        (
            delivery.aggregate_type().to_owned(),
            aggregate_id.to_owned(),
        )
    })
}

impl<E: IntegrationEventSet + Sync> Consumer<E> {
    /// Pulls and handles messages through `inbox` until `shutdown` completes or a fatal
    /// error, a pulled batch ([`DeliveryPolicy::batch`](super::DeliveryPolicy::batch)
    /// messages at most) per database transaction. `inbox` is a
    /// [`postgres::Inbox`](crate::postgres::Inbox) or a [`sqlite::Inbox`](crate::sqlite::Inbox);
    /// `handler` writes on its database's connection:
    ///
    /// 1. the batch's ids are recorded for this consumer (the durable name) with one
    ///    `INSERT ... ON CONFLICT DO NOTHING RETURNING`; ids recorded before (redeliveries,
    ///    re-sends) and an id seen twice in the batch do not reach the handler;
    /// 2. `handler` runs for each new message, in stream order, on the transaction's
    ///    connection;
    /// 3. the transaction commits, then every message of the batch is acked (all at once;
    ///    confirmed unless [`double_ack`](super::DeliveryPolicy::double_ack) is off). A crash
    ///    between commit and ack leaves ids that the redelivery finds recorded.
    ///
    /// With [`DeliveryPolicy::inbox_transactions`](super::DeliveryPolicy::inbox_transactions)
    /// above 1, a batch is split by aggregate into that many transactions, run at the same
    /// time on connections of their own; each goes through steps 1-3 alone (a failure rolls
    /// back only its own messages) and the acks of those committed go out together.
    ///
    /// While a batch is handled, the next one is pulled (a prefetch, as in [`run`](Self::run)):
    /// its messages wait in the queue under in-progress acks and are released (naked) at
    /// shutdown like the rest.
    ///
    /// A handler error or panic, or a database failure, rolls the batch (or the failing
    /// transactions of a split batch) back; its messages are then handled one at a time, each in its own transaction and settled as in
    /// [`run`](Self::run): the failing one is naked with the backoff and dead-lettered on its
    /// last allowed delivery, the others are applied. Undecodable messages and those past
    /// `max_deliver` are dead-lettered and settled before the batch, as in `run`.
    ///
    /// **Per-aggregate order.** Within a transaction, handlers run in stream order. Across batches
    /// and crashes the consumer holds back a message while an earlier message of its
    /// aggregate (same `ce-aggregatetype` and `ce-aggregateid`, lower stream sequence) is
    /// outstanding: one an earlier instance left unacknowledged (found at start between the
    /// consumer's ack floor and its last delivered sequence, at most 10,000 sequences read
    /// back, not yet recorded in the inbox), or one that failed here and was naked. A held
    /// message stays in memory under in-progress acks, so it loses no delivery; it is
    /// handled once the earlier one was applied (here, or by another instance: the inbox
    /// says so) or acknowledged (the consumer's ack floor passed it). The rule relies on the
    /// relay publishing each aggregate's messages in version order into one stream, not on
    /// consecutive versions, so event types the subscription does not take are no gap.
    /// Limits: an instance sees what *another, live* instance has outstanding only at its
    /// own start; messages of different aggregates are not ordered; a held message waits up
    /// to the ack wait for its predecessor's redelivery (plus the backoff after a failure).
    ///
    /// Shutdown is graceful, as in `run`: the running batch finishes and is settled; pulled
    /// and held messages are naked without delay.
    ///
    /// # Errors
    ///
    /// [`ConsumeError::ConsumerGone`], [`ConsumeError::IncompatibleContract`] (as in `run`).
    pub async fn run_with_inbox<I: InboxBackend, H: TransactionalHandler<E, I::Database>>(
        self,
        inbox: &I,
        handler: &H,
        shutdown: impl Future<Output = ()>,
    ) -> Result<ConsumerReport, ConsumeError> {
        let span = tracing::info_span!(
            "consumer",
            channel = E::CHANNEL.name,
            stream = E::CHANNEL.stream,
            durable = %self.spec.durable,
            inbox = %inbox.location(),
        );
        async move {
            let mut shutdown = pin!(shutdown);
            let period = self.spec.policy.in_progress_period();
            let mut ticker = tokio::time::interval_at(Instant::now() + period, period);
            ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
            let mut state = Batching {
                pulled: Pulled::default(),
                held: Vec::new(),
                gate: Gate::default(),
                report: ConsumerReport::default(),
                ticker,
                acking: None,
            };
            warn_small_pool(inbox, self.spec.policy.inbox_transactions);
            self.scan_outstanding(inbox, &mut state.gate).await;
            let stopped = loop {
                if state.pulled.queue.is_empty() && !state.any_due() {
                    tokio::select! {
                        biased;
                        () = &mut shutdown => break Ok(()),
                        filled = self.fill_holding(&mut state) => filled?,
                    }
                    if state.pulled.queue.is_empty() && state.held.is_empty() {
                        continue;
                    }
                }
                let messages: Vec<PulledMessage> = state.pulled.queue.drain(..).collect();
                // The next batch is pulled while this one is handled (absorbed into the
                // queue under in-progress acks as soon as it arrives, `with_progress`).
                self.prefetch(&mut state.pulled);
                if let Err(err) = self.batch(inbox, handler, messages, &mut state).await {
                    break Err(err);
                }
                if shutdown.as_mut().now_or_never().is_some() {
                    break Ok(());
                }
            };
            acked(&mut state.acking).await;
            let Batching {
                pulled,
                held,
                report,
                ..
            } = state;
            self.release(pulled).await;
            release_held(&held).await;
            if let Err(err) = stopped {
                tracing::error!(?report, error = %crate::error::ErrorChain(&err), "consumer stopped");
                return Err(err);
            }
            tracing::info!(?report, "consumer shut down");
            Ok(report)
        }
        .instrument(span)
        .await
    }

    /// [`fill`](Self::fill), sending in-progress acks for the held messages meanwhile.
    async fn fill_holding(&self, state: &mut Batching<E>) -> Result<(), ConsumeError> {
        let Batching {
            pulled,
            held,
            ticker,
            ..
        } = state;
        let mut filling = pin!(self.fill(pulled));
        loop {
            tokio::select! {
                biased;
                filled = &mut filling => return filled,
                _ = ticker.tick(), if !held.is_empty() => {
                    in_progress(held.iter().map(|delivery| &delivery.ack), &VecDeque::new()).await;
                }
            }
        }
    }

    /// Decodes `messages`, settles those that cannot be handled, holds those behind an
    /// outstanding message of their aggregate, and handles the rest (with the held ones now
    /// due) in one transaction, or split into [`DeliveryPolicy::inbox_transactions`](super::DeliveryPolicy::inbox_transactions)
    /// run at once.
    async fn batch<I: InboxBackend, H: TransactionalHandler<E, I::Database>>(
        &self,
        inbox: &I,
        handler: &H,
        messages: Vec<PulledMessage>,
        state: &mut Batching<E>,
    ) -> Result<(), ConsumeError> {
        let mut deliveries = Vec::with_capacity(messages.len() + state.held.len());
        let mut messages = messages.into_iter();
        while let Some(message) = messages.next() {
            match self.admit(message, state).await {
                Ok(Some(delivery)) => deliveries.push(delivery),
                Ok(None) => {}
                Err(err) => {
                    // Nothing more is handled: the rest is released when the run stops.
                    state.pulled.queue.extend(messages);
                    state.held.append(&mut deliveries);
                    return Err(err);
                }
            }
        }
        if !state.held.is_empty() {
            self.refresh_gate(inbox, &mut state.gate).await;
            deliveries.append(&mut state.held);
            deliveries.sort_by_key(|delivery| delivery.stream_sequence);
        }
        let (ready, held): (Vec<_>, Vec<_>) = deliveries
            .into_iter()
            .partition(|delivery| !holds(&state.gate, delivery));
        if !held.is_empty() {
            tracing::debug!(
                held = held.len(),
                "messages wait for an earlier message of their aggregate"
            );
        }
        state.held = held;
        if ready.is_empty() {
            return Ok(());
        }
        let groups = split(ready, self.spec.policy.inbox_transactions, transaction_key);
        let span = tracing::debug_span!(
            "consume_batch",
            size = groups.iter().map(Vec::len).sum::<usize>(),
            transactions = groups.len(),
            outcome = tracing::field::Empty
        );
        let running: Vec<&[Delivery<E>]> = groups.iter().map(Vec::as_slice).collect();
        let transactions = futures::future::join_all(
            running
                .iter()
                .map(|group| self.transact(inbox, handler, group)),
        );
        let outcomes = self
            .with_progress(state, &running, &[], transactions)
            .instrument(span.clone())
            .await;
        let outcomes_len = outcomes.len();
        let mut committed = Vec::new();
        let mut failed = Vec::new();
        for (group, outcome) in groups.into_iter().zip(outcomes) {
            match outcome {
                Ok(()) => committed.extend(group),
                Err(error) => failed.push((group, error)),
            }
        }
        span.record(
            "outcome",
            match (committed.is_empty(), failed.is_empty()) {
                (_, true) => "committed",
                (true, false) => "rolled back",
                (false, false) => "partly rolled back",
            },
        );
        if !committed.is_empty() {
            state.report.handled += committed.len() as u64;
            if !state.gate.is_empty() {
                for delivery in &committed {
                    if let Some(key) = key_of(delivery) {
                        state.gate.clear(&key, delivery.id());
                    }
                }
            }
            // One batch's acks in flight at a time, overlapping the next batch.
            acked(&mut state.acking).await;
            let handles = committed.into_iter().map(|delivery| delivery.ack).collect();
            let confirmed = self.spec.policy.double_ack;
            state.acking = Some(tokio::spawn(ack_all(handles, confirmed).in_current_span()));
        }
        let split = outcomes_len > 1;
        match failed.len() {
            0 => {}
            // A batch of one message in one transaction: its failure is the message's own.
            1 if !split && failed[0].0.len() == 1 => {
                let (group, error) = failed.remove(0);
                for delivery in group {
                    self.settle_tracked(delivery, Err(error.clone()), state)
                        .await;
                }
            }
            // The failed transactions' messages, together and in stream order (they share no
            // aggregate), one at a time: a transaction of a split batch can fail because of
            // another one (a deadlock, a lock or pool timeout), not of its messages, so even a
            // single message is tried again alone; and every message still to come gets
            // in-progress acks meanwhile (`one_by_one`'s `waiting`).
            _ => {
                let rolled_back = failed.len();
                let mut retried = Vec::new();
                for (group, error) in failed {
                    tracing::warn!(%error, size = group.len(), "transaction rolled back; handling its messages one at a time");
                    retried.extend(group);
                }
                retried.sort_by_key(|delivery| delivery.stream_sequence);
                tracing::debug!(
                    transactions = rolled_back,
                    messages = retried.len(),
                    "retrying one message at a time"
                );
                self.one_by_one(inbox, handler, retried, state).await;
            }
        }
        Ok(())
    }

    /// Takes a pulled message apart: `Some` when it can be handled; undecodable ones, those
    /// past `max_deliver` and those the contract guard settles are settled here (see
    /// [`run`](Self::run)); `Err` when the guard stops the consumer.
    async fn admit(
        &self,
        message: PulledMessage,
        state: &mut Batching<E>,
    ) -> Result<Option<Delivery<E>>, ConsumeError> {
        let Some(received) = Received::new(message) else {
            return Ok(None);
        };
        let Some(received) = self.screen(received, &mut state.report).await? else {
            return Ok(None);
        };
        Ok(match received.decode::<E>() {
            Ok(delivery) => match self.exhausted(&delivery) {
                None => Some(delivery),
                Some(error) => {
                    self.settle_tracked(delivery, Err(error), state).await;
                    None
                }
            },
            Err(undecodable) => {
                if self.reject(&undecodable.message, &undecodable.reason).await {
                    state.report.rejected += 1;
                } else {
                    state.report.failed += 1;
                }
                None
            }
        })
    }

    /// After a batch rolled back: each message in a transaction of its own, settled by its
    /// outcome; one behind a message that failed meanwhile is held.
    async fn one_by_one<I: InboxBackend, H: TransactionalHandler<E, I::Database>>(
        &self,
        inbox: &I,
        handler: &H,
        ready: Vec<Delivery<E>>,
        state: &mut Batching<E>,
    ) {
        let mut ready = VecDeque::from(ready);
        while let Some(delivery) = ready.pop_front() {
            if holds(&state.gate, &delivery) {
                state.held.push(delivery);
                continue;
            }
            let single = std::slice::from_ref(&delivery);
            // The messages still to come get in-progress acks too: taken one at a time, the
            // batch may outlast the ack wait.
            let waiting = ready.make_contiguous();
            let outcome = self
                .with_progress(
                    state,
                    &[single],
                    waiting,
                    self.transact(inbox, handler, single),
                )
                .await;
            self.settle_tracked(delivery, outcome, state).await;
        }
    }

    /// [`settle`](Self::settle)s `delivery` and keeps the gate: a message naked for a retry
    /// is outstanding, one applied or given up no longer is.
    async fn settle_tracked(
        &self,
        delivery: Delivery<E>,
        outcome: Result<(), String>,
        state: &mut Batching<E>,
    ) {
        let key = key_of(&delivery);
        let (sequence, id) = (delivery.stream_sequence, delivery.id().to_owned());
        let settled = self.settle(delivery, outcome, &mut state.report).await;
        if let Some(key) = key {
            if settled == Settled::Retried {
                state.gate.block(key, sequence, &id);
            } else {
                state.gate.clear(&key, &id);
            }
        }
    }

    /// One transaction: records the ids of `deliveries`, runs `handler` on each new one in
    /// order, commits. `Err` (rolled back) with the handler's error chain, the panic, or the
    /// database error.
    async fn transact<I: InboxBackend, H: TransactionalHandler<E, I::Database>>(
        &self,
        inbox: &I,
        handler: &H,
        deliveries: &[Delivery<E>],
    ) -> Result<(), String> {
        let durable = self.spec.durable.as_str();
        let database = |err: sqlx::Error| format!("inbox `{}`: {err}", inbox.location());
        let mut tx = inbox.begin().await.map_err(database)?;
        let mut seen = HashSet::with_capacity(deliveries.len());
        let ids: Vec<&str> = deliveries
            .iter()
            .map(|delivery| delivery.id())
            .filter(|id| seen.insert(*id))
            .collect();
        let new = inbox
            .record_batch(&mut *tx, durable, &ids)
            .await
            .map_err(database)?;
        seen.clear();
        let fresh: Vec<&Delivery<E>> = deliveries
            .iter()
            .filter(|delivery| new.contains(delivery.id()) && seen.insert(delivery.id()))
            .collect();
        if fresh.len() < deliveries.len() {
            tracing::debug!(
                duplicates = deliveries.len() - fresh.len(),
                "already processed: skipped"
            );
        }
        if !fresh.is_empty() {
            let started = std::time::Instant::now();
            let result = AssertUnwindSafe(handler.handle_batch(&mut *tx, &fresh, durable))
                .catch_unwind()
                .await;
            crate::metrics::batch_handled(durable, started.elapsed(), matches!(result, Ok(Ok(()))));
            let error = match result {
                Ok(Ok(())) => None,
                Ok(Err(err)) => Some(dead_letter::error_chain(&*err)),
                Err(panic) => Some(format!("handler panicked: {}", panic_message(&*panic))),
            };
            if let Some(error) = error {
                if let Err(err) = tx.rollback().await {
                    // The connection closes with the transaction open: the database rolls it back.
                    tracing::warn!(error = %crate::error::ErrorChain(&err), "rollback after a handler error failed");
                }
                return Err(error);
            }
        }
        tx.commit().await.map_err(database)
    }

    /// Runs `work`, sending in-progress acks for `running` (the messages of the transactions
    /// under way), `waiting` (the rest of a batch taken
    /// one at a time), the held and the queued messages on every tick, and appending a
    /// prefetch to the queue as soon as it arrives (so that the next tick covers it too).
    async fn with_progress<T>(
        &self,
        state: &mut Batching<E>,
        running: &[&[Delivery<E>]],
        waiting: &[Delivery<E>],
        work: impl Future<Output = T>,
    ) -> T {
        let mut work = pin!(work);
        loop {
            // The work first, as in `Consumer::call`: a slow tick must not starve it.
            tokio::select! {
                biased;
                done = &mut work => return done,
                _ = state.ticker.tick() => {
                    let deliveries = running
                        .iter()
                        .flat_map(|group| group.iter())
                        .chain(waiting)
                        .chain(&state.held);
                    in_progress(deliveries.map(|delivery| &delivery.ack), &state.pulled.queue).await;
                }
                () = state.pulled.prefetched(), if state.pulled.prefetching() => {}
            }
        }
    }

    /// Drops the gate's blockers that were acknowledged (the consumer's ack floor passed
    /// them) or applied (recorded in the inbox). Failures to ask are logged; the blockers
    /// then stay.
    async fn refresh_gate(&self, inbox: &impl InboxBackend, gate: &mut Gate) {
        if gate.is_empty() {
            return;
        }
        let ack_floor = match self.consumer.get_info().await {
            Ok(info) => info.ack_floor.stream_sequence,
            Err(err) => {
                tracing::warn!(error = %crate::error::ErrorChain(&err), "cannot read the consumer's ack floor");
                0
            }
        };
        let applied = {
            let ids = gate.ids();
            inbox
                .processed_among(&self.spec.durable, &ids)
                .await
                .unwrap_or_else(|err| {
                    tracing::warn!(error = %crate::error::ErrorChain(&err), "cannot read the inbox");
                    HashSet::new()
                })
        };
        gate.release(ack_floor, &applied);
    }

    /// Finds the messages an earlier instance left outstanding: the stream sequences between
    /// the consumer's ack floor and its last delivered sequence (at most [`SCAN_LIMIT`]),
    /// read back from the stream, on the consumer's subjects, with aggregate headers, whose
    /// ids the inbox has not recorded. Each becomes a blocker of its aggregate. Nothing to do
    /// when no message is pending; failures are logged (the run then starts without them).
    pub(super) async fn scan_outstanding(&self, inbox: &impl InboxBackend, gate: &mut Gate) {
        let info = match self.consumer.get_info().await {
            Ok(info) => info,
            Err(err) => {
                tracing::warn!(error = %crate::error::ErrorChain(&err), "cannot read the consumer's state; per-aggregate order after a crash is not enforced");
                return;
            }
        };
        if info.num_ack_pending == 0 {
            return;
        }
        let floor = info.ack_floor.stream_sequence;
        let last = info.delivered.stream_sequence;
        let end = last.min(floor.saturating_add(SCAN_LIMIT));
        if end < last {
            tracing::warn!(
                floor,
                last,
                limit = SCAN_LIMIT,
                "too many sequences outstanding to read back; only the first are held against"
            );
        }
        let stream = match self.context.get_stream(E::CHANNEL.stream).await {
            Ok(stream) => stream,
            Err(err) => {
                tracing::warn!(error = %crate::error::ErrorChain(&err), "cannot open the stream; per-aggregate order after a crash is not enforced");
                return;
            }
        };
        let mut found = Vec::new();
        for sequence in floor.saturating_add(1)..=end {
            // A deleted sequence, or one that cannot be read: not held against.
            let Ok(message) = stream.get_raw_message(sequence).await else {
                continue;
            };
            let subject = message.subject.as_str();
            if !self.filter_subjects.is_empty()
                && !self
                    .filter_subjects
                    .iter()
                    .any(|filter| subject_matches(filter, subject))
            {
                continue;
            }
            let header = |name: &str| {
                message
                    .headers
                    .get(name)
                    .map(|value| value.as_str().to_owned())
                    .filter(|value| !value.is_empty())
            };
            if let (Some(id), Some(kind), Some(aggregate)) = (
                header(headers::ID),
                header(headers::AGGREGATE_TYPE),
                header(headers::AGGREGATE_ID),
            ) {
                found.push(((kind, aggregate), sequence, id));
            }
        }
        let ids: Vec<&str> = found.iter().map(|(_, _, id)| id.as_str()).collect();
        let applied = match inbox.processed_among(&self.spec.durable, &ids).await {
            Ok(applied) => applied,
            Err(err) => {
                tracing::warn!(error = %crate::error::ErrorChain(&err), "cannot read the inbox; every pending message is held against");
                HashSet::new()
            }
        };
        for (key, sequence, id) in found {
            if !applied.contains(&id) {
                gate.block(key, sequence, &id);
            }
        }
        tracing::info!(
            pending = info.num_ack_pending,
            scanned = end.saturating_sub(floor),
            outstanding = gate.ids().len(),
            "messages left outstanding: later messages of their aggregates wait for them"
        );
    }
}

/// Acks `handles` all at once (confirmed or not); failures are logged (those messages are
/// redelivered and the inbox skips them).
async fn ack_all(handles: Vec<AckHandle>, confirmed: bool) {
    let acks = handles.iter().map(|handle| async move {
        if confirmed {
            handle.send(AckKind::Ack, "ack").await
        } else {
            handle.send_unconfirmed(AckKind::Ack, "ack").await
        }
    });
    let failed = futures::future::join_all(acks)
        .await
        .into_iter()
        .filter(Result::is_err)
        .count();
    if failed > 0 {
        tracing::warn!(
            failed,
            "acks failed; those messages will be redelivered (the inbox skips them)"
        );
    }
}

/// Waits for the acks in flight, if any.
async fn acked(acking: &mut Option<tokio::task::JoinHandle<()>>) {
    if let Some(task) = acking.take()
        && let Err(err) = task.await
    {
        tracing::warn!(error = %crate::error::ErrorChain(&err), "the ack task failed; its messages will be redelivered");
    }
}

/// Warns when the inbox's pool has fewer connections than the transactions a batch is split
/// into: those beyond it wait for a connection (and fail at the pool's acquire timeout).
fn warn_small_pool<I: InboxBackend>(inbox: &I, transactions: usize) {
    let connections = inbox.pool().options().get_max_connections();
    if transactions > 1 && usize::try_from(connections).is_ok_and(|max| max < transactions) {
        tracing::warn!(
            transactions,
            connections,
            "the inbox's pool has fewer connections than inbox_transactions: the transactions \
             of a batch wait for each other"
        );
    }
}

/// Splits `items` (in stream order) into at most `groups` groups, the items of one `key`
/// in one group, in their order; the keys go to the groups in turn, in the order they first
/// appear. No empty group (but one, empty, for no items).
fn split<T, K: Hash + Eq>(items: Vec<T>, groups: usize, key: impl Fn(&T) -> K) -> Vec<Vec<T>> {
    if groups <= 1 || items.len() <= 1 {
        return vec![items];
    }
    let mut split: Vec<Vec<T>> = Vec::with_capacity(groups);
    let mut assigned: HashMap<K, usize> = HashMap::new();
    for item in items {
        let next = assigned.len() % groups;
        let group = *assigned.entry(key(&item)).or_insert(next);
        if group == split.len() {
            split.push(Vec::new());
        }
        split[group].push(item);
    }
    split
}

/// What keeps messages in one transaction of a split batch: their aggregate, or their
/// subject without aggregate headers.
fn transaction_key<E>(delivery: &Delivery<E>) -> AggregateKey {
    key_of(delivery).unwrap_or_else(|| (String::new(), delivery.subject().to_owned()))
}

/// Whether `delivery` must wait for an earlier message of its aggregate.
fn holds<E>(gate: &Gate, delivery: &Delivery<E>) -> bool {
    !gate.is_empty()
        && key_of(delivery).is_some_and(|key| gate.holds(&key, delivery.stream_sequence))
}

/// Naks (no delay, confirmed) the held deliveries at shutdown.
async fn release_held<E>(held: &[Delivery<E>]) {
    if held.is_empty() {
        return;
    }
    let naks = held
        .iter()
        .map(|delivery| delivery.ack.send(AckKind::Nak(None), "nak"));
    let failed = futures::future::join_all(naks)
        .await
        .into_iter()
        .filter(Result::is_err)
        .count();
    tracing::info!(
        released = held.len(),
        failed,
        "held messages were naked for redelivery"
    );
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn a_split_keeps_each_key_in_one_group_in_order() {
        let items = vec![
            ("a", 1),
            ("b", 1),
            ("c", 1),
            ("a", 2),
            ("b", 2),
            ("d", 1),
            ("a", 3),
        ];
        assert_eq!(
            split(items.clone(), 2, |(key, _)| *key),
            vec![
                vec![("a", 1), ("c", 1), ("a", 2), ("a", 3)],
                vec![("b", 1), ("b", 2), ("d", 1)],
            ]
        );
        assert_eq!(
            split(items.clone(), 3, |(key, _)| *key),
            vec![
                vec![("a", 1), ("a", 2), ("d", 1), ("a", 3)],
                vec![("b", 1), ("b", 2)],
                vec![("c", 1)],
            ]
        );
        assert_eq!(
            split(items.clone(), 1, |(key, _)| *key),
            vec![items.clone()]
        );
    }

    #[test]
    fn a_split_makes_no_empty_group() {
        let one_key = vec![("a", 1), ("a", 2), ("a", 3)];
        assert_eq!(split(one_key.clone(), 4, |(key, _)| *key), vec![one_key]);
        let empty: Vec<(&str, u32)> = Vec::new();
        assert_eq!(split(empty, 4, |(key, _)| *key), vec![Vec::new()]);
    }
}
