//! `eventmap-ops status` against a known state on a real nats-server and PostgreSQL: 1,000
//! unpublished outbox rows are a backlog of 1,000; after `eventmap-ops relay` has run, 0, and
//! the subscription's consumer has the 1,000 messages pending. The text table stays aligned
//! when the durable is missing; `metrics` logs at the level its help says.

mod common;

use std::sync::Arc;

use common::*;
use eventmap::nats::{Consumer, ConsumerSpec, DeliveryPolicy, JetStreamPublisher};
use eventmap::postgres::sqlx;
use eventmap::postgres::{Relay, RelayConfig};

#[tokio::test]
async fn status_counts_the_backlog_then_the_relay_drains_it() {
    let fixture = Fixture::new("ops_status").await;
    // The outbox tables (the relay's migrations), and 1,000 unpublished rows of 1,000 orders.
    Relay::new(
        fixture.pool.clone(),
        Arc::new(JetStreamPublisher::new(fixture.jetstream.clone())),
        RelayConfig::default().schema(fixture.schema.clone()),
    )
    .await
    .expect("outbox migrated");
    let rows: Vec<_> = (0..1000).map(|i| created(&format!("order-{i}"))).collect();
    for message in &rows {
        let headers: Vec<[&str; 2]> = message
            .headers
            .iter()
            .map(|(name, value)| [name.as_str(), value.as_str()])
            .collect();
        sqlx::query(&format!(
            "INSERT INTO \"{}\".eventmap_outbox (message_id, aggregate_type, aggregate_id, \
             aggregate_version, subject, name, headers, payload) \
             VALUES ($1, 'Order', $2, 1, $3, $4, $5, $6)",
            fixture.schema
        ))
        .bind(message.id)
        .bind(message.header("ce-aggregateid"))
        .bind(&message.subject)
        .bind(&message.name)
        .bind(sqlx::types::Json(&headers))
        .bind(message.payload.as_ref())
        .execute(&fixture.pool)
        .await
        .expect("outbox row");
    }
    // The subscription's consumer exists and consumes nothing during the test.
    let spec = ConsumerSpec::new(DURABLE, &["OrderCreatedEvent"])
        .policy(DeliveryPolicy::default().max_deliver(2).dead_letter(DLQ));
    let _consumer = Consumer::<OrderEvents>::start(&fixture.jetstream, &spec)
        .await
        .expect("consumer");

    let status = fixture.ops_json(&["status", "--schema", &fixture.schema], 0);
    assert_eq!(status["service"], "ops-test");
    assert_eq!(status["outbox"]["schema"], fixture.schema.as_str());
    assert_eq!(status["outbox"]["backlog"], 1000);
    assert_eq!(status["outbox"]["retrying"], 0);
    assert_eq!(status["outbox"]["parked"], 0);
    assert_eq!(status["outbox"]["waiting_behind_parked"], 0);
    let oldest = status["outbox"]["oldest_age_secs"].as_f64().expect("age");
    assert!((0.0..60.0).contains(&oldest), "{oldest}");
    let orders = &status["subscriptions"][0];
    assert_eq!(orders["name"], "orders");
    assert_eq!(orders["durable"], DURABLE);
    assert_eq!(orders["stream"], "ORDERING_ORDERS");
    assert_eq!(orders["consumer"]["pending"], 0);
    assert_eq!(orders["consumer"]["ack_pending"], 0);
    assert_eq!(orders["dead_letter_stream"], "OPS_DEAD_LETTERS");
    assert_eq!(orders["dead_letters"], 0);
    let text = fixture.ops_text(&["status", "--schema", &fixture.schema]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains(&format!(
            "outbox (schema {}): 1000 unpublished, oldest",
            fixture.schema
        )),
        "{text}"
    );

    // The relay of the operations binary publishes the backlog, with its metrics endpoint.
    let (mut relay, relay_metrics) = spawn_listening(
        &fixture,
        &[
            "relay",
            "--schema",
            &fixture.schema,
            "--metrics-listen",
            "127.0.0.1:0",
        ],
    );
    let mut last = serde_json::Value::Null;
    eventually("the backlog drained", || {
        last = fixture.ops_json(&["status", "--schema", &fixture.schema], 0);
        let drained = last["outbox"]["backlog"] == 0;
        async move { drained }
    })
    .await;
    assert_eq!(last["outbox"]["oldest_age_secs"], 0.0);
    assert_eq!(last["subscriptions"][0]["consumer"]["pending"], 1000);
    // The relay's publish rate and latency, and the backlog, on its endpoint.
    let schema = format!("schema=\"{}\"", fixture.schema);
    let body = scrape(&relay_metrics);
    assert_eq!(
        sample(&body, "eventmap_relay_published_total", &[&schema]),
        Some(1000.0),
        "{body}"
    );
    assert_eq!(
        sample(
            &body,
            "eventmap_publish_duration_seconds_count",
            &["outcome=\"ok\""]
        ),
        Some(1000.0),
        "{body}"
    );
    assert!(
        sample(
            &body,
            "eventmap_publish_duration_seconds_sum",
            &["outcome=\"ok\""]
        )
        .unwrap()
            > 0.0
    );
    assert_eq!(
        sample(&body, "eventmap_outbox_unpublished", &[&schema]),
        Some(0.0),
        "{body}"
    );
    assert_eq!(
        sample(&body, "eventmap_relay_failures_total", &[&schema]),
        None,
        "{body}"
    );
    relay.kill().expect("relay stopped");
    let _ = relay.wait();

    // `metrics`: the status figures on every scrape.
    let (mut metrics, addr) = spawn_listening(
        &fixture,
        &[
            "metrics",
            "--listen",
            "127.0.0.1:0",
            "--schema",
            &fixture.schema,
        ],
    );
    let body = scrape(&addr);
    let durable = format!("durable=\"{DURABLE}\"");
    assert_eq!(
        sample(&body, "eventmap_outbox_unpublished", &[&schema]),
        Some(0.0),
        "{body}"
    );
    assert_eq!(
        sample(&body, "eventmap_outbox_parked", &[&schema]),
        Some(0.0),
        "{body}"
    );
    assert_eq!(
        sample(
            &body,
            "eventmap_consumer_pending",
            &[&durable, "subscription=\"orders\""]
        ),
        Some(1000.0),
        "{body}"
    );
    assert_eq!(
        sample(&body, "eventmap_consumer_ack_pending", &[&durable]),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &body,
            "eventmap_dead_letters_waiting",
            &[&durable, "dead_letter_stream=\"OPS_DEAD_LETTERS\""]
        ),
        Some(0.0),
        "{body}"
    );
    metrics.kill().expect("metrics stopped");
    let _ = metrics.wait();

    // A service without an outbox: --no-outbox needs no database.
    let consuming = fixture.ops_json(
        &[
            "--database-url",
            "postgres://nobody@127.0.0.1:1/x",
            "status",
            "--no-outbox",
        ],
        0,
    );
    assert_eq!(consuming["outbox"], serde_json::Value::Null);
    assert_eq!(consuming["subscriptions"][0]["consumer"]["pending"], 1000);
    fixture.cleanup().await;
}

/// A durable that does not exist yet: its own column says so, every column stays aligned
/// (before, "not created" was written into the REDELIVERED column of fixed-width columns).
#[tokio::test]
async fn the_status_table_is_aligned_when_the_durable_is_missing() {
    let fixture = Fixture::new("ops_status_text").await;
    let output = fixture.ops_text(&["status", "--no-outbox"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "service ops-test\n\
         outbox: not read (--no-outbox)\n\
         SUBSCRIPTION  DURABLE     CONSUMER     PENDING  ACK PENDING  REDELIVERED  DEAD LETTERS\n\
         orders        ops-orders  not created        -            -            -             0\n"
    );
    fixture.cleanup().await;
}

/// `metrics` logs at `warn` unless RUST_LOG says otherwise, as `--help` says of every
/// subcommand but `relay` (it logged `info` lines: connecting, connected, serving).
#[tokio::test]
async fn metrics_logs_at_warn_by_default_and_rust_log_overrides() {
    let fixture = Fixture::new("ops_status_log").await;
    let args = ["metrics", "--listen", "127.0.0.1:0", "--no-outbox"];
    let (quiet, _) = spawn_logging(&fixture, &args, None);
    let stderr = stop_and_read_stderr(quiet);
    assert!(!stderr.contains("INFO"), "{stderr}");
    let (verbose, _) = spawn_logging(&fixture, &args, Some("info"));
    // The endpoint is served once its address is printed; the line before it is logged.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let stderr = stop_and_read_stderr(verbose);
    assert!(
        stderr.contains("INFO") && stderr.contains("serving GET /metrics"),
        "{stderr}"
    );
    fixture.cleanup().await;
}
