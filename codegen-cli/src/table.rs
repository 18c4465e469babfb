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
    /// Domain events by name, each with the integration events it becomes.
    #[serde(default)]
    pub events: IndexMap<Key, Vec<Integration>>,
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
    /// Rust module of the domain event types, e.g. `crate::domain::events`.
    pub domain_module: Spanned<String>,
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
    /// Integration event name (the `ce-type`), e.g. `OrderCreatedEvent`.
    pub name: Spanned<String>,
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
    /// A dotted path into the domain event, e.g. `total.currency`.
    #[serde(default)]
    pub from: Option<Spanned<String>>,
    /// A conversion function applied to the `from` value, e.g. `crate::money::to_cents`.
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
}

impl<'de> Deserialize<'de> for FieldSource {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SourceVisitor;

        impl<'de> Visitor<'de> for SourceVisitor {
            type Value = FieldSource;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "`default` or a mapping with one of `from`, `envelope`, `const`, `default`",
                )
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<FieldSource, E> {
                if value == "default" {
                    Ok(FieldSource::Default)
                } else {
                    Err(E::invalid_value(de::Unexpected::Str(value), &self))
                }
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<FieldSource, A::Error> {
                FieldSpec::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|spec| FieldSource::Spec(Box::new(spec)))
            }
        }

        deserializer.deserialize_any(SourceVisitor)
    }
}

/// Parses a mapping table. `file` is only used to name the file in diagnostics.
///
/// # Errors
/// A [`Diagnostic`] with rule `yaml` and the line and column of the problem when the text
/// is not valid YAML or does not follow the format (unknown or duplicate key, wrong type).
pub fn parse(file: &Path, text: &str) -> Result<Table, Box<Diagnostic>> {
    let options = serde_saphyr::options! {
        strict_booleans: true,
    };
    serde_saphyr::from_str_with_options::<Table>(text, options).map_err(|err| {
        let location = err.location().map(|loc| location(file, loc));
        let message = yaml_message(&err);
        Box::new(Diagnostic::error("yaml", message).at(location))
    })
}

/// The message of a serde-saphyr error, without its own location prefix and snippet.
fn yaml_message(err: &serde_saphyr::Error) -> String {
    let options = serde_saphyr::render_options! {
        snippets: serde_saphyr::SnippetMode::Off,
    };
    let text = err.render_with_options(options);
    let first = text.lines().next().unwrap_or_default().trim();
    strip_location_suffix(first).to_owned()
}

/// serde-saphyr appends ` at line L, column C` to its messages: the location is ours to print.
fn strip_location_suffix(text: &str) -> &str {
    match text.rfind(" at line ") {
        Some(i) => &text[..i],
        None => text,
    }
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

#[cfg(test)]
mod tests;
