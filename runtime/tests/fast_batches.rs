//! Ordered batches of `JetStreamPublisher` (NATS fast-ingest batches, nats-server >= 2.14)
//! against a private nats-server: what the stream holds is always a prefix of the batch, in
//! order, once; a refused message ends the batch there; a stream or server without batches is
//! never sent more than one message of one.

mod common;

use std::time::Duration;

use common::*;
use eventmap::IntegrationMessage;
use eventmap::nats::async_nats::jetstream::Context;
use eventmap::nats::async_nats::jetstream::stream::{Config, StorageType};
use eventmap::nats::{DUPLICATE_WINDOW, JetStreamPublisher, provision_streams};
use eventmap::publisher::{BatchEnd, BatchOutcome, PublishError, Publisher};

const STREAM: &str = "ORDERING_ORDERS";
const TIMEOUT: Duration = Duration::from_secs(5);

async fn publish_batch(
    publisher: &JetStreamPublisher,
    messages: &[IntegrationMessage],
) -> BatchOutcome {
    let batches = publisher
        .batches()
        .expect("JetStreamPublisher offers batches");
    let refs: Vec<&IntegrationMessage> = messages.iter().collect();
    batches.publish_batch(STREAM, &refs, TIMEOUT).await
}

/// The `Nats-Msg-Id`s the stream holds, in stream order.
async fn stored_ids(js: &Context) -> Vec<String> {
    stored_messages(js, STREAM)
        .await
        .iter()
        .map(|message| {
            message
                .headers
                .get("Nats-Msg-Id")
                .expect("Nats-Msg-Id")
                .as_str()
                .to_owned()
        })
        .collect()
}

fn ids(messages: &[IntegrationMessage]) -> Vec<String> {
    messages
        .iter()
        .map(|message| message.id.hyphenated().to_string())
        .collect()
}

/// A stream of the order channel created by hand, with or without batches.
async fn stream(js: &Context, batched: bool, max_message_size: i32) {
    js.create_stream(Config {
        name: STREAM.to_owned(),
        subjects: vec![ORDER.wildcard()],
        storage: StorageType::File,
        duplicate_window: DUPLICATE_WINDOW,
        max_message_size,
        allow_batch_publish: batched,
        ..Config::default()
    })
    .await
    .expect("create stream");
}

#[tokio::test]
async fn provisioned_streams_take_batches_stored_in_order_and_once() {
    within(async {
        let server = start_server().await;
        let (_client, js) = connect(&server).await;
        provision_streams(&js, &[ORDER]).await.expect("provision");
        let config = js
            .get_stream(STREAM)
            .await
            .expect("stream")
            .cached_info()
            .config
            .clone();
        assert!(
            config.allow_batch_publish,
            "nats-server {} >= 2.14: provisioned with allow_batched",
            server.version()
        );
        let publisher = JetStreamPublisher::new(js.clone());
        let batches = publisher.batches().expect("batches");
        // Message ids are random: one set for the whole test.
        let all = created_messages(1_801);
        let messages = &all[..1_200];
        // The publisher learns a subject's stream from a single publish's ack (it asks no
        // JetStream API): none before, the stream after.
        assert_eq!(batches.batch_stream(&messages[0].subject).await, None);
        let first = created_messages(1);
        publisher.publish(&first[0]).await.expect("single publish");
        assert_eq!(
            batches.batch_stream(&messages[0].subject).await.as_deref(),
            Some(STREAM)
        );

        let outcome = publish_batch(&publisher, messages).await;
        assert_eq!(outcome.stored, 1_200, "{outcome:?}");
        assert!(matches!(outcome.end, BatchEnd::Complete), "{outcome:?}");
        assert_eq!(outcome.duplicates, 0);
        assert_eq!(
            stored_ids(&js).await[1..].to_vec(),
            ids(messages),
            "stored in batch order"
        );

        // The same batch again: every message a duplicate (skipped by the stream, the batch
        // going on), nothing stored twice.
        let again = publish_batch(&publisher, messages).await;
        assert_eq!(again.stored, 1_200, "{again:?}");
        assert!(matches!(again.end, BatchEnd::Complete), "{again:?}");
        assert_eq!(stored_ids(&js).await[1..].to_vec().len(), 1_200);

        // Half already stored, half new (a round re-sent after a lost commit, then more).
        let outcome = publish_batch(&publisher, &all[600..1_800]).await;
        assert_eq!(outcome.stored, 1_200, "{outcome:?}");
        assert!(matches!(outcome.end, BatchEnd::Complete), "{outcome:?}");
        assert_eq!(
            stored_ids(&js).await[1..].to_vec(),
            ids(&all[..1_800]),
            "the new ones after, in order"
        );

        // A batch of one message, new, then again (a duplicate).
        for _ in 0..2 {
            let outcome = publish_batch(&publisher, &all[1_800..]).await;
            assert_eq!(outcome.stored, 1, "{outcome:?}");
            assert!(matches!(outcome.end, BatchEnd::Complete), "{outcome:?}");
            assert_eq!(stored_ids(&js).await[1..].to_vec(), ids(&all));
        }
    })
    .await;
}

#[tokio::test]
async fn a_message_the_stream_refuses_ends_the_batch_there() {
    within(async {
        let server = start_server().await;
        let (_client, js) = connect(&server).await;
        stream(&js, true, 2_048).await;
        let publisher = JetStreamPublisher::new(js.clone());
        let mut messages = created_messages(10);
        messages[4].payload = vec![b'x'; 4_096].into();

        let outcome = publish_batch(&publisher, &messages).await;
        assert_eq!(outcome.stored, 4, "{outcome:?}");
        match &outcome.end {
            BatchEnd::Failed(err @ PublishError::Refused { .. }) => {
                assert!(err.is_permanent());
                assert!(err.to_string().contains("stream refused"), "{err}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert_eq!(
            stored_ids(&js).await,
            ids(&messages[..4]),
            "nothing after it"
        );

        // Refused last (the commit message): nothing follows it to find the gap, the batch
        // is ended before it, and the refusal is reported (not a timeout).
        let mut last = created_messages(6);
        last[5].payload = vec![b'x'; 4_096].into();
        let outcome = publish_batch(&publisher, &last).await;
        assert_eq!(outcome.stored, 5, "{outcome:?}");
        assert!(
            matches!(outcome.end, BatchEnd::Failed(PublishError::Refused { .. })),
            "{outcome:?}"
        );
        let mut held = ids(&messages[..4]);
        held.extend(ids(&last[..5]));
        assert_eq!(stored_ids(&js).await, held);

        // Refused first: nothing stored.
        let outcome = publish_batch(&publisher, &messages[4..]).await;
        assert_eq!(outcome.stored, 0, "{outcome:?}");
        assert!(matches!(
            outcome.end,
            BatchEnd::Failed(PublishError::Refused { .. })
        ));
        assert_eq!(stored_ids(&js).await, held);

        // The first message refused after its flow ack (an expectation the stream does not
        // meet): the server drops the batch; the rest goes one message at a time.
        let mut expecting = created_messages(5);
        expecting[0]
            .headers
            .push(("Nats-Expected-Last-Sequence".to_owned(), "1".to_owned()));
        let outcome = publish_batch(&publisher, &expecting).await;
        assert_eq!(outcome.stored, 0, "{outcome:?}");
        assert!(matches!(outcome.end, BatchEnd::Unsupported), "{outcome:?}");
        assert_eq!(stored_ids(&js).await, held, "nothing of it stored");

        // A message that can never be sent (a header with a line break) is refused before
        // sending: the batch ends before it.
        messages[4].payload = messages[3].payload.clone();
        messages[7]
            .headers
            .push(("x-note".to_owned(), "two\r\nlines".to_owned()));
        let outcome = publish_batch(&publisher, &messages[4..]).await;
        assert_eq!(outcome.stored, 3, "{outcome:?}");
        assert!(
            matches!(
                outcome.end,
                BatchEnd::Failed(PublishError::InvalidMessage { .. })
            ),
            "{outcome:?}"
        );
        held.extend(ids(&messages[4..7]));
        assert_eq!(stored_ids(&js).await, held);
    })
    .await;
}

#[tokio::test]
async fn a_stream_without_batches_is_not_offered_and_stores_nothing_of_one() {
    within(async {
        let server = start_server().await;
        let (_client, js) = connect(&server).await;
        stream(&js, false, -1).await;
        let publisher = JetStreamPublisher::new(js.clone());
        let messages = created_messages(20);
        let batches = publisher.batches().expect("batches");
        publisher
            .publish(&messages[0])
            .await
            .expect("single publish");
        assert_eq!(
            batches.batch_stream(&messages[0].subject).await.as_deref(),
            Some(STREAM),
            "learned from the ack; whether it takes batches is found out by trying"
        );
        assert_eq!(batches.batch_stream("no.stream.here").await, None);

        let outcome = publish_batch(&publisher, &messages[1..]).await;
        assert_eq!(outcome.stored, 0, "{outcome:?}");
        assert!(matches!(outcome.end, BatchEnd::Unsupported), "{outcome:?}");
        assert_eq!(
            stored_ids(&js).await,
            ids(&messages[..1]),
            "not one message of the batch"
        );
        assert_eq!(
            batches.batch_stream(&messages[0].subject).await,
            None,
            "the refusal is remembered: one message at a time"
        );
    })
    .await;
}

#[tokio::test]
async fn a_server_without_batches_stores_one_message_then_says_unsupported() {
    within(async {
        let old = std::path::Path::new("/usr/sbin/nats-server");
        if !old.exists() {
            println!("note: /usr/sbin/nats-server (Debian's 2.9) not installed; test skipped");
            return;
        }
        let server = eventmap::test_util::LocalServer::start_with_binary(old)
            .await
            .expect("start old nats-server");
        if !server.version().starts_with("2.9.") {
            println!(
                "note: /usr/sbin/nats-server is {}, not 2.9; test skipped",
                server.version()
            );
            return;
        }
        let (_client, js) = connect(&server).await;
        provision_streams(&js, &[ORDER]).await.expect("provision");
        let publisher = JetStreamPublisher::new(js.clone());
        let messages = created_messages(20);
        let batches = publisher.batches().expect("batches");
        publisher
            .publish(&messages[0])
            .await
            .expect("single publish");
        assert_eq!(
            batches.batch_stream(&messages[0].subject).await,
            None,
            "2.9 has no batches"
        );

        // Sent anyway: 2.9 stores the first message as a single publish and says so.
        let outcome = publish_batch(&publisher, &messages[1..]).await;
        assert_eq!(outcome.stored, 1, "{outcome:?}");
        assert!(matches!(outcome.end, BatchEnd::Unsupported), "{outcome:?}");
        assert_eq!(stored_ids(&js).await, ids(&messages[..2]));
    })
    .await;
}

#[tokio::test]
async fn a_server_restart_in_the_middle_leaves_a_prefix_and_the_rest_follows_once() {
    within(async {
        let mut server = start_server().await;
        let (_client, js) = connect(&server).await;
        provision_streams(&js, &[ORDER]).await.expect("provision");
        let publisher = JetStreamPublisher::new(js.clone());
        let messages = created_messages(40_000);

        let sending = publish_batch(&publisher, &messages);
        let restart = async {
            // Let part of the batch through, then take the server away and back.
            tokio::time::sleep(Duration::from_millis(60)).await;
            server.restart().await.expect("restart");
        };
        let (outcome, ()) = tokio::join!(sending, restart);
        eprintln!(
            "stored {} of 40,000 before the restart: {:?}",
            outcome.stored, outcome.end
        );

        let held = stored_ids(&js).await;
        assert!(
            held.len() >= outcome.stored,
            "the confirmed ones are stored"
        );
        assert_eq!(
            held,
            ids(&messages[..held.len()]),
            "a prefix of the batch, in order"
        );

        // The relay's way: send the rest again from the first unconfirmed message.
        let mut at = outcome.stored;
        let mut end = outcome.end;
        for _ in 0..5 {
            if matches!(end, BatchEnd::Complete) {
                break;
            }
            let next = publish_batch(&publisher, &messages[at..]).await;
            at += next.stored;
            end = next.end;
        }
        assert!(matches!(end, BatchEnd::Complete), "{end:?}");
        assert_eq!(
            stored_ids(&js).await,
            ids(&messages),
            "every message once, in order"
        );
    })
    .await;
}

/// `Publisher::batches` is how the relay finds the fast path; a publisher that does not offer
/// it (the default) is sent one message at a time.
#[tokio::test]
async fn the_in_memory_publisher_offers_no_batches() {
    let publisher = eventmap::InMemoryPublisher::new();
    assert!(publisher.batches().is_none());
}
