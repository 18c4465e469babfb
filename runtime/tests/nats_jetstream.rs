//! End-to-end tests against private nats-server processes (one per test).

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use common::*;
use eventmap::nats::async_nats::jetstream::stream::{Config as StreamConfig, StorageType};
use eventmap::nats::async_nats::{self, HeaderMap};
use eventmap::nats::{
    Consumer, ConsumerSpec, DUPLICATE_WINDOW, DeliveryPolicy, JetStreamPublisher, ProvisionError,
    StartError, consumer_fn, provision_streams,
};
use eventmap::publisher::{PublishError, Publisher};
use eventmap::test_util::LocalServer;
use eventmap::{
    AggregateEvent, ChannelSpec, EventDispatcher, IntegrationEventHandler, IntegrationMessage,
    integration_event_id,
};
use futures::StreamExt;

const NEXT_TIMEOUT: Duration = Duration::from_secs(10);

fn created_event() -> AggregateEvent {
    AggregateEvent::new(
        "Order",
        "order-1",
        1,
        OrderCreated {
            customer_id: "customer-7".into(),
            quantity: 3,
        },
    )
    .with_occurred_at(UNIX_EPOCH + Duration::new(1_796_014_800, 123_456_789))
    .into_dyn()
}

fn created_message(event: &AggregateEvent) -> IntegrationMessage {
    let typed = event
        .downcast::<OrderCreated>()
        .expect("OrderCreated payload");
    let proto = convert_created(&typed).expect("conversion");
    IntegrationMessage::from_aggregate_event(event, &ORDER, "OrderCreatedEvent", SOURCE, &proto)
}

#[tokio::test]
async fn publish_provisioned_stream_consume_filtered_and_dedup() {
    within(async {
        let mut server = start_server().await;
        let (client, js) = connect(&server).await;
        assert_eq!(client.server_info().version, server.version());

        provision_streams(&js, &[ORDER]).await.expect("provision");
        let info = js
            .get_stream("ORDERING_ORDERS")
            .await
            .unwrap()
            .cached_info()
            .clone();
        assert_eq!(info.config.subjects, ["ordering.order.>"]);
        assert_eq!(info.config.duplicate_window, DUPLICATE_WINDOW);
        assert_eq!(info.config.storage, StorageType::File);

        let publisher = Arc::new(JetStreamPublisher::new(js.clone()));
        let created = created_event();
        let message = created_message(&created);

        // First publish: stored at sequence 1.
        let receipt = publisher.publish(&message).await.expect("publish");
        assert_eq!(receipt.stream, "ORDERING_ORDERS");
        assert_eq!(receipt.sequence, 1);
        assert!(!receipt.duplicate);

        // The generated path (dispatcher -> integration handlers) publishes the same created
        // event again (a duplicate) and a canceled event.
        let mut dispatcher = EventDispatcher::new();
        dispatcher.subscribe(
            "OrderCreated",
            IntegrationEventHandler::new(
                publisher.clone(),
                ORDER,
                "OrderCreatedEvent",
                SOURCE,
                convert_created,
            ),
        );
        dispatcher.subscribe(
            "OrderCanceled",
            IntegrationEventHandler::new(
                publisher.clone(),
                ORDER,
                "OrderCanceledEvent",
                SOURCE,
                convert_canceled,
            ),
        );
        let canceled = AggregateEvent::new(
            "Order",
            "order-1",
            2,
            OrderCanceled {
                reason: "out of stock".into(),
            },
        )
        .into_dyn();
        dispatcher
            .publish(&[created.clone(), canceled.clone()])
            .await
            .expect("dispatch");

        // Publishing the identical message again: JetStream reports a duplicate of seq 1.
        let again = publisher.publish(&message).await.expect("republish");
        assert!(again.duplicate);
        assert_eq!(again.sequence, 1);

        let mut stream = js.get_stream("ORDERING_ORDERS").await.unwrap();
        assert_eq!(
            stream.info().await.unwrap().state.messages,
            2,
            "duplicates are not stored"
        );

        // A consumer filtered to OrderCreatedEvent sees exactly one message.
        let created_only = Consumer::<OrderEvents>::start(
            &js,
            &ConsumerSpec::new("search-order", &["OrderCreatedEvent"]),
        )
        .await
        .expect("subscribe");
        assert_eq!(
            created_only.filter_subjects(),
            ["ordering.order.OrderCreatedEvent"]
        );
        let mut created_only = created_only.deliveries();
        let consumer = stream.consumer_info("search-order").await.unwrap();
        assert_eq!(
            consumer.config.filter_subjects,
            ["ordering.order.OrderCreatedEvent"]
        );

        let delivery = tokio::time::timeout(NEXT_TIMEOUT, created_only.next())
            .await
            .expect("a delivery in time")
            .expect("stream open")
            .expect("decodable");
        let expected_id = integration_event_id(created.id(), "OrderCreatedEvent");
        assert_eq!(
            delivery.event,
            OrderEvents::Created(proto::OrderCreated {
                id: expected_id.to_string(),
                order_id: "order-1".into(),
                customer_id: "customer-7".into(),
                quantity: 3,
                created_at: Some(prost_types::Timestamp {
                    seconds: 1_796_014_800,
                    nanos: 123_456_789
                }),
                order_version: 1,
            })
        );
        assert_eq!(delivery.id(), expected_id.to_string());
        assert_eq!(delivery.name(), "OrderCreatedEvent");
        assert_eq!(delivery.subject(), "ordering.order.OrderCreatedEvent");
        assert_eq!(delivery.source(), "ordering");
        assert_eq!(delivery.aggregate_id(), "order-1");
        assert_eq!(delivery.aggregate_type(), "Order");
        assert_eq!(delivery.aggregate_version, 1);
        assert_eq!(delivery.domain_event_id(), created.id().to_string());
        assert_eq!(delivery.time(), "2026-11-30T05:00:00.123456789Z");
        assert_eq!(delivery.stream_sequence, 1);
        assert_eq!(delivery.delivered, 1);

        let expected_headers: Vec<(String, String)> = {
            let mut headers = message.headers.clone();
            headers.push(("Nats-Msg-Id".into(), expected_id.to_string()));
            headers.sort();
            headers
        };
        let mut received: Vec<(String, String)> = delivery
            .headers()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect();
        received.sort();
        assert_eq!(received, expected_headers);
        assert_eq!(delivery.header("ce-specversion"), Some("1.0"));
        assert_eq!(
            delivery.header("ce-id"),
            Some(expected_id.to_string().as_str())
        );
        assert_eq!(delivery.header("ce-type"), Some("OrderCreatedEvent"));
        assert_eq!(delivery.header("ce-source"), Some("ordering"));
        assert_eq!(delivery.header("ce-subject"), Some("order-1"));
        assert_eq!(
            delivery.header("ce-time"),
            Some("2026-11-30T05:00:00.123456789Z")
        );
        assert_eq!(
            delivery.header("ce-datacontenttype"),
            Some("application/protobuf")
        );
        assert_eq!(delivery.header("ce-aggregateid"), Some("order-1"));
        assert_eq!(delivery.header("ce-aggregatetype"), Some("Order"));
        assert_eq!(delivery.header("ce-aggregateversion"), Some("1"));
        assert_eq!(
            delivery.header("ce-domaineventid"),
            Some(created.id().to_string().as_str())
        );
        assert_eq!(
            delivery.header("Nats-Msg-Id"),
            Some(expected_id.to_string().as_str())
        );
        delivery.ack().await.expect("ack");

        // Nothing else: the duplicate was not stored and the canceled event is filtered out.
        assert!(
            tokio::time::timeout(Duration::from_millis(700), created_only.next())
                .await
                .is_err(),
            "no second delivery"
        );
        let consumer = stream.consumer_info("search-order").await.unwrap();
        assert_eq!(consumer.num_ack_pending, 0);
        assert_eq!(consumer.num_pending, 0);
        assert_eq!(consumer.ack_floor.stream_sequence, 1);

        // An unfiltered subscription of another service gets both events, in order.
        let mut all = Consumer::<OrderEvents>::start(&js, &ConsumerSpec::new("audit-order", &[]))
            .await
            .expect("subscribe all")
            .deliveries();
        let mut names = Vec::new();
        for _ in 0..2 {
            let delivery = tokio::time::timeout(NEXT_TIMEOUT, all.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            names.push((delivery.event.clone(), delivery.stream_sequence));
            delivery.ack().await.unwrap();
        }
        assert!(
            matches!(names[0], (OrderEvents::Created(_), 1)),
            "{names:?}"
        );
        match &names[1] {
            (OrderEvents::Canceled(c), 2) => {
                assert_eq!(c.reason, "out of stock");
                assert_eq!(
                    c.id,
                    integration_event_id(canceled.id(), "OrderCanceledEvent").to_string()
                );
            }
            other => panic!("unexpected {other:?}"),
        }

        drop(created_only);
        drop(all);
        client.drain().await.ok();
        server.stop().await.expect("stop");
        assert!(!server.is_running());
    })
    .await;
}

#[tokio::test]
async fn consumer_rejects_servers_older_than_2_10() {
    within(async {
        let old = std::path::Path::new("/usr/sbin/nats-server");
        if !old.exists() {
            println!("note: /usr/sbin/nats-server (Debian's 2.9) not installed; ServerTooOld test skipped");
            return;
        }
        let mut server = LocalServer::start_with_binary(old).await.expect("start old nats-server");
        if !server.version().starts_with("2.9.") {
            println!("note: /usr/sbin/nats-server is {}, not 2.9; ServerTooOld test skipped", server.version());
            return;
        }
        let (client, js) = connect(&server).await;
        assert_eq!(client.server_info().version, server.version());

        let err = Consumer::<OrderEvents>::start(&js, &ConsumerSpec::new("search-order", &[]))
            .await
            .expect_err("2.9 must be rejected");
        match &err {
            StartError::ServerTooOld { version, required } => {
                assert_eq!(version, server.version());
                assert_eq!(*required, "2.10.0");
            }
            other => panic!("expected ServerTooOld, got {other:?}"),
        }
        assert!(err.to_string().contains("too old"), "{err}");

        // Same for a consumer of some of the events.
        let err = Consumer::<OrderEvents>::start(
            &js,
            &ConsumerSpec::new("search-order", &["OrderCreatedEvent"]),
        )
        .await
        .expect_err("rejected");
        assert!(matches!(err, StartError::ServerTooOld { .. }));
        server.stop().await.unwrap();
    })
    .await;
}

/// Extracts `"stream_seq":N` from a JetStream advisory (JSON).
fn stream_seq(advisory: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(advisory).ok()?;
    let rest = &text[text.find("\"stream_seq\":")? + "\"stream_seq\":".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[tokio::test]
async fn undecodable_messages_are_terminated_and_the_next_one_arrives() {
    within(async {
        let mut server = start_server().await;
        let (client, js) = connect(&server).await;
        provision_streams(&js, &[ORDER]).await.unwrap();

        // The server announces every +TERM on this advisory subject.
        let mut terminated = client
            .subscribe("$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.ORDERING_ORDERS.search-order")
            .await
            .unwrap();
        client.flush().await.unwrap();

        let good = created_message(&created_event());
        let mut good_headers = HeaderMap::new();
        for (name, value) in &good.headers {
            good_headers.insert(name.as_str(), value.as_str());
        }
        let raw = |subject: &'static str, headers: Option<HeaderMap>, payload: &'static [u8]| {
            let js = js.clone();
            async move {
                let mut publish =
                    async_nats::jetstream::message::PublishMessage::build().payload(payload.into());
                if let Some(headers) = headers {
                    publish = publish.headers(headers);
                }
                js.send_publish(subject, publish)
                    .await
                    .unwrap()
                    .await
                    .unwrap()
                    .sequence
            }
        };
        // 1: valid headers, payload is not protobuf.
        assert_eq!(
            raw(
                "ordering.order.OrderCreatedEvent",
                Some(good_headers.clone()),
                b"\xff\xff\xff"
            )
            .await,
            1
        );
        // 2: no CloudEvents headers at all.
        assert_eq!(raw("ordering.order.OrderCreatedEvent", None, b"").await, 2);
        // 3: ce-type that is not an event of the set (and does not match the subject).
        let mut unknown = good_headers.clone();
        unknown.insert("ce-type", "OrderShippedEvent");
        assert_eq!(
            raw("ordering.order.OrderCreatedEvent", Some(unknown), b"").await,
            3
        );
        // 4: a good message.
        let receipt = JetStreamPublisher::new(js.clone())
            .publish(&good)
            .await
            .unwrap();
        assert_eq!(receipt.sequence, 4);

        let spec = ConsumerSpec::new("search-order", &[])
            .policy(DeliveryPolicy::default().ack_wait(Duration::from_secs(1)));
        let mut deliveries = Consumer::<OrderEvents>::start(&js, &spec)
            .await
            .unwrap()
            .deliveries();
        let delivery = tokio::time::timeout(NEXT_TIMEOUT, deliveries.next())
            .await
            .expect("good message in time")
            .unwrap()
            .unwrap();
        assert_eq!(delivery.stream_sequence, 4);
        assert!(
            matches!(delivery.event, OrderEvents::Created(ref c) if c.customer_id == "customer-7")
        );

        let mut termed = Vec::new();
        while termed.len() < 3 {
            let advisory = tokio::time::timeout(NEXT_TIMEOUT, terminated.next())
                .await
                .expect("termination advisory in time")
                .expect("advisory subscription open");
            termed.push(stream_seq(&advisory.payload).expect("stream_seq in advisory"));
        }
        termed.sort_unstable();
        assert_eq!(termed, [1, 2, 3]);

        let stream = js.get_stream("ORDERING_ORDERS").await.unwrap();
        let info = stream.consumer_info("search-order").await.unwrap();
        assert_eq!(
            info.num_ack_pending, 1,
            "only the good message awaits its ack"
        );
        delivery.ack().await.unwrap();

        // Past the 1 s ack wait nothing is redelivered.
        assert!(
            tokio::time::timeout(Duration::from_millis(1_500), deliveries.next())
                .await
                .is_err()
        );
        let info = stream.consumer_info("search-order").await.unwrap();
        assert_eq!(info.num_ack_pending, 0);
        assert_eq!(info.num_redelivered, 0);
        assert_eq!(info.ack_floor.stream_sequence, 4);
        server.stop().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn run_acks_on_success_and_naks_with_delay_on_error() {
    within(async {
        let mut server = start_server().await;
        let (_client, js) = connect(&server).await;
        provision_streams(&js, &[ORDER]).await.unwrap();
        let publisher = JetStreamPublisher::new(js.clone());
        publisher
            .publish(&created_message(&created_event()))
            .await
            .unwrap();

        let spec = ConsumerSpec::new("worker-order", &["OrderCreatedEvent"])
            .policy(DeliveryPolicy::default().backoff([Duration::from_millis(200)]));
        let consumer = Consumer::<OrderEvents>::start(&js, &spec).await.unwrap();

        let seen: Arc<Mutex<Vec<(u64, std::time::Instant)>>> = Arc::default();
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
        let done_tx = Arc::new(Mutex::new(Some(done_tx)));
        let handler = {
            let seen = seen.clone();
            consumer_fn(move |delivery: &eventmap::nats::Delivery<OrderEvents>| {
                let seen = seen.clone();
                let done_tx = done_tx.clone();
                let delivered = delivery.delivered;
                async move {
                    seen.lock()
                        .unwrap()
                        .push((delivered, std::time::Instant::now()));
                    if delivered == 1 {
                        return Err::<(), eventmap::BoxError>("temporary failure".into());
                    }
                    if let Some(tx) = done_tx.lock().unwrap().take() {
                        let _ = tx.send(());
                    }
                    Ok(())
                }
            })
        };
        let shutdown = async {
            let _ = done_rx.await;
        };
        consumer
            .run(&handler, shutdown)
            .await
            .expect("run ends on shutdown");

        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.iter().map(|(d, _)| *d).collect::<Vec<_>>(), [1, 2]);
        let gap = seen[1].1 - seen[0].1;
        assert!(
            gap >= Duration::from_millis(150),
            "redelivered after the nak delay, got {gap:?}"
        );

        // The second attempt was acked (give the server a moment to process the ack).
        let stream = js.get_stream("ORDERING_ORDERS").await.unwrap();
        let info = stream.consumer_info("worker-order").await.unwrap();
        assert_eq!(info.num_ack_pending, 0);
        assert_eq!(info.ack_floor.stream_sequence, 1);
        server.stop().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn provisioning_extends_existing_streams_and_reports_conflicts() {
    within(async {
        let mut server = start_server().await;
        let (_client, js) = connect(&server).await;

        // Publishing before provisioning: no stream binds the subject.
        let message = created_message(&created_event());
        let err = JetStreamPublisher::new(js.clone()).publish(&message).await.unwrap_err();
        assert!(
            matches!(&err, PublishError::NoStream { subject } if subject == "ordering.order.OrderCreatedEvent"),
            "{err:?}"
        );
        assert!(!err.is_transient());

        // An operator-created stream with another subject and its own settings.
        js.create_stream(StreamConfig {
            name: "ORDERING_ORDERS".into(),
            subjects: vec!["legacy.orders.>".into()],
            max_messages: 1_000,
            ..Default::default()
        })
        .await
        .unwrap();

        const REFUND: ChannelSpec = ChannelSpec::new("refund", "ordering.refund", "ORDERING_ORDERS");
        const AUDIT: ChannelSpec = ChannelSpec::new("audit", "ordering.audit", "ORDERING_AUDIT");
        provision_streams(&js, &[ORDER, REFUND, AUDIT, ORDER]).await.unwrap();
        let orders = js.get_stream("ORDERING_ORDERS").await.unwrap().cached_info().config.clone();
        assert_eq!(orders.subjects, ["legacy.orders.>", "ordering.order.>", "ordering.refund.>"]);
        assert_eq!(orders.max_messages, 1_000, "other settings are kept");
        let audit = js.get_stream("ORDERING_AUDIT").await.unwrap().cached_info().config.clone();
        assert_eq!(audit.subjects, ["ordering.audit.>"]);
        assert_eq!(audit.duplicate_window, DUPLICATE_WINDOW);

        // Idempotent.
        provision_streams(js.clone(), &[ORDER, REFUND, AUDIT]).await.unwrap();
        let again = js.get_stream("ORDERING_ORDERS").await.unwrap().cached_info().config.clone();
        assert_eq!(again.subjects, orders.subjects);

        // A single server (no cluster) refuses more than one replica, for a new stream and for
        // scaling an existing one, and says which stream and counts.
        let err = provision_streams(&js, &[ChannelSpec::new("r3", "ordering.r3", "ORDERING_R3").with_replicas(3)])
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ProvisionError::Replicas { stream, current: None, wanted: 3, .. } if stream == "ORDERING_R3"),
            "{err:?}"
        );
        let err = provision_streams(&js, &[AUDIT.with_replicas(3)]).await.unwrap_err();
        assert!(
            matches!(&err, ProvisionError::Replicas { stream, current: Some(1), wanted: 3, .. } if stream == "ORDERING_AUDIT"),
            "{err:?}"
        );
        eprintln!("single server refuses replicas: {err}");

        // A channel whose subjects belong to another stream cannot get its own stream.
        const CLASH: ChannelSpec = ChannelSpec::new("clash", "ordering.order", "ORDERING_CLASH");
        let err = provision_streams(&js, &[CLASH]).await.unwrap_err();
        assert!(
            matches!(&err, ProvisionError::Create { stream, subjects, .. }
                if stream == "ORDERING_CLASH" && subjects == &["ordering.order.>".to_owned()]),
            "{err:?}"
        );

        // Publishing works now.
        let receipt = JetStreamPublisher::new(js.clone()).publish(&message).await.unwrap();
        assert_eq!((receipt.stream.as_str(), receipt.sequence), ("ORDERING_ORDERS", 1));

        // Invalid messages are rejected before reaching the server.
        let mut bad = message.clone();
        bad.headers.push(("ce-subject".into(), "line\r\nbreak".into()));
        assert!(matches!(
            JetStreamPublisher::new(js.clone()).publish(&bad).await,
            Err(PublishError::InvalidMessage { .. })
        ));
        server.stop().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn local_server_restart_keeps_the_store() {
    within(async {
        let mut server = start_server().await;
        let (version, port) = (server.version().to_owned(), server.port());
        assert!(
            LocalServer::find_binary().await.is_ok(),
            "a >= 2.10 binary is available"
        );
        let (client, js) = connect(&server).await;
        provision_streams(&js, &[ORDER]).await.unwrap();
        let message = created_message(&created_event());
        let first = JetStreamPublisher::new(js.clone())
            .publish(&message)
            .await
            .unwrap();
        assert!(!first.duplicate);
        drop(js);
        drop(client);

        server.stop().await.unwrap();
        assert!(!server.is_running());
        assert!(
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_err(),
            "nothing listens after stop"
        );

        server.restart().await.unwrap();
        assert!(server.is_running());
        assert_eq!((server.version(), server.port()), (version.as_str(), port));
        let (_client, js) = connect(&server).await;
        let mut stream = js.get_stream("ORDERING_ORDERS").await.unwrap();
        assert_eq!(
            stream.info().await.unwrap().state.messages,
            1,
            "message survived the restart"
        );
        let again = JetStreamPublisher::new(js.clone())
            .publish(&message)
            .await
            .unwrap();
        assert!(again.duplicate, "de-duplication state survived the restart");
        assert_eq!(again.sequence, 1);
        server.stop().await.unwrap();
    })
    .await;
}

/// Compile-time checks: the types and futures services spawn onto a multi-threaded runtime
/// are `Send`.
#[allow(dead_code)]
fn public_types_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<JetStreamPublisher>();
    assert_send_sync::<eventmap::nats::StartError>();
    assert_send_sync::<eventmap::nats::ConsumeError>();
    assert_send_sync::<eventmap::nats::Delivery<OrderEvents>>();
    assert_send_sync::<LocalServer>();
    fn run_future(consumer: Consumer<OrderEvents>) {
        let handler =
            consumer_fn(|_delivery: &eventmap::nats::Delivery<OrderEvents>| async { Ok(()) });
        let future = async move { consumer.run(&handler, async {}).await };
        assert_send(&future);
    }
    fn next_future(deliveries: &mut eventmap::nats::Deliveries<OrderEvents>) {
        let future = deliveries.next();
        assert_send(&future);
    }
    fn dispatch_future(dispatcher: &EventDispatcher, events: &[AggregateEvent]) {
        let future = dispatcher.publish(events);
        assert_send(&future);
    }
    let _ = (run_future, next_future, dispatch_future);
}

/// A consumer started on a client that has not connected yet (`retry_on_initial_connect`,
/// the server away): the start waits for the connection instead of failing on the server
/// version the client does not know yet.
#[tokio::test]
async fn consumer_starts_on_a_client_still_connecting() {
    within(async {
        let mut server = start_server().await;
        let (_client, js) = connect(&server).await;
        provision_streams(&js, &[ORDER]).await.unwrap();
        server.stop().await.unwrap();

        let late = async_nats::ConnectOptions::new()
            .retry_on_initial_connect()
            .connect(server.url())
            .await
            .unwrap();
        assert_eq!(late.server_info().version, "", "not connected yet");
        let late_js = async_nats::jetstream::new(late);
        let starting = tokio::spawn(async move {
            Consumer::<OrderEvents>::start(&late_js, &ConsumerSpec::new("search-order", &[])).await
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        server.restart().await.unwrap();
        let started = tokio::time::timeout(Duration::from_secs(20), starting)
            .await
            .expect("started within 20 s")
            .unwrap();
        assert!(started.is_ok(), "{:?}", started.err());
        server.stop().await.unwrap();
    })
    .await;
}
