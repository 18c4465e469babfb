//! [`RelayArgs`]: the relay's settings as clap arguments, and [`RelayArgs::run`], the relay
//! process shared by the `eventmap-relay` binary and `eventmap-ops relay` (feature `cli`).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};

use super::Relay;
use crate::nats::JetStreamPublisher;
use crate::nats::connect::{
    ConnectError, ConnectSettings, PermissionViolations, connect_recording_violations,
};
use crate::postgres::DEFAULT_SCHEMA;
use crate::postgres::{
    DEFAULT_NO_STREAM_GRACE, DEFAULT_PARK_AFTER, DEFAULT_RETENTION, RelayConfig,
};
use crate::redact::redact_url;

/// Why [`RelayArgs::run`] (or [`connect_pool`]) could not run the relay.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RelayRunError {
    /// `DATABASE_URL` is not a PostgreSQL URL (a `sqlite:` one, say): the relay binary and
    /// the operations commands on the database run on PostgreSQL only (a SQLite service runs
    /// its relay in its own process, `eventmap::sqlite::Relay`).
    #[error(
        "DATABASE_URL {url} is not a PostgreSQL URL (postgres://...): this command runs on \
         PostgreSQL only{hint}"
    )]
    NotPostgres {
        /// The URL, redacted.
        url: String,
        /// What to do instead, when the URL is SQLite's.
        hint: &'static str,
    },
    /// `DATABASE_URL` does not parse (shown with its password redacted).
    #[error("invalid DATABASE_URL {url}")]
    InvalidDatabaseUrl {
        /// The URL, redacted.
        url: String,
        /// The parse error.
        #[source]
        source: sqlx::Error,
    },
    /// PostgreSQL refused or could not be reached.
    #[error("cannot connect to PostgreSQL at {url}")]
    Postgres {
        /// The URL, redacted.
        url: String,
        /// The connection error.
        #[source]
        source: sqlx::Error,
    },
    /// NATS refused the connection (credentials, TLS).
    #[error(transparent)]
    Nats(#[from] ConnectError),
    /// The relay stopped on an error (migrations, schema name).
    #[error(transparent)]
    Relay(#[from] super::super::Error),
}

/// The relay's settings (everything but the database URL and the NATS connection, which
/// the binary holds), with flags and environment variables; flatten it into a binary's
/// `Parser` next to the database URL and
/// [`ConnectArgs`](crate::nats::connect::ConnectArgs).
///
/// ```
/// use clap::Parser;
/// use eventmap::postgres::RelayArgs;
///
/// #[derive(Parser)]
/// struct Cli {
///     #[command(flatten)]
///     relay: RelayArgs,
/// }
///
/// let cli = Cli::parse_from(["relay", "--schema", "ordering", "--batch", "100"]);
/// assert_eq!(cli.relay.config().schema, "ordering");
/// assert_eq!(cli.relay.config().batch_size, 100);
/// ```
#[derive(Debug, Clone, clap::Args)]
#[command(about = None, long_about = None)]
pub struct RelayArgs {
    /// Schema of the outbox
    #[arg(long, env = "EVENTMAP_SCHEMA", default_value = DEFAULT_SCHEMA)]
    pub schema: String,
    /// Comma-separated JetStream streams whose duplicate window is checked against the
    /// relay's retry horizon at start
    #[arg(
        long,
        env = "EVENTMAP_STREAMS",
        value_delimiter = ',',
        default_value = ""
    )]
    pub streams: Vec<String>,
    /// Rows per round
    #[arg(long, env = "EVENTMAP_RELAY_BATCH", default_value_t = 500)]
    pub batch: u32,
    /// Publishes awaiting their ack at once
    #[arg(long, env = "EVENTMAP_RELAY_IN_FLIGHT", default_value_t = 256)]
    pub in_flight: usize,
    /// Polling interval without notifications, ms
    #[arg(long, env = "EVENTMAP_RELAY_POLL_MS", default_value_t = 1000)]
    pub poll_ms: u64,
    /// Backoff cap while the broker is away, ms
    #[arg(long, env = "EVENTMAP_RELAY_MAX_BACKOFF_MS", default_value_t = 10_000)]
    pub max_backoff_ms: u64,
    /// Keep published rows (marked published, with their stream and sequence) instead of
    /// deleting each in the round that publishes it; --retention-secs then purges them (the
    /// variable takes 1/0, true/false, yes/no, on/off)
    #[arg(
        long,
        env = "EVENTMAP_RELAY_KEEP_PUBLISHED",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub keep_published: bool,
    /// Never send rows in ordered batches (NATS fast-ingest batches, nats-server >= 2.14,
    /// streams with allow_batched): one message per aggregate in flight, as before (the
    /// variable takes 1/0, true/false, yes/no, on/off)
    #[arg(
        long,
        env = "EVENTMAP_RELAY_NO_BATCH_PUBLISH",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub no_batch_publish: bool,
    /// Kept published rows (--keep-published, or rows an older relay marked) older than this
    /// many seconds are deleted (every minute, 1,000 rows per statement); 0 keeps them
    #[arg(long, env = "EVENTMAP_RELAY_RETENTION_SECS", default_value_t = DEFAULT_RETENTION.as_secs())]
    pub retention_secs: u64,
    /// Refusals (a message over the server's max_payload, an invalid message, no stream for
    /// the subject, a subject the user may not publish on) after which a row is parked: no longer sent, its aggregate's later rows
    /// waiting behind it until `eventmap-ops outbox retry|skip`; 0 never parks
    #[arg(long, env = "EVENTMAP_RELAY_PARK_AFTER", default_value_t = DEFAULT_PARK_AFTER)]
    pub park_after: u32,
    /// A row refused with "no responders" (no stream, or a cluster electing the stream's
    /// leader) is parked only once refused for this many seconds
    #[arg(long, env = "EVENTMAP_RELAY_NO_STREAM_GRACE_SECS", default_value_t = DEFAULT_NO_STREAM_GRACE.as_secs())]
    pub no_stream_grace_secs: u64,
}

impl RelayArgs {
    /// The [`RelayConfig`] these arguments describe (backoff from 100 ms up to
    /// `--max-backoff-ms`; `--retention-secs 0` is no retention).
    pub fn config(&self) -> RelayConfig {
        RelayConfig::default()
            .schema(self.schema.clone())
            .batch_size(self.batch)
            .max_in_flight(self.in_flight)
            .poll_interval(Duration::from_millis(self.poll_ms))
            .backoff(
                Duration::from_millis(100),
                Duration::from_millis(self.max_backoff_ms),
            )
            .delete_published(!self.keep_published)
            .batch_publish(!self.no_batch_publish)
            .retention((self.retention_secs > 0).then(|| Duration::from_secs(self.retention_secs)))
            .parking(
                self.park_after,
                Duration::from_secs(self.no_stream_grace_secs),
            )
    }

    /// The streams of `--streams`, trimmed, empty names left out.
    pub fn stream_names(&self) -> Vec<String> {
        self.streams
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// Runs the relay until `shutdown` completes: connects to PostgreSQL at `database_url`
    /// (a pool of 5: three overlapped rounds, `LISTEN` and the retention purge) and to NATS with `nats` (waiting while the broker is away, as
    /// [`connect`](crate::nats::connect::connect) does; the connection's publish permission
    /// violations recorded, so that a subject the user may not publish on is refused and
    /// parked like an oversized message, see [`PublishError::NotPermitted`](crate::PublishError::NotPermitted)),
    /// checks the duplicate windows of `--streams` (at most 10 s; a timeout is logged), then
    /// [`Relay::run`].
    ///
    /// # Errors
    ///
    /// [`RelayRunError`]: a bad or unreachable database, refused NATS credentials, a failed
    /// migration.
    pub async fn run(
        &self,
        database_url: &str,
        nats: &ConnectSettings,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), RelayRunError> {
        let pool = connect_pool(database_url, 5).await?;
        // Waits while the broker is away (and says so); once connected, the client keeps
        // reconnecting and the relay keeps retrying.
        // The connection's permission violations are recorded, so that a subject the user may
        // not publish on is a refusal (parked after `park_after` tries), not a timeout
        // retried forever.
        let violations = PermissionViolations::new();
        let client = connect_recording_violations(nats, &violations).await?;
        let jetstream = async_nats::jetstream::new(client);
        let publisher =
            JetStreamPublisher::new(jetstream.clone()).with_permission_violations(violations);
        let relay = Relay::new(pool, Arc::new(publisher), self.config()).await?;
        let streams = self.stream_names();
        if !streams.is_empty() {
            let check = relay.check_duplicate_windows(&jetstream, &streams);
            if tokio::time::timeout(Duration::from_secs(10), check)
                .await
                .is_err()
            {
                tracing::warn!("duplicate window check timed out (broker away?)");
            }
        }
        relay.run(shutdown).await?;
        Ok(())
    }
}

/// Refuses a `database_url` whose scheme is not PostgreSQL's (`postgres:`, `postgresql:`, as
/// sqlx reads them): sqlx would otherwise try the host it parses out of, say,
/// `sqlite://orders.db` as a PostgreSQL server, for as long as the acquire timeout.
fn check_postgres_url(database_url: &str) -> Result<(), RelayRunError> {
    let scheme = database_url
        .split_once(':')
        .map(|(scheme, _)| scheme.to_ascii_lowercase());
    if matches!(scheme.as_deref(), Some("postgres" | "postgresql")) {
        return Ok(());
    }
    let hint = if scheme.as_deref() == Some("sqlite") {
        "; a SQLite service relays its outbox in its own process (eventmap::sqlite::Relay)"
    } else {
        ""
    };
    Err(RelayRunError::NotPostgres {
        url: redact_url(database_url),
        hint,
    })
}

/// A pool of at most `max_connections` to `database_url` (the `sslmode`s of
/// [`connect_options`](crate::postgres::connect_options)), 10 s to acquire a connection.
///
/// One connection is opened first, alone: a server that refuses or cannot be reached fails
/// at once with the reason (`Connection refused`, a bad password, a missing database), where
/// the pool would retry for its whole acquire timeout and then say only "pool timed out".
///
/// # Errors
///
/// [`RelayRunError::NotPostgres`] at once when the URL's scheme is not `postgres:` or
/// `postgresql:` (before any connection is tried), [`RelayRunError::InvalidDatabaseUrl`] or
/// [`RelayRunError::Postgres`], the URL redacted.
pub async fn connect_pool(
    database_url: &str,
    max_connections: u32,
) -> Result<PgPool, RelayRunError> {
    check_postgres_url(database_url)?;
    let options = crate::postgres::connect_options(database_url).map_err(|source| {
        RelayRunError::InvalidDatabaseUrl {
            url: redact_url(database_url),
            source,
        }
    })?;
    let unreachable = |source| RelayRunError::Postgres {
        url: redact_url(database_url),
        source,
    };
    let probe = <sqlx::PgConnection as sqlx::Connection>::connect_with(&options)
        .await
        .map_err(unreachable)?;
    // Closed politely; a failure to close does not matter (the pool opens its own).
    let _ = sqlx::Connection::close(probe).await;
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
        .map_err(unreachable)
}
