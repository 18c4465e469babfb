//! The database schema eventmap owns: name checking and the embedded migrations.

use sqlx::{PgPool, Row};
use tracing::Instrument;

use super::Error;

/// `LISTEN`/`NOTIFY` channel on which a commit that wrote outbox rows notifies the relays; the
/// payload is the schema name, so relays of other schemas ignore it.
pub const NOTIFY_CHANNEL: &str = "eventmap_outbox";

/// The embedded migrations: version, description, SQL with `{schema}` placeholders. Applied in
/// order, each once, recorded in `<schema>.eventmap_migrations`.
const MIGRATIONS: &[(i32, &str, &str)] = &[
    (
        1,
        "event store",
        include_str!("migrations/0001_event_store.sql"),
    ),
    (2, "outbox", include_str!("migrations/0002_outbox.sql")),
    (3, "inbox", include_str!("migrations/0003_inbox.sql")),
    (
        4,
        "outbox parking",
        include_str!("migrations/0004_outbox_parking.sql"),
    ),
    (5, "backfills", include_str!("migrations/0005_backfill.sql")),
    (
        6,
        "outbox headers as text",
        include_str!("migrations/0006_outbox_headers_text.sql"),
    ),
];

/// A checked schema name and the qualified table names in it.
#[derive(Debug, Clone)]
pub(crate) struct Schema {
    name: String,
    pub(crate) aggregates: String,
    pub(crate) events: String,
    pub(crate) outbox: String,
    pub(crate) inbox: String,
    /// Used by the backfill (feature `nats`).
    #[cfg_attr(not(feature = "nats"), allow(dead_code))]
    pub(crate) backfills: String,
    migrations: String,
}

impl Schema {
    /// Checks `name`: lower-case ASCII letters, digits and `_`, not starting with a digit,
    /// at most 63 bytes (a PostgreSQL identifier that needs no quoting rules to be read).
    pub(crate) fn new(name: &str) -> Result<Self, Error> {
        let invalid = |reason: &'static str| Error::InvalidSchema {
            name: name.to_owned(),
            reason,
        };
        if name.is_empty() {
            return Err(invalid("empty"));
        }
        if name.len() > 63 {
            return Err(invalid("longer than 63 bytes"));
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(invalid("only a-z, 0-9 and _ are allowed"));
        }
        if name.as_bytes()[0].is_ascii_digit() {
            return Err(invalid("starts with a digit"));
        }
        if name.starts_with("pg_") {
            return Err(invalid("pg_ is reserved by PostgreSQL"));
        }
        let quoted = format!("\"{name}\"");
        Ok(Self {
            name: name.to_owned(),
            aggregates: format!("{quoted}.eventmap_aggregates"),
            events: format!("{quoted}.eventmap_events"),
            outbox: format!("{quoted}.eventmap_outbox"),
            inbox: format!("{quoted}.eventmap_inbox"),
            backfills: format!("{quoted}.eventmap_backfills"),
            migrations: format!("{quoted}.eventmap_migrations"),
        })
    }

    /// The schema name, unquoted.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    fn quoted(&self) -> String {
        format!("\"{}\"", self.name)
    }

    /// Checks, without writing anything, that the schema holds eventmap's tables with every
    /// embedded migration applied: what the operators' read-only handles ([`Outbox::open`](super::Outbox::open),
    /// [`backfill_checkpoints`](super::backfill_checkpoints)) require, so that reading a
    /// schema never creates or upgrades it.
    ///
    /// # Errors
    ///
    /// [`Error::SchemaMissing`] when the schema or its migrations table does not exist,
    /// [`Error::SchemaOutdated`] when an embedded migration is not applied,
    /// [`Error::Database`].
    pub(crate) async fn check_current(&self, pool: &PgPool) -> Result<(), Error> {
        let (exists, table): (bool, Option<String>) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1), \
                    to_regclass($2)::text",
        )
        .bind(&self.name)
        .bind(&self.migrations)
        .fetch_one(pool)
        .await?;
        if table.is_none() {
            return Err(Error::SchemaMissing {
                schema: self.name.clone(),
                exists,
            });
        }
        let applied: Vec<i32> = sqlx::query_scalar(&format!(
            "SELECT version FROM {} ORDER BY version",
            self.migrations
        ))
        .fetch_all(pool)
        .await?;
        let missing: Vec<String> = MIGRATIONS
            .iter()
            .filter(|(version, _, _)| !applied.contains(version))
            .map(|(version, description, _)| format!("{version} ({description})"))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(Error::SchemaOutdated {
                schema: self.name.clone(),
                missing: missing.join(", "),
            })
        }
    }

    /// Creates the schema and applies the migrations it lacks, in one transaction under an
    /// advisory lock (so that several processes starting at once do not race).
    pub(crate) async fn migrate(&self, pool: &PgPool) -> Result<(), Error> {
        let span = tracing::info_span!("eventmap.migrate", schema = %self.name);
        async {
            let mut tx = pool.begin().await?;
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext('eventmap.migrate'), hashtext($1))")
                .bind(&self.name)
                .execute(&mut *tx)
                .await?;
            let setup = format!(
                "CREATE SCHEMA IF NOT EXISTS {schema};
                 CREATE TABLE IF NOT EXISTS {migrations} (
                     version integer PRIMARY KEY,
                     description text NOT NULL,
                     applied_at timestamptz NOT NULL DEFAULT now()
                 );",
                schema = self.quoted(),
                migrations = self.migrations,
            );
            // `Executor::execute` with a `&str` and no arguments runs the simple query protocol
            // (several statements), as `sqlx::raw_sql` does; `raw_sql(..).execute(&mut *tx)`
            // would make every future that migrates non-`Send` (sqlx issue #3150).
            sqlx::Executor::execute(&mut *tx, setup.as_str()).await?;
            let applied: Vec<i32> = sqlx::query(&format!(
                "SELECT version FROM {} ORDER BY version",
                self.migrations
            ))
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|row| row.try_get::<i32, _>(0))
            .collect::<Result<_, _>>()?;
            for &(version, description, sql) in MIGRATIONS {
                if applied.contains(&version) {
                    continue;
                }
                let sql = sql.replace("{schema}", &self.quoted());
                sqlx::Executor::execute(&mut *tx, sql.as_str())
                    .await
                    .map_err(|source| Error::Migration {
                        version,
                        description,
                        source,
                    })?;
                sqlx::query(&format!(
                    "INSERT INTO {} (version, description) VALUES ($1, $2)",
                    self.migrations
                ))
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
                    "the schema has a migration this eventmap does not know (written by a newer version?)"
                );
            }
            tx.commit().await?;
            Ok(())
        }
        .instrument(span)
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_checked() {
        let schema = Schema::new("orders_1").unwrap();
        assert_eq!(schema.events, "\"orders_1\".eventmap_events");
        assert_eq!(schema.name(), "orders_1");
        for bad in ["", "1abc", "Orders", "a-b", "a\"b", "pg_x", &"a".repeat(64)] {
            assert!(
                matches!(Schema::new(bad), Err(Error::InvalidSchema { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn migrations_are_ordered_and_templated() {
        let versions: Vec<i32> = MIGRATIONS.iter().map(|(v, _, _)| *v).collect();
        let mut sorted = versions.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(versions, sorted);
        for (_, _, sql) in MIGRATIONS {
            assert!(sql.contains("{schema}."));
        }
    }
}
