//! In-process dispatch of domain events to handlers.
//!
//! The [`EventDispatcher`] keeps, per domain event name, an ordered list of handlers.
//! Generated registration code subscribes one
//! [`IntegrationEventHandler`](crate::integration::IntegrationEventHandler) per mapped
//! integration event; applications may add their own handlers.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use tracing::Instrument;
use uuid::Uuid;

use crate::event::{AggregateEvent, DomainEvent};

/// A boxed error that can cross threads; what handlers return.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Reacts to domain events.
#[async_trait::async_trait]
pub trait EventHandler: Send + Sync {
    /// Handles one event.
    ///
    /// # Errors
    ///
    /// Any error; the dispatcher stops at the first one and reports it as a
    /// [`DispatchError`].
    async fn handle(&self, event: &AggregateEvent) -> Result<(), BoxError>;
}

#[async_trait::async_trait]
impl<H: EventHandler + ?Sized> EventHandler for Arc<H> {
    async fn handle(&self, event: &AggregateEvent) -> Result<(), BoxError> {
        (**self).handle(event).await
    }
}

/// A handler failed while the dispatcher published a domain event.
#[derive(Debug, thiserror::Error)]
#[error("handler for domain event `{event_name}` ({event_id}) failed: {source}")]
pub struct DispatchError {
    /// Name of the domain event being handled.
    pub event_name: String,
    /// Id of the domain event being handled.
    pub event_id: Uuid,
    /// The handler's error.
    #[source]
    pub source: BoxError,
}

/// Routes domain events to the handlers subscribed to their name.
///
/// Handlers of one event run one after another, in registration order; events run in slice
/// order. Nothing runs concurrently, so a handler may rely on the effects of the previous one.
#[derive(Default)]
pub struct EventDispatcher {
    /// Handlers by what they subscribed to, each with its registration sequence number.
    handlers: HashMap<Subscription, Vec<(u64, Arc<dyn EventHandler>)>>,
    /// Type names of the types subscribed to, for `Debug`.
    type_names: HashMap<TypeId, &'static str>,
    next: u64,
}

/// What a handler subscribed to: a domain event name, or a domain event type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Subscription {
    Name(String),
    Type(TypeId),
}

impl fmt::Debug for EventDispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<_> = self
            .handlers
            .iter()
            .map(|(key, handlers)| {
                let name = match key {
                    Subscription::Name(name) => name.clone(),
                    Subscription::Type(id) => {
                        format!("type {}", self.type_names.get(id).copied().unwrap_or("?"))
                    }
                };
                (name, handlers.len())
            })
            .collect();
        names.sort_unstable();
        f.debug_struct("EventDispatcher")
            .field("handlers", &names)
            .finish()
    }
}

impl EventDispatcher {
    /// An empty dispatcher.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `handler` for the domain event `event_name` (after the ones already there).
    pub fn subscribe(
        &mut self,
        event_name: &str,
        handler: impl EventHandler + 'static,
    ) -> &mut Self {
        self.subscribe_arc(event_name, Arc::new(handler))
    }

    /// Adds a shared `handler` for the domain event `event_name` (after the ones already
    /// there). The same handler may be subscribed to several names.
    pub fn subscribe_arc(&mut self, event_name: &str, handler: Arc<dyn EventHandler>) -> &mut Self {
        self.add(Subscription::Name(event_name.to_owned()), handler)
    }

    /// Subscribes `handler` to every domain event whose payload is of type `T`, whatever
    /// [`DomainEvent::event_name`] returns: registration by type, immune to a name that does
    /// not match the mapping table. Generated registration code uses it. Handlers subscribed by
    /// name and by type run together, in registration order.
    pub fn subscribe_to<T: DomainEvent>(
        &mut self,
        handler: impl EventHandler + 'static,
    ) -> &mut Self {
        self.type_names
            .insert(TypeId::of::<T>(), std::any::type_name::<T>());
        self.add(Subscription::Type(TypeId::of::<T>()), Arc::new(handler))
    }

    fn add(&mut self, key: Subscription, handler: Arc<dyn EventHandler>) -> &mut Self {
        let sequence = self.next;
        self.next += 1;
        self.handlers
            .entry(key)
            .or_default()
            .push((sequence, handler));
        self
    }

    /// Number of handlers subscribed by name to `event_name`.
    pub fn handler_count(&self, event_name: &str) -> usize {
        self.handlers
            .get(&Subscription::Name(event_name.to_owned()))
            .map_or(0, Vec::len)
    }

    /// Number of handlers subscribed by type to domain events of type `T`.
    pub fn handler_count_of<T: DomainEvent>(&self) -> usize {
        self.handlers
            .get(&Subscription::Type(TypeId::of::<T>()))
            .map_or(0, Vec::len)
    }

    /// The handlers of `event`, by name and by payload type, in registration order.
    fn handlers_of(&self, event: &AggregateEvent) -> Vec<&Arc<dyn EventHandler>> {
        let payload: &dyn Any = event.payload();
        let type_id = payload.type_id();
        let by_name = self
            .handlers
            .get(&Subscription::Name(event.name().to_owned()));
        let by_type = self.handlers.get(&Subscription::Type(type_id));
        let mut found: Vec<&(u64, Arc<dyn EventHandler>)> =
            by_name.into_iter().chain(by_type).flatten().collect();
        found.sort_unstable_by_key(|(sequence, _)| *sequence);
        found.into_iter().map(|(_, handler)| handler).collect()
    }

    /// Runs the handlers of every event, events in order and each event's handlers (by name
    /// and by type together) in registration order. Events without handlers are skipped.
    ///
    /// # Errors
    ///
    /// Stops at the first failing handler and returns its error as a [`DispatchError`]; the
    /// remaining handlers and events are not run.
    pub async fn publish(&self, events: &[AggregateEvent]) -> Result<(), DispatchError> {
        for event in events {
            let handlers = self.handlers_of(event);
            if handlers.is_empty() {
                tracing::debug!(event_name = event.name(), "no handler for domain event");
                continue;
            }
            let span = tracing::debug_span!(
                "dispatch",
                event_name = event.name(),
                event_id = %event.id(),
                aggregate_id = event.aggregate_id(),
                aggregate_version = event.aggregate_version(),
            );
            async {
                for (index, handler) in handlers.iter().enumerate() {
                    if let Err(source) = handler.handle(event).await {
                        tracing::warn!(handler = index, error = %source, "event handler failed");
                        return Err(DispatchError {
                            event_name: event.name().to_owned(),
                            event_id: event.id(),
                            source,
                        });
                    }
                }
                Ok(())
            }
            .instrument(span)
            .await?;
        }
        Ok(())
    }
}

/// An [`EventHandler`] made from a closure; see [`handler_fn`].
pub struct FnHandler<F>(F);

impl<F> fmt::Debug for FnHandler<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FnHandler")
    }
}

/// Adapts a closure into an [`EventHandler`].
///
/// The closure receives an owned clone of the event (cheap: the payload is an `Arc`), so the
/// returned future may be `'static`:
///
/// ```
/// # use eventmap::dispatcher::{handler_fn, EventDispatcher};
/// let mut dispatcher = EventDispatcher::new();
/// dispatcher.subscribe("OrderCreated", handler_fn(|event| async move {
///     println!("order {} created", event.aggregate_id());
///     Ok(())
/// }));
/// assert_eq!(dispatcher.handler_count("OrderCreated"), 1);
/// ```
pub fn handler_fn<F, Fut>(f: F) -> FnHandler<F>
where
    F: Fn(AggregateEvent) -> Fut + Send + Sync,
    Fut: Future<Output = Result<(), BoxError>> + Send,
{
    FnHandler(f)
}

#[async_trait::async_trait]
impl<F, Fut> EventHandler for FnHandler<F>
where
    F: Fn(AggregateEvent) -> Fut + Send + Sync,
    Fut: Future<Output = Result<(), BoxError>> + Send,
{
    async fn handle(&self, event: &AggregateEvent) -> Result<(), BoxError> {
        (self.0)(event.clone()).await
    }
}
