//! [`ConnectArgs`]: the NATS connection settings as clap arguments (feature `cli`).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::settings::{ConnectSettings, DEFAULT_URL};

/// The `--help` heading of the connection arguments.
const HEADING: &str = "NATS connection";

/// The NATS connection settings of a binary, with the `nats` CLI's flag and environment
/// names; flatten it into the binary's own parser and call
/// [`settings`](Self::settings):
///
/// ```
/// use clap::Parser;
/// use eventmap::nats::connect::ConnectArgs;
///
/// #[derive(Parser)]
/// struct Cli {
///     #[command(flatten)]
///     nats: ConnectArgs,
/// }
///
/// let cli = Cli::parse_from(["app", "--server", "nats://127.0.0.1:4222", "--user", "svc", "--password", "pw"]);
/// let settings = cli.nats.settings();
/// assert_eq!(settings.servers, ["nats://127.0.0.1:4222"]);
/// ```
///
/// The values of `--password` and `--token` taken from the environment are not shown by
/// `--help`, and `Debug` masks them.
///
/// Each argument carries the help heading "NATS connection" (not `next_help_heading`, which
/// would also head the binary's own arguments after it), and the struct sets no `about`, so
/// this comment never replaces the binary's own description in `--help`.
#[derive(Clone, clap::Args)]
#[command(about = None, long_about = None)]
pub struct ConnectArgs {
    /// NATS server URLs, comma-separated (nats://, tls://; user:password@ or token@ allowed). When neither this nor NATS_URL is set: nats://127.0.0.1:4222, unless the command's description says otherwise (a command that starts a private nats-server)
    #[arg(help_heading = HEADING,
        short = 's',
        long = "server",
        env = "NATS_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub server: Option<String>,
    /// User name (with --password), or a token when given alone
    #[arg(help_heading = HEADING, long, env = "NATS_USER", hide_env_values = true, value_name = "USER")]
    pub user: Option<String>,
    /// Password of --user
    #[arg(help_heading = HEADING,
        long,
        env = "NATS_PASSWORD",
        hide_env_values = true,
        value_name = "PASSWORD"
    )]
    pub password: Option<String>,
    /// Authentication token
    #[arg(help_heading = HEADING, long, env = "NATS_TOKEN", hide_env_values = true, value_name = "TOKEN")]
    pub token: Option<String>,
    /// User credentials file (JWT authentication)
    #[arg(help_heading = HEADING, long, env = "NATS_CREDS", value_name = "FILE")]
    pub creds: Option<PathBuf>,
    /// User NKey seed file, for NKey authentication
    #[arg(help_heading = HEADING, long, env = "NATS_NKEY", value_name = "FILE")]
    pub nkey: Option<PathBuf>,
    /// TLS certificate authority chain file (turns TLS on)
    #[arg(help_heading = HEADING, long, env = "NATS_CA", value_name = "FILE")]
    pub tlsca: Option<PathBuf>,
    /// TLS client certificate file (mutual TLS)
    #[arg(help_heading = HEADING, long, env = "NATS_CERT", value_name = "FILE")]
    pub tlscert: Option<PathBuf>,
    /// TLS client private key file
    #[arg(help_heading = HEADING, long, env = "NATS_KEY", value_name = "FILE")]
    pub tlskey: Option<PathBuf>,
    /// Perform the TLS handshake before expecting the server greeting (the variable takes
    /// 1/0, true/false, yes/no, on/off)
    #[arg(
        help_heading = HEADING,
        long,
        env = "NATS_TLSFIRST",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub tlsfirst: bool,
    /// Prefix of the reply subjects instead of _INBOX (as granted by `eventmap permissions --inbox-prefix`)
    #[arg(help_heading = HEADING, long, env = "NATS_INBOX_PREFIX", value_name = "PREFIX")]
    pub inbox_prefix: Option<String>,
    /// Give up after this many seconds while no NATS server is reachable at start (default: wait until one is)
    #[arg(help_heading = HEADING, long, env = "EVENTMAP_NATS_CONNECT_WAIT", value_name = "SECONDS")]
    pub connect_wait: Option<f64>,
}

impl ConnectArgs {
    /// The [`ConnectSettings`] these arguments describe ([`DEFAULT_URL`] without
    /// `--server`). A negative or non-finite `--connect-wait` counts as no bound.
    pub fn settings(&self) -> ConnectSettings {
        let mut settings = ConnectSettings::new(self.server.as_deref().unwrap_or(DEFAULT_URL));
        settings.user = self.user.clone();
        settings.password = self.password.clone();
        settings.token = self.token.clone();
        settings.creds = self.creds.clone();
        settings.nkey = self.nkey.clone();
        settings.tls_ca = self.tlsca.clone();
        settings.tls_cert = self.tlscert.clone();
        settings.tls_key = self.tlskey.clone();
        settings.tls_first = self.tlsfirst;
        settings.inbox_prefix = self.inbox_prefix.clone();
        settings.max_wait = self
            .connect_wait
            .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok());
        settings
    }
}

impl fmt::Debug for ConnectArgs {
    /// As the [`ConnectSettings`]' `Debug`: secrets masked.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.settings(), f)
    }
}
