//! The tables eventmap owns in a SQLite database: the embedded migrations.

use sqlx::SqlitePool;
use tracing::Instrument;

/// The embedded migrations: version, description, SQL. Applied in order, each once, recorded
/// in `eventmap_migrations`. The versions are those of the Postgres migrations that create
/// the same tables.
const MIGRATIONS: &[(i64, &str, &str)] = &[(3, "inbox", include_str!("migrations/0003_inbox.sql"))];

/// Applies the migrations the database lacks, in one immediate transaction (it holds the
/// write lock throughout, so several processes starting at once apply each migration once).
///
/// # Errors
///
/// The database's: a connection, a statement of a migration, the commit.
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
             )",
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
            sqlx::Executor::execute(&mut *tx, sql).await?;
            sqlx::query("INSERT INTO eventmap_migrations (version, description) VALUES ($1, $2)")
                .bind(version)
                .bind(description)
                .execute(&mut *tx)
                .await?;
            tracing::info!(version, description, "migration applied");
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
}
