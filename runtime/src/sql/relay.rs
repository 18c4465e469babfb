//! What the outbox relays of the SQL backends share: the settings ([`RelayConfig`]), the
//! counters ([`RelayStats`]), the report of a round, the send loop of a round (one message
//! per aggregate in flight, see [`send`]) and the handle of a spawned relay
//! ([`RunningRelay`]). Selecting, locking and marking rows is each backend's.

mod config;
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
                tracing::warn!(error = %err, "cannot purge published rows; retrying later")
            }
        }
    }
}
