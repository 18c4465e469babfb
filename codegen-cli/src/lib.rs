//! eventmap's code generator: the mapping model, proto loading, validation and code emission
//! behind the `eventmap` CLI and the [`Builder`] for `build.rs`.
//!
//! Data flows one way: the YAML table and the protos are checked into a model, from which
//! the emitter writes Rust code; [`analyze`] runs the checks, [`Analysis::generate`] the
//! emitter, and the [`Builder`] both from `build.rs`.
//! Every problem found is a [`Diagnostic`] of a rule of the registry ([`rules`]).
//!
//! ```no_run
//! let analysis = eventmap_codegen::analyze("mappings.yaml".as_ref())?;
//! if analysis.has_errors() {
//!     eprintln!("{}", analysis.render());
//! } else {
//!     println!("{}", analysis.generate()?);
//! }
//! # Ok::<(), eventmap_codegen::Error>(())
//! ```
//!
//! # Public API
//!
//! [`Builder`] (for `build.rs`), [`analyze`] / [`analyze_str`] and their [`Analysis`],
//! [`Error`], the [`Diagnostic`] type with its [`Severity`], [`SourceLocation`] and
//! [`Sources`], the machine-readable formats in [`report`], and [`service`] (a checked
//! table as an operations tool sees it: channels, subscriptions, descriptors). With the `cli` feature
//! (default), also what the `eventmap` binary runs: [`docs`] (the AsyncAPI document and the
//! event catalog), [`breaking`] (the breaking-change check against a baseline) and
//! [`permissions`] (the NATS permissions of a service). The table
//! parser, the model, the validator and the emitter are private: a proc-macro crate that
//! depends on this library with `default-features = false` compiles only them, not the
//! documents or the breaking-change check. The `__private` module is the door for
//! `eventmap-macros`, the binary and this project's own tests and benchmarks; it is not
//! public API and changes without notice.
//!
//! Several tables, the services of one system, are checked and documented together by
//! [`system`] (with the `cli` feature): the consumers' subscriptions against the producers'
//! tables, and who consumes what.
#![deny(missing_docs)]
#![warn(rust_2018_idioms)]

#[cfg(feature = "cli")]
pub mod breaking;
mod builder;
#[cfg(feature = "cli")]
mod committed;
#[cfg(feature = "cli")]
pub mod contract_registry;
mod derive;
mod diagnostic;
#[cfg(feature = "cli")]
pub mod docs;
mod emit;
#[cfg(feature = "cli")]
pub mod explain;
#[cfg(feature = "cli")]
pub mod init;
mod model;
#[cfg(feature = "cli")]
pub mod permissions;
mod proto_enums;
mod proto_names;
mod protos;
pub mod report;
pub mod rules;
mod rust_names;
pub mod schema;
pub mod service;
#[cfg(feature = "cli")]
pub mod system;
mod table;
mod validate;

/// Not public API: the internals that `eventmap-macros`, the `eventmap` binary and this
/// project's tests and benchmarks reach. Anything here may change in any release.
#[doc(hidden)]
pub mod __private {
    #[cfg(feature = "cli")]
    pub use crate::committed::{Freshness, freshness, unified_diff, write_if_changed};
    pub use crate::derive::{domain_event, integration_event, subscriptions};
    #[cfg(feature = "cli")]
    pub use crate::docs::payload_schema::{PayloadSchema, payload_schema};
    pub use crate::model::Model;
    pub use crate::proto_names::check as check_proto_names;
    pub use crate::protos::ProtoSet;
    pub use crate::table::{Table, parse as parse_table};
    pub use crate::validate::{check as validate, table_dir};
}

use std::path::{Path, PathBuf};

pub use builder::Builder;
pub use diagnostic::{Diagnostic, Severity, SourceLocation, Sources};

/// What can stop eventmap from checking or generating at all (as opposed to problems in the
/// table, which are [`Diagnostic`]s).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read or written.
    #[error("cannot {action} `{path}`: {source}")]
    Io {
        /// `read` or `write`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The table has errors; `rendered` holds them in text form.
    #[error("the mapping table has errors:\n{rendered}")]
    Invalid {
        /// Every diagnostic.
        diagnostics: Vec<Diagnostic>,
        /// The diagnostics rendered with snippets.
        rendered: String,
    },
    /// The table names no output file (`rust.output`) but one is needed.
    #[error("`{0}` does not name an output file (`rust.output`)")]
    NoOutput(PathBuf),
    /// `rust.output` names a file that exists and that eventmap did not write (the table
    /// itself, one of its protos, a hand-written module): generating would overwrite it
    /// ([`check_output`]).
    #[error(
        "refusing to overwrite `{path}` (`rust.output` of `{table}`): {reason}; point `rust.output` at a file of its own (eventmap writes the whole file), or delete this one if it is an old copy"
    )]
    NotGenerated {
        /// The output file.
        path: PathBuf,
        /// The table naming it.
        table: PathBuf,
        /// Why it is not eventmap's: it is the table, or its first line is not eventmap's.
        reason: String,
    },
    /// The emitter produced code that does not parse (a bug in eventmap).
    #[error(transparent)]
    Emit(#[from] emit::EmitError),
    /// The documentation (`eventmap docs`) cannot be built.
    #[cfg(feature = "cli")]
    #[error(transparent)]
    Docs(#[from] docs::DocsError),
    /// prost-build failed to generate the proto types.
    #[error("prost-build failed: {0}")]
    ProstBuild(#[source] std::io::Error),
    /// The NATS permissions (`eventmap permissions`) cannot be written.
    #[cfg(feature = "cli")]
    #[error(transparent)]
    Permissions(#[from] permissions::PermissionsError),
    /// The tables named on the command line cannot be found ([`system::find_tables`]).
    #[cfg(feature = "cli")]
    #[error(transparent)]
    Tables(#[from] system::TablesError),
    /// The baseline of a breaking-change check cannot be loaded
    /// ([`breaking::load_baseline`]).
    #[cfg(feature = "cli")]
    #[error("cannot load the baseline {baseline}: {problem}")]
    Baseline {
        /// The baseline, as a person would name it.
        baseline: String,
        /// What went wrong.
        #[source]
        problem: breaking::BaselineProblem,
    },
    /// The contract registry of `eventmap check --against-registry` cannot be read
    /// ([`contract_registry::read`]).
    #[cfg(feature = "registry")]
    #[error(transparent)]
    Registry(#[from] contract_registry::ReadError),
}

/// The first line of every module `eventmap generate` writes.
pub const GENERATED_HEADER: &str = "// @generated by eventmap";

/// Checks that `output` (the table `table`'s `rust.output`) may be written: it does not exist,
/// is empty, or begins with [`GENERATED_HEADER`]. A generated module is the whole file, so a
/// file eventmap did not write (the table itself, a `.proto`, a hand-written module) would be
/// lost.
///
/// # Errors
///
/// [`Error::NotGenerated`] naming the file and why; [`Error::Io`] when it exists but cannot
/// be read.
pub fn check_output(output: &Path, table: &Path) -> Result<(), Error> {
    let same_file = match (output.canonicalize(), table.canonicalize()) {
        (Ok(output), Ok(table)) => output == table,
        _ => false,
    };
    let not_generated = |reason: String| Error::NotGenerated {
        path: output.to_path_buf(),
        table: table.to_path_buf(),
        reason,
    };
    if same_file {
        return Err(not_generated("it is the mapping table itself".to_owned()));
    }
    let contents = match std::fs::read(output) {
        Ok(contents) => contents,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(Error::Io {
                action: "read",
                path: output.to_path_buf(),
                source,
            });
        }
    };
    if contents.is_empty() || contents.starts_with(GENERATED_HEADER.as_bytes()) {
        return Ok(());
    }
    let first_line = String::from_utf8_lossy(&contents)
        .lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(60)
        .collect::<String>();
    Err(not_generated(format!(
        "it exists and eventmap did not write it (its first line is {first_line:?}, not `{GENERATED_HEADER} ...`)"
    )))
}

/// A mapping table read and checked against its protos.
#[derive(Debug)]
pub struct Analysis {
    /// The table file as given.
    pub file: PathBuf,
    /// Texts of the table and the protos, for snippets.
    pub sources: Sources,
    /// Every problem found, in order.
    pub diagnostics: Vec<Diagnostic>,
    /// The checked model, when there are no errors (not public API).
    #[doc(hidden)]
    pub model: Option<model::Model>,
    /// The compiled protos, when they compiled (not public API).
    #[doc(hidden)]
    pub protos: Option<protos::ProtoSet>,
}

/// Reads the table at `path`, compiles its protos (paths inside the table are relative to
/// the table's folder) and checks the table against them.
///
/// # Errors
/// [`Error::Io`] when the table cannot be read. Problems in the table or the protos are not
/// errors here: they are in [`Analysis::diagnostics`].
pub fn analyze(path: &Path) -> Result<Analysis, Error> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    })?;
    match String::from_utf8(bytes) {
        Ok(text) => Ok(analyze_str(path, &text)),
        Err(err) => Ok(not_utf8(
            path,
            err.as_bytes(),
            err.utf8_error().valid_up_to(),
        )),
    }
}

/// The analysis of a table that is not UTF-8: one diagnostic at the first invalid byte.
fn not_utf8(path: &Path, bytes: &[u8], valid_up_to: usize) -> Analysis {
    let valid =
        std::str::from_utf8(bytes.get(..valid_up_to).unwrap_or_default()).unwrap_or_default();
    let (line, column) = diagnostic::line_column(valid, valid.len());
    let mut sources = Sources::default();
    sources.insert(path, valid);
    let diagnostic = Diagnostic::new(rules::YAML, "the file is not valid UTF-8")
        .at(Some(SourceLocation {
            file: path.to_path_buf(),
            line,
            column,
            len: 1,
        }))
        .hint("YAML files are read as UTF-8; save the table as UTF-8");
    Analysis {
        file: path.to_path_buf(),
        sources,
        diagnostics: vec![diagnostic],
        model: None,
        protos: None,
    }
}

/// Like [`analyze`], with the table's text given; `path` names the file in diagnostics and
/// its folder is where relative paths in the table start.
pub fn analyze_str(path: &Path, text: &str) -> Analysis {
    let mut sources = Sources::default();
    sources.insert(path, text);
    let mut analysis = Analysis {
        file: path.to_path_buf(),
        sources,
        diagnostics: Vec::new(),
        model: None,
        protos: None,
    };
    let table = match table::parse(path, text) {
        Ok(table) => table,
        Err(diagnostic) => {
            analysis.diagnostics.push(*diagnostic);
            return analysis;
        }
    };
    let base = validate::table_dir(path);
    let display_base = match path.parent() {
        Some(p) => p.to_path_buf(),
        None => PathBuf::new(),
    };
    let includes: Vec<String> = table
        .protos
        .include
        .iter()
        .map(|s| s.value.clone())
        .collect();
    let files: Vec<String> = table.protos.files.iter().map(|s| s.value.clone()).collect();
    let missing = protos::missing_inputs(path, &base, &table.protos);
    if !missing.is_empty() {
        analysis.diagnostics = missing;
        return analysis;
    }
    let protos = match protos::ProtoSet::compile(
        &base,
        &display_base,
        &includes,
        &files,
        &mut analysis.sources,
    ) {
        Ok(protos) => protos,
        Err(diagnostic) => {
            analysis.diagnostics.push(*diagnostic);
            return analysis;
        }
    };
    protos.add_sources(&mut analysis.sources);
    let checked = validate::check(&table, path, &base, &protos);
    analysis.diagnostics = checked.diagnostics;
    analysis.model = checked.model;
    analysis.protos = Some(protos);
    analysis
}

impl Analysis {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        diagnostic::has_errors(&self.diagnostics)
    }

    /// Every diagnostic rendered with snippets.
    pub fn render(&self) -> String {
        diagnostic::render_all(&self.diagnostics, &self.sources)
    }

    /// The checked model (not public API).
    ///
    /// # Errors
    /// [`Error::Invalid`] when the table has errors.
    #[doc(hidden)]
    pub fn model(&self) -> Result<&model::Model, Error> {
        match &self.model {
            Some(model) if !self.has_errors() => Ok(model),
            _ => Err(Error::Invalid {
                diagnostics: self.diagnostics.clone(),
                rendered: self.render(),
            }),
        }
    }

    /// The generated Rust module.
    ///
    /// # Errors
    /// [`Error::Invalid`] when the table has errors; [`Error::Emit`] on an emitter bug.
    pub fn generate(&self) -> Result<String, Error> {
        Ok(emit::module_source(self.model()?)?)
    }
}
