//! One way to connect to NATS: [`ConnectSettings`] (servers, credentials, TLS; the `nats`
//! CLI's flag and environment names) and [`connect`].
//!
//! * While no server is reachable, [`connect`] waits and retries with a doubling delay
//!   (250 ms up to 5 s), logging each failed attempt with the next delay at `warn`; it stops
//!   after [`ConnectSettings::max_wait`] when one is set.
//! * Refused credentials, a failed TLS handshake and unreadable creds, seed or certificate
//!   files end it at once with a [`ConnectError`] naming the server and the method.
//! * Secrets never reach logs or errors: URLs are shown through [`crate::redact`], the user
//!   parts of the server URLs are taken out before async-nats sees them (it logs server
//!   addresses at debug level), and the client library's error texts are scrubbed of the
//!   settings' secrets.
//! * Client events (disconnections, `Permissions Violation` and other server errors, slow
//!   consumers) are logged with `tracing`; [`connect_recording_violations`] also records the
//!   publish permission violations ([`PermissionViolations`]), so that a publisher can tell a
//!   subject the server refuses from a timeout.
//!
//! With feature `cli`, `ConnectArgs` holds the same settings as clap arguments.
//!
//! ```no_run
//! use eventmap::nats::connect::{ConnectSettings, connect};
//!
//! # async fn run() -> Result<(), eventmap::nats::connect::ConnectError> {
//! let client = connect(&ConnectSettings::from_env()).await?;
//! let jetstream = eventmap::nats::async_nats::jetstream::new(client);
//! # Ok(())
//! # }
//! ```

#[cfg(feature = "cli")]
mod cli;
mod error;
mod events;
mod options;
mod settings;
mod violations;

use std::time::Duration;

use async_nats::{Client, ConnectErrorKind};
use tokio::time::Instant;

#[cfg(feature = "cli")]
pub use cli::ConnectArgs;
pub use error::ConnectError;
pub use settings::{AuthMethod, ConnectSettings, DEFAULT_CONNECTION_TIMEOUT, DEFAULT_URL};
pub use violations::PermissionViolations;

/// First delay between attempts while no server is reachable.
const FIRST_DELAY: Duration = Duration::from_millis(250);
/// Longest delay between attempts while no server is reachable.
const MAX_DELAY: Duration = Duration::from_secs(5);

/// Connects to the servers of `settings` and returns the client; once connected, async-nats
/// reconnects by itself after a disconnection (without limit).
///
/// While no server is reachable (connection refused, DNS failure, attempt timed out), it
/// waits and retries: 250 ms, then twice as long each time up to 5 s, each failure logged at
/// `warn` with the attempt number and the next delay.
///
/// Why a loop here rather than async-nats' `retry_on_initial_connect`: that option returns a
/// client at once and connects in the background, retrying *every* error, so refused
/// credentials or a TLS failure would hang the caller's first request forever instead of
/// failing; this loop retries only the errors of an unreachable server.
///
/// # Errors
///
/// At once: [`ConnectError::Settings`]/[`ConnectError::InvalidUrl`] for bad settings,
/// [`ConnectError::File`] for an unreadable creds, seed or TLS file, [`ConnectError::Rejected`]
/// when the server refuses the credentials, [`ConnectError::Tls`] when the handshake fails.
/// [`ConnectError::Unreachable`] once [`ConnectSettings::max_wait`] has passed.
pub async fn connect(settings: &ConnectSettings) -> Result<Client, ConnectError> {
    connect_with(settings, None).await
}

/// [`connect`], with the connection's publish permission violations recorded in
/// `violations` (besides being logged): give the same recorder to the
/// [`JetStreamPublisher`](crate::nats::JetStreamPublisher) of this client
/// ([`with_permission_violations`](crate::nats::JetStreamPublisher::with_permission_violations))
/// and a publish on a subject the user may not publish on fails at once with
/// [`PublishError::NotPermitted`](crate::PublishError::NotPermitted) instead of timing out.
///
/// # Errors
///
/// As [`connect`].
pub async fn connect_recording_violations(
    settings: &ConnectSettings,
    violations: &PermissionViolations,
) -> Result<Client, ConnectError> {
    connect_with(settings, Some(violations)).await
}

async fn connect_with(
    settings: &ConnectSettings,
    violations: Option<&PermissionViolations>,
) -> Result<Client, ConnectError> {
    let servers = settings.servers()?;
    let method = settings.credentials()?.method();
    let shown = settings.redacted_servers();
    let tls = settings.tls_requested() || servers.tls;
    tracing::info!(servers = %shown, method = %method, tls, "connecting to NATS");
    let started = Instant::now();
    let mut delay = FIRST_DELAY;
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let options = options::build(settings, violations).await?;
        let failure = match options.connect(servers.urls.clone()).await {
            Ok(client) => {
                tracing::info!(servers = %shown, method = %method, tls, attempts, "connected to NATS");
                return Ok(client);
            }
            Err(failure) => failure,
        };
        let detail = settings.scrub(&failure.to_string());
        if let Some(error) = classify(&failure, tls).error(&shown, method, &detail) {
            return Err(error);
        }
        let waited = started.elapsed();
        // With a bound, the last attempt is made at the bound, not before it.
        if let Some(max_wait) = settings.max_wait {
            delay = delay.min(max_wait.saturating_sub(waited));
        }
        if delay.is_zero() {
            return Err(ConnectError::Unreachable {
                server: shown,
                method,
                attempts,
                waited,
                detail,
            });
        }
        tracing::warn!(
            servers = %shown,
            attempt = attempts,
            next_delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            error = %detail,
            "NATS server unreachable; retrying"
        );
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(MAX_DELAY);
    }
}

/// What a failed attempt means for [`connect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// No server answered: retry.
    Unreachable,
    /// The credentials were refused or unusable.
    Rejected,
    /// The TLS handshake failed.
    Tls,
    /// A server URL is invalid.
    InvalidUrl,
    /// Anything else: not retried.
    Other,
}

impl Failure {
    /// The error that ends [`connect`], `None` for [`Failure::Unreachable`] (retried).
    fn error(self, server: &str, method: AuthMethod, detail: &str) -> Option<ConnectError> {
        let (server, detail) = (server.to_owned(), detail.to_owned());
        Some(match self {
            Self::Unreachable => return None,
            Self::Rejected => ConnectError::Rejected {
                server,
                method,
                detail,
            },
            Self::Tls => ConnectError::Tls {
                server,
                method,
                detail,
            },
            Self::InvalidUrl => ConnectError::InvalidUrl {
                url: server,
                reason: detail,
            },
            Self::Other => ConnectError::Failed {
                server,
                method,
                detail,
            },
        })
    }
}

/// Sorts an async-nats connect error. async-nats reports a failed TLS handshake (untrusted
/// certificate, a certificate the server requires and did not get) as an `Io` error holding
/// rustls' error, so `Io` errors are sorted by their `io::ErrorKind`: only the kinds of a
/// server that is not there (refused, reset, unreachable, timed out, closed) are retried.
fn classify(failure: &async_nats::ConnectError, tls: bool) -> Failure {
    match failure.kind() {
        ConnectErrorKind::TimedOut | ConnectErrorKind::Dns => Failure::Unreachable,
        ConnectErrorKind::Authentication | ConnectErrorKind::AuthorizationViolation => {
            Failure::Rejected
        }
        ConnectErrorKind::Tls => Failure::Tls,
        ConnectErrorKind::ServerParse => Failure::InvalidUrl,
        ConnectErrorKind::Io => match io_kind(failure) {
            Some(kind) if unreachable_kind(kind) => Failure::Unreachable,
            // No io::Error inside: async-nats' own "connection closed" and the like.
            None => Failure::Unreachable,
            Some(_) if tls => Failure::Tls,
            Some(_) => Failure::Other,
        },
        // MaxReconnects (not configured here) and kinds added later.
        _ => Failure::Other,
    }
}

/// The kind of the first `io::Error` in the source chain of `error`.
fn io_kind(error: &(dyn std::error::Error + 'static)) -> Option<std::io::ErrorKind> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(io) = error.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        current = error.source();
    }
    None
}

/// Whether an I/O error says that no server is there (yet).
fn unreachable_kind(kind: std::io::ErrorKind) -> bool {
    use std::io::ErrorKind::{
        AddrNotAvailable, BrokenPipe, ConnectionAborted, ConnectionRefused, ConnectionReset,
        HostUnreachable, NetworkUnreachable, NotConnected, TimedOut, UnexpectedEof,
    };
    matches!(
        kind,
        ConnectionRefused
            | ConnectionReset
            | ConnectionAborted
            | NotConnected
            | AddrNotAvailable
            | HostUnreachable
            | NetworkUnreachable
            | TimedOut
            | BrokenPipe
            | UnexpectedEof
    )
}
