//! Trace context and correlation ids on integration messages (feature `otel`): a `tracing`
//! subscriber with the OpenTelemetry layer (SDK tracer provider, no exporter), a private
//! `nats-server -js`; with the feature `postgres` too, the path through the outbox.

mod common;
#[cfg(feature = "postgres")]
mod pg;

use std::sync::Arc;

use common::*;
use eventmap::event::metadata_keys;
use eventmap::message::headers;
use eventmap::nats::{
    Consumer, ConsumerSpec, Delivery, JetStreamPublisher, consumer_fn, provision_streams,
};
use eventmap::{AggregateEvent, EventDispatcher, IntegrationEventHandler, trace};
use opentelemetry::trace::{TraceContextExt, TraceId, TracerProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Instrument;
use tracing::subscriber::DefaultGuard;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;

/// Installs, for this thread (the tests run on a current-thread runtime), a subscriber that
/// gives every span an OpenTelemetry context.
fn otel_subscriber() -> (DefaultGuard, SdkTracerProvider) {
    let provider = SdkTracerProvider::builder().build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("eventmap-tests"));
    let guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
    (guard, provider)
}

fn trace_id(span: &tracing::Span) -> TraceId {
    span.context().span().span_context().trace_id()
}

/// The trace id field of a `traceparent` value (`00-<trace id>-<parent id>-<flags>`).
fn traceparent_trace_id(value: &str) -> TraceId {
    let fields: Vec<&str> = value.split('-').collect();
    assert_eq!(fields.len(), 4, "traceparent {value:?}");
    assert_eq!(fields[0], "00", "version of {value:?}");
    assert_eq!(fields[3], "01", "sampled flag of {value:?}");
    TraceId::from_hex(fields[1]).expect("hex trace id")
}

fn dispatcher(js: &eventmap::nats::async_nats::jetstream::Context) -> EventDispatcher {
    let mut dispatcher = EventDispatcher::new();
    dispatcher.subscribe(
        "OrderCreated",
        IntegrationEventHandler::new(
            Arc::new(JetStreamPublisher::new(js.clone())),
            ORDER,
            "OrderCreatedEvent",
            SOURCE,
            convert_created,
        ),
    );
    dispatcher
}

fn created(order: &str) -> AggregateEvent {
    AggregateEvent::new(
        "Order",
        order,
        1,
        OrderCreated {
            customer_id: "cust-1".into(),
            quantity: 2,
        },
    )
    .into_dyn()
}

#[tokio::test]
async fn the_consumer_continues_the_trace_of_the_publishing_command() {
    let (_guard, _provider) = otel_subscriber();
    within(async {
        let server = start_server().await;
        let (_client, js) = connect(&server).await;
        provision_streams(&js, &[ORDER]).await.expect("provision");
        let dispatcher = dispatcher(&js);

        // The command: publishes inside its span, with correlation and causation ids.
        let command = tracing::info_span!("place_order");
        let command_trace = trace_id(&command);
        assert_ne!(command_trace, TraceId::INVALID);
        let event = created("order-1")
            .with_metadata(metadata_keys::CORRELATION_ID, "checkout-42")
            .with_metadata(metadata_keys::CAUSATION_ID, "cmd-7");
        dispatcher
            .publish(&[event])
            .instrument(command.clone())
            .await
            .expect("publish");

        // Published outside the command's span (in the dispatcher's own spans, a trace of
        // their own) and without correlation ids.
        dispatcher
            .publish(&[created("order-2")])
            .await
            .expect("publish");

        let mut subscription =
            Consumer::<OrderEvents>::start(&js, &ConsumerSpec::new("traced", &[]))
                .await
                .expect("subscribe")
                .deliveries();

        let delivery = subscription
            .next()
            .await
            .expect("message")
            .expect("delivery");
        assert_eq!(delivery.aggregate_id(), "order-1");
        let traceparent = delivery.header(headers::TRACEPARENT).expect("traceparent");
        assert_eq!(traceparent_trace_id(traceparent), command_trace);
        assert_eq!(delivery.correlation_id(), Some("checkout-42"));
        assert_eq!(delivery.causation_id(), Some("cmd-7"));

        let handler = tracing::info_span!("handle");
        trace::continue_trace(&handler, &delivery);
        assert_eq!(trace_id(&handler), command_trace);
        // A span not continued from the message is a trace of its own.
        assert_ne!(trace_id(&tracing::info_span!("unrelated")), command_trace);
        delivery.ack().await.expect("ack");

        let delivery = subscription
            .next()
            .await
            .expect("message")
            .expect("delivery");
        assert_eq!(delivery.aggregate_id(), "order-2");
        let other_trace =
            traceparent_trace_id(delivery.header(headers::TRACEPARENT).expect("traceparent"));
        assert_ne!(other_trace, command_trace);
        assert_eq!(delivery.header(headers::TRACESTATE), None);
        assert_eq!(delivery.correlation_id(), None);
        assert_eq!(delivery.causation_id(), None);
        let handler = tracing::info_span!("handle");
        trace::continue_trace(&handler, &delivery);
        assert_eq!(trace_id(&handler), other_trace);
        delivery.ack().await.expect("ack");

        // A message built in no span at all carries no trace context, and a span continued
        // from it keeps a trace of its own.
        let message = eventmap::IntegrationMessage::from_aggregate_event(
            &created("order-3"),
            &ORDER,
            "OrderCreatedEvent",
            SOURCE,
            &proto::OrderCanceled::default(),
        );
        assert_eq!(message.header(headers::TRACEPARENT), None);
        let handler = tracing::info_span!("handle");
        trace::continue_trace(&handler, &message.headers);
        let own = trace_id(&handler);
        assert_ne!(own, TraceId::INVALID);
        assert_ne!(own, command_trace);
        assert_ne!(own, other_trace);
    })
    .await;
}

#[tokio::test]
async fn consumer_run_handles_each_message_in_the_producers_trace() {
    let (_guard, _provider) = otel_subscriber();
    within(async {
        let server = start_server().await;
        let (_client, js) = connect(&server).await;
        provision_streams(&js, &[ORDER]).await.expect("provision");
        let command = tracing::info_span!("place_order");
        let command_trace = trace_id(&command);
        dispatcher(&js)
            .publish(&[created("order-1")])
            .instrument(command)
            .await
            .expect("publish");

        let consumer = Consumer::<OrderEvents>::start(&js, &ConsumerSpec::new("traced-run", &[]))
            .await
            .expect("subscribe");
        let (seen_tx, seen) = tokio::sync::oneshot::channel::<TraceId>();
        let seen_tx = std::sync::Mutex::new(Some(seen_tx));
        let (stop_tx, stop) = tokio::sync::oneshot::channel::<()>();
        let stop_tx = std::sync::Mutex::new(Some(stop_tx));
        let handler = consumer_fn(|_delivery: &Delivery<OrderEvents>| {
            // Inside the loop's per-message span.
            let trace = trace_id(&tracing::Span::current());
            if let Some(tx) = seen_tx.lock().expect("lock").take() {
                let _ = tx.send(trace);
            }
            if let Some(tx) = stop_tx.lock().expect("lock").take() {
                let _ = tx.send(());
            }
            async { Ok(()) }
        });
        consumer
            .run(&handler, async {
                let _ = stop.await;
            })
            .await
            .expect("run");
        assert_eq!(seen.await.expect("handled"), command_trace);
    })
    .await;
}

/// The outbox stores the headers: the relay, running in no span at all, publishes the
/// command's `traceparent`.
#[cfg(feature = "postgres")]
#[tokio::test]
async fn the_trace_context_goes_through_the_outbox() {
    use eventmap::postgres::{Relay, RelayConfig};
    use eventmap::{AggregateStore, EventSourced, InMemoryPublisher};

    let (_guard, _provider) = otel_subscriber();
    within(async {
        let db = pg::TestDb::new("em_trace_outbox").await;
        let store = db.store(true).await;
        let command = tracing::info_span!("increment");
        let command_trace = trace_id(&command);
        let mut counter = pg::Counter::blank("c-1");
        counter.root.record_with_metadata(
            "Counter",
            pg::Incremented { by: 3 },
            [(metadata_keys::CORRELATION_ID.to_owned(), "op-9".to_owned())].into(),
        );
        store
            .save(&mut counter)
            .instrument(command)
            .await
            .expect("save");

        let published = Arc::new(InMemoryPublisher::new());
        let relay = Relay::new(
            db.pool.clone(),
            published.clone(),
            RelayConfig::default()
                .schema(db.schema.clone())
                .listen(false),
        )
        .await
        .expect("relay");
        relay.run_once().await.expect("relay round");
        let messages = published.messages();
        assert_eq!(messages.len(), 1);
        let traceparent = messages[0]
            .header(headers::TRACEPARENT)
            .expect("traceparent");
        assert_eq!(traceparent_trace_id(traceparent), command_trace);
        assert_eq!(messages[0].header(headers::CORRELATION_ID), Some("op-9"));
        assert_eq!(messages[0].header(headers::CAUSATION_ID), None);

        // The stored event kept its metadata.
        let stored = store.load_events("Counter", "c-1").await.expect("load");
        assert_eq!(
            stored[0]
                .metadata()
                .get(metadata_keys::CORRELATION_ID)
                .map(String::as_str),
            Some("op-9")
        );
        db.cleanup().await;
    })
    .await;
}

/// A handler that continues an incoming trace and publishes: its message carries the same
/// trace, and the incoming `tracestate`.
#[test]
fn a_message_built_while_handling_one_stays_in_its_trace() {
    let (_guard, _provider) = otel_subscriber();
    let incoming: Vec<(String, String)> = [
        (
            "TraceParent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        ),
        ("tracestate", "vendor=abc"),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value.to_owned()))
    .collect();
    let handler = tracing::info_span!("handle");
    trace::continue_trace(&handler, &incoming);
    let message = handler.in_scope(|| {
        eventmap::IntegrationMessage::from_aggregate_event(
            &created("order-1"),
            &ORDER,
            "OrderCreatedEvent",
            SOURCE,
            &proto::OrderCanceled::default(),
        )
    });
    let traceparent = message.header(headers::TRACEPARENT).expect("traceparent");
    assert_eq!(
        traceparent_trace_id(traceparent),
        TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap()
    );
    assert!(
        !traceparent.contains("b7ad6b7169203331"),
        "the parent id is the handler's span, not the incoming one: {traceparent}"
    );
    assert_eq!(message.header(headers::TRACESTATE), Some("vendor=abc"));

    // Continuing a span that was already entered is refused (logged), not applied.
    let entered = tracing::info_span!("late");
    entered.in_scope(|| {});
    let before = trace_id(&entered);
    trace::continue_trace(&entered, &incoming);
    assert_eq!(trace_id(&entered), before);
}
