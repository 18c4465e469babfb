//! `notifications-example` connects through `eventmap::nats::connect`: its `--help` lists the connection
//! settings; against a nats-server with user/password authentication it connects with flags
//! and with the URL's user part, exits non-zero on a wrong password, waits for a server that
//! is down at start, and writes no secret even at `RUST_LOG=debug`.

use std::path::Path;

use eventmap::test_util::binary::{check_connection, check_help, database_url};

const BINARY: &str = env!("CARGO_BIN_EXE_notifications-example");

#[tokio::test]
async fn help_lists_the_connection_settings() {
    check_help(Path::new(BINARY), &[]).await.unwrap();
}

#[tokio::test]
async fn connects_with_credentials_waits_for_the_server_and_hides_secrets() {
    // Every run's check is in check_connection: it fails on the first one that does not hold.
    check_connection(
        Path::new(BINARY),
        &["--schema", "notifications_connect_test"],
        &database_url(),
    )
    .await
    .unwrap_or_else(|err| panic!("{err}"));
}
