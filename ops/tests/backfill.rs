//! `eventmap-ops backfill list|reset`, run as the binary: the checkpoint of a backfill the
//! ordering example ran (stopped after its first batch by a publish failure, then finished)
//! is listed with its position and counts, and reset. Real PostgreSQL (DATABASE_URL) and
//! nats-server (NATS_SERVER_BIN).

use std::process::{Output, Stdio};

use eventmap::AggregateStore;
use eventmap::nats::async_nats;
use eventmap::nats::provision_streams;
use eventmap::postgres::PostgresStore;
use eventmap::postgres::sqlx::postgres::PgPoolOptions;
use eventmap::test_util::LocalServer;
use ordering_example::backfill::BackfillArgs;
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

async fn ops(args: &[&str]) -> (Output, Value) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_eventmap-ops"))
        .args(["--format", "json", "backfill"])
        .args(args)
        .env("DATABASE_URL", database_url())
        .stdin(Stdio::null())
        .output()
        .await
        .expect("eventmap-ops runs");
    let json = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (output, json)
}

fn args(schema: &str) -> BackfillArgs {
    use clap::Parser;
    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: BackfillArgs,
    }
    Wrapper::parse_from([
        "backfill", "--schema", schema, "--name", "rebuild", "--batch", "4",
    ])
    .args
}

#[tokio::test]
async fn checkpoints_are_listed_and_reset() {
    let pool = PgPoolOptions::new()
        .max_connections(3)
        .connect(&database_url())
        .await
        .expect("PostgreSQL (DATABASE_URL)");
    let schema = format!(
        "ops_backfill_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let store = PostgresStore::builder(pool.clone())
        .schema(schema.clone())
        .registry(ordering_example::demo::event_registry().expect("registry"))
        .build()
        .await
        .expect("store");
    for n in 0..5 {
        let mut order = Order::create(
            format!("order-{n}"),
            CustomerId::new("customer-1"),
            PaymentId::new(format!("payment-{n}")),
            vec![OrderItem {
                product_id: ProductId::new("tea"),
                store_id: StoreId::new("store-1"),
                product_name: "Green tea".into(),
                unit_price: Money::new(350, "EUR"),
                quantity: 1,
            }],
        )
        .expect("order");
        order.ready().expect("ready");
        store.save(&mut order).await.expect("save");
    }
    let server = LocalServer::start().await.expect("nats-server");
    let client = async_nats::connect(server.url()).await.expect("connect");

    // No stream yet: the first batch fails to publish, the checkpoint stays at 0.
    let failed = ordering_example::backfill::run(
        &args(&schema),
        &database_url(),
        Some(client.clone()),
        &mut |_| {},
    )
    .await;
    assert!(
        failed.is_err_and(|e| e.contains("no stream")),
        "the publish fails without a stream"
    );
    let (output, listed) = ops(&["list", "--schema", &schema]).await;
    assert!(output.status.success(), "{output:?}");
    let checkpoint = &listed["backfills"][0];
    assert_eq!(checkpoint["name"], "rebuild");
    assert_eq!(
        (
            checkpoint["position"].as_u64(),
            checkpoint["until"].as_u64()
        ),
        (Some(0), Some(10))
    );
    assert_eq!(checkpoint["finished"], false);
    assert_eq!(checkpoint["selection"]["target"], "Live");

    let jetstream = async_nats::jetstream::new(client.clone());
    provision_streams(
        &jetstream,
        ordering_example::integration_events::channels::ALL,
    )
    .await
    .expect("provision");
    let report =
        ordering_example::backfill::run(&args(&schema), &database_url(), Some(client), &mut |_| {})
            .await
            .expect("resumed");
    assert_eq!((report.events, report.published), (10, 10));
    let (_, listed) = ops(&["list", "--schema", &schema]).await;
    let checkpoint = &listed["backfills"][0];
    assert_eq!(
        (
            checkpoint["position"].as_u64(),
            checkpoint["messages"].as_u64()
        ),
        (Some(10), Some(10))
    );
    assert_eq!(checkpoint["finished"], true);

    // Reset: refused without confirmation, done with --yes; an unknown name is refused.
    let (output, _) = ops(&["reset", "rebuild", "--schema", &schema]).await;
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let (output, reset) = ops(&["reset", "rebuild", "--schema", &schema, "--yes"]).await;
    assert!(output.status.success(), "{output:?}");
    assert_eq!(reset["name"], "rebuild");
    let (_, listed) = ops(&["list", "--schema", &schema]).await;
    assert_eq!(listed["backfills"], Value::Array(Vec::new()));
    let (output, _) = ops(&["reset", "rebuild", "--schema", &schema, "--yes"]).await;
    assert_eq!(output.status.code(), Some(1), "{output:?}");

    let _ = eventmap::postgres::sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .execute(&pool)
        .await;
}
