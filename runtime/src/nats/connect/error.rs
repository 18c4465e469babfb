//! [`ConnectError`]: why [`connect`](super::connect) gave up.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use super::settings::AuthMethod;

/// Connecting to NATS failed. Messages name the server (secrets masked) and the
/// authentication method; they never hold a password, token or seed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The settings contradict each other (several authentication methods, a password
    /// without a user, a client certificate without its key).
    #[error("invalid NATS connection settings: {0}")]
    Settings(String),
    /// A server URL does not parse.
    #[error("invalid NATS server URL {url}: {reason}")]
    InvalidUrl {
        /// The URL, secrets masked.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A file named by the settings (creds, seed, CA, certificate, key) cannot be read or
    /// holds no usable key.
    #[error("cannot use the {what} file {path}")]
    File {
        /// Which file: `creds`, `nkey seed`, `TLS CA`, `TLS certificate`, `TLS key`.
        what: &'static str,
        /// Its path.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The server refused the credentials (`Authorization Violation`), or they could not be
    /// used to sign the server's nonce.
    #[error("NATS server {server} refused the {method} credentials: {detail}")]
    Rejected {
        /// The servers, secrets masked.
        server: String,
        /// The method presented.
        method: AuthMethod,
        /// The client library's and server's words, secrets masked.
        detail: String,
    },
    /// The TLS handshake failed (untrusted certificate, server without TLS, missing client
    /// certificate).
    #[error("TLS with NATS server {server} failed (auth method: {method}): {detail}")]
    Tls {
        /// The servers, secrets masked.
        server: String,
        /// The authentication method that would have followed.
        method: AuthMethod,
        /// The client library's words, secrets masked.
        detail: String,
    },
    /// Another failure of the connection handshake (not retried).
    #[error("connecting to NATS server {server} ({method}) failed: {detail}")]
    Failed {
        /// The servers, secrets masked.
        server: String,
        /// The authentication method.
        method: AuthMethod,
        /// The client library's words, secrets masked.
        detail: String,
    },
    /// No server was reachable within [`ConnectSettings::max_wait`](super::ConnectSettings::max_wait).
    #[error(
        "NATS server {server} unreachable: {attempts} attempts in {waited:?} ({method}); last error: {detail}"
    )]
    Unreachable {
        /// The servers, secrets masked.
        server: String,
        /// The authentication method.
        method: AuthMethod,
        /// Attempts made.
        attempts: u32,
        /// Time spent.
        waited: Duration,
        /// The last attempt's error, secrets masked.
        detail: String,
    },
}

impl ConnectError {
    /// Whether the failure is about the credentials or TLS (settings, files, refusal,
    /// handshake), as opposed to a server that could not be reached.
    pub fn is_auth_or_tls(&self) -> bool {
        !matches!(self, Self::Unreachable { .. })
    }
}
