//! [`connect_options`]: a `DATABASE_URL` turned into sqlx's connect options without any of
//! its secrets reaching a log.

use sqlx::postgres::PgConnectOptions;

/// The query parameters sqlx 0.8's Postgres driver reads from a URL
/// (`PgConnectOptions::parse_from_url`); any other is ignored by it.
const KNOWN_PARAMETERS: &[&str] = &[
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "statement-cache-capacity",
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "application_name",
    "options",
];

/// Parses a PostgreSQL URL (`postgres://user:password@host:port/db?sslmode=require`) into
/// sqlx's [`PgConnectOptions`], dropping the query parameters sqlx does not read (libpq's
/// `sslpassword`, say) first: sqlx ignores them anyway, and its parser logs each ignored
/// parameter *with its value*, which would print a secret. Each dropped parameter is logged
/// here by name only, at `warn`.
///
/// # Errors
///
/// sqlx's error for a URL it cannot parse; its text never holds the URL's password (sqlx
/// reports the part it could not read, not the URL).
pub fn connect_options(url: &str) -> Result<PgConnectOptions, sqlx::Error> {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return url.parse();
    };
    let (kept, dropped): (Vec<_>, Vec<_>) = parsed
        .query_pairs()
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .partition(|(key, _)| KNOWN_PARAMETERS.contains(&key.as_str()));
    for (key, _) in &dropped {
        tracing::warn!(parameter = %key, "ignoring a DATABASE_URL parameter the Postgres driver does not support");
    }
    if !dropped.is_empty() {
        if kept.is_empty() {
            parsed.set_query(None);
        } else {
            parsed.query_pairs_mut().clear().extend_pairs(kept);
        }
    }
    parsed.as_str().parse()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_parameters_are_dropped_and_the_rest_kept() {
        let options =
            connect_options("postgres://app:pw@127.0.0.1:5433/app?sslpassword=SslPw&sslmode=disable&application_name=relay")
                .unwrap();
        assert_eq!(options.get_port(), 5433);
        assert_eq!(options.get_database(), Some("app"));
        assert_eq!(options.get_application_name(), Some("relay"));
        assert!(!format!("{options:?}").contains("SslPw"));
        assert!(matches!(
            options.get_ssl_mode(),
            sqlx::postgres::PgSslMode::Disable
        ));
    }
}
