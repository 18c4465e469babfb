//! [`Relay`]: publishes the outbox to the broker, in order per aggregate, at least once.
//! See [`Relay`] for what a round does and why per-aggregate order holds.

#[cfg(feature = "cli")]
mod args;
mod round;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::postgres::{PgListener, PgPool};
use tokio::sync::Notify;
use tracing::Instrument;

use super::Error;
use super::schema::{NOTIFY_CHANNEL, Schema};
use crate::publisher::Publisher;
use crate::sql::relay::{
    AbortOnDrop, Backoff, Counters, Next, Rounds, Step, count_backlog, purge_forever, run_loop,
};
use crate::sql::{RelayConfig, RelayStats, RoundReport, RunningRelay};

#[cfg(feature = "cli")]
pub use args::{RelayArgs, RelayRunError, connect_pool};
use round::{LockedRound, SentRound};

/// Publishes the outbox written by [`PostgresStore`](super::PostgresStore), in order per
/// aggregate, at least once.
///
/// # A round
///
/// 1. In one transaction, lock up to [`RelayConfig::batch_size`] unpublished rows, lowest id
///    first, `FOR UPDATE SKIP LOCKED` (rows locked by another relay are skipped, not waited
///    for). There is no lasting "last id seen": a round run alone selects *all* unpublished
///    rows by id, so a row whose transaction commits late, with an id below rows already
///    published, is picked up by the next round; while rounds overlap, within about eight
///    rounds (they start past the rows of the round being sent, see below).
/// 2. **Fence**: for each aggregate in the batch, find its lowest unpublished row that this
///    round did *not* lock (another relay holds it, or it is beyond the batch). Only this
///    round's rows of that aggregate below the fence may be sent; the others wait.
/// 3. Send, at most [`RelayConfig::max_in_flight`] at once, but **one message per aggregate
///    at a time**: an aggregate's next row is sent only once the broker acknowledged the
///    previous one. Rows of different aggregates are pipelined. Where the publisher offers
///    ordered batches and the stream takes them ([`RelayConfig::batch_publish`]: NATS
///    fast-ingest batches), an aggregate's rows that all go to one such stream are sent at
///    once instead, in one batch per stream: the stream stores a batch in order and nothing
///    after a message it did not store, and the round keeps only the confirmed prefix.
/// 4. When a publish fails, the rest of its aggregate's rows stay unsent this round; after a
///    transient failure (timeout, broker away) no new publish starts at all, and the next
///    round *probes*: one publish, and the pipeline opens again only once it is acknowledged
///    (so a broker that is still away costs one timeout per retry, not `max_in_flight`).
///    A refusal ([`PublishError::is_permanent`](crate::PublishError::is_permanent): over
///    `max_payload` or the stream's `max_msg_size`, an invalid message, a subject the user
///    may not publish on; or "no responders":
///    no stream, or, in a JetStream cluster, a stream electing its leader) holds back only
///    its aggregate. After [`RelayConfig::park_after`] refusals (for "no responders", only past
///    [`RelayConfig::no_stream_grace`]) the row is *parked*: no longer selected, nor any later
///    row of its aggregate, until [`Outbox::retry`](super::Outbox::retry) or
///    [`Outbox::skip`](super::Outbox::skip).
/// 5. Delete the acknowledged rows (or, with [`RelayConfig::delete_published`] off, mark
///    them published, stream and sequence kept), record the attempt and
///    error on the failed ones, commit. Back off after a failure, exponentially up to
///    [`RelayConfig::max_backoff`], forever.
///
/// While rounds find full batches, [`run`](Relay::run) overlaps them
/// ([`RelayConfig::pipeline`]): the next round sends its batch while the previous one marks
/// and commits and the one after locks and fences its own, past the next round's rows (see
/// docs/delivery.md, "The relay"). A round sees the earlier rounds' rows as locked and
/// unpublished, so they fence its rows of the same aggregates: the rounds behave as
/// relays on one outbox, and the guarantees below hold unchanged.
///
/// [`run`](Relay::run) also deletes published rows past [`RelayConfig::retention`]
/// (default [`DEFAULT_RETENTION`](super::DEFAULT_RETENTION)), in bounded batches
/// ([`Relay::purge_published`]).
///
/// # Why per-aggregate order survives retries
///
/// An aggregate's row N+1 is only ever sent after the broker stored row N (3): a failed N
/// can never be overtaken by its successor, because the successor was not in flight.
/// Across rounds and relays, row N+1 is sent only by the relay that holds every lower
/// unpublished row of the aggregate (2), and per aggregate ids follow versions (appends to
/// one aggregate are serialised by its row in `eventmap_aggregates` and draw their ids after
/// taking that lock), so rows committed later always sort after. A row that was stored but
/// whose ack was lost is re-sent with the same `Nats-Msg-Id`, which JetStream drops as a
/// duplicate within the stream's duplicate window
/// ([`check_duplicate_windows`](super::check_duplicate_windows)).
///
/// A relay killed mid-round loses its transaction: its locks go, its rows stay unpublished
/// and the next relay re-sends them (duplicates, dropped by JetStream). Rows of different
/// aggregates have no order between them on the stream.
///
/// Several relays (threads, processes, hosts) may run on one outbox. Cloning is cheap and
/// clones share their counters.
#[derive(Clone)]
pub struct Relay {
    pool: PgPool,
    schema: Schema,
    publisher: Arc<dyn Publisher>,
    config: RelayConfig,
    counters: Arc<Counters>,
    wake: Arc<Notify>,
    /// The last round ended on a transient failure: start the next with a single publish.
    probe: Arc<AtomicBool>,
}

impl fmt::Debug for Relay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Relay")
            .field("config", &self.config)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// Warns when the relay's own outbox has never held a row while another schema of the
/// database has an eventmap outbox: most likely a store built with `.schema(..)` and a relay
/// left at the default schema (`eventmap`), which would poll an empty table for ever.
///
/// # Errors
///
/// [`Error::Database`].
async fn warn_of_other_outboxes(pool: &PgPool, schema: &Schema) -> Result<(), Error> {
    let empty: bool = sqlx::query_scalar(&format!(
        "SELECT NOT EXISTS (SELECT 1 FROM {})",
        schema.outbox
    ))
    .fetch_one(pool)
    .await?;
    if !empty {
        return Ok(());
    }
    let others: Vec<String> = sqlx::query_scalar(
        "SELECT table_schema::text FROM information_schema.tables \
         WHERE table_name = 'eventmap_outbox' AND table_schema <> $1 ORDER BY 1",
    )
    .bind(schema.name())
    .fetch_all(pool)
    .await?;
    if !others.is_empty() {
        tracing::warn!(
            schema = schema.name(),
            others = ?others,
            "this relay publishes the outbox of schema `{}`, which is empty, and the database \
             has eventmap outboxes in other schemas: a store built with `.schema(name)` is \
             relayed by a relay with `RelayConfig::schema(name)` (`--schema name` for \
             eventmap-relay)",
            schema.name()
        );
    }
    Ok(())
}

impl Relay {
    /// A relay on the outbox of `config.schema` in `pool`, publishing through `publisher`
    /// (normally a [`JetStreamPublisher`](crate::nats::JetStreamPublisher)). Runs the
    /// embedded migrations, so a relay may start before any store.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSchema`], [`Error::Migration`] or [`Error::Database`].
    pub async fn new(
        pool: PgPool,
        publisher: Arc<dyn Publisher>,
        config: RelayConfig,
    ) -> Result<Self, Error> {
        let schema = Schema::new(&config.schema)?;
        schema.migrate(&pool).await?;
        warn_of_other_outboxes(&pool, &schema).await?;
        Ok(Self {
            pool,
            schema,
            publisher,
            config,
            counters: Arc::default(),
            wake: Arc::new(Notify::new()),
            // A new relay probes first: one message, one at a time, before it pipelines or
            // sends batches (an earlier run's messages may still be on their way).
            probe: Arc::new(AtomicBool::new(true)),
        })
    }

    /// The settings.
    pub fn config(&self) -> &RelayConfig {
        &self.config
    }

    /// The counters.
    pub fn stats(&self) -> RelayStats {
        self.counters.stats()
    }

    /// Counts the unpublished rows (committed ones, parked ones included) and records the
    /// figure in the stats, with the parked rows among them ([`RelayStats::parked_backlog`]).
    ///
    /// # Errors
    ///
    /// [`Error::Database`].
    pub async fn backlog(&self) -> Result<u64, Error> {
        let (count, parked): (i64, i64) = sqlx::query_as(&format!(
            "SELECT count(*), count(*) FILTER (WHERE parked_at IS NOT NULL) \
             FROM {} WHERE published_at IS NULL",
            self.schema.outbox
        ))
        .fetch_one(&self.pool)
        .await?;
        let count = u64::try_from(count).unwrap_or_default();
        let parked = u64::try_from(parked).unwrap_or_default();
        self.counters
            .count_backlog(self.schema.name(), count, parked);
        Ok(count)
    }

    /// Deletes published rows older than `older_than` and returns how many, in statements of
    /// at most [`RelayConfig::purge_batch_size`] rows (each its own transaction, so row
    /// locks and WAL stay bounded). [`run`](Self::run) does this by itself every
    /// [`RelayConfig::purge_interval`] when [`RelayConfig::retention`] is set. (Rows must
    /// outlive the duplicate window only for investigation; re-sends never come from
    /// published rows.)
    ///
    /// # Errors
    ///
    /// [`Error::Database`]: rows deleted by earlier statements stay deleted.
    pub async fn purge_published(&self, older_than: Duration) -> Result<u64, Error> {
        let mut total = 0;
        loop {
            let deleted = self.purge_batch(older_than).await?;
            total += deleted;
            if deleted < u64::from(self.config.purge_batch_size) {
                return Ok(total);
            }
        }
    }

    /// Deletes at most [`RelayConfig::purge_batch_size`] published rows older than
    /// `older_than`, lowest id first; returns how many.
    async fn purge_batch(&self, older_than: Duration) -> Result<u64, Error> {
        let deleted = sqlx::query(&format!(
            "DELETE FROM {0} WHERE id IN (SELECT id FROM {0} WHERE published_at IS NOT NULL \
             AND published_at < now() - make_interval(secs => $1) ORDER BY id LIMIT $2)",
            self.schema.outbox
        ))
        .bind(older_than.as_secs_f64())
        .bind(i64::from(self.config.purge_batch_size))
        .execute(&self.pool)
        .await?;
        Ok(deleted.rows_affected())
    }

    /// Purges published rows past [`RelayConfig::retention`] every
    /// [`RelayConfig::purge_interval`], forever (failures are logged and retried at the next
    /// interval). Started by [`run`](Self::run).
    async fn purge_forever(self, retention: Duration) {
        let interval = self.config.purge_interval;
        purge_forever(interval, retention, |older_than| {
            self.purge_published(older_than)
        })
        .await;
    }

    /// Whether a round that reported `report` leaves more rows to send at once: a full batch
    /// with something acknowledged and no transient failure (a refused row holds back only
    /// its own aggregate).
    fn more_at_once(&self, report: &RoundReport) -> bool {
        !report.halted && report.selected >= self.config.batch_size as usize && report.acked() > 0
    }

    /// Runs rounds until `shutdown` completes: immediately again while rounds find full
    /// batches, otherwise on a notification or after [`RelayConfig::poll_interval`]; after a
    /// failure, with exponential backoff, forever. While rounds find full batches, the next
    /// one is sent while the previous one commits ([`RelayConfig::pipeline`]). Every
    /// [`RelayConfig::purge_interval`] a task of its own deletes published rows past
    /// [`RelayConfig::retention`]. The shutdown is honoured between rounds, also while
    /// rounds follow each other on a backlog (a round in
    /// progress finishes, so acknowledged rows get marked).
    ///
    /// # Errors
    ///
    /// None so far: every failure is logged and retried. The `Result` leaves room for fatal
    /// conditions.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
        let span = tracing::info_span!("eventmap.relay", schema = %self.schema.name());
        async {
            let _listener = self.config.listen.then(|| {
                AbortOnDrop(tokio::spawn(
                    listen(
                        self.pool.clone(),
                        self.schema.name().to_owned(),
                        Arc::clone(&self.wake),
                    )
                    .in_current_span(),
                ))
            });
            let _purge = self.config.retention.map(|retention| {
                AbortOnDrop(tokio::spawn(
                    self.clone().purge_forever(retention).in_current_span(),
                ))
            });
            // Overlapped rounds hold two connections of the pool at once (three when a
            // round locks while the one before commits), and the LISTEN connection holds one
            // for as long as it lives: with fewer, the second round would wait for the pool's
            // acquire timeout (30 s by default) every time.
            let needed = 2 + u32::from(self.config.listen);
            let max_connections = self.pool.options().get_max_connections();
            let pipeline = self.config.pipeline && max_connections >= needed;
            if self.config.pipeline && !pipeline {
                tracing::info!(
                    max_connections = self.pool.options().get_max_connections(),
                    needed,
                    "rounds are not overlapped: the pool is too small"
                );
            }
            let mut rounds = Pipeline {
                relay: self,
                pipeline,
                degraded: false,
                overlapped: false,
                next: None,
                locked: None,
                since_full_select: 0,
                spare_connection: max_connections > needed,
            };
            run_loop(
                &mut rounds,
                &self.config,
                &self.counters,
                &self.wake,
                shutdown,
            )
            .await;
            Ok(())
        }
        .instrument(span)
        .await
    }

    /// Runs the relay ([`run`](Self::run)) on a tokio task of its own until
    /// [`RunningRelay::stop`]: the usual way to relay beside a service.
    ///
    /// Needs a tokio runtime (it calls `tokio::spawn`).
    pub fn spawn(&self) -> RunningRelay {
        let relay = self.clone();
        RunningRelay::spawn(move |stopped| async move { relay.run(stopped).await })
    }
}

/// The rounds of [`Relay::run`]: while rounds find full batches (and
/// [`RelayConfig::pipeline`] is on), the next one is sent while the previous one commits.
struct Pipeline<'a> {
    relay: &'a Relay,
    /// Rounds may overlap: the setting is on and the pool is large enough.
    pipeline: bool,
    /// Set after an overlapped round failed to commit: the next rounds run one after the
    /// other (with backoff on failure) until one succeeds.
    degraded: bool,
    /// The round being judged was sent while the previous one committed.
    overlapped: bool,
    /// A round sent while the previous one was marked and committed (`pipeline`).
    next: Option<Result<SentRound, Error>>,
    /// The round after `next`, locked and fenced while `next` was sent (`pipeline`).
    locked: Option<Result<LockedRound, Error>>,
    /// Overlapped rounds locked since the last one that selected from the first unpublished
    /// row ([`start_after`](Self::start_after)).
    since_full_select: u32,
    /// The pool has a connection for a third round: one may lock while another commits.
    spare_connection: bool,
}

/// While rounds overlap, one locked round in this many selects from the first unpublished
/// row; the others start past the rows of the round being sent
/// ([`Pipeline::start_after`]).
const FULL_SELECT_EVERY: u32 = 8;

impl Pipeline<'_> {
    /// Where the round locked while `following` is sent starts its select
    /// ([`start_after`]), counting overlapped rounds since the last select from the first row.
    fn start_after(
        &mut self,
        finished: &RoundReport,
        following: &Result<LockedRound, Error>,
    ) -> i64 {
        let last = following.as_ref().ok().and_then(LockedRound::last_id);
        start_after(&mut self.since_full_select, finished, last)
    }
}

/// Where a round locked while the next one (whose highest locked id is `following_last`) is
/// sent starts its select: past the next one's rows. Every row below is locked by the next
/// round (or another relay) or was finished by the round before (`finished`: deleted or
/// marked), and `FOR
/// UPDATE SKIP LOCKED` would still visit each (about 2 µs a row walking past 1,000 locked rows
/// in `EXPLAIN ANALYZE`). From the first unpublished row (0) when `finished` held rows back or
/// failed some (they are unpublished below), when the next round found nothing, and every
/// [`FULL_SELECT_EVERY`] rounds (counted in `since_full_select`), for rows the next round
/// held back and rows committed after it selected, with lower ids. Skipping rows never
/// reorders an aggregate: the fences see every unpublished row.
fn start_after(
    since_full_select: &mut u32,
    finished: &RoundReport,
    following_last: Option<i64>,
) -> i64 {
    *since_full_select += 1;
    match following_last {
        Some(last)
            if finished.held_back == 0
                && finished.failed == 0
                && *since_full_select < FULL_SELECT_EVERY =>
        {
            last
        }
        _ => {
            *since_full_select = 0;
            0
        }
    }
}

impl Rounds for Pipeline<'_> {
    async fn round(&mut self, backoff: &mut Backoff) -> Step {
        let relay = self.relay;
        self.overlapped = self.next.is_some();
        let sent = match self.next.take() {
            Some(sent) => sent,
            None => relay.send_round().await,
        };
        match sent {
            Ok(sent) if self.pipeline && !self.degraded && relay.more_at_once(sent.report()) => {
                let following = match self.locked.take() {
                    Some(following) => following,
                    None => relay.lock_round(0).await,
                };
                let start_after = self.start_after(sent.report(), &following);
                // Three rounds at once: this one commits while the next one is sent, and
                // the one after the next locks its batch at the same time as the commit
                // (with a connection to spare), unless this round held rows back or failed
                // some: then after the commit, so that those rows are free for it. A select
                // from the first row otherwise (the periodic one, or after a next round that
                // found nothing) runs at the same time too: it skips this round's rows
                // (locked, deleted or marked at the commit) and finds the rows it is for,
                // committed late or released by an earlier round (after the commit, it was a
                // fifth of the rounds at 1.5 times a step: BENCHMARKS.md, "Outbox relay").
                // `start_after` is past the next round only when this round is clean.
                let clean = sent.report().held_back == 0 && sent.report().failed == 0;
                let parallel = self.spare_connection && clean;
                let ((finished, after), following) = tokio::join!(
                    async {
                        if parallel {
                            tokio::join!(relay.finish_round(sent), relay.lock_round(start_after))
                        } else {
                            let finished = relay.finish_round(sent).await;
                            (finished, relay.lock_round(start_after).await)
                        }
                    },
                    async {
                        match following {
                            Ok(following) => Ok(relay.send_locked(following).await),
                            Err(err) => Err(err),
                        }
                    }
                );
                self.locked = Some(after);
                match finished {
                    Ok(_) => {
                        relay.counters.retrying.store(false, Ordering::Relaxed);
                        backoff.reset();
                    }
                    Err(err) => {
                        tracing::warn!(
                            error = %crate::error::ErrorChain(&err),
                            "relay round failed; its rows are re-sent later"
                        );
                        // Leave the pipeline: the round after is released, the next one
                        // finishes alone and a failure backs off.
                        relay.counters.retrying.store(true, Ordering::Relaxed);
                        self.degraded = true;
                        self.locked = None;
                    }
                }
                self.next = Some(following);
                Step::Again
            }
            Ok(sent) => {
                // Out of the pipeline: a batch locked ahead is released (rolled back)
                // unsent; the next round selects its rows again.
                self.locked = None;
                Step::Round(relay.finish_round(sent).await)
            }
            Err(err) => {
                self.locked = None;
                Step::Round(Err(err))
            }
        }
    }

    async fn after(&mut self, report: &RoundReport) -> Next {
        self.degraded = false;
        if report.parked > 0 {
            // The parked rows' aggregates wait; count them for the stats.
            count_backlog(self).await;
        }
        if self.relay.more_at_once(report) || (report.held_back > 0 && self.overlapped) {
            // A backlog, or rows held back (most likely) behind the previous round, now
            // committed.
            Next::Now
        } else if report.held_back > 0 {
            // Another relay holds earlier rows of these aggregates.
            Next::After(self.relay.config.min_backoff)
        } else {
            Next::Idle
        }
    }

    async fn count_backlog(&self) -> Result<u64, Error> {
        self.relay.backlog().await
    }

    async fn stop(&mut self) {
        // A batch locked ahead is released unsent; the round already sent finishes, so that
        // its acknowledged rows are not sent again.
        drop(self.locked.take());
        if let Some(Ok(sent)) = self.next.take()
            && let Err(err) = self.relay.finish_round(sent).await
        {
            tracing::warn!(error = %crate::error::ErrorChain(&err), "relay round failed; its rows are re-sent later");
        }
    }
}

/// Wakes the relay on every notification for `schema`; reconnects forever. A wake-up is also
/// sent after each (re)connection, for notifications missed while disconnected.
async fn listen(pool: PgPool, schema: String, wake: Arc<Notify>) {
    loop {
        match PgListener::connect_with(&pool).await {
            Ok(mut listener) => match listener.listen(NOTIFY_CHANNEL).await {
                Ok(()) => {
                    tracing::debug!("listening for outbox notifications");
                    wake.notify_one();
                    loop {
                        match listener.recv().await {
                            Ok(notification) => {
                                if notification.payload() == schema {
                                    wake.notify_one();
                                }
                            }
                            Err(err) => {
                                tracing::warn!(error = %crate::error::ErrorChain(&err), "outbox notifications lost; polling until reconnected");
                                break;
                            }
                        }
                    }
                }
                Err(err) => {
                    tracing::warn!(error = %crate::error::ErrorChain(&err), "cannot LISTEN; polling")
                }
            },
            Err(err) => {
                tracing::warn!(error = %crate::error::ErrorChain(&err), "cannot open a LISTEN connection; polling")
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(feature = "nats")]
impl Relay {
    /// Checks the duplicate window of each stream in `streams` against this relay's
    /// [`RelayConfig::retry_horizon`](super::RelayConfig::retry_horizon) and logs the result
    /// (a window shorter than the horizon can let a retried message be stored twice); see
    /// [`check_duplicate_windows`](super::check_duplicate_windows). Never fails: a broker
    /// that is away is reported per stream.
    pub async fn check_duplicate_windows<S: AsRef<str>>(
        &self,
        context: &async_nats::jetstream::Context,
        streams: impl IntoIterator<Item = S>,
    ) -> Vec<super::WindowCheck> {
        crate::sql::check_duplicate_windows(context, streams, self.config.retry_horizon()).await
    }
}

#[cfg(test)]
mod tests {
    use super::{FULL_SELECT_EVERY, RoundReport, start_after};

    #[test]
    fn overlapped_rounds_select_past_the_next_round_and_from_the_first_row_every_eighth() {
        let clean = RoundReport::default();
        let mut since = 0;
        let starts: Vec<i64> = (0..2 * FULL_SELECT_EVERY)
            .map(|i| start_after(&mut since, &clean, Some(1_000 + i64::from(i))))
            .collect();
        let full: Vec<usize> = starts
            .iter()
            .enumerate()
            .filter(|(_, start)| **start == 0)
            .map(|(i, _)| i)
            .collect();
        // The 8th and the 16th round select from the first row; the others past the next
        // round's last id.
        assert_eq!(full, vec![7, 15]);
        assert_eq!(starts[0], 1_000);
        assert_eq!(starts[8], 1_008);
    }

    #[test]
    fn rows_held_back_failed_or_an_empty_next_round_mean_a_select_from_the_first_row() {
        let mut since = 0;
        let held_back = RoundReport {
            held_back: 1,
            ..RoundReport::default()
        };
        let failed = RoundReport {
            failed: 2,
            ..RoundReport::default()
        };
        assert_eq!(start_after(&mut since, &held_back, Some(500)), 0);
        assert_eq!(start_after(&mut since, &failed, Some(500)), 0);
        assert_eq!(start_after(&mut since, &RoundReport::default(), None), 0);
        // Each resets the count: seven more rounds past, then one from the first row.
        let next: Vec<i64> = (0..FULL_SELECT_EVERY)
            .map(|_| start_after(&mut since, &RoundReport::default(), Some(500)))
            .collect();
        assert_eq!(&next[..7], &[500; 7]);
        assert_eq!(next[7], 0);
    }
}
