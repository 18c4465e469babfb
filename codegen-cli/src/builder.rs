//! [`Builder`]: generate the proto types and the integration module from `build.rs`.

use std::path::{Path, PathBuf};

use crate::protos::ProtoSet;
use crate::{Error, analyze};

/// Generates, from a build script, the prost types of a mapping table's protos and the
/// integration module of the table, into `OUT_DIR`, in the manner of `prost-build` and
/// `tonic-build`. Every input (the table and each `.proto` file) is announced with
/// `cargo:rerun-if-changed`, so cargo rebuilds when one changes.
///
/// ```no_run
/// // build.rs: `fn main()` of the build script
/// if let Err(err) = eventmap_codegen::Builder::new()
///     .mappings("../../mappings.yaml")
///     .compile()
/// {
///     eprintln!("{err}");
///     std::process::exit(1);
/// }
/// // src/lib.rs:
/// // pub mod proto { include!(concat!(env!("OUT_DIR"), "/protos.rs")); }
/// // pub mod integration { include!(concat!(env!("OUT_DIR"), "/integration_events.rs")); }
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    mappings: PathBuf,
    out_dir: Option<PathBuf>,
    protos: bool,
    protos_file: String,
    module_file: String,
    emit_rerun: bool,
    converters: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            mappings: PathBuf::from("mappings.yaml"),
            out_dir: None,
            protos: true,
            protos_file: "protos.rs".into(),
            module_file: "integration_events.rs".into(),
            emit_rerun: true,
            converters: true,
        }
    }
}

impl Builder {
    /// A builder reading `mappings.yaml` in the crate's folder, writing `protos.rs` and
    /// `integration_events.rs` into `OUT_DIR`.
    pub fn new() -> Self {
        Builder::default()
    }

    /// The mapping table to read (relative to the crate's folder, as build scripts run there).
    pub fn mappings(mut self, path: impl Into<PathBuf>) -> Self {
        self.mappings = path.into();
        self
    }

    /// Where to write; defaults to the `OUT_DIR` environment variable set by cargo.
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.out_dir = Some(dir.into());
        self
    }

    /// Whether to generate the prost types of the table's protos (default `true`). Turn it
    /// off when another crate or build step provides them.
    pub fn generate_protos(mut self, yes: bool) -> Self {
        self.protos = yes;
        self
    }

    /// The file name of prost's include file, which nests every package's module
    /// (default `protos.rs`). The packages' files are written into a folder of their own
    /// next to it (`protos.rs` -> `protos/`), so that two tables built into one `OUT_DIR`
    /// (each with its own `protos_file`) never overwrite each other's types, even when their
    /// protos share a package (`common.v1`).
    pub fn protos_file(mut self, name: impl Into<String>) -> Self {
        self.protos_file = name.into();
        self
    }

    /// The file name of the integration module (default `integration_events.rs`).
    pub fn module_file(mut self, name: impl Into<String>) -> Self {
        self.module_file = name.into();
        self
    }

    /// Whether the module has the converters and `register_integration_event_handlers`
    /// (default `true`). Without them it has the names, channels and decoding enums only: for
    /// consumers, and for crates whose converters come from `#[derive(IntegrationEvent)]`.
    pub fn converters(mut self, yes: bool) -> Self {
        self.converters = yes;
        self
    }

    /// Whether to print `cargo:rerun-if-changed` lines (default `true`).
    pub fn emit_rerun_if_changed(mut self, yes: bool) -> Self {
        self.emit_rerun = yes;
        self
    }

    /// Checks the table, then writes the prost types and the integration module.
    ///
    /// # Errors
    /// [`Error::Io`] when a file cannot be read or written (or `OUT_DIR` is unset and no
    /// [`out_dir`](Self::out_dir) was given); [`Error::Invalid`] with every diagnostic when the
    /// table has errors; [`Error::ProstBuild`] when prost-build fails.
    pub fn compile(self) -> Result<(), Error> {
        if self.emit_rerun {
            println!("cargo:rerun-if-changed={}", self.mappings.display());
        }
        let analysis = analyze(&self.mappings)?;
        if self.emit_rerun
            && let Some(protos) = &analysis.protos
        {
            for file in protos.source_files() {
                println!("cargo:rerun-if-changed={}", file.display());
            }
        }
        let module = crate::emit::module_source_with(analysis.model()?, self.converters)?;
        let out_dir = self.output_dir()?;
        // An `out_dir` of the caller's may not exist yet (prost-build does not create it).
        create_dir(&out_dir)?;
        if self.protos
            && let Some(protos) = &analysis.protos
        {
            self.write_protos(protos, &out_dir)?;
        }
        write_if_changed(&out_dir.join(&self.module_file), &module)?;
        Ok(())
    }

    /// The output folder: the one given, else `OUT_DIR`.
    fn output_dir(&self) -> Result<PathBuf, Error> {
        match &self.out_dir {
            Some(dir) => Ok(dir.clone()),
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .ok_or_else(|| Error::Io {
                    action: "find",
                    path: PathBuf::from("$OUT_DIR"),
                    source: std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "OUT_DIR is not set: run from a build script or call out_dir()",
                    ),
                }),
        }
    }

    /// Writes the prost types of `protos` into `out_dir`: prost-build writes one file per
    /// package (`common.v1.rs`), into a folder of this table's own next to the include file,
    /// which names it relatively.
    fn write_protos(&self, protos: &ProtoSet, out_dir: &Path) -> Result<(), Error> {
        let include_path = out_dir.join(&self.protos_file);
        let file_name = include_path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("protos.rs")
            .to_owned();
        let folder = packages_folder(&file_name);
        let packages_dir = include_path.parent().unwrap_or(out_dir).join(&folder);
        create_dir(&packages_dir)?;
        prost_build::Config::new()
            .out_dir(&packages_dir)
            .include_file(&file_name)
            .compile_fds(protos.file_descriptor_set())
            .map_err(Error::ProstBuild)?;
        let include = format!(
            "// @generated by eventmap: the prost types of `{}`, in `{folder}/`.\ninclude!(\"{folder}/{file_name}\");\n",
            self.mappings.display(),
        );
        write_if_changed(&include_path, &include)?;
        Ok(())
    }
}

/// Creates folder `dir` and its parents.
fn create_dir(dir: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        action: "create",
        path: dir.to_path_buf(),
        source,
    })
}

/// The folder (relative to the output folder) of the package files of the include file
/// `protos_file`: its name without `.rs` (`protos.rs` -> `protos`), or with `.d` appended when
/// that would be the file itself.
fn packages_folder(protos_file: &str) -> String {
    match protos_file.strip_suffix(".rs") {
        Some(stem) if !stem.is_empty() => stem.to_owned(),
        _ => format!("{protos_file}.d"),
    }
}

/// Writes `contents` to `path` (creating its folder) unless the file already holds exactly
/// that (keeping its mtime stable for build scripts); returns whether it wrote.
///
/// # Errors
/// [`Error::Io`] when the folder cannot be created or the file cannot be written.
pub fn write_if_changed(path: &Path, contents: &str) -> Result<bool, Error> {
    if std::fs::read_to_string(path).is_ok_and(|current| current == contents) {
        return Ok(false);
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_dir(parent)?;
    }
    std::fs::write(path, contents).map_err(|source| Error::Io {
        action: "write",
        path: path.to_path_buf(),
        source,
    })?;
    Ok(true)
}
