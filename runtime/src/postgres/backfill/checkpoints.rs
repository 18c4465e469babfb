//! The checkpoints of the backfills of a schema (`eventmap_backfills`), for operators: list
//! them and reset one, without the service's store ([`backfill_checkpoints`],
//! [`reset_backfill`]); and the backfill's lock, which a run holds and a reset takes.

use sqlx::Row;
use sqlx::postgres::PgPool;

use super::{BackfillCheckpoint, BackfillError};
use crate::postgres::Error;
use crate::postgres::schema::Schema;

/// The keys of a backfill's advisory lock in SQL, with `$1` its [`lock_key`]: a run holds it
/// (session level, on a connection of its own) for as long as it runs; a reset takes it for
/// its transaction.
pub(super) const LOCK_KEYS: &str = "hashtext('eventmap.backfill'), hashtext($1)";

/// The text key of the lock of backfill `name` on `schema` (hashed by [`LOCK_KEYS`]).
pub(super) fn lock_key(schema: &str, name: &str) -> String {
    format!("{schema}/{name}")
}

/// The checkpoints of every backfill run on `schema`, by name. Reads only: the schema must
/// exist with eventmap's tables (it is never created or migrated here).
///
/// # Errors
///
/// [`Error::InvalidSchema`], [`Error::SchemaMissing`] (no eventmap tables in `schema`),
/// [`Error::SchemaOutdated`] or [`Error::Database`].
pub async fn backfill_checkpoints(
    pool: &PgPool,
    schema: &str,
) -> Result<Vec<BackfillCheckpoint>, Error> {
    let schema = Schema::new(schema)?;
    schema.check_current(pool).await?;
    read(pool, &schema, None).await
}

/// Deletes the checkpoint of backfill `name` on `schema` (its next run starts over). Returns
/// whether there was one. Refuses while a run of that backfill holds its lock: the reset
/// takes the same lock, without waiting, for its transaction, so that it never races a run
/// (which would go on from its position in memory and write its counts into a checkpoint
/// that is gone). The schema must exist with eventmap's tables (it is never created or
/// migrated here).
///
/// # Errors
///
/// [`BackfillError::AlreadyRunning`] while the backfill runs; [`BackfillError::Store`]:
/// [`Error::InvalidSchema`], [`Error::SchemaMissing`], [`Error::SchemaOutdated`] or
/// [`Error::Database`].
pub async fn reset_backfill(
    pool: &PgPool,
    schema: &str,
    name: &str,
) -> Result<bool, BackfillError> {
    let schema = Schema::new(schema)?;
    schema.check_current(pool).await?;
    reset(pool, &schema, name).await
}

/// The checkpoints of `schema`, all or the one named `name`, by name.
pub(super) async fn read(
    pool: &PgPool,
    schema: &Schema,
    name: Option<&str>,
) -> Result<Vec<BackfillCheckpoint>, Error> {
    let rows = sqlx::query(&format!(
        "SELECT name, selection::text AS selection, until_position, position, events, messages, \
         published, duplicates, finished_at IS NOT NULL AS finished FROM {} \
         WHERE $1::text IS NULL OR name = $1 ORDER BY name",
        schema.backfills
    ))
    .bind(name)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            let get = |column: &str| -> Result<u64, Error> {
                Ok(u64::try_from(row.try_get::<i64, _>(column)?).unwrap_or_default())
            };
            Ok(BackfillCheckpoint {
                name: row.try_get("name")?,
                selection: row.try_get("selection")?,
                until: get("until_position")?,
                position: get("position")?,
                events: get("events")?,
                messages: get("messages")?,
                published: get("published")?,
                duplicates: get("duplicates")?,
                finished: row.try_get("finished")?,
            })
        })
        .collect()
}

/// Deletes checkpoint `name` of `schema` under the backfill's lock (try-lock, for the
/// transaction): [`BackfillError::AlreadyRunning`] while a run holds it.
pub(super) async fn reset(
    pool: &PgPool,
    schema: &Schema,
    name: &str,
) -> Result<bool, BackfillError> {
    let mut tx = pool.begin().await.map_err(Error::from)?;
    let locked: bool =
        sqlx::query_scalar(&format!("SELECT pg_try_advisory_xact_lock({LOCK_KEYS})"))
            .bind(lock_key(schema.name(), name))
            .fetch_one(&mut *tx)
            .await
            .map_err(Error::from)?;
    if !locked {
        return Err(BackfillError::AlreadyRunning {
            name: name.to_owned(),
        });
    }
    let deleted = sqlx::query(&format!("DELETE FROM {} WHERE name = $1", schema.backfills))
        .bind(name)
        .execute(&mut *tx)
        .await
        .map_err(Error::from)?;
    tx.commit().await.map_err(Error::from)?;
    Ok(deleted.rows_affected() > 0)
}
