//! The server-side filters of `eventmap::nats::Consumer` on private nats-server processes (one
//! per test): one subject per event by default, the channel's wildcard for a subscription
//! declared `whole_channel()`, and in both cases nothing else delivered.

mod common;

use std::time::Duration;

use common::*;
use eventmap::ChannelSpec;
use eventmap::nats::async_nats::jetstream::Context;
use eventmap::nats::async_nats::jetstream::stream::Config as StreamConfig;
use eventmap::nats::{Consumer, ConsumerSpec, JetStreamPublisher, StartError, provision_streams};

/// Another channel on the stream of [`ORDER`].
const PAYMENT: ChannelSpec = ChannelSpec::new("payment", "ordering.payment", "ORDERING_ORDERS");

/// Longest wait for one delivery.
const NEXT: Duration = Duration::from_secs(10);

/// Publishes a message without headers on `subject` (not an event `OrderEvents` decodes).
async fn publish_raw(js: &Context, subject: &'static str) {
    js.publish(subject, "other".into())
        .await
        .unwrap()
        .await
        .unwrap();
}

/// The server's view of the durable consumer `durable`: its filters, and the messages
/// pending for it plus those delivered and not acked.
async fn server_view(js: &Context, durable: &str) -> (Vec<String>, u64) {
    let info = js
        .get_stream(ORDER.stream)
        .await
        .unwrap()
        .consumer_info(durable)
        .await
        .unwrap();
    let mut filters = info.config.filter_subjects.clone();
    if !info.config.filter_subject.is_empty() {
        filters.push(info.config.filter_subject.clone());
    }
    (filters, info.num_pending + info.num_ack_pending as u64)
}

/// Reads and acks `count` deliveries of `consumer`; returns their stream sequences.
async fn read(consumer: Consumer<OrderEvents>, count: usize) -> Vec<u64> {
    let mut deliveries = consumer.deliveries();
    let mut sequences = Vec::new();
    for _ in 0..count {
        let delivery = tokio::time::timeout(NEXT, deliveries.next())
            .await
            .expect("a delivery in time")
            .unwrap()
            .unwrap();
        sequences.push(delivery.stream_sequence);
        delivery.ack().await.unwrap();
    }
    deliveries.close().await;
    sequences
}

#[tokio::test]
async fn whole_channel_filters_on_the_wildcard_and_gets_only_the_channel() {
    within(async {
        let server = start_server().await;
        let (_client, js) = connect(&server).await;
        // One stream for two channels: ordering.order.> and ordering.payment.>.
        provision_streams(&js, &[ORDER, PAYMENT]).await.unwrap();
        JetStreamPublisher::new(js.clone())
            .publish_all(&created_messages(2), 8)
            .await
            .unwrap(); // 1, 2
        publish_raw(&js, "ordering.payment.PaymentTakenEvent").await; // 3
        publish_raw(&js, "ordering.order.OrderShippedEvent").await; // 4: added by a producer later

        // Every event listed, not declared whole: one filter per event; neither the other
        // channel's message nor the new event is pending for it.
        let listed = Consumer::<OrderEvents>::start(&js, &ConsumerSpec::new("listed", &[]))
            .await
            .unwrap();
        let exact = ["ordering.order.OrderCreatedEvent", "ordering.order.OrderCanceledEvent"];
        assert_eq!(listed.filter_subjects(), exact);
        assert_eq!(server_view(&js, "listed").await, (exact.map(String::from).to_vec(), 2));
        assert_eq!(read(listed, 2).await, [1, 2]);
        assert_eq!(server_view(&js, "listed").await.1, 0);

        // Declared whole: the channel's wildcard, so the new event is delivered too (and
        // dead-lettered as undecodable by this consumer), the other channel's message is not.
        let spec = ConsumerSpec::new("whole", &[]).whole_channel();
        let whole = Consumer::<OrderEvents>::start(&js, &spec).await.unwrap();
        assert_eq!(whole.filter_subjects(), ["ordering.order.>"]);
        assert_eq!(
            server_view(&js, "whole").await,
            (vec!["ordering.order.>".to_owned()], 3)
        );
        assert_eq!(read(whole, 2).await, [1, 2]);
        // Left: sequence 4, pulled with 1 and 2 and naked back by `close`; 3 never was.
        assert_eq!(server_view(&js, "whole").await.1, 1);

        // Whole channel but not every event: refused before anything is created.
        let partial = ConsumerSpec::new("partial", &["OrderCreatedEvent"]).whole_channel();
        let err = Consumer::<OrderEvents>::start(&js, &partial).await.unwrap_err();
        assert!(
            matches!(&err, StartError::NotWholeChannel { missing, .. } if missing == &["OrderCanceledEvent"]),
            "{err:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn whole_channel_on_a_wider_stream_keeps_one_filter_per_event() {
    within(async {
        let server = start_server().await;
        let (_client, js) = connect(&server).await;
        // A stream bound to `ordering.>` can store other producers' messages under
        // `ordering.order.`: the wildcard would deliver them.
        js.create_stream(StreamConfig {
            name: ORDER.stream.to_owned(),
            subjects: vec!["ordering.>".to_owned()],
            ..StreamConfig::default()
        })
        .await
        .unwrap();
        publish_raw(&js, "ordering.order.archive.Snapshot").await; // 1
        JetStreamPublisher::new(js.clone())
            .publish_all(&created_messages(2), 8)
            .await
            .unwrap(); // 2, 3

        let spec = ConsumerSpec::new("whole", &[]).whole_channel();
        let consumer = Consumer::<OrderEvents>::start(&js, &spec).await.unwrap();
        let exact = [
            "ordering.order.OrderCreatedEvent",
            "ordering.order.OrderCanceledEvent",
        ];
        assert_eq!(consumer.filter_subjects(), exact);
        assert_eq!(server_view(&js, "whole").await.1, 2);
        assert_eq!(read(consumer, 2).await, [2, 3]);
        assert_eq!(server_view(&js, "whole").await.1, 0);
    })
    .await;
}
