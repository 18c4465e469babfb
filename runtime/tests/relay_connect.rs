//! `eventmap-relay` connects through `eventmap::nats::connect`: its `--help` lists the
//! connection settings; against a nats-server with user/password authentication it connects
//! with flags and with the URL's user part, exits non-zero on a wrong password, waits for a
//! server that is down at start, and writes no secret even at `RUST_LOG=debug`.

use std::path::Path;
use std::time::Duration;

use eventmap::test_util::binary::{Captured, check_connection, check_help, database_url};

const RELAY: &str = env!("CARGO_BIN_EXE_eventmap-relay");

/// A `Command` for the relay binary.
fn relay_command() -> tokio::process::Command {
    tokio::process::Command::new(RELAY)
}

/// Runs the relay with `command`'s settings, expects it to exit with code 2 within 30 s, and
/// returns what it wrote (stdout and stderr).
async fn exits_with_2(command: &mut tokio::process::Command) -> String {
    let mut relay = Captured::spawn(command).expect("spawn");
    let status = relay
        .wait_exit(Duration::from_secs(30))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let text = relay.stop().await;
    assert_eq!(status.code(), Some(2), "{text}");
    text
}

#[tokio::test]
async fn help_lists_the_connection_settings() {
    check_help(Path::new(RELAY), &[]).await.unwrap();
}

#[tokio::test]
async fn connects_with_credentials_waits_for_the_server_and_hides_secrets() {
    // Every run's check is in check_connection: it fails on the first one that does not hold.
    check_connection(
        Path::new(RELAY),
        &["--schema", "eventmap_relay_connect"],
        &database_url(),
    )
    .await
    .unwrap_or_else(|err| panic!("{err}"));
}

/// A `DATABASE_URL` the relay cannot use (`verify-full` without the local server's CA): exit
/// code 2, the URL shown with its password masked.
#[tokio::test]
async fn database_errors_show_the_url_without_its_password() {
    let mut url = url::Url::parse(&database_url()).expect("DATABASE_URL parses");
    url.set_password(Some("pg-pw-Hy27b")).expect("password");
    url.query_pairs_mut().append_pair("sslmode", "verify-full");
    let text = exits_with_2(
        relay_command()
            .env("DATABASE_URL", url.as_str())
            .env("RUST_LOG", "debug"),
    )
    .await;
    assert!(
        text.contains("cannot connect to PostgreSQL at postgres://postgres:***@"),
        "{text}"
    );
    assert!(!text.contains("pg-pw-Hy27b"), "{text}");
}

/// A SQLite `DATABASE_URL`: refused at once (before NATS, which nobody serves here), exit
/// code 2, saying the relay is Postgres-only. Before, sqlx read the URL as a PostgreSQL one.
#[tokio::test]
async fn a_sqlite_url_is_refused_at_once() {
    let started = std::time::Instant::now();
    let text = exits_with_2(
        relay_command()
            .args(["--server", "nats://127.0.0.1:1"])
            .env("DATABASE_URL", "sqlite:///no/such/dir/orders.db"),
    )
    .await;
    assert!(
        text.contains(
            "DATABASE_URL sqlite:///no/such/dir/orders.db is not a PostgreSQL URL \
             (postgres://...): this command runs on PostgreSQL only; a SQLite service relays \
             its outbox in its own process (eventmap::sqlite::Relay)"
        ),
        "{text}"
    );
    assert!(started.elapsed() < Duration::from_secs(5), "{text}");
}

/// A PostgreSQL nobody listens at: the relay exits 2 at once with the reason (connection
/// refused), not after the pool's 10 s acquire timeout with "pool timed out".
#[tokio::test]
async fn an_unreachable_database_fails_at_once_with_the_reason() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let text = exits_with_2(
        relay_command()
            .env(
                "DATABASE_URL",
                format!("postgres://postgres@127.0.0.1:{port}/test"),
            )
            .env_remove("RUST_LOG"),
    )
    .await;
    assert!(
        text.contains("cannot connect to PostgreSQL at postgres://postgres@127.0.0.1"),
        "{text}"
    );
    assert!(text.to_lowercase().contains("connection refused"), "{text}");
    assert!(!text.contains("pool timed out"), "{text}");
}
