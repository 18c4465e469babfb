//! The mapping table as written in YAML (format v1), before any check against the protos.
//!
//! Every value that a later diagnostic may point at is kept with its location
//! ([`Spanned`]). Parsing follows the rules in `docs/mappings.md`: unknown keys and duplicate
//! keys are errors, scalars are taken as written (`NO` stays the string `"NO"`), merge keys
//! (`<<`) and aliases are expanded by the YAML parser.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};
use std::path::Path;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::{Location, Spanned};

use crate::diagnostic::SourceLocation;

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

/// The whole table (`mappings.yaml`): which domain event becomes which protobuf integration
/// event, on which channel, field by field (docs/mappings.md).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "eventmap mapping table (format v1)")]
pub struct Table {
    /// Format version; only `1` exists.
    // Kept as written and checked by the validator (rule `unsupported-version`), so that any
    // other value (past `u32`, negative, a word) is reported in the table's terms.
    #[schemars(with = "u32", range(min = 1, max = 1))]
    pub version: Spanned<String>,
    /// The producing service's name: the CloudEvents `ce-source` of its integration events.
    #[schemars(with = "String")]
    pub service: Spanned<String>,
    /// Where the `.proto` contracts are.
    pub protos: Protos,
    /// Rust paths the generated code uses, and where it is written.
    pub rust: RustSection,
    /// Channels by name.
    pub channels: IndexMap<Key, Channel>,
    /// Domain events by name (the dispatcher's event name, the Rust type name): the
    /// integration events each becomes, or `internal`.
    #[serde(default)]
    #[schemars(with = "IndexMap<Key, EventEntry>")]
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

/// `protos:`: the proto sources, relative to the table's folder.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Protos {
    /// Include directories (like protoc -I), relative to the table's folder.
    #[schemars(with = "Vec<String>")]
    pub include: Vec<Spanned<String>>,
    /// Files to compile, relative to an include directory.
    #[schemars(with = "Vec<String>")]
    pub files: Vec<Spanned<String>>,
}

/// `rust:`: where the domain events and the prost types live, and the output file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RustSection {
    /// Rust module of the domain event types, e.g. `crate::domain::events`; needed when the
    /// table maps domain events (a table that only consumes has none).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub domain_module: Option<Spanned<String>>,
    /// Rust module under which prost's generated packages are, e.g. `crate::proto`.
    #[schemars(with = "String")]
    pub proto_module: Spanned<String>,
    /// File that `eventmap generate` writes, relative to the table's folder.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub output: Option<Spanned<String>>,
}

/// One channel: a NATS subject prefix and the JetStream stream that holds it.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Channel {
    /// NATS subject prefix; events go to `<subject>.<integration event name>`.
    #[schemars(with = "String")]
    pub subject: Spanned<String>,
    /// JetStream stream name, the stream holding `<subject>.>`.
    #[schemars(with = "String")]
    pub stream: Spanned<String>,
    /// Copies of the stream in a JetStream cluster (`num_replicas`), as written: checked to be
    /// an integer from 1 to 5 (rule `invalid-replicas`); absent: 1.
    #[serde(default)]
    #[schemars(with = "Option<u8>", range(min = 1, max = 5))]
    pub replicas: Option<Spanned<String>>,
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

mod anchors;
mod duplicates;
mod fields;
mod flow;
mod indent;
mod mappings;
mod missing;
mod parse;
mod rows;
mod schema;
mod subscriptions;
mod tabs;

pub use fields::{FieldSource, FieldSpec, VariantTarget};
pub use mappings::NamedMapping;
pub use parse::parse;
pub use rows::{EventEntry, Integration};
pub use subscriptions::{Delivery, Received, Subscription};

#[cfg(test)]
mod tests;
