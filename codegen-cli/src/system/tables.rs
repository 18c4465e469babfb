//! Which tables `--mappings` names: a file, a folder (every `mappings.yaml` under it), or a
//! glob pattern (`'services/*/mappings.yaml'`, quoted so that eventmap expands it, not the
//! shell).

use std::path::{Path, PathBuf};

/// The file name of a mapping table, looked for under a folder given to [`find_tables`].
pub const TABLE_FILE: &str = "mappings.yaml";

/// Why the tables named on the command line cannot be found.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TablesError {
    /// A glob pattern that does not parse.
    #[error("`{pattern}` is not a glob pattern: {message}")]
    Pattern {
        /// The pattern as given.
        pattern: String,
        /// What is wrong with it.
        message: String,
    },
    /// A folder holding no `mappings.yaml`.
    #[error("there is no `{TABLE_FILE}` under the folder `{}`", .0.display())]
    EmptyFolder(PathBuf),
    /// A glob pattern that matches no file.
    #[error("no file matches `{0}`")]
    NoMatch(String),
    /// A folder or a matched path that cannot be read.
    #[error("cannot read `{}`: {message}", .path.display())]
    Unreadable {
        /// The path.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

/// The tables `args` name, in order: a folder gives every [`TABLE_FILE`] under it
/// (sorted, skipping hidden folders and `target`), a path holding `*`, `?` or `[` that is not
/// a file gives the files the glob pattern matches (sorted; a wildcard matches no hidden
/// name), any other path is a table (whether
/// it exists is for [`analyze`](crate::analyze) to say). A table found in a folder or by a
/// pattern is taken once, also when it is named as well; a table named twice is kept twice.
///
/// # Errors
/// [`TablesError`] when a folder holds no table, a pattern is not valid or matches nothing, or
/// a folder cannot be read.
pub fn find_tables(args: &[PathBuf]) -> Result<Vec<PathBuf>, TablesError> {
    // (the file made absolute, the path as found, whether it was named as such)
    let mut tables: Vec<(PathBuf, PathBuf, bool)> = Vec::new();
    for arg in args {
        let (found, named) = expand(arg)?;
        for table in found {
            let key = std::fs::canonicalize(&table).unwrap_or_else(|_| table.clone());
            let keep = match tables.iter().find(|(k, ..)| *k == key) {
                None => true,
                // A file named twice is kept twice: the command says what it makes of it
                // (`permissions` refuses two users of one name). A file found in a folder or
                // by a pattern is taken once.
                Some((.., earlier_named)) => named && *earlier_named,
            };
            if keep {
                tables.push((key, table, named));
            }
        }
    }
    Ok(tables.into_iter().map(|(_, table, _)| table).collect())
}

/// The tables one argument names, and whether it names one file as such.
fn expand(arg: &Path) -> Result<(Vec<PathBuf>, bool), TablesError> {
    if arg.is_dir() {
        let pattern = glob::Pattern::escape(&arg.to_string_lossy());
        let pattern = format!("{}/**/{TABLE_FILE}", pattern.trim_end_matches('/'));
        let found: Vec<PathBuf> = matches(&pattern)?
            .into_iter()
            .filter(|path| !skipped(arg, path))
            .collect();
        if found.is_empty() {
            return Err(TablesError::EmptyFolder(arg.to_path_buf()));
        }
        return Ok((found, false));
    }
    let text = arg.to_string_lossy();
    if !arg.exists() && text.contains(['*', '?', '[']) {
        let found = matches(&text)?;
        if found.is_empty() {
            return Err(TablesError::NoMatch(text.into_owned()));
        }
        return Ok((found, false));
    }
    Ok((vec![arg.to_path_buf()], true))
}

/// The files `pattern` matches, sorted; wildcards skip hidden names.
fn matches(pattern: &str) -> Result<Vec<PathBuf>, TablesError> {
    // `*` and `**` do not enter hidden files and folders (`.git`); a pattern may name one.
    let options = glob::MatchOptions {
        require_literal_leading_dot: true,
        ..glob::MatchOptions::new()
    };
    let paths = glob::glob_with(pattern, options).map_err(|err| TablesError::Pattern {
        pattern: pattern.to_owned(),
        message: err.to_string(),
    })?;
    let mut found = Vec::new();
    for entry in paths {
        let path = entry.map_err(|err| TablesError::Unreadable {
            path: err.path().to_path_buf(),
            message: err.error().to_string(),
        })?;
        if path.is_file() {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}

/// Whether `path`, found under `root`, is in a hidden folder or a `target` folder.
fn skipped(root: &Path, path: &Path) -> bool {
    let inner = path.strip_prefix(root).unwrap_or(path);
    let Some(parent) = inner.parent() else {
        return false;
    };
    parent.components().any(|c| {
        let name = c.as_os_str().to_string_lossy();
        name == "target" || (name.starts_with('.') && name != "." && name != "..")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, "").expect("write");
    }

    #[test]
    fn folders_patterns_and_files_each_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        for path in [
            "a/mappings.yaml",
            "b/c/mappings.yaml",
            "b/other.yaml",
            ".git/mappings.yaml",
            "target/debug/mappings.yaml",
        ] {
            touch(&root.join(path));
        }
        let found =
            find_tables(&[root.join("a/mappings.yaml"), root.to_path_buf()]).expect("found");
        assert_eq!(
            found,
            vec![root.join("a/mappings.yaml"), root.join("b/c/mappings.yaml")]
        );
        let pattern = root.join("*/mappings.yaml");
        assert_eq!(
            find_tables(&[pattern]).expect("glob"),
            vec![root.join("a/mappings.yaml")]
        );
        assert!(matches!(
            find_tables(&[root.join("z*/mappings.yaml")]),
            Err(TablesError::NoMatch(_))
        ));
        // A hidden folder given as such is searched.
        assert_eq!(
            find_tables(&[root.join(".git")]).expect("given"),
            vec![root.join(".git/mappings.yaml")]
        );
        let empty = root.join("empty");
        std::fs::create_dir_all(&empty).expect("mkdir");
        assert!(matches!(
            find_tables(&[empty]),
            Err(TablesError::EmptyFolder(_))
        ));
        // Named, then found again in its folder: once. Named twice: twice.
        let a = root.join("a/mappings.yaml");
        assert_eq!(
            find_tables(&[a.clone(), root.join("a")]).expect("once"),
            vec![a.clone()]
        );
        assert_eq!(
            find_tables(&[a.clone(), a.clone()]).expect("twice"),
            vec![a.clone(), a]
        );
        // A file that does not exist is the analysis' to report.
        let missing = root.join("missing.yaml");
        assert_eq!(
            find_tables(std::slice::from_ref(&missing)).expect("kept"),
            vec![missing]
        );
    }
}
