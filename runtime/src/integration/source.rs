//! How an integration handler converts and publishes an event: the [`IntegrationSource`] view
//! the dispatcher runs integration handlers through, and [`publish_row`], shared by that path,
//! generated routers and [`IntegrationEventHandler::publish_event`].

use std::future::Future;

use tracing::{Instrument, Span};
use uuid::Uuid;

use super::{IntegrationError, IntegrationEventHandler};
use crate::event::{AggregateEvent, DomainEvent};
use crate::message::{IntegrationMessage, integration_event_id};
use crate::publisher::{PublishError, PublishReceipt, Publisher};

mod sealed {
    use uuid::Uuid;

    use crate::event::AggregateEvent;
    use crate::integration::IntegrationError;
    use crate::message::IntegrationMessage;

    /// Keeps [`IntegrationSource`](super::IntegrationSource) implemented by this crate only,
    /// and holds what only the crate calls.
    pub trait Sealed {
        /// `to_message` with the message id (the `integration_event_id` of the event's id and
        /// the integration event name) already computed: [`publish_row`](super::publish_row)
        /// computes it once for the message and the span.
        fn message_with_id(
            &self,
            event: &AggregateEvent,
            id: Uuid,
        ) -> Result<IntegrationMessage, IntegrationError>;
    }
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

impl<T: DomainEvent, M: prost::Message> sealed::Sealed for IntegrationEventHandler<T, M> {
    fn message_with_id(
        &self,
        event: &AggregateEvent,
        id: Uuid,
    ) -> Result<IntegrationMessage, IntegrationError> {
        IntegrationEventHandler::message_with_id(self, event, id)
    }
}

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
/// the domain and integration event names and ids (`id`, computed once by the caller: with
/// tracing's `log` feature on and no subscriber, the fields of a disabled span are still
/// evaluated), the aggregate id and version. Its parent is `dispatch` when that span is enabled,
/// else the current span (evaluated only when the span is enabled).
fn integration_span<S: IntegrationSource + ?Sized>(
    source: &S,
    event: &AggregateEvent,
    id: Uuid,
    dispatch: &Span,
) -> Span {
    tracing::info_span!(
        parent: dispatch.id().or_else(|| Span::current().id()),
        "integration_event",
        domain_event = event.name(),
        domain_event_id = %event.id(),
        integration_event = source.integration_event_name(),
        integration_event_id = %id,
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

/// Converts `event` with `source` (an integration handler, the row of a mapping table) and
/// publishes the message through the handler's publisher, inside the INFO span
/// `integration_event` (the domain and integration event names and ids, the aggregate id and
/// version), a child of `dispatch` (the event's `dispatch` span,
/// [`dispatch_span`](crate::dispatcher::dispatch_span)) or, when that is disabled or
/// [`Span::none`], of the current span. What the [`EventDispatcher`](crate::EventDispatcher)
/// runs for an integration handler and what generated routers run for a row.
///
/// # Errors
///
/// [`IntegrationError`]: the payload is not the handler's type, a field does not convert, or
/// the publisher failed.
pub fn publish_row<'a, S: IntegrationSource + ?Sized>(
    source: &'a S,
    event: &'a AggregateEvent,
    dispatch: &'a Span,
) -> impl Future<Output = Result<(), IntegrationError>> + Send + 'a {
    publish_built(source, event, dispatch, move |id| {
        source.message_with_id(event, id)
    })
}

/// [`publish_row`] with the message built by `build` from its id.
pub(super) async fn publish_built<S: IntegrationSource + ?Sized>(
    source: &S,
    event: &AggregateEvent,
    dispatch: &Span,
    build: impl FnOnce(Uuid) -> Result<IntegrationMessage, IntegrationError>,
) -> Result<(), IntegrationError> {
    let id = integration_event_id(event.id(), source.integration_event_name());
    let span = integration_span(source, event, id, dispatch);
    let message = in_span(&span, || build(id))?;
    let publish = source.publisher().publish(&message);
    // A disabled span (no subscriber at INFO) costs nothing more than its check: the publish
    // is not wrapped in `Instrumented` then.
    let result = if span.is_disabled() {
        publish.await
    } else {
        publish.instrument(span.clone()).await
    };
    in_span(&span, || published(source, &message, result))
}

/// Runs `f` inside `span` when it is enabled; a disabled span is not entered (entering it does
/// nothing for a subscriber, and costs a few calls per event).
fn in_span<R>(span: &Span, f: impl FnOnce() -> R) -> R {
    if span.is_disabled() {
        f()
    } else {
        span.in_scope(f)
    }
}
