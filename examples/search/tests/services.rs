//! The consuming services on real infrastructure: the ordering service publishes on a private
//! `nats-server -js`, and the search (read model through the inbox) and notifications services
//! consume with durable consumers of their own, from their declared subscriptions, on the
//! machine's PostgreSQL (DATABASE_URL, default the `test` database; each run in schemas of its
//! own, dropped at the end); and the search service alone on a SQLite file, under
//! `Consumer::run_with_inbox`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use eventmap::nats::async_nats::jetstream::Context;
use eventmap::nats::{Consumer, ConsumerReport, JetStreamPublisher, provision_streams};
use eventmap::postgres::Inbox;
use eventmap::test_util::LocalServer;
use eventmap::{DispatchingStore, EventDispatcher, InMemoryStore};
use notifications_example::{NotificationService, NotificationsDatabase};
use ordering_example::application::OrderingService;
use ordering_example::domain::order::Order;
use search_example::subscriptions::OrdersEvent;
use search_example::{OrderStatus, ReadModel, ReadModelDatabase, SearchService};
use sqlx::PgPool;
use tokio::sync::oneshot;

const LIMIT: Duration = Duration::from_secs(60);

/// Schemas of one run, dropped at its end.
struct Schemas {
    pool: PgPool,
    names: Vec<String>,
}

impl Schemas {
    async fn drop_all(&self) {
        for name in &self.names {
            let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE"))
                .execute(&self.pool)
                .await;
        }
    }
}

/// The ordering service publishing through JetStream from an in-memory store, with the four
/// orders of [`common::place_orders`] placed. Returns their ids.
async fn place_orders(jetstream: &Context) -> Vec<String> {
    let mut dispatcher = EventDispatcher::new();
    ordering_example::integration_events::register_integration_event_handlers(
        &mut dispatcher,
        Arc::new(JetStreamPublisher::new(jetstream.clone())),
    );
    let service = OrderingService::<DispatchingStore<InMemoryStore<Order>>>::new(
        DispatchingStore::new(InMemoryStore::new(), Arc::new(dispatcher)),
    );
    common::place_orders(&service, "order").await
}

/// A private nats-server with the ordering service's streams.
async fn broker() -> (LocalServer, Context) {
    let server = LocalServer::start().await.expect("nats-server");
    let client = eventmap::nats::async_nats::connect(server.url())
        .await
        .expect("connect");
    let jetstream = eventmap::nats::async_nats::jetstream::new(client);
    provision_streams(
        &jetstream,
        ordering_example::integration_events::channels::ALL,
    )
    .await
    .expect("streams");
    (server, jetstream)
}

/// The read model after the four orders of [`common::place_orders`] (`ids`): each in its
/// final state, the first with its customer, total and lines.
async fn assert_final<DB: ReadModelDatabase>(read_model: &ReadModel<DB>, ids: &[String]) {
    let statuses: Vec<(String, OrderStatus)> = read_model
        .all()
        .await
        .expect("read model")
        .into_iter()
        .map(|e| (e.order_id, e.status))
        .collect();
    assert_eq!(
        statuses,
        vec![
            (ids[0].clone(), OrderStatus::Completed),
            (ids[1].clone(), OrderStatus::Canceled),
            (ids[2].clone(), OrderStatus::ReadyForPickup),
            (ids[3].clone(), OrderStatus::New),
        ]
    );
    let first = read_model
        .get(&ids[0])
        .await
        .expect("get")
        .expect("indexed");
    assert_eq!(first.customer_id, "alice");
    assert_eq!(first.total_cents, 2 * 350 + 425);
    assert_eq!(first.lines, 2);
}

/// The notifications after the orders of [`common::place_orders`] (`ids`): 4 created + 2
/// readied + 1 canceled (completed orders are not notified); the canceled one told why.
async fn assert_notified<DB: NotificationsDatabase>(
    notifications: &NotificationService<DB>,
    ids: &[String],
) {
    let all = notifications.all().await.expect("notifications");
    assert_eq!(all.len(), 4 + 2 + 1, "{all:?}");
    let texts: Vec<&str> = all
        .iter()
        .filter(|n| n.order_id == ids[1])
        .map(|n| n.text.as_str())
        .collect();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(
        texts
            .iter()
            .any(|t| t.contains("canceled: changed my mind")),
        "{texts:?}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn search_and_notifications_each_see_every_event_they_subscribe_to() {
    tokio::time::timeout(LIMIT, async {
        let (_server, jetstream) = broker().await;

        let pool = PgPool::connect(&common::database_url("test"))
            .await
            .expect("postgres");
        let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
        let schemas = Schemas {
            pool: pool.clone(),
            names: vec![format!("search_{run}"), format!("notifications_{run}")],
        };
        let read_model = ReadModel::new(pool.clone(), &schemas.names[0])
            .await
            .expect("read model");
        let inbox = Inbox::new(pool.clone(), &schemas.names[0])
            .await
            .expect("inbox");
        let notifications = NotificationService::new(pool.clone(), &schemas.names[1])
            .await
            .expect("notifications");

        // Published before the consumers exist: durable consumers deliver the history.
        let ids = place_orders(&jetstream).await;

        let search_spec = search_example::subscriptions::subscriptions::orders::spec();
        let notifications_spec =
            notifications_example::subscriptions::subscriptions::orders::spec();
        assert_ne!(search_spec.durable(), notifications_spec.durable());
        let search =
            Consumer::<search_example::subscriptions::OrdersEvent>::start(&jetstream, &search_spec)
                .await
                .expect("search consumer");
        let notifier = Consumer::<notifications_example::subscriptions::OrdersEvent>::start(
            &jetstream,
            &notifications_spec,
        )
        .await
        .expect("notifications consumer");

        let (stop_search, search_stopped) = oneshot::channel::<()>();
        let (stop_notifier, notifier_stopped) = oneshot::channel::<()>();
        let search_handler = search_example::subscriptions::OrdersRouter(SearchService::new(
            inbox.clone(),
            read_model.clone(),
        ));
        let notifications_handler =
            notifications_example::subscriptions::OrdersRouter(notifications.clone());
        let search_run = search.run(&search_handler, async {
            let _ = search_stopped.await;
        });
        let notifier_run = notifier.run(&notifications_handler, async {
            let _ = notifier_stopped.await;
        });
        let watch = async {
            // Until the read model and the notifications hold everything, then stop both.
            loop {
                let entries = read_model.all().await.expect("read model");
                let recorded = notifications.all().await.expect("notifications");
                let done = entries.len() == 4
                    && entries.iter().any(|e| e.status == OrderStatus::Completed)
                    && recorded.len() == 4 + 2 + 1;
                if done {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let _ = stop_search.send(());
            let _ = stop_notifier.send(());
        };
        let (search_report, notifier_report, ()) = tokio::join!(search_run, notifier_run, watch);
        let search_report: ConsumerReport = search_report.expect("search ran");
        let notifier_report: ConsumerReport = notifier_report.expect("notifications ran");
        // 4 created + 2 readied + 1 canceled + 1 completed; notifications skip completed.
        assert_eq!(search_report.handled, 8, "{search_report:?}");
        assert_eq!(notifier_report.handled, 7, "{notifier_report:?}");
        assert_eq!(
            search_report.dead_lettered + notifier_report.dead_lettered,
            0
        );

        assert_final(&read_model, &ids).await;
        assert_notified(&notifications, &ids).await;
        schemas.drop_all().await;
    })
    .await
    .expect("bounded");
}

/// The consuming services on SQLite files, as `search-example` and `notifications-example` run
/// with `sqlite://` URLs: the search service applies every event once through
/// `run_with_inbox` and the SQLite inbox, each message id recorded once; the notifications
/// service records one notification per event it subscribes to.
#[tokio::test(flavor = "current_thread")]
async fn search_and_notifications_on_sqlite_see_every_event_once() {
    tokio::time::timeout(LIMIT, async {
        let (_server, jetstream) = broker().await;
        let dir = tempfile::tempdir().expect("temporary directory");
        let open = async |file: &str| {
            let url = format!("sqlite://{}/{file}", dir.path().display());
            sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(eventmap::sqlite::connect_options(&url).expect("SQLite URL"))
                .await
                .expect("SQLite database")
        };
        let pool = open("search.db").await;
        let notifications =
            NotificationService::new(open("notifications.db").await, "notifications")
                .await
                .expect("notifications");
        let read_model = ReadModel::new(pool.clone(), "search")
            .await
            .expect("read model");
        let inbox = eventmap::sqlite::Inbox::new(pool.clone())
            .await
            .expect("inbox");
        let ids = place_orders(&jetstream).await;

        let spec = search_example::subscriptions::subscriptions::orders::spec();
        let consumer = Consumer::<OrdersEvent>::start(&jetstream, &spec)
            .await
            .expect("search consumer");
        let recorded = async || -> i64 {
            sqlx::query_scalar("SELECT count(*) FROM eventmap_inbox WHERE consumer = $1")
                .bind(spec.durable())
                .fetch_one(&pool)
                .await
                .expect("inbox rows")
        };
        // Until the inbox holds the eight message ids: 4 created + 2 readied + 1 canceled +
        // 1 completed.
        let drained = async {
            while recorded().await < 8 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        let handler = SearchService::new(inbox.clone(), read_model.clone());
        let notifier = Consumer::<notifications_example::subscriptions::OrdersEvent>::start(
            &jetstream,
            &notifications_example::subscriptions::subscriptions::orders::spec(),
        )
        .await
        .expect("notifications consumer");
        let notified = async {
            while notifications.all().await.expect("notifications").len() < 7 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        let notifications_handler =
            notifications_example::subscriptions::OrdersRouter(notifications.clone());
        let (report, notifier_report) = tokio::join!(
            consumer.run_with_inbox(&inbox, &handler, drained),
            notifier.run(&notifications_handler, notified),
        );
        assert_eq!(
            report.expect("search ran"),
            ConsumerReport {
                handled: 8,
                ..ConsumerReport::default()
            }
        );
        assert_eq!(notifier_report.expect("notifications ran").handled, 7);
        assert_eq!(recorded().await, 8);
        assert_final(&read_model, &ids).await;
        assert_notified(&notifications, &ids).await;
    })
    .await
    .expect("bounded");
}
