//! `eventmap::nats::connect` against real nats-servers with authentication on: user/password
//! (settings and URL user part), token, NKey, creds (operator mode), TLS and mutual TLS, each
//! publishing and consuming a JetStream message; refused credentials and unusable files fail
//! at once with the server and method named and no secret shown; an unreachable server is
//! waited for.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventmap::nats::async_nats::Client;
use eventmap::nats::async_nats::jetstream::{self, consumer::pull, stream};
use eventmap::nats::connect::{ConnectError, ConnectSettings, connect};
use eventmap::test_util::LocalServer;
use eventmap::test_util::auth::{NkeyUser, Operator, TlsFiles};
use futures::StreamExt;
use tempfile::TempDir;

/// Bound on any connection attempt that must fail at once.
const FAIL_FAST: Duration = Duration::from_secs(10);

const PASSWORD: &str = "pw-s3cret-4711";
const TOKEN: &str = "t0ken-s3cret-0815";

async fn server(config: &str) -> LocalServer {
    LocalServer::start_with_config(config)
        .await
        .unwrap_or_else(|err| panic!("nats-server with config:\n{config}\n{err}"))
}

fn settings(server: &LocalServer) -> ConnectSettings {
    ConnectSettings::new(&server.url())
}

/// Publishes a message to a fresh stream and consumes it with a durable pull consumer.
async fn round_trip(client: Client) {
    let context = jetstream::new(client);
    let stream = context
        .get_or_create_stream(stream::Config {
            name: "CONNECT_TEST".into(),
            subjects: vec!["connect.test".into()],
            ..Default::default()
        })
        .await
        .expect("create stream");
    context
        .publish("connect.test", "hello".into())
        .await
        .expect("publish")
        .await
        .expect("PubAck");
    let consumer = stream
        .get_or_create_consumer(
            "reader",
            pull::Config {
                durable_name: Some("reader".into()),
                ..Default::default()
            },
        )
        .await
        .expect("consumer");
    let mut messages = consumer
        .fetch()
        .max_messages(1)
        .expires(Duration::from_secs(5))
        .messages()
        .await
        .expect("fetch");
    let message = messages
        .next()
        .await
        .expect("a message")
        .expect("a message, no error");
    assert_eq!(message.payload.as_ref(), b"hello");
    message.ack().await.expect("ack");
}

/// Connects, expecting an error within [`FAIL_FAST`].
async fn refused(settings: &ConnectSettings) -> ConnectError {
    match tokio::time::timeout(FAIL_FAST, connect(settings)).await {
        Ok(Ok(_)) => panic!("connected with {settings:?}"),
        Ok(Err(err)) => err,
        Err(_) => panic!("no answer within {FAIL_FAST:?} for {settings:?}"),
    }
}

/// The error names the server and `method`, and none of `secrets`.
fn assert_names(err: &ConnectError, server: &LocalServer, method: &str, secrets: &[&str]) {
    let text = err.to_string();
    assert!(
        text.contains(&format!("127.0.0.1:{}", server.port())),
        "{text}"
    );
    assert!(text.contains(method), "{method} not in: {text}");
    for secret in secrets {
        assert!(!text.contains(secret), "{secret} in: {text}");
        assert!(!format!("{err:?}").contains(secret), "{secret} in: {err:?}");
    }
}

fn user_password_config() -> String {
    format!("authorization {{ users: [ {{ user: svc, password: {PASSWORD:?} }} ] }}\n")
}

#[tokio::test]
async fn user_and_password_from_settings_and_from_the_url() {
    let server = server(&user_password_config()).await;

    let mut by_settings = settings(&server);
    by_settings.user = Some("svc".into());
    by_settings.password = Some(PASSWORD.into());
    round_trip(connect(&by_settings).await.expect("connect")).await;

    // A prefix of its own for the reply subjects.
    let mut with_prefix = by_settings.clone();
    with_prefix.inbox_prefix = Some("_INBOX_svc".into());
    let client = connect(&with_prefix).await.expect("connect");
    assert!(client.new_inbox().starts_with("_INBOX_svc."));

    let by_url = ConnectSettings::new(&format!(
        "nats://svc:{PASSWORD}@127.0.0.1:{}",
        server.port()
    ));
    assert!(!format!("{by_url:?} {by_url}").contains(PASSWORD));
    connect(&by_url)
        .await
        .expect("connect with the URL's user part");

    let wrong = ConnectSettings::new(&format!(
        "nats://svc:wrong-pw-123@127.0.0.1:{}",
        server.port()
    ));
    let err = refused(&wrong).await;
    assert!(matches!(err, ConnectError::Rejected { .. }), "{err:?}");
    assert_names(&err, &server, "user/password", &["wrong-pw-123", PASSWORD]);
}

#[tokio::test]
async fn token() {
    let server = server(&format!("authorization {{ token: {TOKEN:?} }}\n")).await;
    let mut good = settings(&server);
    good.token = Some(TOKEN.into());
    round_trip(connect(&good).await.expect("connect")).await;

    let mut wrong = settings(&server);
    wrong.token = Some("bad-t0ken-42".into());
    let err = refused(&wrong).await;
    assert!(matches!(err, ConnectError::Rejected { .. }), "{err:?}");
    assert_names(&err, &server, "token", &["bad-t0ken-42", TOKEN]);
}

#[tokio::test]
async fn nkey_seed_file() {
    let dir = TempDir::new().expect("tempdir");
    let user = NkeyUser::generate(dir.path(), "svc").expect("nkey");
    let stranger = NkeyUser::generate(dir.path(), "stranger").expect("nkey");
    let server = server(&format!(
        "authorization {{ users: [ {{ nkey: {} }} ] }}\n",
        user.public_key
    ))
    .await;
    let mut good = settings(&server);
    good.nkey = Some(user.seed_file.clone());
    round_trip(connect(&good).await.expect("connect")).await;

    let mut wrong = settings(&server);
    wrong.nkey = Some(stranger.seed_file.clone());
    let err = refused(&wrong).await;
    assert!(matches!(err, ConnectError::Rejected { .. }), "{err:?}");
    let seed = std::fs::read_to_string(&stranger.seed_file).expect("seed");
    assert_names(&err, &server, "nkey", &[seed.trim()]);

    let mut missing = settings(&server);
    missing.nkey = Some(dir.path().join("absent.nk"));
    let err = refused(&missing).await;
    assert!(
        matches!(
            err,
            ConnectError::File {
                what: "nkey seed",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("absent.nk"), "{err}");
}

#[tokio::test]
async fn creds_file_in_operator_mode() {
    let dir = TempDir::new().expect("tempdir");
    let operator = Operator::generate(dir.path(), "svc").expect("JWTs");
    let server = server(&operator.server_config()).await;
    let mut good = settings(&server);
    good.creds = Some(operator.creds_file.clone());
    round_trip(connect(&good).await.expect("connect")).await;

    let mut none = settings(&server);
    none.user = Some("svc".into());
    none.password = Some(PASSWORD.into());
    let err = refused(&none).await;
    assert!(matches!(err, ConnectError::Rejected { .. }), "{err:?}");

    let mut missing = settings(&server);
    missing.creds = Some(dir.path().join("absent.creds"));
    let err = refused(&missing).await;
    assert!(
        matches!(err, ConnectError::File { what: "creds", .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn tls_with_a_ca_and_an_untrusted_ca() {
    let dir = TempDir::new().expect("tempdir");
    let tls = TlsFiles::generate(dir.path()).expect("certificates");
    let other_dir = TempDir::new().expect("tempdir");
    let other = TlsFiles::generate(other_dir.path()).expect("certificates");
    let server = server(&tls.server_block(false)).await;

    let mut good = settings(&server);
    good.tls_ca = Some(tls.ca.clone());
    round_trip(connect(&good).await.expect("connect over TLS")).await;

    let mut untrusted = settings(&server);
    untrusted.tls_ca = Some(other.ca.clone());
    let err = refused(&untrusted).await;
    assert!(matches!(err, ConnectError::Tls { .. }), "{err:?}");
    assert_names(&err, &server, "TLS", &[]);
    assert!(
        err.to_string().contains("invalid peer certificate"),
        "{err}"
    );

    let mut missing = settings(&server);
    missing.tls_ca = Some(dir.path().join("absent.pem"));
    let err = refused(&missing).await;
    assert!(
        matches!(err, ConnectError::File { what: "TLS CA", .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn tls_first() {
    let dir = TempDir::new().expect("tempdir");
    let tls = TlsFiles::generate(dir.path()).expect("certificates");
    let config = tls
        .server_block(false)
        .replace("tls {", "tls {\n  handshake_first: true");
    let server = server(&config).await;
    let mut good = settings(&server);
    good.tls_ca = Some(tls.ca.clone());
    good.tls_first = true;
    round_trip(
        connect(&good)
            .await
            .expect("connect with the TLS handshake first"),
    )
    .await;
}

#[tokio::test]
async fn mutual_tls() {
    let dir = TempDir::new().expect("tempdir");
    let tls = TlsFiles::generate(dir.path()).expect("certificates");
    let server = server(&tls.server_block(true)).await;

    let mut good = settings(&server);
    good.tls_ca = Some(tls.ca.clone());
    good.tls_cert = Some(tls.client_cert.clone());
    good.tls_key = Some(tls.client_key.clone());
    round_trip(
        connect(&good)
            .await
            .expect("connect with a client certificate"),
    )
    .await;

    let mut without = settings(&server);
    without.tls_ca = Some(tls.ca.clone());
    let err = refused(&without).await;
    assert!(matches!(err, ConnectError::Tls { .. }), "{err:?}");
    assert!(err.to_string().contains("CertificateRequired"), "{err}");
}

#[tokio::test]
async fn waits_for_an_unreachable_server_then_connects() {
    let mut server = LocalServer::start().await.expect("nats-server");
    server.stop().await.expect("stop");
    let waiting = tokio::spawn({
        let settings = settings(&server);
        async move { connect(&settings).await }
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !waiting.is_finished(),
        "connect() gave up while the server was down"
    );
    server.restart().await.expect("restart");
    let client = tokio::time::timeout(Duration::from_secs(20), waiting)
        .await
        .expect("connected within 20 s of the server's start")
        .expect("task")
        .expect("connect");
    round_trip(client).await;
}

#[tokio::test]
async fn gives_up_after_max_wait() {
    let mut server = LocalServer::start().await.expect("nats-server");
    server.stop().await.expect("stop");
    let bounded = settings(&server).max_wait(Duration::from_secs(1));
    let err = refused(&bounded).await;
    assert!(matches!(err, ConnectError::Unreachable { .. }), "{err:?}");
    assert!(!err.is_auth_or_tls());
}

/// Captures the `tracing` output of the current thread.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("lock")).into_owned()
    }
}

/// A publish outside the user's permissions is logged at error level with the subject.
#[tokio::test(flavor = "current_thread")]
async fn permission_violations_are_logged_with_the_subject() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer({
            let captured = captured.clone();
            move || captured.clone()
        })
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let server = server(&format!(
        "authorization {{ users: [ {{ user: svc, password: {PASSWORD:?}, \
         permissions: {{ publish: {{ deny: [\"forbidden.>\"] }} }} }} ] }}\n"
    ))
    .await;
    let mut good = settings(&server);
    good.user = Some("svc".into());
    good.password = Some(PASSWORD.into());
    let client = connect(&good).await.expect("connect");
    client
        .publish("forbidden.orders", "x".into())
        .await
        .expect("publish is buffered");
    client.flush().await.expect("flush");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !captured.text().contains("Permissions Violation") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no permission violation logged:\n{}",
            captured.text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = captured.text();
    let line = log
        .lines()
        .find(|line| line.contains("Permissions Violation"))
        .unwrap_or_default();
    assert!(
        line.contains("ERROR") && line.contains("forbidden.orders"),
        "{line}"
    );
    assert!(!log.contains(PASSWORD), "password in the log:\n{log}");
}
