//! [`ConnectSettings`]: where the NATS servers are and how to authenticate to them.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use percent_encoding::percent_decode_str;
use url::Url;

use super::error::ConnectError;
use crate::redact::{MASK, redact_url};

/// Server URL used when none is given (the `nats` CLI's default).
pub const DEFAULT_URL: &str = "nats://127.0.0.1:4222";

/// How long one connection attempt (TCP, TLS and the NATS handshake) may take
/// (async-nats' default is 5 s).
pub const DEFAULT_CONNECTION_TIMEOUT: Duration = Duration::from_secs(5);

/// The settings of a connection to NATS, named after the `nats` CLI's flags and environment
/// variables (nats-io/natscli): servers (`--server`, `NATS_URL`), `--user`/`--password`
/// (`NATS_USER`/`NATS_PASSWORD`), `--token` (`NATS_TOKEN`), `--creds` (`NATS_CREDS`), `--nkey`
/// (`NATS_NKEY`), `--tlsca`/`--tlscert`/`--tlskey` (`NATS_CA`/`NATS_CERT`/`NATS_KEY`) and
/// `--tlsfirst`.
///
/// `Debug` masks the password, the token and the user parts of the server URLs; the seed and
/// creds files are named, never read into the settings. [`connect`](super::connect) turns the
/// settings into a client.
///
/// ```
/// use eventmap::nats::connect::ConnectSettings;
///
/// let settings = ConnectSettings::new("nats://svc:s3cret@127.0.0.1:4222, nats://127.0.0.1:4223");
/// assert!(!format!("{settings:?}").contains("s3cret"));
/// ```
#[derive(Clone, Default)]
pub struct ConnectSettings {
    /// Server URLs (`nats://`, `tls://`, or `host:port`); empty means [`DEFAULT_URL`]. A
    /// `user:password@` or `token@` part in a URL counts as [`user`](Self::user) and
    /// [`password`](Self::password) or as [`token`](Self::token).
    pub servers: Vec<String>,
    /// User name (with [`password`](Self::password)); alone, a token (as the `nats` CLI does).
    pub user: Option<String>,
    /// Password of [`user`](Self::user).
    pub password: Option<String>,
    /// Authentication token.
    pub token: Option<String>,
    /// Credentials file (a user JWT and its NKey seed, as `nsc` writes them).
    pub creds: Option<PathBuf>,
    /// File holding a user NKey seed (`SU...`), for NKey authentication.
    pub nkey: Option<PathBuf>,
    /// PEM file of the certificate authorities that sign the server's certificate; turns TLS
    /// on.
    pub tls_ca: Option<PathBuf>,
    /// PEM client certificate (mutual TLS), with [`tls_key`](Self::tls_key); turns TLS on.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of [`tls_cert`](Self::tls_cert).
    pub tls_key: Option<PathBuf>,
    /// TLS handshake before the server's `INFO` (server option `handshake_first`).
    pub tls_first: bool,
    /// Connection name shown by the server (`nats server report connections`).
    pub name: Option<String>,
    /// Prefix of the client's reply subjects instead of `_INBOX` (async-nats
    /// `custom_inbox_prefix`), so that a user's permissions can keep its replies to itself
    /// (`eventmap permissions --inbox-prefix`, docs/security.md).
    pub inbox_prefix: Option<String>,
    /// How long [`connect`](super::connect) keeps retrying while no server is reachable;
    /// `None` waits until one is.
    pub max_wait: Option<Duration>,
    /// How long one connection attempt may take ([`DEFAULT_CONNECTION_TIMEOUT`] when `None`).
    pub connection_timeout: Option<Duration>,
}

/// How a connection authenticates, as named in errors and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthMethod {
    /// No credentials.
    None,
    /// User and password (flags, environment or the URL's user part).
    UserPassword,
    /// A token (flag, environment, a user without password, or the URL's user part).
    Token,
    /// An NKey seed file.
    Nkey,
    /// A credentials file (user JWT + seed; operator mode).
    Creds,
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::None => "no credentials",
            Self::UserPassword => "user/password",
            Self::Token => "token",
            Self::Nkey => "nkey",
            Self::Creds => "creds",
        })
    }
}

/// The credentials of a connection, secrets included (never printed).
#[derive(Clone)]
pub(crate) enum Credentials {
    None,
    UserPassword { user: String, password: String },
    Token(String),
    Nkey(PathBuf),
    Creds(PathBuf),
}

impl Credentials {
    pub(crate) fn method(&self) -> AuthMethod {
        match self {
            Self::None => AuthMethod::None,
            Self::UserPassword { .. } => AuthMethod::UserPassword,
            Self::Token(_) => AuthMethod::Token,
            Self::Nkey(_) => AuthMethod::Nkey,
            Self::Creds(_) => AuthMethod::Creds,
        }
    }
}

/// The server URLs without their user parts, and what those user parts held.
pub(crate) struct Servers {
    /// URLs without user parts (safe to log and to hand to async-nats).
    pub(crate) urls: Vec<String>,
    /// The user part of the first URL that had one.
    pub(crate) userinfo: Option<(String, Option<String>)>,
    /// Whether a URL asks for TLS (`tls://`).
    pub(crate) tls: bool,
}

impl ConnectSettings {
    /// Settings for the comma-separated server URLs `servers`, no credentials.
    pub fn new(servers: &str) -> Self {
        Self {
            servers: split_servers(servers),
            ..Self::default()
        }
    }

    /// Settings from the `nats` CLI's environment variables: `NATS_URL` (comma-separated,
    /// default [`DEFAULT_URL`]), `NATS_USER`, `NATS_PASSWORD`, `NATS_TOKEN`, `NATS_CREDS`,
    /// `NATS_NKEY`, `NATS_CA`, `NATS_CERT`, `NATS_KEY`, `NATS_TLSFIRST` (`true`/`1`) and
    /// `NATS_INBOX_PREFIX`.
    /// Empty variables count as unset.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
        Self {
            servers: var("NATS_URL")
                .map(|urls| split_servers(&urls))
                .unwrap_or_default(),
            user: var("NATS_USER"),
            password: var("NATS_PASSWORD"),
            token: var("NATS_TOKEN"),
            creds: var("NATS_CREDS").map(PathBuf::from),
            nkey: var("NATS_NKEY").map(PathBuf::from),
            tls_ca: var("NATS_CA").map(PathBuf::from),
            tls_cert: var("NATS_CERT").map(PathBuf::from),
            tls_key: var("NATS_KEY").map(PathBuf::from),
            tls_first: var("NATS_TLSFIRST").is_some_and(|v| v == "1" || v == "true"),
            inbox_prefix: var("NATS_INBOX_PREFIX"),
            ..Self::default()
        }
    }

    /// Sets [`max_wait`](Self::max_wait).
    #[must_use]
    pub fn max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = Some(max_wait);
        self
    }

    /// Sets [`name`](Self::name).
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The server URLs with their secrets masked, comma-separated (for logs and errors).
    pub fn redacted_servers(&self) -> String {
        if self.servers.is_empty() {
            return DEFAULT_URL.to_owned();
        }
        self.servers
            .iter()
            .map(|url| redact_url(url))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Whether TLS is asked for: a `tls://` URL, a CA, a client certificate, or `tls_first`.
    pub fn tls_requested(&self) -> bool {
        self.tls_first
            || self.tls_ca.is_some()
            || self.tls_cert.is_some()
            || self
                .servers
                .iter()
                .any(|url| url.trim().starts_with("tls://"))
    }

    /// How the connection authenticates (for logs). Conflicts are reported by
    /// [`connect`](super::connect), not here.
    pub fn auth_method(&self) -> AuthMethod {
        self.credentials()
            .map_or(AuthMethod::None, |credentials| credentials.method())
    }

    /// The server URLs without user parts (async-nats logs server addresses, user parts
    /// included, at debug level: they never reach it).
    pub(crate) fn servers(&self) -> Result<Servers, ConnectError> {
        let given = if self.servers.is_empty() {
            vec![DEFAULT_URL.to_owned()]
        } else {
            self.servers.clone()
        };
        let mut servers = Servers {
            urls: Vec::with_capacity(given.len()),
            userinfo: None,
            tls: false,
        };
        for text in given {
            let with_scheme = if text.contains("://") {
                text.clone()
            } else {
                format!("nats://{text}")
            };
            let invalid = |reason: String| ConnectError::InvalidUrl {
                url: redact_url(&text),
                reason,
            };
            let mut url = Url::parse(&with_scheme).map_err(|err| invalid(err.to_string()))?;
            if !["nats", "tls", "ws", "wss"].contains(&url.scheme()) {
                return Err(invalid(format!(
                    "scheme {:?} is not nats://, tls://, ws:// or wss://",
                    url.scheme()
                )));
            }
            if url.host_str().is_none_or(str::is_empty) {
                return Err(invalid("no host".into()));
            }
            servers.tls |= url.scheme() == "tls" || url.scheme() == "wss";
            if !url.username().is_empty() {
                let decode = |part: &str| percent_decode_str(part).decode_utf8_lossy().into_owned();
                let user = decode(url.username());
                let password = url.password().map(decode);
                servers.userinfo.get_or_insert((user, password));
                // Cannot fail: the URL has a host.
                let _ = url.set_username("");
                let _ = url.set_password(None);
            }
            servers.urls.push(url.to_string());
        }
        Ok(servers)
    }

    /// The credentials to present; an error when several methods are set at once.
    pub(crate) fn credentials(&self) -> Result<Credentials, ConnectError> {
        let userinfo = self.servers().ok().and_then(|servers| servers.userinfo);
        let mut chosen = Vec::new();
        if let Some(creds) = &self.creds {
            chosen.push(Credentials::Creds(creds.clone()));
        }
        if let Some(nkey) = &self.nkey {
            chosen.push(Credentials::Nkey(nkey.clone()));
        }
        if let Some(token) = &self.token {
            chosen.push(Credentials::Token(token.clone()));
        }
        // A user named only in the URL takes --password/NATS_PASSWORD (the password kept out
        // of the URL, as docs/security.md advises).
        let url_user = userinfo.as_ref().map(|(user, _)| user);
        match (self.user.as_ref().or(url_user), &self.password) {
            (Some(user), Some(password)) => chosen.push(Credentials::UserPassword {
                user: user.clone(),
                password: password.clone(),
            }),
            // The `nats` CLI's `--user` is "Username or Token" (a URL's lone user part is
            // taken below).
            (Some(token), None) if self.user.is_some() => {
                chosen.push(Credentials::Token(token.clone()))
            }
            (Some(_), None) => {}
            (None, Some(_)) => {
                return Err(ConnectError::Settings(
                    "a password without a user (set --user/NATS_USER, or name the user in the URL)"
                        .into(),
                ));
            }
            (None, None) => {}
        }
        // The URL's user part counts only when no flag says otherwise.
        if chosen.is_empty()
            && let Some((user, password)) = userinfo
        {
            chosen.push(match password {
                Some(password) => Credentials::UserPassword { user, password },
                None => Credentials::Token(user),
            });
        }
        match chosen.len() {
            0 => Ok(Credentials::None),
            1 => Ok(chosen.remove(0)),
            _ => Err(ConnectError::Settings(format!(
                "several authentication methods at once ({}); give one",
                chosen
                    .iter()
                    .map(|c| c.method().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// `text` with every secret of these settings replaced by [`MASK`]: error texts of the
    /// client library pass through it before they are shown.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let mut secrets: Vec<String> = [&self.password, &self.token]
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        if let Ok(Servers {
            userinfo: Some((user, password)),
            ..
        }) = self.servers()
        {
            match password {
                Some(password) => secrets.push(password),
                None => secrets.push(user),
            }
        }
        if self.password.is_none()
            && let Some(user) = &self.user
        {
            secrets.push(user.clone());
        }
        let mut text = text.to_owned();
        for secret in secrets.iter().filter(|s| s.len() >= 3) {
            text = text.replace(secret.as_str(), MASK);
        }
        text
    }
}

impl fmt::Debug for ConnectSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let masked = |value: &Option<String>| value.as_ref().map(|_| MASK);
        f.debug_struct("ConnectSettings")
            .field("servers", &self.redacted_servers())
            .field(
                "user",
                &self.user.as_ref().map(|user| {
                    // Alone, the user is a token.
                    if self.password.is_some() {
                        user.as_str()
                    } else {
                        MASK
                    }
                }),
            )
            .field("password", &masked(&self.password))
            .field("token", &masked(&self.token))
            .field("creds", &self.creds)
            .field("nkey", &self.nkey)
            .field("tls_ca", &self.tls_ca)
            .field("tls_cert", &self.tls_cert)
            .field("tls_key", &self.tls_key)
            .field("tls_first", &self.tls_first)
            .field("name", &self.name)
            .field("inbox_prefix", &self.inbox_prefix)
            .field("max_wait", &self.max_wait)
            .field("connection_timeout", &self.connection_timeout)
            .finish()
    }
}

impl fmt::Display for ConnectSettings {
    /// The servers (masked), the authentication method and whether TLS is on.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}{})",
            self.redacted_servers(),
            self.auth_method(),
            if self.tls_requested() { ", TLS" } else { "" }
        )
    }
}

/// `"a, b,,c"` -> `["a", "b", "c"]`.
fn split_servers(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{AuthMethod, ConnectSettings};

    #[test]
    fn user_parts_leave_the_urls_and_become_credentials() {
        let settings = ConnectSettings::new("nats://svc:pa%40ss@127.0.0.1:4222, 127.0.0.1:4223");
        let servers = settings.servers().unwrap();
        assert_eq!(
            servers.urls,
            ["nats://127.0.0.1:4222", "nats://127.0.0.1:4223"]
        );
        assert_eq!(
            servers.userinfo,
            Some(("svc".to_owned(), Some("pa@ss".to_owned())))
        );
        assert_eq!(settings.auth_method(), AuthMethod::UserPassword);
        assert_eq!(
            ConnectSettings::new("tls://t0ken@h:4222").auth_method(),
            AuthMethod::Token
        );
        assert!(ConnectSettings::new("tls://h:4222").tls_requested());
    }

    #[test]
    fn a_user_in_the_url_takes_the_password_setting() {
        for url in [
            "nats://svc@127.0.0.1:4222",
            "nats://svc:stale@127.0.0.1:4222",
        ] {
            let mut settings = ConnectSettings::new(url);
            settings.password = Some("right".into());
            match settings.credentials() {
                Ok(super::Credentials::UserPassword { user, password }) => {
                    assert_eq!(
                        (user.as_str(), password.as_str()),
                        ("svc", "right"),
                        "{url}"
                    );
                }
                other => panic!("{url}: {:?}", other.map(|c| c.method())),
            }
        }
        let mut settings = ConnectSettings::new("nats://127.0.0.1:4222");
        settings.password = Some("right".into());
        let err = settings.credentials().err().unwrap().to_string();
        assert!(err.contains("a password without a user"), "{err}");
    }

    #[test]
    fn several_methods_are_refused() {
        let mut settings = ConnectSettings::new("nats://127.0.0.1:4222");
        settings.token = Some("abc".into());
        settings.nkey = Some("user.nk".into());
        let err = settings.credentials().err().unwrap().to_string();
        assert!(err.contains("token") && err.contains("nkey"), "{err}");
    }

    #[test]
    fn debug_and_display_mask_secrets() {
        let mut settings = ConnectSettings::new("nats://svc:s3cret@127.0.0.1:4222");
        settings.token = Some("t0ken-value".into());
        let shown = format!("{settings:?} {settings}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("t0ken-value"),
            "{shown}"
        );
        assert!(shown.contains("nats://svc:***@127.0.0.1:4222"), "{shown}");
        assert_eq!(
            settings.scrub("bad s3cret and t0ken-value"),
            "bad *** and ***"
        );
    }

    #[test]
    fn unknown_schemes_are_invalid() {
        let err = ConnectSettings::new("http://u:s3cret@h:8080")
            .servers()
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("http://u:***@h:8080"), "{err}");
        assert!(!err.contains("s3cret"), "{err}");
    }
}
