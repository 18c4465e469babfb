//! Loading the `.proto` contracts with protox (pure Rust, no `protoc`), and finding where a
//! message or field is defined, for diagnostics.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use prost_reflect::{
    DescriptorPool, EnumDescriptor, EnumValueDescriptor, FieldDescriptor, FileDescriptor,
    MessageDescriptor,
};

use crate::diagnostic::{Diagnostic, SourceLocation, Sources};
use crate::rules;
use crate::table;
use error::proto_error;
use locations::FileLocations;

mod error;
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

    /// Finds an enum by its full name (`package.Enum`, `package.Message.Enum`).
    pub fn enum_(&self, full_name: &str) -> Option<EnumDescriptor> {
        self.pool.get_enum_by_name(full_name)
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

fn resolve_in(includes: &[PathBuf], shown: &[PathBuf], name: &str) -> Option<(PathBuf, PathBuf)> {
    includes.iter().zip(shown).find_map(|(dir, shown_dir)| {
        let real = dir.join(name);
        // Shown without `.` components (an include `.` made `./p/v1/a.proto`).
        let shown = shown_dir
            .join(name)
            .components()
            .filter(|part| *part != std::path::Component::CurDir)
            .collect();
        real.is_file().then_some((real, shown))
    })
}
