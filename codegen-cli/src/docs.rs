//! `eventmap docs`: documentation of the integration events a mapping table publishes and of
//! those it consumes (its `subscriptions:`), generated from the checked table and its
//! protos, for the teams on either side.
//!
//! Two files:
//! - `asyncapi.yaml` (module `asyncapi`): an AsyncAPI 3.0 document, one channel and one `send`
//!   operation per integration event published, one `receive` operation per event a
//!   subscription receives, messages with the CloudEvents headers as a headers schema and the
//!   protobuf payload (a self-contained `.proto` text: the message and every type it uses,
//!   without imports, module `payload_schema`);
//! - `events.md` (module `catalog`): an event catalog, one section per integration event published
//!   (subject, stream, producing domain event, fields and where their values come from,
//!   consumers, an example payload in the proto3 JSON mapping, module `example_payload`), one per
//!   subscription (durable consumer, channel, events, delivery policy, module `consumed`), with
//!   Mermaid diagrams of the flow (module `mermaid`).
//!
//! The text of the documents is in askama templates, `templates/docs/` of this crate, readable
//! as what they produce; the modules prepare their values.
//!
//! Output is deterministic: the same table and protos give the same bytes (table order where
//! the table gives one, sorted otherwise, no timestamps, no paths that depend on the working
//! directory), so the files can be committed and checked with `eventmap docs --check`.
//!
//! ```no_run
//! let analysis = eventmap_codegen::analyze("mappings.yaml".as_ref())?;
//! let docs = eventmap_codegen::docs::render(&analysis)?;
//! println!("{}", docs.events_md);
//! # Ok::<(), eventmap_codegen::Error>(())
//! ```

mod asyncapi;
mod catalog;
mod consumed;
mod example_payload;
mod mermaid;
pub(crate) mod payload_schema;
mod peers;
mod proto_source;
mod system_catalog;

use std::path::{Path, PathBuf};

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};

use crate::model::{Channel, DomainEvent, IntegrationEvent, Model};
use crate::protos::ProtoSet;
use crate::{Analysis, Error};

pub(crate) use consumed::Consumed;
pub use mermaid::split::{MAX_DIAGRAM_CHARS, MERMAID_MAX_TEXT_SIZE};
pub(crate) use peers::Peers;

/// File name of the AsyncAPI document.
pub const ASYNCAPI_FILE: &str = "asyncapi.yaml";
/// File name of the event catalog.
pub const CATALOG_FILE: &str = "events.md";
/// Where `eventmap docs` writes by default, relative to the mapping table's folder.
pub const DEFAULT_OUT_DIR: &str = "docs/generated";

/// The generated documentation of one mapping table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocsOutput {
    /// The AsyncAPI 3.0 document ([`ASYNCAPI_FILE`]).
    pub asyncapi_yaml: String,
    /// The event catalog with its Mermaid diagrams ([`CATALOG_FILE`]).
    pub events_md: String,
}

impl DocsOutput {
    /// The files to write into `dir`, each with its contents, in a fixed order.
    pub fn files(&self, dir: &Path) -> [(PathBuf, &str); 2] {
        [
            (dir.join(ASYNCAPI_FILE), self.asyncapi_yaml.as_str()),
            (dir.join(CATALOG_FILE), self.events_md.as_str()),
        ]
    }
}

/// What can stop the documentation from being generated once the table is valid. Each would
/// be a bug in eventmap (the model and its protos disagree).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DocsError {
    /// The analysis has a model but no compiled protos.
    #[error("the analysis has no compiled protos")]
    NoProtos,
    /// An integration event names a channel the model does not have.
    #[error("integration event `{event}` names channel `{channel}`, which the model does not have")]
    UnknownChannel {
        /// The integration event.
        event: String,
        /// The channel it names.
        channel: String,
    },
    /// A subscription names a channel the model does not have.
    #[error(
        "subscription `{subscription}` names channel `{channel}`, which the model does not have"
    )]
    UnknownSubscriptionChannel {
        /// The subscription.
        subscription: String,
        /// The channel it names.
        channel: String,
    },
    /// A message of the model is not in the compiled protos.
    #[error("proto message `{0}` is not in the compiled protos")]
    UnknownMessage(String),
    /// A mapped field is not a field of its proto message.
    #[error("proto message `{message}` has no field `{field}`")]
    UnknownField {
        /// Full name of the message.
        message: String,
        /// The field.
        field: String,
    },
    /// A sample value does not fit its field (example payloads).
    #[error("cannot build the example payload of `{message}`: field `{field}`: {problem}")]
    Example {
        /// Full name of the message.
        message: String,
        /// The field.
        field: String,
        /// What went wrong.
        problem: String,
    },
    /// The AsyncAPI document cannot be written as YAML.
    #[error("cannot write the AsyncAPI document as YAML: {0}")]
    Yaml(#[from] serde_saphyr::SerializeError),
    /// An example payload cannot be written as JSON.
    #[error("cannot write an example payload as JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A template of the event catalog or of a diagram cannot be rendered (a bug).
    #[error("cannot render a document template: {0}")]
    Template(#[from] askama::Error),
}

/// The documentation of the table `analysis` read: the AsyncAPI document and the event
/// catalog, of what the table publishes and what it consumes.
///
/// # Errors
/// [`Error::Invalid`] when the table has errors; [`Error::Docs`] when the documentation cannot
/// be built (a bug).
pub fn render(analysis: &Analysis) -> Result<DocsOutput, Error> {
    render_with(analysis, &Peers::default())
}

/// The documentation of one table, knowing its `peers`.
fn render_with(analysis: &Analysis, peers: &Peers) -> Result<DocsOutput, Error> {
    let model = analysis.model()?;
    let protos = analysis.protos.as_ref().ok_or(DocsError::NoProtos)?;
    let published = Published::collect(model, protos)?;
    let consumed = Consumed::collect(model, protos)?;
    Ok(DocsOutput {
        asyncapi_yaml: asyncapi::render(model, &published, &consumed, peers)?,
        events_md: catalog::render(model, &published, &consumed, peers)?,
    })
}

/// File name of the system catalog of several tables documented together.
pub const SYSTEM_CATALOG_FILE: &str = "system.md";

/// The documentation of several tables documented together: each table's documents, which
/// name its peers (the services that consume its channels, those whose events it consumes),
/// and the system catalog ([`SYSTEM_CATALOG_FILE`]): which service publishes and consumes
/// what, with the durable consumers, and the flow between the services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemDocs {
    /// Each table's documents, in the order of the tables: (table file, service, documents).
    pub tables: Vec<(PathBuf, String, DocsOutput)>,
    /// The system catalog.
    pub system_md: String,
}

impl SystemDocs {
    /// The files to write: without `out`, each table's documents in its
    /// [`default_out_dir`] and the system catalog next to the first table's; with `out`,
    /// each table's in `out/<service>` and the system catalog in `out`.
    pub fn files(&self, out: Option<&Path>) -> Vec<(PathBuf, &str)> {
        let mut files = Vec::new();
        for (table, service, docs) in &self.tables {
            let dir = out.map_or_else(|| default_out_dir(table), |o| o.join(service));
            files.extend(docs.files(&dir));
        }
        let first = self
            .tables
            .first()
            .map(|(table, ..)| default_out_dir(table));
        if let Some(dir) = out.map(Path::to_path_buf).or(first) {
            files.push((dir.join(SYSTEM_CATALOG_FILE), self.system_md.as_str()));
        }
        files
    }
}

/// The documentation of the tables `analyses` documented together (see [`SystemDocs`]).
///
/// # Errors
/// [`Error::Invalid`] when a table has errors; [`Error::Docs`] when the documentation cannot
/// be built (a bug).
pub fn render_system(analyses: &[Analysis]) -> Result<SystemDocs, Error> {
    let wiring = crate::system::wiring(analyses);
    let mut tables = Vec::new();
    for (index, analysis) in analyses.iter().enumerate() {
        let peers = Peers::of(&wiring, index);
        let docs = render_with(analysis, &peers)?;
        tables.push((
            analysis.file.clone(),
            analysis.model()?.service.clone(),
            docs,
        ));
    }
    let documented = analyses
        .iter()
        .map(|analysis| {
            Ok(system_catalog::Documented {
                file: &analysis.file,
                model: analysis.model()?,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(SystemDocs {
        tables,
        system_md: system_catalog::render(&documented, &wiring)?,
    })
}

/// Where `eventmap docs` writes for the table at `table` when no folder is given:
/// [`DEFAULT_OUT_DIR`] in the table's folder.
pub fn default_out_dir(table: &Path) -> PathBuf {
    crate::validate::table_dir(table).join(DEFAULT_OUT_DIR)
}

/// One integration event with everything the documentation says about it, in table order.
#[derive(Debug, Clone)]
pub(crate) struct Published<'a> {
    /// The domain event it is produced from.
    pub domain: &'a DomainEvent,
    /// The integration event.
    pub event: &'a IntegrationEvent,
    /// Its channel.
    pub channel: &'a Channel,
    /// Its proto message.
    pub message: MessageDescriptor,
    /// The subject it is published on: `<channel subject>.<integration event name>`.
    pub subject: String,
}

impl<'a> Published<'a> {
    /// Every integration event of `model`, in table order, resolved against `protos`.
    ///
    /// # Errors
    /// [`DocsError::UnknownChannel`] or [`DocsError::UnknownMessage`] when the model and the
    /// protos disagree (a bug).
    pub fn collect(model: &'a Model, protos: &ProtoSet) -> Result<Vec<Published<'a>>, DocsError> {
        let mut out = Vec::new();
        for domain in &model.events {
            for event in &domain.integrations {
                let channel = model
                    .channels
                    .iter()
                    .find(|c| c.name == event.channel)
                    .ok_or_else(|| DocsError::UnknownChannel {
                        event: event.name.clone(),
                        channel: event.channel.clone(),
                    })?;
                let message = protos
                    .message(&event.message.full_name)
                    .ok_or_else(|| DocsError::UnknownMessage(event.message.full_name.clone()))?;
                out.push(Published {
                    domain,
                    event,
                    channel,
                    message,
                    subject: format!("{}.{}", channel.subject, event.name),
                });
            }
        }
        Ok(out)
    }
}

/// The domain events of `model` that stay inside the service (`internal`), in table order.
pub(crate) fn internal_events(model: &Model) -> Vec<&str> {
    model
        .events
        .iter()
        .filter(|e| e.integrations.is_empty())
        .map(|e| e.name.as_str())
        .collect()
}

/// The streams of the published events with the subject filters of their channels
/// (`ordering.order.>`), sorted by stream name, each stream's filters sorted.
pub(crate) fn streams(published: &[Published<'_>]) -> Vec<(String, Vec<String>)> {
    let mut streams: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        std::collections::BTreeMap::new();
    for p in published {
        streams
            .entry(p.channel.stream.clone())
            .or_default()
            .insert(format!("{}.>", p.channel.subject));
    }
    streams
        .into_iter()
        .map(|(stream, subjects)| (stream, subjects.into_iter().collect()))
        .collect()
}

/// The proto type of `field` as it is written in a `.proto`: `string`, `repeated
/// ordering.v1.OrderItem`, `map<string, int64>`, `optional uint32`.
pub(crate) fn field_type(field: &FieldDescriptor) -> String {
    if field.is_map()
        && let Kind::Message(entry) = field.kind()
    {
        let key = kind_name(&entry.map_entry_key_field().kind());
        let value = kind_name(&entry.map_entry_value_field().kind());
        return format!("map<{key}, {value}>");
    }
    let base = kind_name(&field.kind());
    if field.is_list() {
        format!("repeated {base}")
    } else if field.field_descriptor_proto().proto3_optional() {
        format!("optional {base}")
    } else {
        base
    }
}

/// The name of a proto type: the scalar keyword, or the full name of a message or enum.
pub(crate) fn kind_name(kind: &Kind) -> String {
    match kind {
        Kind::Double => "double".into(),
        Kind::Float => "float".into(),
        Kind::Int32 => "int32".into(),
        Kind::Int64 => "int64".into(),
        Kind::Uint32 => "uint32".into(),
        Kind::Uint64 => "uint64".into(),
        Kind::Sint32 => "sint32".into(),
        Kind::Sint64 => "sint64".into(),
        Kind::Fixed32 => "fixed32".into(),
        Kind::Fixed64 => "fixed64".into(),
        Kind::Sfixed32 => "sfixed32".into(),
        Kind::Sfixed64 => "sfixed64".into(),
        Kind::Bool => "bool".into(),
        Kind::String => "string".into(),
        Kind::Bytes => "bytes".into(),
        Kind::Message(m) => m.full_name().to_owned(),
        Kind::Enum(e) => e.full_name().to_owned(),
    }
}

/// The field `name` of `message`.
///
/// # Errors
/// [`DocsError::UnknownField`] when there is none (a bug: the model is checked).
pub(crate) fn proto_field(
    message: &MessageDescriptor,
    name: &str,
) -> Result<FieldDescriptor, DocsError> {
    message
        .get_field_by_name(name)
        .ok_or_else(|| DocsError::UnknownField {
            message: message.full_name().to_owned(),
            field: name.to_owned(),
        })
}
