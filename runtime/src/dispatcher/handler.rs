//! The handlers the dispatcher runs: the [`EventHandler`] trait, closures ([`handler_fn`]) and
//! the integration handlers, which the dispatcher converts and publishes through directly.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use crate::error::BoxError;
use crate::event::{AggregateEvent, DomainEvent};
use crate::integration::{IntegrationEventHandler, IntegrationSource};

/// Reacts to domain events.
#[async_trait::async_trait]
pub trait EventHandler: Send + Sync {
    /// Handles one event.
    ///
    /// # Errors
    ///
    /// Any error; the dispatcher stops at the first one and reports it as a
    /// [`DispatchError`](super::DispatchError).
    async fn handle(&self, event: &AggregateEvent) -> Result<(), BoxError>;

    /// The [`IntegrationSource`] of a handler that converts each event into one integration
    /// message and publishes it ([`IntegrationEventHandler`](crate::IntegrationEventHandler)
    /// returns itself): the dispatcher then converts and publishes through it, with the same
    /// effect as [`handle`](Self::handle) and one boxed future less per event. `None` (the
    /// default) for every other handler.
    fn as_integration(&self) -> Option<&dyn IntegrationSource> {
        None
    }
}

#[async_trait::async_trait]
impl<H: EventHandler + ?Sized> EventHandler for Arc<H> {
    async fn handle(&self, event: &AggregateEvent) -> Result<(), BoxError> {
        (**self).handle(event).await
    }

    fn as_integration(&self) -> Option<&dyn IntegrationSource> {
        (**self).as_integration()
    }
}

#[async_trait::async_trait]
impl<T: DomainEvent, M: prost::Message + 'static> EventHandler for IntegrationEventHandler<T, M> {
    async fn handle(&self, event: &AggregateEvent) -> Result<(), BoxError> {
        self.publish_event(event).await.map_err(BoxError::from)
    }

    fn as_integration(&self) -> Option<&dyn IntegrationSource> {
        Some(self)
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
