//! `eventmap-ops outbox list|show|retry|skip`, run as the binary against the ordering
//! example's table and outbox: an order whose `OrderCreated` is over the server's small
//! `max_payload` is parked by the relay (its `OrderReadied` waiting behind it), listed,
//! shown decoded with the table's descriptors, not skipped without confirmation, and
//! published in order after `retry` once the server's limit is raised; `eventmap-ops relay`
//! parks a row on a subject its NATS user may not publish on. Real PostgreSQL
//! (DATABASE_URL) and nats-server (NATS_SERVER_BIN).

mod common;

use std::process::{Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use eventmap::AggregateStore;
use eventmap::nats::async_nats;
use eventmap::nats::{JetStreamPublisher, provision_streams};
use eventmap::postgres::sqlx::postgres::PgPoolOptions;
use eventmap::postgres::{OutboxWriter, PostgresStore, Relay, RelayConfig};
use eventmap::test_util::LocalServer;

use common::server_denying;
use ordering_example::domain::events::OrderItem;
use ordering_example::domain::ids::{CustomerId, PaymentId, ProductId, StoreId};
use ordering_example::domain::money::Money;
use ordering_example::domain::order::Order;
use serde_json::Value;

fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

fn order(id: &str, name_len: usize) -> Order {
    Order::create(
        id,
        CustomerId::new(format!("customer-{id}")),
        PaymentId::new(format!("payment-{id}")),
        vec![OrderItem {
            product_id: ProductId::new("tea"),
            store_id: StoreId::new("store-1"),
            product_name: "t".repeat(name_len),
            unit_price: Money::new(350, "EUR"),
            quantity: 2,
        }],
    )
    .expect("order")
}

/// Runs `eventmap-ops --format json outbox <args>` with stdin closed.
async fn ops(schema: &str, args: &[&str]) -> (Output, Value) {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_eventmap-ops"));
    command
        .args([
            "--mappings",
            "../mappings.yaml",
            "--format",
            "json",
            "outbox",
        ])
        .args(args)
        .args(["--schema", schema])
        .env("DATABASE_URL", database_url())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null());
    let output = command.output().await.expect("eventmap-ops runs");
    let json = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (output, json)
}

#[tokio::test]
async fn parked_rows_are_listed_shown_and_retried_with_the_binary() {
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect(&database_url())
        .await
        .expect("PostgreSQL (DATABASE_URL)");
    let schema = format!(
        "ops_outbox_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let store = PostgresStore::builder(pool.clone())
        .schema(schema.clone())
        .registry(ordering_example::demo::event_registry().expect("registry"))
        .outbox(ordering_example::demo::glue(OutboxWriter::shared()))
        .build()
        .await
        .expect("store");
    let mut server = LocalServer::start_with_config("max_payload: 4096")
        .await
        .expect("nats-server");
    let client = async_nats::connect(server.url()).await.expect("connect");
    let jetstream = async_nats::jetstream::new(client);
    provision_streams(
        &jetstream,
        ordering_example::integration_events::channels::ALL,
    )
    .await
    .expect("provision");

    let mut small = order("small", 10);
    let mut big = order("big", 10_000);
    store.save(&mut small).await.expect("save");
    store.save(&mut big).await.expect("save");
    big.ready().expect("ready");
    store.save(&mut big).await.expect("save");
    let relay = Relay::new(
        pool.clone(),
        Arc::new(JetStreamPublisher::new(jetstream.clone())),
        RelayConfig::default()
            .schema(schema.clone())
            .listen(false)
            .parking(2, Duration::ZERO),
    )
    .await
    .expect("relay");
    for _ in 0..3 {
        relay.run_once().await.expect("round");
    }

    let (output, listed) = ops(&schema, &["list"]).await;
    assert!(output.status.success(), "{output:?}");
    assert_eq!(listed["backlog"]["unpublished"], 2, "{listed}");
    assert_eq!(listed["backlog"]["parked"], 1, "{listed}");
    assert_eq!(listed["backlog"]["waiting_behind_parked"], 1, "{listed}");
    let parked = &listed["parked"][0];
    assert_eq!(parked["aggregate_id"], "big");
    assert_eq!(parked["event"], "OrderCreatedEvent");
    assert_eq!(parked["refusals"], 2);
    assert!(
        parked["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("max_payload of 4096 bytes")),
        "{parked}"
    );
    let id = parked["id"].as_i64().expect("id");

    let (output, shown) = ops(&schema, &["show", &id.to_string()]).await;
    assert!(output.status.success(), "{output:?}");
    assert_eq!(shown["is_parked"], true);
    assert_eq!(
        shown["payload"]["customerId"], "customer-big",
        "{}",
        shown["payload"]
    );
    assert_eq!(
        shown["payload"]["items"][0]["productName"]
            .as_str()
            .map(str::len),
        Some(10_000)
    );
    assert!(shown["payload_hex"].is_null());

    // Text output too, for people.
    let text = tokio::process::Command::new(env!("CARGO_BIN_EXE_eventmap-ops"))
        .args([
            "--mappings",
            "../mappings.yaml",
            "outbox",
            "list",
            "--schema",
            &schema,
        ])
        .env("DATABASE_URL", database_url())
        .output()
        .await
        .expect("runs");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("1 parked, 1 waiting behind them"), "{text}");

    // `status` shows the parked row in the backlog too.
    let status = tokio::process::Command::new(env!("CARGO_BIN_EXE_eventmap-ops"))
        .args(["--mappings", "../mappings.yaml", "--format", "json"])
        .args(["--server", &server.url(), "status", "--schema", &schema])
        .env("DATABASE_URL", database_url())
        .env_remove("NATS_URL")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("runs");
    assert!(status.status.success(), "{status:?}");
    let status: Value = serde_json::from_slice(&status.stdout).expect("json");
    assert_eq!(status["outbox"]["backlog"], 2, "{status}");
    assert_eq!(status["outbox"]["parked"], 1, "{status}");
    assert_eq!(status["outbox"]["waiting_behind_parked"], 1, "{status}");
    assert_eq!(status["outbox"]["retrying"], 1, "{status}");
    assert!(
        status["outbox"]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("max_payload")),
        "{status}"
    );

    // Skip without confirmation (stdin is not a terminal) is refused; nothing is deleted.
    let (output, _) = ops(&schema, &["skip", &id.to_string()]).await;
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("--yes"),
        "{output:?}"
    );
    // Retrying a row that is not parked does nothing and says so.
    let (output, retried) = ops(&schema, &["retry", &(id + 1).to_string()]).await;
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(retried["not_parked"][0], id + 1);

    // The fix, then retry: published in order.
    server.set_config("max_payload: 65536").expect("config");
    server.restart().await.expect("restart");
    let (output, retried) = ops(&schema, &["retry", "--all"]).await;
    assert!(output.status.success(), "{output:?}");
    assert_eq!(retried["retried"][0], id);
    let mut rounds = 0;
    while relay.backlog().await.expect("backlog") > 0 {
        rounds += 1;
        assert!(rounds < 100, "not drained");
        let _ = relay.run_once().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let client = async_nats::connect(server.url()).await.expect("connect");
    let jetstream = async_nats::jetstream::new(client);
    let stream = jetstream
        .get_stream(ordering_example::integration_events::channels::ALL[0].stream)
        .await
        .expect("stream");
    let mut big_versions = Vec::new();
    for sequence in 1..=stream.cached_info().state.last_sequence {
        let message = stream.get_raw_message(sequence).await.expect("message");
        let header = |name: &str| {
            message
                .headers
                .get(name)
                .map(|v| v.as_str().to_owned())
                .unwrap_or_default()
        };
        if header("ce-aggregateid") == "big" {
            big_versions.push(header("ce-aggregateversion"));
        }
    }
    assert_eq!(big_versions, ["1", "2"]);
    let (_, listed) = ops(&schema, &["list"]).await;
    assert_eq!(listed["backlog"]["unpublished"], 0, "{listed}");

    let _ = eventmap::postgres::sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .execute(&pool)
        .await;
}

/// `eventmap-ops relay` connected as a user that may not publish `OrderReadiedEvent`: the
/// server's `Permissions Violation` is a refusal, so the row is parked after `--park-after`
/// tries with the server's text, and the other events are published. Before, each try timed
/// out and was retried as transient, forever, and nothing was parked.
#[tokio::test]
async fn the_relay_parks_a_row_its_user_may_not_publish() {
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect(&database_url())
        .await
        .expect("PostgreSQL (DATABASE_URL)");
    let schema = format!(
        "ops_denied_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let store = PostgresStore::builder(pool.clone())
        .schema(schema.clone())
        .registry(ordering_example::demo::event_registry().expect("registry"))
        .outbox(ordering_example::demo::glue(OutboxWriter::shared()))
        .build()
        .await
        .expect("store");
    let (server, admin) = server_denying("relay", "ordering.order.OrderReadiedEvent").await;
    let jetstream = async_nats::jetstream::new(admin);
    provision_streams(
        &jetstream,
        ordering_example::integration_events::channels::ALL,
    )
    .await
    .expect("provision");
    let mut readied = order("readied", 10);
    store.save(&mut readied).await.expect("save");
    readied.ready().expect("ready");
    store.save(&mut readied).await.expect("save");
    let mut created = order("created", 10);
    store.save(&mut created).await.expect("save");

    let url = server.url();
    let mut relay = tokio::process::Command::new(env!("CARGO_BIN_EXE_eventmap-ops"))
        .args([
            "--server",
            &url,
            "--user",
            "relay",
            "--password",
            "relay-pw",
        ])
        .args([
            "relay",
            "--schema",
            &schema,
            "--park-after",
            "2",
            "--poll-ms",
            "100",
        ])
        .env("DATABASE_URL", database_url())
        .env_remove("NATS_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("eventmap-ops relay starts");
    let mut listed = Value::Null;
    for _ in 0..200 {
        listed = ops(&schema, &["list"]).await.1;
        if listed["backlog"]["parked"] == 1 && listed["backlog"]["unpublished"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = relay.kill().await;
    assert_eq!(listed["backlog"]["parked"], 1, "{listed}");
    assert_eq!(listed["backlog"]["unpublished"], 1, "{listed}");
    let parked = &listed["parked"][0];
    assert_eq!(
        (
            &parked["aggregate_id"],
            &parked["event"],
            &parked["refusals"]
        ),
        (
            &Value::from("readied"),
            &Value::from("OrderReadiedEvent"),
            &Value::from(2)
        ),
        "{parked}"
    );
    assert!(
        parked["last_error"].as_str().is_some_and(|e| e
            .contains("Permissions Violation for Publish to \"ordering.order.OrderReadiedEvent\"")),
        "{parked}"
    );
    let stream = jetstream
        .get_stream(ordering_example::integration_events::channels::ALL[0].stream)
        .await
        .expect("stream");
    assert_eq!(
        stream.cached_info().state.messages,
        2,
        "both OrderCreatedEvents"
    );

    let _ = eventmap::postgres::sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .execute(&pool)
        .await;
}
