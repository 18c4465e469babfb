//! `eventmap::nats::Consumer` on private nats-server processes (one per test): acks, nak with
//! backoff, dead letters, poison messages, in-progress acks, several instances, late start,
//! graceful shutdown.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use eventmap::nats::async_nats::jetstream::Context;
use eventmap::nats::async_nats::jetstream::message::StreamMessage;
use eventmap::nats::async_nats::{self, HeaderMap};
use eventmap::nats::{
    Consumer, ConsumerHandler, ConsumerReport, ConsumerSpec, Delivery, DeliveryPolicy,
    JetStreamPublisher, consumer_fn, dead_letter, provision_streams,
};
use eventmap::{BoxError, ChannelSpec, IntegrationMessage};
use futures::StreamExt;
use tokio::sync::watch;

/// Where the tests' dead letters go.
const DLQ: ChannelSpec = ChannelSpec::new("order-dlq", "dlq.ordering.order", "ORDERING_DLQ");

/// Upper bound of the long tests (10,000 events in a debug build).
const LONG_TEST: Duration = Duration::from_secs(180);

/// One handler call.
#[derive(Debug, Clone)]
struct Seen {
    instance: u8,
    stream_sequence: u64,
    delivered: u64,
    at: Instant,
}

/// Every handler call of a test, observable (`watch`) so a test can wait for a condition.
#[derive(Clone)]
struct Log(Arc<watch::Sender<Vec<Seen>>>);

impl Log {
    fn new() -> Self {
        Self(Arc::new(watch::Sender::new(Vec::new())))
    }

    fn record(&self, instance: u8, delivery: &Delivery<OrderEvents>) {
        self.0.send_modify(|seen| {
            seen.push(Seen {
                instance,
                stream_sequence: delivery.stream_sequence,
                delivered: delivery.delivered,
                at: Instant::now(),
            })
        });
    }

    /// Completes once `condition` holds for the calls so far.
    fn until(
        &self,
        condition: impl Fn(&[Seen]) -> bool + Send + Sync + 'static,
    ) -> impl Future<Output = ()> + Send + 'static {
        let mut receiver = self.0.subscribe();
        async move {
            let _ = receiver.wait_for(|seen| condition(seen)).await;
        }
    }

    fn calls(&self) -> Vec<Seen> {
        self.0.borrow().clone()
    }
}

/// Calls per stream sequence.
fn per_sequence(seen: &[Seen]) -> BTreeMap<u64, Vec<Seen>> {
    let mut map: BTreeMap<u64, Vec<Seen>> = BTreeMap::new();
    for call in seen {
        map.entry(call.stream_sequence)
            .or_default()
            .push(call.clone());
    }
    map
}

/// The tests' handler: records each call, optionally sleeps, fails for the `poison`
/// sequence.
struct Recorder {
    instance: u8,
    log: Log,
    poison: Option<u64>,
    sleep: Duration,
}

impl Recorder {
    fn new(log: &Log) -> Self {
        Self {
            instance: 0,
            log: log.clone(),
            poison: None,
            sleep: Duration::ZERO,
        }
    }
}

impl ConsumerHandler<OrderEvents> for Recorder {
    async fn handle(&self, delivery: &Delivery<OrderEvents>) -> Result<(), BoxError> {
        // The event really is decoded.
        let OrderEvents::Created(created) = &delivery.event else {
            return Err("unexpected event".into());
        };
        if created.customer_id.is_empty() {
            return Err("empty customer".into());
        }
        self.log.record(self.instance, delivery);
        if !self.sleep.is_zero() {
            tokio::time::sleep(self.sleep).await;
        }
        if self.poison == Some(delivery.stream_sequence) {
            return Err(Box::new(std::io::Error::other(format!(
                "poison order {}",
                created.order_id
            ))));
        }
        Ok(())
    }
}

async fn publish(js: &Context, messages: &[IntegrationMessage]) {
    JetStreamPublisher::new(js.clone())
        .publish_all(messages, 256)
        .await
        .expect("publish");
}

/// Every message of the dead-letter stream, in order.
async fn dead_letters(js: &Context) -> Vec<StreamMessage> {
    stored_messages(js, DLQ.stream).await
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).map(|value| value.as_str().to_owned())
}

/// (num_ack_pending, num_pending, num_redelivered) of a consumer.
async fn consumer_state(js: &Context, durable: &str) -> (usize, u64, usize) {
    let stream = js.get_stream(ORDER.stream).await.unwrap();
    let info = stream.consumer_info(durable).await.unwrap();
    (info.num_ack_pending, info.num_pending, info.num_redelivered)
}

#[tokio::test]
async fn poison_message_is_retried_with_backoff_then_dead_lettered() {
    within(async {
        let mut server = start_server().await;
        let (_client, js) = connect(&server).await;
        provision_streams(&js, &[ORDER]).await.unwrap();
        let messages = created_messages(1_000);
        publish(&js, &messages).await;
        const POISON: u64 = 500;

        let policy = DeliveryPolicy::default()
            .max_deliver(3)
            .backoff([Duration::from_millis(200), Duration::from_millis(400)])
            .dead_letter(DLQ);
        let spec = ConsumerSpec::new("search", &["OrderCreatedEvent"]).policy(policy);
        let consumer = Consumer::<OrderEvents>::start(&js, &spec).await.unwrap();
        let log = Log::new();
        let handler = Recorder {
            poison: Some(POISON),
            ..Recorder::new(&log)
        };
        let done = log.until(|seen| {
            let calls = per_sequence(seen);
            calls.len() == 1_000 && calls[&POISON].len() == 3
        });
        let report = consumer.run(&handler, done).await.expect("run");
        assert_eq!(
            report,
            ConsumerReport {
                handled: 999,
                failed: 2,
                dead_lettered: 1,
                rejected: 0
            }
        );

        let calls = per_sequence(&log.calls());
        for (sequence, seen) in &calls {
            if *sequence != POISON {
                assert_eq!(seen.len(), 1, "message {sequence} handled once: {seen:?}");
                assert_eq!(seen[0].delivered, 1);
            }
        }
        let poison = &calls[&POISON];
        assert_eq!(
            poison.iter().map(|s| s.delivered).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        let gaps = [poison[1].at - poison[0].at, poison[2].at - poison[1].at];
        assert!(
            gaps[0] >= Duration::from_millis(200),
            "first retry after the 200 ms backoff, got {gaps:?}"
        );
        assert!(
            gaps[1] >= Duration::from_millis(400),
            "second retry after the 400 ms backoff, got {gaps:?}"
        );

        // The dead letter: original payload and headers, plus why.
        let letters = dead_letters(&js).await;
        assert_eq!(letters.len(), 1);
        let letter = &letters[0];
        let original = &messages[usize::try_from(POISON - 1).unwrap()];
        assert_eq!(
            letter.subject.as_str(),
            "dlq.ordering.order.OrderCreatedEvent"
        );
        assert_eq!(letter.payload, original.payload);
        for (name, value) in &original.headers {
            assert_eq!(
                header(&letter.headers, name).as_deref(),
                Some(value.as_str()),
                "original header {name}"
            );
        }
        let error = header(&letter.headers, dead_letter::ERROR).expect("eventmap-error");
        assert_eq!(error, "poison order order-499");
        assert_eq!(
            header(&letter.headers, dead_letter::ORIGINAL_SUBJECT).as_deref(),
            Some("ordering.order.OrderCreatedEvent")
        );
        assert_eq!(
            header(&letter.headers, dead_letter::STREAM_SEQUENCE).as_deref(),
            Some("500")
        );
        assert_eq!(
            header(&letter.headers, dead_letter::DELIVERED).as_deref(),
            Some("3")
        );
        assert_eq!(
            header(&letter.headers, dead_letter::DURABLE).as_deref(),
            Some("search")
        );
        assert_eq!(
            header(&letter.headers, dead_letter::ORIGINAL_STREAM).as_deref(),
            Some(ORDER.stream)
        );
        assert_eq!(
            header(&letter.headers, dead_letter::ORIGINAL_MSG_ID),
            Some(original.id.to_string())
        );
        assert_eq!(
            header(&letter.headers, "Nats-Msg-Id").as_deref(),
            Some("dlq-search-500")
        );

        // Everything settled: nothing pending, nothing awaiting an ack.
        assert_eq!(consumer_state(&js, "search").await, (0, 0, 0));
        server.stop().await.unwrap();
    })
    .await;
}

/// Publishes a message as is (no checks), returning its stream sequence.
async fn publish_raw(js: &Context, headers: Option<HeaderMap>, payload: &'static [u8]) -> u64 {
    let mut message =
        async_nats::jetstream::message::PublishMessage::build().payload(payload.into());
    if let Some(headers) = headers {
        message = message.headers(headers);
    }
    js.send_publish("ordering.order.OrderCreatedEvent", message)
        .await
        .unwrap()
        .await
        .unwrap()
        .sequence
}

#[tokio::test]
async fn undecodable_messages_are_dead_lettered_at_once_and_terminated() {
    within(async {
        let mut server = start_server().await;
        let (client, js) = connect(&server).await;
        provision_streams(&js, &[ORDER]).await.unwrap();

        let good = created_messages(5);
        let mut good_headers = HeaderMap::new();
        for (name, value) in &good[0].headers {
            good_headers.insert(name.as_str(), value.as_str());
        }
        // 1: an event type the consumer does not know, on a subject it receives.
        let mut unknown = good_headers.clone();
        unknown.insert("ce-type", "OrderShippedEvent");
        assert_eq!(publish_raw(&js, Some(unknown), b"").await, 1);
        // 2: valid headers, a payload that is not protobuf.
        assert_eq!(
            publish_raw(&js, Some(good_headers.clone()), b"\xff\xff\xff").await,
            2
        );
        // 3: no headers at all.
        assert_eq!(publish_raw(&js, None, b"plain").await, 3);
        // 4..=8: good ones.
        publish(&js, &good).await;

        // The server announces every +TERM on this advisory subject.
        let mut terminated = client
            .subscribe("$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.ORDERING_ORDERS.search")
            .await
            .unwrap();
        client.flush().await.unwrap();

        let spec =
            ConsumerSpec::new("search", &[]).policy(DeliveryPolicy::default().dead_letter(DLQ));
        let consumer = Consumer::<OrderEvents>::start(&js, &spec).await.unwrap();
        let log = Log::new();
        let handler = Recorder::new(&log);
        let report = consumer
            .run(&handler, log.until(|seen| seen.len() == 5))
            .await
            .expect("run");
        assert_eq!(
            report,
            ConsumerReport {
                handled: 5,
                failed: 0,
                dead_lettered: 0,
                rejected: 3
            }
        );
        let handled: Vec<u64> = log.calls().iter().map(|s| s.stream_sequence).collect();
        assert_eq!(handled, [4, 5, 6, 7, 8]);

        let letters = dead_letters(&js).await;
        assert_eq!(letters.len(), 3);
        let subjects: Vec<&str> = letters.iter().map(|l| l.subject.as_str()).collect();
        assert_eq!(
            subjects,
            [
                "dlq.ordering.order.OrderShippedEvent",
                "dlq.ordering.order.OrderCreatedEvent",
                "dlq.ordering.order.unknown"
            ]
        );
        let errors: Vec<String> = letters
            .iter()
            .map(|l| header(&l.headers, dead_letter::ERROR).expect("eventmap-error"))
            .collect();
        assert!(errors[0].contains("OrderShippedEvent"), "{errors:?}");
        assert!(
            errors[1].starts_with("invalid protobuf payload for `OrderCreatedEvent`"),
            "{errors:?}"
        );
        assert_eq!(errors[2], "missing header `ce-specversion`");
        for (index, letter) in letters.iter().enumerate() {
            let sequence = (index + 1).to_string();
            assert_eq!(
                header(&letter.headers, dead_letter::DELIVERED).as_deref(),
                Some("1")
            );
            assert_eq!(
                header(&letter.headers, dead_letter::STREAM_SEQUENCE).as_deref(),
                Some(sequence.as_str())
            );
        }
        assert_eq!(letters[1].payload.as_ref(), b"\xff\xff\xff");
        assert_eq!(letters[2].payload.as_ref(), b"plain");
        assert_eq!(
            header(&letters[1].headers, "ce-id"),
            header(&good_headers, "ce-id")
        );

        // Terminated, not acked: three MSG_TERMINATED advisories for sequences 1..=3.
        let mut termed = BTreeSet::new();
        while termed.len() < 3 {
            let advisory = tokio::time::timeout(Duration::from_secs(10), terminated.next())
                .await
                .expect("termination advisory in time")
                .expect("advisory subscription open");
            let text = String::from_utf8_lossy(&advisory.payload).into_owned();
            let sequence = text
                .split("\"stream_seq\":")
                .nth(1)
                .and_then(|rest| rest.split([',', '}']).next())
                .and_then(|digits| digits.trim().parse::<u64>().ok())
                .expect("stream_seq in advisory");
            termed.insert(sequence);
        }
        assert_eq!(termed, BTreeSet::from([1, 2, 3]));
        assert_eq!(consumer_state(&js, "search").await, (0, 0, 0));
        server.stop().await.unwrap();
    })
    .await;
}

/// Publishes `message` over a raw client connection (the NATS protocol by hand: `CONNECT`,
/// `HPUB`, `PING`), with an extra header `x-hostile` whose value holds a bare `\r`: what
/// no client library lets through, and what the server stores and delivers as it is.
async fn publish_with_carriage_return(port: u16, message: &IntegrationMessage) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let mut header = String::from("NATS/1.0\r\n");
    for (name, value) in &message.headers {
        header.push_str(&format!("{name}: {value}\r\n"));
    }
    header.push_str("x-hostile: a\rb\r\n\r\n");
    let total = header.len() + message.payload.len();
    let mut frame = format!(
        "CONNECT {{\"verbose\":false,\"pedantic\":false,\"headers\":true,\"protocol\":1}}\r\n\
         HPUB {} {} {total}\r\n{header}",
        message.subject,
        header.len()
    )
    .into_bytes();
    frame.extend_from_slice(&message.payload);
    frame.extend_from_slice(b"\r\nPING\r\n");
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("raw connection");
    let mut stream = BufReader::new(stream);
    stream.get_mut().write_all(&frame).await.unwrap();
    let mut line = String::new();
    loop {
        line.clear();
        assert_ne!(
            stream.read_line(&mut line).await.unwrap(),
            0,
            "server closed"
        );
        assert!(
            !line.starts_with("-ERR"),
            "server refused the frame: {line}"
        );
        if line.starts_with("PONG") {
            break;
        }
    }
}

/// A publisher allowed on the channel's subjects stores a message whose header value holds a
/// bare `\r`. The client library before async-nats 0.52 panicked in its connection task on
/// receiving it, so every consumer of the stream stopped receiving anything, with no error.
#[tokio::test]
async fn a_header_value_with_a_bare_carriage_return_does_not_stop_the_consumer() {
    within(async {
        let mut server = start_server().await;
        let (_client, js) = connect(&server).await;
        provision_streams(&js, &[ORDER]).await.unwrap();
        let messages = created_messages(4);
        publish_with_carriage_return(server.port(), &messages[0]).await;
        publish(&js, &messages[1..]).await;
        let mut stream = js.get_stream(ORDER.stream).await.unwrap();
        let stored = stream.info().await.unwrap().state.messages;
        assert_eq!(stored, 4, "the server stored the hostile message");

        let consumer = Consumer::<OrderEvents>::start(&js, &ConsumerSpec::new("search", &[]))
            .await
            .unwrap();
        let log = Log::new();
        let handler = Recorder::new(&log);
        let run = consumer.run(&handler, log.until(|seen| seen.len() == 4));
        let report = tokio::time::timeout(Duration::from_secs(20), run)
            .await
            .expect("the consumer handled all four messages")
            .expect("run");
        assert_eq!(report.handled, 4);
        let handled: Vec<u64> = log.calls().iter().map(|s| s.stream_sequence).collect();
        assert_eq!(handled, [1, 2, 3, 4]);
        assert_eq!(consumer_state(&js, "search").await, (0, 0, 0));
        server.stop().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn handler_slower_than_ack_wait_is_not_redelivered() {
    within(async {
        let mut server = start_server().await;
        let (_client, js) = connect(&server).await;
        provision_streams(&js, &[ORDER]).await.unwrap();
        // Three messages pulled together: the second and third wait in the queue for 2.5 s
        // and 5 s, longer than the ack wait too.
        publish(&js, &created_messages(3)).await;

        let spec = ConsumerSpec::new("slow", &[])
            .policy(DeliveryPolicy::default().ack_wait(Duration::from_secs(1)));
        let consumer = Consumer::<OrderEvents>::start(&js, &spec).await.unwrap();
        let log = Log::new();
        let handler = Recorder {
            sleep: Duration::from_millis(2_500),
            ..Recorder::new(&log)
        };
        let report = consumer
            .run(&handler, log.until(|seen| seen.len() == 3))
            .await
            .expect("run");
        assert_eq!(report.handled, 3);
        assert_eq!(report.failed, 0);
        let calls = log.calls();
        assert_eq!(
            calls
                .iter()
                .map(|s| (s.stream_sequence, s.delivered))
                .collect::<Vec<_>>(),
            [(1, 1), (2, 1), (3, 1)]
        );
        // Past another ack wait, the server has redelivered nothing.
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        assert_eq!(consumer_state(&js, "slow").await, (0, 0, 0));
        server.stop().await.unwrap();
    })
    .await;
}

/// A handler of one of several instances.
struct Instance(Recorder);

impl ConsumerHandler<OrderEvents> for Instance {
    fn handle(
        &self,
        delivery: &Delivery<OrderEvents>,
    ) -> impl Future<Output = Result<(), BoxError>> + Send {
        self.0.handle(delivery)
    }
}

#[tokio::test]
async fn two_instances_share_the_work_each_event_once() {
    tokio::time::timeout(LONG_TEST, async {
        let mut server = start_server().await;
        let (_client, js) = connect(&server).await;
        provision_streams(&js, &[ORDER]).await.unwrap();
        const EVENTS: usize = 10_000;

        let spec = ConsumerSpec::new("workers", &[]);
        let log = Log::new();
        let mut runs = Vec::new();
        for instance in [1u8, 2] {
            // Each instance on its own connection, as two processes would be.
            let (_client, js) = connect(&server).await;
            let consumer = Consumer::<OrderEvents>::start(&js, &spec).await.unwrap();
            let handler = Instance(Recorder {
                instance,
                ..Recorder::new(&log)
            });
            let done = log.until(|seen| seen.len() >= EVENTS);
            runs.push(tokio::spawn(
                async move { consumer.run(&handler, done).await },
            ));
        }
        publish(&js, &created_messages(EVENTS)).await;

        let mut reports = Vec::new();
        for run in runs {
            reports.push(run.await.expect("task").expect("run"));
        }
        let calls = log.calls();
        assert_eq!(calls.len(), EVENTS);
        let sequences: BTreeSet<u64> = calls.iter().map(|s| s.stream_sequence).collect();
        assert_eq!(sequences.len(), EVENTS, "every event handled exactly once");
        assert_eq!(sequences.first(), Some(&1));
        assert_eq!(sequences.last(), Some(&(EVENTS as u64)));
        for (instance, report) in [1u8, 2].into_iter().zip(&reports) {
            let own = calls.iter().filter(|s| s.instance == instance).count() as u64;
            assert!(own > 0, "instance {instance} did some of the work");
            assert_eq!(report.handled, own);
        }
        assert_eq!(consumer_state(&js, "workers").await, (0, 0, 0));
        server.stop().await.unwrap();
    })
    .await
    .expect("test exceeded its time limit");
}

#[tokio::test]
async fn late_consumer_gets_history_and_shutdown_hands_pulled_messages_back() {
    within(async {
        let mut server = start_server().await;
        let (_client, js) = connect(&server).await;
        provision_streams(&js, &[ORDER]).await.unwrap();
        // Published before any consumer exists.
        publish(&js, &created_messages(50)).await;

        // The first instance pulls all 50 at once and is shut down while handling the first:
        // that one is finished and acked, the 49 others are handed back.
        let spec = ConsumerSpec::new("late", &["OrderCreatedEvent"]);
        let first = Consumer::<OrderEvents>::start(&js, &spec).await.unwrap();
        let log = Log::new();
        let handler = Recorder {
            sleep: Duration::from_millis(300),
            ..Recorder::new(&log)
        };
        let report = tokio::time::timeout(
            Duration::from_secs(10),
            first.run(&handler, log.until(|seen| !seen.is_empty())),
        )
        .await
        .expect("shutdown returns well before the 30 s ack wait")
        .expect("run");
        assert_eq!(report.handled, 1);
        assert_eq!(log.calls()[0].stream_sequence, 1);

        // The next instance gets the 49 at once (naked, not left to the 30 s ack wait).
        let second = Consumer::<OrderEvents>::start(&js, &spec).await.unwrap();
        let next_log = Log::new();
        // A closure handler this time.
        let handler = consumer_fn({
            let log = next_log.clone();
            move |delivery: &Delivery<OrderEvents>| {
                log.record(0, delivery);
                async { Ok::<(), BoxError>(()) }
            }
        });
        let report = tokio::time::timeout(
            Duration::from_secs(10),
            second.run(&handler, next_log.until(|seen| seen.len() >= 49)),
        )
        .await
        .expect("the handed-back messages come without waiting for the ack wait")
        .expect("run");
        assert_eq!(report.handled, 49);
        let calls = next_log.calls();
        assert_eq!(
            calls.iter().map(|s| s.stream_sequence).collect::<Vec<_>>(),
            (2..=50).collect::<Vec<_>>()
        );
        assert!(
            calls.iter().all(|s| s.delivered == 2),
            "each was delivered once before, to the first instance"
        );
        assert_eq!(consumer_state(&js, "late").await, (0, 0, 0));
        server.stop().await.unwrap();
    })
    .await;
}

/// A handler that always fails, after recording the call.
struct Failing(Log);

impl ConsumerHandler<OrderEvents> for Failing {
    async fn handle(&self, delivery: &Delivery<OrderEvents>) -> Result<(), BoxError> {
        self.0.record(0, delivery);
        Err("downstream unavailable".into())
    }
}

#[tokio::test]
async fn failed_dead_letter_publish_keeps_the_message_until_it_succeeds() {
    within(async {
        let mut server = start_server().await;
        let (_client, js) = connect(&server).await;
        provision_streams(&js, &[ORDER]).await.unwrap();
        publish(&js, &created_messages(1)).await;

        let policy = DeliveryPolicy::default()
            .max_deliver(2)
            .backoff([Duration::from_millis(100), Duration::from_secs(3)])
            .dead_letter(DLQ);
        let spec = ConsumerSpec::new("retry", &[]).policy(policy);
        let consumer = Consumer::<OrderEvents>::start(&js, &spec).await.unwrap();
        // The dead-letter stream disappears after the start provisioned it: publishing the
        // dead letter of the second (last) delivery fails.
        js.delete_stream(DLQ.stream).await.unwrap();

        let log = Log::new();
        let handler = Failing(log.clone());
        let dlq_stored = {
            let js = js.clone();
            async move {
                loop {
                    if let Ok(mut stream) = js.get_stream(DLQ.stream).await
                        && stream.info().await.map(|i| i.state.messages).unwrap_or(0) > 0
                    {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };
        let run = tokio::spawn(async move { consumer.run(&handler, dlq_stored).await });
        // After the second delivery failed (and its dead letter with it: the message was naked
        // with the 3 s backoff), the dead-letter stream comes back.
        log.until(|seen| seen.len() == 2).await;
        // The one wait on time left: nothing outside the consumer shows that its dead-letter
        // publish has failed (it only logs), so give it 1 s of the 3 s backoff to do so.
        tokio::time::sleep(Duration::from_secs(1)).await;
        provision_streams(&js, &[DLQ]).await.unwrap();

        let report = run.await.expect("task").expect("run");
        assert_eq!(
            report,
            ConsumerReport {
                handled: 0,
                failed: 2,
                dead_lettered: 1,
                rejected: 0
            }
        );
        // The third delivery was dead-lettered without calling the handler again.
        assert_eq!(
            log.calls().iter().map(|s| s.delivered).collect::<Vec<_>>(),
            [1, 2]
        );
        let letters = dead_letters(&js).await;
        assert_eq!(letters.len(), 1);
        assert_eq!(
            header(&letters[0].headers, dead_letter::DELIVERED).as_deref(),
            Some("3")
        );
        let error = header(&letters[0].headers, dead_letter::ERROR).unwrap();
        assert!(
            error.starts_with("delivered 3 times, more than max_deliver 2"),
            "{error}"
        );
        assert_eq!(consumer_state(&js, "retry").await, (0, 0, 0));
        server.stop().await.unwrap();
    })
    .await;
}

/// Panics on the first delivery, succeeds on the next.
struct PanicsOnce(Log);

impl ConsumerHandler<OrderEvents> for PanicsOnce {
    async fn handle(&self, delivery: &Delivery<OrderEvents>) -> Result<(), BoxError> {
        self.0.record(0, delivery);
        if delivery.delivered == 1 {
            panic!("handler bug");
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_panicking_handler_counts_as_a_failure() {
    within(async {
        let mut server = start_server().await;
        let (_client, js) = connect(&server).await;
        provision_streams(&js, &[ORDER]).await.unwrap();
        publish(&js, &created_messages(1)).await;

        let spec = ConsumerSpec::new("panics", &[])
            .policy(DeliveryPolicy::default().backoff([Duration::from_millis(100)]));
        let consumer = Consumer::<OrderEvents>::start(&js, &spec).await.unwrap();
        let log = Log::new();
        let handler = PanicsOnce(log.clone());
        let report = consumer
            .run(&handler, log.until(|seen| seen.len() == 2))
            .await
            .expect("run survives the panic");
        assert_eq!(report.failed, 1);
        assert_eq!(report.handled, 1);
        assert_eq!(
            log.calls().iter().map(|s| s.delivered).collect::<Vec<_>>(),
            [1, 2]
        );
        assert_eq!(consumer_state(&js, "panics").await, (0, 0, 0));
        server.stop().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn run_stops_when_the_consumer_is_deleted() {
    within(async {
        let mut server = start_server().await;
        let (_client, js) = connect(&server).await;
        provision_streams(&js, &[ORDER]).await.unwrap();
        publish(&js, &created_messages(1)).await;

        let spec = ConsumerSpec::new("doomed", &[]);
        let consumer = Consumer::<OrderEvents>::start(&js, &spec).await.unwrap();
        let log = Log::new();
        let handler = Recorder::new(&log);
        let run = tokio::spawn(async move {
            consumer
                .run(&handler, std::future::pending::<()>())
                .await
        });
        // Deleted while the consumer waits for more messages.
        log.until(|seen| seen.len() == 1).await;
        js.get_stream(ORDER.stream)
            .await
            .unwrap()
            .delete_consumer("doomed")
            .await
            .unwrap();
        let result = tokio::time::timeout(Duration::from_secs(30), run)
            .await
            .expect("run notices the deletion")
            .expect("task");
        let err = result.expect_err("run ends with an error");
        assert!(
            matches!(&err, eventmap::nats::ConsumeError::ConsumerGone { durable, .. } if durable == "doomed"),
            "{err:?}"
        );
        server.stop().await.unwrap();
    })
    .await;
}
