//! [`PermissionViolations`]: the subjects the server refused to let a connection publish on,
//! as its `-ERR 'Permissions Violation for Publish to "<subject>"'` messages said.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_nats::ServerError;
use tokio::sync::Notify;
use tokio::time::Instant;

/// How the server starts the error it sends for a publish outside the user's permissions
/// (nats-server `client.go`: `Permissions Violation for Publish to %q`).
const PUBLISH_VIOLATION: &str = "Permissions Violation for Publish to ";

/// The publish permission violations the server reported on a connection, by subject.
///
/// NATS does not answer a publish the user may not make: the server sends the connection an
/// asynchronous `-ERR 'Permissions Violation for Publish to "<subject>"'` and drops the
/// message, so a JetStream publish on that subject only ever sees its ack time out, which
/// looks like a broker that is away. Connected with
/// [`connect_recording_violations`](super::connect_recording_violations), the connection's
/// event callback records these errors here, and a
/// [`JetStreamPublisher`](crate::nats::JetStreamPublisher) given the same recorder
/// ([`with_permission_violations`](crate::nats::JetStreamPublisher::with_permission_violations))
/// ends such a publish at once with
/// [`PublishError::NotPermitted`](crate::PublishError::NotPermitted), the server's text
/// included, instead of waiting for a timeout.
///
/// Cloning is cheap; clones share the record. Only the latest violation per subject is kept
/// (one entry per refused subject).
///
/// ```
/// use eventmap::nats::connect::PermissionViolations;
///
/// let violations = PermissionViolations::new();
/// let before = tokio::time::Instant::now();
/// assert!(violations.publish_refused_since("orders.created", before).is_none());
/// ```
#[derive(Debug, Clone, Default)]
pub struct PermissionViolations {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Subject -> (when recorded, the server's text).
    refused: Mutex<HashMap<String, (Instant, String)>>,
    /// Woken on every record.
    recorded: Notify,
}

impl PermissionViolations {
    /// An empty record.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `error` when it is a publish permission violation; returns whether it was.
    /// Called by the event callback of a connection made with
    /// [`connect_recording_violations`](super::connect_recording_violations).
    pub fn record(&self, error: &ServerError) -> bool {
        let ServerError::Other(text) = error else {
            return false;
        };
        let Some(subject) = refused_subject(text) else {
            return false;
        };
        self.inner
            .refused
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(subject.to_owned(), (Instant::now(), text.clone()));
        self.inner.recorded.notify_waiters();
        true
    }

    /// The server's text of the latest violation for a publish on `subject` recorded at or
    /// after `since`, if any.
    pub fn publish_refused_since(&self, subject: &str, since: Instant) -> Option<String> {
        self.inner
            .refused
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(subject)
            .filter(|(at, _)| *at >= since)
            .map(|(_, text)| text.clone())
    }

    /// Waits until a violation for a publish on `subject` is recorded at or after `since`
    /// and returns the server's text (pending forever when none comes: race it against the
    /// publish's ack).
    pub async fn publish_refused(&self, subject: &str, since: Instant) -> String {
        loop {
            // Registered before the check, so a record between the two is not missed.
            let recorded = self.inner.recorded.notified();
            if let Some(text) = self.publish_refused_since(subject, since) {
                return text;
            }
            recorded.await;
        }
    }
}

/// The subject of a `Permissions Violation for Publish to "<subject>"` error text.
fn refused_subject(text: &str) -> Option<&str> {
    text.strip_prefix(PUBLISH_VIOLATION)?
        .strip_prefix('"')?
        .strip_suffix('"')
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn violation(subject: &str) -> ServerError {
        ServerError::Other(format!("{PUBLISH_VIOLATION}\"{subject}\""))
    }

    #[test]
    fn only_publish_violations_are_recorded_by_subject() {
        let violations = PermissionViolations::new();
        let before = Instant::now();
        assert!(!violations.record(&ServerError::AuthorizationViolation));
        assert!(!violations.record(&ServerError::Other(
            "Permissions Violation for Subscription to \"orders.>\"".into()
        )));
        assert!(violations.record(&violation("orders.created")));
        assert_eq!(
            violations
                .publish_refused_since("orders.created", before)
                .as_deref(),
            Some("Permissions Violation for Publish to \"orders.created\"")
        );
        assert!(
            violations
                .publish_refused_since("orders.readied", before)
                .is_none()
        );
        let later = Instant::now() + Duration::from_secs(1);
        assert!(
            violations
                .publish_refused_since("orders.created", later)
                .is_none(),
            "a violation before the publish was sent is not its answer"
        );
    }

    #[tokio::test]
    async fn a_waiting_publish_is_woken_by_its_violation() {
        let violations = PermissionViolations::new();
        let since = Instant::now();
        let waiting = tokio::spawn({
            let violations = violations.clone();
            async move { violations.publish_refused("orders.created", since).await }
        });
        tokio::task::yield_now().await;
        violations.record(&violation("orders.other"));
        violations.record(&violation("orders.created"));
        let text = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("woken")
            .expect("task");
        assert!(text.ends_with("\"orders.created\""), "{text}");
    }
}
