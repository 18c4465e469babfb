//! In-process dispatch of domain events to handlers.
//!
//! The [`EventDispatcher`] keeps, per domain event name, an ordered list of handlers.
//! Generated registration code subscribes one
//! [`IntegrationEventHandler`](crate::integration::IntegrationEventHandler) per mapped
//! integration event; applications may add their own handlers.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use tracing::Instrument;
use uuid::Uuid;

use crate::event::AggregateEvent;

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
    handlers: HashMap<String, Vec<Arc<dyn EventHandler>>>,
}

impl fmt::Debug for EventDispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<_> = self
            .handlers
            .iter()
            .map(|(name, handlers)| (name.as_str(), handlers.len()))
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
        self.handlers
            .entry(event_name.to_owned())
            .or_default()
            .push(handler);
        self
    }

    /// Number of handlers subscribed to `event_name`.
    pub fn handler_count(&self, event_name: &str) -> usize {
        self.handlers.get(event_name).map_or(0, Vec::len)
    }

    /// Runs the handlers of every event, events in order and each event's handlers in
    /// registration order. Events without handlers are skipped.
    ///
    /// # Errors
    ///
    /// Stops at the first failing handler and returns its error as a [`DispatchError`]; the
    /// remaining handlers and events are not run.
    pub async fn publish(&self, events: &[AggregateEvent]) -> Result<(), DispatchError> {
        for event in events {
            let Some(handlers) = self.handlers.get(event.name()) else {
                tracing::trace!(event_name = event.name(), "no handler for domain event");
                continue;
            };
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
