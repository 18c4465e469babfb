//! The runtime's OpenTelemetry instruments (feature `otel`), recorded by a consumer and a
//! publisher in this process and read through `eventmap-ops`' Prometheus exporter: handler
//! durations by outcome, redeliveries, dead letters, publish latency. One test in its own
//! binary: the exporter must be the global meter provider before the first record.

mod common;

use std::time::Duration;

use common::*;
use eventmap::nats::{
    Consumer, ConsumerHandler, ConsumerSpec, Delivery, DeliveryPolicy, JetStreamPublisher,
};
use eventmap::{BoxError, Publisher};
use eventmap_ops::metrics::Exporter;

/// Fails on order `poison`, every time.
struct Handler;

impl ConsumerHandler<OrderEvents> for Handler {
    async fn handle(&self, delivery: &Delivery<OrderEvents>) -> Result<(), BoxError> {
        let OrderEvents::Created(created) = &delivery.event;
        if created.order_id == "poison" {
            return Err("poison".into());
        }
        Ok(())
    }
}

#[tokio::test]
async fn consumers_and_publishers_record_their_metrics() {
    let exporter = Exporter::install().expect("exporter");
    let fixture = Fixture::new("ops_otel").await;
    let publisher = JetStreamPublisher::new(fixture.jetstream.clone());
    for order in ["order-1", "poison", "order-3"] {
        publisher.publish(&created(order)).await.expect("publish");
    }
    let spec = ConsumerSpec::new(DURABLE, &["OrderCreatedEvent"]).policy(
        DeliveryPolicy::default()
            .max_deliver(2)
            .backoff([Duration::from_millis(50)])
            .dead_letter(DLQ),
    );
    let consumer = Consumer::<OrderEvents>::start(&fixture.jetstream, &spec)
        .await
        .expect("consumer");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let watched = async {
        eventually("the poison message dead-lettered", || async {
            let body = String::from_utf8(exporter.encode().expect("encode")).expect("utf-8");
            sample(&body, "eventmap_consumer_dead_letters_total", &[]).is_some()
        })
        .await;
        let _ = stop.send(());
    };
    let (report, ()) = tokio::join!(
        consumer.run(&Handler, async {
            let _ = stopped.await;
        }),
        watched
    );
    let report = report.expect("consumer ran");
    assert_eq!((report.handled, report.dead_lettered), (2, 1));

    let body = String::from_utf8(exporter.encode().expect("encode")).expect("utf-8");
    let durable = format!("durable=\"{DURABLE}\"");
    let created = "event_type=\"OrderCreatedEvent\"";
    let handled = |outcome: &str| {
        sample(
            &body,
            "eventmap_consumer_handler_duration_seconds_count",
            &[&durable, created, &format!("outcome=\"{outcome}\"")],
        )
    };
    assert_eq!(handled("ok"), Some(2.0), "{body}");
    assert_eq!(handled("error"), Some(2.0), "{body}");
    assert_eq!(
        sample(&body, "eventmap_consumer_redeliveries_total", &[&durable]),
        Some(1.0),
        "{body}"
    );
    assert_eq!(
        sample(
            &body,
            "eventmap_consumer_dead_letters_total",
            &[&durable, "dead_letter_stream=\"OPS_DEAD_LETTERS\""]
        ),
        Some(1.0),
        "{body}"
    );
    // The test's three publishes, all stored (the consumer publishes its dead letter
    // itself, not through a JetStreamPublisher).
    assert_eq!(
        sample(
            &body,
            "eventmap_publish_duration_seconds_count",
            &["outcome=\"ok\""]
        ),
        Some(3.0),
        "{body}"
    );
    assert!(
        body.contains("# TYPE eventmap_consumer_handler_duration_seconds histogram"),
        "{body}"
    );
    fixture.cleanup().await;
    exporter.shutdown();
}
