//! The Postgres inbox's statements for the generic inbox code ([`Records`]): recording one
//! id, many ids in one statement, and asking which of some ids are already recorded.

use std::collections::HashSet;

use sqlx::postgres::{PgConnection, PgPool, Postgres};
use sqlx::{Pool, Transaction};

use super::Inbox;
use crate::inbox::Records;

impl Records for Inbox {
    type Database = Postgres;

    fn pool(&self) -> &PgPool {
        &self.pool
    }

    fn location(&self) -> &str {
        self.schema.name()
    }

    async fn begin(&self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        Pool::begin(&self.pool).await
    }

    /// `INSERT ... ON CONFLICT DO NOTHING`: a duplicate does not abort the transaction with
    /// an error (unlike a plain `INSERT` hitting the primary key).
    async fn record(
        &self,
        conn: &mut PgConnection,
        consumer: &str,
        id: &str,
    ) -> Result<bool, sqlx::Error> {
        let inserted = sqlx::query(&format!(
            "INSERT INTO {} (consumer, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            self.schema.inbox
        ))
        .bind(consumer)
        .bind(id)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        Ok(inserted > 0)
    }

    /// One `INSERT ... SELECT unnest($2) ... ON CONFLICT DO NOTHING RETURNING`. Like
    /// [`Inbox::process`], an id whose row another transaction holds uncommitted waits for
    /// that transaction (`READ COMMITTED`).
    async fn record_batch(
        &self,
        conn: &mut PgConnection,
        consumer: &str,
        ids: &[&str],
    ) -> Result<HashSet<String>, sqlx::Error> {
        let inserted: Vec<String> = sqlx::query_scalar(&format!(
            // In id order: two instances inserting overlapping batches (a redelivery to the
            // other one) then take the rows' locks in the same order instead of deadlocking.
            "INSERT INTO {} (consumer, message_id) \
             SELECT $1, id FROM unnest($2::text[]) AS t(id) ORDER BY id \
             ON CONFLICT DO NOTHING RETURNING message_id",
            self.schema.inbox
        ))
        .bind(consumer)
        .bind(ids)
        .fetch_all(&mut *conn)
        .await?;
        Ok(inserted.into_iter().collect())
    }

    async fn processed_among(
        &self,
        consumer: &str,
        ids: &[&str],
    ) -> Result<HashSet<String>, sqlx::Error> {
        let found: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT message_id FROM {} WHERE consumer = $1 AND message_id = ANY($2::text[])",
            self.schema.inbox
        ))
        .bind(consumer)
        .bind(ids)
        .fetch_all(&self.pool)
        .await?;
        Ok(found.into_iter().collect())
    }
}
