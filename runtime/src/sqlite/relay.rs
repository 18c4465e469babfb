//! [`Relay`]: publishes the outbox of an SQLite file to the broker, in order per aggregate,
//! at least once.

mod round;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use sqlx::SqlitePool;
use tokio::sync::Notify;
use tracing::Instrument;

use super::{Error, RelayConfig, RelayStats, RoundReport, RunningRelay, schema, wake};
use crate::publisher::Publisher;
use crate::sql::relay::{
    AbortOnDrop, Backoff, Counters, Next, Rounds, Step, purge_forever, run_loop,
};

/// Publishes the outbox written by [`SqliteStore`](super::SqliteStore), in order per
/// aggregate, at least once.
///
/// # A round
///
/// 1. Read up to [`RelayConfig::batch_size`] unpublished rows, lowest id first, skipping
///    parked rows and the rows behind them. No lock is needed to keep order: SQLite has one
///    writer at a time, so outbox ids are drawn in commit order and no row of an aggregate
///    can appear later below the rows read; the batch holds each of its aggregates' lowest
///    unpublished rows.
/// 2. Send them as the Postgres relay does: at most [`RelayConfig::max_in_flight`] at once,
///    one message per aggregate at a time (an aggregate's next row only after the broker
///    acknowledged the previous one), the rest of an aggregate held back after a failure,
///    no new publish after a transient failure (the next round probes with one), a refused
///    row parked after [`RelayConfig::park_after`] refusals.
/// 3. In one write transaction, delete the acknowledged rows (or, with
///    [`RelayConfig::delete_published`] off, mark them published) and record the failed
///    attempts.
///
/// A relay killed between 2 and 3 leaves its rows unpublished: the next relay sends them
/// again with the same `Nats-Msg-Id`, and JetStream drops them as duplicates within the
/// stream's duplicate window (`Relay::check_duplicate_windows` checks it, feature `nats`).
///
/// [`run`](Self::run) polls every [`RelayConfig::poll_interval`] and is woken at once by the
/// commits of a [`SqliteStore`](super::SqliteStore) of the same process on the same file.
/// Run one relay per file: a second one sends the same rows again (harmless, useless).
/// Cloning is cheap and clones share their counters.
#[derive(Clone)]
pub struct Relay {
    pool: SqlitePool,
    publisher: Arc<dyn Publisher>,
    config: RelayConfig,
    counters: Arc<Counters>,
    wake: Arc<Notify>,
    /// The file, for logs and metrics.
    label: Arc<str>,
    /// The last round ended on a transient failure: start the next with a single publish.
    probe: Arc<AtomicBool>,
}

impl fmt::Debug for Relay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Relay")
            .field("file", &self.label)
            .field("config", &self.config)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Relay {
    /// A relay on the outbox of the file `pool` opens, publishing through `publisher`
    /// (normally a [`JetStreamPublisher`](crate::nats::JetStreamPublisher)). Runs the
    /// embedded migrations, so a relay may start before any store.
    ///
    /// # Errors
    ///
    /// [`Error::Database`].
    pub async fn new(
        pool: SqlitePool,
        publisher: Arc<dyn Publisher>,
        config: RelayConfig,
    ) -> Result<Self, Error> {
        schema::migrate(&pool).await?;
        Ok(Self {
            wake: wake::for_pool(&pool),
            label: wake::label(&pool).into(),
            pool,
            publisher,
            config,
            counters: Arc::default(),
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

    /// Counts the unpublished rows (parked ones included) and records the figure in the
    /// stats, with the parked rows among them ([`RelayStats::parked_backlog`]).
    ///
    /// # Errors
    ///
    /// [`Error::Database`].
    pub async fn backlog(&self) -> Result<u64, Error> {
        let (count, parked): (i64, i64) = sqlx::query_as(
            "SELECT count(*), count(parked_at) FROM eventmap_outbox WHERE published_at IS NULL",
        )
        .fetch_one(&self.pool)
        .await?;
        let count = u64::try_from(count).unwrap_or_default();
        let parked = u64::try_from(parked).unwrap_or_default();
        self.counters.count_backlog(&self.label, count, parked);
        Ok(count)
    }

    /// Deletes published rows (kept with [`RelayConfig::delete_published`] off) older than
    /// `older_than` and returns how many, in transactions of at most
    /// [`RelayConfig::purge_batch_size`] rows (each holds the write lock briefly).
    /// [`run`](Self::run) does this by itself every [`RelayConfig::purge_interval`] when
    /// [`RelayConfig::retention`] is set.
    ///
    /// # Errors
    ///
    /// [`Error::Database`]: rows deleted by earlier statements stay deleted.
    pub async fn purge_published(&self, older_than: Duration) -> Result<u64, Error> {
        let mut total = 0;
        loop {
            let deleted = sqlx::query(
                "DELETE FROM eventmap_outbox WHERE id IN (SELECT id FROM eventmap_outbox \
                 WHERE published_at IS NOT NULL \
                 AND julianday(published_at) < julianday('now') - ? / 86400.0 \
                 ORDER BY id LIMIT ?)",
            )
            .bind(older_than.as_secs_f64())
            .bind(i64::from(self.config.purge_batch_size))
            .execute(&self.pool)
            .await?
            .rows_affected();
            total += deleted;
            if deleted < u64::from(self.config.purge_batch_size) {
                return Ok(total);
            }
        }
    }

    /// Runs rounds until `shutdown` completes: immediately again while rounds find full
    /// batches, otherwise when a store of this process commits outbox rows or after
    /// [`RelayConfig::poll_interval`]; after a failure, with exponential backoff up to
    /// [`RelayConfig::max_backoff`], forever. Every [`RelayConfig::purge_interval`] a task of
    /// its own deletes published rows past [`RelayConfig::retention`]. The shutdown is
    /// honoured between rounds (a round in progress finishes, so acknowledged rows get
    /// marked).
    ///
    /// # Errors
    ///
    /// None so far: every failure is logged and retried. The `Result` leaves room for fatal
    /// conditions.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
        let span = tracing::info_span!("eventmap.relay", file = %self.label);
        async {
            let _purge = self.config.retention.map(|retention| {
                let relay = self.clone();
                AbortOnDrop(tokio::spawn(
                    async move {
                        let interval = relay.config.purge_interval;
                        purge_forever(interval, retention, |older_than| {
                            relay.purge_published(older_than)
                        })
                        .await;
                    }
                    .in_current_span(),
                ))
            });
            let mut rounds = self;
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

/// One round at a time: the next at once after a full batch with something acknowledged,
/// otherwise when woken or polled.
impl Rounds for &Relay {
    async fn round(&mut self, _backoff: &mut Backoff) -> Step {
        Step::Round(self.run_once().await)
    }

    async fn after(&mut self, report: &RoundReport) -> Next {
        if report.selected >= self.config.batch_size as usize && report.acked() > 0 {
            Next::Now
        } else {
            Next::Idle
        }
    }

    async fn count_backlog(&self) -> Result<u64, Error> {
        self.backlog().await
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
