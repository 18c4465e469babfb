//! The handler that turns a domain event into a published integration event.
//!
//! Generated registration code subscribes one [`IntegrationEventHandler`] per mapping entry
//! (`events: OrderCreated: - name: OrderCreatedEvent ...`) to the
//! [`EventDispatcher`](crate::dispatcher::EventDispatcher).

use std::any::type_name;
use std::fmt;
use std::sync::Arc;

use tracing::{Instrument, Span};

use crate::channel::ChannelSpec;
use crate::convert::ConversionError;
use crate::dispatcher::{BoxError, EventHandler};
use crate::event::{AggregateEvent, DomainEvent};
use crate::message::{IntegrationMessage, integration_event_id};
use crate::publisher::{PublishError, PublishReceipt, Publisher};

/// A generated conversion from a typed domain event (payload plus envelope: ids, aggregate,
/// time) to the prost message of one integration event.
pub type Converter<T, M> = fn(&AggregateEvent<T>) -> Result<M, ConversionError>;

/// Why an [`IntegrationEventHandler`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IntegrationError {
    /// The dispatcher passed an event whose payload is not the type the handler converts
    /// (the handler was subscribed to the wrong event name).
    #[error("domain event `{event_name}` does not carry a `{expected}` payload")]
    UnexpectedPayload {
        /// Name of the domain event received.
        event_name: String,
        /// Rust type name of the payload the handler expects.
        expected: &'static str,
    },
    /// A field could not be converted.
    #[error("cannot convert domain event `{domain_event}` into `{integration_event}`: {source}")]
    Conversion {
        /// Name of the domain event.
        domain_event: String,
        /// Name of the integration event.
        integration_event: &'static str,
        /// The field error.
        #[source]
        source: ConversionError,
    },
    /// The publisher did not confirm the message.
    #[error("cannot publish `{integration_event}` ({integration_event_id}): {source}")]
    Publish {
        /// Name of the integration event.
        integration_event: &'static str,
        /// Id of the integration event (`ce-id`).
        integration_event_id: uuid::Uuid,
        /// The publisher's error.
        #[source]
        source: PublishError,
    },
}

/// Converts domain events of type `T` into the integration event `M` and publishes them.
///
/// On [`handle`](EventHandler::handle): downcast the payload to `T`, run the converter, encode
/// `M`, wrap it with [`IntegrationMessage::from_aggregate_event`] and await
/// [`Publisher::publish`]. Runs inside a tracing span `integration_event` carrying the domain
/// and integration event names and ids.
pub struct IntegrationEventHandler<T: DomainEvent, M: prost::Message> {
    publisher: Arc<dyn Publisher>,
    channel: ChannelSpec,
    name: &'static str,
    ce_type: &'static str,
    source: &'static str,
    convert: Converter<T, M>,
}

impl<T: DomainEvent, M: prost::Message> IntegrationEventHandler<T, M> {
    /// A handler publishing `integration_event_name` on `channel` through `publisher`, with
    /// `source` as CloudEvents `ce-source` (the service name) and `convert` as field mapping.
    pub fn new(
        publisher: Arc<dyn Publisher>,
        channel: ChannelSpec,
        integration_event_name: &'static str,
        source: &'static str,
        convert: Converter<T, M>,
    ) -> Self {
        Self {
            publisher,
            channel,
            name: integration_event_name,
            ce_type: integration_event_name,
            source,
            convert,
        }
    }

    /// Publishes with `ce_type` as the CloudEvents `ce-type` header instead of the
    /// integration event name (a row's `ce_type:` in the table, e.g.
    /// `com.example.ordering.OrderCreated`). The subject
    /// (`<channel subject>.<integration event name>`) and the `ce-id` stay those of the name.
    #[must_use]
    pub fn with_ce_type(mut self, ce_type: &'static str) -> Self {
        self.ce_type = ce_type;
        self
    }

    /// The integration event name: the last subject token, and the `ce-type` unless
    /// [`with_ce_type`](Self::with_ce_type) gave another.
    pub fn integration_event_name(&self) -> &'static str {
        self.name
    }

    /// The CloudEvents type written in the `ce-type` header: the integration event name, or
    /// the one given by [`with_ce_type`](Self::with_ce_type).
    pub fn ce_type(&self) -> &'static str {
        self.ce_type
    }

    /// The channel the handler publishes on.
    pub fn channel(&self) -> &ChannelSpec {
        &self.channel
    }

    /// Builds the message for `event` without publishing it.
    ///
    /// # Errors
    ///
    /// [`IntegrationError::UnexpectedPayload`] or [`IntegrationError::Conversion`].
    pub fn to_message(
        &self,
        event: &AggregateEvent,
    ) -> Result<IntegrationMessage, IntegrationError> {
        let proto = event
            .with_downcast::<T, _>(self.convert)
            .ok_or_else(|| IntegrationError::UnexpectedPayload {
                event_name: event.name().to_owned(),
                expected: type_name::<T>(),
            })?
            .map_err(|source| IntegrationError::Conversion {
                domain_event: event.name().to_owned(),
                integration_event: self.name,
                source,
            })?;
        Ok(IntegrationMessage::from_aggregate_event_with_type(
            event,
            &self.channel,
            self.name,
            self.ce_type,
            self.source,
            &proto,
        ))
    }

    /// Converts and publishes `event`; the typed form of [`EventHandler::handle`].
    ///
    /// # Errors
    ///
    /// Any [`IntegrationError`].
    pub async fn publish_event(&self, event: &AggregateEvent) -> Result<(), IntegrationError> {
        publish_with(self, event).await
    }
}

mod sealed {
    /// Keeps [`IntegrationSource`](super::IntegrationSource) implemented by this crate only.
    pub trait Sealed {}
}

/// What the [`EventDispatcher`](crate::dispatcher::EventDispatcher) needs of an
/// [`IntegrationEventHandler`] to convert and publish an event itself, through plain
/// (non-`async`) calls: one boxed future less per event than [`EventHandler::handle`].
/// Returned by [`EventHandler::as_integration`]; implemented by [`IntegrationEventHandler`]
/// only.
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
fn integration_span(source: &dyn IntegrationSource, event: &AggregateEvent) -> Span {
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
fn published(
    source: &dyn IntegrationSource,
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
pub(crate) async fn publish_with(
    source: &dyn IntegrationSource,
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

impl<T: DomainEvent, M: prost::Message> Clone for IntegrationEventHandler<T, M> {
    fn clone(&self) -> Self {
        Self {
            publisher: Arc::clone(&self.publisher),
            channel: self.channel,
            name: self.name,
            ce_type: self.ce_type,
            source: self.source,
            convert: self.convert,
        }
    }
}

impl<T: DomainEvent, M: prost::Message> fmt::Debug for IntegrationEventHandler<T, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntegrationEventHandler")
            .field("domain_event", &type_name::<T>())
            .field("integration_event", &self.name)
            .field("ce_type", &self.ce_type)
            .field("message", &type_name::<M>())
            .field("channel", &self.channel)
            .field("source", &self.source)
            .finish_non_exhaustive()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publisher::{InMemoryPublisher, PublishReceipt};

    #[derive(Debug)]
    struct OrderCreated {
        quantity: i64,
    }
    impl DomainEvent for OrderCreated {
        fn event_name(&self) -> &'static str {
            "OrderCreated"
        }
    }
    #[derive(Debug)]
    struct OrderCanceled;
    impl DomainEvent for OrderCanceled {
        fn event_name(&self) -> &'static str {
            "OrderCanceled"
        }
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct Created {
        #[prost(string, tag = "1")]
        order_id: String,
        #[prost(int32, tag = "2")]
        quantity: i32,
    }

    fn convert(event: &AggregateEvent<OrderCreated>) -> Result<Created, ConversionError> {
        Ok(Created {
            order_id: crate::convert::IntoProto::into_proto(event.aggregate_id())
                .map_err(|e: ConversionError| e.at("order_id"))?,
            quantity: crate::convert::checked(&event.payload().quantity, "quantity")?,
        })
    }

    const ORDER: ChannelSpec = ChannelSpec::new("order", "ordering.order", "ORDERING_ORDERS");

    fn handler(publisher: &InMemoryPublisher) -> IntegrationEventHandler<OrderCreated, Created> {
        IntegrationEventHandler::new(
            Arc::new(publisher.clone()),
            ORDER,
            "OrderCreatedEvent",
            "ordering",
            convert,
        )
    }

    #[tokio::test]
    async fn converts_and_publishes() {
        let publisher = InMemoryPublisher::new();
        let event = AggregateEvent::new("Order", "o-1", 1, OrderCreated { quantity: 3 }).into_dyn();
        handler(&publisher).handle(&event).await.unwrap();

        let messages = publisher.messages();
        assert_eq!(messages.len(), 1);
        let message = &messages[0];
        assert_eq!(message.subject, "ordering.order.OrderCreatedEvent");
        assert_eq!(
            message.id,
            integration_event_id(event.id(), "OrderCreatedEvent")
        );
        assert_eq!(message.header("ce-source"), Some("ordering"));
        let decoded = <Created as prost::Message>::decode(message.payload.clone()).unwrap();
        assert_eq!(
            decoded,
            Created {
                order_id: "o-1".into(),
                quantity: 3
            }
        );
    }

    #[tokio::test]
    async fn a_ce_type_of_its_own_goes_into_the_header_only() {
        let publisher = InMemoryPublisher::new();
        let handler = handler(&publisher).with_ce_type("com.example.ordering.OrderCreated");
        assert_eq!(handler.ce_type(), "com.example.ordering.OrderCreated");
        assert_eq!(handler.integration_event_name(), "OrderCreatedEvent");
        let event = AggregateEvent::new("Order", "o-1", 1, OrderCreated { quantity: 3 }).into_dyn();
        handler.handle(&event).await.unwrap();
        let messages = publisher.messages();
        assert_eq!(messages.len(), 1);
        let message = &messages[0];
        assert_eq!(message.subject, "ordering.order.OrderCreatedEvent");
        assert_eq!(message.name, "OrderCreatedEvent");
        assert_eq!(
            message.header("ce-type"),
            Some("com.example.ordering.OrderCreated")
        );
        assert_eq!(
            message.id,
            integration_event_id(event.id(), "OrderCreatedEvent")
        );
    }

    #[tokio::test]
    async fn wrong_payload_and_conversion_errors() {
        let publisher = InMemoryPublisher::new();
        let handler = handler(&publisher);

        let wrong = AggregateEvent::new("Order", "o-1", 2, OrderCanceled).into_dyn();
        let err = handler.publish_event(&wrong).await.unwrap_err();
        assert!(
            matches!(&err, IntegrationError::UnexpectedPayload { event_name, expected }
                if event_name == "OrderCanceled" && expected.ends_with("OrderCreated")),
            "{err:?}"
        );

        let huge =
            AggregateEvent::new("Order", "o-1", 1, OrderCreated { quantity: 1 << 40 }).into_dyn();
        let err = handler.handle(&huge).await.unwrap_err();
        let err = err.downcast::<IntegrationError>().unwrap();
        match *err {
            IntegrationError::Conversion {
                ref domain_event,
                integration_event,
                ref source,
            } => {
                assert_eq!(domain_event, "OrderCreated");
                assert_eq!(integration_event, "OrderCreatedEvent");
                assert_eq!(source.field(), "quantity");
            }
            ref other => panic!("unexpected {other:?}"),
        }
        assert!(publisher.is_empty());
    }

    struct Failing;
    #[async_trait::async_trait]
    impl Publisher for Failing {
        async fn publish(
            &self,
            message: &IntegrationMessage,
        ) -> Result<PublishReceipt, PublishError> {
            Err(PublishError::NoStream {
                subject: message.subject.clone(),
            })
        }
    }

    #[tokio::test]
    async fn the_dispatcher_runs_integration_handlers_through_their_source() {
        // The dispatcher's fast path (`as_integration`) publishes what `handle` publishes and
        // reports failures the same way.
        let publisher = InMemoryPublisher::new();
        let mut dispatcher = crate::EventDispatcher::new();
        dispatcher.subscribe_to::<OrderCreated>(handler(&publisher));
        let event = AggregateEvent::new("Order", "o-1", 1, OrderCreated { quantity: 3 }).into_dyn();
        dispatcher
            .publish(std::slice::from_ref(&event))
            .await
            .unwrap();
        assert_eq!(
            publisher.messages(),
            [handler(&publisher).to_message(&event).unwrap()]
        );

        let mut failing = crate::EventDispatcher::new();
        failing.subscribe_to::<OrderCreated>(IntegrationEventHandler::new(
            Arc::new(Failing),
            ORDER,
            "OrderCreatedEvent",
            "ordering",
            convert,
        ));
        let err = failing.publish(&[event]).await.unwrap_err();
        assert_eq!(err.event_name, "OrderCreated");
        let source = err.source.downcast::<IntegrationError>().unwrap();
        assert!(
            matches!(
                *source,
                IntegrationError::Publish {
                    integration_event: "OrderCreatedEvent",
                    ..
                }
            ),
            "{source:?}"
        );
    }

    #[tokio::test]
    async fn publish_error_is_reported() {
        let handler = IntegrationEventHandler::new(
            Arc::new(Failing),
            ORDER,
            "OrderCreatedEvent",
            "ordering",
            convert,
        );
        let event = AggregateEvent::new("Order", "o-1", 1, OrderCreated { quantity: 1 }).into_dyn();
        let err = handler.publish_event(&event).await.unwrap_err();
        match err {
            IntegrationError::Publish {
                integration_event,
                integration_event_id: id,
                source: PublishError::NoStream { subject },
            } => {
                assert_eq!(integration_event, "OrderCreatedEvent");
                assert_eq!(id, integration_event_id(event.id(), "OrderCreatedEvent"));
                assert_eq!(subject, "ordering.order.OrderCreatedEvent");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
