//! `eventmap-ops backfill list|reset`, run as the binary: the checkpoint of a backfill the
//! ordering example ran (stopped after its first batch by a publish failure, then finished)
//! is listed with its position and counts, and reset; a reset while the backfill runs is
//! refused. Real PostgreSQL (DATABASE_URL) and nats-server (NATS_SERVER_BIN).

use std::process::{Output, Stdio};
use std::sync::Arc;

use eventmap::nats::JetStreamPublisher;
use eventmap::nats::async_nats;
use eventmap::nats::provision_streams;
use eventmap::postgres::{Backfill, BackfillTarget, OutboxWriter};
use eventmap::test_util::LocalServer;
use eventmap::{AggregateEvent, Dispatch, DispatchError};
use ordering_example::backfill::BackfillArgs;
use ordering_example::history::OrderHistory;
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
    let history = OrderHistory::create(&database_url(), "ops_backfill", 3)
        .await
        .expect("PostgreSQL (DATABASE_URL)");
    history.save_orders(5, 1, true).await.expect("orders");
    let schema = history.schema.clone();
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

    history.drop_schema().await;
}

/// The ordering converters behind a gate: a backfill converting with it stops at its first
/// batch, holding its lock, until the gate opens.
#[derive(Debug)]
struct Gated {
    inner: ordering_example::demo::Glue,
    gate: Arc<tokio::sync::Semaphore>,
}

#[async_trait::async_trait]
impl Dispatch for Gated {
    async fn dispatch(&self, events: &[AggregateEvent]) -> Result<(), DispatchError> {
        let _open = self.gate.acquire().await;
        self.inner.dispatch(events).await
    }
}

/// `backfill reset` while a run of that backfill holds its lock is refused (exit 1) and
/// deletes nothing: before, it deleted the checkpoint under the running backfill, which went
/// on from its position in memory and wrote its counts into a checkpoint that was gone.
#[tokio::test]
async fn a_reset_while_the_backfill_runs_is_refused() {
    let history = OrderHistory::create(&database_url(), "ops_backfill_run", 4)
        .await
        .expect("PostgreSQL (DATABASE_URL)");
    history.save_orders(3, 1, false).await.expect("orders");
    let schema = history.schema.clone();
    let server = LocalServer::start().await.expect("nats-server");
    let client = async_nats::connect(server.url()).await.expect("connect");
    let jetstream = async_nats::jetstream::new(client);
    provision_streams(
        &jetstream,
        ordering_example::integration_events::channels::ALL,
    )
    .await
    .expect("provision");
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let backfill = Backfill::new(history.store.clone(), "rebuild")
        .router(Gated {
            inner: ordering_example::demo::glue(OutboxWriter::shared()),
            gate: Arc::clone(&gate),
        })
        .publisher(JetStreamPublisher::new(jetstream))
        .target(BackfillTarget::Live);
    let running = tokio::spawn(async move { backfill.run(|_| {}).await });
    // Running: its checkpoint is written, its first batch waits at the gate.
    let mut listed = Value::Null;
    for _ in 0..100 {
        listed = ops(&["list", "--schema", &schema]).await.1;
        if listed["backfills"][0]["name"] == "rebuild" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(listed["backfills"][0]["finished"], false, "{listed}");

    let (output, _) = ops(&["reset", "rebuild", "--schema", &schema, "--yes"]).await;
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("backfill `rebuild`")
            && stderr.contains("is running (a run holds its lock): nothing reset"),
        "{stderr}"
    );
    let (_, listed) = ops(&["list", "--schema", &schema]).await;
    assert_eq!(listed["backfills"][0]["name"], "rebuild", "{listed}");

    // Once the run is over, the reset goes through.
    gate.add_permits(1_000);
    let report = running.await.expect("task").expect("backfill");
    assert!(report.finished);
    assert_eq!(report.events, 3);
    let (output, reset) = ops(&["reset", "rebuild", "--schema", &schema, "--yes"]).await;
    assert!(output.status.success(), "{output:?}");
    assert_eq!(reset["name"], "rebuild");

    history.drop_schema().await;
}
