//! The mapping table as written in YAML (format v1), before any check against the protos.
//!
//! Every value that a later diagnostic may point at is kept with its location
//! ([`Spanned`]). Parsing follows the rules in `docs/mappings.md`: unknown keys and duplicate
//! keys are errors, scalars are taken as written (`NO` stays the string `"NO"`), merge keys
//! (`<<`) and aliases are expanded by the YAML parser.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::path::Path;

use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_saphyr::{Location, Spanned};

use crate::diagnostic::{Diagnostic, SourceLocation};
use crate::rules;

/// A mapping key with its location; equality, order and hash use the text only.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct Key(pub Spanned<String>);

impl Key {
    /// The key's text.
    pub fn as_str(&self) -> &str {
        &self.0.value
    }

    /// Where the key is written.
    pub fn location(&self) -> Location {
        self.0.referenced
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.0.value == other.0.value
    }
}
impl Eq for Key {}
impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.value.hash(state);
    }
}
impl Borrow<str> for Key {
    fn borrow(&self) -> &str {
        &self.0.value
    }
}

/// The whole table (`mappings.yaml`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    /// Format version; only `1` exists.
    pub version: Spanned<u32>,
    /// The producing service's name: the CloudEvents `ce-source` of its integration events.
    pub service: Spanned<String>,
    /// Where the `.proto` contracts are.
    pub protos: Protos,
    /// Rust paths the generated code uses, and where it is written.
    pub rust: RustSection,
    /// Channels by name.
    pub channels: IndexMap<Key, Channel>,
    /// Domain events by name: the integration events each becomes, or `internal`.
    #[serde(default)]
    pub events: IndexMap<Key, Spanned<EventEntry>>,
    /// What the service consumes, by subscription name: the integration events of another
    /// service's channel that it receives, with its durable consumer and delivery policy.
    #[serde(default)]
    pub subscriptions: IndexMap<Key, Subscription>,
    /// Named mappings, declared once and used by any field with `mapping: <name>`: an enum
    /// mapping (`enum` + `values`), a oneof mapping (`enum` + `variants`) or a message
    /// mapping (`message` + `type` + `fields`, which may use itself: recursive messages).
    #[serde(default)]
    pub mappings: IndexMap<Key, NamedMapping>,
}

/// One named mapping (`mappings.<name>`). Which keys it has says what it is:
/// - `enum` + `values`: a domain enum onto a proto enum, used on enum fields;
/// - `enum` + `variants`: a domain enum onto a proto `oneof`, used on the oneof's name;
/// - `message` + `type` + `fields`: a domain type onto a proto message, used on message
///   fields (singular, `optional`, `repeated`, map values, oneof members).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedMapping {
    /// Rust path of the domain enum.
    #[serde(default, rename = "enum")]
    pub enum_type: Option<Spanned<String>>,
    /// Domain enum variant -> proto enum value name.
    #[serde(default)]
    pub values: Option<IndexMap<Key, Spanned<String>>>,
    /// Domain enum variant -> the oneof member it fills (or `none`).
    #[serde(default)]
    pub variants: Option<IndexMap<Key, Spanned<VariantTarget>>>,
    /// Full name of the proto message that a message mapping builds.
    #[serde(default)]
    pub message: Option<Spanned<String>>,
    /// Rust path of the domain type that a message mapping builds it from.
    #[serde(default, rename = "type")]
    pub rust_type: Option<Spanned<String>>,
    /// Proto field name -> where its value comes from, in the domain type.
    #[serde(default)]
    pub fields: Option<IndexMap<Key, Spanned<FieldSource>>>,
}

/// One declared subscription (`subscriptions.<name>`): a durable consumer on one channel.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscription {
    /// The channel consumed (a key of `channels:`, which gives the producer's subject prefix
    /// and stream).
    pub channel: Spanned<String>,
    /// The producer's proto package; message names under `events:` without a `.` are taken
    /// in it.
    #[serde(default)]
    pub package: Option<Spanned<String>>,
    /// The durable consumer name; `<service>-<subscription name>` when absent.
    #[serde(default)]
    pub durable: Option<Spanned<String>>,
    /// Integration event name (last subject token) -> what is received: the proto message,
    /// and the `ce-type` when the producer gives the event one of its own.
    pub events: IndexMap<Key, Spanned<Received>>,
    /// Acknowledgement, redelivery and dead-letter policy; runtime defaults when absent.
    #[serde(default)]
    pub delivery: Option<Delivery>,
}

/// One event a subscription receives (the value under `subscriptions.<name>.events.<Event>`).
#[derive(Debug)]
pub enum Received {
    /// `OrderCreatedEvent: OrderCreated`: the proto message; the `ce-type` is the event name.
    Message(String),
    /// `OrderCreatedEvent: { message: OrderCreated, ce_type: com.example.ordering.OrderCreated }`:
    /// the proto message and the producer's CloudEvents type of the event.
    Typed(TypedReceived),
}

/// The long form of [`Received`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypedReceived {
    /// The proto message (full name, or a name in the subscription's `package`).
    pub message: Spanned<String>,
    /// The CloudEvents `ce-type` the producer writes; the event name when absent.
    #[serde(default)]
    pub ce_type: Option<Spanned<String>>,
}

impl Received {
    /// The proto message as written, located (`entry` is this value with its location).
    pub fn message(entry: &Spanned<Received>) -> Spanned<String> {
        match &entry.value {
            Received::Message(message) => Spanned {
                value: message.clone(),
                referenced: entry.referenced,
                defined: entry.defined,
            },
            Received::Typed(typed) => typed.message.clone(),
        }
    }

    /// The `ce-type` written, when the long form gives one.
    pub fn ce_type(&self) -> Option<&Spanned<String>> {
        match self {
            Received::Message(_) => None,
            Received::Typed(typed) => typed.ce_type.as_ref(),
        }
    }
}

impl<'de> Deserialize<'de> for Received {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ReceivedVisitor;

        impl<'de> Visitor<'de> for ReceivedVisitor {
            type Value = Received;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a proto message name, or `{ message: Message, ce_type: com.example.Type }`",
                )
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<Received, E> {
                Ok(Received::Message(value.to_owned()))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Received, A::Error> {
                TypedReceived::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(Received::Typed)
            }
        }

        deserializer.deserialize_any(ReceivedVisitor)
    }
}

/// `delivery:` of a subscription. Durations are written as humantime text (`500ms`, `30s`,
/// `2m`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delivery {
    /// Where a new durable consumer starts: `all` (the stream's history) or `new`.
    #[serde(default)]
    pub deliver: Option<Spanned<String>>,
    /// How long the server waits for an ack before redelivering.
    #[serde(default)]
    pub ack_wait: Option<Spanned<String>>,
    /// Deliveries of one message in all, the first included.
    #[serde(default)]
    pub max_deliver: Option<Spanned<i64>>,
    /// Redelivery delay after each failed delivery (the last one repeats).
    #[serde(default)]
    pub backoff: Option<Vec<Spanned<String>>>,
    /// Where messages that exhausted their deliveries, or cannot be decoded, are published.
    #[serde(default)]
    pub dead_letter: Option<Channel>,
}

/// What a domain event becomes.
#[derive(Debug)]
pub enum EventEntry {
    /// `internal`, or `{ internal: true, type: crate::path::Payload }`: the domain event stays
    /// inside the service, on purpose; the type, when its payload is not
    /// `<domain_module>::<DomainEventName>` (a payload type shared with published names).
    Internal(Option<Spanned<String>>),
    /// The integration events it is published as (one or more).
    Integrations(Vec<Integration>),
}

impl EventEntry {
    /// The integration events (none for an internal event).
    pub fn integrations(&self) -> &[Integration] {
        match self {
            EventEntry::Internal(_) => &[],
            EventEntry::Integrations(list) => list,
        }
    }
}

impl<'de> Deserialize<'de> for EventEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntryVisitor;

        impl<'de> Visitor<'de> for EntryVisitor {
            type Value = EventEntry;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "`internal`, `{ internal: true, type: crate::path::Payload }` or a list of integration events",
                )
            }

            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<EventEntry, A::Error> {
                let typed = TypedInternal::deserialize(de::value::MapAccessDeserializer::new(map))?;
                if !typed.internal {
                    return Err(de::Error::custom(
                        "`internal: false` says nothing: write the integration events as a list, or `internal: true`",
                    ));
                }
                Ok(EventEntry::Internal(Some(typed.rust_type)))
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<EventEntry, E> {
                if value == "internal" {
                    Ok(EventEntry::Internal(None))
                } else {
                    Err(E::invalid_value(de::Unexpected::Str(value), &self))
                }
            }

            fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<EventEntry, A::Error> {
                Vec::<Integration>::deserialize(de::value::SeqAccessDeserializer::new(seq))
                    .map(EventEntry::Integrations)
            }
        }

        deserializer.deserialize_any(EntryVisitor)
    }
}

/// `{ internal: true, type: crate::path::Payload }`: an internal domain event of a given type.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TypedInternal {
    /// Must be `true`.
    internal: bool,
    /// The Rust type of the domain event's payload.
    #[serde(rename = "type")]
    rust_type: Spanned<String>,
}

/// `protos:`: the proto sources, relative to the table's folder.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Protos {
    /// Include directories (`-I` of protoc).
    pub include: Vec<Spanned<String>>,
    /// Files to compile, relative to an include directory.
    pub files: Vec<Spanned<String>>,
}

/// `rust:`: where the domain events and the prost types live, and the output file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RustSection {
    /// Rust module of the domain event types, e.g. `crate::domain::events`; needed when the
    /// table maps domain events (a table that only consumes has none).
    #[serde(default)]
    pub domain_module: Option<Spanned<String>>,
    /// Rust module under which prost's generated packages are, e.g. `crate::proto`.
    pub proto_module: Spanned<String>,
    /// File that `eventmap generate` writes, relative to the table's folder.
    #[serde(default)]
    pub output: Option<Spanned<String>>,
}

/// One channel: a NATS subject prefix and the JetStream stream that holds it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Channel {
    /// Subject prefix; events go to `<subject>.<integration event name>`.
    pub subject: Spanned<String>,
    /// JetStream stream name.
    pub stream: Spanned<String>,
}

/// One integration event that a domain event becomes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Integration {
    /// Integration event name, e.g. `OrderCreatedEvent`: the last subject token, the Rust
    /// names, and the `ce-type` unless [`Self::ce_type`] gives another.
    pub name: Spanned<String>,
    /// The CloudEvents `ce-type`, when it is not the name (e.g. the reverse-DNS
    /// `com.example.ordering.OrderCreated`).
    #[serde(default)]
    pub ce_type: Option<Spanned<String>>,
    /// Full proto message name, e.g. `ordering.v1.OrderCreated`.
    pub message: Spanned<String>,
    /// Channel name (a key of `channels:`).
    pub channel: Spanned<String>,
    /// Rust type of the domain event, when it is not `<domain_module>::<DomainEventName>`.
    #[serde(default, rename = "type")]
    pub rust_type: Option<Spanned<String>>,
    /// Proto field name -> where its value comes from.
    pub fields: IndexMap<Key, Spanned<FieldSource>>,
}

/// Where one proto field's value comes from.
#[derive(Debug)]
pub enum FieldSource {
    /// `default`: the field is left at its proto default, on purpose.
    Default,
    /// A mapping with exactly one of `from`, `envelope`, `const`, `default`.
    Spec(Box<FieldSpec>),
}

/// The mapping form of a field source.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    /// A dotted path into the domain value in scope (the domain event's payload, a collection
    /// element, a map value, an enum variant's content), e.g. `total.currency`; `self` is that
    /// value itself, which is also what a spec with `with`, `fields` or `mapping` and no
    /// `from` takes.
    #[serde(default)]
    pub from: Option<Spanned<String>>,
    /// A conversion function applied to the `from` value (by reference), e.g.
    /// `crate::money::to_cents`; without `from`, to the whole domain value in scope.
    #[serde(default)]
    pub with: Option<Spanned<String>>,
    /// An envelope value: `event_id`, `integration_event_id`, `event_name`, `aggregate_id`,
    /// `aggregate_name`, `aggregate_version`, `occurred_at`.
    #[serde(default)]
    pub envelope: Option<Spanned<String>>,
    /// A constant, as written.
    #[serde(default, rename = "const")]
    pub constant: Option<Spanned<String>>,
    /// `default: true`, the long form of `default`.
    #[serde(default)]
    pub default: Option<Spanned<bool>>,
    /// A nested mapping for a message field or each element of a repeated message field.
    #[serde(default)]
    pub fields: Option<IndexMap<Key, Spanned<FieldSource>>>,
    /// `checked: true`: convert with a range check (`TryFrom`), for narrowings such as
    /// `u32` into `int32` that `IntoProto` does not offer.
    #[serde(default)]
    pub checked: Option<Spanned<bool>>,
    /// Rust path of the domain enum mapped onto a proto enum field with `values`.
    #[serde(default, rename = "enum")]
    pub enum_type: Option<Spanned<String>>,
    /// Domain enum variant -> proto enum value name (as written in the `.proto`).
    #[serde(default)]
    pub values: Option<IndexMap<Key, Spanned<String>>>,
    /// On a oneof's name: domain enum variant -> the oneof member it fills, with the member's
    /// value taken from the variant's content (or `none`: the oneof is left unset).
    #[serde(default)]
    pub variants: Option<IndexMap<Key, Spanned<VariantTarget>>>,
    /// The name of a mapping declared under `mappings:`, used for this field (or each of its
    /// elements or map values).
    #[serde(default)]
    pub mapping: Option<Spanned<String>>,
}

/// What one domain enum variant becomes in a oneof (`variants:`).
#[derive(Debug)]
pub enum VariantTarget {
    /// `none`: the oneof is left unset for this variant.
    Unset,
    /// `{ member: <field source> }`: the member it fills (exactly one entry, checked by the
    /// validator) and where the member's value comes from, in the variant's content.
    Member(IndexMap<Key, Spanned<FieldSource>>),
}

impl<'de> Deserialize<'de> for VariantTarget {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(KeywordOrMap {
            keyword: "none",
            keyword_value: VariantTarget::Unset,
            expecting: "`none` or `{ <oneof member>: <field source> }`",
            from_map: VariantTarget::Member,
            map: std::marker::PhantomData,
        })
    }
}

impl<'de> Deserialize<'de> for FieldSource {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(KeywordOrMap {
            keyword: "default",
            keyword_value: FieldSource::Default,
            expecting: "`default` or a mapping with one of `from`, `envelope`, `const`, `default`",
            from_map: |spec: FieldSpec| FieldSource::Spec(Box::new(spec)),
            map: std::marker::PhantomData,
        })
    }
}

/// A value written either as one keyword (`default`, `none`) or as a mapping read as `M`.
struct KeywordOrMap<M, T> {
    /// The keyword.
    keyword: &'static str,
    /// The value the keyword stands for.
    keyword_value: T,
    /// What the value may be, for serde's error.
    expecting: &'static str,
    /// The value of a mapping.
    from_map: fn(M) -> T,
    map: std::marker::PhantomData<M>,
}

impl<'de, M: Deserialize<'de>, T> Visitor<'de> for KeywordOrMap<M, T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<T, E> {
        if value == self.keyword {
            Ok(self.keyword_value)
        } else {
            Err(E::invalid_value(de::Unexpected::Str(value), &self))
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        M::deserialize(de::value::MapAccessDeserializer::new(map)).map(self.from_map)
    }
}

/// Parses a mapping table. `file` is only used to name the file in diagnostics.
///
/// # Errors
/// A [`Diagnostic`] with rule `yaml` and the line and column of the problem when the text
/// is not valid YAML or does not follow the format (unknown or duplicate key, wrong type).
pub fn parse(file: &Path, text: &str) -> Result<Table, Box<Diagnostic>> {
    // Deserializing the 64 levels of nesting YAML allows takes more than 2 MiB of stack in a
    // debug build, the default size of a spawned thread (and of test threads): a stack
    // overflow aborts the process. Parse on a thread with room to spare.
    std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new()
            .name("eventmap-yaml".into())
            .stack_size(PARSE_STACK_BYTES)
            .spawn_scoped(scope, || parse_on_this_thread(file, text));
        match spawned {
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            Err(_) => parse_on_this_thread(file, text),
        }
    })
}

/// Stack of the thread that parses a table (see [`parse`]); only what is used is committed.
const PARSE_STACK_BYTES: usize = 64 << 20;

fn parse_on_this_thread(file: &Path, text: &str) -> Result<Table, Box<Diagnostic>> {
    let options = serde_saphyr::options! {
        strict_booleans: true,
        // serde-saphyr's default budget (250,000 nodes, 1,000,000 events) refuses tables of
        // more than about 3,500 events. Size is bounded by the text itself; what must stay
        // bounded is alias expansion, which `alias_limits` caps below.
        budget: serde_saphyr::budget! {
            max_nodes: MAX_NODES,
            max_events: 3 * MAX_NODES,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: MAX_REPLAYED_EVENTS,
        },
    };
    serde_saphyr::from_str_with_options::<Table>(text, options)
        .map_err(|err| Box::new(yaml_diagnostic(file, text, &err)))
}

/// Most YAML nodes (scalars, mappings, sequences) a table may have: about 70 per event, so
/// tables of well over 50,000 events.
const MAX_NODES: usize = 5_000_000;

/// Most parser events that aliases may replay in one table: far more than anchors and merge
/// keys need, far less than an "alias bomb" (aliases of aliases) expands to.
const MAX_REPLAYED_EVENTS: usize = 250_000;

/// The diagnostic for a serde-saphyr error: its message without serde-saphyr's location
/// suffix, at the error's location, with a note at the anchor when an alias is involved.
fn yaml_diagnostic(file: &Path, text: &str, err: &serde_saphyr::Error) -> Diagnostic {
    use serde_saphyr::Error as E;
    let mut original = err;
    let mut anchor = None;
    loop {
        match original {
            E::AliasError {
                error, locations, ..
            } => {
                anchor = anchor.or(Some(locations.defined_location));
                original = error;
            }
            E::WithSnippet { error, .. } => original = error,
            _ => break,
        }
    }
    let located = err
        .location()
        .filter(|loc| loc.line() > 0 && loc.column() > 0);
    let message = yaml_message(original, text, anchor.is_some());
    let error_line = located.and_then(|l| usize::try_from(l.line()).ok());
    if let Some(open) = error_line.and_then(|line| flow::unclosed(text, original, line)) {
        return unclosed_diagnostic(file, &message, open, located);
    }
    let mut diagnostic =
        Diagnostic::new(rules::YAML, message).at(located.map(|l| location(file, l)));
    if let Some(defined) = anchor.filter(|d| d.line() > 0 && d.column() > 0 && Some(*d) != located)
    {
        diagnostic = diagnostic.note(
            "the alias refers to the anchor defined here",
            Some(location(file, defined)),
        );
    }
    if let Some(hint) = yaml_hint(original, text, located, anchor.is_some()) {
        diagnostic = diagnostic.hint(hint);
    }
    diagnostic
}

/// The diagnostic for a flow collection that is not closed: at its bracket, with a note
/// where the parser noticed (the next key, or the end of the file).
fn unclosed_diagnostic(
    file: &Path,
    message: &str,
    open: flow::OpenBracket,
    noticed: Option<Location>,
) -> Diagnostic {
    let (close, what) = if open.bracket == '{' {
        ('}', "flow mapping")
    } else {
        (']', "flow sequence")
    };
    Diagnostic::new(
        rules::YAML,
        format!(
            "`{}` is not closed: the {what} opened here has no `{close}` ({message})",
            open.bracket
        ),
    )
    .at(Some(SourceLocation {
        file: file.to_path_buf(),
        line: open.line,
        column: open.column,
        len: 1,
    }))
    .note(
        "the YAML parser noticed here",
        noticed.map(|l| location(file, l)),
    )
    .hint(format!(
        "close it with `{close}` (on its line, for a one-line {what}), or separate its entries with `,`"
    ))
}

/// The message of a serde-saphyr error (already unwrapped from alias and snippet wrappers),
/// in the table's terms where serde-saphyr's own words name its API or its internals.
/// `through_alias` says whether the error happened while an alias was expanded.
fn yaml_message(err: &serde_saphyr::Error, text: &str, through_alias: bool) -> String {
    use serde_saphyr::budget::BudgetBreach as B;
    use serde_saphyr::{Error as E, MessageFormatter as _};
    let too_large = if through_alias {
        "aliases expand the table beyond"
    } else {
        "the table has more than"
    };
    match err {
        E::Eof { .. } if is_blank(text) => "the file is empty".to_owned(),
        E::MultipleDocuments { .. } => {
            "the file holds more than one YAML document (`---`); a mapping table is one document"
                .to_owned()
        }
        E::DuplicateMappingKey { key: Some(key), .. } => format!("duplicate key `{key}`"),
        E::DuplicateMappingKey { key: None, .. } => "duplicate key".to_owned(),
        E::Budget {
            breach: B::Depth { .. },
            ..
        } => format!(
            "the table is nested deeper than {} levels",
            serde_saphyr::Budget::default().max_depth
        ),
        E::Budget {
            breach: B::Nodes { .. },
            ..
        } => format!("{too_large} {MAX_NODES} YAML nodes"),
        E::Budget {
            breach: B::Events { .. },
            ..
        } => format!("{too_large} {} YAML events", 3 * MAX_NODES),
        E::Budget { breach, .. } => {
            format!("the table is too large or has too many aliases ({breach:?})")
        }
        E::AliasReplayLimitExceeded { .. }
        | E::AliasExpansionLimitExceeded { .. }
        | E::AliasReplayStackDepthExceeded { .. }
        | E::AliasReplayCounterOverflow { .. } => {
            format!("aliases expand to more than {MAX_REPLAYED_EVENTS} YAML events")
        }
        other => {
            let message = serde_saphyr::DefaultMessageFormatter.format_message(other);
            // Values quoted in the message may hold line breaks or other control characters.
            message
                .chars()
                .flat_map(|c| {
                    let escaped: Vec<char> = if c.is_control() {
                        c.escape_debug().collect()
                    } else {
                        vec![c]
                    };
                    escaped
                })
                .collect()
        }
    }
}

/// A suggested fix for the errors where one is clear.
/// `through_alias` says whether the error happened while an alias was expanded.
fn yaml_hint(
    err: &serde_saphyr::Error,
    text: &str,
    at: Option<Location>,
    through_alias: bool,
) -> Option<String> {
    use serde_saphyr::Error as E;
    use serde_saphyr::budget::BudgetBreach as B;
    match err {
        E::Eof { .. } if is_blank(text) => {
            Some("a mapping table starts with `version: 1`; see docs/mappings.md".into())
        }
        E::Budget {
            breach: B::Depth { .. },
            ..
        } => None,
        E::Budget { .. } if !through_alias => None,
        E::Budget { .. }
        | E::AliasReplayLimitExceeded { .. }
        | E::AliasExpansionLimitExceeded { .. }
        | E::AliasReplayStackDepthExceeded { .. }
        | E::AliasReplayCounterOverflow { .. } => Some(
            "aliases of aliases multiply (an \"alias bomb\"); write the values out or nest fewer aliases"
                .into(),
        ),
        _ => {
            // YAML allows an implicit (unmarked) key of at most 1024 characters.
            let at = at?;
            let line = text
                .lines()
                .nth(usize::try_from(at.line()).ok()?.checked_sub(1)?)?;
            let key_len = line
                .chars()
                .skip(usize::try_from(at.column()).ok()?.saturating_sub(1))
                .take_while(|c| *c != ':')
                .count();
            (key_len > 1024).then(|| {
                "YAML limits a key to 1024 characters unless it is written as an explicit key (`? key`)"
                    .to_owned()
            })
        }
    }
}

/// Whether `text` holds no YAML content (only blank lines and comments).
fn is_blank(text: &str) -> bool {
    text.lines().all(|line| {
        let line = line.trim();
        line.is_empty() || line.starts_with('#')
    })
}

/// Converts a serde-saphyr location into ours; `len` is the span's length in characters.
pub fn location(file: &Path, loc: Location) -> SourceLocation {
    SourceLocation {
        file: file.to_path_buf(),
        line: usize::try_from(loc.line()).unwrap_or(usize::MAX),
        column: usize::try_from(loc.column()).unwrap_or(usize::MAX),
        len: usize::try_from(loc.span().len()).unwrap_or(1).max(1),
    }
}

mod flow;

#[cfg(test)]
mod tests;
