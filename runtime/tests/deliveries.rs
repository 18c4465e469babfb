//! `eventmap::nats::Consumer::deliveries` on private nats-server processes (one per test): what
//! the consumer settles itself in a caller's loop (undecodable messages, deliveries past
//! `max_deliver`), and `close` handing the pulled messages back.

mod common;

use std::time::Duration;

use common::*;
use eventmap::ChannelSpec;
use eventmap::nats::{
    Consumer, ConsumerSpec, DeliveryPolicy, JetStreamPublisher, dead_letter, provision_streams,
};
use eventmap::publisher::Publisher;

/// Where the tests' dead letters go.
const DLQ: ChannelSpec = ChannelSpec::new("order-dlq", "dlq.ordering.order", "ORDERING_DLQ");

/// Longest wait for one delivery.
const NEXT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn deliveries_settle_what_never_reaches_the_caller() {
    within(async {
        let server = start_server().await;
        let (_client, js) = connect(&server).await;
        provision_streams(&js, &[ORDER]).await.unwrap();
        let publisher = JetStreamPublisher::new(js.clone());
        // 1: no CloudEvents headers; 2 and 3: good messages.
        let raw = eventmap::nats::async_nats::jetstream::message::PublishMessage::build()
            .payload("not an event".into());
        js.send_publish("ordering.order.OrderCreatedEvent", raw)
            .await
            .unwrap()
            .await
            .unwrap();
        let messages = created_messages(3);
        publisher.publish_all(&messages[..2], 8).await.unwrap();

        let policy = DeliveryPolicy::default()
            .max_deliver(2)
            .backoff([])
            .dead_letter(DLQ);
        let spec = ConsumerSpec::new("own-loop", &[]).policy(policy);
        let mut deliveries = Consumer::<OrderEvents>::start(&js, &spec)
            .await
            .unwrap()
            .deliveries();

        // Sequence 2 is naked on both its allowed deliveries, sequence 3 acked; sequence 1
        // never reaches the loop.
        let mut handed = Vec::new();
        while handed.len() < 3 {
            let delivery = tokio::time::timeout(NEXT, deliveries.next())
                .await
                .expect("a delivery in time")
                .expect("stream open")
                .expect("delivery");
            handed.push((delivery.stream_sequence, delivery.delivered));
            if delivery.stream_sequence == 2 {
                delivery.nak(None).await.unwrap();
            } else {
                delivery.ack().await.unwrap();
            }
        }
        // The third delivery of sequence 2 is dead-lettered, not handed over: the next one
        // handed over is the new sequence 4.
        publisher.publish(&messages[2]).await.unwrap();
        let delivery = tokio::time::timeout(NEXT, deliveries.next())
            .await
            .expect("a delivery in time")
            .expect("stream open")
            .expect("delivery");
        assert_eq!(delivery.stream_sequence, 4);
        delivery.ack().await.unwrap();
        handed.sort_unstable();
        assert_eq!(handed, [(2, 1), (2, 2), (3, 1)]);

        eventually("two dead letters", || async {
            stored_messages(&js, DLQ.stream).await.len() == 2
        })
        .await;
        let letters = stored_messages(&js, DLQ.stream).await;
        let delivered: Vec<(Option<String>, Option<String>)> = letters
            .iter()
            .map(|letter| {
                let get = |name: &str| letter.headers.get(name).map(|v| v.as_str().to_owned());
                (
                    get(dead_letter::STREAM_SEQUENCE),
                    get(dead_letter::DELIVERED),
                )
            })
            .collect();
        assert_eq!(
            delivered,
            [
                (Some("1".to_owned()), Some("1".to_owned())),
                (Some("2".to_owned()), Some("3".to_owned())),
            ]
        );
        let stream = js.get_stream(ORDER.stream).await.unwrap();
        let info = stream.consumer_info("own-loop").await.unwrap();
        assert_eq!(info.num_ack_pending, 0);
        assert_eq!(info.ack_floor.stream_sequence, 4);
    })
    .await;
}

#[tokio::test]
async fn close_hands_the_pulled_messages_back() {
    within(async {
        let server = start_server().await;
        let (_client, js) = connect(&server).await;
        provision_streams(&js, &[ORDER]).await.unwrap();
        JetStreamPublisher::new(js.clone())
            .publish_all(&created_messages(5), 8)
            .await
            .unwrap();

        // The default 30 s ack wait: a redelivery within NEXT is the nak of `close`.
        let spec = ConsumerSpec::new("closing", &[]).policy(DeliveryPolicy::default().batch(5));
        let mut deliveries = Consumer::<OrderEvents>::start(&js, &spec)
            .await
            .unwrap()
            .deliveries();
        let first = deliveries.next().await.unwrap().unwrap();
        assert_eq!(first.stream_sequence, 1);
        first.ack().await.unwrap();
        deliveries.close().await;

        let mut deliveries = Consumer::<OrderEvents>::start(&js, &spec)
            .await
            .unwrap()
            .deliveries();
        let next = tokio::time::timeout(NEXT, deliveries.next())
            .await
            .expect("handed back at once")
            .unwrap()
            .unwrap();
        assert_eq!((next.stream_sequence, next.delivered), (2, 2));
        next.ack().await.unwrap();
    })
    .await;
}

/// Publishes 10 events, reads the first `handled` of them through `deliveries` with batches
/// of 4 (durable `durable`), acks them and closes; then reads the 10 - `handled` others with a
/// new `Deliveries` and returns their `(stream sequence, delivered)` in stream order: those
/// that `close` naked were delivered twice.
async fn delivered_after_close(durable: &str, handled: u64) -> Vec<(u64, u64)> {
    let server = start_server().await;
    let (_client, js) = connect(&server).await;
    provision_streams(&js, &[ORDER]).await.unwrap();
    JetStreamPublisher::new(js.clone())
        .publish_all(&created_messages(10), 16)
        .await
        .unwrap();
    let spec = ConsumerSpec::new(durable, &[]).policy(DeliveryPolicy::default().batch(4));
    let mut deliveries = Consumer::<OrderEvents>::start(&js, &spec)
        .await
        .unwrap()
        .deliveries();
    for expected in 1..=handled {
        let delivery = tokio::time::timeout(NEXT, deliveries.next())
            .await
            .expect("a delivery in time")
            .unwrap()
            .unwrap();
        assert_eq!(delivery.stream_sequence, expected);
        delivery.ack().await.unwrap();
    }
    deliveries.close().await;

    // Naked by `close`: handed back at once despite the 30 s ack wait.
    let mut deliveries = Consumer::<OrderEvents>::start(&js, &spec)
        .await
        .unwrap()
        .deliveries();
    let mut seen = Vec::new();
    for _ in handled..10 {
        let delivery = tokio::time::timeout(NEXT, deliveries.next())
            .await
            .expect("handed back at once")
            .unwrap()
            .unwrap();
        seen.push((delivery.stream_sequence, delivery.delivered));
        delivery.ack().await.unwrap();
    }
    seen.sort_unstable();
    seen
}

#[tokio::test]
async fn the_next_batch_is_prefetched_once_a_batch_or_less_is_queued() {
    within(async {
        // The first pull brings 1-4; handing 1 over leaves 3 queued, a batch or less, so 5-8
        // are prefetched at once (at half a batch, 2 left, they were not yet). `close` waits
        // for the prefetch and naks 2-8 with the queue; 9 and 10 come for the first time.
        let expected: Vec<(u64, u64)> = (2..=10)
            .map(|seq| (seq, if seq <= 8 { 2 } else { 1 }))
            .collect();
        assert_eq!(delivered_after_close("prefetch-early", 1).await, expected);
    })
    .await;
}

#[tokio::test]
async fn close_hands_a_prefetched_batch_back_too() {
    within(async {
        // The first pull brings 1-4; at a batch or less left (after the first delivery) the
        // next batch, 5-8, is prefetched; with 5 left after the third delivery no further
        // one. 4-8 were pulled and naked by `close`; 9 and 10 were never pulled.
        assert_eq!(
            delivered_after_close("prefetching", 3).await,
            [(4, 2), (5, 2), (6, 2), (7, 2), (8, 2), (9, 1), (10, 1)]
        );
    })
    .await;
}
