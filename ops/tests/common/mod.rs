//! Shared by the eventmap-ops tests: a private nats-server, a schema of its own on the
//! PostgreSQL at DATABASE_URL, the binary run with the test table, and the ordering events.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

use eventmap::nats::async_nats::{self, jetstream::Context};
use eventmap::nats::{JetStreamPublisher, provision_streams};
use eventmap::postgres::sqlx::{self, PgPool, postgres::PgPoolOptions};
use eventmap::test_util::LocalServer;
use eventmap::{
    AggregateEvent, ChannelSpec, DecodeError, DomainEvent, IntegrationEventSet, IntegrationMessage,
    decode_payload,
};
use ordering_example::proto::ordering::v1::OrderCreated;

/// The channel of `tests/fixtures/mappings.yaml`.
pub const ORDER: ChannelSpec = ChannelSpec::new("order", "ordering.order", "ORDERING_ORDERS");
/// Its subscription's dead-letter channel.
pub const DLQ: ChannelSpec = ChannelSpec::new("dead-letter", "ops.dead-letter", "OPS_DEAD_LETTERS");
/// Its subscription's durable consumer.
pub const DURABLE: &str = "ops-orders";

/// Upper bound of each wait.
pub const LIMIT: Duration = Duration::from_secs(60);

/// The test table.
pub fn table() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mappings.yaml")
}

/// The PostgreSQL of the tests.
pub fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A private nats-server with two users: `admin` (password `admin-pw`, every permission) and
/// `user` (password `<user>-pw`), who may not publish on `denied`; returns it with a client
/// connected as `admin`.
pub async fn server_denying(user: &str, denied: &str) -> (LocalServer, async_nats::Client) {
    let server = LocalServer::start_with_config(&format!(
        "authorization {{ users: [ {{ user: admin, password: admin-pw }}, \
         {{ user: {user}, password: {user}-pw, \
           permissions: {{ publish: {{ deny: [\"{denied}\"] }} }} }} ] }}\n"
    ))
    .await
    .expect("nats-server");
    let admin =
        async_nats::ConnectOptions::with_user_and_password("admin".into(), "admin-pw".into())
            .connect(server.url())
            .await
            .expect("admin connects");
    (server, admin)
}

/// A private nats-server with the order channel, and a schema of its own.
pub struct Fixture {
    pub server: LocalServer,
    pub jetstream: Context,
    pub pool: PgPool,
    pub schema: String,
    /// Global arguments of every `eventmap-ops` run, before its own (e.g. `--user`).
    pub ops_args: Vec<String>,
}

impl Fixture {
    pub async fn new(prefix: &str) -> Self {
        let server = LocalServer::start()
            .await
            .unwrap_or_else(|err| panic!("cannot start nats-server (NATS_SERVER_BIN): {err}"));
        let client = async_nats::connect(server.url()).await.expect("connect");
        Self::on(prefix, server, client, Vec::new()).await
    }

    /// A fixture on `server` (started with a configuration of the test's, e.g. users),
    /// provisioned through `client`; `ops_args` go before each command's own arguments.
    pub async fn on(
        prefix: &str,
        server: LocalServer,
        client: async_nats::Client,
        ops_args: Vec<String>,
    ) -> Self {
        let jetstream = async_nats::jetstream::new(client);
        provision_streams(&jetstream, &[ORDER])
            .await
            .expect("provision");
        let url = database_url();
        let pool = PgPoolOptions::new()
            .max_connections(6)
            .connect(&url)
            .await
            .unwrap_or_else(|err| panic!("cannot connect to PostgreSQL at {url}: {err}"));
        let schema = format!(
            "{prefix}_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        sqlx::query(&format!("CREATE SCHEMA \"{schema}\""))
            .execute(&pool)
            .await
            .expect("schema");
        Self {
            server,
            jetstream,
            pool,
            schema,
            ops_args,
        }
    }

    /// Runs `eventmap-ops --mappings <test table> --server <url> --database-url <url>
    /// --format json <args>` with stdin closed.
    pub fn ops(&self, args: &[&str]) -> Output {
        self.ops_as("json", args)
    }

    /// [`Self::ops`] with `--format text`.
    pub fn ops_text(&self, args: &[&str]) -> Output {
        self.ops_as("text", args)
    }

    fn ops_as(&self, format: &str, args: &[&str]) -> Output {
        let table = table();
        let url = self.server.url();
        let mut all: Vec<&str> = vec![
            "--mappings",
            table.to_str().expect("utf-8 path"),
            "--server",
            &url,
            "--format",
            format,
        ];
        all.extend(self.ops_args.iter().map(String::as_str));
        all.extend_from_slice(args);
        std::process::Command::new(env!("CARGO_BIN_EXE_eventmap-ops"))
            .args(&all)
            .env("DATABASE_URL", database_url())
            .env_remove("NATS_URL")
            .stdin(std::process::Stdio::null())
            .output()
            .expect("eventmap-ops runs")
    }

    /// [`Self::ops`], which must exit with `code`; its stdout as JSON.
    pub fn ops_json(&self, args: &[&str], code: i32) -> serde_json::Value {
        let output = self.ops(args);
        assert_eq!(
            output.status.code(),
            Some(code),
            "eventmap-ops {args:?}: stdout {} stderr {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
            panic!(
                "eventmap-ops {args:?} printed no JSON ({err}): {}",
                String::from_utf8_lossy(&output.stdout)
            )
        })
    }

    pub async fn cleanup(self) {
        let _ = sqlx::query(&format!(
            "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
            self.schema
        ))
        .execute(&self.pool)
        .await;
        self.pool.close().await;
    }
}

/// Waits until `check` holds, at most [`LIMIT`].
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < LIMIT, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The domain event behind the test messages.
#[derive(Debug)]
pub struct Created;

impl DomainEvent for Created {
    fn event_name(&self) -> &'static str {
        "OrderCreated"
    }
}

/// The `OrderCreatedEvent` message of order `order_id`.
pub fn created(order_id: &str) -> IntegrationMessage {
    let event = AggregateEvent::new("Order", order_id, 1, Created);
    let payload = OrderCreated {
        order_id: order_id.to_owned(),
        customer_id: "customer-1".to_owned(),
        total_cents: 1250,
        currency: "EUR".to_owned(),
        ..OrderCreated::default()
    };
    IntegrationMessage::from_aggregate_event(
        &event,
        &ORDER,
        "OrderCreatedEvent",
        "ordering",
        &payload,
    )
}

/// Publishes `messages` and waits for their acks.
pub async fn publish(jetstream: &Context, messages: &[IntegrationMessage]) {
    JetStreamPublisher::new(jetstream.clone())
        .publish_all(messages, 64)
        .await
        .expect("publish");
}

/// The subscription's events, decoded.
#[derive(Debug)]
pub enum OrderEvents {
    Created(OrderCreated),
}

impl IntegrationEventSet for OrderEvents {
    const CHANNEL: ChannelSpec = ORDER;
    const NAMES: &'static [&'static str] = &["OrderCreatedEvent"];

    fn decode(name: &str, payload: &[u8]) -> Result<Self, DecodeError> {
        match name {
            "OrderCreatedEvent" => decode_payload(name, payload).map(Self::Created),
            other => Err(DecodeError::UnknownEvent {
                name: other.to_owned(),
            }),
        }
    }

    fn name(&self) -> &'static str {
        "OrderCreatedEvent"
    }
}

/// A spawned `eventmap-ops`, killed and reaped when dropped: a test that fails (panics)
/// before it stops the process does not leave it running (a relay left behind kept
/// publishing and held its connections).
pub struct Spawned(std::process::Child);

impl std::ops::Deref for Spawned {
    type Target = std::process::Child;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Spawned {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        // Already stopped by the test: both fail harmlessly.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Spawns `eventmap-ops --server <url> --format text <args>` (an endpoint-serving command)
/// and returns it with the address from its first stdout line (`listening on ADDR`).
pub fn spawn_listening(fixture: &Fixture, args: &[&str]) -> (Spawned, String) {
    spawn_listening_with(fixture, args, |command| {
        command.stderr(std::process::Stdio::null());
    })
}

/// [`spawn_listening`] with `RUST_LOG` set to `rust_log` (unset with `None`) and stderr piped
/// (read it once the process is stopped: [`stop_and_read_stderr`]).
pub fn spawn_logging(
    fixture: &Fixture,
    args: &[&str],
    rust_log: Option<&str>,
) -> (Spawned, String) {
    spawn_listening_with(fixture, args, |command| {
        command.stderr(std::process::Stdio::piped());
        match rust_log {
            Some(filter) => command.env("RUST_LOG", filter),
            None => command.env_remove("RUST_LOG"),
        };
    })
}

/// Kills `child` and returns what it wrote on stderr (piped by [`spawn_logging`]).
pub fn stop_and_read_stderr(mut child: Spawned) -> String {
    use std::io::Read;
    child.kill().expect("stopped");
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        pipe.read_to_string(&mut stderr).expect("stderr");
    }
    let _ = child.wait();
    stderr
}

fn spawn_listening_with(
    fixture: &Fixture,
    args: &[&str],
    configure: impl FnOnce(&mut std::process::Command),
) -> (Spawned, String) {
    use std::io::BufRead;
    let table = table();
    let url = fixture.server.url();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_eventmap-ops"));
    command
        .args([
            "--mappings",
            table.to_str().expect("utf-8 path"),
            "--server",
            &url,
        ])
        .args(args)
        .env("DATABASE_URL", database_url())
        .env_remove("NATS_URL")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped());
    configure(&mut command);
    let mut child = Spawned(command.spawn().expect("eventmap-ops starts"));
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("first line");
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    (child, addr)
}

/// `GET /metrics` from `addr`: the body, after a 200.
pub fn scrape(addr: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to /metrics");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    let (head, body) = response.split_once("\r\n\r\n").expect("a response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}\n{body}");
    body.to_owned()
}

/// The value of the sample of `metric` whose labels include every one of `labels`
/// (`name="value"`), `None` when there is none.
pub fn sample(body: &str, metric: &str, labels: &[&str]) -> Option<f64> {
    body.lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| {
            line.strip_prefix(metric)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .find(|line| labels.iter().all(|label| line.contains(label)))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}
