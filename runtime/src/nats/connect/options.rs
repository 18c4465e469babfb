//! [`ConnectSettings`] -> async-nats [`ConnectOptions`]: credentials read from their files,
//! TLS files checked, the event callback installed.

use std::io;
use std::path::Path;

use async_nats::ConnectOptions;

use super::error::ConnectError;
use super::events::log_event;
use super::settings::{ConnectSettings, Credentials, DEFAULT_CONNECTION_TIMEOUT};
use super::violations::PermissionViolations;

/// The options of one connection attempt. Files are read here, so that a missing or
/// unreadable file is a [`ConnectError::File`] at once rather than a failure to retry. The
/// event callback logs every event and records publish permission violations in
/// `violations`, when given.
pub(crate) async fn build(
    settings: &ConnectSettings,
    violations: Option<&PermissionViolations>,
) -> Result<ConnectOptions, ConnectError> {
    let mut options =
        match settings.credentials()? {
            Credentials::None => ConnectOptions::new(),
            Credentials::UserPassword { user, password } => {
                ConnectOptions::with_user_and_password(user, password)
            }
            Credentials::Token(token) => ConnectOptions::with_token(token),
            Credentials::Nkey(path) => ConnectOptions::with_nkey(read_seed(&path).await?),
            Credentials::Creds(path) => ConnectOptions::with_credentials_file(&path)
                .await
                .map_err(|source| ConnectError::File {
                    what: "creds",
                    path,
                    source,
                })?,
        };
    options = tls(options, settings)?;
    if let Some(name) = &settings.name {
        options = options.name(name);
    }
    if let Some(prefix) = &settings.inbox_prefix {
        options = options.custom_inbox_prefix(prefix);
    }
    Ok(options
        .connection_timeout(
            settings
                .connection_timeout
                .unwrap_or(DEFAULT_CONNECTION_TIMEOUT),
        )
        .event_callback({
            let violations = violations.cloned();
            move |event| {
                if let (Some(violations), async_nats::Event::ServerError(error)) =
                    (&violations, &event)
                {
                    violations.record(error);
                }
                async move { log_event(&event) }
            }
        }))
}

/// TLS settings: the CA and the client certificate and key, each checked to be readable.
fn tls(
    mut options: ConnectOptions,
    settings: &ConnectSettings,
) -> Result<ConnectOptions, ConnectError> {
    if settings.tls_requested() {
        options = options.require_tls(true);
    }
    if settings.tls_first {
        options = options.tls_first();
    }
    if let Some(ca) = &settings.tls_ca {
        readable(ca, "TLS CA")?;
        options = options.add_root_certificates(ca.clone());
    }
    match (&settings.tls_cert, &settings.tls_key) {
        (Some(cert), Some(key)) => {
            readable(cert, "TLS certificate")?;
            readable(key, "TLS key")?;
            options = options.add_client_certificate(cert.clone(), key.clone());
        }
        (None, None) => {}
        _ => {
            return Err(ConnectError::Settings(
                "a TLS client certificate needs its key, and a key its certificate \
                 (--tlscert/NATS_CERT with --tlskey/NATS_KEY)"
                    .into(),
            ));
        }
    }
    Ok(options)
}

/// Checks that `path` can be opened for reading.
fn readable(path: &Path, what: &'static str) -> Result<(), ConnectError> {
    std::fs::File::open(path)
        .map(drop)
        .map_err(|source| ConnectError::File {
            what,
            path: path.to_owned(),
            source,
        })
}

/// The user seed (`SU...`) of an NKey file: its first line starting with `SU`, as `nsc`
/// and `nk -gen user` write them.
async fn read_seed(path: &Path) -> Result<String, ConnectError> {
    let file_error = |source| ConnectError::File {
        what: "nkey seed",
        path: path.to_owned(),
        source,
    };
    let text = tokio::fs::read_to_string(path).await.map_err(file_error)?;
    text.lines()
        .map(str::trim)
        .find(|line| line.starts_with("SU"))
        .map(str::to_owned)
        .ok_or_else(|| {
            file_error(io::Error::new(
                io::ErrorKind::InvalidData,
                "no user seed (a line starting with SU)",
            ))
        })
}
