//! What the outbox relays of the SQL backends share: the settings ([`RelayConfig`]), the
//! counters ([`RelayStats`]), the report of a round, the send loop of a round (one message
//! per aggregate in flight, see [`send`]), the run loop ([`run_loop`]: pauses, backoff,
//! shutdown) and the handle of a spawned relay ([`RunningRelay`]). Selecting, locking and
//! marking rows is each backend's.

mod batched;
mod config;
mod run;
mod running;
pub(crate) mod send;
#[cfg(feature = "nats")]
mod window;

pub(crate) use config::Counters;
#[cfg(feature = "postgres")]
pub use config::DEFAULT_SCHEMA;
pub use config::{
    DEFAULT_NO_STREAM_GRACE, DEFAULT_PARK_AFTER, DEFAULT_RETENTION, RelayConfig, RelayStats,
    RoundReport,
};
#[cfg(feature = "postgres")]
pub(crate) use run::count_backlog;
pub(crate) use run::{Next, Rounds, Step, run_loop};
pub(crate) use running::AbortOnDrop;
pub use running::RunningRelay;
#[cfg(feature = "nats")]
pub use window::{WindowCheck, check_duplicate_windows};

/// Runs `purge(retention)` every `interval`, forever, logging what it deleted and its
/// failures (retried at the next interval): the retention task a relay's `run` starts.
pub(crate) async fn purge_forever<F, Fut>(
    interval: std::time::Duration,
    retention: std::time::Duration,
    purge: F,
) where
    F: Fn(std::time::Duration) -> Fut,
    Fut: Future<Output = Result<u64, crate::sql::Error>>,
{
    loop {
        tokio::time::sleep(interval).await;
        let started = std::time::Instant::now();
        match purge(retention).await {
            Ok(0) => {}
            Ok(rows) => {
                tracing::debug!(rows, took = ?started.elapsed(), "purged published rows")
            }
            Err(err) => {
                tracing::warn!(error = %crate::error::ErrorChain(&err), "cannot purge published rows; retrying later")
            }
        }
    }
}

/// The backoff of a relay's `run` after failed rounds: [`RelayConfig::min_backoff`], doubled
/// after each failure up to [`RelayConfig::max_backoff`], back to the minimum after a round
/// that succeeds.
#[derive(Debug)]
pub(crate) struct Backoff {
    next: std::time::Duration,
    min: std::time::Duration,
    max: std::time::Duration,
}

impl Backoff {
    pub(crate) fn new(config: &RelayConfig) -> Self {
        Self {
            next: config.min_backoff,
            min: config.min_backoff,
            max: config.max_backoff,
        }
    }

    /// The pause the next failure will cost.
    pub(crate) fn next(&self) -> std::time::Duration {
        self.next
    }

    /// After a round that succeeded.
    pub(crate) fn reset(&mut self) {
        self.next = self.min;
    }

    /// After a failed round: marks the relay retrying in `counters` and returns the pause
    /// before the next round.
    pub(crate) fn failed(&mut self, counters: &Counters) -> std::time::Duration {
        counters
            .retrying
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let pause = self.next;
        self.next = (self.next * 2).min(self.max);
        pause
    }
}

/// Logs a round that a transient failure stopped (`report.halted`), with the backlog when it
/// could be counted and the pause before the next round.
pub(crate) fn warn_halted(
    report: &RoundReport,
    backlog: Option<u64>,
    retry_in: std::time::Duration,
) {
    tracing::warn!(
        error = report.error.as_deref().unwrap_or_default(),
        acked = report.acked(),
        failed = report.failed,
        backlog,
        retry_in = ?retry_in,
        "publishing failed; retrying"
    );
}
