//! In-process wake-ups of the relay: SQLite has no `LISTEN/NOTIFY`, so a store that commits
//! outbox rows wakes the relays of the same process on the same file through a [`Notify`]
//! shared per file; relays in other processes find the rows at their next poll.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, Weak};

use sqlx::SqlitePool;
use tokio::sync::Notify;

/// The wake-up of each open file, by canonical path (or the name as given, for in-memory
/// databases and paths that cannot be resolved).
static WAKES: LazyLock<Mutex<HashMap<PathBuf, Weak<Notify>>>> = LazyLock::new(Mutex::default);

/// The wake-up shared by every store and relay of this process on `pool`'s file.
pub(crate) fn for_pool(pool: &SqlitePool) -> Arc<Notify> {
    for_file(pool.connect_options().get_filename())
}

fn for_file(file: &Path) -> Arc<Notify> {
    let key = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    let mut wakes = WAKES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(wake) = wakes.get(&key).and_then(Weak::upgrade) {
        return wake;
    }
    wakes.retain(|_, wake| wake.strong_count() > 0);
    let wake = Arc::new(Notify::new());
    wakes.insert(key, Arc::downgrade(&wake));
    wake
}

/// A file's display name for logs and metrics: its path as given.
pub(crate) fn label(pool: &SqlitePool) -> String {
    pool.connect_options().get_filename().display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_wake_per_file() {
        let dir = tempfile_dir();
        let a = for_file(&dir.join("a.db"));
        let again = for_file(&dir.join("a.db"));
        let b = for_file(&dir.join("b.db"));
        assert!(Arc::ptr_eq(&a, &again));
        assert!(!Arc::ptr_eq(&a, &b));
    }

    fn tempfile_dir() -> PathBuf {
        std::env::temp_dir().join(format!("eventmap-wake-{}", uuid::Uuid::new_v4().simple()))
    }
}
