//! The checkpoints of the backfills of a schema (`eventmap_backfills`), for operators: list
//! them and reset one, without the service's store ([`backfill_checkpoints`],
//! [`reset_backfill`]).

use sqlx::Row;
use sqlx::postgres::PgPool;

use super::BackfillCheckpoint;
use crate::postgres::Error;
use crate::postgres::schema::Schema;

/// The checkpoints of every backfill run on `schema`, by name. Runs the embedded migrations
/// (idempotent).
///
/// # Errors
///
/// [`Error::InvalidSchema`], [`Error::Migration`] or [`Error::Database`].
pub async fn backfill_checkpoints(
    pool: &PgPool,
    schema: &str,
) -> Result<Vec<BackfillCheckpoint>, Error> {
    let schema = Schema::new(schema)?;
    schema.migrate(pool).await?;
    read(pool, &schema, None).await
}

/// Deletes the checkpoint of backfill `name` on `schema` (its next run starts over). Returns
/// whether there was one. Runs the embedded migrations (idempotent).
///
/// # Errors
///
/// [`Error::InvalidSchema`], [`Error::Migration`] or [`Error::Database`].
pub async fn reset_backfill(pool: &PgPool, schema: &str, name: &str) -> Result<bool, Error> {
    let schema = Schema::new(schema)?;
    schema.migrate(pool).await?;
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

/// Deletes checkpoint `name` of `schema`.
pub(super) async fn reset(pool: &PgPool, schema: &Schema, name: &str) -> Result<bool, Error> {
    let deleted = sqlx::query(&format!("DELETE FROM {} WHERE name = $1", schema.backfills))
        .bind(name)
        .execute(pool)
        .await?;
    Ok(deleted.rows_affected() > 0)
}
