//! Reading files of one git revision through git plumbing (`git rev-parse`,
//! `git cat-file --batch`): no checkout, the working tree and the index are never touched.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::rc::Rc;

use super::baseline::BaselineProblem;

/// Environment variables that would make git read another repository or index than the one
/// in `repo_dir` (they are set inside git hooks, for instance).
const REPOSITORY_ENV: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_COMMON_DIR",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
];

/// One commit of a repository, read through git.
#[derive(Debug)]
pub(crate) struct GitTree {
    repo_dir: PathBuf,
    /// The commit id the revision resolved to (so every read sees the same commit).
    commit: String,
    /// `repo_dir` relative to the repository's top folder, `/`-terminated or empty.
    prefix: String,
}

/// What a path names in the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Entry {
    /// A file.
    Blob,
    /// A folder.
    Tree,
    /// Something else (a submodule commit).
    Other,
}

impl GitTree {
    /// Resolves `rev` to a commit of the repository containing `repo_dir`.
    pub fn open(repo_dir: &Path, rev: &str) -> Result<GitTree, BaselineProblem> {
        if rev.is_empty() || rev.starts_with('-') || rev.contains(['\n', '\0']) {
            return Err(BaselineProblem::UnknownRevision(rev.to_owned()));
        }
        let mut tree = GitTree {
            repo_dir: repo_dir.to_path_buf(),
            commit: String::new(),
            prefix: String::new(),
        };
        let spec = format!("{rev}^{{commit}}");
        let out = tree.run(&["rev-parse", "--verify", "--quiet", &spec], None)?;
        if !out.status.success() {
            return Err(if out.stderr.is_empty() {
                BaselineProblem::UnknownRevision(rev.to_owned())
            } else {
                git_failed("rev-parse", &out)
            });
        }
        tree.commit = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let out = tree.run(&["rev-parse", "--show-prefix"], None)?;
        if out.status.success() {
            tree.prefix = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        }
        Ok(tree)
    }

    /// The path inside the repository of `path`: relative paths are relative to `repo_dir`,
    /// absolute ones must be inside the repository's working tree.
    pub fn repo_path(&self, path: &Path) -> Result<String, BaselineProblem> {
        if !path.is_absolute() {
            return normalize(Path::new(&self.prefix), path);
        }
        let outside = || BaselineProblem::OutsideRepository(path.to_path_buf());
        let out = self.run(&["rev-parse", "--show-toplevel"], None)?;
        if !out.status.success() {
            return Err(git_failed("rev-parse", &out));
        }
        let top = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        let top = top.canonicalize().map_err(|_| outside())?;
        let name = path.file_name().ok_or_else(outside)?;
        let dir = path
            .parent()
            .and_then(|p| p.canonicalize().ok())
            .ok_or_else(outside)?;
        let relative = dir.strip_prefix(&top).map_err(|_| outside())?;
        normalize(relative, Path::new(name))
    }

    /// What `path` (inside the repository) names in the commit, if anything.
    pub fn entry(&self, path: &str) -> Result<Option<Entry>, BaselineProblem> {
        let header = self.batch("--batch-check", path)?;
        Ok(header.map(|(kind, _)| match kind.as_str() {
            "blob" => Entry::Blob,
            "tree" => Entry::Tree,
            _ => Entry::Other,
        }))
    }

    /// The content of the file at `path` (inside the repository), if it is a file.
    pub fn read(&self, path: &str) -> Result<Option<Vec<u8>>, BaselineProblem> {
        Ok(match self.batch("--batch", path)? {
            Some((kind, content)) if kind == "blob" => Some(content),
            _ => None,
        })
    }

    /// Runs `git cat-file <mode>` for `<commit>:<path>`: the object's type and content
    /// (empty for `--batch-check`), or `None` when the path does not exist.
    fn batch(&self, mode: &str, path: &str) -> Result<Option<(String, Vec<u8>)>, BaselineProblem> {
        if path.contains(['\n', '\0']) {
            return Ok(None);
        }
        let spec = format!("{}:{path}\n", self.commit);
        let out = self.run(&["cat-file", mode], Some(spec.as_bytes()))?;
        if !out.status.success() {
            return Err(git_failed("cat-file", &out));
        }
        let stdout = out.stdout;
        let end = stdout
            .iter()
            .position(|b| *b == b'\n')
            .unwrap_or(stdout.len());
        let header = String::from_utf8_lossy(&stdout[..end]).into_owned();
        // `<oid> <type> <size>`, or `<spec> missing` (or `ambiguous`) when there is no such
        // object (the spec may contain spaces, the oid does not).
        let mut words = header.rsplitn(3, ' ');
        let (Some(size), Some(kind), Some(oid)) = (words.next(), words.next(), words.next()) else {
            return Ok(None);
        };
        let Ok(size) = size.parse::<usize>() else {
            return Ok(None);
        };
        if oid.is_empty() || !oid.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let content = stdout
            .get(end + 1..end + 1 + size)
            .map(<[u8]>::to_vec)
            .unwrap_or_default();
        Ok(Some((kind.to_owned(), content)))
    }

    fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Result<Output, BaselineProblem> {
        let mut command = Command::new("git");
        command
            .arg("-C")
            .arg(&self.repo_dir)
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for var in REPOSITORY_ENV {
            command.env_remove(var);
        }
        let cannot_run = |err: std::io::Error| BaselineProblem::Git {
            command: format!("git {}", args.join(" ")),
            message: format!("cannot run git: {err}"),
        };
        let mut child = command.spawn().map_err(cannot_run)?;
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(input).map_err(cannot_run)?;
        }
        child.wait_with_output().map_err(cannot_run)
    }
}

fn git_failed(command: &str, out: &Output) -> BaselineProblem {
    BaselineProblem::Git {
        command: format!("git {command}"),
        message: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    }
}

/// `dir/path` as a `/`-separated path inside the repository, with `.` and `..` resolved
/// lexically; an absolute path or one that leaves the repository is refused.
pub(crate) fn normalize(dir: &Path, path: &Path) -> Result<String, BaselineProblem> {
    let outside = || BaselineProblem::OutsideRepository(dir.join(path));
    let mut parts: Vec<String> = Vec::new();
    for component in dir.components().chain(path.components()) {
        match component {
            Component::Normal(part) => {
                parts.push(part.to_str().ok_or_else(outside)?.to_owned());
            }
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop().ok_or_else(outside)?;
            }
            Component::RootDir | Component::Prefix(_) => return Err(outside()),
        }
    }
    Ok(parts.join("/"))
}

/// The `.proto` files a compilation read, by proto file name: how each is shown and its text.
pub(crate) type ReadFiles = Rc<RefCell<BTreeMap<String, (PathBuf, String)>>>;

/// A protox file resolver that reads `.proto` files from include folders of a commit.
pub(crate) struct GitResolver {
    /// The commit.
    pub tree: Rc<GitTree>,
    /// Include folders inside the repository, in order, each with how its files are shown.
    pub includes: Vec<(String, String)>,
    /// Every file read, for locations and snippets.
    pub read: ReadFiles,
}

impl protox::file::FileResolver for GitResolver {
    fn open_file(&self, name: &str) -> Result<protox::file::File, protox::Error> {
        for (dir, shown) in &self.includes {
            let path = if dir.is_empty() {
                name.to_owned()
            } else {
                format!("{dir}/{name}")
            };
            let bytes = match self.tree.read(&path) {
                Ok(Some(bytes)) => bytes,
                Ok(None) => continue,
                Err(err) => return Err(protox::Error::new(err)),
            };
            let text = String::from_utf8(bytes)
                .map_err(|_| protox::Error::new(format!("`{shown}{name}` is not valid UTF-8")))?;
            // Recorded before parsing, so that a syntax error can show the file.
            self.read.borrow_mut().insert(
                name.to_owned(),
                (PathBuf::from(format!("{shown}{name}")), text.clone()),
            );
            return protox::file::File::from_source(name, &text);
        }
        Err(protox::Error::file_not_found(name))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::normalize;

    #[test]
    fn paths_are_normalized_inside_the_repository() {
        let n = |dir: &str, path: &str| normalize(Path::new(dir), Path::new(path)).ok();
        assert_eq!(n("", "mappings.yaml").as_deref(), Some("mappings.yaml"));
        assert_eq!(n("svc/", "./proto").as_deref(), Some("svc/proto"));
        assert_eq!(
            n("svc/a", "../shared/proto").as_deref(),
            Some("svc/shared/proto")
        );
        assert_eq!(n("", "../x"), None);
        assert_eq!(n("", "/etc"), None);
    }
}
