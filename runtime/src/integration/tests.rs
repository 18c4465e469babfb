//! Unit tests of the integration handler.

use super::*;
use crate::dispatcher::EventHandler;
use crate::message::integration_event_id;
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
    async fn publish(&self, message: &IntegrationMessage) -> Result<PublishReceipt, PublishError> {
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

#[tokio::test]
async fn a_correlation_or_causation_id_with_a_line_break_is_refused_not_dropped() {
    // Through the dispatcher (no store): the publisher refuses the message, naming the
    // integration event and the header, and nothing is published.
    use crate::event::metadata_keys::{CAUSATION_ID, CORRELATION_ID};
    for (key, header) in [
        (CORRELATION_ID, "ce-correlationid"),
        (CAUSATION_ID, "ce-causationid"),
    ] {
        let publisher = InMemoryPublisher::new();
        let mut dispatcher = crate::EventDispatcher::new();
        dispatcher.subscribe_to::<OrderCreated>(handler(&publisher));
        let event = AggregateEvent::new("Order", "o-1", 1, OrderCreated { quantity: 3 })
            .with_metadata(key, "checkout-42\r\nX-Injected: 1")
            .into_dyn();
        let err = dispatcher.publish(&[event]).await.unwrap_err();
        assert_eq!(err.event_name, "OrderCreated");
        let source = err.source.downcast::<IntegrationError>().unwrap();
        match *source {
            IntegrationError::Publish {
                integration_event: "OrderCreatedEvent",
                source: PublishError::InvalidMessage { ref reason, .. },
                ..
            } => assert!(
                reason.contains(&format!("header `{header}`"))
                    && reason.contains("integration event `OrderCreatedEvent`")
                    && reason.contains("has a line break"),
                "{reason}"
            ),
            ref other => panic!("unexpected {other:?}"),
        }
        assert!(publisher.is_empty(), "{header}");
    }
}
