//! Errors shared by the modules of this crate.
//!
//! [`BoxError`] is what handlers, publishers and transports return when the error type is
//! theirs to choose. It lives here, below every other module, so that the modules that use it
//! ([`dispatcher`](crate::dispatcher), [`integration`](crate::integration),
//! [`publisher`](crate::publisher), `nats`, `postgres`) do not import each other for it. The
//! error types of one module (e.g. [`PublishError`](crate::PublishError)) stay in that module.

/// A boxed error that can cross threads; what handlers return.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An error and its causes on one line, `: `-separated: how this crate's binaries, logs,
/// dead letters and outbox rows show an error.
///
/// The error types of this crate keep their `Display` to what failed and give the cause
/// through [`source()`](std::error::Error::source) only (the Rust API guidelines' rule), so
/// printing `{err}` alone shows the summary and a chain printer (this, anyhow's `{:#}`,
/// miette) shows each cause once. A cause whose text the line already ends with is skipped:
/// some errors of other crates repeat their source in their own message.
///
/// ```
/// # use eventmap::error::ErrorChain;
/// let io = std::io::Error::other("disk full");
/// let err = eventmap::StoreError::Backend(Box::new(io));
/// assert_eq!(err.to_string(), "store backend failed");
/// assert_eq!(ErrorChain(&err).to_string(), "store backend failed: disk full");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut text = self.0.to_string();
        let mut source = self.0.source();
        while let Some(cause) = source {
            let cause_text = cause.to_string();
            if !text.ends_with(&cause_text) {
                text.push_str(": ");
                text.push_str(&cause_text);
            }
            source = cause.source();
        }
        f.write_str(&text)
    }
}

/// [`ErrorChain`] of `error` as a `String`.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    ErrorChain(error).to_string()
}

/// The text of a panic payload (a `&str` or `String` message, else `(no message)`).
#[cfg(any(feature = "nats", feature = "postgres", feature = "sqlite"))]
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `Display` of `error`'s chain, outermost first, each on its own (no skipping).
    fn displays(error: &(dyn std::error::Error + 'static)) -> Vec<String> {
        std::iter::successors(Some(error), |e| e.source())
            .map(ToString::to_string)
            .collect()
    }

    /// `error`'s chain shows each cause's text exactly once: no `Display` repeats its
    /// source's, so the chain printer has nothing to skip.
    fn assert_each_cause_once(error: &(dyn std::error::Error + 'static), causes: &[&str]) {
        let levels = displays(error);
        let chain = error_chain(error);
        assert_eq!(chain, levels.join(": "), "nothing skipped");
        for cause in causes {
            assert_eq!(chain.matches(cause).count(), 1, "`{cause}` in {chain}");
        }
        for (outer, inner) in levels.iter().zip(&levels[1..]) {
            assert!(
                !outer.contains(inner.as_str()),
                "`{outer}` repeats `{inner}`"
            );
        }
    }

    #[test]
    fn a_dispatch_failure_prints_each_cause_once() {
        let broker = crate::PublishError::Broker {
            subject: "ordering.order.OrderCreatedEvent".into(),
            source: "connection reset by peer".into(),
        };
        let integration = crate::IntegrationError::Publish {
            integration_event: "OrderCreatedEvent",
            integration_event_id: uuid::Uuid::nil(),
            source: broker,
        };
        let dispatch = crate::DispatchError {
            event_name: "OrderCreated".into(),
            event_id: uuid::Uuid::nil(),
            source: Box::new(integration),
        };
        let err = crate::StoreError::Dispatch(dispatch);
        assert_eq!(
            err.to_string(),
            "saved, but dispatching the saved events failed"
        );
        assert_eq!(
            error_chain(&err),
            "saved, but dispatching the saved events failed: \
             handler for domain event `OrderCreated` (00000000-0000-0000-0000-000000000000) failed: \
             cannot publish `OrderCreatedEvent` (00000000-0000-0000-0000-000000000000): \
             broker failed to store a message on `ordering.order.OrderCreatedEvent`: \
             connection reset by peer"
        );
        assert_each_cause_once(
            &err,
            &[
                "dispatching the saved events failed",
                "handler for domain event `OrderCreated`",
                "cannot publish `OrderCreatedEvent`",
                "broker failed to store",
                "connection reset by peer",
            ],
        );
    }

    #[cfg(any(feature = "postgres", feature = "sqlite"))]
    #[test]
    fn a_store_backend_failure_prints_each_cause_once() {
        let database = crate::sql::Error::Database(sqlx::Error::PoolTimedOut);
        let pool = sqlx::Error::PoolTimedOut.to_string();
        let err = crate::StoreError::Backend(Box::new(database));
        assert_eq!(err.to_string(), "store backend failed");
        assert_eq!(
            error_chain(&err),
            format!("store backend failed: database error: {pool}")
        );
        assert_each_cause_once(&err, &["store backend failed", "database error", &pool]);
    }

    #[test]
    fn a_cause_that_repeats_its_source_is_shown_once() {
        // Errors of other crates may end their message with their source's.
        #[derive(Debug, thiserror::Error)]
        #[error("request failed: {0}")]
        struct Repeats(#[source] std::io::Error);
        let err = Repeats(std::io::Error::other("timed out"));
        assert_eq!(error_chain(&err), "request failed: timed out");
    }
}
