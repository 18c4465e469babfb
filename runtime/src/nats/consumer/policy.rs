//! [`DeliveryPolicy`] and [`ConsumerSpec`]: what a declared subscription asks for.

use std::time::Duration;

use async_nats::jetstream::consumer::DeliverPolicy;

use crate::channel::ChannelSpec;

/// How a declared subscription is delivered (from the consuming table's `delivery:` block).
///
/// `Default`: deliver all stored messages to a new consumer, 30 s ack wait, 5 deliveries,
/// backoff 1 s, 5 s, 30 s, no dead-letter channel, in-progress every ack wait / 3, pull
/// batches of 100, confirmed acks, one inbox transaction per batch. Built with the chainable setters:
///
/// ```
/// use std::time::Duration;
/// use eventmap::ChannelSpec;
/// use eventmap::nats::DeliveryPolicy;
/// const DLQ: ChannelSpec = ChannelSpec::new("order-dlq", "dlq.ordering.order", "ORDERING_DLQ");
/// let policy = DeliveryPolicy::default()
///     .max_deliver(3)
///     .backoff([Duration::from_millis(200), Duration::from_millis(400)])
///     .dead_letter(DLQ);
/// assert_eq!(policy.nak_delay(1), Some(Duration::from_millis(200)));
/// assert_eq!(policy.nak_delay(7), Some(Duration::from_millis(400)));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DeliveryPolicy {
    /// Where a *new* durable consumer starts reading the stream (an existing one keeps its
    /// position): the JetStream deliver policy. Default [`DeliverPolicy::All`]: a consumer
    /// started late receives the history; [`DeliverPolicy::New`]: only messages stored after
    /// the consumer was created.
    pub start_at: DeliverPolicy,
    /// How long the server waits for an ack before redelivering. Default 30 s.
    pub ack_wait: Duration,
    /// Deliveries of one message in all, the first one included, counted by the consumer (the
    /// JetStream consumer's own `max_deliver` is unlimited). With
    /// [`Consumer::run`](super::Consumer::run), a handler failing on delivery `max_deliver`
    /// gets the message dead-lettered; a message delivered more often than that (earlier
    /// deliveries ended without an outcome, or a [`Deliveries`](super::Deliveries) caller
    /// naked it on its last allowed delivery) is dead-lettered without being handed over.
    /// Dead-lettered: published to [`Self::dead_letter`] then acked, or only terminated
    /// without one. Default 5.
    pub max_deliver: i64,
    /// Redelivery delay requested (nak) after the n-th failed delivery: `backoff[n - 1]`, the
    /// last one repeating; empty: redeliver at once. Default 1 s, 5 s, 30 s.
    pub backoff: Vec<Duration>,
    /// Where messages go that exhausted their deliveries or cannot be decoded; `None`: they
    /// are only terminated and logged. Its stream is provisioned by [`Consumer::start`](super::Consumer::start),
    /// with the larger of its own [`ChannelSpec::replicas`] and those of the subscribed
    /// channel, so dead letters are kept on as many servers as the events they come from.
    pub dead_letter: Option<ChannelSpec>,
    /// How often in-progress acks (`+WPI`) are sent while a handler runs (also for the
    /// messages pulled and waiting their turn); `None`: [`Self::ack_wait`] / 3.
    pub in_progress_every: Option<Duration>,
    /// Messages requested per pull. Default 100. The next batch is requested when a batch
    /// or less is left (prefetch), so up to 2 batches can be pulled and waiting their turn:
    /// each instance holds up to `2 * batch + 1` messages unacknowledged, against the
    /// consumer's `max_ack_pending` (JetStream's default, 1,000).
    pub batch: usize,
    /// Whether acks wait for the server's confirmation (JetStream double ack). Default `true`;
    /// `false` queues the `+ACK` and moves on (see [`Delivery::ack_unconfirmed`](crate::nats::Delivery::ack_unconfirmed)).
    pub double_ack: bool,
    /// How many transactions [`Consumer::run_with_inbox`](super::Consumer::run_with_inbox)
    /// splits each pulled batch into, run at the same time, each on a connection of its own
    /// from the inbox's pool. Messages go to them by aggregate (`ce-aggregatetype` and
    /// `ce-aggregateid`; by subject without those headers), so one aggregate's messages stay
    /// in one transaction, in stream order. Each transaction records its messages' ids and
    /// commits or rolls back on its own. Default 1: the whole batch in one transaction.
    ///
    /// Worth raising (to 2-4) for a handler that makes a round trip to the database per
    /// event: the transactions' round trips overlap (see `BENCHMARKS.md`, the inbox consumer).
    /// The inbox's pool needs that many connections free for the consumer (beyond any the
    /// handler takes itself); `run_with_inbox` warns at start when its maximum is lower. A
    /// handler that writes rows shared by several aggregates can make two transactions wait
    /// on each other's locks; a deadlock PostgreSQL breaks rolls one back, and the messages
    /// of a failed transaction are retried one at a time. On SQLite the transactions take the
    /// write lock in turn (no gain; each waits up to the busy timeout, 10 s). Only
    /// [`Consumer::run_with_inbox`](super::Consumer::run_with_inbox) reads it (not `run`, not
    /// `Inbox::process`).
    pub inbox_transactions: usize,
    /// What the contract guard (feature `contracts`) does with the messages of a producer
    /// whose contract the consumer cannot read. Default [`ContractPolicy::Refuse`].
    pub on_incompatible: ContractPolicy,
}

/// What a consumer with the contract guard (runtime feature `contracts`) does when a
/// producer's contract (`ce-dataschema`, judged against the contract registry) is one it
/// cannot read: `docs/delivery.md`, "The contract guard".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ContractPolicy {
    /// Stop before handling any message of that contract: [`Consumer::start`](super::Consumer::start)
    /// fails when the registry already shows it, [`Consumer::run`](super::Consumer::run) stops
    /// with [`ConsumeError::IncompatibleContract`](super::ConsumeError::IncompatibleContract)
    /// at its first message (naked at once, left in the stream for a consumer that can read
    /// it). The default.
    #[default]
    Refuse,
    /// Dead-letter each message of that contract (with the reason) and terminate it; go on
    /// with the others.
    DeadLetter,
    /// Log the breaks once and handle the messages anyway.
    Warn,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        Self {
            start_at: DeliverPolicy::All,
            ack_wait: Duration::from_secs(30),
            max_deliver: 5,
            backoff: vec![
                Duration::from_secs(1),
                Duration::from_secs(5),
                Duration::from_secs(30),
            ],
            dead_letter: None,
            in_progress_every: None,
            batch: 100,
            double_ack: true,
            inbox_transactions: 1,
            on_incompatible: ContractPolicy::Refuse,
        }
    }
}

impl DeliveryPolicy {
    /// Sets [`Self::start_at`]: where a new durable consumer starts reading the stream.
    pub fn start_at(mut self, position: DeliverPolicy) -> Self {
        self.start_at = position;
        self
    }

    /// Sets [`Self::ack_wait`].
    pub fn ack_wait(mut self, ack_wait: Duration) -> Self {
        self.ack_wait = ack_wait;
        self
    }

    /// Sets [`Self::max_deliver`].
    pub fn max_deliver(mut self, max_deliver: i64) -> Self {
        self.max_deliver = max_deliver;
        self
    }

    /// Sets [`Self::backoff`].
    pub fn backoff(mut self, backoff: impl IntoIterator<Item = Duration>) -> Self {
        self.backoff = backoff.into_iter().collect();
        self
    }

    /// Sets [`Self::dead_letter`].
    pub fn dead_letter(mut self, channel: ChannelSpec) -> Self {
        self.dead_letter = Some(channel);
        self
    }

    /// Sets [`Self::in_progress_every`].
    pub fn in_progress_every(mut self, every: Duration) -> Self {
        self.in_progress_every = Some(every);
        self
    }

    /// Sets [`Self::batch`] (at least 1).
    pub fn batch(mut self, batch: usize) -> Self {
        self.batch = batch.max(1);
        self
    }

    /// Sets [`Self::double_ack`].
    pub fn double_ack(mut self, confirmed: bool) -> Self {
        self.double_ack = confirmed;
        self
    }

    /// Sets [`Self::inbox_transactions`] (at least 1).
    pub fn inbox_transactions(mut self, transactions: usize) -> Self {
        self.inbox_transactions = transactions.max(1);
        self
    }

    /// Sets [`Self::on_incompatible`].
    pub fn on_incompatible(mut self, policy: ContractPolicy) -> Self {
        self.on_incompatible = policy;
        self
    }

    /// The redelivery delay after the failed delivery number `delivered` (1 for the first):
    /// `backoff[delivered - 1]`, the last entry repeating; `None` (at once) without backoff.
    pub fn nak_delay(&self, delivered: u64) -> Option<Duration> {
        let last = self.backoff.len().checked_sub(1)?;
        let index = usize::try_from(delivered.saturating_sub(1)).unwrap_or(usize::MAX);
        self.backoff
            .get(index.min(last))
            .copied()
            .filter(|delay| !delay.is_zero())
    }

    /// The in-progress period: [`Self::in_progress_every`] or [`Self::ack_wait`] / 3.
    pub fn in_progress_period(&self) -> Duration {
        self.in_progress_every.unwrap_or(self.ack_wait / 3)
    }

    /// Why the policy cannot be used, if it cannot.
    pub(super) fn problem(&self) -> Option<String> {
        if self.ack_wait < Duration::from_millis(1) {
            return Some(format!("ack_wait {:?} is shorter than 1 ms", self.ack_wait));
        }
        if self.max_deliver < 1 {
            return Some(format!(
                "max_deliver {} is not at least 1",
                self.max_deliver
            ));
        }
        let every = self.in_progress_period();
        if every.is_zero() || every >= self.ack_wait {
            return Some(format!(
                "in-progress period {every:?} must be above zero and below ack_wait {:?}",
                self.ack_wait
            ));
        }
        None
    }
}

/// A declared subscription: durable consumer name, the integration events asked for, the
/// policy, and whether it takes the whole channel ([`whole_channel`](Self::whole_channel)).
#[derive(Debug, Clone)]
pub struct ConsumerSpec {
    pub(super) durable: String,
    pub(super) events: Vec<&'static str>,
    pub(super) policy: DeliveryPolicy,
    pub(super) whole_channel: bool,
}

impl ConsumerSpec {
    /// The subscription of the durable consumer `durable` to `events` (empty: every event of
    /// the channel, [`IntegrationEventSet::NAMES`](crate::IntegrationEventSet::NAMES)), with the default [`DeliveryPolicy`].
    pub fn new(durable: impl Into<String>, events: &[&'static str]) -> Self {
        Self {
            durable: durable.into(),
            events: events.to_vec(),
            policy: DeliveryPolicy::default(),
            whole_channel: false,
        }
    }

    /// Declares that the subscription takes the whole channel: every event published on it,
    /// those a producer adds later included. The JetStream consumer is then filtered on the
    /// channel's one wildcard subject ([`ChannelSpec::wildcard`], `<subject>.>`) instead of
    /// one subject per event, which the server matches faster (`BENCHMARKS.md`, "Filter
    /// subjects": nats-server slows down with many filter subjects, nats-server issues #7014,
    /// #7852, #4888).
    ///
    /// The events asked for must be every event of the channel (`events` empty, or all of
    /// [`IntegrationEventSet::NAMES`](crate::IntegrationEventSet::NAMES)), else
    /// [`Consumer::start`](super::Consumer::start) fails with
    /// [`StartError::NotWholeChannel`](super::StartError::NotWholeChannel). An event the
    /// consumer's generated set does not know yet (added by a producer later) is delivered
    /// and, being undecodable, dead-lettered and terminated, as any undecodable message:
    /// regenerate the consumer to handle it. Without this declaration (the default) the
    /// filters are the subjects of the events asked for, so nothing else is ever delivered,
    /// even when they are all the events the channel has today.
    pub fn whole_channel(mut self) -> Self {
        self.whole_channel = true;
        self
    }

    /// Whether the subscription declared it takes the whole channel
    /// ([`whole_channel`](Self::whole_channel)).
    pub fn takes_whole_channel(&self) -> bool {
        self.whole_channel
    }

    /// Uses `policy`.
    pub fn policy(mut self, policy: DeliveryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The durable consumer name.
    pub fn durable(&self) -> &str {
        &self.durable
    }

    /// The integration events asked for, by `ce-type` (empty: all).
    pub fn events(&self) -> &[&'static str] {
        &self.events
    }

    /// The delivery policy.
    pub fn delivery(&self) -> &DeliveryPolicy {
        &self.policy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nak_delay_follows_the_backoff_and_repeats_the_last() {
        let policy = DeliveryPolicy::default();
        assert_eq!(policy.nak_delay(1), Some(Duration::from_secs(1)));
        assert_eq!(policy.nak_delay(2), Some(Duration::from_secs(5)));
        assert_eq!(policy.nak_delay(3), Some(Duration::from_secs(30)));
        assert_eq!(policy.nak_delay(40), Some(Duration::from_secs(30)));
        assert_eq!(policy.nak_delay(0), Some(Duration::from_secs(1)));
        assert_eq!(policy.clone().backoff([]).nak_delay(1), None);
        assert_eq!(policy.backoff([Duration::ZERO]).nak_delay(1), None);
    }

    #[test]
    fn policy_checks() {
        let policy = DeliveryPolicy::default();
        assert_eq!(policy.problem(), None);
        assert_eq!(policy.in_progress_period(), Duration::from_secs(10));
        assert!(policy.clone().max_deliver(0).problem().is_some());
        assert!(
            policy
                .clone()
                .in_progress_every(Duration::from_secs(30))
                .problem()
                .is_some()
        );
        assert!(policy.clone().ack_wait(Duration::ZERO).problem().is_some());
        assert_eq!(policy.batch(0).batch, 1);
    }

    #[test]
    fn spec_defaults() {
        let spec = ConsumerSpec::new("search", &["OrderCreatedEvent"]);
        assert_eq!(spec.durable(), "search");
        assert_eq!(spec.events(), ["OrderCreatedEvent"]);
        assert_eq!(spec.delivery(), &DeliveryPolicy::default());
        assert!(!spec.takes_whole_channel());
        assert!(spec.whole_channel().takes_whole_channel());
    }
}
