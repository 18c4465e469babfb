//! Loading the baseline of a comparison: the table and its protos as they are in a git
//! revision (read through git plumbing, no checkout) or in a directory.

use std::fmt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use miette::Diagnostic as _;
use protox::file::{ChainFileResolver, GoogleFileResolver};

use super::git::{Entry, GitResolver, GitTree, ReadFiles, normalize};
use crate::diagnostic::{self, Diagnostic, SourceLocation, Sources};
use crate::protos::ProtoSet;
use crate::rules;
use crate::table::Table;
use crate::{Analysis, Error, table, validate};

/// Where the baseline contract comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Baseline {
    /// A git revision (`HEAD~1`, `origin/main`, a tag or commit id) of the repository that
    /// contains `repo_dir`. Files are read with `git rev-parse` and `git cat-file`: nothing is
    /// checked out, the working tree and the index are not touched.
    GitRef {
        /// A folder of the repository's working tree (`.`, say); the table path given to
        /// [`load_baseline`] is relative to it.
        repo_dir: PathBuf,
        /// The revision.
        rev: String,
    },
    /// A folder holding the baseline's files, laid out like the current ones (the table
    /// path given to [`load_baseline`] is relative to it).
    Dir(PathBuf),
}

impl fmt::Display for Baseline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Baseline::GitRef { repo_dir, rev } => {
                write!(
                    f,
                    "`{rev}` of the git repository at `{}`",
                    repo_dir.display()
                )
            }
            Baseline::Dir(dir) => write!(f, "folder `{}`", dir.display()),
        }
    }
}

/// Why a baseline cannot be loaded (the `problem` of [`Error::Baseline`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BaselineProblem {
    /// The revision does not name a commit.
    #[error("`{0}` is not a revision of the repository")]
    UnknownRevision(String),
    /// git could not be run, or failed (not a repository, say).
    #[error("`{command}` failed: {message}")]
    Git {
        /// The git command.
        command: String,
        /// git's error output, or why it could not run.
        message: String,
    },
    /// A path (the table, an include folder) is outside the repository.
    #[error("`{}` is outside the repository", .0.display())]
    OutsideRepository(PathBuf),
    /// The baseline has no table at the path: for instance, the table is new. A caller may
    /// treat this as "nothing to compare".
    #[error("there is no mapping table at `{}`", .0.display())]
    TableNotFound(PathBuf),
    /// The baseline's table does not parse, or its protos are missing or do not compile,
    /// so there is no contract to compare with. (Other problems of the baseline table do
    /// not stop the comparison.)
    #[error("its table or protos cannot be read:\n{rendered}")]
    Unusable {
        /// The problems.
        diagnostics: Vec<Diagnostic>,
        /// The problems rendered with snippets.
        rendered: String,
    },
}

/// Loads the baseline analysis of the table at `table_path`, relative to the baseline's
/// folder (`repo_dir` for [`Baseline::GitRef`], the folder of [`Baseline::Dir`]); an
/// absolute path works for a git baseline when it is inside the repository's working tree.
///
/// A git baseline's files are named `REV:path/in/repository` in diagnostics (the table
/// `HEAD~1:mappings.yaml`, a proto `HEAD~1:proto/ordering/v1/events.proto`).
///
/// The analysis may hold diagnostics (a baseline written for an older eventmap may break a
/// newer rule): only a table that does not parse or protos that do not compile stop it.
///
/// # Errors
/// [`Error::Baseline`] when the revision, the repository or the table cannot be found, or
/// the table or its protos cannot be read ([`BaselineProblem`]); [`Error::Io`] when a
/// folder baseline's table cannot be read.
pub fn load_baseline(baseline: &Baseline, table_path: &Path) -> Result<Analysis, Error> {
    let failed = |problem| Error::Baseline {
        baseline: baseline.to_string(),
        problem,
    };
    let analysis = match baseline {
        Baseline::Dir(dir) => {
            let path = dir.join(table_path);
            if !path.is_file() {
                return Err(failed(BaselineProblem::TableNotFound(path)));
            }
            crate::analyze(&path)?
        }
        Baseline::GitRef { repo_dir, rev } => {
            from_git(repo_dir, rev, table_path).map_err(failed)?
        }
    };
    if analysis.protos.is_none() {
        return Err(failed(BaselineProblem::Unusable {
            rendered: analysis.render(),
            diagnostics: analysis.diagnostics,
        }));
    }
    Ok(analysis)
}

/// The analysis of the table at `table_path` in revision `rev`.
fn from_git(repo_dir: &Path, rev: &str, table_path: &Path) -> Result<Analysis, BaselineProblem> {
    let tree = Rc::new(GitTree::open(repo_dir, rev)?);
    let repo_path = tree.repo_path(table_path)?;
    let file = PathBuf::from(format!("{rev}:{repo_path}"));
    let mut sources = Sources::default();
    let table = read_table(&tree, &repo_path, &file, &mut sources)?;
    let includes = proto_includes(&tree, rev, &repo_path, &file, &table, &sources)?;
    let protos = compile(&tree, includes, &table, &mut sources)?;
    let checked = validate::check(&table, &file, &validate::table_dir(&file), &protos);
    Ok(Analysis {
        file,
        sources,
        diagnostics: checked.diagnostics,
        model: checked.model,
        protos: Some(protos),
    })
}

/// The table at `repo_path` of `tree`, parsed (shown as `file`; its text added to `sources`).
fn read_table(
    tree: &GitTree,
    repo_path: &str,
    file: &Path,
    sources: &mut Sources,
) -> Result<Table, BaselineProblem> {
    let bytes = tree
        .read(repo_path)?
        .ok_or_else(|| BaselineProblem::TableNotFound(PathBuf::from(repo_path)))?;
    let Ok(text) = String::from_utf8(bytes) else {
        let d =
            Diagnostic::new(rules::YAML, "the file is not valid UTF-8").at(Some(SourceLocation {
                file: file.to_path_buf(),
                line: 1,
                column: 1,
                len: 1,
            }));
        return Err(unusable(vec![d], sources));
    };
    sources.insert(file, text.as_str());
    table::parse(file, &text).map_err(|d| unusable(vec![*d], sources))
}

/// Include folders in the repository, each with how it is shown (`REV:dir/`).
type Includes = Vec<(String, String)>;

/// The include folders of `table` (at `repo_path` of `tree`, shown as `file`) in the
/// repository, with how they are shown (`REV:dir/`), when they and the proto files exist.
fn proto_includes(
    tree: &GitTree,
    rev: &str,
    repo_path: &str,
    file: &Path,
    table: &Table,
    sources: &Sources,
) -> Result<Includes, BaselineProblem> {
    let table_dir = Path::new(repo_path).parent().unwrap_or(Path::new(""));
    let (includes, mut missing) = include_dirs(tree, rev, table_dir, file, table)?;
    if table.protos.files.is_empty() {
        missing.push(Diagnostic::new(
            rules::PROTO,
            "`protos.files` names no `.proto` file",
        ));
    }
    missing.extend(missing_files(tree, file, table, &includes)?);
    if !missing.is_empty() {
        return Err(unusable(missing, sources));
    }
    Ok(includes)
}

/// The include folders of `table` that exist in `tree` (relative to `table_dir`), with how
/// they are shown, and a diagnostic for each that does not.
fn include_dirs(
    tree: &GitTree,
    rev: &str,
    table_dir: &Path,
    file: &Path,
    table: &Table,
) -> Result<(Includes, Vec<Diagnostic>), BaselineProblem> {
    let mut includes = Vec::new();
    let mut missing = Vec::new();
    for entry in &table.protos.include {
        let at = Some(table::location(file, entry.referenced));
        let found = match normalize(table_dir, Path::new(&entry.value)) {
            Ok(dir) => (tree.entry(&dir)? == Some(Entry::Tree)).then_some(dir),
            Err(_) => None,
        };
        match found {
            Some(dir) => {
                let shown = if dir.is_empty() {
                    format!("{rev}:")
                } else {
                    format!("{rev}:{dir}/")
                };
                includes.push((dir, shown));
            }
            None => missing.push(
                Diagnostic::new(
                    rules::PROTO,
                    format!(
                        "include directory `{}` does not exist in the baseline",
                        entry.value
                    ),
                )
                .at(at),
            ),
        }
    }
    Ok((includes, missing))
}

/// A diagnostic for each proto file of `table` found in none of the `includes` of `tree`.
fn missing_files(
    tree: &GitTree,
    file: &Path,
    table: &Table,
    includes: &[(String, String)],
) -> Result<Vec<Diagnostic>, BaselineProblem> {
    let mut missing = Vec::new();
    for entry in &table.protos.files {
        let mut found = false;
        for (dir, _) in includes {
            let path = normalize(Path::new(dir), Path::new(&entry.value));
            if let Ok(path) = path
                && tree.entry(&path)? == Some(Entry::Blob)
            {
                found = true;
                break;
            }
        }
        if !found {
            missing.push(
                Diagnostic::new(
                    rules::PROTO,
                    format!(
                        "`{}` is not found in any include directory of the baseline",
                        entry.value
                    ),
                )
                .at(Some(table::location(file, entry.referenced))),
            );
        }
    }
    Ok(missing)
}

/// The protos of `table` compiled from `tree` with `includes` (the texts read added to
/// `sources`).
fn compile(
    tree: &Rc<GitTree>,
    includes: Includes,
    table: &Table,
    sources: &mut Sources,
) -> Result<ProtoSet, BaselineProblem> {
    let read = ReadFiles::default();
    let mut resolver = ChainFileResolver::new();
    resolver.add(GitResolver {
        tree: Rc::clone(tree),
        includes,
        read: Rc::clone(&read),
    });
    resolver.add(GoogleFileResolver::new());
    let mut compiler = protox::Compiler::with_file_resolver(resolver);
    compiler.include_source_info(true).include_imports(true);
    let names: Vec<&str> = table
        .protos
        .files
        .iter()
        .map(|f| f.value.as_str())
        .collect();
    let compiled = compiler.open_files(&names).map(|_| ());
    let mut shown = std::collections::BTreeMap::new();
    for (name, (path, text)) in read.borrow().iter() {
        sources.insert(path, text.as_str());
        shown.insert(name.clone(), (path.clone(), text.clone()));
    }
    if let Err(err) = compiled {
        let d = proto_error(&err, &shown);
        return Err(unusable(vec![d], sources));
    }
    Ok(ProtoSet::from_pool(compiler.descriptor_pool(), shown))
}

fn unusable(diagnostics: Vec<Diagnostic>, sources: &Sources) -> BaselineProblem {
    BaselineProblem::Unusable {
        rendered: diagnostic::render_all(&diagnostics, sources),
        diagnostics,
    }
}

/// A protox error as a diagnostic in the baseline `.proto` it names.
fn proto_error(
    err: &protox::Error,
    shown: &std::collections::BTreeMap<String, (PathBuf, String)>,
) -> Diagnostic {
    let mut message = err.to_string();
    if let Some(help) = err.help() {
        message = format!("{message} ({help})");
    }
    let d = Diagnostic::new(rules::PROTO, message);
    let Some(name) = err.file() else {
        return d;
    };
    let Some((path, text)) = shown.get(name) else {
        return d.note(format!("in `{name}`"), None);
    };
    let offset = err
        .labels()
        .and_then(|mut labels| labels.next())
        .map_or(0, |label| label.offset());
    let (line, column) = diagnostic::line_column(text, offset);
    d.at(Some(SourceLocation {
        file: path.clone(),
        line,
        column,
        len: 1,
    }))
}
