//! [`RunningRelay`]: a relay running on a task of its own, and [`AbortOnDrop`] for the tasks
//! a relay runs beside its rounds.

use crate::sql::Error;

/// A relay running on a task of its own
/// ([`postgres::Relay::spawn`](crate::postgres::Relay::spawn),
/// [`sqlite::Relay::spawn`](crate::sqlite::Relay::spawn)). Dropping it stops the relay at its
/// next shutdown check without waiting for it; [`stop`](Self::stop) waits.
#[derive(Debug)]
pub struct RunningRelay {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), Error>>,
}

impl RunningRelay {
    /// Spawns `run` on a tokio task, given the future that completes when the relay must
    /// stop (when [`stop`](Self::stop) is called or the handle dropped).
    pub(crate) fn spawn<F, R>(run: R) -> Self
    where
        R: FnOnce(std::pin::Pin<Box<dyn Future<Output = ()> + Send>>) -> F,
        F: Future<Output = Result<(), Error>> + Send + 'static,
    {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(run(Box::pin(async {
            // A dropped sender stops the relay too.
            let _ = stopped.await;
        })));
        Self { stop, task }
    }

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
    /// What the relay's `run` returned, or [`Error::RelayPanicked`].
    pub async fn stop(self) -> Result<(), Error> {
        let _ = self.stop.send(());
        match self.task.await {
            Ok(result) => result,
            Err(err) if err.is_panic() => {
                let message = crate::error::panic_message(&*err.into_panic()).to_owned();
                Err(Error::RelayPanicked { message })
            }
            // Cancelled: the runtime is shutting down; nothing runs any more.
            Err(_) => Ok(()),
        }
    }
}

/// Aborts a spawned task when dropped.
pub(crate) struct AbortOnDrop(pub(crate) tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
