//! [`Backfill`]: re-derives integration events from the Postgres event store through the
//! service's current table and publishes them, pipelined, resumable from a checkpoint.

mod checkpoints;
mod report;
mod selection;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::Row;
use sqlx::postgres::PgConnection;
use tracing::Instrument;

use super::store::COLUMNS;
use super::{Error, PostgresStore};
use crate::dispatcher::Dispatch;
use crate::event::AggregateEvent;
use crate::message::IntegrationMessage;
use crate::nats::JetStreamPublisher;
use crate::sql::collect;

use checkpoints::LOCK_KEYS;
pub use checkpoints::{backfill_checkpoints, reset_backfill};
pub use report::{BackfillCheckpoint, BackfillError, BackfillProgress, BackfillReport};
pub use selection::{BackfillSelection, BackfillTarget};

/// Re-derives integration events from the events a [`PostgresStore`] holds, through the
/// service's **current** table (its generated converters, and the registry's upcasters on
/// every stored payload), and publishes them with
/// [`JetStreamPublisher::publish_all`] (pipelined).
///
/// Uses: a new service builds its read model from history (to a [`BackfillTarget::Prefix`]
/// stream of its own); a contract row added to the table is published for the past
/// ([`BackfillSelection::integration_events`]); a consumer's data is rebuilt (on the live
/// subjects, [`BackfillTarget::Live`]: the same `ce-id`s, so JetStream drops what its stream
/// holds within the duplicate window and consumers deduplicating by `ce-id` drop the rest).
///
/// # A run
///
/// 1. Takes the backfill's lock (a PostgreSQL advisory lock on its schema and name, held by
///    a connection of its own for the run: a second run of the same backfill fails with
///    [`BackfillError::AlreadyRunning`]; a crashed run's lock goes with its connection).
/// 2. Reads or creates its checkpoint (`eventmap_backfills`): a new backfill goes up to the
///    store's highest position now, once the transactions then writing events have ended
///    (a transaction that drew a lower position may commit after that position was read:
///    it is waited for, so that paging by position cannot pass its event; appends are not
///    held up); one run before resumes after the position it recorded, with the same
///    selection and target ([`BackfillError::SelectionChanged`] otherwise).
/// 3. Per batch of [`batch_size`](Self::batch_size) stored events in position order: decode
///    (upcast), select, convert with the router (as the outbox does; nothing is written to
///    the outbox), publish the batch's messages with up to [`window`](Self::window) acks
///    outstanding, then record the batch's last position in the checkpoint.
/// 4. Marks the checkpoint finished.
///
/// A crash or a failure leaves the checkpoint at the last batch published completely; the
/// next run re-sends the interrupted batch (same ids: nothing is stored twice within the
/// duplicate window, and nothing is lost). Events appended after the backfill started are
/// not its business: the outbox relay publishes them (on the live subjects).
///
/// ```no_run
/// # async fn demo(store: eventmap::postgres::PostgresStore,
/// #     jetstream: eventmap::nats::async_nats::jetstream::Context,
/// #     router: impl eventmap::Dispatch + 'static) -> Result<(), eventmap::BoxError> {
/// use eventmap::postgres::{Backfill, BackfillSelection, BackfillTarget};
/// let backfill = Backfill::new(store, "search-rebuild")
///     .router(router)   // the generated DomainEventRouter::new(OutboxWriter::shared())
///     .publisher(eventmap::nats::JetStreamPublisher::new(jetstream))
///     .selection(BackfillSelection::default().aggregate_type("Order"))
///     .target(BackfillTarget::Prefix("backfill.search".into()));
/// let report = backfill.run(|p| eprintln!("{}/{} events", p.events, p.total)).await?;
/// eprintln!("{} messages, {:.0}/s", report.messages, report.messages_per_second());
/// # Ok(()) }
/// ```
pub struct Backfill {
    store: PostgresStore,
    name: String,
    router: Option<Arc<dyn Dispatch>>,
    publisher: Option<JetStreamPublisher>,
    selection: BackfillSelection,
    target: BackfillTarget,
    batch_size: u32,
    window: usize,
    lock_wait: Duration,
    settle_wait: Duration,
}

impl fmt::Debug for Backfill {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Backfill")
            .field("schema", &self.store.schema())
            .field("name", &self.name)
            .field("selection", &self.selection)
            .field("target", &self.target)
            .field("batch_size", &self.batch_size)
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

/// Default [`Backfill::batch_size`]: stored events per batch (and checkpoint).
pub const DEFAULT_BACKFILL_BATCH: u32 = 1000;
/// Default [`Backfill::window`]: acks outstanding while publishing a batch.
pub const DEFAULT_BACKFILL_WINDOW: usize = 256;
/// Default [`Backfill::settle_wait`]: how long a run waits for the transactions that were
/// writing events when it fixed its end (10 minutes).
pub const DEFAULT_BACKFILL_SETTLE_WAIT: Duration = Duration::from_secs(600);

impl Backfill {
    /// A backfill named `name` (its checkpoint's key) on `store`'s events, converting with the
    /// store's outbox dispatcher unless [`router`](Self::router) gives another; everything
    /// selected, on the live subjects, batches of [`DEFAULT_BACKFILL_BATCH`], window
    /// [`DEFAULT_BACKFILL_WINDOW`].
    pub fn new(store: PostgresStore, name: impl Into<String>) -> Self {
        Self {
            store,
            name: name.into(),
            router: None,
            publisher: None,
            selection: BackfillSelection::default(),
            target: BackfillTarget::Live,
            batch_size: DEFAULT_BACKFILL_BATCH,
            window: DEFAULT_BACKFILL_WINDOW,
            lock_wait: Duration::from_secs(10),
            settle_wait: DEFAULT_BACKFILL_SETTLE_WAIT,
        }
    }

    /// The converters: a [`Dispatch`] whose integration handlers publish on
    /// [`OutboxWriter::shared`](crate::postgres::OutboxWriter::shared), as given to
    /// [`PostgresStoreBuilder::outbox`](crate::postgres::PostgresStoreBuilder::outbox) (the
    /// generated `DomainEventRouter::new(OutboxWriter::shared())`, or an
    /// [`EventDispatcher`](crate::EventDispatcher) with `register_integration_event_handlers`).
    pub fn router(mut self, router: impl Dispatch + 'static) -> Self {
        self.router = Some(Arc::new(router));
        self
    }

    /// The publisher [`run`](Self::run) publishes with.
    pub fn publisher(mut self, publisher: JetStreamPublisher) -> Self {
        self.publisher = Some(publisher);
        self
    }

    /// What is re-published (default: everything).
    pub fn selection(mut self, selection: BackfillSelection) -> Self {
        self.selection = selection;
        self
    }

    /// Where (default [`BackfillTarget::Live`]).
    pub fn target(mut self, target: BackfillTarget) -> Self {
        self.target = target;
        self
    }

    /// Stored events per batch, at least 1: each batch is published, then checkpointed.
    pub fn batch_size(mut self, batch_size: u32) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// Acks outstanding while a batch is published ([`JetStreamPublisher::publish_all`]).
    pub fn window(mut self, window: usize) -> Self {
        self.window = window.max(1);
        self
    }

    /// How long [`run`](Self::run) waits for the backfill's lock before
    /// [`BackfillError::AlreadyRunning`] (a crashed run's connection can take a moment to be
    /// closed by the server). Default 10 s.
    pub fn lock_wait(mut self, wait: Duration) -> Self {
        self.lock_wait = wait;
        self
    }

    /// How long [`run`](Self::run) and [`dry_run`](Self::dry_run) wait for the transactions
    /// that were writing events when they fixed their end (one of them may hold a lower
    /// position, still uncommitted) before [`BackfillError::WritersStillOpen`], which names
    /// their backends. Default [`DEFAULT_BACKFILL_SETTLE_WAIT`]; a WARN is logged every 10 s
    /// meanwhile. A session left idle in a transaction would otherwise hold the backfill
    /// forever.
    pub fn settle_wait(mut self, wait: Duration) -> Self {
        self.settle_wait = wait;
        self
    }

    /// The backfill's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Counts what a run would do, without publishing or writing a checkpoint: every selected
    /// event in the store now (whatever a checkpoint says; up to the highest position once
    /// the transactions writing events have ended, as a run's) is read, decoded and
    /// converted, so a conversion error shows here too.
    ///
    /// # Errors
    ///
    /// [`BackfillError::Store`], [`BackfillError::Convert`], [`BackfillError::NoRouter`],
    /// [`BackfillError::InvalidSelection`], [`BackfillError::WritersStillOpen`].
    pub async fn dry_run(
        &self,
        progress: impl FnMut(&BackfillProgress) + Send,
    ) -> Result<BackfillReport, BackfillError> {
        let span = tracing::info_span!("eventmap.backfill", name = %self.name, dry_run = true);
        async {
            self.target.check()?;
            let router = self.converters()?;
            let until = self.settled_end().await?;
            let start = Checkpointed {
                until,
                position: 0,
                finished: false,
            };
            self.batches(router, None, start, progress).await
        }
        .instrument(span)
        .await
    }

    /// Runs (or resumes) the backfill; `progress` is called after each batch. See
    /// [`Backfill`] for the steps and guarantees.
    ///
    /// # Errors
    ///
    /// [`BackfillError`]: the checkpoint stays at the last batch published completely.
    pub async fn run(
        &self,
        progress: impl FnMut(&BackfillProgress) + Send,
    ) -> Result<BackfillReport, BackfillError> {
        let span =
            tracing::info_span!("eventmap.backfill", name = %self.name, target = ?self.target);
        async {
            self.target.check()?;
            let router = self.converters()?;
            let publisher = self.publisher.as_ref().ok_or(BackfillError::NoPublisher)?;
            let tables = self.store.tables();
            tables.migrate(self.store.pool()).await?;
            let mut lock = self.lock().await?;
            let result = async {
                let start = self.checkpoint_or_create().await?;
                if start.finished {
                    tracing::info!(position = start.position, "backfill already finished");
                }
                self.batches(router, Some(publisher), start, progress).await
            }
            .await;
            // Released explicitly; a connection dropped without it (a crash) closes, which
            // releases it too.
            let _ = sqlx::query(&format!("SELECT pg_advisory_unlock({LOCK_KEYS})"))
                .bind(self.lock_key())
                .execute(&mut lock)
                .await;
            result
        }
        .instrument(span)
        .await
    }

    /// The checkpoint of this backfill's name, if it was ever run.
    ///
    /// # Errors
    ///
    /// [`BackfillError::Store`].
    pub async fn checkpoint(&self) -> Result<Option<BackfillCheckpoint>, BackfillError> {
        let tables = self.store.tables();
        tables.migrate(self.store.pool()).await?;
        let mut found = checkpoints::read(self.store.pool(), tables, Some(&self.name)).await?;
        Ok(found.pop())
    }

    /// Deletes this backfill's checkpoint (the next run starts over, up to the store's
    /// highest position then). Returns whether there was one. Takes the backfill's lock
    /// for the deletion, without waiting: a run of the same backfill (in this process or
    /// another) is never raced.
    ///
    /// # Errors
    ///
    /// [`BackfillError::AlreadyRunning`] while a run holds the lock, [`BackfillError::Store`].
    pub async fn reset(&self) -> Result<bool, BackfillError> {
        let tables = self.store.tables();
        tables.migrate(self.store.pool()).await?;
        checkpoints::reset(self.store.pool(), tables, &self.name).await
    }

    fn converters(&self) -> Result<&dyn Dispatch, BackfillError> {
        self.router
            .as_deref()
            .or_else(|| self.store.outbox_dispatch())
            .ok_or(BackfillError::NoRouter)
    }

    fn lock_key(&self) -> String {
        checkpoints::lock_key(self.store.schema(), &self.name)
    }

    /// Takes the backfill's advisory lock on a connection of its own (detached from the
    /// pool, so that the lock never stays on a pooled connection).
    async fn lock(&self) -> Result<PgConnection, BackfillError> {
        let mut conn = self
            .store
            .pool()
            .acquire()
            .await
            .map_err(Error::from)?
            .detach();
        let deadline = Instant::now() + self.lock_wait;
        loop {
            let locked: bool =
                sqlx::query_scalar(&format!("SELECT pg_try_advisory_lock({LOCK_KEYS})"))
                    .bind(self.lock_key())
                    .fetch_one(&mut conn)
                    .await
                    .map_err(Error::from)?;
            if locked {
                return Ok(conn);
            }
            if Instant::now() >= deadline {
                return Err(BackfillError::AlreadyRunning {
                    name: self.name.clone(),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The stored checkpoint, created (up to the [settled end](Self::settled_end) of the
    /// store now) if there is none. Called with the backfill's lock held, so no other run
    /// creates it meanwhile.
    async fn checkpoint_or_create(&self) -> Result<Checkpointed, BackfillError> {
        let tables = self.store.tables();
        let given = serde_json::json!({ "selection": &self.selection, "target": &self.target });
        let pool = self.store.pool();
        let exists: bool = sqlx::query_scalar(&format!(
            "SELECT EXISTS (SELECT 1 FROM {} WHERE name = $1)",
            tables.backfills
        ))
        .bind(&self.name)
        .fetch_one(pool)
        .await
        .map_err(Error::from)?;
        if !exists {
            let until = self.settled_end().await?;
            sqlx::query(&format!(
                "INSERT INTO {} (name, selection, until_position) VALUES ($1, $2::jsonb, $3) \
                 ON CONFLICT (name) DO NOTHING",
                tables.backfills
            ))
            .bind(&self.name)
            .bind(given.to_string())
            .bind(i64::try_from(until).unwrap_or(i64::MAX))
            .execute(pool)
            .await
            .map_err(Error::from)?;
        }
        let row = sqlx::query(&format!(
            "SELECT selection::text AS selection, until_position, position, \
             finished_at IS NOT NULL AS finished FROM {} WHERE name = $1",
            tables.backfills
        ))
        .bind(&self.name)
        .fetch_one(pool)
        .await
        .map_err(Error::from)?;
        let stored: String = row.try_get("selection").map_err(Error::from)?;
        let stored_value: serde_json::Value =
            serde_json::from_str(&stored).unwrap_or(serde_json::Value::Null);
        if stored_value != given {
            return Err(BackfillError::SelectionChanged {
                name: self.name.clone(),
                stored,
                given: given.to_string(),
            });
        }
        Ok(Checkpointed {
            until: unsigned(row.try_get("until_position").map_err(Error::from)?),
            position: unsigned(row.try_get("position").map_err(Error::from)?),
            finished: row.try_get("finished").map_err(Error::from)?,
        })
    }

    /// The store's highest position now, returned once every event at or below it is
    /// committed (or rolled back), so that paging by position up to it misses nothing.
    ///
    /// A position is drawn when a transaction inserts its event, not when it commits: when
    /// the highest committed position is read, a transaction that drew a lower one may still
    /// be open, and its event would become visible only after the batches had paged past it
    /// (lost for a [`BackfillTarget::Prefix`] target; on the live subjects the relay would
    /// publish it from the outbox). The relay has no such gap because it keeps no cursor (each
    /// round selects every unpublished row); a backfill pages by position, so it waits
    /// instead, as `CREATE INDEX CONCURRENTLY` does for older transactions: every
    /// transaction holding a write lock on the events table once the position is read
    /// (only those can hold an uncommitted position below it: an insert takes the lock before
    /// it draws its position) is waited for, by its virtual transaction id, without taking
    /// any lock that would hold up new appends.
    async fn settled_end(&self) -> Result<u64, BackfillError> {
        let pool = self.store.pool();
        let events = &self.store.tables().events;
        let until: i64 =
            sqlx::query_scalar(&format!("SELECT coalesce(max(position), 0) FROM {events}"))
                .fetch_one(pool)
                .await
                .map_err(Error::from)?;
        let writers: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT virtualtransaction FROM pg_locks \
             WHERE locktype = 'relation' AND relation = to_regclass($1) \
             AND mode = 'RowExclusiveLock' AND granted AND pid IS NOT NULL \
             AND pid <> pg_backend_pid()",
        )
        .bind(events)
        .fetch_all(pool)
        .await
        .map_err(Error::from)?;
        let started = Instant::now();
        let mut next_report = Duration::from_secs(10);
        loop {
            let open: Vec<i32> = sqlx::query_scalar(
                "SELECT DISTINCT pid FROM pg_locks \
                 WHERE locktype = 'virtualxid' AND virtualxid = ANY($1) AND granted \
                 ORDER BY pid",
            )
            .bind(&writers)
            .fetch_all(pool)
            .await
            .map_err(Error::from)?;
            if open.is_empty() {
                break;
            }
            let waited = started.elapsed();
            if waited >= self.settle_wait {
                return Err(BackfillError::WritersStillOpen { waited, pids: open });
            }
            if waited >= next_report {
                tracing::warn!(
                    transactions = open.len(),
                    pids = ?open,
                    waited_secs = waited.as_secs(),
                    settle_wait_secs = self.settle_wait.as_secs(),
                    "backfill waiting for transactions writing events to end"
                );
                next_report += Duration::from_secs(10);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if !writers.is_empty() {
            tracing::debug!(
                transactions = writers.len(),
                waited_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                "waited for the transactions writing events"
            );
        }
        Ok(unsigned(until))
    }

    /// The `WHERE` of the selection in SQL, on positions `$1 < position <= $2`, with
    /// `$3`..`$6` the aggregate type, ids, and time bounds.
    fn filter(&self) -> &'static str {
        "position > $1 AND position <= $2 \
         AND ($3::text IS NULL OR aggregate_type = $3) \
         AND (cardinality($4::text[]) = 0 OR aggregate_id = ANY($4)) \
         AND ($5::bigint IS NULL OR occurred_at_ns >= $5) \
         AND ($6::bigint IS NULL OR occurred_at_ns < $6)"
    }

    /// Reads, converts and (with a publisher) publishes and checkpoints batches from `start`.
    async fn batches(
        &self,
        router: &dyn Dispatch,
        publisher: Option<&JetStreamPublisher>,
        start: Checkpointed,
        mut progress: impl FnMut(&BackfillProgress) + Send,
    ) -> Result<BackfillReport, BackfillError> {
        let started = Instant::now();
        let tables = self.store.tables();
        let pool = self.store.pool();
        let selection = &self.selection;
        let position_bind = |position: u64| i64::try_from(position).unwrap_or(i64::MAX);
        let total: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM {} WHERE {}",
            tables.events,
            self.filter()
        ))
        .bind(position_bind(start.position))
        .bind(position_bind(start.until))
        .bind(selection.aggregate_type.as_deref())
        .bind(&selection.aggregate_ids)
        .bind(selection.occurred_from_ns)
        .bind(selection.occurred_before_ns)
        .fetch_one(pool)
        .await
        .map_err(Error::from)?;
        let mut state = BackfillProgress {
            position: start.position,
            until: start.until,
            total: unsigned(total),
            events: 0,
            messages: 0,
            published: 0,
            duplicates: 0,
            elapsed: Duration::ZERO,
        };
        tracing::info!(
            from = start.position,
            until = start.until,
            events = state.total,
            "backfill started"
        );
        let mut by_event: BTreeMap<String, u64> = BTreeMap::new();
        let query = format!(
            "SELECT {COLUMNS} FROM {} WHERE {} ORDER BY position LIMIT $7",
            tables.events,
            self.filter()
        );
        while state.position < state.until {
            let rows = sqlx::query(&query)
                .bind(position_bind(state.position))
                .bind(position_bind(state.until))
                .bind(selection.aggregate_type.as_deref())
                .bind(&selection.aggregate_ids)
                .bind(selection.occurred_from_ns)
                .bind(selection.occurred_before_ns)
                .bind(i64::from(self.batch_size))
                .fetch_all(pool)
                .await
                .map_err(Error::from)?;
            let Some(last) = rows.last() else {
                // Nothing selected up to `until`.
                state.position = state.until;
                break;
            };
            let last_position = unsigned(last.try_get::<i64, _>("position").map_err(Error::from)?);
            let mut events = Vec::with_capacity(rows.len());
            let mut positions = HashMap::with_capacity(rows.len());
            for row in &rows {
                let recorded = self.store.decode_row(row)?;
                if selection.event_names.is_empty()
                    || selection
                        .event_names
                        .iter()
                        .any(|name| name == recorded.event.name())
                {
                    positions.insert(recorded.event.id(), recorded.position);
                    events.push(recorded.event);
                }
            }
            let messages = self.convert(router, &events, &positions).await?;
            let mut batch = BatchCounts {
                events: rows.len() as u64,
                messages: messages.len() as u64,
                ..BatchCounts::default()
            };
            if let Some(publisher) = publisher {
                let receipts = publisher
                    .publish_all(&messages, self.window)
                    .await
                    .map_err(|source| BackfillError::Publish {
                        after: state.position,
                        source,
                    })?;
                batch.duplicates = receipts.iter().filter(|r| r.duplicate).count() as u64;
                batch.published = receipts.len() as u64 - batch.duplicates;
                self.record(last_position, &batch, last_position >= state.until)
                    .await?;
            }
            for message in &messages {
                *by_event.entry(message.name.clone()).or_default() += 1;
            }
            state.position = last_position;
            state.events += batch.events;
            state.messages += batch.messages;
            state.published += batch.published;
            state.duplicates += batch.duplicates;
            state.elapsed = started.elapsed();
            progress(&state);
        }
        let finished = state.position >= state.until;
        if publisher.is_some() && finished && !start.finished {
            // Also when the last batch was empty (nothing selected up to `until`).
            self.record(state.until, &BatchCounts::default(), true)
                .await?;
        }
        let report = BackfillReport {
            name: self.name.clone(),
            dry_run: publisher.is_none(),
            resumed_from: start.position,
            until: start.until,
            events: state.events,
            messages: state.messages,
            published: state.published,
            duplicates: state.duplicates,
            by_event,
            elapsed: started.elapsed(),
            finished,
        };
        tracing::info!(
            events = report.events,
            messages = report.messages,
            published = report.published,
            duplicates = report.duplicates,
            per_second = report.messages_per_second(),
            "backfill done"
        );
        Ok(report)
    }

    /// Converts `events` with the router, as the outbox would, and applies the integration
    /// event selection and the target's subject.
    async fn convert(
        &self,
        router: &dyn Dispatch,
        events: &[AggregateEvent],
        positions: &HashMap<uuid::Uuid, u64>,
    ) -> Result<Vec<IntegrationMessage>, BackfillError> {
        let (converted, mut messages) = collect(router.dispatch(events)).await;
        if let Err(source) = converted {
            let event = events.iter().find(|e| e.id() == source.event_id);
            return Err(BackfillError::Convert {
                position: positions.get(&source.event_id).copied().unwrap_or_default(),
                aggregate_type: event
                    .map(|e| e.aggregate_name().to_owned())
                    .unwrap_or_default(),
                aggregate_id: event
                    .map(|e| e.aggregate_id().to_owned())
                    .unwrap_or_default(),
                version: event
                    .map(AggregateEvent::aggregate_version)
                    .unwrap_or_default(),
                source,
            });
        }
        let wanted = &self.selection.integration_events;
        if !wanted.is_empty() {
            messages.retain(|message| wanted.contains(&message.name));
        }
        for message in &mut messages {
            if let Some(subject) = self.target.subject(&message.subject) {
                message.subject = subject;
            }
        }
        Ok(messages)
    }

    /// Moves the checkpoint to `position` and adds `batch` to its counts.
    async fn record(
        &self,
        position: u64,
        batch: &BatchCounts,
        finished: bool,
    ) -> Result<(), BackfillError> {
        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        sqlx::query(&format!(
            "UPDATE {} SET position = greatest(position, $2), events = events + $3, \
             messages = messages + $4, published = published + $5, duplicates = duplicates + $6, \
             updated_at = now(), finished_at = CASE WHEN $7 THEN now() ELSE finished_at END \
             WHERE name = $1",
            self.store.tables().backfills
        ))
        .bind(&self.name)
        .bind(count(position))
        .bind(count(batch.events))
        .bind(count(batch.messages))
        .bind(count(batch.published))
        .bind(count(batch.duplicates))
        .bind(finished)
        .execute(self.store.pool())
        .await
        .map_err(Error::from)?;
        Ok(())
    }
}

/// Where a run starts.
#[derive(Debug, Clone, Copy)]
struct Checkpointed {
    until: u64,
    position: u64,
    finished: bool,
}

/// What one batch did.
#[derive(Debug, Default)]
struct BatchCounts {
    events: u64,
    messages: u64,
    published: u64,
    duplicates: u64,
}

fn unsigned(value: i64) -> u64 {
    u64::try_from(value).unwrap_or_default()
}
