//! [`shutdown_signal`]: the future that services pass as the `shutdown` of a consumer or a
//! server, so that Ctrl-C and `kill` stop them gracefully.

/// Completes when the process receives SIGINT (Ctrl-C) or SIGTERM (what `kill`, systemd and
/// container runtimes send). Where SIGTERM cannot be listened for (non-Unix, or the signal
/// driver failed), completes on Ctrl-C only; where neither can, never completes.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    result = tokio::signal::ctrl_c() => {
                        if result.is_err() {
                            terminate.recv().await;
                        }
                    }
                    _ = terminate.recv() => {}
                }
                return;
            }
            Err(err) => {
                tracing::warn!(error = %crate::error::ErrorChain(&err), "cannot listen for SIGTERM; stopping on Ctrl-C only");
            }
        }
    }
    if let Err(err) = tokio::signal::ctrl_c().await {
        tracing::warn!(error = %crate::error::ErrorChain(&err), "cannot listen for Ctrl-C; no shutdown signal");
        std::future::pending::<()>().await;
    }
}
