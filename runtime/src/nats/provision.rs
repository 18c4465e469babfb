//! [`provision_streams`]: make sure every channel has its JetStream stream.

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::time::Duration;

use async_nats::jetstream::context::{CreateStreamErrorKind, GetStreamErrorKind};
use async_nats::jetstream::stream::{Config, StorageType};
use async_nats::jetstream::{Context, ErrorCode};
use tracing::Instrument;

use crate::channel::ChannelSpec;
use crate::error::BoxError;

/// Duplicate window of streams created by [`provision_streams`]: 2 minutes (JetStream's
/// default). A message re-published with the same `Nats-Msg-Id` within the window is not
/// stored again.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// Provisioning a stream failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProvisionError {
    /// Looking the stream up failed (JetStream not enabled, no connection, invalid name, ...).
    #[error("cannot look up stream `{stream}`: {source}")]
    Lookup {
        /// Stream name.
        stream: String,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
    /// Creating the stream failed (e.g. its subjects overlap another stream's).
    #[error("cannot create stream `{stream}` with subjects {subjects:?}: {source}")]
    Create {
        /// Stream name.
        stream: String,
        /// Subjects requested.
        subjects: Vec<String>,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
    /// Adding subjects to the existing stream failed.
    #[error("cannot add subjects {subjects:?} to stream `{stream}`: {source}")]
    Update {
        /// Stream name.
        stream: String,
        /// Subjects that were missing.
        subjects: Vec<String>,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
}

/// Whether the NATS subject filter `pattern` matches every subject `filter` matches (`*` is
/// one token, `>` one or more trailing tokens).
fn covers(pattern: &str, filter: &str) -> bool {
    let mut pattern = pattern.split('.');
    let mut filter = filter.split('.');
    loop {
        match (pattern.next(), filter.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(token)) if token != ">" => {}
            (Some(p), Some(f)) if p == f && p != "*" && p != ">" => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Creates or updates the stream of each channel.
///
/// Per stream (channels sharing a stream are grouped): if it does not exist it is created
/// with name [`ChannelSpec::stream`], subjects = the channels' [`ChannelSpec::wildcard`]s, file
/// storage, [`DUPLICATE_WINDOW`] and JetStream defaults otherwise (limits retention, no limits).
/// If it exists, subjects not already covered by one of its subjects are appended with a
/// stream update; every other setting of an existing stream is left as the operator set it.
/// Idempotent, and safe to run concurrently from several service instances (a lost creation
/// race is retried as an update).
///
/// `context` may be a `Context` or a `&Context`.
///
/// # Errors
///
/// The first [`ProvisionError`]; streams before it stay provisioned.
pub async fn provision_streams(
    context: impl Borrow<Context>,
    channels: &[ChannelSpec],
) -> Result<(), ProvisionError> {
    let context = context.borrow();
    let mut streams: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for channel in channels {
        let subjects = streams.entry(channel.stream).or_default();
        let wildcard = channel.wildcard();
        if !subjects.contains(&wildcard) {
            subjects.push(wildcard);
        }
    }
    for (stream, subjects) in streams {
        let span = tracing::info_span!("provision_stream", stream, subjects = ?subjects);
        provision_stream(context, stream, subjects)
            .instrument(span)
            .await?;
    }
    Ok(())
}

async fn provision_stream(
    context: &Context,
    stream: &str,
    subjects: Vec<String>,
) -> Result<(), ProvisionError> {
    // Two rounds: if another instance creates the stream between our lookup and our create,
    // the second round finds it and updates it instead.
    for _round in 0..2 {
        let existing = match context.get_stream(stream).await {
            Ok(handle) => Some(handle.cached_info().config.clone()),
            Err(err) => match err.kind() {
                GetStreamErrorKind::JetStream(js)
                    if js.error_code() == ErrorCode::STREAM_NOT_FOUND =>
                {
                    None
                }
                _ => {
                    return Err(ProvisionError::Lookup {
                        stream: stream.to_owned(),
                        source: Box::new(err),
                    });
                }
            },
        };
        match existing {
            Some(mut config) => {
                let missing: Vec<String> = subjects
                    .iter()
                    .filter(|wanted| !config.subjects.iter().any(|have| covers(have, wanted)))
                    .cloned()
                    .collect();
                if missing.is_empty() {
                    tracing::debug!("stream up to date");
                    return Ok(());
                }
                config.subjects.extend(missing.iter().cloned());
                context
                    .update_stream(&config)
                    .await
                    .map_err(|err| ProvisionError::Update {
                        stream: stream.to_owned(),
                        subjects: missing.clone(),
                        source: Box::new(err),
                    })?;
                tracing::info!(added = ?missing, "stream subjects added");
                return Ok(());
            }
            None => {
                let config = Config {
                    name: stream.to_owned(),
                    subjects: subjects.clone(),
                    storage: StorageType::File,
                    duplicate_window: DUPLICATE_WINDOW,
                    ..Config::default()
                };
                match context.create_stream(config).await {
                    Ok(_) => {
                        tracing::info!("stream created");
                        return Ok(());
                    }
                    Err(err) => {
                        let lost_race = matches!(
                            err.kind(),
                            CreateStreamErrorKind::JetStream(ref js)
                                if js.error_code() == ErrorCode::STREAM_NAME_EXIST
                        );
                        if !lost_race {
                            return Err(ProvisionError::Create {
                                stream: stream.to_owned(),
                                subjects,
                                source: Box::new(err),
                            });
                        }
                        tracing::debug!("stream created concurrently; retrying as update");
                    }
                }
            }
        }
    }
    Err(ProvisionError::Create {
        stream: stream.to_owned(),
        subjects,
        source: "stream kept appearing and disappearing while provisioning".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::covers;

    #[test]
    fn subject_coverage() {
        assert!(covers("ordering.order.>", "ordering.order.>"));
        assert!(covers("ordering.>", "ordering.order.>"));
        assert!(covers(">", "ordering.order.>"));
        assert!(covers("ordering.*.>", "ordering.order.>"));
        assert!(!covers("ordering.order.*", "ordering.order.>"));
        assert!(!covers("ordering.order.>", "ordering.>"));
        assert!(!covers("ordering.orders.>", "ordering.order.>"));
        assert!(!covers("ordering.order", "ordering.order.>"));
        assert!(covers("a.*", "a.b"));
        assert!(!covers("a.b", "a.*"));
    }
}
