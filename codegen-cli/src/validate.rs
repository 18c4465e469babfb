//! Checks a parsed table against its protos and builds the [`Model`].
//!
//! Every problem found becomes a [`Diagnostic`]; the whole table is checked in one run so
//! that all problems are reported together, through a collector (`ctxt`). Each concern has a
//! file of its own; rules are those of [`rules`], documented in `docs/checks.md`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::diagnostic::Diagnostic;
use crate::model::Model;
use crate::protos::ProtoSet;
use crate::rules::{self};
use crate::table::Table;

mod ce_type;
mod channels;
mod constants;
mod contracts;
mod ctxt;
mod enums;
mod envelope;
mod events;
mod fields;
mod mappings;
mod names;
mod oneof;
mod proto_types;
mod sources;
pub(crate) mod subscriptions;
pub(crate) mod suggest;
mod version;

use ctxt::Ctxt;
/// The result of checking a table: the model when there were no errors, and every
/// diagnostic (errors and warnings) in table order.
#[derive(Debug)]
pub struct Checked {
    /// The model, present when no diagnostic is an error.
    pub model: Option<Model>,
    /// Every problem found.
    pub diagnostics: Vec<Diagnostic>,
}

/// Checks `table` (read from `file`, whose folder is `base`) against `protos`.
pub fn check(table: &Table, file: &Path, base: &Path, protos: &ProtoSet) -> Checked {
    let mut v = Validator {
        cx: Ctxt::new(file),
        protos,
        named_messages: HashMap::new(),
        used_mappings: HashSet::new(),
        mapping_uses: Vec::new(),
        in_mapping: None,
    };
    v.cx.extend(crate::proto_names::check(protos));
    v.cx.extend(crate::proto_enums::check(protos));
    let model = v.table(table, base);
    let diagnostics = v.cx.finish();
    let has_errors = diagnostics.iter().any(Diagnostic::is_error);
    Checked {
        model: if has_errors { None } else { Some(model) },
        diagnostics,
    }
}

struct Validator<'a> {
    /// Where problems are reported.
    cx: Ctxt<'a>,
    protos: &'a ProtoSet,
    /// The named message mappings declared under `mappings:`, by name.
    named_messages: HashMap<String, mappings::NamedMessage>,
    /// Names of the `mappings:` that a field of an event row or subscription uses.
    used_mappings: HashSet<String>,
    /// (user, used): a named message mapping whose fields use another mapping (or itself).
    /// A mapping only such uses reach from no row is unused.
    mapping_uses: Vec<(String, String)>,
    /// The named message mapping whose fields are being checked: they are converted from
    /// the domain value alone, without the event's envelope.
    in_mapping: Option<String>,
}

impl Validator<'_> {
    fn table(&mut self, table: &Table, base: &Path) -> Model {
        if let Some(problem) = version::problem(&table.version.value) {
            self.cx
                .error(
                    rules::UNSUPPORTED_VERSION,
                    table.version.referenced,
                    problem,
                )
                .hint = Some(version::hint());
        }
        self.service(&table.service);
        if let Some(module) = &table.rust.domain_module {
            self.rust_path(module, "rust.domain_module");
        }
        self.rust_path(&table.rust.proto_module, "rust.proto_module");
        let channels = self.channels(&table.channels);
        self.declare_mappings(table);
        let mut used_channels = HashSet::new();
        let events = self.domain_events(table, &mut used_channels);
        let subscriptions = self.subscriptions(table, &mut used_channels);
        let mappings = self.message_mappings(table);
        let contracts = contracts::of(self.protos, &events, &subscriptions);
        self.unused_mappings(table);
        self.ce_types(table);
        self.generated_names(table);
        self.unused_channels(table, &used_channels);
        let table_name = self.cx.file().file_name().map_or_else(
            || "mappings.yaml".to_owned(),
            |n| n.to_string_lossy().into_owned(),
        );
        Model {
            table_name,
            service: table.service.value.clone(),
            domain_module: table.rust.domain_module.as_ref().map(|m| m.value.clone()),
            proto_module: table.rust.proto_module.value.clone(),
            output: table.rust.output.as_ref().map(|o| base.join(&o.value)),
            channels,
            events,
            subscriptions,
            mappings,
            contracts,
        }
    }
}

/// The folder of a table file, for resolving relative paths in it.
pub fn table_dir(file: &Path) -> PathBuf {
    match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::new(),
    }
}
