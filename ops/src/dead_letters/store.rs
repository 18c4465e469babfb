//! Reading and deleting dead letters in their JetStream streams: where the table's
//! subscriptions dead-letter ([`sources`]), every dead letter there ([`scan`]), one by id
//! ([`DeadLetterId`]).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;

use bytes::Bytes;
use eventmap::nats::async_nats::jetstream::stream::{
    DeleteMessageErrorKind, RawMessageErrorKind, Stream,
};
use eventmap::nats::async_nats::jetstream::{self, Context};
use eventmap::nats::dead_letter;
use eventmap_codegen::service::Service;
use indicatif::ProgressBar;

use crate::OpsError;

/// Where dead letters are read: one dead-letter stream, the subject prefixes the table's
/// subscriptions write there, and the durable consumers (with their subscription names)
/// that write there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The dead-letter stream.
    pub stream: String,
    /// Subject prefixes (`<prefix>.<event type>` are the dead letters' subjects).
    pub subjects: Vec<String>,
    /// Durable consumer name -> subscription name in the table.
    pub durables: BTreeMap<String, String>,
    /// Whether only the dead letters of [`Self::durables`] count (`--subscription`).
    pub only_these_durables: bool,
}

/// The dead-letter streams of the table's subscriptions, or of the one named `subscription`
/// (table name or durable), in table order.
///
/// # Errors
///
/// [`OpsError::Usage`] when `subscription` is not one of the table's, or it has no
/// dead-letter channel.
pub fn sources(service: &Service, subscription: Option<&str>) -> Result<Vec<Source>, OpsError> {
    let chosen: Vec<_> = match subscription {
        None => service.subscriptions.iter().collect(),
        Some(name) => {
            let Some(found) = service.subscription(name) else {
                let known: Vec<_> = service
                    .subscriptions
                    .iter()
                    .map(|s| format!("{} (durable {})", s.name, s.durable))
                    .collect();
                return Err(OpsError::Usage(format!(
                    "the table `{}` has no subscription `{name}`; it has: {}",
                    service.table.display(),
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                )));
            };
            if found.dead_letter.is_none() {
                return Err(OpsError::Usage(format!(
                    "subscription `{name}` has no dead-letter channel (`delivery.dead_letter` in `{}`)",
                    service.table.display()
                )));
            }
            vec![found]
        }
    };
    let mut sources: Vec<Source> = Vec::new();
    for subscription in chosen {
        let Some(channel) = &subscription.dead_letter else {
            continue;
        };
        let index = match sources.iter().position(|s| s.stream == channel.stream) {
            Some(index) => index,
            None => {
                sources.push(Source {
                    stream: channel.stream.clone(),
                    subjects: Vec::new(),
                    durables: BTreeMap::new(),
                    only_these_durables: false,
                });
                sources.len() - 1
            }
        };
        let source = &mut sources[index];
        if !source.subjects.contains(&channel.subject) {
            source.subjects.push(channel.subject.clone());
        }
        source
            .durables
            .insert(subscription.durable.clone(), subscription.name.clone());
    }
    if subscription.is_some() {
        for source in &mut sources {
            source.only_these_durables = true;
        }
    }
    Ok(sources)
}

/// A dead letter's id: its dead-letter stream and its sequence there. Written `SEQUENCE`
/// (when one stream is read) or `STREAM:SEQUENCE`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeadLetterId {
    /// The stream, when written.
    pub stream: Option<String>,
    /// The stream sequence.
    pub sequence: u64,
}

impl FromStr for DeadLetterId {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (stream, sequence) = match text.rsplit_once(':') {
            Some((stream, sequence)) if !stream.is_empty() => (Some(stream.to_owned()), sequence),
            Some(_) => return Err(format!("`{text}`: the stream before `:` is empty")),
            None => (None, text),
        };
        let sequence = sequence
            .parse::<u64>()
            .ok()
            .filter(|s| *s > 0)
            .ok_or_else(|| {
                format!("`{text}` is not a dead-letter id (a stream sequence, or STREAM:SEQUENCE)")
            })?;
        Ok(Self { stream, sequence })
    }
}

impl fmt::Display for DeadLetterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.stream {
            Some(stream) => write!(f, "{stream}:{}", self.sequence),
            None => write!(f, "{}", self.sequence),
        }
    }
}

/// One dead letter as stored.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    /// The dead-letter stream.
    pub stream: String,
    /// Its sequence there.
    pub sequence: u64,
    /// Its subject (`<dead-letter prefix>.<event type>`).
    pub subject: String,
    /// When it was stored.
    pub time: SystemTime,
    /// Its headers (the original's, less `Nats-*`, plus the `eventmap-*` ones): the values
    /// of each name, in order.
    pub headers: BTreeMap<String, Vec<String>>,
    /// The original payload.
    pub payload: Bytes,
}

impl DeadLetter {
    fn from_message(stream: &str, message: jetstream::message::StreamMessage) -> Self {
        let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, values) in message.headers.iter() {
            headers
                .entry(name.to_string())
                .or_default()
                .extend(values.iter().map(|v| v.as_str().to_owned()));
        }
        Self {
            stream: stream.to_owned(),
            sequence: message.sequence,
            subject: message.subject.to_string(),
            time: SystemTime::from(message.time),
            headers,
            payload: message.payload,
        }
    }

    /// The (first) value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .and_then(|(_, values)| values.first())
            .map(String::as_str)
    }

    /// The original's `ce-type`.
    pub fn event_type(&self) -> Option<&str> {
        self.header(eventmap::message::headers::TYPE)
    }

    /// Why it was dead-lettered.
    pub fn error(&self) -> Option<&str> {
        self.header(dead_letter::ERROR)
    }

    /// The durable consumer that gave up on it.
    pub fn durable(&self) -> Option<&str> {
        self.header(dead_letter::DURABLE)
    }

    /// Seconds since it was stored (0 for a clock behind the server's).
    pub fn age_secs(&self, now: SystemTime) -> u64 {
        now.duration_since(self.time).map_or(0, |d| d.as_secs())
    }

    /// Its id, with the stream when `qualified`.
    pub fn id(&self, qualified: bool) -> DeadLetterId {
        DeadLetterId {
            stream: qualified.then(|| self.stream.clone()),
            sequence: self.sequence,
        }
    }
}

/// The stream `name`, or `None` when it does not exist (no dead letter was ever written:
/// consumers create their dead-letter stream when they start).
///
/// # Errors
///
/// [`OpsError::JetStream`] for any other failure.
pub async fn stream(jetstream: &Context, name: &str) -> Result<Option<Stream>, OpsError> {
    match jetstream.get_stream(name).await {
        Ok(stream) => Ok(Some(stream)),
        Err(err) => match err.kind() {
            jetstream::context::GetStreamErrorKind::JetStream(inner)
                if inner.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND =>
            {
                Ok(None)
            }
            _ => Err(OpsError::jetstream(
                format!("cannot read the dead-letter stream `{name}`"),
                err,
            )),
        },
    }
}

/// Every dead letter of `sources`, in stream order (stream by stream), the progress bar
/// advanced by each.
///
/// # Errors
///
/// [`OpsError::JetStream`] when a stream cannot be read.
pub async fn scan(
    jetstream: &Context,
    sources: &[Source],
    progress: &ProgressBar,
) -> Result<Vec<DeadLetter>, OpsError> {
    let mut letters = Vec::new();
    for source in sources {
        let Some(stream) = self::stream(jetstream, &source.stream).await? else {
            continue;
        };
        for subject in &source.subjects {
            let filter = format!("{subject}.>");
            let mut next = 1;
            loop {
                let found = stream
                    .raw_message_builder()
                    .sequence(next)
                    .next_by_subject(filter.clone())
                    .send()
                    .await;
                let message = match found {
                    Ok(message) => message,
                    Err(err) if err.kind() == RawMessageErrorKind::NoMessageFound => break,
                    Err(err) => {
                        return Err(OpsError::jetstream(
                            format!(
                                "cannot read the dead-letter stream `{}` at sequence {next}",
                                source.stream
                            ),
                            err,
                        ));
                    }
                };
                next = message.sequence + 1;
                let letter = DeadLetter::from_message(&source.stream, message);
                progress.inc(1);
                if source.only_these_durables
                    && !letter
                        .durable()
                        .is_some_and(|d| source.durables.contains_key(d))
                {
                    continue;
                }
                letters.push(letter);
            }
        }
    }
    letters.sort_by(|a, b| (&a.stream, a.sequence).cmp(&(&b.stream, b.sequence)));
    Ok(letters)
}

/// Messages stored in the streams of `sources` (an upper bound of the dead letters a
/// [`scan`] reads, for its progress bar).
///
/// # Errors
///
/// [`OpsError::JetStream`].
pub async fn stored(jetstream: &Context, sources: &[Source]) -> Result<u64, OpsError> {
    let mut total = 0;
    for source in sources {
        if let Some(mut stream) = stream(jetstream, &source.stream).await? {
            let info = stream.info().await.map_err(|err| {
                OpsError::jetstream(format!("cannot read stream `{}`", source.stream), err)
            })?;
            total += info.state.messages;
        }
    }
    Ok(total)
}

/// The dead letter `id` among `sources`: `None` when there is none by that id (never
/// written, replayed, or purged).
///
/// # Errors
///
/// [`OpsError::Usage`] when a bare sequence is ambiguous (several dead-letter streams) or
/// names a stream that is not a source; [`OpsError::JetStream`].
pub async fn get(
    jetstream: &Context,
    sources: &[Source],
    id: &DeadLetterId,
) -> Result<Option<DeadLetter>, OpsError> {
    let source = resolve(sources, id)?;
    let Some(stream) = stream(jetstream, &source.stream).await? else {
        return Ok(None);
    };
    match stream.get_raw_message(id.sequence).await {
        Ok(message) => {
            let letter = DeadLetter::from_message(&source.stream, message);
            let subject_ok = source.subjects.iter().any(|prefix| {
                letter
                    .subject
                    .strip_prefix(prefix.as_str())
                    .is_some_and(|rest| rest.starts_with('.'))
            });
            let durable_ok = !source.only_these_durables
                || letter
                    .durable()
                    .is_some_and(|d| source.durables.contains_key(d));
            Ok((subject_ok && durable_ok).then_some(letter))
        }
        Err(err) if err.kind() == RawMessageErrorKind::NoMessageFound => Ok(None),
        Err(err) => Err(OpsError::jetstream(
            format!("cannot read dead letter {id}"),
            err,
        )),
    }
}

/// The source that `id` names.
fn resolve<'a>(sources: &'a [Source], id: &DeadLetterId) -> Result<&'a Source, OpsError> {
    let names = || {
        sources
            .iter()
            .map(|s| s.stream.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match &id.stream {
        Some(name) => sources.iter().find(|s| &s.stream == name).ok_or_else(|| {
            OpsError::Usage(format!(
                "`{name}` is not a dead-letter stream of the selected subscriptions ({})",
                names()
            ))
        }),
        None => match sources {
            [only] => Ok(only),
            [] => Err(OpsError::Usage(
                "no subscription of the table has a dead-letter channel".to_owned(),
            )),
            _ => Err(OpsError::Usage(format!(
                "dead letter {id} is ambiguous: the table dead-letters into several streams ({}); \
                 write STREAM:{id} or narrow with --subscription",
                names()
            ))),
        },
    }
}

/// Deletes dead letter `letter` from its stream; `false` when it was already gone.
///
/// # Errors
///
/// [`OpsError::JetStream`].
pub async fn delete(jetstream: &Context, letter: &DeadLetter) -> Result<bool, OpsError> {
    let Some(stream) = stream(jetstream, &letter.stream).await? else {
        return Ok(false);
    };
    match stream.delete_message(letter.sequence).await {
        Ok(deleted) => Ok(deleted),
        Err(err) => match err.kind() {
            DeleteMessageErrorKind::JetStream(inner)
                if inner.error_code() == jetstream::ErrorCode::NO_MESSAGE_FOUND
                    || inner.error_code() == jetstream::ErrorCode::SEQUENCE_NOT_FOUND =>
            {
                Ok(false)
            }
            _ => Err(OpsError::jetstream(
                format!(
                    "cannot delete dead letter {}:{}",
                    letter.stream, letter.sequence
                ),
                err,
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::DeadLetterId;

    #[test]
    fn ids_parse_with_and_without_stream() {
        assert_eq!(
            "42".parse::<DeadLetterId>(),
            Ok(DeadLetterId {
                stream: None,
                sequence: 42
            })
        );
        assert_eq!(
            "SEARCH_DLQ:7".parse::<DeadLetterId>(),
            Ok(DeadLetterId {
                stream: Some("SEARCH_DLQ".into()),
                sequence: 7
            })
        );
        assert!("0".parse::<DeadLetterId>().is_err());
        assert!(":3".parse::<DeadLetterId>().is_err());
        assert!("x".parse::<DeadLetterId>().is_err());
        assert_eq!(
            "S:9".parse::<DeadLetterId>().map(|id| id.to_string()),
            Ok("S:9".into())
        );
    }
}

#[cfg(test)]
mod source_tests {
    use super::*;

    fn service() -> Service {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/two-streams.yaml");
        eventmap_codegen::service::load(&path).expect("the fixture table is valid")
    }

    #[test]
    fn every_dead_letter_stream_once_with_its_durables() {
        let service = service();
        let all = sources(&service, None).expect("sources");
        let summary: Vec<_> = all
            .iter()
            .map(|s| {
                (
                    s.stream.as_str(),
                    s.subjects.clone(),
                    s.durables.keys().cloned().collect::<Vec<_>>(),
                    s.only_these_durables,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "OPS_CREATED_DLQ",
                    vec!["ops.created-dlq".to_owned()],
                    vec!["ops-created".to_owned()],
                    false
                ),
                (
                    "OPS_SHARED_DLQ",
                    vec!["ops.shared-dlq".to_owned()],
                    vec!["ops-canceled".to_owned(), "ops-readied".to_owned()],
                    false
                ),
            ]
        );
    }

    #[test]
    fn a_subscription_narrows_to_its_durable_by_name_or_durable() {
        let service = service();
        for name in ["readied", "ops-readied"] {
            let narrowed = sources(&service, Some(name)).expect("sources");
            assert_eq!(narrowed.len(), 1);
            assert_eq!(narrowed[0].stream, "OPS_SHARED_DLQ");
            assert!(narrowed[0].only_these_durables);
            assert_eq!(
                narrowed[0].durables.keys().collect::<Vec<_>>(),
                ["ops-readied"]
            );
        }
        let unknown = sources(&service, Some("nope")).unwrap_err().to_string();
        assert!(unknown.contains("has no subscription `nope`"), "{unknown}");
        assert!(
            unknown.contains("created (durable ops-created)"),
            "{unknown}"
        );
        let without = sources(&service, Some("completed"))
            .unwrap_err()
            .to_string();
        assert!(without.contains("has no dead-letter channel"), "{without}");
    }

    #[test]
    fn a_bare_sequence_is_ambiguous_across_streams() {
        let service = service();
        let all = sources(&service, None).expect("sources");
        let bare: DeadLetterId = "7".parse().expect("id");
        let err = resolve(&all, &bare).unwrap_err().to_string();
        assert!(
            err.contains("ambiguous") && err.contains("STREAM:7"),
            "{err}"
        );
        let qualified: DeadLetterId = "OPS_SHARED_DLQ:7".parse().expect("id");
        assert_eq!(
            resolve(&all, &qualified).expect("resolved").stream,
            "OPS_SHARED_DLQ"
        );
        let elsewhere: DeadLetterId = "OTHER:7".parse().expect("id");
        assert!(resolve(&all, &elsewhere).is_err());
        let narrowed = sources(&service, Some("created")).expect("sources");
        assert_eq!(
            resolve(&narrowed, &bare).expect("resolved").stream,
            "OPS_CREATED_DLQ"
        );
    }
}
