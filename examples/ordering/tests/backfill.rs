//! `ordering-example backfill` as a process: orders stored in a Postgres schema (without
//! outbox: the history is all there is), counted with --dry-run, then published under a
//! subject prefix for a new consumer's stream, and again (nothing left: the checkpoint is
//! finished). Real PostgreSQL (DATABASE_URL) and nats-server (NATS_SERVER_BIN).
#![cfg(feature = "postgres")]

use std::process::Output;

use eventmap::ChannelSpec;
use eventmap::nats::async_nats;
use eventmap::nats::provision_streams;
use eventmap::test_util::LocalServer;
use ordering_example::history::OrderHistory;

fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

async fn backfill(schema: &str, server: &str, args: &[&str]) -> Output {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_ordering-example"))
        .args([
            "backfill", "--schema", schema, "--server", server, "--batch", "7",
        ])
        .args(args)
        .env("DATABASE_URL", database_url())
        .output()
        .await
        .expect("ordering-example runs");
    assert!(output.status.success(), "{output:?}");
    output
}

#[tokio::test]
async fn backfill_subcommand_counts_publishes_and_resumes_nothing_twice() {
    let history = OrderHistory::create(&database_url(), "ordering_backfill", 3)
        .await
        .expect("PostgreSQL (DATABASE_URL)");
    history.save_orders(20, 2, true).await.expect("orders");
    let schema = history.schema.clone();
    let server = LocalServer::start().await.expect("nats-server");
    let client = async_nats::connect(server.url()).await.expect("connect");
    let jetstream = async_nats::jetstream::new(client);
    const NEW: ChannelSpec =
        ChannelSpec::new("rebuild", "rebuild.ordering.order", "REBUILD_ORDERS");
    provision_streams(&jetstream, &[NEW])
        .await
        .expect("provision");

    let dry = backfill(&schema, &server.url(), &["--dry-run"]).await;
    let stdout = String::from_utf8_lossy(&dry.stdout);
    assert!(
        stdout.contains("40 events read")
            && stdout.contains("40 messages [OrderCreatedEvent 20, OrderReadiedEvent 20]"),
        "{stdout}"
    );
    let only_readied = backfill(
        &schema,
        &server.url(),
        &[
            "--dry-run",
            "--integration-event",
            "OrderReadiedEvent",
            "--aggregate-id",
            "order-3",
        ],
    )
    .await;
    assert!(
        String::from_utf8_lossy(&only_readied.stdout).contains("1 messages [OrderReadiedEvent 1]"),
        "{only_readied:?}"
    );

    let run = backfill(
        &schema,
        &server.url(),
        &["--subject-prefix", "rebuild", "--name", "rebuild"],
    )
    .await;
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        stdout.contains("40 messages") && stdout.contains("40 new, 0 duplicates"),
        "{stdout}"
    );
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("backfill: 7/40 events"),
        "{run:?}"
    );
    let mut stream = jetstream.get_stream(NEW.stream).await.expect("stream");
    assert_eq!(stream.info().await.expect("info").state.messages, 40);

    // Finished: nothing left; --restart sends everything again, deduplicated by JetStream.
    let again = backfill(
        &schema,
        &server.url(),
        &["--subject-prefix", "rebuild", "--name", "rebuild"],
    )
    .await;
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("0 events read"),
        "{again:?}"
    );
    let restarted = backfill(
        &schema,
        &server.url(),
        &[
            "--subject-prefix",
            "rebuild",
            "--name",
            "rebuild",
            "--restart",
        ],
    )
    .await;
    assert!(
        String::from_utf8_lossy(&restarted.stdout).contains("0 new, 40 duplicates"),
        "{restarted:?}"
    );
    assert_eq!(stream.info().await.expect("info").state.messages, 40);

    history.drop_schema().await;
}

/// The process is SIGKILLed half-way through 10,000 events and run again: it resumes from its
/// checkpoint, and the stream holds every message once.
#[tokio::test]
async fn a_backfill_process_killed_half_way_resumes_from_its_checkpoint() {
    let history = OrderHistory::create(&database_url(), "ordering_backfill_kill", 3)
        .await
        .expect("PostgreSQL (DATABASE_URL)");
    // 5,000 orders created and readied (10,000 events).
    history.save_orders(5_000, 1, true).await.expect("orders");
    let schema = history.schema.clone();
    let server = LocalServer::start().await.expect("nats-server");
    let client = async_nats::connect(server.url()).await.expect("connect");
    let jetstream = async_nats::jetstream::new(client);
    const NEW: ChannelSpec =
        ChannelSpec::new("rebuild", "rebuild.ordering.order", "REBUILD_ORDERS");
    provision_streams(&jetstream, &[NEW])
        .await
        .expect("provision");

    let command = || {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_ordering-example"));
        command
            .args(["backfill", "--schema", &schema, "--server", &server.url()])
            .args([
                "--subject-prefix",
                "rebuild",
                "--batch",
                "250",
                "--window",
                "8",
            ])
            .env("DATABASE_URL", database_url())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true);
        command
    };
    let mut first = command().spawn().expect("spawn");
    let checkpoint =
        format!("SELECT events, finished_at IS NOT NULL FROM \"{schema}\".eventmap_backfills");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let row: Option<(i64, bool)> = eventmap::postgres::sqlx::query_as(&checkpoint)
            .fetch_optional(&history.pool)
            .await
            .unwrap_or(None);
        if row.is_some_and(|(events, _)| events >= 5_000) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "half not checkpointed in time"
        );
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    first.start_kill().expect("SIGKILL");
    let status = first.wait().await.expect("wait");
    assert!(!status.success(), "killed, not finished: {status:?}");
    let (killed_at, finished): (i64, bool) = eventmap::postgres::sqlx::query_as(&checkpoint)
        .fetch_one(&history.pool)
        .await
        .expect("checkpoint");
    assert!(!finished && killed_at < 10_000, "{killed_at}");

    let resumed = command().output().await.expect("resume");
    assert!(resumed.status.success(), "{resumed:?}");
    let stdout = String::from_utf8_lossy(&resumed.stdout);
    assert!(
        stdout.contains(&format!("{} events read", 10_000 - killed_at)),
        "{stdout}"
    );
    let (events, finished): (i64, bool) = eventmap::postgres::sqlx::query_as(&checkpoint)
        .fetch_one(&history.pool)
        .await
        .expect("checkpoint");
    assert_eq!((events, finished), (10_000, true));
    let mut stream = jetstream.get_stream(NEW.stream).await.expect("stream");
    assert_eq!(stream.info().await.expect("info").state.messages, 10_000);
    eprintln!("killed after {killed_at} events; resumed: {stdout}");

    history.drop_schema().await;
}
