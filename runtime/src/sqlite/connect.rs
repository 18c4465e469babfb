//! Opening an SQLite file the way the store and the relay need it: WAL, `synchronous =
//! FULL`, foreign keys, a busy timeout, created if missing.

use std::str::FromStr;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::Error;

/// How long a write waits for the file's write lock (held by another writer) before it
/// fails with "database is locked": 10 s. Appends hold it for milliseconds.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections of the pool [`connect`] opens on a file: 8 (readers run beside the one
/// writer in WAL mode). An in-memory database gets 1.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 8;

/// Whether `url` names an SQLite database (`sqlite://path/to/file.db`, `sqlite:file.db`,
/// `sqlite::memory:`): how the examples choose the backend from `DATABASE_URL`.
pub fn is_sqlite_url(url: &str) -> bool {
    url.starts_with("sqlite:")
}

/// The connect options of `url` (`sqlite://path/to/file.db`; `sqlite::memory:` only for
/// tests) with the settings the store relies on: journal mode WAL (readers do not block the
/// writer), `synchronous = FULL` (a commit is on disk before it returns: see the module's
/// docs), foreign keys on, the file created if missing, [`DEFAULT_BUSY_TIMEOUT`]. Query
/// parameters of the URL (`?mode=ro`, ...) are sqlx's.
///
/// # Errors
///
/// [`Error::Database`] with sqlx's configuration error when `url` is not an `sqlite:` URL or
/// cannot be parsed.
pub fn connect_options(url: &str) -> Result<SqliteConnectOptions, Error> {
    if !is_sqlite_url(url) {
        return Err(Error::Database(sqlx::Error::Configuration(
            format!(
                "not an SQLite URL (sqlite://path/to/file.db): {}",
                crate::redact::redact_url(url)
            )
            .into(),
        )));
    }
    Ok(SqliteConnectOptions::from_str(url)?
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .create_if_missing(true)
        .busy_timeout(DEFAULT_BUSY_TIMEOUT))
}

/// A pool on the SQLite database at `url` ([`connect_options`]), of
/// [`DEFAULT_MAX_CONNECTIONS`] connections (1 for `sqlite::memory:`, whose connections share
/// one database through a shared cache that does not wait for locks).
///
/// # Errors
///
/// [`Error::Database`] when the URL is not SQLite's; [`Error::Open`], naming the file, when
/// the file cannot be opened or created (its folder does not exist, for one).
pub async fn connect(url: &str) -> Result<SqlitePool, Error> {
    let options = connect_options(url)?;
    let path = options.get_filename().to_owned();
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    let pool = SqlitePoolOptions::new()
        .max_connections(if in_memory {
            1
        } else {
            DEFAULT_MAX_CONNECTIONS
        })
        .connect_with(options)
        .await
        .map_err(|source| Error::Open { path, source })?;
    Ok(pool)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sqlite_urls_are_accepted() {
        assert!(is_sqlite_url("sqlite://x.db"));
        assert!(is_sqlite_url("sqlite::memory:"));
        assert!(!is_sqlite_url("postgres://u@h/db"));
        let refused =
            crate::error::error_chain(&connect_options("postgres://u:secret@h/db").unwrap_err());
        assert!(refused.contains("not an SQLite URL"), "{refused}");
        assert!(!refused.contains("secret"), "{refused}");
        let options = connect_options("sqlite://dir/orders.db").unwrap();
        assert_eq!(
            options.get_filename(),
            std::path::Path::new("dir/orders.db")
        );
    }

    #[tokio::test]
    async fn a_file_that_cannot_be_created_is_named() {
        let folder = tempfile::tempdir().unwrap();
        let file = folder.path().join("no/such/dir/orders.db");
        let url = format!("sqlite://{}", file.display());
        let err = connect(&url).await.unwrap_err();
        let Error::Open { path, .. } = &err else {
            panic!("not Error::Open: {err:?}");
        };
        assert_eq!(path, &file);
        assert_eq!(
            err.to_string(),
            format!("cannot open or create the SQLite file {}", file.display())
        );
        let message = crate::error::error_chain(&err);
        assert!(
            message.starts_with(&format!(
                "cannot open or create the SQLite file {}: ",
                file.display()
            )),
            "{message}"
        );
    }
}
