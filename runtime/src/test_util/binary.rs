//! Tests of binaries that connect to NATS through `eventmap::nats::connect`: [`Captured`]
//! runs a process and keeps everything it writes, [`check_help`] and [`check_connection`]
//! run the checks every such binary must pass.

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};

use super::LocalServer;

/// How long a binary may take to connect, or to fail on refused credentials.
const BOUND: Duration = Duration::from_secs(20);

/// The password of the server of [`check_connection`].
const PASSWORD: &str = "svc-pw-Zq7x3";
/// A wrong password tried by [`check_connection`].
const WRONG_PASSWORD: &str = "wrong-pw-Kd82v";
/// A password put into `DATABASE_URL` by [`check_connection`] (the local server's trust
/// authentication ignores it).
const DATABASE_PASSWORD: &str = "pg-pw-Lm40c";

/// A running process whose stdout and stderr are collected into one text.
#[derive(Debug)]
pub struct Captured {
    child: Child,
    text: Arc<Mutex<String>>,
}

impl Captured {
    /// Spawns `command` with stdout and stderr piped (stdin closed); killed on drop.
    ///
    /// # Errors
    ///
    /// When the process cannot be spawned.
    pub fn spawn(command: &mut Command) -> std::io::Result<Self> {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let text = Arc::new(Mutex::new(String::new()));
        if let Some(stdout) = child.stdout.take() {
            tokio::spawn(collect(stdout, text.clone()));
        }
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(collect(stderr, text.clone()));
        }
        Ok(Self { child, text })
    }

    /// Everything written so far.
    pub fn text(&self) -> String {
        self.text.lock().map(|t| t.clone()).unwrap_or_default()
    }

    /// Waits until the output contains `needle`.
    ///
    /// # Errors
    ///
    /// The output so far, when `needle` did not appear within `timeout` or the process
    /// exited first.
    pub async fn wait_for(&mut self, needle: &str, timeout: Duration) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.text().contains(needle) {
                return Ok(());
            }
            let exited = matches!(self.child.try_wait(), Ok(Some(_)));
            if exited || tokio::time::Instant::now() >= deadline {
                // Let the readers catch up with the last lines.
                tokio::time::sleep(Duration::from_millis(200)).await;
                if self.text().contains(needle) {
                    return Ok(());
                }
                return Err(format!(
                    "{needle:?} not written within {timeout:?}{}; output:\n{}",
                    if exited { " (the process exited)" } else { "" },
                    self.text()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for the process to exit.
    ///
    /// # Errors
    ///
    /// The output so far, when it still runs after `timeout` (it is then killed).
    pub async fn wait_exit(&mut self, timeout: Duration) -> Result<ExitStatus, String> {
        match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(Ok(status)) => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                Ok(status)
            }
            Ok(Err(err)) => Err(format!("cannot wait for the process: {err}")),
            Err(_) => {
                let _ = self.child.kill().await;
                Err(format!(
                    "still running after {timeout:?}; output:\n{}",
                    self.text()
                ))
            }
        }
    }

    /// Kills the process and returns its output.
    pub async fn stop(mut self) -> String {
        let _ = self.child.kill().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        self.text()
    }
}

async fn collect(mut pipe: impl AsyncRead + Unpin, text: Arc<Mutex<String>>) {
    let mut buffer = [0u8; 4096];
    while let Ok(read) = pipe.read(&mut buffer).await {
        if read == 0 {
            break;
        }
        if let Ok(mut text) = text.lock() {
            text.push_str(&String::from_utf8_lossy(&buffer[..read]));
        }
    }
}

/// Runs `binary <args> --help` and checks that it lists the NATS connection settings
/// (`--server`, `--user`, `--password`, `--token`, `--creds`, `--nkey`, `--tlsca`,
/// `--tlscert`, `--tlskey`, `--connect-wait` and `NATS_URL`).
///
/// # Errors
///
/// What is missing, with the help text.
pub async fn check_help(binary: &Path, args: &[&str]) -> Result<(), String> {
    let output = Command::new(binary)
        .args(args)
        .arg("--help")
        .env_remove("NATS_URL")
        .output()
        .await
        .map_err(|err| format!("cannot run {}: {err}", binary.display()))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let missing: Vec<&str> = [
        "--server",
        "--user",
        "--password",
        "--token",
        "--creds",
        "--nkey",
        "--tlsca",
        "--tlscert",
        "--tlskey",
        "--connect-wait",
        "NATS_URL",
    ]
    .into_iter()
    .filter(|flag| !text.contains(flag))
    .collect();
    if output.status.success() && missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} {args:?} --help ({}) lacks {missing:?}:\n{text}",
            binary.display(),
            output.status
        ))
    }
}

/// What [`check_connection`] saw: the output of each run.
#[derive(Debug, Default)]
pub struct ConnectionChecks {
    /// Runs and their outputs, in order.
    pub runs: Vec<(String, String)>,
}

/// Runs `binary <args>` (with `env`) against a nats-server that requires user `svc` and a
/// password, with `RUST_LOG=debug` and a password in `DATABASE_URL`, and checks that:
///
/// 1. with `--user`/`--password` it logs `connected to NATS`;
/// 2. with the user part in `NATS_URL` it does too;
/// 3. with a wrong password it exits non-zero within 20 s, naming the server and
///    `user/password`;
/// 4. started while the server is down, it logs that it is retrying, and connects once the
///    server is up;
/// 5. no output of any run holds the password, the wrong password or the database password.
///
/// `args` go before the connection flags (a subcommand, `--schema`, ...). `database_url` is
/// the Postgres URL to give the binary, without a password (one is added).
///
/// # Errors
///
/// The first failed check, with the output of the run.
pub async fn check_connection(
    binary: &Path,
    args: &[&str],
    database_url: &str,
) -> Result<ConnectionChecks, String> {
    let config =
        format!("authorization {{ users: [ {{ user: svc, password: {PASSWORD:?} }} ] }}\n");
    let mut server = LocalServer::start_with_config(&config)
        .await
        .map_err(|err| err.to_string())?;
    let address = format!("127.0.0.1:{}", server.port());
    let database_url = with_password(database_url);
    let mut checks = ConnectionChecks::default();
    let command = |flags: &[&str], nats_url: Option<String>| {
        let mut command = Command::new(binary);
        command
            .args(args)
            .args(flags)
            .env("RUST_LOG", "debug")
            .env("DATABASE_URL", &database_url)
            .env_remove("NATS_USER")
            .env_remove("NATS_PASSWORD");
        match nats_url {
            Some(url) => command.env("NATS_URL", url),
            None => command.env_remove("NATS_URL"),
        };
        command
    };
    let server_flag = format!("nats://{address}");
    let spawn = |mut command: Command| {
        Captured::spawn(&mut command)
            .map_err(|err| format!("cannot run {}: {err}", binary.display()))
    };

    // 1. Flags.
    let mut run = spawn(command(
        &[
            "--server",
            &server_flag,
            "--user",
            "svc",
            "--password",
            PASSWORD,
        ],
        None,
    ))?;
    run.wait_for("connected to NATS", BOUND).await?;
    checks.runs.push(("flags".into(), run.stop().await));

    // 2. The URL's user part, from the environment.
    let mut run = spawn(command(
        &[],
        Some(format!("nats://svc:{PASSWORD}@{address}")),
    ))?;
    run.wait_for("connected to NATS", BOUND).await?;
    checks
        .runs
        .push(("NATS_URL user part".into(), run.stop().await));

    // 3. A wrong password.
    let mut run = spawn(command(
        &[
            "--server",
            &server_flag,
            "--user",
            "svc",
            "--password",
            WRONG_PASSWORD,
        ],
        None,
    ))?;
    let status = run.wait_exit(BOUND).await?;
    let text = run.stop().await;
    if status.success() {
        return Err(format!("exited 0 with a wrong password; output:\n{text}"));
    }
    for expected in [address.as_str(), "refused the user/password credentials"] {
        if !text.contains(expected) {
            return Err(format!(
                "the wrong password's error lacks {expected:?}; output:\n{text}"
            ));
        }
    }
    checks.runs.push(("wrong password".into(), text));

    // 4. Server down at start.
    server.stop().await.map_err(|err| err.to_string())?;
    let mut run = spawn(command(
        &[
            "--server",
            &server_flag,
            "--user",
            "svc",
            "--password",
            PASSWORD,
        ],
        None,
    ))?;
    run.wait_for("NATS server unreachable; retrying", BOUND)
        .await?;
    server.restart().await.map_err(|err| err.to_string())?;
    run.wait_for("connected to NATS", BOUND).await?;
    checks
        .runs
        .push(("server down at start".into(), run.stop().await));

    // 5. No secret anywhere.
    for (name, text) in &checks.runs {
        for secret in [PASSWORD, WRONG_PASSWORD, DATABASE_PASSWORD] {
            if text.contains(secret) {
                return Err(format!("run {name:?} wrote the secret {secret:?}:\n{text}"));
            }
        }
    }
    Ok(checks)
}

/// `DATABASE_URL`, or the local server's `postgres` database
/// (`postgres://postgres@127.0.0.1:5432/postgres`) when it is unset or empty.
pub fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// `database_url` with the user's password set to [`DATABASE_PASSWORD`] (unchanged when it
/// does not parse).
fn with_password(database_url: &str) -> String {
    match url::Url::parse(database_url) {
        Ok(mut url) => {
            if url.username().is_empty() {
                let _ = url.set_username("postgres");
            }
            let _ = url.set_password(Some(DATABASE_PASSWORD));
            url.to_string()
        }
        Err(_) => database_url.to_owned(),
    }
}
