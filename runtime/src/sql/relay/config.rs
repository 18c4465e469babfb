//! The settings of an outbox relay (Postgres or SQLite), its counters and the report of a
//! round.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// Default schema of the Postgres store and relay (SQLite has no schemas: one file per
/// service).
pub const DEFAULT_SCHEMA: &str = "eventmap";

/// Settings of an outbox relay: [`postgres::Relay`](crate::postgres::Relay) or
/// [`sqlite::Relay`](crate::sqlite::Relay). Built with the chainable setters:
/// `RelayConfig::default().schema("orders").batch_size(1000)`. The settings that only make
/// sense on Postgres ([`Self::schema`], [`Self::listen`], [`Self::pipeline`]) are ignored by
/// the SQLite relay.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RelayConfig {
    /// Schema of the outbox (Postgres; default [`DEFAULT_SCHEMA`]).
    pub schema: String,
    /// Rows locked per round. Default 500.
    pub batch_size: u32,
    /// Publishes awaiting their ack at once (over all aggregates; one per aggregate).
    /// Default 256.
    pub max_in_flight: usize,
    /// Longest sleep between rounds without a notification (Postgres `NOTIFY`, or on SQLite
    /// a commit of a store in the same process). Default 1 s.
    pub poll_interval: Duration,
    /// Longest wait for one ack before the publish counts as failed (and is retried). Set it
    /// above the publisher's own timeout (async-nats: 5 s). Default 10 s.
    pub publish_timeout: Duration,
    /// First backoff after a failed round. Default 100 ms.
    pub min_backoff: Duration,
    /// Backoff cap; the relay retries forever. Default 10 s.
    pub max_backoff: Duration,
    /// Wake up on `LISTEN/NOTIFY` (Postgres; in addition to polling). Default `true`.
    pub listen: bool,
    /// Overlap rounds while the outbox has a backlog (Postgres): the next batch is sent while the
    /// previous one commits and the one after locks its batch, on a second connection of the
    /// pool. Safe by the per-aggregate fence, as with several relays (see
    /// [`Relay`](crate::postgres::Relay)). Needs a pool of at least 2 connections, 3 with
    /// [`Self::listen`] (the `LISTEN` connection is the pool's for as long as it lives); with
    /// a smaller pool rounds run one after the other (logged at start). After a round fails
    /// to commit, rounds run one after the other until one succeeds. Default `true`.
    pub pipeline: bool,
    /// Delete each row in the round that publishes it, in the transaction that records the
    /// broker's acknowledgement (default `true`). `false` marks it published instead
    /// (`published_at`, the stream and the stream sequence kept for investigation) and
    /// leaves it to [`Self::retention`]. Deleting is the cheaper write: measured on the
    /// outbox of the benchmark, marking 500 rows cost about 5 ms of a round, deleting them
    /// well under 1 ms, because an `UPDATE` writes a whole new version of the row (its
    /// headers and payload) to the table and the WAL, HOT or not, where a `DELETE` only
    /// stamps the old one (BENCHMARKS.md, "Outbox relay"). Nothing needs a published row:
    /// a re-send always comes from an unpublished one.
    pub delete_published: bool,
    /// Published rows older than this are deleted by [`Relay::run`](crate::postgres::Relay::run), in
    /// batches of [`Self::purge_batch_size`], every [`Self::purge_interval`]; `None` keeps
    /// them. Default [`DEFAULT_RETENTION`]: a re-send never comes from a published row, so
    /// past the broker's duplicate window a published row only serves investigation.
    pub retention: Option<Duration>,
    /// Time between two purges of published rows (see [`Self::retention`]). Default 60 s.
    pub purge_interval: Duration,
    /// Rows deleted per purge statement (each its own short transaction). Default 1,000.
    pub purge_batch_size: u32,
    /// Refusals after which a row is parked: attempts the broker refused for a reason
    /// retrying does not fix ([`PublishError::TooLarge`](crate::PublishError::TooLarge),
    /// [`PublishError::Refused`](crate::PublishError::Refused) (over the stream's `max_msg_size`),
    /// [`PublishError::NotPermitted`](crate::PublishError::NotPermitted) (a subject the user
    /// may not publish on, seen when the publisher reads the connection's permission
    /// violations), [`PublishError::InvalidMessage`](crate::PublishError::InvalidMessage), an unreadable
    /// row, [`PublishError::NoStream`](crate::PublishError::NoStream)). A parked row is no
    /// longer sent; the later rows of its aggregate wait behind it (order is kept) while the
    /// other aggregates flow, until an operator retries or skips it
    /// ([`postgres::Outbox`](crate::postgres::Outbox)). Timeouts and broker failures are never
    /// refusals: they are retried forever. `0` never parks (a refused row is retried forever
    /// and blocks its aggregate). Default [`DEFAULT_PARK_AFTER`].
    pub park_after: u32,
    /// A row refused with "no responders" ([`PublishError::NoStream`](crate::PublishError::NoStream))
    /// is parked only once its first refusal is at least this old, as well as after
    /// [`Self::park_after`] refusals: a JetStream cluster answers the same while it elects a
    /// stream's leader (seconds), and a stream being provisioned is a matter of minutes.
    /// Default [`DEFAULT_NO_STREAM_GRACE`].
    pub no_stream_grace: Duration,
    /// Send a round's rows in ordered batches where the publisher and the stream take them
    /// ([`Publisher::batches`](crate::Publisher::batches): NATS fast-ingest batches, on
    /// nats-server >= 2.14 and streams with `allow_batched`), one batch per stream, instead
    /// of one message per aggregate in flight (default `true`). The order per aggregate is
    /// the same: a stream stores a batch in order and nothing after a message it did not
    /// store. Only with [`Self::delete_published`] (a batch reports no stream sequence per
    /// message, which kept rows record); an aggregate whose rows of a round go to more than
    /// one stream, and the rounds after a failure (probes), go one message at a time. Measured
    /// in BENCHMARKS.md ("Outbox relay").
    pub batch_publish: bool,
}

/// Default [`RelayConfig::park_after`]: 5 refusals. A refused row is retried at the next
/// round (the relay does not back off for it), so a row over `max_payload` is parked within
/// seconds.
pub const DEFAULT_PARK_AFTER: u32 = 5;

/// Default [`RelayConfig::no_stream_grace`]: 2 minutes, far above a JetStream cluster's
/// leader election (4-9 s measured, `docs/delivery.md`).
pub const DEFAULT_NO_STREAM_GRACE: Duration = Duration::from_secs(120);

/// Default [`RelayConfig::retention`]: one hour, thirty times JetStream's default duplicate
/// window (2 minutes), so that a published row outlives any re-send the broker could still
/// drop as a duplicate of it.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(60 * 60);

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            schema: DEFAULT_SCHEMA.to_owned(),
            batch_size: 500,
            max_in_flight: 256,
            poll_interval: Duration::from_secs(1),
            publish_timeout: Duration::from_secs(10),
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
            listen: true,
            pipeline: true,
            delete_published: true,
            retention: Some(DEFAULT_RETENTION),
            purge_interval: Duration::from_secs(60),
            purge_batch_size: 1000,
            park_after: DEFAULT_PARK_AFTER,
            no_stream_grace: DEFAULT_NO_STREAM_GRACE,
            batch_publish: true,
        }
    }
}

impl RelayConfig {
    /// Sets [`Self::batch_publish`].
    pub fn batch_publish(mut self, batch_publish: bool) -> Self {
        self.batch_publish = batch_publish;
        self
    }

    /// Sets [`Self::schema`].
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    /// Sets [`Self::batch_size`] (at least 1).
    pub fn batch_size(mut self, batch_size: u32) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// Sets [`Self::max_in_flight`] (at least 1).
    pub fn max_in_flight(mut self, max_in_flight: usize) -> Self {
        self.max_in_flight = max_in_flight.max(1);
        self
    }

    /// Sets [`Self::poll_interval`].
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Sets [`Self::publish_timeout`].
    pub fn publish_timeout(mut self, timeout: Duration) -> Self {
        self.publish_timeout = timeout;
        self
    }

    /// Sets [`Self::min_backoff`] and [`Self::max_backoff`].
    pub fn backoff(mut self, min: Duration, max: Duration) -> Self {
        self.min_backoff = min;
        self.max_backoff = max.max(min);
        self
    }

    /// Sets [`Self::listen`].
    pub fn listen(mut self, listen: bool) -> Self {
        self.listen = listen;
        self
    }

    /// Sets [`Self::pipeline`].
    pub fn pipeline(mut self, pipeline: bool) -> Self {
        self.pipeline = pipeline;
        self
    }

    /// Sets [`Self::delete_published`] (`false`: rows are marked published and kept until
    /// [`Self::retention`]).
    pub fn delete_published(mut self, delete: bool) -> Self {
        self.delete_published = delete;
        self
    }

    /// Sets [`Self::retention`] (`None`: published rows are kept).
    pub fn retention(mut self, retention: Option<Duration>) -> Self {
        self.retention = retention;
        self
    }

    /// Sets [`Self::purge_interval`] and [`Self::purge_batch_size`] (at least 1).
    pub fn purge(mut self, interval: Duration, batch_size: u32) -> Self {
        self.purge_interval = interval;
        self.purge_batch_size = batch_size.max(1);
        self
    }

    /// Sets [`Self::park_after`] (refusals before a row is parked, `0`: never) and
    /// [`Self::no_stream_grace`].
    pub fn parking(mut self, park_after: u32, no_stream_grace: Duration) -> Self {
        self.park_after = park_after;
        self.no_stream_grace = no_stream_grace;
        self
    }

    /// The longest time between an attempt whose ack was lost (the message may be stored)
    /// and the next attempt of the same row while the broker is reachable: two publish
    /// timeouts and the longest backoff. A stream's duplicate window shorter than this can
    /// let a retry be stored twice. (An outage of the broker itself can stretch the gap
    /// further: see `docs/delivery.md`.)
    pub fn retry_horizon(&self) -> Duration {
        self.publish_timeout * 2 + self.max_backoff
    }
}

/// Counters of a relay since it was created (all its clones together).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RelayStats {
    /// Rows acknowledged by the broker as newly stored.
    pub published: u64,
    /// Rows acknowledged as duplicates (already stored: a re-send after a crash or a lost ack).
    /// A fast batch ([`RelayConfig::batch_publish`]) skips duplicates without saying which:
    /// rows it re-sent count as [`Self::published`].
    pub duplicates: u64,
    /// Failed publish attempts.
    pub failures: u64,
    /// Rounds run.
    pub rounds: u64,
    /// Unpublished rows when last counted (after a failed round and when idle).
    pub backlog: u64,
    /// Whether the last round failed (the relay is backing off).
    pub retrying: bool,
    /// Rows parked by this relay (see [`RelayConfig::park_after`]).
    pub parked: u64,
    /// Parked rows in the outbox when last counted (with [`Self::backlog`], which includes
    /// them), whoever parked them.
    pub parked_backlog: u64,
    /// Of the acknowledged rows ([`Self::published`] and [`Self::duplicates`]), those sent in
    /// ordered batches ([`RelayConfig::batch_publish`]).
    pub batched: u64,
}

/// The live counters behind [`RelayStats`], shared by a relay's clones.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) published: AtomicU64,
    pub(crate) duplicates: AtomicU64,
    pub(crate) failures: AtomicU64,
    pub(crate) rounds: AtomicU64,
    pub(crate) backlog: AtomicU64,
    pub(crate) retrying: AtomicBool,
    pub(crate) parked: AtomicU64,
    pub(crate) parked_backlog: AtomicU64,
    pub(crate) batched: AtomicU64,
}

impl Counters {
    /// A snapshot.
    pub(crate) fn stats(&self) -> RelayStats {
        RelayStats {
            published: self.published.load(Ordering::Relaxed),
            duplicates: self.duplicates.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            rounds: self.rounds.load(Ordering::Relaxed),
            backlog: self.backlog.load(Ordering::Relaxed),
            retrying: self.retrying.load(Ordering::Relaxed),
            parked: self.parked.load(Ordering::Relaxed),
            parked_backlog: self.parked_backlog.load(Ordering::Relaxed),
            batched: self.batched.load(Ordering::Relaxed),
        }
    }

    /// Counts a committed round of the outbox `outbox` (its schema, or its file), in the
    /// counters and the metrics, and logs it at `debug` when it selected anything.
    pub(crate) fn count_round(&self, outbox: &str, report: &RoundReport) {
        self.published
            .fetch_add(report.published as u64, Ordering::Relaxed);
        self.duplicates
            .fetch_add(report.duplicates as u64, Ordering::Relaxed);
        self.failures
            .fetch_add(report.failed as u64, Ordering::Relaxed);
        self.parked
            .fetch_add(report.parked as u64, Ordering::Relaxed);
        self.batched
            .fetch_add(report.batched as u64, Ordering::Relaxed);
        crate::metrics::relay_round(outbox, report.published, report.failed);
        if report.selected > 0 {
            tracing::debug!(
                selected = report.selected,
                published = report.published,
                duplicates = report.duplicates,
                failed = report.failed,
                parked = report.parked,
                held_back = report.held_back,
                batched = report.batched,
                "round done"
            );
        }
    }

    /// Records a backlog count (`parked` of the `count` unpublished rows are parked) of the
    /// outbox `outbox` in the counters and the metrics.
    pub(crate) fn count_backlog(&self, outbox: &str, count: u64, parked: u64) {
        self.backlog.store(count, Ordering::Relaxed);
        self.parked_backlog.store(parked, Ordering::Relaxed);
        crate::metrics::outbox_backlog(outbox, count);
    }
}

/// What one round of a relay ([`postgres::Relay::run_once`](crate::postgres::Relay::run_once),
/// [`sqlite::Relay::run_once`](crate::sqlite::Relay::run_once)) did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RoundReport {
    /// Rows locked.
    pub selected: usize,
    /// Rows acknowledged as newly stored, now marked published.
    pub published: usize,
    /// Rows acknowledged as duplicates, now marked published (a fast batch does not report
    /// its duplicates: see [`RelayStats::duplicates`]).
    pub duplicates: usize,
    /// Rows whose publish failed (retried by a later round, or parked).
    pub failed: usize,
    /// Of the failed rows, those parked in this round ([`RelayConfig::park_after`]).
    pub parked: usize,
    /// Rows not sent this round: behind a row of their aggregate that another relay holds,
    /// behind a failed row of their aggregate, or left after a transient failure.
    pub held_back: usize,
    /// The first publish error, if any.
    pub error: Option<String>,
    /// A transient failure (timeout, broker away) stopped the round: the relay backs off.
    /// Refusals ("no responders" included) alone do not.
    pub halted: bool,
    /// Of the acknowledged rows, those sent in ordered batches
    /// ([`RelayConfig::batch_publish`]).
    pub batched: usize,
}

impl RoundReport {
    /// Rows acknowledged (newly stored or duplicates).
    pub(crate) fn acked(&self) -> usize {
        self.published + self.duplicates
    }
}
