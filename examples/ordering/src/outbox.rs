//! The event store backends of the example (features `postgres`, `sqlite`): chosen by the
//! scheme of `DATABASE_URL` (`postgres://...` or `sqlite://path/to/file.db`), and what the
//! demo and `serve` do with the relay of either ([`OutboxRelay`], [`drain`]).

use std::future::Future;
use std::time::Duration;

// The types shared by both backends are one type under either path.
#[cfg(not(feature = "sqlite"))]
pub use eventmap::postgres::{Error, EventRegistry, RegistryError, RunningRelay};
#[cfg(feature = "sqlite")]
pub use eventmap::sqlite::{Error, EventRegistry, RegistryError, RunningRelay};

/// The event store a `DATABASE_URL` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Database {
    /// `postgres://` or `postgresql://`.
    Postgres,
    /// `sqlite://path/to/file.db` (or `sqlite:file.db`).
    Sqlite,
}

impl Database {
    /// The backend of `url`, by its scheme; `None` for any other scheme.
    pub fn of_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else {
            None
        }
    }

    /// The feature of this crate that backend needs.
    pub fn feature(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Sqlite => "sqlite",
        }
    }
}

/// An outbox relay of either backend, as the demo and `serve` drive it.
pub trait OutboxRelay {
    /// Unpublished rows of the outbox.
    fn backlog(&self) -> impl Future<Output = Result<u64, Error>> + Send;
    /// Runs the relay on a task of its own.
    fn spawn(&self) -> RunningRelay;
}

#[cfg(feature = "postgres")]
impl OutboxRelay for eventmap::postgres::Relay {
    fn backlog(&self) -> impl Future<Output = Result<u64, Error>> + Send {
        eventmap::postgres::Relay::backlog(self)
    }

    fn spawn(&self) -> RunningRelay {
        eventmap::postgres::Relay::spawn(self)
    }
}

#[cfg(feature = "sqlite")]
impl OutboxRelay for eventmap::sqlite::Relay {
    fn backlog(&self) -> impl Future<Output = Result<u64, Error>> + Send {
        eventmap::sqlite::Relay::backlog(self)
    }

    fn spawn(&self) -> RunningRelay {
        eventmap::sqlite::Relay::spawn(self)
    }
}

/// Waits (at most `limit`) until the relay has published the whole outbox; returns the rows
/// left (0 when drained).
///
/// # Errors
/// The backlog cannot be read.
pub async fn drain(relay: &impl OutboxRelay, limit: Duration) -> Result<u64, Error> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match relay.backlog().await? {
            0 => return Ok(0),
            left if tokio::time::Instant::now() >= deadline => return Ok(left),
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_chooses_the_backend() {
        assert_eq!(Database::of_url("sqlite://x/o.db"), Some(Database::Sqlite));
        assert_eq!(
            Database::of_url("postgres://u@h/db"),
            Some(Database::Postgres)
        );
        assert_eq!(
            Database::of_url("postgresql://u@h/db"),
            Some(Database::Postgres)
        );
        assert_eq!(Database::of_url("mysql://u@h/db"), None);
    }
}
