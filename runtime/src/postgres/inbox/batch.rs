//! The inbox's statements for a batch of messages: recording many ids in one statement, and
//! asking which of some ids are already recorded.

use std::collections::HashSet;

use sqlx::postgres::PgConnection;

use super::Inbox;

impl Inbox {
    /// Records `(consumer, id)` for every id of `ids` on `conn` (inside the caller's
    /// transaction) with one `INSERT ... SELECT unnest($2) ... ON CONFLICT DO NOTHING
    /// RETURNING`, and returns the ids that were not recorded before (the others are
    /// duplicates: their handler must not run). An id given twice is inserted once.
    ///
    /// Like [`Inbox::process`], an id whose row another transaction holds uncommitted waits
    /// for that transaction (`READ COMMITTED`).
    ///
    /// # Errors
    ///
    /// The database's.
    pub(crate) async fn record_batch(
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

    /// Which of `ids` `consumer` has processed (committed), in one query.
    ///
    /// # Errors
    ///
    /// The database's.
    pub(crate) async fn processed_among(
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
