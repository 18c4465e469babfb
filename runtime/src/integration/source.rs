//! How an integration handler converts and publishes an event: the [`IntegrationSource`] view
//! the dispatcher runs integration handlers through, and [`publish_with`], shared by that path
//! and [`IntegrationEventHandler::publish_event`].

use tracing::{Instrument, Span};

use super::{IntegrationError, IntegrationEventHandler};
use crate::event::{AggregateEvent, DomainEvent};
use crate::message::{IntegrationMessage, integration_event_id};
use crate::publisher::{PublishError, PublishReceipt, Publisher};

mod sealed {
    /// Keeps [`IntegrationSource`](super::IntegrationSource) implemented by this crate only.
    pub trait Sealed {}
}

/// What the [`EventDispatcher`](crate::dispatcher::EventDispatcher) needs of an
/// [`IntegrationEventHandler`] to convert and publish an event itself, through plain
/// (non-`async`) calls: one boxed future less per event than
/// [`EventHandler::handle`](crate::dispatcher::EventHandler::handle). Returned by
/// [`EventHandler::as_integration`](crate::dispatcher::EventHandler::as_integration);
/// implemented by [`IntegrationEventHandler`] only.
pub trait IntegrationSource: sealed::Sealed + Send + Sync {
    /// Builds the message for `event` without publishing it.
    ///
    /// # Errors
    ///
    /// [`IntegrationError::UnexpectedPayload`] or [`IntegrationError::Conversion`].
    fn to_message(&self, event: &AggregateEvent) -> Result<IntegrationMessage, IntegrationError>;

    /// The publisher the message goes to.
    fn publisher(&self) -> &dyn Publisher;

    /// The integration event name (the last subject token; the `ce-type` unless the row
    /// gives another).
    fn integration_event_name(&self) -> &'static str;
}

impl<T: DomainEvent, M: prost::Message> sealed::Sealed for IntegrationEventHandler<T, M> {}

impl<T: DomainEvent, M: prost::Message> IntegrationSource for IntegrationEventHandler<T, M> {
    fn to_message(&self, event: &AggregateEvent) -> Result<IntegrationMessage, IntegrationError> {
        IntegrationEventHandler::to_message(self, event)
    }

    fn publisher(&self) -> &dyn Publisher {
        self.publisher.as_ref()
    }

    fn integration_event_name(&self) -> &'static str {
        self.name
    }
}

/// The tracing span `integration_event` of converting and publishing `event` with `source`:
/// the domain and integration event names and ids, the aggregate id and version.
fn integration_span<S: IntegrationSource + ?Sized>(source: &S, event: &AggregateEvent) -> Span {
    let name = source.integration_event_name();
    tracing::info_span!(
        "integration_event",
        domain_event = event.name(),
        domain_event_id = %event.id(),
        integration_event = name,
        integration_event_id = %integration_event_id(event.id(), name),
        aggregate_id = event.aggregate_id(),
        aggregate_version = event.aggregate_version(),
    )
}

/// The outcome of publishing `message` built by `source`: logged, and the error located.
fn published<S: IntegrationSource + ?Sized>(
    source: &S,
    message: &IntegrationMessage,
    result: Result<PublishReceipt, PublishError>,
) -> Result<(), IntegrationError> {
    let receipt = result.map_err(|error| IntegrationError::Publish {
        integration_event: source.integration_event_name(),
        integration_event_id: message.id,
        source: error,
    })?;
    tracing::debug!(
        subject = %message.subject,
        stream = %receipt.stream,
        sequence = receipt.sequence,
        duplicate = receipt.duplicate,
        "integration event published"
    );
    Ok(())
}

/// Converts `event` with `source` and publishes the message, inside the
/// [`integration_span`].
pub(crate) async fn publish_with<S: IntegrationSource + ?Sized>(
    source: &S,
    event: &AggregateEvent,
) -> Result<(), IntegrationError> {
    let span = integration_span(source, event);
    let message = span.in_scope(|| source.to_message(event))?;
    let publish = source.publisher().publish(&message);
    // A disabled span (no subscriber at INFO) costs nothing more than its check: the publish
    // is not wrapped in `Instrumented` then.
    let result = if span.is_disabled() {
        publish.await
    } else {
        publish.instrument(span.clone()).await
    };
    span.in_scope(|| published(source, &message, result))
}
