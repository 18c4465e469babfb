//! `eventmap-ops dead-letters` on a real nats-server and PostgreSQL: a poison message is
//! dead-lettered by an inbox consumer, listed and shown (payload decoded with the table's
//! protos), the handler fixed, replayed and handled once; replaying twice handles it once;
//! purge asks for confirmation.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::*;
use eventmap::BoxError;
use eventmap::nats::async_nats::jetstream::message::PublishMessage;
use eventmap::nats::{Consumer, ConsumerSpec, Delivery, DeliveryPolicy, TransactionalHandler};
use eventmap::postgres::Inbox;
use eventmap::postgres::sqlx::{self, PgConnection};
use serde_json::Value;
use tokio::sync::oneshot;

/// Fails on order `poison` until fixed; records every order it applies.
struct Handler {
    fixed: Arc<AtomicBool>,
    table: String,
}

impl TransactionalHandler<OrderEvents> for Handler {
    async fn handle(
        &self,
        conn: &mut PgConnection,
        delivery: &Delivery<OrderEvents>,
    ) -> Result<(), BoxError> {
        let OrderEvents::Created(created) = &delivery.event;
        if created.order_id == "poison" && !self.fixed.load(Ordering::SeqCst) {
            return Err(format!("cannot index order {}: poison", created.order_id).into());
        }
        sqlx::query(&format!(
            "INSERT INTO {} (event_id, order_id) VALUES ($1, $2)",
            self.table
        ))
        .bind(delivery.id())
        .bind(&created.order_id)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

/// The inbox consumer of the test table's subscription, running until dropped.
struct Running {
    fixed: Arc<AtomicBool>,
    handled: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    async fn start(fixture: &Fixture) -> Self {
        let handled = format!("\"{}\".handled", fixture.schema);
        sqlx::query(&format!(
            "CREATE TABLE {handled} (seq bigserial PRIMARY KEY, event_id text NOT NULL, order_id text NOT NULL)"
        ))
        .execute(&fixture.pool)
        .await
        .expect("handled table");
        let inbox = Inbox::new(fixture.pool.clone(), &fixture.schema)
            .await
            .expect("inbox");
        // The policy of the table's subscription (max_deliver 2, backoff 100ms, its dead
        // letters).
        let spec = ConsumerSpec::new(DURABLE, &["OrderCreatedEvent"]).policy(
            DeliveryPolicy::default()
                .max_deliver(2)
                .backoff([std::time::Duration::from_millis(100)])
                .dead_letter(DLQ),
        );
        let consumer = Consumer::<OrderEvents>::start(&fixture.jetstream, &spec)
            .await
            .expect("consumer starts");
        let fixed = Arc::new(AtomicBool::new(false));
        let handler = Handler {
            fixed: fixed.clone(),
            table: handled.clone(),
        };
        let (stop, stopped) = oneshot::channel::<()>();
        // The handler future is not `Send` for every lifetime: run it on the test's LocalSet.
        let task = tokio::task::spawn_local(async move {
            consumer
                .run_with_inbox(&inbox, &handler, async {
                    let _ = stopped.await;
                })
                .await
                .expect("consumer runs");
        });
        Self {
            fixed,
            handled,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// How many times each order was applied, by order id.
    async fn applied(&self, fixture: &Fixture) -> Vec<(String, i64)> {
        sqlx::query_as(&format!(
            "SELECT order_id, count(*) FROM {} GROUP BY order_id ORDER BY order_id",
            self.handled
        ))
        .fetch_all(&fixture.pool)
        .await
        .expect("handled rows")
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("consumer task");
        }
    }
}

/// The `list` output once it shows `total` dead letters.
async fn listed(fixture: &Fixture, total: u64) -> Value {
    let mut last = Value::Null;
    eventually(&format!("{total} dead letter(s)"), || {
        last = fixture.ops_json(&["dead-letters", "list"], 0);
        let ok = last["total"] == total;
        async move { ok }
    })
    .await;
    last
}

fn pairs(list: &[(&str, i64)]) -> Vec<(String, i64)> {
    list.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

#[tokio::test]
async fn poison_message_is_dead_lettered_fixed_replayed_and_handled_once() {
    tokio::task::LocalSet::new()
        .run_until(poison_message_is_dead_lettered_fixed_replayed_and_handled_once_on())
        .await;
}

async fn poison_message_is_dead_lettered_fixed_replayed_and_handled_once_on() {
    let fixture = Fixture::new("ops_replay").await;
    let running = Running::start(&fixture).await;
    let messages = [created("order-1"), created("poison"), created("order-3")];
    publish(&fixture.jetstream, &messages).await;
    let poison_id = messages[1].id.to_string();

    // Dead-lettered after its two deliveries; the others are applied.
    let list = listed(&fixture, 1).await;
    assert_eq!(list["streams"], serde_json::json!(["OPS_DEAD_LETTERS"]));
    let group = &list["groups"][0];
    assert_eq!(group["subscription"], "orders");
    assert_eq!(group["durable"], DURABLE);
    assert_eq!(group["event_type"], "OrderCreatedEvent");
    assert_eq!(group["count"], 1);
    assert!(
        group["error"]
            .as_str()
            .unwrap()
            .contains("cannot index order poison: poison"),
        "{group}"
    );
    assert!(group["oldest_age_secs"].as_u64().unwrap() < 60);
    assert_eq!(
        running.applied(&fixture).await,
        pairs(&[("order-1", 1), ("order-3", 1)])
    );
    let id = group["ids"][0].as_str().unwrap().to_owned();
    // `status` counts it for the subscription.
    let status = fixture.ops_json(&["status", "--no-outbox"], 0);
    assert_eq!(status["subscriptions"][0]["name"], "orders");
    assert_eq!(status["subscriptions"][0]["dead_letters"], 1);
    assert_eq!(status["subscriptions"][0]["consumer"]["pending"], 0);

    // `show`: headers, error, the payload decoded with the table's protos.
    let shown = fixture.ops_json(&["dead-letters", "show", &id], 0);
    assert_eq!(shown["event_id"], poison_id.as_str());
    assert_eq!(
        shown["original_subject"],
        "ordering.order.OrderCreatedEvent"
    );
    assert_eq!(shown["original_stream"], "ORDERING_ORDERS");
    assert_eq!(shown["original_sequence"], 2);
    assert_eq!(shown["delivered"], 2);
    assert_eq!(shown["headers"]["ce-aggregateid"], "poison");
    assert_eq!(shown["payload"]["decoded"], "json");
    assert_eq!(shown["payload"]["message"], "ordering.v1.OrderCreated");
    assert_eq!(shown["payload"]["json"]["orderId"], "poison");
    assert_eq!(shown["payload"]["json"]["totalCents"], "1250");
    assert_eq!(shown["payload"]["json"]["currency"], "EUR");
    // The text form too.
    let text = fixture.ops_text(&["dead-letters", "show", &id]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("payload (ordering.v1.OrderCreated)"),
        "{text}"
    );
    assert!(text.contains("\"orderId\": \"poison\""), "{text}");
    // An unknown id: exit 1.
    let missing = fixture.ops(&["dead-letters", "show", "999"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no dead letter 999"));

    // The handler is fixed; the replay brings the event back, once.
    running.fixed.store(true, Ordering::SeqCst);
    // A dry run says what it would do, and only that (it used to add "replayed 0 ...; dead
    // letters deleted").
    let dry = fixture.ops_json(&["dead-letters", "replay", "--all", "--dry-run"], 0);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["would_replay"], serde_json::json!([id]));
    assert_eq!(dry.get("replayed"), None, "{dry}");
    let dry_text = fixture.ops_text(&["dead-letters", "replay", "--all", "--dry-run"]);
    assert_eq!(dry_text.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&dry_text.stdout),
        format!(
            "dry run, nothing replayed or deleted: would replay 1 of 1 selected dead letter(s): {id}\n"
        )
    );
    // A dry run exits as the replay would: 1 for an id that is not there.
    let dry_missing = fixture.ops_json(&["dead-letters", "replay", "999", "--dry-run"], 1);
    assert_eq!(dry_missing["missing_ids"], serde_json::json!(["999"]));
    assert_eq!(listed(&fixture, 1).await["total"], 1);
    let replay = fixture.ops_json(&["dead-letters", "replay", "--all"], 0);
    assert_eq!(replay["selected"], 1);
    assert_eq!(replay["duplicates"], 0);
    assert_eq!(
        replay["replayed"][0]["subject"],
        "ordering.order.OrderCreatedEvent"
    );
    assert_eq!(replay["replayed"][0]["stream"], "ORDERING_ORDERS");
    assert_eq!(replay["replayed"][0]["sequence"], 4);
    eventually("the replayed event applied", || async {
        running.applied(&fixture).await.len() == 3
    })
    .await;
    // The dead letter is gone: a second replay finds nothing, the event stays applied once.
    assert_eq!(listed(&fixture, 0).await["groups"], serde_json::json!([]));
    let again = fixture.ops_json(&["dead-letters", "replay", "--all"], 0);
    assert_eq!(again["selected"], 0);
    assert_eq!(again["replayed"], serde_json::json!([]));
    let by_id = fixture.ops_json(&["dead-letters", "replay", &id], 1);
    assert_eq!(by_id["missing_ids"], serde_json::json!([id]));
    let status = fixture.ops_json(&["status", "--no-outbox"], 0);
    assert_eq!(status["subscriptions"][0]["dead_letters"], 0);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        running.applied(&fixture).await,
        pairs(&[("order-1", 1), ("order-3", 1), ("poison", 1)])
    );
    running.stop().await;
    fixture.cleanup().await;
}

#[tokio::test]
async fn replaying_twice_handles_once_and_purge_asks_first() {
    tokio::task::LocalSet::new()
        .run_until(replaying_twice_handles_once_and_purge_asks_first_on())
        .await;
}

async fn replaying_twice_handles_once_and_purge_asks_first_on() {
    let fixture = Fixture::new("ops_twice").await;
    let running = Running::start(&fixture).await;
    publish(&fixture.jetstream, &[created("poison")]).await;
    let list = listed(&fixture, 1).await;
    let id = list["groups"][0]["ids"][0].as_str().unwrap().to_owned();
    running.fixed.store(true, Ordering::SeqCst);

    // Replayed twice, the dead letter kept: JetStream drops the second (same replay id).
    let first = fixture.ops_json(&["dead-letters", "replay", &id, "--keep"], 0);
    assert_eq!(first["replayed"][0]["duplicate"], false);
    assert_eq!(first["kept"], true);
    let second = fixture.ops_json(
        &[
            "dead-letters",
            "replay",
            "--event-type",
            "OrderCreatedEvent",
            "--since",
            "10m",
            "--keep",
        ],
        0,
    );
    assert_eq!(second["selected"], 1);
    assert_eq!(second["duplicates"], 1);
    assert_eq!(second["replayed"][0]["duplicate"], true);
    assert_eq!(
        second["replayed"][0]["sequence"], first["replayed"][0]["sequence"],
        "the same stored replay"
    );
    eventually("the replayed event applied", || async {
        !running.applied(&fixture).await.is_empty()
    })
    .await;

    // A replay past the duplicate window (a fresh message id, same ce-id): the inbox
    // keeps it from being applied again.
    let letter = fixture
        .jetstream
        .get_stream(DLQ.stream)
        .await
        .expect("dead-letter stream")
        .get_raw_message(id.parse().expect("a sequence"))
        .await
        .expect("kept dead letter");
    let mut late = PublishMessage::build()
        .payload(letter.payload.clone())
        .message_id("replay-after-the-window");
    for name in [
        "ce-specversion",
        "ce-id",
        "ce-type",
        "ce-source",
        "ce-subject",
        "ce-time",
        "ce-datacontenttype",
        "ce-aggregateid",
        "ce-aggregatetype",
        "ce-aggregateversion",
        "ce-domaineventid",
    ] {
        if let Some(value) = letter.headers.get(name) {
            late = late.header(name, value.as_str());
        }
    }
    let ack = fixture
        .jetstream
        .send_publish("ordering.order.OrderCreatedEvent", late)
        .await
        .expect("publish")
        .await
        .expect("ack");
    assert!(!ack.duplicate);
    eventually("the late replay consumed", || async {
        let info = fixture
            .jetstream
            .get_stream(ORDER.stream)
            .await
            .expect("stream")
            .consumer_info(DURABLE)
            .await
            .expect("consumer");
        info.ack_floor.stream_sequence >= ack.sequence
    })
    .await;
    assert_eq!(running.applied(&fixture).await, pairs(&[("poison", 1)]));

    // Purge: refused without a terminal or --yes, then done with --yes.
    let refused = fixture.ops(&["dead-letters", "purge", "--all"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--yes"));
    assert_eq!(listed(&fixture, 1).await["total"], 1);
    let dry = fixture.ops_json(&["dead-letters", "purge", "--all", "--dry-run"], 0);
    assert_eq!(dry["would_purge"], serde_json::json!([id]));
    let dry_text = fixture.ops_text(&["dead-letters", "purge", "--all", "--dry-run"]);
    assert_eq!(
        String::from_utf8_lossy(&dry_text.stdout),
        format!("dry run, nothing deleted: would purge 1 dead letter(s): {id}\n")
    );
    assert_eq!(listed(&fixture, 1).await["total"], 1);
    let purged = fixture.ops_json(&["dead-letters", "purge", "--all", "--yes"], 0);
    assert_eq!(purged["purged"], serde_json::json!([id]));
    listed(&fixture, 0).await;
    // Nothing selected is nothing to do (exit 0, docs/operations.md), for purge as for replay;
    // an id that is not there is an error (exit 1).
    let nothing = fixture.ops_json(&["dead-letters", "purge", "--all", "--yes"], 0);
    assert_eq!(nothing["purged"], serde_json::json!([]));
    let gone = fixture.ops_json(&["dead-letters", "purge", &id, "--yes"], 1);
    assert_eq!(gone["missing_ids"], serde_json::json!([id]));
    running.stop().await;
    fixture.cleanup().await;
}

#[tokio::test]
async fn an_undecodable_payload_is_shown_in_hex() {
    tokio::task::LocalSet::new()
        .run_until(an_undecodable_payload_is_shown_in_hex_on())
        .await;
}

async fn an_undecodable_payload_is_shown_in_hex_on() {
    let fixture = Fixture::new("ops_hex").await;
    let running = Running::start(&fixture).await;
    let mut message = created("garbled");
    message.payload = bytes::Bytes::from_static(&[0xff, 0xff, 0xff]);
    publish(&fixture.jetstream, &[message]).await;
    let list = listed(&fixture, 1).await;
    let id = list["groups"][0]["ids"][0].as_str().unwrap().to_owned();
    let shown = fixture.ops_json(
        &["dead-letters", "show", &id, "--subscription", "orders"],
        0,
    );
    assert_eq!(shown["payload"]["decoded"], "hex");
    assert_eq!(shown["payload"]["hex"], "ffffff");
    assert!(
        shown["payload"]["reason"]
            .as_str()
            .unwrap()
            .contains("not a `ordering.v1.OrderCreated`"),
        "{shown}"
    );
    // An unknown subscription is a usage error naming the table's.
    let unknown = fixture.ops(&["dead-letters", "list", "--subscription", "nope"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("orders (durable ops-orders)"));
    running.stop().await;
    fixture.cleanup().await;
}

/// A replay onto a subject the user may not publish on (`--user ops`, publishing denied on the
/// order event's subject): NATS drops such a publish and says so only asynchronously, so the
/// replay waited for the ack timeout and reported a timeout. It now fails at once with the
/// server's `Permissions Violation` (exit 2), and the dead letter stays.
#[tokio::test]
async fn a_replay_the_user_may_not_publish_fails_at_once_and_keeps_the_dead_letter() {
    tokio::task::LocalSet::new()
        .run_until(a_replay_the_user_may_not_publish_fails_at_once_and_keeps_the_dead_letter_on())
        .await;
}

async fn a_replay_the_user_may_not_publish_fails_at_once_and_keeps_the_dead_letter_on() {
    let (server, admin) = server_denying("ops", "ordering.order.OrderCreatedEvent").await;
    let ops_user = ["--user", "ops", "--password", "ops-pw"].map(String::from);
    let fixture = Fixture::on("ops_denied_replay", server, admin, ops_user.to_vec()).await;
    let running = Running::start(&fixture).await;
    publish(&fixture.jetstream, &[created("poison")]).await;
    let id = listed(&fixture, 1).await["groups"][0]["ids"][0]
        .as_str()
        .expect("id")
        .to_owned();
    running.fixed.store(true, Ordering::SeqCst);

    let started = std::time::Instant::now();
    let output = fixture.ops(&["dead-letters", "replay", "--all"]);
    let elapsed = started.elapsed();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(
        text.contains(&format!(
            "cannot replay dead letter OPS_DEAD_LETTERS:{id} to `ordering.order.OrderCreatedEvent`"
        )),
        "{text}"
    );
    assert!(
        text.contains("the server refused the publish: Permissions Violation for Publish to"),
        "{text}"
    );
    // The JetStream ack timeout (5 s) is not waited for.
    assert!(
        elapsed < std::time::Duration::from_secs(4),
        "{elapsed:?}: {text}"
    );
    // Nothing replayed, nothing deleted.
    let list = listed(&fixture, 1).await;
    assert_eq!(list["groups"][0]["ids"][0], id.as_str());
    assert_eq!(running.applied(&fixture).await, pairs(&[]));
    running.stop().await;
    fixture.cleanup().await;
}
