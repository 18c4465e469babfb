//! The duplicate windows of the streams checked against a relay's retry horizon (feature
//! `nats`, either backend): a re-sent message is dropped by JetStream only within the window.

use std::time::Duration;

/// The result of checking one stream's duplicate window ([`check_duplicate_windows`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowCheck {
    /// Stream name.
    pub stream: String,
    /// The stream's duplicate window, or why it could not be read.
    pub duplicate_window: Result<Duration, String>,
    /// The retry horizon it was compared with.
    pub retry_horizon: Duration,
}

impl WindowCheck {
    /// Whether the duplicate window is known and at least the retry horizon.
    pub fn covers(&self) -> bool {
        matches!(self.duplicate_window, Ok(window) if window >= self.retry_horizon)
    }
}

/// Reads each stream's duplicate window and compares it with `retry_horizon`
/// ([`RelayConfig::retry_horizon`](super::RelayConfig::retry_horizon)): logs at `info` when the
/// window covers it, at `warn` when it does not (a retried message may then be stored twice) or
/// cannot be read. Never fails: a broker that is away is reported per stream.
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
