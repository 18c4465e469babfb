//! Loading the `.proto` contracts with protox (pure Rust, no `protoc`), and finding where a
//! message or field is defined, for diagnostics.

use std::path::{Path, PathBuf};

use miette::Diagnostic as _;
use prost_reflect::{DescriptorPool, FieldDescriptor, FileDescriptor, MessageDescriptor};

use crate::diagnostic::{Diagnostic, SourceLocation, Sources, line_column};
use crate::table;

/// The compiled protos of one mapping table.
#[derive(Debug, Clone)]
pub struct ProtoSet {
    pool: DescriptorPool,
    /// Include directories, resolved against the table's folder.
    includes: Vec<PathBuf>,
    /// Include directories as the table wrote them (relative), for display.
    display_includes: Vec<PathBuf>,
}

impl ProtoSet {
    /// Compiles `files` (relative to one of `includes`) with protox, keeping source info so
    /// that diagnostics can point into the `.proto` files. Paths are resolved against `base`
    /// (the mapping table's folder); `display_base` is how that folder is shown in messages.
    /// The protobuf well-known types (`google/protobuf/*.proto`) are always available.
    ///
    /// # Errors
    /// A [`Diagnostic`] with rule `proto` pointing at the `.proto` file, line and column when
    /// a file is missing or does not compile; the text of the failing file is added to
    /// `sources` so the diagnostic can show a snippet.
    pub fn compile(
        base: &Path,
        display_base: &Path,
        includes: &[String],
        files: &[String],
        sources: &mut Sources,
    ) -> Result<ProtoSet, Box<Diagnostic>> {
        let resolved: Vec<PathBuf> = includes.iter().map(|i| base.join(i)).collect();
        let display_includes: Vec<PathBuf> =
            includes.iter().map(|i| display_base.join(i)).collect();
        let mut compiler = protox::Compiler::new(&resolved).map_err(|e| {
            Box::new(Diagnostic::error(
                "proto",
                format!("cannot use the proto include directories: {e}"),
            ))
        })?;
        compiler.include_source_info(true).include_imports(true);
        if let Err(err) = compiler.open_files(files) {
            return Err(Box::new(proto_error(
                &err,
                &resolved,
                &display_includes,
                sources,
            )));
        }
        Ok(ProtoSet {
            pool: compiler.descriptor_pool(),
            includes: resolved,
            display_includes,
        })
    }

    /// The descriptor pool (all messages of the compiled files and their imports).
    pub fn pool(&self) -> &DescriptorPool {
        &self.pool
    }

    /// The `FileDescriptorSet` of the compiled files and their imports, as prost-build's
    /// `compile_fds` takes it (prost-build maps the well-known types to `::prost_types`).
    pub fn file_descriptor_set(&self) -> prost_types::FileDescriptorSet {
        prost_types::FileDescriptorSet {
            file: self
                .pool
                .files()
                .map(|f| f.file_descriptor_proto().clone())
                .collect(),
        }
    }

    /// The `.proto` files on disk that the set was compiled from (for `rerun-if-changed`).
    pub fn source_files(&self) -> Vec<PathBuf> {
        self.pool
            .files()
            .filter_map(|f| self.resolve(f.name()).map(|(real, _)| real))
            .collect()
    }

    /// Finds a message by its full name (`package.Message`, `package.Outer.Inner`).
    pub fn message(&self, full_name: &str) -> Option<MessageDescriptor> {
        self.pool.get_message_by_name(full_name)
    }

    /// Where `message` is defined, when the file is on disk.
    pub fn message_location(&self, message: &MessageDescriptor) -> Option<SourceLocation> {
        self.location(&message.parent_file(), message.path(), message.name())
    }

    /// Where `field` is defined, when the file is on disk.
    pub fn field_location(&self, field: &FieldDescriptor) -> Option<SourceLocation> {
        self.location(&field.parent_file(), field.path(), field.name())
    }

    /// Adds the text of every compiled `.proto` file on disk to `sources` (for snippets).
    pub fn add_sources(&self, sources: &mut Sources) {
        for file in self.pool.files() {
            if let Some((real, shown)) = self.resolve(file.name())
                && let Ok(text) = std::fs::read_to_string(&real)
            {
                sources.insert(shown, text);
            }
        }
    }

    fn location(&self, file: &FileDescriptor, path: &[i32], name: &str) -> Option<SourceLocation> {
        let (_, shown) = self.resolve(file.name())?;
        let info = file.file_descriptor_proto().source_code_info.as_ref()?;
        let loc = info.location.iter().find(|l| l.path == path)?;
        let line = usize::try_from(*loc.span.first()?).ok()? + 1;
        let column = usize::try_from(*loc.span.get(1)?).ok()? + 1;
        Some(SourceLocation {
            file: shown,
            line,
            column,
            len: name.chars().count().max(1),
        })
    }

    /// The file on disk for a proto file name, and how to show it.
    fn resolve(&self, name: &str) -> Option<(PathBuf, PathBuf)> {
        resolve_in(&self.includes, &self.display_includes, name)
    }
}

/// Checks, before compiling, that every include directory exists and every file is found
/// in one of them, so that a wrong path is reported at its place in the table.
pub fn missing_inputs(table_file: &Path, base: &Path, protos: &table::Protos) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let includes: Vec<PathBuf> = protos.include.iter().map(|i| base.join(&i.value)).collect();
    for (dir, entry) in includes.iter().zip(&protos.include) {
        if !dir.is_dir() {
            out.push(
                Diagnostic::error(
                    "proto",
                    format!("include directory `{}` does not exist", entry.value),
                )
                .at(Some(table::location(table_file, entry.referenced)))
                .hint("paths in the table are relative to the table's own folder"),
            );
        }
    }
    if protos.files.is_empty() {
        out.push(Diagnostic::error(
            "proto",
            "`protos.files` names no `.proto` file",
        ));
    }
    for file in &protos.files {
        let found = includes.iter().any(|dir| dir.join(&file.value).is_file());
        if !found {
            let shown: Vec<String> = protos
                .include
                .iter()
                .map(|i| format!("`{}`", i.value))
                .collect();
            out.push(
                Diagnostic::error(
                    "proto",
                    format!("`{}` is not found in any include directory", file.value),
                )
                .at(Some(table::location(table_file, file.referenced)))
                .hint(format!(
                    "files are relative to an include directory ({})",
                    if shown.is_empty() {
                        "none given".to_owned()
                    } else {
                        shown.join(", ")
                    }
                )),
            );
        }
    }
    out
}

fn resolve_in(includes: &[PathBuf], shown: &[PathBuf], name: &str) -> Option<(PathBuf, PathBuf)> {
    includes.iter().zip(shown).find_map(|(dir, shown_dir)| {
        let real = dir.join(name);
        real.is_file().then(|| (real, shown_dir.join(name)))
    })
}

/// Turns a protox error into a diagnostic at the `.proto` file, line and column.
fn proto_error(
    err: &protox::Error,
    includes: &[PathBuf],
    shown: &[PathBuf],
    sources: &mut Sources,
) -> Diagnostic {
    let mut message = err.to_string();
    if let Some(help) = err.help() {
        message = format!("{message} ({help})");
    }
    let mut diagnostic = Diagnostic::error("proto", message);
    let Some(file) = err.file() else {
        return diagnostic;
    };
    let Some((real, shown_path)) = resolve_in(includes, shown, file) else {
        return diagnostic.note(format!("in `{file}`"), None);
    };
    let offset_len = err
        .labels()
        .and_then(|mut labels| labels.next())
        .map(|label| (label.offset(), label.len()));
    let text = std::fs::read_to_string(&real).unwrap_or_default();
    let (line, column, len) = match offset_len {
        Some((offset, len)) => {
            let (line, column) = line_column(&text, offset);
            let chars = text
                .get(offset..offset.saturating_add(len))
                .map_or(1, |s| s.chars().count());
            (line, column, chars)
        }
        None => (1, 1, 1),
    };
    sources.insert(shown_path.clone(), text);
    diagnostic = diagnostic.at(Some(SourceLocation {
        file: shown_path,
        line,
        column,
        len: len.max(1),
    }));
    diagnostic
}
