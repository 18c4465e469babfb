//! Reading the contract registry from a NATS server (feature `registry`): the keys of
//! [`eventmap_contract::registry`] that a [`Wanted`] names, nothing written.

use std::path::PathBuf;
use std::time::Duration;

use async_nats::jetstream::{self, ErrorCode, context::GetStreamErrorKind, kv::Store};
use eventmap_contract::registry::{self, BUCKET};
use eventmap_contract::{Dataschema, Schema};

use tracing::Instrument;

use super::{Snapshot, Wanted};

/// How long connecting, and each request, may take before [`read`] gives up.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The NATS server whose registry is read, and how to log in.
#[derive(Debug, Clone)]
pub struct Server {
    /// The server's URL (`nats://host:port`; user and password or a token may be in it,
    /// `nats://user:password@host:port`).
    pub url: String,
    /// A credentials file (NATS decentralized auth: a user JWT and its NKey seed).
    pub creds: Option<PathBuf>,
    /// A user and password (NATS `authorization`), when not in the URL.
    pub user_password: Option<(String, String)>,
    /// A token (NATS `authorization { token }`).
    pub token: Option<String>,
    /// The prefix of the reply subjects, when the user may only receive replies on its own
    /// (`_INBOX_<service>` in the permissions `eventmap permissions` writes); `_INBOX` otherwise.
    pub inbox_prefix: Option<String>,
    /// Connection and request timeout (5 s by default).
    pub timeout: Duration,
}

impl Server {
    /// The server at `url`, without a credentials file, with a 5 s timeout.
    pub fn new(url: impl Into<String>) -> Self {
        Server {
            url: url.into(),
            creds: None,
            user_password: None,
            token: None,
            inbox_prefix: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// [`Server::new`] with the login of the `nats` CLI's environment variables (nats-io/natscli),
    /// as eventmap's services read them: `NATS_USER` and `NATS_PASSWORD`, `NATS_TOKEN`,
    /// `NATS_CREDS` (a credentials file) and `NATS_INBOX_PREFIX`. Unset or empty variables
    /// are ignored.
    pub fn from_env(url: impl Into<String>) -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Server {
            creds: var("NATS_CREDS").map(PathBuf::from),
            user_password: var("NATS_USER").zip(var("NATS_PASSWORD")),
            token: var("NATS_TOKEN"),
            inbox_prefix: var("NATS_INBOX_PREFIX"),
            ..Server::new(url)
        }
    }
}

/// Reading the registry failed: nothing was checked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The credentials file could not be read.
    #[error("cannot read the NATS credentials file `{}`: {source}", path.display())]
    Credentials {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The server could not be reached or refused the connection.
    #[error("cannot connect to NATS at `{url}`: {source}")]
    Connect {
        /// The URL given.
        url: String,
        /// The client's error.
        #[source]
        source: async_nats::ConnectError,
    },
    /// The server did not answer a request of the registry in time, or refused it (no
    /// JetStream, no permission).
    #[error("cannot read the contract registry (bucket `{BUCKET}`) at `{url}`: {reason}")]
    Request {
        /// The URL given.
        url: String,
        /// The server's or the client's answer.
        reason: String,
    },
    /// The async runtime could not be started.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

/// Reads from `server`'s contract registry the entries `wanted` names: each event's
/// registered `dataschema`, each channel's registered events, and the contract each
/// registered `dataschema` names (decoded, checked against its fingerprint). A server without
/// the registry's bucket gives an empty [`Snapshot`] with `exists: false`.
///
/// Blocks: runs its own single-threaded tokio runtime.
///
/// # Errors
///
/// [`ReadError`]: the server cannot be reached, or a key cannot be read.
pub fn read(server: &Server, wanted: &Wanted) -> Result<Snapshot, ReadError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ReadError::Runtime)?;
    let span = tracing::info_span!("read_contract_registry", url = %server.url);
    runtime.block_on(read_async(server, wanted).instrument(span))
}

async fn read_async(server: &Server, wanted: &Wanted) -> Result<Snapshot, ReadError> {
    let mut options = async_nats::ConnectOptions::new()
        .name("eventmap check --against-registry")
        .connection_timeout(server.timeout)
        .request_timeout(Some(server.timeout));
    if let Some((user, password)) = &server.user_password {
        options = options.user_and_password(user.clone(), password.clone());
    }
    if let Some(token) = &server.token {
        options = options.token(token.clone());
    }
    if let Some(prefix) = &server.inbox_prefix {
        options = options.custom_inbox_prefix(prefix.clone());
    }
    if let Some(path) = &server.creds {
        options =
            options
                .credentials_file(path)
                .await
                .map_err(|source| ReadError::Credentials {
                    path: path.clone(),
                    source,
                })?;
    }
    let client = options
        .connect(server.url.as_str())
        .await
        .map_err(|source| ReadError::Connect {
            url: server.url.clone(),
            source,
        })?;
    let context = jetstream::new(client);
    let request = |reason: String| ReadError::Request {
        url: server.url.clone(),
        reason,
    };
    let mut snapshot = Snapshot {
        server: server.url.clone(),
        ..Snapshot::default()
    };
    match context.get_stream(format!("KV_{BUCKET}")).await {
        Ok(_) => {}
        Err(err) if matches!(err.kind(), GetStreamErrorKind::JetStream(js) if js.error_code() == ErrorCode::STREAM_NOT_FOUND) =>
        {
            return Ok(snapshot);
        }
        Err(err) => return Err(request(err.to_string())),
    }
    let store = context
        .get_key_value(BUCKET)
        .await
        .map_err(|err| request(err.to_string()))?;
    snapshot.exists = true;
    let get = async |key: String| -> Result<Option<Vec<u8>>, ReadError> {
        store_get(&store, &key)
            .await
            .map_err(|reason| request(format!("`{key}`: {reason}")))
    };
    for subject in &wanted.channels {
        let Ok(key) = registry::channel_key(subject) else {
            continue;
        };
        if let Some(value) = get(key).await? {
            snapshot
                .channels
                .insert(subject.clone(), registry::channel_events(&value));
        }
    }
    for subject in &wanted.events {
        let Ok(key) = registry::event_key(subject) else {
            continue;
        };
        let Some(value) = get(key).await? else {
            continue;
        };
        let dataschema = String::from_utf8_lossy(&value).into_owned();
        if let Ok(parsed) = dataschema.parse::<Dataschema>() {
            let fingerprint = parsed.fingerprint.to_string();
            if let std::collections::btree_map::Entry::Vacant(slot) =
                snapshot.schemas.entry(fingerprint)
            {
                let schema = match get(registry::schema_key(&parsed.fingerprint)).await? {
                    None => Err("the registry does not hold it".to_owned()),
                    Some(bytes) => decoded(&bytes, &parsed),
                };
                slot.insert(schema);
            }
        }
        snapshot.events.insert(subject.clone(), dataschema);
    }
    tracing::debug!(
        events = snapshot.events.len(),
        channels = snapshot.channels.len(),
        "contract registry read"
    );
    Ok(snapshot)
}

async fn store_get(store: &Store, key: &str) -> Result<Option<Vec<u8>>, String> {
    store
        .get(key)
        .await
        .map(|value| value.map(|bytes| bytes.to_vec()))
        .map_err(|err| err.to_string())
}

/// The schema in `bytes`, when it decodes and hashes to the `dataschema` naming it.
fn decoded(bytes: &[u8], dataschema: &Dataschema) -> Result<Schema, String> {
    let schema = Schema::from_bytes(bytes).map_err(|err| format!("it does not decode: {err}"))?;
    let fingerprint = schema.fingerprint();
    if fingerprint != dataschema.fingerprint {
        return Err(format!(
            "the stored contract's fingerprint is {fingerprint}"
        ));
    }
    Ok(schema)
}
