//! The run loop both SQL relays share ([`run_loop`]): what to do after a round (again at once,
//! back off, or wait for a wake-up), the backoff after failures and the shutdown between
//! rounds. How a round runs (one at a time on SQLite, overlapped on Postgres) is each
//! backend's, behind [`Rounds`].

use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::Notify;

use super::{Backoff, Counters, RelayConfig, RoundReport, warn_halted};
use crate::sql::Error;

/// What the loop does after a round that succeeded (not halted by a transient failure).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Another round at once: the outbox has a backlog.
    Now,
    /// Another round after this pause (rows held back by another relay).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    After(Duration),
    /// Idle: count the backlog, then wait for a wake-up or [`RelayConfig::poll_interval`].
    Idle,
}

/// What one step of a relay's rounds gave.
#[derive(Debug)]
pub(crate) enum Step {
    /// A round finished (or failed) with this outcome, for the loop to judge.
    Round(Result<RoundReport, Error>),
    /// Work went on without a round to judge (a pipelined round was committed while the next
    /// one was sent): step again at once.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    Again,
}

/// A relay's rounds, as [`run_loop`] drives them.
pub(crate) trait Rounds: Send {
    /// Runs the next round. `backoff` is the loop's, for a backend that judges rounds of its
    /// own (the Postgres pipeline).
    fn round(&mut self, backoff: &mut Backoff) -> impl Future<Output = Step> + Send;

    /// After a round that succeeded with `report` (the relay is no longer retrying): when to
    /// run the next one.
    fn after(&mut self, report: &RoundReport) -> impl Future<Output = Next> + Send;

    /// Counts the unpublished rows and records them in the stats.
    fn count_backlog(&self) -> impl Future<Output = Result<u64, Error>> + Send;

    /// At shutdown, before the loop returns: finishes or releases rounds in progress.
    fn stop(&mut self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// Counts the backlog of `rounds`, logging a failure (the figure is only for the stats).
pub(crate) async fn count_backlog<R: Rounds + ?Sized>(rounds: &R) {
    if let Err(err) = rounds.count_backlog().await {
        tracing::warn!(error = %crate::error::ErrorChain(&err), "cannot count the outbox backlog");
    }
}

/// Runs `rounds` until `shutdown` completes: again at once or after a pause as
/// [`Rounds::after`] says, otherwise when `wake` is notified or after
/// [`RelayConfig::poll_interval`]; after a halted or failed round, with the exponential
/// [`Backoff`] of `config` (marking the relay retrying in `counters`). The shutdown is
/// checked before each round and honoured during pauses; a round in progress finishes, then
/// [`Rounds::stop`] runs.
pub(crate) async fn run_loop<R: Rounds>(
    rounds: &mut R,
    config: &RelayConfig,
    counters: &Counters,
    wake: &Notify,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    tracing::info!(
        batch_size = config.batch_size,
        max_in_flight = config.max_in_flight,
        "relay started"
    );
    let mut backoff = Backoff::new(config);
    loop {
        // Rounds follow each other without a pause while the outbox has a backlog: the
        // shutdown is checked here too, not only while pausing.
        if futures::FutureExt::now_or_never(&mut shutdown).is_some() {
            rounds.stop().await;
            break;
        }
        let pause = match rounds.round(&mut backoff).await {
            Step::Again => continue,
            Step::Round(Ok(report)) if !report.halted => {
                counters.retrying.store(false, Ordering::Relaxed);
                backoff.reset();
                match rounds.after(&report).await {
                    Next::Now => continue,
                    Next::After(pause) => Some(pause),
                    Next::Idle => {
                        count_backlog(rounds).await;
                        None
                    }
                }
            }
            Step::Round(Ok(report)) => {
                let backlog = rounds.count_backlog().await.ok();
                warn_halted(&report, backlog, backoff.next());
                Some(backoff.failed(counters))
            }
            Step::Round(Err(err)) => {
                tracing::warn!(error = %crate::error::ErrorChain(&err), retry_in = ?backoff.next(), "relay round failed; retrying");
                Some(backoff.failed(counters))
            }
        };
        let woken = async {
            match pause {
                Some(pause) => tokio::time::sleep(pause).await,
                None => {
                    tokio::select! {
                        () = wake.notified() => {}
                        () = tokio::time::sleep(config.poll_interval) => {}
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
    tracing::info!(stats = ?counters.stats(), "relay stopped");
}
