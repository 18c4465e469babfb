//! The tables eventmap owns in an SQLite file: the embedded migrations.

use sqlx::SqlitePool;
use tracing::Instrument;

/// An SQL expression: the current time as ISO 8601 UTC text with milliseconds, the format of
/// every time column.
pub(crate) const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

/// The embedded migrations: version, description, SQL. Applied in order, each once,
/// recorded in `eventmap_migrations`. Version 3 is the inbox's.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "event store",
        include_str!("migrations/0001_event_store.sql"),
    ),
    (2, "outbox", include_str!("migrations/0002_outbox.sql")),
    (3, "inbox", include_str!("migrations/0003_inbox.sql")),
];

/// Applies the migrations the file lacks, in one `BEGIN IMMEDIATE` transaction (it holds the
/// file's write lock, so several processes starting at once apply each migration once).
/// Idempotent.
///
/// # Errors
///
/// The database error of the statement that failed (the migration's version and
/// description are logged); nothing of the failed run is applied.
pub(crate) async fn migrate(pool: &SqlitePool) -> Result<(), sqlx::Error> {
    let span = tracing::info_span!("eventmap.migrate");
    async {
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::Executor::execute(
            &mut *tx,
            "CREATE TABLE IF NOT EXISTS eventmap_migrations (
                 version INTEGER PRIMARY KEY,
                 description TEXT NOT NULL,
                 applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
             ) STRICT",
        )
        .await?;
        let applied: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM eventmap_migrations ORDER BY version")
                .fetch_all(&mut *tx)
                .await?;
        for &(version, description, sql) in MIGRATIONS {
            if applied.contains(&version) {
                continue;
            }
            if let Err(err) = sqlx::Executor::execute(&mut *tx, sql).await {
                tracing::error!(version, description, error = %crate::error::ErrorChain(&err), "migration failed");
                return Err(err);
            }
            sqlx::query("INSERT INTO eventmap_migrations (version, description) VALUES (?, ?)")
                .bind(version)
                .bind(description)
                .execute(&mut *tx)
                .await?;
            tracing::info!(version, description, "migration applied");
        }
        if let Some(newer) = applied
            .iter()
            .find(|v| !MIGRATIONS.iter().any(|(known, _, _)| known == *v))
        {
            tracing::warn!(
                version = newer,
                "the file has a migration this eventmap does not know (written by a newer version?)"
            );
        }
        tx.commit().await
    }
    .instrument(span)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_ordered() {
        let versions: Vec<i64> = MIGRATIONS.iter().map(|(v, _, _)| *v).collect();
        let mut sorted = versions.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(versions, sorted);
    }

    #[tokio::test]
    async fn migrating_twice_changes_nothing() {
        let pool = crate::sqlite::connect("sqlite::memory:").await.unwrap();
        migrate(&pool).await.unwrap();
        migrate(&pool).await.unwrap();
        let applied: Vec<(i64, String)> =
            sqlx::query_as("SELECT version, description FROM eventmap_migrations ORDER BY version")
                .fetch_all(&pool)
                .await
                .unwrap();
        let expected: Vec<(i64, String)> = MIGRATIONS
            .iter()
            .map(|(v, d, _)| (*v, (*d).to_owned()))
            .collect();
        assert_eq!(applied, expected);
    }
}
