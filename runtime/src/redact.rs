//! Secrets out of printed URLs: [`redact_url`] and [`Redacted`].
//!
//! Binaries print and log the URLs they connect to (NATS servers, `DATABASE_URL`); those URLs
//! may carry a password (`nats://svc:secret@host:4222`, `postgres://app:secret@db/app`), a NATS
//! token (`nats://s3cr3t@host:4222`, the user part alone) or a password in the query
//! (`?password=...` of libpq). Every URL shown to a person goes through [`redact_url`] first.

use std::fmt;

use url::Url;

/// What replaces a secret.
pub const MASK: &str = "***";

/// Query parameters whose values are secrets (libpq's `password`/`sslpassword`, a `token`).
const SECRET_PARAMS: &[&str] = &["password", "sslpassword", "token", "pass"];

/// Schemes of NATS URLs, where a user part without a password is a token (NATS client
/// convention: `nats://<token>@host`).
const NATS_SCHEMES: &[&str] = &["nats", "tls", "ws", "wss"];

/// `text` with the secrets of the URL masked by [`MASK`]: the password of the user part, the
/// whole user part of a NATS URL without a password (a token), and the values of the query
/// parameters `password`, `sslpassword`, `token` and `pass`.
///
/// Text that does not parse as a URL keeps only what precedes `://` and follows the last `@`
/// (`***` in between), so a malformed URL with a secret still does not show it.
///
/// ```
/// use eventmap::redact::redact_url;
///
/// assert_eq!(redact_url("nats://svc:pw@127.0.0.1:4222"), "nats://svc:***@127.0.0.1:4222");
/// assert_eq!(redact_url("nats://tok@127.0.0.1:4222"), "nats://***@127.0.0.1:4222");
/// assert_eq!(
///     redact_url("postgres://app:pw@db/app?sslmode=require"),
///     "postgres://app:***@db/app?sslmode=require"
/// );
/// ```
pub fn redact_url(text: &str) -> String {
    // `svc:pw@host` parses as a URL of scheme `svc` whose path holds the secret: only URLs
    // with an authority part are taken apart.
    let mut url = match Url::parse(text.trim()) {
        Ok(url) if !url.cannot_be_a_base() && text.contains("://") => url,
        _ => return redact_unparsed(text),
    };
    if url.password().is_some() {
        // Cannot fail: the URL has a host (it has a password).
        let _ = url.set_password(Some(MASK));
    } else if !url.username().is_empty() && NATS_SCHEMES.contains(&url.scheme()) {
        let _ = url.set_username(MASK);
    }
    if url
        .query_pairs()
        .any(|(key, _)| SECRET_PARAMS.contains(&key.as_ref()))
    {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(key, value)| {
                let value = if SECRET_PARAMS.contains(&key.as_ref()) {
                    MASK.to_owned()
                } else {
                    value.into_owned()
                };
                (key.into_owned(), value)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

/// A URL that failed to parse: the user part (before the last `@`) masked as a whole.
fn redact_unparsed(text: &str) -> String {
    let (scheme, rest) = match text.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, text),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((_, host)) => format!("{MASK}@{host}"),
        None => authority.to_owned(),
    };
    match scheme {
        Some(scheme) => format!("{scheme}://{authority}{path}"),
        None => format!("{authority}{path}"),
    }
}

/// A URL shown through [`redact_url`]: `Display` and `Debug` print it with its secrets masked,
/// so it can go into `tracing` fields and error messages as is.
#[derive(Clone, PartialEq, Eq)]
pub struct Redacted<'a>(pub &'a str);

impl fmt::Display for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_url(self.0))
    }
}

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", redact_url(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn masks_passwords_tokens_and_secret_parameters() {
        assert_eq!(
            redact_url("nats://svc:s3cret@127.0.0.1:4222"),
            "nats://svc:***@127.0.0.1:4222"
        );
        assert_eq!(
            redact_url("tls://t0ken@nats.example:4222"),
            "tls://***@nats.example:4222"
        );
        assert_eq!(
            redact_url("postgres://app:pw%40x@db:5432/app?sslmode=verify-full&password=pw2"),
            "postgres://app:***@db:5432/app?sslmode=verify-full&password=***"
        );
        // A Postgres user without a password is no secret.
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"),
            "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
        );
        assert_eq!(redact_url("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
    }

    #[test]
    fn masks_the_user_part_of_unparseable_urls() {
        assert_eq!(
            redact_url("nats://svc:p w@[bad:4222/x"),
            "nats://***@[bad:4222/x"
        );
        assert_eq!(redact_url("svc:pw@host:4222"), "***@host:4222");
        assert_eq!(redact_url("not a url"), "not a url");
    }
}
