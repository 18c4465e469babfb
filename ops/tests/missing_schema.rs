//! Commands on a `--schema` without eventmap tables refuse with exit 2 and create nothing:
//! before, `outbox list` and `backfill list` (and `status`, `outbox show`, ...) created the
//! schema and ran the migrations, so a mistyped schema read as an empty outbox. Real
//! PostgreSQL (DATABASE_URL); no NATS is reached (the schema is checked first). A SQLite
//! `DATABASE_URL` is refused the same way, before anything is reached.

use std::process::Stdio;

use eventmap::postgres::sqlx::{self, PgPool, postgres::PgPoolOptions};

fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// Every subcommand that works on `--schema`, with what it needs besides.
const ON_A_SCHEMA: &[&[&str]] = &[
    &["outbox", "list"],
    &["outbox", "show", "1"],
    &["outbox", "retry", "--all"],
    &["outbox", "skip", "1", "--yes"],
    &["backfill", "list"],
    &["backfill", "reset", "rebuild", "--yes"],
    &["status"],
];

/// Runs `eventmap-ops --mappings ../mappings.yaml <args> --schema <schema>` against a NATS
/// URL nobody listens on (never reached): (exit code, stderr).
async fn ops(args: &[&str], schema: &str) -> (Option<i32>, String) {
    ops_on(&database_url(), args, schema).await
}

/// [`ops`] with `DATABASE_URL` set to `database_url`.
async fn ops_on(database_url: &str, args: &[&str], schema: &str) -> (Option<i32>, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_eventmap-ops"))
        .args([
            "--mappings",
            "../mappings.yaml",
            "--server",
            "nats://127.0.0.1:1",
        ])
        .args(["--connect-wait", "1"])
        .args(args)
        .args(["--schema", schema])
        .env("DATABASE_URL", database_url)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("eventmap-ops runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

async fn tables_in(pool: &PgPool, schema: &str) -> (bool, i64) {
    sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1), \
                (SELECT count(*) FROM pg_tables WHERE schemaname = $1)",
    )
    .bind(schema)
    .fetch_one(pool)
    .await
    .expect("catalog")
}

#[tokio::test]
async fn commands_on_a_schema_without_eventmap_tables_refuse_and_create_nothing() {
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect(&database_url())
        .await
        .expect("PostgreSQL (DATABASE_URL)");
    let schema = format!(
        "ops_missing_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    for args in ON_A_SCHEMA {
        let (code, stderr) = ops(args, &schema).await;
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "schema `{schema}` does not exist (no eventmap tables at postgres://"
            )),
            "{args:?}: {stderr}"
        );
        assert_eq!(
            tables_in(&pool, &schema).await,
            (false, 0),
            "{args:?} created the schema"
        );
    }

    // A schema that exists without eventmap's tables: the same, and nothing is added to it.
    sqlx::query(&format!("CREATE SCHEMA \"{schema}\""))
        .execute(&pool)
        .await
        .expect("schema");
    for args in ON_A_SCHEMA {
        let (code, stderr) = ops(args, &schema).await;
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!("schema `{schema}` has no eventmap tables")),
            "{args:?}: {stderr}"
        );
        assert_eq!(tables_in(&pool, &schema).await, (true, 0), "{args:?}");
    }
    let _ = sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .execute(&pool)
        .await;
}

/// A SQLite `DATABASE_URL`: every command on the database, `relay` included, refuses at once
/// (before NATS) with exit 2, saying it is Postgres-only. Before, sqlx read the URL as a
/// PostgreSQL one.
#[tokio::test]
async fn commands_on_the_database_refuse_a_sqlite_url() {
    let url = "sqlite:///no/such/dir/orders.db";
    for args in ON_A_SCHEMA.iter().copied().chain([&["relay"][..]]) {
        let started = std::time::Instant::now();
        let (code, stderr) = ops_on(url, args, "eventmap").await;
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "DATABASE_URL {url} is not a PostgreSQL URL (postgres://...): this command runs \
                 on PostgreSQL only"
            )),
            "{args:?}: {stderr}"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{args:?}: {stderr}"
        );
    }
}

/// With `--format json`, a refusal is still one JSON document on stdout: the error and the
/// exit code, for a script that reads stdout only.
#[tokio::test]
async fn a_refusal_in_json_is_one_document_on_stdout() {
    let schema = format!(
        "ops_missing_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_eventmap-ops"))
        .args([
            "--mappings",
            "../mappings.yaml",
            "--server",
            "nats://127.0.0.1:1",
        ])
        .args(["--connect-wait", "1", "--format", "json", "outbox", "list"])
        .args(["--schema", &schema])
        .env("DATABASE_URL", database_url())
        // Logs on: written to a pipe, they carry no colour escape codes.
        .env("RUST_LOG", "debug")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("eventmap-ops runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("DEBUG"), "debug logs expected: {stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "escape codes in the log: {stderr}"
    );
    let document: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("one JSON document on stdout");
    assert_eq!(document["exit_code"], 2, "{document}");
    let error = document["error"].as_str().expect("error text");
    assert!(
        error.contains(&format!("schema `{schema}` does not exist")),
        "{error}"
    );
}
