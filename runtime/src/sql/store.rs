//! The [`AggregateStore`](crate::AggregateStore) methods of the SQL stores, written once over
//! what each backend provides ([`SqlStore`], [`AppendTransaction`]): load by replay, save
//! in one transaction.

use std::future::Future;

use tracing::Instrument;

use super::Error;
use super::rows::store_error;
use crate::event::AggregateEvent;
use crate::store::{Aggregate, EventSourced, StoreError, replay};

/// What an SQL store provides for [`load`] and [`save`].
pub(crate) trait SqlStore: Sync {
    /// Its transaction.
    type Transaction: AppendTransaction;

    /// Starts a transaction.
    fn begin(&self) -> impl Future<Output = Result<Self::Transaction, Error>> + Send;

    /// The stored events of `aggregate_type`/`id` in version order, decoded and upcast.
    fn load_events(
        &self,
        aggregate_type: &str,
        id: &str,
    ) -> impl Future<Output = Result<Vec<AggregateEvent>, Error>> + Send;
}

/// A transaction of an SQL store.
pub(crate) trait AppendTransaction: Send {
    /// Appends the pending events of `aggregate` (and its outbox rows) with the
    /// optimistic-concurrency check; returns them.
    fn append<A: Aggregate>(
        &mut self,
        aggregate: &A,
    ) -> impl Future<Output = Result<Vec<AggregateEvent>, Error>> + Send;

    /// Commits.
    fn commit(self) -> impl Future<Output = Result<(), Error>> + Send;
}

/// [`AggregateStore::load`](crate::AggregateStore::load) of an SQL store: replays the
/// aggregate's stored events.
pub(crate) async fn load<A: EventSourced, S: SqlStore>(
    store: &S,
    id: &str,
) -> Result<A, StoreError> {
    let span = tracing::debug_span!("eventmap.load", aggregate = A::NAME, id);
    async {
        let events = store
            .load_events(A::NAME, id)
            .await
            .map_err(store_error::<A>)?;
        replay(id, &events)
    }
    .instrument(span)
    .await
}

/// [`AggregateStore::save`](crate::AggregateStore::save) of an SQL store: appends the
/// pending events in a transaction of their own and marks them stored once committed.
pub(crate) async fn save<A: Aggregate, S: SqlStore>(
    store: &S,
    aggregate: &mut A,
) -> Result<Vec<AggregateEvent>, StoreError> {
    if aggregate.root().pending().is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = store.begin().await.map_err(store_error::<A>)?;
    tx.append(&*aggregate).await.map_err(store_error::<A>)?;
    tx.commit().await.map_err(store_error::<A>)?;
    Ok(aggregate.root_mut().take_pending())
}

/// The span of an append of `aggregate`'s pending events, `None` when it has none.
pub(crate) fn append_span<A: Aggregate>(aggregate: &A) -> Option<tracing::Span> {
    let root = aggregate.root();
    let events = root.pending();
    (!events.is_empty()).then(|| {
        tracing::info_span!(
            "eventmap.append",
            aggregate = A::NAME,
            id = root.id(),
            expected_version = root.stored_version(),
            events = events.len(),
        )
    })
}

/// The error of an append to `aggregate`/`id` based on version `expected` that found the
/// stored version at `actual` (none: the aggregate was created meanwhile by another).
pub(crate) fn conflict(aggregate: &str, id: &str, expected: u64, actual: Option<i64>) -> Error {
    let actual = actual.and_then(|v| u64::try_from(v).ok()).unwrap_or(0);
    tracing::info!(actual, "append conflict");
    Error::Conflict {
        aggregate: aggregate.to_owned(),
        id: id.to_owned(),
        expected,
        actual,
    }
}
