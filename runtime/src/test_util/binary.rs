//! Tests of binaries that connect to NATS through `eventmap::nats::connect` (feature
//! `test-util-auth`): [`Captured`]
//! runs a process and keeps everything it writes, [`check_help`] and [`check_connection`]
//! run the checks every such binary must pass.

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};

use super::LocalServer;
use super::auth::NkeyUser;

/// How long a binary may take to connect, or to fail on refused credentials.
const BOUND: Duration = Duration::from_secs(20);

/// The password of the server of [`check_connection`].
const PASSWORD: &str = "svc-pw-Zq7x3";
/// A wrong password tried by [`check_connection`].
const WRONG_PASSWORD: &str = "wrong-pw-Kd82v";
/// The token of the token server of [`check_connection`].
const TOKEN: &str = "tok-Rw93kq1";
/// A wrong token tried by [`check_connection`].
const WRONG_TOKEN: &str = "badtok-Pz61m";
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
    /// Runs (what was tried) and their outputs, in order.
    pub runs: Vec<(String, String)>,
}

/// Runs `binary <args> <connection flags>` with `RUST_LOG=debug` and a password in
/// `DATABASE_URL`, and records each run's output.
struct Runner<'a> {
    binary: &'a Path,
    args: &'a [&'a str],
    database_url: String,
    checks: ConnectionChecks,
}

impl Runner<'_> {
    fn spawn(&self, flags: &[&str], nats_url: Option<&str>) -> Result<Captured, String> {
        let mut command = Command::new(self.binary);
        command
            .args(self.args)
            .args(flags)
            .env("RUST_LOG", "debug")
            .env("DATABASE_URL", &self.database_url);
        for name in [
            "NATS_URL",
            "NATS_USER",
            "NATS_PASSWORD",
            "NATS_TOKEN",
            "NATS_NKEY",
            "NATS_CREDS",
        ] {
            command.env_remove(name);
        }
        if let Some(url) = nats_url {
            command.env("NATS_URL", url);
        }
        Captured::spawn(&mut command)
            .map_err(|err| format!("cannot run {}: {err}", self.binary.display()))
    }

    /// The run logs `connected to NATS` within [`BOUND`].
    async fn connects(
        &mut self,
        name: &str,
        flags: &[&str],
        nats_url: Option<&str>,
    ) -> Result<(), String> {
        let mut run = self.spawn(flags, nats_url)?;
        run.wait_for("connected to NATS", BOUND)
            .await
            .map_err(|err| format!("{name}: {err}"))?;
        self.checks.runs.push((name.into(), run.stop().await));
        Ok(())
    }

    /// The run exits non-zero within [`BOUND`], writing each of `expected`.
    async fn is_refused(
        &mut self,
        name: &str,
        flags: &[&str],
        expected: &[&str],
    ) -> Result<(), String> {
        let mut run = self.spawn(flags, None)?;
        let status = run
            .wait_exit(BOUND)
            .await
            .map_err(|err| format!("{name}: {err}"))?;
        let text = run.stop().await;
        if status.success() {
            return Err(format!("{name}: exited 0; output:\n{text}"));
        }
        if let Some(missing) = expected.iter().find(|e| !text.contains(**e)) {
            return Err(format!(
                "{name}: the error lacks {missing:?}; output:\n{text}"
            ));
        }
        self.checks.runs.push((name.into(), text));
        Ok(())
    }
}

/// Runs `binary <args>` against nats-servers with authentication, with `RUST_LOG=debug` and
/// a password in `DATABASE_URL`, and checks that:
///
/// 1. it connects with `--user`/`--password`, with the user part in `NATS_URL`, with
///    `--nkey` (a seed file), and with `--token` (another server);
/// 2. with a wrong password, seed or token it exits non-zero within 20 s, naming the server
///    and the method (`user/password`, `nkey`, `token`);
/// 3. started while the server is down, it logs that it is retrying, and connects once the
///    server is up;
/// 4. no output of any run holds a password, token or seed (right or wrong) or the database
///    password.
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
    let keys = tempfile::tempdir().map_err(|err| err.to_string())?;
    let nkey = NkeyUser::generate(keys.path(), "svc").map_err(|err| err.to_string())?;
    let stranger = NkeyUser::generate(keys.path(), "stranger").map_err(|err| err.to_string())?;
    let seed = |user: &NkeyUser| {
        std::fs::read_to_string(&user.seed_file)
            .map(|text| text.trim().to_owned())
            .map_err(|err| err.to_string())
    };
    let seeds = [seed(&nkey)?, seed(&stranger)?];
    let config = format!(
        "authorization {{ users: [ {{ user: svc, password: {PASSWORD:?} }}, {{ nkey: {} }} ] }}\n",
        nkey.public_key
    );
    let mut server = LocalServer::start_with_config(&config)
        .await
        .map_err(|err| err.to_string())?;
    let address = format!("127.0.0.1:{}", server.port());
    let url = format!("nats://{address}");
    let nkey_file = nkey.seed_file.display().to_string();
    let stranger_file = stranger.seed_file.display().to_string();
    let mut runner = Runner {
        binary,
        args,
        database_url: with_password(database_url),
        checks: ConnectionChecks::default(),
    };
    let user = ["--server", &url, "--user", "svc", "--password"];

    runner
        .connects(
            "user/password flags",
            &[&user[..], &[PASSWORD]].concat(),
            None,
        )
        .await?;
    runner
        .connects(
            "NATS_URL user part",
            &[],
            Some(&format!("nats://svc:{PASSWORD}@{address}")),
        )
        .await?;
    runner
        .connects("nkey", &["--server", &url, "--nkey", &nkey_file], None)
        .await?;
    runner
        .is_refused(
            "wrong password",
            &[&user[..], &[WRONG_PASSWORD]].concat(),
            &[&address, "refused the user/password credentials"],
        )
        .await?;
    runner
        .is_refused(
            "wrong seed",
            &["--server", &url, "--nkey", &stranger_file],
            &[&address, "refused the nkey credentials"],
        )
        .await?;

    server.stop().await.map_err(|err| err.to_string())?;
    let mut run = runner.spawn(&[&user[..], &[PASSWORD]].concat(), None)?;
    run.wait_for("NATS server unreachable; retrying", BOUND)
        .await?;
    server.restart().await.map_err(|err| err.to_string())?;
    run.wait_for("connected to NATS", BOUND).await?;
    runner
        .checks
        .runs
        .push(("server down at start".into(), run.stop().await));
    drop(server);

    let token_server =
        LocalServer::start_with_config(&format!("authorization {{ token: {TOKEN:?} }}\n"))
            .await
            .map_err(|err| err.to_string())?;
    let token_address = format!("127.0.0.1:{}", token_server.port());
    let token_url = format!("nats://{token_address}");
    runner
        .connects("token", &["--server", &token_url, "--token", TOKEN], None)
        .await?;
    runner
        .is_refused(
            "wrong token in the URL",
            &["--server", &format!("nats://{WRONG_TOKEN}@{token_address}")],
            &[&token_address, "refused the token credentials"],
        )
        .await?;

    let secrets = [
        PASSWORD,
        WRONG_PASSWORD,
        DATABASE_PASSWORD,
        TOKEN,
        WRONG_TOKEN,
        &seeds[0],
        &seeds[1],
    ];
    for (name, text) in &runner.checks.runs {
        if let Some(secret) = secrets.iter().find(|secret| text.contains(**secret)) {
            return Err(format!("run {name:?} wrote the secret {secret:?}:\n{text}"));
        }
    }
    Ok(runner.checks)
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
