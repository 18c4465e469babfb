//! [`connect_options`]: the user and password of a NATS URL (`nats://user:password@host:port`)
//! as connect options. async-nats 0.51 accepts such a URL but does not send its userinfo in
//! `CONNECT`, so a server with `authorization { users }` refuses the connection.

use std::str::FromStr;

use async_nats::{ConnectOptions, ServerAddr};

/// `ConnectOptions::new()` with `user_and_password` set from the userinfo of `url` (the first
/// of a comma-separated list), percent-decoded; without userinfo (or when `url` does not parse:
/// connecting then reports it), plain `ConnectOptions::new()`.
///
/// ```no_run
/// # async fn demo() -> Result<(), eventmap::nats::async_nats::ConnectError> {
/// let url = "nats://search:s%40cret@127.0.0.1:4222";
/// let client = eventmap::nats::connect_options(url).connect(url).await?;
/// # Ok(()) }
/// ```
pub fn connect_options(url: &str) -> ConnectOptions {
    match credentials(url) {
        Some((user, password)) => ConnectOptions::new().user_and_password(user, password),
        None => ConnectOptions::new(),
    }
}

/// The percent-decoded user and password of `url`'s userinfo (an absent password is empty).
fn credentials(url: &str) -> Option<(String, String)> {
    let first = url.split(',').next()?.trim();
    let addr = ServerAddr::from_str(first).ok()?;
    let user = addr.username()?;
    Some((
        percent_decode(user),
        percent_decode(addr.password().unwrap_or_default()),
    ))
}

/// `text` with each `%XX` replaced by its byte; anything else, an invalid escape included, is
/// kept as is.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escaped = (bytes[index] == b'%')
            .then(|| bytes.get(index + 1..index + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                index += 3;
            }
            None => {
                out.push(bytes[index]);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_is_read_and_decoded() {
        assert_eq!(
            credentials("nats://search:s%40cret%3A1@127.0.0.1:4222"),
            Some(("search".to_owned(), "s@cret:1".to_owned()))
        );
        assert_eq!(
            credentials("nats://a:b@h1:1,nats://c:d@h2:2"),
            Some(("a".to_owned(), "b".to_owned()))
        );
        assert_eq!(
            credentials("nats://user@h:1"),
            Some(("user".to_owned(), String::new()))
        );
        assert_eq!(credentials("nats://127.0.0.1:4222"), None);
        assert_eq!(credentials("not a url"), None);
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
    }
}
