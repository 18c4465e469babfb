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
    #[error("cannot look up stream `{stream}`")]
    Lookup {
        /// Stream name.
        stream: String,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
    /// Creating the stream failed (e.g. its subjects overlap another stream's).
    #[error("cannot create stream `{stream}` with subjects {subjects:?}")]
    Create {
        /// Stream name.
        stream: String,
        /// Subjects requested.
        subjects: Vec<String>,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
    /// The server refused the stream's replica count: creating it with `wanted` replicas, or
    /// scaling the existing stream from `current` to `wanted` (e.g. more than 1 replica on a
    /// server that is not in a cluster, or more replicas than the cluster has servers).
    #[error(
        "stream `{stream}`: the server refused {wanted} replica(s) (current: {})",
        current.map_or_else(|| "none, the stream is new".to_owned(), |n| n.to_string())
    )]
    Replicas {
        /// Stream name.
        stream: String,
        /// Replicas of the existing stream; `None` when it was being created.
        current: Option<usize>,
        /// Replicas asked for ([`ChannelSpec::replicas`]).
        wanted: usize,
        /// The server's reason.
        #[source]
        source: BoxError,
    },
    /// Adding subjects to the existing stream failed.
    #[error("cannot add subjects {subjects:?} to stream `{stream}`")]
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
pub(crate) fn covers(pattern: &str, filter: &str) -> bool {
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

/// Whether some subject matches both NATS subject filters `a` and `b` (`*` is one token, `>`
/// one or more trailing tokens).
pub(crate) fn overlaps(a: &str, b: &str) -> bool {
    let mut a = a.split('.');
    let mut b = b.split('.');
    loop {
        match (a.next(), b.next()) {
            (Some(">"), Some(_)) | (Some(_), Some(">")) | (None, None) => return true,
            (Some(x), Some(y)) if x == y || x == "*" || y == "*" => {}
            _ => return false,
        }
    }
}

/// Creates or updates the stream of each channel.
///
/// Per stream (channels sharing a stream are grouped): if it does not exist it is created
/// with name [`ChannelSpec::stream`], subjects = the channels' [`ChannelSpec::wildcard`]s,
/// [`ChannelSpec::replicas`] (`num_replicas`; the largest of the channels' if they differ),
/// file storage, [`DUPLICATE_WINDOW`], on nats-server >= 2.14 `allow_batched` (fast-ingest
/// batches, which the outbox relays use: `RelayConfig::batch_publish`)
/// and JetStream defaults otherwise (limits retention, no limits). If it exists, subjects not already covered by one of its subjects are appended
/// with a stream update, and fewer replicas than wanted are raised to the wanted count with a
/// second update (JetStream scales a stream in a cluster), after which it waits up to
/// [`SCALE_SETTLE`] for the new replicas to be current. More replicas than wanted are left as
/// they are (logged): a stream an operator scaled up by hand, while its table still says
/// the default 1, must not lose its copies on the next deploy; lower it with
/// `nats stream edit --replicas`. Every other setting of an existing stream is left as the operator set it. Idempotent, and
/// safe to run concurrently from several service instances (a lost creation race is retried
/// as an update).
///
/// `context` may be a `Context` or a `&Context`.
///
/// # Errors
///
/// The first [`ProvisionError`]; streams before it stay provisioned. A replica count the
/// server refuses is [`ProvisionError::Replicas`], with the server's reason.
pub async fn provision_streams(
    context: impl Borrow<Context>,
    channels: &[ChannelSpec],
) -> Result<(), ProvisionError> {
    let context = context.borrow();
    let mut streams: BTreeMap<&str, Wanted> = BTreeMap::new();
    for channel in channels {
        let wanted = streams.entry(channel.stream).or_default();
        wanted.replicas = wanted.replicas.max(channel.replicas).max(1);
        let wildcard = channel.wildcard();
        if !wanted.subjects.contains(&wildcard) {
            wanted.subjects.push(wildcard);
        }
    }
    for (stream, wanted) in streams {
        let span = tracing::info_span!(
            "provision_stream",
            stream,
            subjects = ?wanted.subjects,
            replicas = wanted.replicas
        );
        provision_stream(context, stream, wanted)
            .instrument(span)
            .await?;
    }
    Ok(())
}

/// What one stream should have: the channels' subjects and replicas.
#[derive(Default)]
struct Wanted {
    subjects: Vec<String>,
    replicas: usize,
}

/// JetStream error codes that mean "not this many replicas here": 10074 (replicas > 1 not
/// supported in non-clustered mode), [`ErrorCode::CLUSTER_NO_PEERS`] (no suitable peers for
/// placement), [`ErrorCode::INSUFFICIENT_RESOURCES`] and
/// [`ErrorCode::STREAM_REPLICAS_NOT_UPDATABLE`] (from nats-server's `errors.json`).
fn refuses_replicas(code: ErrorCode) -> bool {
    code == ErrorCode(10074)
        || code == ErrorCode::CLUSTER_NO_PEERS
        || code == ErrorCode::INSUFFICIENT_RESOURCES
        || code == ErrorCode::STREAM_REPLICAS_NOT_UPDATABLE
}

/// Raises the existing stream's replicas to `wanted` if it has fewer; never lowers them.
async fn scale(context: &Context, mut config: Config, wanted: usize) -> Result<(), ProvisionError> {
    // 0 in a stream's config is the server's default, 1.
    let current = config.num_replicas.max(1);
    if current >= wanted {
        if current > wanted {
            tracing::info!(
                current,
                wanted,
                "stream has more replicas than its channels ask for; left as is"
            );
        }
        return Ok(());
    }
    config.num_replicas = wanted;
    context
        .update_stream(&config)
        .await
        .map_err(|err| ProvisionError::Replicas {
            stream: config.name.clone(),
            current: Some(current),
            wanted,
            source: Box::new(err),
        })?;
    tracing::info!(from = current, to = wanted, "stream replicas changed");
    settle(context, &config.name, wanted).await;
    Ok(())
}

/// How long [`provision_streams`] waits, after changing a stream's replicas, for the stream
/// to have a leader and `replicas - 1` current followers: 10 s. Right after a scale-up the
/// server refuses new consumers on the stream ("insufficient resources") until the new
/// replicas have caught up (observed with nats-server 2.15: for about 200 ms).
pub const SCALE_SETTLE: Duration = Duration::from_secs(10);

/// Waits up to [`SCALE_SETTLE`] until `stream` has a leader and `replicas - 1` current
/// followers; logs a warning when it does not (the scale was accepted; the server finishes
/// it on its own).
async fn settle(context: &Context, stream: &str, replicas: usize) {
    let deadline = tokio::time::Instant::now() + SCALE_SETTLE;
    loop {
        let settled = match context.get_stream(stream).await {
            Ok(mut handle) => handle.info().await.ok().and_then(|info| {
                let cluster = info.cluster.as_ref()?;
                cluster.leader.as_ref()?;
                let current = cluster.replicas.iter().filter(|peer| peer.current).count();
                Some(current + 1 >= replicas)
            }),
            Err(_) => None,
        };
        // A stream outside a cluster has no cluster info to wait for.
        if settled.unwrap_or(replicas <= 1) {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            tracing::warn!(
                replicas,
                waited = ?SCALE_SETTLE,
                "stream replicas not all current yet; consumers may be refused until they are"
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn provision_stream(
    context: &Context,
    stream: &str,
    wanted: Wanted,
) -> Result<(), ProvisionError> {
    let Wanted { subjects, replicas } = wanted;
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
                    tracing::debug!("stream subjects up to date");
                } else {
                    config.subjects.extend(missing.iter().cloned());
                    let info = context.update_stream(&config).await.map_err(|err| {
                        ProvisionError::Update {
                            stream: stream.to_owned(),
                            subjects: missing.clone(),
                            source: Box::new(err),
                        }
                    })?;
                    tracing::info!(added = ?missing, "stream subjects added");
                    config = info.config;
                }
                return scale(context, config, replicas).await;
            }
            None => {
                let config = Config {
                    name: stream.to_owned(),
                    subjects: subjects.clone(),
                    storage: StorageType::File,
                    duplicate_window: DUPLICATE_WINDOW,
                    num_replicas: replicas,
                    allow_batch_publish: super::has_fast_batches(&context.client()),
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
                        let refused = matches!(
                            err.kind(),
                            CreateStreamErrorKind::JetStream(ref js)
                                if refuses_replicas(js.error_code())
                        );
                        if refused && replicas > 1 {
                            return Err(ProvisionError::Replicas {
                                stream: stream.to_owned(),
                                current: None,
                                wanted: replicas,
                                source: Box::new(err),
                            });
                        }
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
    use super::{covers, overlaps};

    #[test]
    fn subject_overlap() {
        assert!(overlaps("ordering.order.>", "ordering.order.>"));
        assert!(overlaps("ordering.>", "ordering.order.>"));
        assert!(overlaps("ordering.order.x.>", "ordering.order.>"));
        assert!(overlaps(
            "ordering.order.OrderCreatedEvent",
            "ordering.order.>"
        ));
        assert!(overlaps("ordering.*.x", "ordering.order.>"));
        assert!(overlaps(">", "a"));
        assert!(!overlaps("ordering.order", "ordering.order.>"));
        assert!(!overlaps("ordering.orders.>", "ordering.order.>"));
        assert!(!overlaps("ordering.payment.>", "ordering.order.>"));
        assert!(!overlaps("a.*", "a.b.c"));
        assert!(!overlaps("a.b", "a.c"));
    }

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
