//! [`process`]: one message through an inbox, written once for every backend.

use tracing::Instrument;

use super::backend::{Connection, Records};
use super::{InboxError, InboxOutcome};

/// Runs `handler` once per `(consumer, message_id)` of `inbox`: in one transaction, records
/// the id and runs the handler on the transaction's connection, then commits. An id recorded
/// before rolls back without running the handler ([`InboxOutcome::Duplicate`]); a handler
/// error rolls its writes and the id back together ([`InboxError::Handler`]).
///
/// # Errors
///
/// [`InboxError::Handler`] when the handler fails, [`InboxError::Database`] when the database
/// does; nothing is committed either way.
pub(crate) async fn process<I, R, E, F>(
    inbox: &I,
    consumer: &str,
    message_id: &str,
    handler: F,
) -> Result<InboxOutcome<R>, InboxError<E>>
where
    I: Records,
    F: AsyncFnOnce(&mut Connection<I>) -> Result<R, E>,
{
    let span = tracing::debug_span!(
        "eventmap.inbox",
        inbox = %inbox.location(),
        consumer,
        message_id,
        outcome = tracing::field::Empty,
    );
    let database = |source| InboxError::Database {
        consumer: consumer.to_owned(),
        message_id: message_id.to_owned(),
        source,
    };
    async {
        let mut tx = inbox.begin().await.map_err(database)?;
        if !inbox
            .record(&mut *tx, consumer, message_id)
            .await
            .map_err(database)?
        {
            tracing::Span::current().record("outcome", "duplicate");
            tracing::debug!("already processed: skipped");
            tx.rollback().await.map_err(database)?;
            return Ok(InboxOutcome::Duplicate);
        }
        match handler(&mut *tx).await {
            Ok(result) => {
                tx.commit().await.map_err(database)?;
                tracing::Span::current().record("outcome", "processed");
                Ok(InboxOutcome::Processed(result))
            }
            Err(source) => {
                tracing::Span::current().record("outcome", "failed");
                if let Err(err) = tx.rollback().await {
                    // The connection is closed with the transaction open: the database rolls
                    // it back on its side.
                    tracing::warn!(error = %crate::error::ErrorChain(&err), "rollback after a handler error failed");
                }
                Err(InboxError::Handler {
                    consumer: consumer.to_owned(),
                    message_id: message_id.to_owned(),
                    source,
                })
            }
        }
    }
    .instrument(span)
    .await
}
