//! eventmap's code generator: the mapping model, proto loading, validation and code emission
//! behind the `eventmap` CLI and the [`Builder`] for `build.rs`.
//!
//! Data flows one way: the YAML table ([`table`]) and the protos ([`protos`]) are checked
//! ([`validate`]) into a [`Model`], from which [`emit`] writes Rust code.
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
#![deny(missing_docs)]
#![warn(rust_2018_idioms)]

pub mod breaking;
pub mod builder;
#[cfg(feature = "cli")]
pub mod committed;
pub mod derive;
pub mod diagnostic;
pub mod docs;
pub mod emit;
pub mod model;
pub mod proto_names;
pub mod protos;
pub mod report;
pub mod rules;
pub mod rust_names;
pub mod table;
pub mod validate;

use std::path::{Path, PathBuf};

pub use builder::Builder;
pub use diagnostic::{Diagnostic, Severity, SourceLocation, Sources};
pub use model::Model;

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
    /// The emitter produced code that does not parse (a bug in eventmap).
    #[error(transparent)]
    Emit(#[from] emit::EmitError),
    /// The documentation (`eventmap docs`) cannot be built.
    #[error(transparent)]
    Docs(#[from] docs::DocsError),
    /// prost-build failed to generate the proto types.
    #[error("prost-build failed: {0}")]
    ProstBuild(#[source] std::io::Error),
    /// The baseline of a breaking-change check cannot be loaded
    /// ([`breaking::load_baseline`]).
    #[error("cannot load the baseline {baseline}: {problem}")]
    Baseline {
        /// The baseline, as a person would name it.
        baseline: String,
        /// What went wrong.
        #[source]
        problem: breaking::BaselineProblem,
    },
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
    /// The checked model, when there are no errors.
    pub model: Option<Model>,
    /// The compiled protos, when they compiled.
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

    /// The checked model.
    ///
    /// # Errors
    /// [`Error::Invalid`] when the table has errors.
    pub fn model(&self) -> Result<&Model, Error> {
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
