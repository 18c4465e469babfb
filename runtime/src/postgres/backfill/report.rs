//! What a backfill reports: progress while it runs, the report at the end, its checkpoint and
//! its errors.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::dispatcher::DispatchError;
use crate::nats::PublishAllError;
use crate::postgres::Error;

/// Where a running [`Backfill`](super::Backfill) is, after each batch.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackfillProgress {
    /// Store position reached (the checkpoint once the batch is recorded).
    pub position: u64,
    /// Highest position the backfill goes to (the store's highest when it started).
    pub until: u64,
    /// Stored events this run has to read (counted at its start, from its checkpoint on).
    pub total: u64,
    /// Stored events read by this run.
    pub events: u64,
    /// Integration messages built by this run.
    pub messages: u64,
    /// Messages the broker stored as new.
    pub published: u64,
    /// Messages the broker already had (same `Nats-Msg-Id` within its duplicate window).
    pub duplicates: u64,
    /// Time since this run started.
    pub elapsed: Duration,
}

/// What a [`Backfill`](super::Backfill) run (or dry run) did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackfillReport {
    /// The backfill's name (its checkpoint).
    pub name: String,
    /// A dry run: nothing published, no checkpoint written.
    pub dry_run: bool,
    /// The checkpoint position this run started after (0 for a new backfill or a dry run).
    pub resumed_from: u64,
    /// The store position the backfill ends at.
    pub until: u64,
    /// Stored events read.
    pub events: u64,
    /// Integration messages built (published, or for a dry run, that would be).
    pub messages: u64,
    /// Messages stored as new by the broker.
    pub published: u64,
    /// Messages the broker already had.
    pub duplicates: u64,
    /// Messages per integration event name.
    pub by_event: BTreeMap<String, u64>,
    /// How long the run took.
    pub elapsed: Duration,
    /// Whether the backfill is complete (its checkpoint reached `until`).
    pub finished: bool,
}

impl BackfillReport {
    /// Messages per second over the run (built per second for a dry run).
    pub fn messages_per_second(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.messages as f64 / seconds
        } else {
            0.0
        }
    }
}

/// The checkpoint of a named backfill, as stored in `eventmap_backfills`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackfillCheckpoint {
    /// The backfill's name.
    pub name: String,
    /// Its selection and target, JSON (`{"selection": ..., "target": ...}`).
    pub selection: String,
    /// Highest store position it goes to.
    pub until: u64,
    /// Position reached: every selected event up to it has been published.
    pub position: u64,
    /// Stored events read, over all runs.
    pub events: u64,
    /// Integration messages published (new or duplicates), over all runs.
    pub messages: u64,
    /// Of them, stored as new.
    pub published: u64,
    /// Of them, already stored.
    pub duplicates: u64,
    /// Whether it is complete.
    pub finished: bool,
}

/// Why a backfill stopped. Its checkpoint stays at the last batch published completely: run
/// it again to resume (messages of the interrupted batch are sent again with the same ids).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackfillError {
    /// The store failed: database, an unreadable stored event, a payload the registry cannot
    /// decode or upcast.
    #[error(transparent)]
    Store(#[from] Error),
    /// A stored event cannot be converted with the current table (the converter's error
    /// names the field).
    #[error(
        "cannot convert stored event at position {position} ({aggregate_type} `{aggregate_id}` version {version})"
    )]
    Convert {
        /// Store position of the event.
        position: u64,
        /// Its aggregate type.
        aggregate_type: String,
        /// Its aggregate id.
        aggregate_id: String,
        /// Its aggregate version.
        version: u64,
        /// The handler's error (event name and id, then the converter's).
        #[source]
        source: DispatchError,
    },
    /// The broker did not confirm a message.
    #[error("publishing the batch after position {after} failed")]
    Publish {
        /// The checkpoint position the batch started after.
        after: u64,
        /// The first message not confirmed and why.
        #[source]
        source: PublishAllError,
    },
    /// The backfill of this name was started with another selection or target; a resume
    /// must give the same (or reset the backfill).
    #[error(
        "backfill `{name}` was started with another selection: {stored}; given: {given} (reset it to start over)"
    )]
    SelectionChanged {
        /// The backfill's name.
        name: String,
        /// The selection and target of its checkpoint, JSON.
        stored: String,
        /// The ones given, JSON.
        given: String,
    },
    /// Another run of the same backfill holds its lock.
    #[error("backfill `{name}` is running elsewhere (its lock is held)")]
    AlreadyRunning {
        /// The backfill's name.
        name: String,
    },
    /// The store has no outbox dispatcher and no router was given: nothing would convert the
    /// events.
    #[error(
        "no converters: give the backfill the service's router or dispatcher (handlers on OutboxWriter::shared()), or build the store with .outbox(...)"
    )]
    NoRouter,
    /// [`Backfill::run`](super::Backfill::run) without a publisher
    /// ([`Backfill::publisher`](super::Backfill::publisher)); a dry run needs none.
    #[error("no publisher: a backfill that publishes needs Backfill::publisher(...)")]
    NoPublisher,
    /// The selection or target is invalid.
    #[error("invalid backfill selection: {reason}")]
    InvalidSelection {
        /// What is wrong.
        reason: String,
    },
    /// Transactions that were writing events when the backfill fixed its end stayed open
    /// longer than [`Backfill::settle_wait`](super::Backfill::settle_wait): one of them may hold
    /// a position below the end, which paging by position would pass before it commits. No
    /// batch was published and no checkpoint written.
    #[error(
        "transactions writing events stayed open for {waited:?} (PostgreSQL backend pids {pids:?}): the backfill cannot page past a position they may hold; end them (COMMIT, ROLLBACK or pg_terminate_backend) or raise Backfill::settle_wait"
    )]
    WritersStillOpen {
        /// How long the backfill waited.
        waited: Duration,
        /// The backends (`pg_stat_activity.pid`) whose transactions were still open.
        pids: Vec<i32>,
    },
}
