//! The [`AggregateStore`](crate::AggregateStore) methods of the SQL stores, written once over
//! what each backend provides ([`SqlStore`], [`AppendTransaction`]): load by replay, save
//! in one transaction; and the steps of an append ([`append`]), written once over each
//! backend's statements ([`AppendStatements`]).

use std::future::Future;

use tracing::Instrument;

use super::rows::{EventRow, OutboxInsert, event_rows, outbox_messages, outbox_rows, store_error};
use super::{Error, EventRegistry};
use crate::dispatcher::Dispatch;
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

/// The statements of an append, each backend's SQL, run by [`append`] in one transaction.
pub(crate) trait AppendStatements: Send {
    /// Inserts the row of a new aggregate `aggregate`/`id` at `version`; `false` when it
    /// exists already (created meanwhile by another append).
    fn create_aggregate(
        &mut self,
        aggregate: &str,
        id: &str,
        version: i64,
    ) -> impl Future<Output = Result<bool, Error>> + Send;

    /// Moves the stored version of `aggregate`/`id` from `from` to `to`; `false` when it was
    /// not at `from`.
    fn move_version(
        &mut self,
        aggregate: &str,
        id: &str,
        from: i64,
        to: i64,
    ) -> impl Future<Output = Result<bool, Error>> + Send;

    /// The stored version of `aggregate`/`id`, `None` when it has no row.
    fn stored_version(
        &mut self,
        aggregate: &str,
        id: &str,
    ) -> impl Future<Output = Result<Option<i64>, Error>> + Send;

    /// Inserts the events `rows` of `aggregate`/`id`.
    fn insert_events(
        &mut self,
        aggregate: &str,
        id: &str,
        rows: &[EventRow],
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Inserts the outbox `rows` of `aggregate`/`id` (never empty), in order, and remembers
    /// to wake the relays at commit.
    fn insert_outbox(
        &mut self,
        aggregate: &str,
        id: &str,
        rows: &[OutboxInsert<'_>],
    ) -> impl Future<Output = Result<(), Error>> + Send;
}

/// The documentation of the stores' `StoreTransaction::append`, written once for both.
macro_rules! append_doc {
    () => {
        "Appends the pending events of `aggregate`, checking that the stored version is still \
         [`AggregateRoot::stored_version`](crate::AggregateRoot::stored_version), and (with an \
         outbox) converts them and writes their integration messages to the outbox. Returns \
         the appended events; `aggregate` is not changed: once [`commit`](Self::commit) \
         succeeded, mark them stored with \
         [`AggregateRoot::take_pending`](crate::AggregateRoot::take_pending). An aggregate \
         without pending events is not touched.\n\n\
         # Errors\n\n\
         [`Error::Conflict`] when the stored version moved (nothing was written; the \
         transaction can go on), [`Error::InvalidEvent`], [`Error::Registry`], \
         [`Error::Outbox`] (a handler failed: roll back) or [`Error::Database`]."
    };
}
pub(crate) use append_doc;

/// The `StoreTransaction::append` of both stores ([`append_doc`]) in `tx`: the events of
/// `aggregate` encoded with `registry`, the optimistic-concurrency check, the events' rows,
/// then the messages of `outbox` (the store's dispatcher, if any) as outbox rows.
///
/// # Errors
///
/// [`Error::Conflict`] when the stored version moved (nothing was written),
/// [`Error::InvalidEvent`], [`Error::Registry`], [`Error::Outbox`] or [`Error::Database`].
pub(crate) async fn append<A: Aggregate, T: AppendStatements>(
    tx: &mut T,
    registry: &EventRegistry,
    outbox: Option<&dyn Dispatch>,
    aggregate: &A,
) -> Result<Vec<AggregateEvent>, Error> {
    let Some(span) = append_span(aggregate) else {
        return Ok(Vec::new());
    };
    let root = aggregate.root();
    let (aggregate, id, expected, events) =
        (A::NAME, root.id(), root.stored_version(), root.pending());
    async {
        let (rows, new_version) = event_rows(registry, aggregate, id, expected, events)?;
        let from = new_version - rows.len() as i64;
        // Optimistic concurrency: move the aggregate's row from the expected version to the
        // new one. A concurrent append of the same aggregate committed first (SQLite: this
        // transaction holds the write lock) or waits on the row lock and then finds the
        // version moved or the row inserted (Postgres): no row moved, conflict.
        let moved = if expected == 0 {
            tx.create_aggregate(aggregate, id, new_version).await?
        } else {
            tx.move_version(aggregate, id, from, new_version).await?
        };
        if !moved {
            let actual = tx.stored_version(aggregate, id).await?;
            return Err(conflict(aggregate, id, expected, actual));
        }
        tx.insert_events(aggregate, id, &rows).await?;
        let messages = outbox_messages(outbox, events).await?;
        if !messages.is_empty() {
            tx.insert_outbox(
                aggregate,
                id,
                &outbox_rows(aggregate, id, new_version, &messages)?,
            )
            .await?;
        }
        tracing::debug!(
            version = new_version,
            messages = messages.len(),
            "events appended"
        );
        Ok(())
    }
    .instrument(span)
    .await?;
    Ok(events.to_vec())
}

/// The settings both store builders share: the event types, the outbox's dispatcher and
/// whether `build` runs the migrations. Its setters are [`store_builder_settings`]'s.
pub(crate) struct StoreSettings {
    pub(crate) registry: EventRegistry,
    pub(crate) outbox: Option<Box<dyn Dispatch>>,
    pub(crate) migrate: bool,
}

impl Default for StoreSettings {
    /// An empty registry, no outbox, migrations run.
    fn default() -> Self {
        Self {
            registry: EventRegistry::new(),
            outbox: None,
            migrate: true,
        }
    }
}

impl StoreSettings {
    /// Adds the settings to a builder's `Debug` output.
    pub(crate) fn debug_fields<'o, 'a, 'b>(
        &self,
        out: &'o mut std::fmt::DebugStruct<'a, 'b>,
    ) -> &'o mut std::fmt::DebugStruct<'a, 'b> {
        out.field("registry", &self.registry)
            .field("outbox", &self.outbox)
            .field("migrate", &self.migrate)
    }
}

/// The setters of [`StoreSettings`] (field `settings`) on a store builder, with their docs:
/// `$writer` is the path of the backend's `OutboxWriter`, `$store` the store type.
macro_rules! store_builder_settings {
    ($writer:literal, $store:literal) => {
        /// The domain event types the store can persist (required for every event saved).
        pub fn registry(mut self, registry: crate::sql::EventRegistry) -> Self {
            self.settings.registry = registry;
            self
        }

        #[doc = concat!(
            "Turns the transactional outbox on: `dispatcher` runs inside every append ",
            "transaction, and the messages its handlers publish through [`OutboxWriter`](",
            $writer, ") are inserted into the outbox table in that transaction. Give it only ",
            "the integration handlers (generated `register_integration_event_handlers` with ",
            "[`OutboxWriter::shared`](", $writer, "::shared) on an ",
            "[`EventDispatcher`](crate::EventDispatcher), or the generated ",
            "`DomainEventRouter::new(OutboxWriter::shared())`, which routes without the ",
            "dispatcher's lookups): a handler that fails rolls the append back, and side ",
            "effects of other handlers would not be transactional. The same dispatcher serves ",
            "both backends."
        )]
        pub fn outbox(mut self, dispatcher: impl crate::dispatcher::Dispatch + 'static) -> Self {
            self.settings.outbox = Some(Box::new(dispatcher));
            self
        }

        #[doc = concat!(
            "Skips running the embedded migrations in [`build`](Self::build) (for ",
            "deployments that run [`", $store, "::migrate`] as a separate step)."
        )]
        pub fn skip_migrations(mut self) -> Self {
            self.settings.migrate = false;
            self
        }
    };
}
pub(crate) use store_builder_settings;
