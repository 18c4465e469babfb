//! Routing generated per table: the [`Route`] trait that a generated `DomainEventRouter`
//! implements (a `match` on the payload type and the domain event name, compiled into the
//! service), the [`Dispatch`] trait that it and the [`EventDispatcher`] share (what stores take),
//! and the pieces generated routers call so that they log, trace and fail exactly as the
//! dispatcher does ([`dispatch_span`], [`publish_row`](crate::integration::publish_row),
//! [`row_failed`], [`unmapped_event_name`]).
//!
//! Generated code uses only these public items; they are not meant to be called by hand.

use std::fmt;
use std::future::Future;

use tracing::Span;

use super::{DispatchError, EventDispatcher, UnmappedEventName, UnmappedEventType};
use crate::error::BoxError;
use crate::event::{AggregateEvent, DomainEvent};
use crate::integration::IntegrationError;

/// Something that publishes domain events after a save: the [`EventDispatcher`] (handlers
/// registered at run time) or a generated `DomainEventRouter` (through [`Route`]). What
/// [`DispatchingStore`](crate::store::DispatchingStore) and the Postgres store's outbox take.
#[async_trait::async_trait]
pub trait Dispatch: Send + Sync + fmt::Debug {
    /// Runs the handlers of every event, in order; see [`EventDispatcher::publish`].
    ///
    /// # Errors
    ///
    /// The first failing handler's [`DispatchError`] (the remaining events are not run), or one
    /// with [`UnmappedEventName`] as source for an event of a mapped type under a name its
    /// table does not give it.
    async fn dispatch(&self, events: &[AggregateEvent]) -> Result<(), DispatchError>;
}

#[async_trait::async_trait]
impl Dispatch for EventDispatcher {
    async fn dispatch(&self, events: &[AggregateEvent]) -> Result<(), DispatchError> {
        self.publish(events).await
    }
}

/// The integration handlers of one mapping table, routed by code generated from the table:
/// implemented by the generated `DomainEventRouter` (`eventmap generate`,
/// `eventmap_codegen::Builder`).
///
/// A router publishes what an [`EventDispatcher`] with the table's
/// `register_integration_event_handlers` publishes, in the same order, with the same errors,
/// logs and spans, without the dispatcher's lookups and dynamic calls. Routers of tables that
/// map distinct domain types combine as a tuple (`(ordering, billing)`: the first that maps
/// the event's type handles it); tables that map the same type go on an [`EventDispatcher`].
pub trait Route: Send + Sync + fmt::Debug {
    /// Publishes `event` through the rows of its name when the table maps its payload type.
    /// Returns `Ok(true)` when it did (also for an `internal` name of the type, which has no
    /// row), `Ok(false)` when the table does not map the type (nothing ran).
    ///
    /// # Errors
    ///
    /// The failing row's [`DispatchError`], or one with [`UnmappedEventName`] as source when
    /// the type is mapped and its name is not one the table gives it.
    fn route<'a>(
        &'a self,
        event: &'a AggregateEvent,
    ) -> impl Future<Output = Result<bool, DispatchError>> + Send + 'a;
}

impl<A: Route, B: Route> Route for (A, B) {
    async fn route<'a>(&'a self, event: &'a AggregateEvent) -> Result<bool, DispatchError> {
        if self.0.route(event).await? {
            return Ok(true);
        }
        self.1.route(event).await
    }
}

#[async_trait::async_trait]
impl<R: Route> Dispatch for R {
    async fn dispatch(&self, events: &[AggregateEvent]) -> Result<(), DispatchError> {
        publish_routed(self, events).await
    }
}

/// Routes every event through `router`, in order, as [`EventDispatcher::publish`] runs them.
/// Generated routers' `publish` calls it.
///
/// # Errors
///
/// The first [`DispatchError`] of [`Route::route`], or one with [`UnmappedEventType`] as
/// source for an event whose type the router's tables do not map (a router is always built
/// from tables, which name every domain event of their service); the remaining events are not
/// run.
pub async fn publish_routed<R: Route>(
    router: &R,
    events: &[AggregateEvent],
) -> Result<(), DispatchError> {
    for event in events {
        if !router.route(event).await? {
            return Err(unmapped_type(event));
        }
    }
    Ok(())
}

/// The [`DispatchError`] of `event`, of a type no table maps: [`UnmappedEventType`] as
/// source, logged at WARN.
pub(super) fn unmapped_type(event: &AggregateEvent) -> DispatchError {
    tracing::warn!(
        event_name = event.name(),
        event_id = %event.id(),
        aggregate_type = event.aggregate_name(),
        "domain event type has no row in the mapping table; not published"
    );
    DispatchError {
        event_name: event.name().to_owned(),
        event_id: event.id(),
        source: Box::new(UnmappedEventType::new(event.name(), event.aggregate_name())),
    }
}

/// The DEBUG span `dispatch` of running the handlers of `event` (its name and id, the
/// aggregate id and version): [`EventDispatcher::publish`] runs an event's handlers in it, and
/// generated routers make it the parent of each row's `integration_event` span
/// ([`publish_row`](crate::integration::publish_row)).
pub fn dispatch_span(event: &AggregateEvent) -> Span {
    tracing::debug_span!(
        "dispatch",
        event_name = event.name(),
        event_id = %event.id(),
        aggregate_id = event.aggregate_id(),
        aggregate_version = event.aggregate_version(),
    )
}

/// The [`DispatchError`] of the row that ran `index`-th for `event` (counted from 0, as the
/// dispatcher counts the handlers of an event in its log) failing with `error`, logged at WARN
/// inside `dispatch` (the event's [`dispatch_span`]), as the dispatcher logs a failing handler.
pub fn row_failed(
    event: &AggregateEvent,
    dispatch: &Span,
    index: usize,
    error: IntegrationError,
) -> DispatchError {
    dispatch.in_scope(|| handler_failed(event, index, BoxError::from(error)))
}

/// The [`DispatchError`] of the `index`-th handler of `event` failing with `source`, logged at
/// WARN.
pub(super) fn handler_failed(
    event: &AggregateEvent,
    index: usize,
    source: BoxError,
) -> DispatchError {
    tracing::warn!(handler = index, error = %crate::error::ErrorChain(&*source), "event handler failed");
    DispatchError {
        event_name: event.name().to_owned(),
        event_id: event.id(),
        source,
    }
}

/// The [`DispatchError`] of `event`, of the mapped type `T`, carrying a name that is not one
/// of `expected` (the names its table gives `T`): [`UnmappedEventName`] as source, logged at
/// WARN, as [`EventDispatcher::publish`] fails such an event.
pub fn unmapped_event_name<T: DomainEvent>(
    event: &AggregateEvent,
    expected: &[&'static str],
) -> DispatchError {
    unmapped(
        event,
        UnmappedEventName {
            event_name: event.name().to_owned(),
            type_name: std::any::type_name::<T>(),
            expected: expected.to_vec(),
        },
    )
}

/// The [`DispatchError`] of `event` failing with `unmapped`, logged at WARN.
pub(super) fn unmapped(event: &AggregateEvent, unmapped: UnmappedEventName) -> DispatchError {
    tracing::warn!(
        event_name = event.name(),
        event_id = %event.id(),
        type_name = unmapped.type_name,
        "domain event name has no row in the mapping table; not published"
    );
    DispatchError {
        event_name: event.name().to_owned(),
        event_id: event.id(),
        source: Box::new(unmapped),
    }
}
