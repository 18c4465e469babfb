//! [`Relay`]: publishes the outbox to the broker, in order per aggregate, at least once.
//!
//! # A round
//!
//! 1. In one transaction, lock up to [`RelayConfig::batch_size`] unpublished rows, lowest id
//!    first, `FOR UPDATE SKIP LOCKED` (rows locked by another relay are skipped, not waited
//!    for). There is no "last id seen": every round selects *all* unpublished rows by id, so a
//!    row whose transaction commits late, with an id below rows already published, is picked
//!    up by the next round.
//! 2. **Fence**: for each aggregate in the batch, find its lowest unpublished row that this
//!    round did *not* lock (another relay holds it, or it is beyond the batch). Only this
//!    round's rows of that aggregate below the fence may be sent; the others wait.
//! 3. Send, at most [`RelayConfig::max_in_flight`] at once, but **one message per aggregate
//!    at a time**: an aggregate's next row is sent only once the broker acknowledged the
//!    previous one. Rows of different aggregates are pipelined.
//! 4. When a publish fails, the rest of its aggregate's rows stay unsent this round; after a
//!    transient failure (timeout, broker away) no new publish starts at all, and the next
//!    round *probes*: one publish, and the pipeline opens again only once it is acknowledged
//!    (so a broker that is still away costs one timeout per retry, not `max_in_flight`).
//! 5. Mark the acknowledged rows published (stream and sequence kept), record the attempt and
//!    error on the failed ones, commit. Back off after a failure, exponentially up to
//!    [`RelayConfig::max_backoff`], forever.
//!
//! # Why per-aggregate order survives retries
//!
//! An aggregate's row N+1 is only ever sent after the broker stored row N (3): a failed N
//! can never be overtaken by its successor, because the successor was not in flight.
//! Across rounds and relays, row N+1 is sent only by the relay that holds every lower
//! unpublished row of the aggregate (2), and per aggregate ids follow versions (appends to
//! one aggregate are serialised by its row in `eventmap_aggregates` and draw their ids after
//! taking that lock), so rows committed later always sort after. A row that was stored but
//! whose ack was lost is re-sent with the same `Nats-Msg-Id`, which JetStream drops as a
//! duplicate within the stream's duplicate window ([`check_duplicate_windows`]).
//!
//! A relay killed mid-round loses its transaction: its locks go, its rows stay unpublished
//! and the next relay re-sends them (duplicates, dropped by JetStream). Rows of different
//! aggregates have no order between them on the stream.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use sqlx::Row;
use sqlx::postgres::{PgListener, PgPool, PgRow};
use tokio::sync::Notify;
use tracing::Instrument;
use uuid::Uuid;

use super::Error;
use super::schema::{DEFAULT_SCHEMA, NOTIFY_CHANNEL, Schema};
use crate::message::IntegrationMessage;
use crate::publisher::Publisher;

/// Settings of a [`Relay`]. Built with the chainable setters:
/// `RelayConfig::default().schema("orders").batch_size(1000)`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RelayConfig {
    /// Schema of the outbox (default [`DEFAULT_SCHEMA`]).
    pub schema: String,
    /// Rows locked per round. Default 500.
    pub batch_size: u32,
    /// Publishes awaiting their ack at once (over all aggregates; one per aggregate).
    /// Default 256.
    pub max_in_flight: usize,
    /// Longest sleep between rounds without a notification. Default 1 s.
    pub poll_interval: Duration,
    /// Longest wait for one ack before the publish counts as failed (and is retried). Set it
    /// above the publisher's own timeout (async-nats: 5 s). Default 10 s.
    pub publish_timeout: Duration,
    /// First backoff after a failed round. Default 100 ms.
    pub min_backoff: Duration,
    /// Backoff cap; the relay retries forever. Default 10 s.
    pub max_backoff: Duration,
    /// Wake up on `LISTEN/NOTIFY` (in addition to polling). Default `true`.
    pub listen: bool,
}

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
        }
    }
}

impl RelayConfig {
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

    /// The longest time between an attempt whose ack was lost (the message may be stored)
    /// and the next attempt of the same row while the broker is reachable: two publish
    /// timeouts and the longest backoff. A stream's duplicate window shorter than this can
    /// let a retry be stored twice. (An outage of the broker itself can stretch the gap
    /// further: see `docs/delivery.md`.)
    pub fn retry_horizon(&self) -> Duration {
        self.publish_timeout * 2 + self.max_backoff
    }
}

/// Counters of a [`Relay`] since it was created (all its clones together).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RelayStats {
    /// Rows acknowledged by the broker as newly stored.
    pub published: u64,
    /// Rows acknowledged as duplicates (already stored: a re-send after a crash or a lost ack).
    pub duplicates: u64,
    /// Failed publish attempts.
    pub failures: u64,
    /// Rounds run.
    pub rounds: u64,
    /// Unpublished rows when last counted (after a failed round and when idle).
    pub backlog: u64,
    /// Whether the last round failed (the relay is backing off).
    pub retrying: bool,
}

#[derive(Debug, Default)]
struct Counters {
    published: AtomicU64,
    duplicates: AtomicU64,
    failures: AtomicU64,
    rounds: AtomicU64,
    backlog: AtomicU64,
    retrying: AtomicBool,
}

/// What one round ([`Relay::run_once`]) did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RoundReport {
    /// Rows locked.
    pub selected: usize,
    /// Rows acknowledged as newly stored, now marked published.
    pub published: usize,
    /// Rows acknowledged as duplicates, now marked published.
    pub duplicates: usize,
    /// Rows whose publish failed (retried by a later round).
    pub failed: usize,
    /// Rows not sent this round: behind a row of their aggregate that another relay holds,
    /// behind a failed row of their aggregate, or left after a transient failure.
    pub held_back: usize,
    /// The first publish error, if any.
    pub error: Option<String>,
}

impl RoundReport {
    fn acked(&self) -> usize {
        self.published + self.duplicates
    }
}

/// Publishes the outbox written by [`PostgresStore`](super::PostgresStore); see the
/// [module documentation](self) for a round and for why per-aggregate order holds.
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

/// One locked outbox row.
struct OutboxRow {
    id: i64,
    aggregate_type: String,
    aggregate_id: String,
    /// The message, or why the row cannot be turned into one.
    message: Result<IntegrationMessage, String>,
    past_horizon: bool,
}

/// Aborts a spawned task when dropped.
/// A relay running on a task of its own ([`Relay::spawn`]). Dropping it stops the relay at
/// its next shutdown check without waiting for it; [`stop`](Self::stop) waits.
#[derive(Debug)]
pub struct RunningRelay {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), Error>>,
}

impl RunningRelay {
    /// Whether the relay's task has ended (it only ends on [`stop`](Self::stop), a fatal
    /// error or a panic).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Stops the relay (a round in progress finishes, so acknowledged rows get marked) and
    /// waits for its task.
    ///
    /// # Errors
    ///
    /// What [`Relay::run`] returned, or [`Error::RelayPanicked`].
    pub async fn stop(self) -> Result<(), Error> {
        let _ = self.stop.send(());
        match self.task.await {
            Ok(result) => result,
            Err(err) if err.is_panic() => {
                let panic = err.into_panic();
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "(not a string)".to_owned());
                Err(Error::RelayPanicked { message })
            }
            // Cancelled: the runtime is shutting down; nothing runs any more.
            Err(_) => Ok(()),
        }
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
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
        Ok(Self {
            pool,
            schema,
            publisher,
            config,
            counters: Arc::default(),
            wake: Arc::new(Notify::new()),
            probe: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The settings.
    pub fn config(&self) -> &RelayConfig {
        &self.config
    }

    /// The counters.
    pub fn stats(&self) -> RelayStats {
        let c = &self.counters;
        RelayStats {
            published: c.published.load(Ordering::Relaxed),
            duplicates: c.duplicates.load(Ordering::Relaxed),
            failures: c.failures.load(Ordering::Relaxed),
            rounds: c.rounds.load(Ordering::Relaxed),
            backlog: c.backlog.load(Ordering::Relaxed),
            retrying: c.retrying.load(Ordering::Relaxed),
        }
    }

    /// Counts the unpublished rows (committed ones) and records the figure in the stats.
    ///
    /// # Errors
    ///
    /// [`Error::Database`].
    pub async fn backlog(&self) -> Result<u64, Error> {
        let count: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM {} WHERE published_at IS NULL",
            self.schema.outbox
        ))
        .fetch_one(&self.pool)
        .await?;
        let count = u64::try_from(count).unwrap_or_default();
        self.counters.backlog.store(count, Ordering::Relaxed);
        Ok(count)
    }

    /// Deletes published rows older than `older_than` and returns how many. Run it from
    /// time to time: the outbox otherwise keeps every row. (Rows must outlive the duplicate
    /// window only for investigation; re-sends never come from published rows.)
    ///
    /// # Errors
    ///
    /// [`Error::Database`].
    pub async fn purge_published(&self, older_than: Duration) -> Result<u64, Error> {
        let deleted = sqlx::query(&format!(
            "DELETE FROM {} WHERE published_at IS NOT NULL \
             AND published_at < now() - make_interval(secs => $1)",
            self.schema.outbox
        ))
        .bind(older_than.as_secs_f64())
        .execute(&self.pool)
        .await?;
        Ok(deleted.rows_affected())
    }

    /// Runs rounds until `shutdown` completes: immediately again while rounds find full
    /// batches, otherwise on a notification or after [`RelayConfig::poll_interval`]; after a
    /// failure, with exponential backoff, forever. The shutdown is honoured between rounds (a
    /// round in progress finishes, so acknowledged rows get marked).
    ///
    /// # Errors
    ///
    /// None so far: every failure is logged and retried. The `Result` leaves room for fatal
    /// conditions.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
        let span = tracing::info_span!("eventmap.relay", schema = %self.schema.name());
        async {
            tokio::pin!(shutdown);
            let _listener = self.config.listen.then(|| {
                AbortOnDrop(tokio::spawn(
                    listen(self.pool.clone(), self.schema.name().to_owned(), Arc::clone(&self.wake))
                        .in_current_span(),
                ))
            });
            tracing::info!(
                batch_size = self.config.batch_size,
                max_in_flight = self.config.max_in_flight,
                "relay started"
            );
            let mut backoff = self.config.min_backoff;
            loop {
                let round = self.run_once().await;
                let pause = match round {
                    Ok(report) if report.error.is_none() => {
                        self.counters.retrying.store(false, Ordering::Relaxed);
                        backoff = self.config.min_backoff;
                        if report.selected >= self.config.batch_size as usize && report.acked() > 0
                        {
                            continue;
                        }
                        if report.held_back > 0 {
                            // Another relay holds earlier rows of these aggregates.
                            Some(self.config.min_backoff)
                        } else {
                            if let Err(err) = self.backlog().await {
                                tracing::warn!(error = %err, "cannot count the outbox backlog");
                            }
                            None
                        }
                    }
                    Ok(report) => {
                        let backlog = self.backlog().await.ok();
                        tracing::warn!(
                            error = report.error.as_deref().unwrap_or_default(),
                            acked = report.acked(),
                            failed = report.failed,
                            backlog,
                            retry_in = ?backoff,
                            "publishing failed; retrying"
                        );
                        self.counters.retrying.store(true, Ordering::Relaxed);
                        let pause = backoff;
                        backoff = (backoff * 2).min(self.config.max_backoff);
                        Some(pause)
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, retry_in = ?backoff, "relay round failed; retrying");
                        self.counters.retrying.store(true, Ordering::Relaxed);
                        let pause = backoff;
                        backoff = (backoff * 2).min(self.config.max_backoff);
                        Some(pause)
                    }
                };
                let woken = async {
                    match pause {
                        Some(pause) => tokio::time::sleep(pause).await,
                        None => {
                            tokio::select! {
                                () = self.wake.notified() => {}
                                () = tokio::time::sleep(self.config.poll_interval) => {}
                            }
                        }
                    }
                };
                tokio::select! {
                    biased;
                    () = &mut shutdown => break,
                    () = woken => {}
                }
            }
            tracing::info!(stats = ?self.stats(), "relay stopped");
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
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let relay = self.clone();
        let task = tokio::spawn(async move {
            relay
                .run(async {
                    // A dropped sender stops the relay too.
                    let _ = stopped.await;
                })
                .await
        });
        RunningRelay { stop, task }
    }

    /// Runs one round (see the [module documentation](self)).
    ///
    /// # Errors
    ///
    /// [`Error::Database`]: the round's transaction is rolled back, nothing is marked (rows
    /// acknowledged in it are re-sent later, as duplicates).
    pub async fn run_once(&self) -> Result<RoundReport, Error> {
        let span = tracing::debug_span!("eventmap.relay.round", schema = %self.schema.name());
        async {
            self.counters.rounds.fetch_add(1, Ordering::Relaxed);
            let mut tx = self.pool.begin().await?;
            let rows = sqlx::query(&format!(
                "SELECT id, message_id, aggregate_type, aggregate_id, subject, name, \
                 headers::text AS headers, payload, \
                 coalesce(first_attempt_at < now() - make_interval(secs => $2), false) AS past_horizon \
                 FROM {} WHERE published_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
                self.schema.outbox
            ))
            .bind(i64::from(self.config.batch_size))
            .bind(self.config.retry_horizon().as_secs_f64())
            .fetch_all(&mut *tx)
            .await?;
            let rows: Vec<OutboxRow> = rows.iter().map(outbox_row).collect::<Result<_, _>>()?;
            let mut report = RoundReport {
                selected: rows.len(),
                ..RoundReport::default()
            };
            if rows.is_empty() {
                tx.commit().await?;
                return Ok(report);
            }
            let past_horizon = rows.iter().filter(|row| row.past_horizon).count();
            if past_horizon > 0 {
                tracing::warn!(
                    rows = past_horizon,
                    retry_horizon = ?self.config.retry_horizon(),
                    "rows retried for longer than the retry horizon: if an earlier attempt was \
                     stored and only its ack lost, a stream whose duplicate window has passed \
                     stores the retry again (consumers deduplicate by ce-id)"
                );
            }

            let fences = self.fences(&mut tx, &rows).await?;
            let outcome = self
                .publish(&rows, &fences, self.probe.load(Ordering::Relaxed))
                .await;
            self.probe.store(outcome.halted, Ordering::Relaxed);
            report.held_back = rows.len() - outcome.acked.len() - outcome.failed.len();
            report.failed = outcome.failed.len();
            report.error = outcome.failed.first().map(|(_, error)| error.clone());

            if !outcome.acked.is_empty() {
                let mut ids = Vec::with_capacity(outcome.acked.len());
                let mut streams = Vec::with_capacity(outcome.acked.len());
                let mut sequences = Vec::with_capacity(outcome.acked.len());
                for (index, ack) in &outcome.acked {
                    ids.push(rows[*index].id);
                    streams.push(ack.stream.as_str());
                    sequences.push(i64::try_from(ack.sequence).unwrap_or(i64::MAX));
                    if ack.duplicate {
                        report.duplicates += 1;
                    } else {
                        report.published += 1;
                    }
                }
                sqlx::query(&format!(
                    "UPDATE {} AS o SET published_at = now(), stream = x.stream, \
                     stream_sequence = x.seq, attempts = o.attempts + 1, last_error = NULL \
                     FROM unnest($1::bigint[], $2::text[], $3::bigint[]) AS x(id, stream, seq) \
                     WHERE o.id = x.id",
                    self.schema.outbox
                ))
                .bind(&ids)
                .bind(&streams)
                .bind(&sequences)
                .execute(&mut *tx)
                .await?;
            }
            if !outcome.failed.is_empty() {
                let ids: Vec<i64> = outcome.failed.iter().map(|(i, _)| rows[*i].id).collect();
                let errors: Vec<&str> = outcome.failed.iter().map(|(_, e)| e.as_str()).collect();
                sqlx::query(&format!(
                    "UPDATE {} AS o SET attempts = o.attempts + 1, last_error = x.error, \
                     first_attempt_at = coalesce(o.first_attempt_at, now()) \
                     FROM unnest($1::bigint[], $2::text[]) AS x(id, error) WHERE o.id = x.id",
                    self.schema.outbox
                ))
                .bind(&ids)
                .bind(&errors)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;

            let c = &self.counters;
            c.published.fetch_add(report.published as u64, Ordering::Relaxed);
            c.duplicates.fetch_add(report.duplicates as u64, Ordering::Relaxed);
            c.failures.fetch_add(report.failed as u64, Ordering::Relaxed);
            tracing::debug!(
                selected = report.selected,
                published = report.published,
                duplicates = report.duplicates,
                failed = report.failed,
                held_back = report.held_back,
                "round done"
            );
            Ok(report)
        }
        .instrument(span)
        .await
    }

    /// For each aggregate of `rows`: the lowest id of its unpublished rows that this round
    /// did not lock. This round's rows of the aggregate at or above it must not be sent.
    async fn fences(
        &self,
        tx: &mut sqlx::PgConnection,
        rows: &[OutboxRow],
    ) -> Result<HashMap<(String, String), i64>, Error> {
        let mut types = Vec::new();
        let mut ids = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for row in rows {
            if seen.insert((row.aggregate_type.as_str(), row.aggregate_id.as_str())) {
                types.push(row.aggregate_type.as_str());
                ids.push(row.aggregate_id.as_str());
            }
        }
        let locked: Vec<i64> = rows.iter().map(|row| row.id).collect();
        let fences = sqlx::query(&format!(
            "SELECT o.aggregate_type, o.aggregate_id, min(o.id) AS fence FROM {} AS o \
             JOIN unnest($1::text[], $2::text[]) AS k(t, a) \
               ON o.aggregate_type = k.t AND o.aggregate_id = k.a \
             WHERE o.published_at IS NULL AND o.id <> ALL($3::bigint[]) \
             GROUP BY o.aggregate_type, o.aggregate_id",
            self.schema.outbox
        ))
        .bind(&types)
        .bind(&ids)
        .bind(&locked)
        .fetch_all(&mut *tx)
        .await?;
        fences
            .iter()
            .map(|row| {
                Ok((
                    (row.try_get("aggregate_type")?, row.try_get("aggregate_id")?),
                    row.try_get("fence")?,
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Error::from)
    }

    /// Sends the rows below their fences, one in flight per aggregate, at most
    /// `max_in_flight` in all (1 until the first ack when `probe`); stops starting new sends
    /// after a transient failure.
    async fn publish(
        &self,
        rows: &[OutboxRow],
        fences: &HashMap<(String, String), i64>,
        probe: bool,
    ) -> Outcome {
        // Per-aggregate queues of row indexes, in id order; aggregates in order of their
        // first row.
        let mut queue_of: HashMap<(&str, &str), usize> = HashMap::new();
        let mut queues: Vec<VecDeque<usize>> = Vec::new();
        for (index, row) in rows.iter().enumerate() {
            let key = (row.aggregate_type.as_str(), row.aggregate_id.as_str());
            let fence = fences
                .get(&(row.aggregate_type.clone(), row.aggregate_id.clone()))
                .copied();
            if fence.is_some_and(|fence| row.id > fence) {
                continue;
            }
            let queue = *queue_of.entry(key).or_insert_with(|| {
                queues.push(VecDeque::new());
                queues.len() - 1
            });
            queues[queue].push_back(index);
        }
        let mut ready: VecDeque<usize> = (0..queues.len()).collect();
        let mut outcome = Outcome::default();
        let timeout = self.config.publish_timeout;
        let publisher = &self.publisher;
        let send = |queue: usize, index: usize| {
            let row = &rows[index];
            async move {
                let result = match &row.message {
                    Ok(message) => {
                        match tokio::time::timeout(timeout, publisher.publish(message)).await {
                            Ok(Ok(receipt)) => Ok(Ack {
                                stream: receipt.stream,
                                sequence: receipt.sequence,
                                duplicate: receipt.duplicate,
                            }),
                            Ok(Err(err)) => Err((err.is_transient(), err.to_string())),
                            Err(_) => Err((true, format!("no ack within {timeout:?}"))),
                        }
                    }
                    Err(reason) => Err((false, reason.clone())),
                };
                (queue, index, result)
            }
        };
        let mut in_flight = FuturesUnordered::new();
        loop {
            let limit = if probe && outcome.acked.is_empty() {
                1
            } else {
                self.config.max_in_flight
            };
            while !outcome.halted && in_flight.len() < limit {
                let Some(queue) = ready.pop_front() else {
                    break;
                };
                if let Some(index) = queues[queue].pop_front() {
                    in_flight.push(send(queue, index));
                }
            }
            let Some((queue, index, result)) = in_flight.next().await else {
                break;
            };
            match result {
                Ok(ack) => {
                    outcome.acked.push((index, ack));
                    if !queues[queue].is_empty() {
                        ready.push_back(queue);
                    }
                }
                Err((transient, error)) => {
                    tracing::debug!(outbox_id = rows[index].id, error = %error, "publish failed");
                    outcome.failed.push((index, error));
                    // The aggregate's later rows must not overtake this one.
                    queues[queue].clear();
                    if transient {
                        outcome.halted = true;
                    }
                }
            }
        }
        outcome
    }

    /// Checks the duplicate window of each stream against [`RelayConfig::retry_horizon`]
    /// and logs the result; see [`check_duplicate_windows`].
    #[cfg(feature = "nats")]
    pub async fn check_duplicate_windows<S: AsRef<str>>(
        &self,
        context: &async_nats::jetstream::Context,
        streams: impl IntoIterator<Item = S>,
    ) -> Vec<WindowCheck> {
        check_duplicate_windows(context, streams, self.config.retry_horizon()).await
    }
}

#[derive(Debug)]
struct Ack {
    stream: String,
    sequence: u64,
    duplicate: bool,
}

#[derive(Debug, Default)]
struct Outcome {
    acked: Vec<(usize, Ack)>,
    failed: Vec<(usize, String)>,
    /// A transient failure stopped the round.
    halted: bool,
}

fn outbox_row(row: &PgRow) -> Result<OutboxRow, Error> {
    let id: i64 = row.try_get("id")?;
    let message_id: Uuid = row.try_get("message_id")?;
    let subject: String = row.try_get("subject")?;
    let name: String = row.try_get("name")?;
    let headers: String = row.try_get("headers")?;
    let payload: Vec<u8> = row.try_get("payload")?;
    let message = serde_json::from_str::<Vec<(String, String)>>(&headers)
        .map(|headers| IntegrationMessage {
            id: message_id,
            name,
            subject,
            payload: Bytes::from(payload),
            headers,
        })
        .map_err(|e| format!("outbox row {id}: headers are not [[name, value], ...]: {e}"));
    Ok(OutboxRow {
        id,
        aggregate_type: row.try_get("aggregate_type")?,
        aggregate_id: row.try_get("aggregate_id")?,
        message,
        past_horizon: row.try_get("past_horizon")?,
    })
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
                                tracing::warn!(error = %err, "outbox notifications lost; polling until reconnected");
                                break;
                            }
                        }
                    }
                }
                Err(err) => tracing::warn!(error = %err, "cannot LISTEN; polling"),
            },
            Err(err) => tracing::warn!(error = %err, "cannot open a LISTEN connection; polling"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The result of checking one stream's duplicate window ([`check_duplicate_windows`]).
#[cfg(feature = "nats")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowCheck {
    /// Stream name.
    pub stream: String,
    /// The stream's duplicate window, or why it could not be read.
    pub duplicate_window: Result<Duration, String>,
    /// The retry horizon it was compared with.
    pub retry_horizon: Duration,
}

#[cfg(feature = "nats")]
impl WindowCheck {
    /// Whether the duplicate window is known and at least the retry horizon.
    pub fn covers(&self) -> bool {
        matches!(self.duplicate_window, Ok(window) if window >= self.retry_horizon)
    }
}

/// Reads each stream's duplicate window and compares it with `retry_horizon`
/// ([`RelayConfig::retry_horizon`]): logs at `info` when the window covers it, at `warn`
/// when it does not (a retried message may then be stored twice) or cannot be read. Never
/// fails: a broker that is away is reported per stream.
#[cfg(feature = "nats")]
pub async fn check_duplicate_windows<S: AsRef<str>>(
    context: &async_nats::jetstream::Context,
    streams: impl IntoIterator<Item = S>,
    retry_horizon: Duration,
) -> Vec<WindowCheck> {
    let mut checks = Vec::new();
    for stream in streams {
        let stream = stream.as_ref();
        let duplicate_window = match context.get_stream(stream).await {
            Ok(handle) => Ok(handle.cached_info().config.duplicate_window),
            Err(err) => Err(err.to_string()),
        };
        let check = WindowCheck {
            stream: stream.to_owned(),
            duplicate_window,
            retry_horizon,
        };
        match &check.duplicate_window {
            Ok(window) if check.covers() => tracing::info!(
                stream,
                duplicate_window = ?window,
                retry_horizon = ?retry_horizon,
                "duplicate window covers the relay's retry horizon"
            ),
            Ok(window) => tracing::warn!(
                stream,
                duplicate_window = ?window,
                retry_horizon = ?retry_horizon,
                "duplicate window is shorter than the relay's retry horizon: a retried \
                 message may be stored twice; raise the stream's duplicate_window"
            ),
            Err(error) => tracing::warn!(
                stream,
                error = %error,
                "cannot read the stream's duplicate window"
            ),
        }
        checks.push(check);
    }
    checks
}
