//! Aggregates, their stores, and the store middleware that dispatches saved events.
//!
//! An aggregate records domain events in its [`AggregateRoot`]; saving the aggregate through an
//! [`AggregateStore`] stores its state and returns the recorded events, with optimistic
//! concurrency on the aggregate version. [`DispatchingStore`] wraps any store and hands the
//! saved events to an [`EventDispatcher`] after the save committed.
//!
//! Event-sourced stores (the Postgres store, feature `postgres`) keep the events rather than
//! the state and rebuild an aggregate by replaying them: such aggregates also implement
//! [`EventSourced`], and [`replay`] does the rebuilding. [`InMemoryStore`] keeps snapshots and
//! needs neither.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::dispatcher::{Dispatch, DispatchError, EventDispatcher};
use crate::error::BoxError;
use crate::event::{AggregateEvent, DomainEvent, Metadata};

/// An event-producing aggregate (a consistency boundary such as an order).
pub trait Aggregate: Clone + Send + Sync + 'static {
    /// Aggregate type name, e.g. `"Order"`; becomes `ce-aggregatetype`.
    const NAME: &'static str;
    /// The bookkeeping part (id, version, pending events).
    fn root(&self) -> &AggregateRoot;
    /// The bookkeeping part, mutable.
    fn root_mut(&mut self) -> &mut AggregateRoot;
}

/// An aggregate that can be rebuilt from its stored events (for event-sourced stores).
///
/// The command methods of such an aggregate change its state *and* record events; [`apply`]
/// must change the state the same way from the recorded event, so that replaying every stored
/// event of an aggregate onto [`blank`] gives the state the commands left. A common shape is
/// a command that validates, then records the event and calls `apply` on it.
///
/// ```
/// use eventmap::{Aggregate, AggregateEvent, AggregateRoot, DomainEvent, EventSourced};
///
/// #[derive(Debug)]
/// struct Incremented { by: u64 }
/// impl DomainEvent for Incremented {
///     fn event_name(&self) -> &'static str { "Incremented" }
/// }
///
/// #[derive(Debug, Clone)]
/// struct Counter { root: AggregateRoot, total: u64 }
/// impl Aggregate for Counter {
///     const NAME: &'static str = "Counter";
///     fn root(&self) -> &AggregateRoot { &self.root }
///     fn root_mut(&mut self) -> &mut AggregateRoot { &mut self.root }
/// }
/// impl EventSourced for Counter {
///     fn blank(id: &str) -> Self { Counter { root: AggregateRoot::new(id), total: 0 } }
///     fn apply(&mut self, event: &AggregateEvent) {
///         if let Some(e) = event.downcast::<Incremented>() { self.total += e.payload().by; }
///     }
/// }
///
/// let mut counter = Counter::blank("c-1");
/// counter.root.record(Counter::NAME, Incremented { by: 2 });
/// counter.root.record(Counter::NAME, Incremented { by: 3 });
/// let events = counter.root_mut().take_pending();
/// let rebuilt: Counter = eventmap::store::replay("c-1", &events).unwrap();
/// assert_eq!((rebuilt.total, rebuilt.root().version()), (5, 2));
/// ```
///
/// [`apply`]: EventSourced::apply
/// [`blank`]: EventSourced::blank
pub trait EventSourced: Aggregate {
    /// The aggregate `id` before its first event: default state, `AggregateRoot::new(id)`.
    fn blank(id: &str) -> Self;

    /// Changes the state by one stored event. Called in version order when the aggregate is
    /// loaded; it must not record events (anything recorded during a replay is discarded).
    fn apply(&mut self, event: &AggregateEvent);
}

/// Rebuilds the aggregate `id` from its stored events, oldest first: [`EventSourced::blank`],
/// then [`EventSourced::apply`] for each event, then the root is reset to
/// [`AggregateRoot::restored`] at the last event's version (no pending events).
///
/// # Errors
///
/// [`StoreError::NotFound`] when `events` is empty, [`StoreError::Replay`] when an event
/// belongs to another aggregate or the versions are not 1, 2, 3, ... without gaps.
pub fn replay<A: EventSourced>(id: &str, events: &[AggregateEvent]) -> Result<A, StoreError> {
    if events.is_empty() {
        return Err(StoreError::NotFound {
            aggregate: A::NAME,
            id: id.to_owned(),
        });
    }
    let mut aggregate = A::blank(id);
    for (index, event) in events.iter().enumerate() {
        let expected = index as u64 + 1;
        if event.aggregate_id() != id || event.aggregate_version() != expected {
            return Err(StoreError::Replay {
                aggregate: A::NAME,
                id: id.to_owned(),
                reason: format!(
                    "event {} is {} `{}` version {}, expected `{id}` version {expected}",
                    event.id(),
                    event.aggregate_name(),
                    event.aggregate_id(),
                    event.aggregate_version()
                ),
            });
        }
        aggregate.apply(event);
    }
    *aggregate.root_mut() = AggregateRoot::restored(id, events.len() as u64);
    Ok(aggregate)
}

/// Identity, version and not-yet-saved events of an aggregate.
///
/// Versions count events: a new aggregate is at version 0, its first event gets version 1.
#[derive(Debug, Clone, Default)]
pub struct AggregateRoot {
    id: String,
    /// Version of the last stored event.
    version: u64,
    pending: Vec<AggregateEvent>,
}

impl AggregateRoot {
    /// A new aggregate with id `id`, version 0 and no events.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            version: 0,
            pending: Vec::new(),
        }
    }

    /// An aggregate loaded at `stored_version` (for store implementations that rebuild
    /// aggregates); no pending events.
    pub fn restored(id: impl Into<String>, stored_version: u64) -> Self {
        Self {
            id: id.into(),
            version: stored_version,
            pending: Vec::new(),
        }
    }

    /// The aggregate id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Current version, pending events included.
    pub fn version(&self) -> u64 {
        self.version.saturating_add(self.pending.len() as u64)
    }

    /// Version of the last stored event: what a store expects to find (optimistic
    /// concurrency).
    pub fn stored_version(&self) -> u64 {
        self.version
    }

    /// Records `event` as a pending event of this aggregate (type name `aggregate_name`) at
    /// version [`version`](Self::version) + 1, with a new event id and the current time.
    pub fn record<E: DomainEvent>(&mut self, aggregate_name: &str, event: E) {
        let version = self.version().saturating_add(1);
        self.pending
            .push(AggregateEvent::new(aggregate_name, self.id.clone(), version, event).into_dyn());
    }

    /// Like [`record`](Self::record), with `metadata` on the event (for instance the
    /// correlation and causation ids of [`metadata_keys`](crate::event::metadata_keys), which
    /// travel on the integration messages).
    pub fn record_with_metadata<E: DomainEvent>(
        &mut self,
        aggregate_name: &str,
        event: E,
        metadata: Metadata,
    ) {
        let version = self.version().saturating_add(1);
        let mut event = AggregateEvent::new(aggregate_name, self.id.clone(), version, event);
        event.event.metadata = metadata;
        self.pending.push(event.into_dyn());
    }

    /// The events recorded since the last save, oldest first.
    pub fn pending(&self) -> &[AggregateEvent] {
        &self.pending
    }

    /// Removes and returns the pending events and marks them stored:
    /// [`stored_version`](Self::stored_version) becomes [`version`](Self::version).
    /// Stores call this once the save committed.
    pub fn take_pending(&mut self) -> Vec<AggregateEvent> {
        self.version = self.version();
        std::mem::take(&mut self.pending)
    }
}

/// Why loading or saving an aggregate failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No aggregate with this id is stored.
    #[error("{aggregate} `{id}` not found")]
    NotFound {
        /// Aggregate type name.
        aggregate: &'static str,
        /// Aggregate id.
        id: String,
    },
    /// Optimistic concurrency: someone else saved the aggregate since it was loaded.
    #[error(
        "{aggregate} `{id}` was modified concurrently: expected version {expected}, stored version is {actual}"
    )]
    Conflict {
        /// Aggregate type name.
        aggregate: &'static str,
        /// Aggregate id.
        id: String,
        /// The stored version the caller's copy was based on.
        expected: u64,
        /// The version actually stored.
        actual: u64,
    },
    /// The stored events of an aggregate cannot be replayed (see [`replay`]).
    #[error("cannot replay {aggregate} `{id}`: {reason}")]
    Replay {
        /// Aggregate type name.
        aggregate: &'static str,
        /// Aggregate id.
        id: String,
        /// What is wrong.
        reason: String,
    },
    /// A pending event could never be published, so [`DispatchingStore`] refused to save it
    /// (nothing was saved): its aggregate id, correlation id or causation id has a line
    /// break, and these travel as NATS headers (`ce-subject`, `ce-correlationid`,
    /// `ce-causationid`), which are one line each.
    #[error("cannot save {aggregate} `{id}`: {reason}")]
    InvalidEvent {
        /// Aggregate type name.
        aggregate: &'static str,
        /// Aggregate id (escaped, `\r` and `\n` shown as such).
        id: String,
        /// What is wrong, naming the event and the value.
        reason: String,
    },
    /// The save committed but a handler of the saved events failed
    /// ([`DispatchingStore`]).
    #[error("saved, but dispatching the saved events failed")]
    Dispatch(#[from] DispatchError),
    /// Any failure of a store backend.
    #[error("store backend failed")]
    Backend(#[source] BoxError),
}

/// Loads and saves aggregates of type `A`.
#[async_trait::async_trait]
pub trait AggregateStore<A: Aggregate>: Send + Sync {
    /// Loads the aggregate `id`.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] or a backend error.
    async fn load(&self, id: &str) -> Result<A, StoreError>;

    /// Saves `aggregate` if its [`AggregateRoot::stored_version`] is the stored version,
    /// marks its pending events stored and returns them (oldest first).
    ///
    /// # Errors
    ///
    /// [`StoreError::Conflict`] (the aggregate is left unchanged) or a backend error.
    async fn save(&self, aggregate: &mut A) -> Result<Vec<AggregateEvent>, StoreError>;
}

/// A store keeping aggregate snapshots in memory, with optimistic concurrency.
///
/// Cloning is cheap and clones share the data.
#[derive(Debug)]
pub struct InMemoryStore<A> {
    aggregates: Arc<Mutex<HashMap<String, A>>>,
}

impl<A> Clone for InMemoryStore<A> {
    fn clone(&self) -> Self {
        Self {
            aggregates: Arc::clone(&self.aggregates),
        }
    }
}

impl<A> Default for InMemoryStore<A> {
    fn default() -> Self {
        Self {
            aggregates: Arc::default(),
        }
    }
}

impl<A> InMemoryStore<A> {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, A>> {
        // Writes are single `insert`s, so a poisoned map is still consistent.
        self.aggregates
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Number of stored aggregates.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait::async_trait]
impl<A: Aggregate> AggregateStore<A> for InMemoryStore<A> {
    async fn load(&self, id: &str) -> Result<A, StoreError> {
        self.lock()
            .get(id)
            .cloned()
            .ok_or_else(|| StoreError::NotFound {
                aggregate: A::NAME,
                id: id.to_owned(),
            })
    }

    async fn save(&self, aggregate: &mut A) -> Result<Vec<AggregateEvent>, StoreError> {
        let mut aggregates = self.lock();
        let id = aggregate.root().id().to_owned();
        let expected = aggregate.root().stored_version();
        let actual = aggregates
            .get(&id)
            .map_or(0, |stored| stored.root().version());
        if expected != actual {
            return Err(StoreError::Conflict {
                aggregate: A::NAME,
                id,
                expected,
                actual,
            });
        }
        let events = aggregate.root_mut().take_pending();
        aggregates.insert(id, aggregate.clone());
        tracing::debug!(aggregate = A::NAME, id = %aggregate.root().id(), version = aggregate.root().version(), events = events.len(), "aggregate saved");
        Ok(events)
    }
}

/// Store middleware: after the inner store saved an aggregate, the saved events go to
/// the dispatcher `D`: an [`EventDispatcher`] (the default; [`EventDispatcher::publish`]) or
/// any other [`Dispatch`], such as a generated `DomainEventRouter`.
///
/// Delivery is **at-most-once** with respect to the store: the save commits first, so if the
/// process dies (or a handler fails) after the commit, the events are stored but their
/// integration events may never be published. A handler failure is reported as
/// [`StoreError::Dispatch`] even though the save itself succeeded.
#[derive(Debug)]
pub struct DispatchingStore<S, D: ?Sized = EventDispatcher> {
    inner: S,
    dispatcher: Arc<D>,
}

impl<S: Clone, D: ?Sized> Clone for DispatchingStore<S, D> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            dispatcher: Arc::clone(&self.dispatcher),
        }
    }
}

impl<S, D: ?Sized> DispatchingStore<S, D> {
    /// Wraps `inner`, dispatching saved events to `dispatcher`.
    pub fn new(inner: S, dispatcher: Arc<D>) -> Self {
        Self { inner, dispatcher }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The dispatcher.
    pub fn dispatcher(&self) -> &Arc<D> {
        &self.dispatcher
    }
}

#[async_trait::async_trait]
impl<A: Aggregate, S: AggregateStore<A>, D: Dispatch + ?Sized> AggregateStore<A>
    for DispatchingStore<S, D>
{
    async fn load(&self, id: &str) -> Result<A, StoreError> {
        self.inner.load(id).await
    }

    /// Saves through the inner store, then dispatches the saved events.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidEvent`] before anything is saved when a pending event's aggregate
    /// id, correlation id or causation id has a line break (it could never be published);
    /// the inner store's errors; [`StoreError::Dispatch`] when a handler failed after the save.
    async fn save(&self, aggregate: &mut A) -> Result<Vec<AggregateEvent>, StoreError> {
        if let Some(reason) = unpublishable(aggregate.root().pending()) {
            return Err(StoreError::InvalidEvent {
                aggregate: A::NAME,
                id: aggregate.root().id().escape_debug().to_string(),
                reason,
            });
        }
        let events = self.inner.save(aggregate).await?;
        self.dispatcher.dispatch(&events).await?;
        Ok(events)
    }
}

/// Why one of `events` could never be published, or `None`: an aggregate id, correlation id
/// or causation id ([`metadata_keys`](crate::event::metadata_keys)) with a CR or LF, which a
/// NATS header value cannot hold (the rule `IntegrationMessage` headers are checked against
/// before a publish).
fn unpublishable(events: &[AggregateEvent]) -> Option<String> {
    use crate::event::metadata_keys::{CAUSATION_ID, CORRELATION_ID};
    events.iter().find_map(|event| {
        let metadata = event.metadata();
        [("aggregate id", Some(event.aggregate_id()))]
            .into_iter()
            .chain([CORRELATION_ID, CAUSATION_ID].map(|key| (key, metadata.get(key).map(String::as_str))))
            .find_map(|(what, value)| {
                value.filter(|v| v.contains(['\r', '\n'])).map(|v| {
                    format!(
                        "event `{}` ({}): its {what} {:?} has a line break, which the NATS header that carries it cannot hold",
                        event.name(),
                        event.id(),
                        v
                    )
                })
            })
    })
}
