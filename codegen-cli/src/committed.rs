//! Files that eventmap writes and teams commit (the generated module, the generated docs):
//! writing them only when they changed, and checking that the committed copy is current
//! (`generate --check`, `docs --check`) with a unified diff when it is not.

use std::path::Path;

pub use crate::builder::write_if_changed;

/// How a committed file compares with what eventmap would write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Freshness {
    /// The file holds exactly what eventmap would write.
    Current,
    /// The file differs; `diff` is a unified diff from it to what eventmap would write
    /// (`--- a/PATH`, `+++ b/PATH`).
    Stale {
        /// The unified diff.
        diff: String,
    },
    /// The file does not exist (or cannot be read as UTF-8 text).
    Missing,
}

/// Compares the file at `path` with `expected`.
pub fn freshness(path: &Path, expected: &str) -> Freshness {
    match std::fs::read_to_string(path) {
        Ok(current) if current == expected => Freshness::Current,
        Ok(current) => Freshness::Stale {
            diff: unified_diff(path, &current, expected),
        },
        Err(_) => Freshness::Missing,
    }
}

/// A unified diff from `old` to `new`, both named after `path` (`a/PATH`, `b/PATH`).
pub fn unified_diff(path: &Path, old: &str, new: &str) -> String {
    let name = path.display().to_string();
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .header(&format!("a/{name}"), &format!("b/{name}"))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_only_what_changed_and_reports_staleness_with_a_diff() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/out.txt");
        assert_eq!(freshness(&path, "a\n"), Freshness::Missing);
        assert!(write_if_changed(&path, "a\n").expect("write"));
        assert!(!write_if_changed(&path, "a\n").expect("write"));
        assert_eq!(freshness(&path, "a\n"), Freshness::Current);
        let Freshness::Stale { diff } = freshness(&path, "b\n") else {
            panic!("stale expected");
        };
        assert!(diff.contains("-a\n+b\n"), "{diff}");
        assert!(
            diff.contains(&format!("--- a/{}", path.display())),
            "{diff}"
        );
    }
}
