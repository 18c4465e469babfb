//! Loading the `.proto` contracts with protox (pure Rust, no `protoc`), and finding where a
//! message or field is defined, for diagnostics.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use miette::Diagnostic as _;
use prost_reflect::{
    DescriptorPool, EnumDescriptor, EnumValueDescriptor, FieldDescriptor, FileDescriptor,
    MessageDescriptor,
};

use crate::diagnostic::{Diagnostic, SourceLocation, Sources, line_column};
use crate::rules;
use crate::table;
use locations::FileLocations;

mod locations;

/// The compiled protos of one mapping table.
#[derive(Debug, Clone)]
pub struct ProtoSet {
    pool: DescriptorPool,
    /// Include directories, resolved against the table's folder.
    includes: Vec<PathBuf>,
    /// Include directories as the table wrote them (relative), for display.
    display_includes: Vec<PathBuf>,
    /// Files not on disk (a baseline read from git): proto file name -> how it is shown and
    /// its text.
    shown: BTreeMap<String, (PathBuf, String)>,
    /// The source locations of each file, indexed on first use (see [`ProtoSet::location`]).
    locations: Arc<Mutex<HashMap<String, Option<Arc<FileLocations>>>>>,
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
            Box::new(Diagnostic::new(
                rules::PROTO,
                format!("cannot use the proto include directories: {e}"),
            ))
        })?;
        compiler.include_source_info(true).include_imports(true);
        if let Err(err) = compiler.open_files(files) {
            return Err(Box::new(proto_error(
                &err,
                &resolved,
                &display_includes,
                files,
                sources,
            )));
        }
        Ok(ProtoSet {
            pool: compiler.descriptor_pool(),
            includes: resolved,
            display_includes,
            shown: BTreeMap::new(),
            locations: Arc::default(),
        })
    }

    /// A set compiled elsewhere from files that are not on disk (a baseline read from git):
    /// `shown` maps each proto file name (`ordering/v1/events.proto`) to how diagnostics name
    /// it and its text. Locations need the pool's source info.
    pub fn from_pool(pool: DescriptorPool, shown: BTreeMap<String, (PathBuf, String)>) -> ProtoSet {
        ProtoSet {
            pool,
            includes: Vec::new(),
            display_includes: Vec::new(),
            shown,
            locations: Arc::default(),
        }
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

    /// The full names of the messages that `name` names without (all of) its package: those
    /// ending with `.name` (`OrderCreated` and `v1.OrderCreated` give
    /// `ordering.v1.OrderCreated`; `Outer.Inner` gives `pkg.Outer.Inner`), sorted.
    pub fn messages_ending_with(&self, name: &str) -> Vec<String> {
        if name.is_empty() {
            return Vec::new();
        }
        let mut found: Vec<String> = self
            .pool
            .all_messages()
            .map(|m| m.full_name().to_owned())
            .filter(|full| {
                full.strip_suffix(name)
                    .is_some_and(|package| package.ends_with('.'))
            })
            .collect();
        found.sort();
        found
    }

    /// Where `message` is defined (its name), when the file is known.
    pub fn message_location(&self, message: &MessageDescriptor) -> Option<SourceLocation> {
        self.location(&message.parent_file(), message.path(), message.name())
    }

    /// Where `field` is defined (its name), when the file is known.
    pub fn field_location(&self, field: &FieldDescriptor) -> Option<SourceLocation> {
        self.location(&field.parent_file(), field.path(), field.name())
    }

    /// Where `enum_` is defined (its name), when the file is known.
    pub fn enum_location(&self, enum_: &EnumDescriptor) -> Option<SourceLocation> {
        self.location(&enum_.parent_file(), enum_.path(), enum_.name())
    }

    /// Where the enum value `value` is defined (its name), when the file is known.
    pub fn enum_value_location(&self, value: &EnumValueDescriptor) -> Option<SourceLocation> {
        self.location(&value.parent_file(), value.path(), value.name())
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

    /// Where the element at `path` (a `SourceCodeInfo` path) of `file` is defined, when the
    /// file is known: the span of its name `name`.
    pub fn element_location(
        &self,
        file: &FileDescriptor,
        path: &[i32],
        name: &str,
    ) -> Option<SourceLocation> {
        self.location(file, path, name)
    }

    /// Where the name of the element at `path` of `file` is. Checks look up every message,
    /// field and enum value (`proto_names`), so each file's locations are indexed once: a scan
    /// of the locations (and a file system lookup for the file) per element was quadratic in
    /// the size of a file.
    fn location(&self, file: &FileDescriptor, path: &[i32], name: &str) -> Option<SourceLocation> {
        self.file_locations(file)?.name_location(path, name)
    }

    /// The locations of `file`, indexed on first use.
    fn file_locations(&self, file: &FileDescriptor) -> Option<Arc<FileLocations>> {
        let mut files = self.locations.lock().ok()?;
        if let Some(known) = files.get(file.name()) {
            return known.clone();
        }
        let index = self.index_file(file).map(Arc::new);
        files.insert(file.name().to_owned(), index.clone());
        index
    }

    fn index_file(&self, file: &FileDescriptor) -> Option<FileLocations> {
        let (shown, text) = match self.shown.get(file.name()) {
            Some((shown, text)) => (shown.clone(), Some(text.clone())),
            None => {
                let (real, shown) = self.resolve(file.name())?;
                (shown, std::fs::read_to_string(real).ok())
            }
        };
        let info = file.file_descriptor_proto().source_code_info.as_ref()?;
        Some(FileLocations::new(shown, info, text))
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
                Diagnostic::new(
                    rules::PROTO,
                    format!("include directory `{}` does not exist", entry.value),
                )
                .at(Some(table::location(table_file, entry.referenced)))
                .hint("paths in the table are relative to the table's own folder"),
            );
        }
    }
    if protos.files.is_empty() {
        out.push(Diagnostic::new(
            rules::PROTO,
            "`protos.files` names no `.proto` file",
        ));
    }
    for file in &protos.files {
        let Some((problem, hint)) = file_problem(&includes, &file.value) else {
            continue;
        };
        let hint = hint.unwrap_or_else(|| {
            let shown: Vec<String> = protos
                .include
                .iter()
                .map(|i| format!("`{}`", i.value))
                .collect();
            format!(
                "files are relative to an include directory ({})",
                if shown.is_empty() {
                    "none given".to_owned()
                } else {
                    shown.join(", ")
                }
            )
        });
        out.push(
            Diagnostic::new(rules::PROTO, problem)
                .at(Some(table::location(table_file, file.referenced)))
                .hint(hint),
        );
    }
    out
}

/// Why the `.proto` file `name` of the table cannot be read, when it cannot: the message and,
/// when the generic one (paths are relative to an include directory) does not fit, a hint.
fn file_problem(includes: &[PathBuf], name: &str) -> Option<(String, Option<String>)> {
    let path = Path::new(name);
    let found = if path.is_absolute() {
        // `Path::join` would replace the include directory: protox only takes an absolute
        // path inside one of them.
        includes
            .iter()
            .any(|dir| path.starts_with(dir))
            .then(|| path.to_path_buf())
            .filter(|p| p.exists())
    } else {
        includes
            .iter()
            .map(|dir| dir.join(path))
            .find(|p| p.exists())
    };
    let Some(found) = found else {
        return Some((
            format!("`{name}` is not found in any include directory"),
            None,
        ));
    };
    if found.is_dir() {
        return Some((
            format!("`{name}` is a directory, not a `.proto` file"),
            Some("name a `.proto` file inside it".into()),
        ));
    }
    match std::fs::File::open(&found) {
        Ok(_) => None,
        Err(e) => Some((
            format!("cannot read `{name}`: {e}"),
            Some("check the file's permissions".into()),
        )),
    }
}

/// The import statements of a `.proto` text: the imported name, the byte offset of the
/// statement and its length in characters. A line-based reading, enough to point at an import
/// that protox could not follow (it reports no location for those).
fn imports(text: &str) -> Vec<(String, usize, usize)> {
    let mut out = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let start = offset + (line.len() - trimmed.len());
        offset += line.len();
        let Some(rest) = trimmed.strip_prefix("import") else {
            continue;
        };
        let Some(open) = rest.find(['"', '\'']) else {
            continue;
        };
        let quote = &rest[open..=open];
        let after = &rest[open + 1..];
        let Some(close) = after.find(quote) else {
            continue;
        };
        let statement = trimmed
            .find(';')
            .map_or_else(|| trimmed.trim_end(), |end| &trimmed[..=end]);
        out.push((after[..close].to_owned(), start, statement.chars().count()));
    }
    out
}

/// Where the proto file `importer` imports `imported`, adding the importer's text to
/// `sources` for the snippet.
fn import_location(
    includes: &[PathBuf],
    shown: &[PathBuf],
    importer: &str,
    imported: &str,
    sources: &mut Sources,
) -> Option<SourceLocation> {
    let (real, shown_path) = resolve_in(includes, shown, importer)?;
    let text = std::fs::read_to_string(real).ok()?;
    let (_, offset, len) = imports(&text)
        .into_iter()
        .find(|(name, ..)| name == imported)?;
    let (line, column) = line_column(&text, offset);
    sources.insert(shown_path.clone(), text);
    Some(SourceLocation {
        file: shown_path,
        line,
        column,
        len: len.max(1),
    })
}

/// The first file reachable from `roots` through imports that imports `target`.
fn importer_of(
    includes: &[PathBuf],
    shown: &[PathBuf],
    roots: &[String],
    target: &str,
) -> Option<String> {
    let mut seen = std::collections::HashSet::new();
    let mut queue: std::collections::VecDeque<String> = roots.iter().cloned().collect();
    while let Some(name) = queue.pop_front() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let Some(text) = resolve_in(includes, shown, &name)
            .and_then(|(real, _)| std::fs::read_to_string(real).ok())
        else {
            continue;
        };
        for (imported, ..) in imports(&text) {
            if imported == target {
                return Some(name);
            }
            queue.push_back(imported);
        }
    }
    None
}

fn resolve_in(includes: &[PathBuf], shown: &[PathBuf], name: &str) -> Option<(PathBuf, PathBuf)> {
    includes.iter().zip(shown).find_map(|(dir, shown_dir)| {
        let real = dir.join(name);
        real.is_file().then(|| (real, shown_dir.join(name)))
    })
}

/// Turns a protox error into a diagnostic at the `.proto` file, line and column. `roots` are
/// the files the table names: an import that cannot be read is located at its `import`.
fn proto_error(
    err: &protox::Error,
    includes: &[PathBuf],
    shown: &[PathBuf],
    roots: &[String],
    sources: &mut Sources,
) -> Diagnostic {
    let mut message = err.to_string();
    // An I/O error's cause (`Is a directory`, `Permission denied`) is only in its source.
    if let Some(cause) = std::error::Error::source(err).map(ToString::to_string)
        && !message.contains(&cause)
    {
        message = format!("{message}: {cause}");
    }
    if let Some(help) = err.help() {
        message = format!("{message} ({help})");
    }
    let mut diagnostic = Diagnostic::new(rules::PROTO, message);
    // protox names the cycle (`a.proto -> b.proto -> a.proto`) but gives no location: point
    // at the import that closes it.
    if let Some(cycle) = err.to_string().strip_prefix("import cycle detected: ") {
        let names: Vec<&str> = cycle.split(" -> ").collect();
        if let [.., importer, imported] = names.as_slice()
            && let Some(at) = import_location(includes, shown, importer, imported, sources)
        {
            return diagnostic.at(Some(at));
        }
    }
    let Some(file) = err.file() else {
        return diagnostic;
    };
    let read = resolve_in(includes, shown, file)
        .and_then(|(real, shown_path)| Some((std::fs::read(real).ok()?, shown_path)));
    let Some((bytes, shown_path)) = read else {
        // An imported file that is missing, a directory or unreadable: at its `import`.
        if let Some(importer) = importer_of(includes, shown, roots, file)
            && let Some(at) = import_location(includes, shown, &importer, file, sources)
        {
            return diagnostic.at(Some(at));
        }
        return diagnostic.note(format!("in `{file}`"), None);
    };
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(not_utf8) => {
            // At the first byte that is not UTF-8.
            let valid_up_to = not_utf8.utf8_error().valid_up_to();
            let bytes = not_utf8.into_bytes();
            let valid = std::str::from_utf8(&bytes[..valid_up_to])
                .unwrap_or_default()
                .to_owned();
            let (line, column) = line_column(&valid, valid.len());
            sources.insert(shown_path.clone(), valid);
            return diagnostic.at(Some(SourceLocation {
                file: shown_path,
                line,
                column,
                len: 1,
            }));
        }
    };
    let offset_len = err
        .labels()
        .and_then(|mut labels| labels.next())
        .map(|label| (label.offset(), label.len()));
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
