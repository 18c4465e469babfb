//! Channels: subject prefixes, stream names, and references to channels.

use std::collections::{HashMap, HashSet};

use indexmap::IndexMap;
use serde_saphyr::Spanned;

use super::Validator;
use super::suggest::{list, suggest};
use crate::model::Channel;
use crate::rules;
use crate::rust_names;
use crate::table::{self, Key, Table};

impl Validator<'_> {
    /// Checks a subject prefix (rule `invalid-subject`); whether it is valid.
    pub(super) fn subject(&mut self, subject: &Spanned<String>) -> bool {
        let Err(why) = check_subject(&subject.value) else {
            return true;
        };
        self.cx
            .error(
                rules::INVALID_SUBJECT,
                subject.referenced,
                format!(
                    "`{}` is not a valid NATS subject prefix: {why}",
                    subject.value
                ),
            )
            .hint = Some(
            "use tokens of letters, digits, `-` and `_` separated by `.`, e.g. `ordering.order`"
                .into(),
        );
        false
    }

    /// Checks a stream name (rule `invalid-stream`); whether it is valid.
    pub(super) fn stream(&mut self, stream: &Spanned<String>) -> bool {
        let Err(why) = check_stream(&stream.value) else {
            return true;
        };
        self.cx
            .error(
                rules::INVALID_STREAM,
                stream.referenced,
                format!(
                    "`{}` is not a valid JetStream stream name: {why}",
                    stream.value
                ),
            )
            .hint = Some("use letters, digits, `-` and `_`, e.g. `ORDERING_ORDERS`".into());
        false
    }

    /// Checks a channel's `replicas:` (rule `invalid-replicas`); the count, or 1 when absent
    /// or invalid.
    pub(super) fn replicas(&mut self, replicas: Option<&Spanned<String>>) -> usize {
        let Some(replicas) = replicas else {
            return DEFAULT_REPLICAS;
        };
        match check_replicas(&replicas.value) {
            Ok(count) => count,
            Err(why) => {
                self.cx
                    .error(
                        rules::INVALID_REPLICAS,
                        replicas.referenced,
                        format!("`replicas: {}` {why}", replicas.value),
                    )
                    .hint = Some(format!(
                    "JetStream keeps 1 to {MAX_REPLICAS} copies of a stream; 3 survives the loss of one server of a cluster"
                ));
                DEFAULT_REPLICAS
            }
        }
    }

    pub(super) fn channels(&mut self, channels: &IndexMap<Key, table::Channel>) -> Vec<Channel> {
        let mut subjects: HashMap<&str, &str> = HashMap::new();
        // The first channel of each stream with a `replicas:`, and its count.
        let mut stream_replicas: HashMap<&str, (&str, usize)> = HashMap::new();
        let mut out = Vec::new();
        for (key, channel) in channels {
            if !rust_names::is_identifier(key.as_str()) {
                self.cx.error(
                    rules::INVALID_NAME,
                    key.location(),
                    format!("channel name `{}` is not a valid identifier", key.as_str()),
                );
            }
            if self.subject(&channel.subject)
                && let Some(other) = subjects.insert(&channel.subject.value, key.as_str())
            {
                self.cx.error(
                    rules::DUPLICATE_SUBJECT,
                    channel.subject.referenced,
                    format!(
                        "channels `{other}` and `{}` use the same subject `{}`",
                        key.as_str(),
                        channel.subject.value
                    ),
                );
            }
            self.stream(&channel.stream);
            let replicas = self.replicas(channel.replicas.as_ref());
            let (first, count) = *stream_replicas
                .entry(&channel.stream.value)
                .or_insert((key.as_str(), replicas));
            if count != replicas {
                self.cx
                    .error(
                        rules::INVALID_REPLICAS,
                        channel
                            .replicas
                            .as_ref()
                            .map_or(channel.stream.referenced, |r| r.referenced),
                        format!(
                            "channel `{}` gives stream `{}` {replicas} replica(s), channel `{first}` gives it {count}",
                            key.as_str(),
                            channel.stream.value
                        ),
                    )
                    .hint = Some("a stream has one replica count: write the same `replicas:` on every channel of the stream".into());
            }
            out.push(Channel {
                name: key.as_str().to_owned(),
                subject: channel.subject.value.clone(),
                stream: channel.stream.value.clone(),
                replicas,
            });
        }
        out
    }

    /// Checks that `channel` names a channel of the table and records it as used.
    pub(super) fn channel_ref(
        &mut self,
        table: &Table,
        channel: &Spanned<String>,
        used_channels: &mut HashSet<String>,
    ) -> bool {
        if table.channels.contains_key(channel.value.as_str()) {
            used_channels.insert(channel.value.clone());
            return true;
        }
        let known: Vec<&str> = table.channels.keys().map(Key::as_str).collect();
        let hint = suggest(&channel.value, known.iter().copied())
            .map(|s| format!("did you mean `{s}`?"))
            .unwrap_or_else(|| format!("channels in the table: {}", list(&known)));
        self.cx
            .error(
                rules::UNKNOWN_CHANNEL,
                channel.referenced,
                format!(
                    "channel `{}` is not defined under `channels:`",
                    channel.value
                ),
            )
            .hint = Some(hint);
        false
    }

    /// Reports the channels that no integration event or subscription uses.
    pub(super) fn unused_channels(&mut self, table: &Table, used_channels: &HashSet<String>) {
        for (key, _) in &table.channels {
            if !used_channels.contains(key.as_str()) {
                self.cx
                    .error(
                        rules::UNUSED_CHANNEL,
                        key.location(),
                        format!(
                            "channel `{}` is not used by any integration event or subscription",
                            key.as_str()
                        ),
                    )
                    .hint = Some(
                    "remove it, publish an integration event on it, or subscribe to it".into(),
                );
            }
        }
    }
}

/// Checks a NATS subject prefix (ADR-6 subject naming): non-empty tokens separated by `.`,
/// no whitespace, no wildcards `*` and `>`.
pub fn check_subject(subject: &str) -> Result<(), String> {
    if subject.is_empty() {
        return Err("it is empty".into());
    }
    for token in subject.split('.') {
        if token.is_empty() {
            return Err("it has an empty token (leading, trailing or doubled `.`)".into());
        }
        if let Some(c) = token
            .chars()
            .find(|c| c.is_whitespace() || *c == '*' || *c == '>')
        {
            return Err(format!("token `{token}` contains {c:?}"));
        }
        if token.chars().any(|c| c.is_control()) {
            return Err(format!("token `{token}` contains a control character"));
        }
    }
    Ok(())
}

/// Replicas of a channel without `replicas:` (JetStream's default).
pub const DEFAULT_REPLICAS: usize = 1;
/// The most replicas JetStream keeps of a stream (NATS docs, "Streams", field `Replicas`:
/// <https://docs.nats.io/nats-concepts/jetstream/streams>).
pub const MAX_REPLICAS: usize = 5;

/// Checks a `replicas:` value as written: a decimal integer from 1 to [`MAX_REPLICAS`].
pub fn check_replicas(text: &str) -> Result<usize, String> {
    let count: usize = text
        .parse()
        .map_err(|_| "is not an integer (write 1, 3 or 5)".to_owned())?;
    if (1..=MAX_REPLICAS).contains(&count) {
        Ok(count)
    } else {
        Err(format!(
            "is out of range: JetStream allows 1 to {MAX_REPLICAS}"
        ))
    }
}

/// Checks a JetStream stream name: non-empty, no whitespace, `.`, `*`, `>`, path separators
/// (NATS server's stream name rules).
pub fn check_stream(stream: &str) -> Result<(), String> {
    if stream.is_empty() {
        return Err("it is empty".into());
    }
    match stream
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || matches!(c, '.' | '*' | '>' | '/' | '\\'))
    {
        Some(c) => Err(format!("it contains {c:?}")),
        None => Ok(()),
    }
}
