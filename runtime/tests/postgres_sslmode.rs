//! `sslmode` in `DATABASE_URL` against the local PostgreSQL (which has TLS on): `disable`
//! gives a plain connection, `prefer` and `require` a TLS one (sqlx on rustls), and
//! `verify-full` without the server's CA fails with an error that holds no password.

use eventmap::postgres::sqlx::postgres::PgPoolOptions;
use eventmap::redact::redact_url;
use eventmap::test_util::binary::database_url;

const PASSWORD: &str = "pg-pw-Qe58t";

/// `DATABASE_URL` with `sslmode` and a password (ignored by trust authentication).
fn url_with(sslmode: &str) -> String {
    let mut url = url::Url::parse(&database_url()).expect("DATABASE_URL parses");
    url.set_password(Some(PASSWORD)).expect("password");
    url.query_pairs_mut().append_pair("sslmode", sslmode);
    url.to_string()
}

/// Whether this session's connection uses TLS (`pg_stat_ssl`), after connecting with
/// `sslmode`.
async fn uses_tls(sslmode: &str) -> bool {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(&url_with(sslmode))
        .await
        .unwrap_or_else(|err| panic!("sslmode={sslmode}: {err}"));
    eventmap::postgres::sqlx::query_scalar(
        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
    )
    .fetch_one(&pool)
    .await
    .expect("pg_stat_ssl")
}

#[tokio::test]
async fn sslmode_disable_prefer_and_require() {
    assert!(!uses_tls("disable").await);
    assert!(uses_tls("prefer").await);
    assert!(uses_tls("require").await);
}

#[tokio::test]
async fn verify_full_without_the_ca_fails_without_showing_the_password() {
    let url = url_with("verify-full");
    let err = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(std::time::Duration::from_secs(10))
        .connect(&url)
        .await
        .expect_err("the local server's certificate is not signed by a system root");
    let shown = format!(
        "cannot connect to PostgreSQL at {}: {err}",
        redact_url(&url)
    );
    assert!(!shown.contains(PASSWORD), "{shown}");
    assert!(shown.contains("postgres:***@"), "{shown}");
}
