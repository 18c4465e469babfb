//! Errors shared by the modules of this crate.
//!
//! [`BoxError`] is what handlers, publishers and transports return when the error type is
//! theirs to choose. It lives here, below every other module, so that the modules that use it
//! ([`dispatcher`](crate::dispatcher), [`integration`](crate::integration),
//! [`publisher`](crate::publisher), `nats`, `postgres`) do not import each other for it. The
//! error types of one module (e.g. [`PublishError`](crate::PublishError)) stay in that module.

/// A boxed error that can cross threads; what handlers return.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;
