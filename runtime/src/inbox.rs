//! What the inboxes of every backend share (features `postgres`, `sqlite`): the outcome and
//! the error of handling a message once, and [`InboxBackend`], the trait over which
//! `process` and `Consumer::run_with_inbox` are written once for
//! [`postgres::Inbox`](crate::postgres) and [`sqlite::Inbox`](crate::sqlite).
//!
//! The contract, on either database: a handler runs once per consumer and message id; the id
//! is recorded in the transaction of the handler's own writes, so both commit or neither
//! does, and a redelivered message changes nothing the second time (`docs/delivery.md`).

mod backend;
mod process;

pub use backend::InboxBackend;
pub(crate) use backend::Records;
pub(crate) use process::process;

/// The database a [`TransactionalHandler`](crate::nats::TransactionalHandler) writes on when
/// it names none: `sqlx::Postgres` with feature `postgres` (a `PgConnection`), else
/// `sqlx::Sqlite`.
#[cfg(feature = "postgres")]
pub type DefaultDatabase = sqlx::Postgres;

/// The database a [`TransactionalHandler`](crate::nats::TransactionalHandler) writes on when
/// it names none: `sqlx::Postgres` with feature `postgres` (a `PgConnection`), else
/// `sqlx::Sqlite`.
#[cfg(not(feature = "postgres"))]
pub type DefaultDatabase = sqlx::Sqlite;

/// What an inbox's `process` did with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum InboxOutcome<R> {
    /// First time for this consumer: the handler ran and its writes committed together with
    /// the message id. Holds the handler's result.
    Processed(R),
    /// The consumer had already processed this message id (a redelivery, or another instance
    /// handling the same message): the handler did not run and nothing was written. Ack it.
    Duplicate,
}

impl<R> InboxOutcome<R> {
    /// Whether the message was a duplicate.
    pub fn is_duplicate(&self) -> bool {
        matches!(self, Self::Duplicate)
    }

    /// The handler's result, if it ran.
    pub fn processed(self) -> Option<R> {
        match self {
            Self::Processed(result) => Some(result),
            Self::Duplicate => None,
        }
    }
}

/// Why an inbox's `process` failed. In every case nothing was committed: the message id is
/// not recorded, so a redelivery of the message runs the handler again.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InboxError<E> {
    /// The handler returned an error; its writes were rolled back.
    #[error("handler of consumer `{consumer}` failed on message `{message_id}`")]
    Handler {
        /// The consumer name given to `process`.
        consumer: String,
        /// The message id.
        message_id: String,
        /// The handler's error.
        #[source]
        source: E,
    },
    /// The database failed (connection, the inbox insert, the commit). If the commit itself
    /// broke off, the outcome is unknown to the caller; a redelivery is then either processed
    /// (it had rolled back) or a duplicate (it had committed): never applied twice.
    #[error("inbox of consumer `{consumer}` failed on message `{message_id}`")]
    Database {
        /// The consumer name given to `process`.
        consumer: String,
        /// The message id.
        message_id: String,
        /// The database error.
        #[source]
        source: sqlx::Error,
    },
}
