//! The throughput paths against a private nats-server: `JetStreamPublisher::publish_all`
//! (pipelined publishing with a bounded window) and `Delivery::ack_unconfirmed`.

mod common;

use std::time::Duration;

use common::*;
use eventmap::nats::async_nats::jetstream::consumer::PullConsumer;
use eventmap::nats::{
    Consumer, ConsumerSpec, DeliveryPolicy, JetStreamPublisher, provision_streams,
};
use eventmap::publisher::PublishError;
use eventmap::{AggregateEvent, IntegrationMessage};

/// `count` distinct `OrderCreatedEvent` messages of aggregate `order-<n>`.
fn messages(count: usize) -> Vec<IntegrationMessage> {
    (0..count)
        .map(|n| {
            let event = AggregateEvent::new(
                "Order",
                format!("order-{n}"),
                1,
                OrderCreated {
                    customer_id: format!("customer-{n}"),
                    quantity: 1,
                },
            );
            let proto = convert_created(&event).expect("conversion");
            IntegrationMessage::from_aggregate_event(
                &event,
                &ORDER,
                "OrderCreatedEvent",
                SOURCE,
                &proto,
            )
        })
        .collect()
}

async fn stored(js: &eventmap::nats::async_nats::jetstream::Context) -> u64 {
    js.get_stream("ORDERING_ORDERS")
        .await
        .expect("stream")
        .info()
        .await
        .expect("stream info")
        .state
        .messages
}

#[tokio::test]
async fn publishes_in_order_with_a_window_and_deduplicates_a_second_run() {
    within(async {
        let server = start_server().await;
        let (_client, js) = connect(&server).await;
        provision_streams(&js, &[ORDER]).await.expect("provision");
        let publisher = JetStreamPublisher::new(js.clone());

        let batch = messages(2_500);
        let receipts = publisher
            .publish_all(&batch, 64)
            .await
            .expect("publish_all");
        assert_eq!(receipts.len(), batch.len());
        for (n, receipt) in receipts.iter().enumerate() {
            assert_eq!(receipt.stream, "ORDERING_ORDERS");
            assert_eq!(receipt.sequence, n as u64 + 1, "stored in slice order");
            assert!(!receipt.duplicate);
        }
        assert_eq!(stored(&js).await, 2_500);

        // The same messages again (same ids): every one is a duplicate, nothing is stored.
        let again = publisher.publish_all(&batch, 1_000).await.expect("again");
        assert_eq!(again.len(), batch.len());
        assert!(again.iter().all(|receipt| receipt.duplicate));
        assert_eq!(
            again.iter().map(|r| r.sequence).collect::<Vec<_>>(),
            receipts.iter().map(|r| r.sequence).collect::<Vec<_>>(),
            "a duplicate reports the original's sequence"
        );
        assert_eq!(stored(&js).await, 2_500);

        // A window of 0 counts as 1; an empty batch is fine.
        let one = publisher
            .publish_all(&messages(3), 0)
            .await
            .expect("window 0");
        assert_eq!(
            one.iter().map(|r| r.sequence).collect::<Vec<_>>(),
            [2_501, 2_502, 2_503]
        );
        assert!(
            publisher
                .publish_all(&[], 8)
                .await
                .expect("empty")
                .is_empty()
        );
    })
    .await;
}

#[tokio::test]
async fn stops_at_the_first_unconfirmed_message_with_the_receipts_before_it() {
    within(async {
        let server = start_server().await;
        let (_client, js) = connect(&server).await;
        provision_streams(&js, &[ORDER]).await.expect("provision");
        let publisher = JetStreamPublisher::new(js.clone());

        // Message 5 goes to a subject no stream stores: its ack says "no responders" while the
        // messages after it are already in flight (window 16).
        let mut batch = messages(10);
        batch[5].subject = "nowhere.OrderCreatedEvent".into();
        let err = publisher.publish_all(&batch, 16).await.unwrap_err();
        assert_eq!(err.index, 5);
        assert_eq!(err.receipts.len(), 5);
        assert!(
            matches!(&err.source, PublishError::NoStream { subject } if subject == "nowhere.OrderCreatedEvent"),
            "{err:?}"
        );
        assert!(err.to_string().contains("message 5"), "{err}");

        // Message 3 cannot be sent at all (a line break in a header): the acks of 0..3 are
        // still collected, nothing after 3 is sent.
        let mut batch = messages(6);
        batch[3]
            .headers
            .push(("ce-subject".into(), "evil\r\nX: y".into()));
        let before = stored(&js).await;
        let err = publisher.publish_all(&batch, 16).await.unwrap_err();
        assert_eq!(err.index, 3);
        assert_eq!(err.receipts.len(), 3);
        assert!(
            matches!(err.source, PublishError::InvalidMessage { .. }),
            "{err:?}"
        );
        assert_eq!(stored(&js).await, before + 3);

        // Re-publishing from the failed index once fixed stores the rest exactly once.
        batch[3].headers.pop();
        let rest = publisher
            .publish_all(&batch[err.index..], 16)
            .await
            .expect("rest");
        assert_eq!(rest.len(), 3);
        assert_eq!(stored(&js).await, before + 6);
    })
    .await;
}

#[tokio::test]
async fn unconfirmed_acks_are_not_redelivered() {
    within(async {
        let server = start_server().await;
        let (_client, js) = connect(&server).await;
        provision_streams(&js, &[ORDER]).await.expect("provision");
        JetStreamPublisher::new(js.clone())
            .publish_all(&messages(20), 8)
            .await
            .expect("publish");

        let spec = ConsumerSpec::new("fast-acks", &[])
            .policy(DeliveryPolicy::default().ack_wait(Duration::from_secs(1)));
        let mut deliveries = Consumer::<OrderEvents>::start(&js, &spec)
            .await
            .expect("subscribe")
            .deliveries();
        for n in 1..=20 {
            let delivery = tokio::time::timeout(Duration::from_secs(10), deliveries.next())
                .await
                .expect("a delivery in time")
                .expect("stream open")
                .expect("delivery");
            assert_eq!(delivery.stream_sequence, n);
            delivery.ack_unconfirmed().await.expect("ack queued");
        }

        // The queued acks arrive; past the ack wait, nothing is pending and nothing was
        // redelivered.
        let info = || async {
            let consumer: PullConsumer = js
                .get_stream("ORDERING_ORDERS")
                .await
                .expect("stream")
                .get_consumer("fast-acks")
                .await
                .expect("consumer");
            consumer.cached_info().clone()
        };
        eventually("the 20 acks", || async {
            info().await.ack_floor.stream_sequence == 20
        })
        .await;
        assert!(
            tokio::time::timeout(Duration::from_millis(1_500), deliveries.next())
                .await
                .is_err(),
            "no redelivery"
        );
        let info = info().await;
        assert_eq!(info.num_ack_pending, 0, "{info:?}");
        assert_eq!(info.num_redelivered, 0, "{info:?}");
        assert_eq!(info.ack_floor.stream_sequence, 20, "{info:?}");
    })
    .await;
}
