//! The example flow: commands on Order aggregates -> domain events saved and dispatched ->
//! integration handlers generated from `mappings.yaml` -> NATS JetStream -> the search and
//! notification consumers, typed. Also runnable on the in-memory publisher.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use eventmap::nats::{Consumer, ConsumerSpec, Deliveries, JetStreamPublisher, provision_streams};
use eventmap::{
    DispatchingStore, InMemoryPublisher, InMemoryStore, IntegrationEventSet, IntegrationMessage,
    PublishError, PublishReceipt, Publisher,
};

use crate::application::{CommandError, CreateOrder, OrderingService};
use crate::consumers::{NOTIFICATION_EVENTS, SearchIndex, notification};
use crate::domain::events::OrderItem;
use crate::domain::ids::{CustomerId, InvoiceId, PaymentId, ProductId, StoreId};
use crate::domain::money::Money;
use crate::domain::order::Order;
use crate::integration_events::{self, OrderIntegrationEvent};
use crate::sample::{self, Step};

/// Why the demo could not run to the end.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// A command failed (including a failed publish after save).
    #[error("command failed: {0}")]
    Command(#[from] CommandError),
    /// Talking to JetStream failed.
    #[error("JetStream: {0}")]
    Broker(String),
    /// The event store (Postgres or SQLite) or its relay failed.
    #[error("event store: {0}")]
    Store(String),
    /// A consumer could not decode or acknowledge a message.
    #[error("consumer `{consumer}`: {message}")]
    Consumer {
        /// Which consumer.
        consumer: &'static str,
        /// What went wrong.
        message: String,
    },
}

/// One integration event the publisher got an acknowledgement for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Published {
    /// `ce-id`.
    pub id: String,
    /// `ce-type`.
    pub name: String,
}

/// What a demo run published and what each consumer received.
#[derive(Debug, Default)]
pub struct Report {
    /// Every acknowledged publish, in order.
    pub published: Vec<Published>,
    /// Ids the search consumer received (of this run).
    pub search: BTreeSet<String>,
    /// Ids the notification consumer received (of this run).
    pub notifications: BTreeSet<String>,
    /// The search read model at the end.
    pub index: SearchIndex,
}

impl Report {
    /// Published events that a consumer subscribed to them did not receive, as
    /// `consumer: name id`.
    pub fn missing(&self) -> Vec<String> {
        let mut missing = Vec::new();
        for p in &self.published {
            if !self.search.contains(&p.id) {
                missing.push(format!("search: {} {}", p.name, p.id));
            }
            if NOTIFICATION_EVENTS.contains(&p.name.as_str()) && !self.notifications.contains(&p.id)
            {
                missing.push(format!("notifications: {} {}", p.name, p.id));
            }
        }
        missing
    }
}

/// A publisher decorator that remembers every message its inner publisher got an
/// acknowledgement for: what the consumers must receive.
struct RecordingPublisher {
    inner: Arc<dyn Publisher>,
    published: Mutex<Vec<Published>>,
}

#[async_trait::async_trait]
impl Publisher for RecordingPublisher {
    async fn publish(&self, message: &IntegrationMessage) -> Result<PublishReceipt, PublishError> {
        let receipt = self.inner.publish(message).await?;
        self.published
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Published {
                id: message.id.to_string(),
                name: message.name.clone(),
            });
        Ok(receipt)
    }
}

impl RecordingPublisher {
    /// A recorder of what JetStream acknowledges on `context`.
    #[cfg(any(feature = "postgres", feature = "sqlite"))]
    fn on(context: &async_nats::jetstream::Context) -> Arc<Self> {
        Arc::new(Self {
            inner: Arc::new(JetStreamPublisher::new(context.clone())),
            published: Mutex::new(Vec::new()),
        })
    }

    fn take(&self) -> Vec<Published> {
        std::mem::take(
            &mut *self
                .published
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }
}

/// Runs the commands of the demo ([`sample::ORDERS`] then [`sample::STEPS`]), each command
/// saved through the dispatching store.
async fn place_orders<S: eventmap::AggregateStore<Order>>(
    service: &OrderingService<S>,
    run: &str,
    log: &mut dyn FnMut(String),
) -> Result<(), CommandError> {
    for (n, order) in sample::ORDERS.iter().enumerate().map(|(i, o)| (i + 1, o)) {
        let order_id = sample::order_id(run, n);
        let items = order
            .lines
            .iter()
            .map(|line| OrderItem {
                product_id: ProductId::new(line.product_id),
                store_id: StoreId::new(sample::STORE),
                product_name: line.product_name.to_owned(),
                unit_price: Money::new(line.unit_price_cents, sample::CURRENCY),
                quantity: line.quantity,
            })
            .collect();
        service
            .create_order(CreateOrder {
                order_id: order_id.clone(),
                customer_id: CustomerId::new(order.customer),
                payment_id: PaymentId::new(sample::payment_id(run, n)),
                items,
            })
            .await?;
        log(format!(
            "command: CreateOrder {order_id} for {}",
            order.customer
        ));
    }
    for step in sample::STEPS {
        match step {
            Step::Ready(n) => {
                let id = sample::order_id(run, n);
                service.ready_order(&id).await?;
                log(format!("command: ReadyOrder {id}"));
            }
            Step::Cancel(n, reason) => {
                let id = sample::order_id(run, n);
                service.cancel_order(&id, reason).await?;
                log(format!("command: CancelOrder {id}"));
            }
            Step::Complete(n, invoice) => {
                let id = sample::order_id(run, n);
                service
                    .complete_order(&id, InvoiceId::new(sample::invoice_id(invoice, run)))
                    .await?;
                log(format!("command: CompleteOrder {id}"));
            }
        }
    }
    Ok(())
}

/// What hands saved events to the integration handlers: the router generated from the table
/// (a `match` on the event's type and name, no lookups).
#[cfg(not(feature = "derive"))]
pub type Glue = integration_events::DomainEventRouter;
/// What hands saved events to the integration handlers: with the `derive` feature the module
/// has no converters, so no router; the dispatcher with the table registered.
#[cfg(feature = "derive")]
pub type Glue = eventmap::EventDispatcher;

/// The [`Glue`] of the table, its integration handlers publishing through `publisher`.
pub fn glue(publisher: Arc<dyn Publisher>) -> Glue {
    #[cfg(not(feature = "derive"))]
    let glue = integration_events::DomainEventRouter::new(publisher);
    #[cfg(feature = "derive")]
    let glue = {
        let mut dispatcher = eventmap::EventDispatcher::new();
        integration_events::register_integration_event_handlers(&mut dispatcher, publisher);
        dispatcher
    };
    glue
}

/// The in-memory store that hands each saved event to the table's [`Glue`].
pub type MemoryStore = DispatchingStore<InMemoryStore<Order>, Glue>;

/// A command service on the in-memory store that hands the saved events to the table's
/// [`Glue`], whose integration handlers publish through `publisher`.
pub fn service_with(publisher: Arc<dyn Publisher>) -> OrderingService<MemoryStore> {
    OrderingService::new(DispatchingStore::new(
        InMemoryStore::new(),
        Arc::new(glue(publisher)),
    ))
}

/// A short random id that keeps this run's orders apart from earlier runs on the same stream.
pub fn run_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_owned()
}

/// Runs the flow on JetStream: provisions the channel streams, starts the search and
/// notification consumers (durable pull consumers named after `run`, deleted at the end),
/// places the orders, and waits (at most `wait`) until both consumers received every event
/// published for them. `log` receives one line per step.
///
/// # Errors
/// [`DemoError`] when a command, the broker or a consumer fails. Events not received in time
/// are not an error: they are in [`Report::missing`].
pub async fn run_on_jetstream(
    client: async_nats::Client,
    run: &str,
    wait: Duration,
    log: &mut dyn FnMut(String),
) -> Result<Report, DemoError> {
    let context = async_nats::jetstream::new(client);
    let consumers = Consumers::start(&context, run).await?;
    let recorder = Arc::new(RecordingPublisher {
        inner: Arc::new(JetStreamPublisher::new(context.clone())),
        published: Mutex::new(Vec::new()),
    });
    let service = service_with(recorder.clone());
    place_orders(&service, run, log).await?;
    let published = recorder.take();
    log(format!(
        "published {} integration events, acknowledged by JetStream",
        published.len()
    ));
    consumers.receive_all(&context, published, wait, log).await
}

/// The search and notification consumers of one run.
struct Consumers {
    search: Deliveries<OrderIntegrationEvent>,
    notifications: Deliveries<OrderIntegrationEvent>,
    names: [String; 2],
}

impl Consumers {
    /// Provisions the channel streams, registers the contracts of what the demo publishes
    /// (the consumers' guards judge them) and starts both consumers.
    async fn start(context: &async_nats::jetstream::Context, run: &str) -> Result<Self, DemoError> {
        provision_streams(context, integration_events::channels::ALL)
            .await
            .map_err(|e| DemoError::Broker(e.to_string()))?;
        eventmap::nats::ContractRegistry::open(context)
            .await
            .map_err(|e| DemoError::Broker(e.to_string()))?
            .register(integration_events::contracts::PUBLISHED)
            .await
            .map_err(|e| DemoError::Broker(e.to_string()))?;
        let search_name = format!("search-demo-{run}");
        let notifications_name = format!("notifications-demo-{run}");
        let search = Consumer::<OrderIntegrationEvent>::start(
            context,
            &ConsumerSpec::new(&*search_name, &[]),
        )
        .await
        .map_err(|e| DemoError::Broker(e.to_string()))?
        .deliveries();
        let notifications = Consumer::<OrderIntegrationEvent>::start(
            context,
            &ConsumerSpec::new(&*notifications_name, NOTIFICATION_EVENTS),
        )
        .await
        .map_err(|e| DemoError::Broker(e.to_string()))?
        .deliveries();
        Ok(Self {
            search,
            notifications,
            names: [search_name, notifications_name],
        })
    }

    /// Waits (at most `wait`) until both consumers received every event of `published` meant
    /// for them, then deletes the consumers.
    async fn receive_all(
        mut self,
        context: &async_nats::jetstream::Context,
        published: Vec<Published>,
        wait: Duration,
        log: &mut dyn FnMut(String),
    ) -> Result<Report, DemoError> {
        let mut report = Report {
            published,
            ..Report::default()
        };
        let wanted_search: BTreeSet<String> =
            report.published.iter().map(|p| p.id.clone()).collect();
        let wanted_notifications: BTreeSet<String> = report
            .published
            .iter()
            .filter(|p| NOTIFICATION_EVENTS.contains(&p.name.as_str()))
            .map(|p| p.id.clone())
            .collect();
        let deadline = tokio::time::Instant::now() + wait;
        let mut index = SearchIndex::default();
        let received = receive(
            &mut self.search,
            "search",
            &wanted_search,
            deadline,
            log,
            |event| index.apply(event),
        )
        .await?;
        report.search = received;
        report.index = index;
        report.notifications = receive(
            &mut self.notifications,
            "notifications",
            &wanted_notifications,
            deadline,
            log,
            notification,
        )
        .await?;

        for name in &self.names {
            if let Ok(stream) = context
                .get_stream(integration_events::channels::ORDER.stream)
                .await
            {
                let _ = stream.delete_consumer(name).await;
            }
        }
        Ok(report)
    }
}

/// Receives from `deliveries` until every id of `wanted` arrived or `deadline` passed;
/// acknowledges every message after `handle` ran. Returns the wanted ids received.
async fn receive(
    deliveries: &mut Deliveries<OrderIntegrationEvent>,
    consumer: &'static str,
    wanted: &BTreeSet<String>,
    deadline: tokio::time::Instant,
    log: &mut dyn FnMut(String),
    mut handle: impl FnMut(&OrderIntegrationEvent) -> String,
) -> Result<BTreeSet<String>, DemoError> {
    let mut received = BTreeSet::new();
    while received.len() < wanted.len() {
        let next = tokio::time::timeout_at(deadline, deliveries.next()).await;
        let delivery = match next {
            Err(_) | Ok(None) => break,
            Ok(Some(Err(e))) => {
                return Err(DemoError::Consumer {
                    consumer,
                    message: e.to_string(),
                });
            }
            Ok(Some(Ok(delivery))) => delivery,
        };
        if wanted.contains(delivery.id()) {
            let line = handle(&delivery.event);
            log(format!(
                "{consumer}: {} (seq {}, {} v{}): {line}",
                delivery.event.name(),
                delivery.stream_sequence,
                delivery.aggregate_id(),
                delivery.aggregate_version
            ));
            received.insert(delivery.id().to_owned());
        }
        delivery.ack().await.map_err(|e| DemoError::Consumer {
            consumer,
            message: e.to_string(),
        })?;
    }
    Ok(received)
}

/// The domain event types the Postgres or SQLite store persists (as JSON), by name.
///
/// # Errors
/// A [`RegistryError`](crate::outbox::RegistryError) if a type were registered twice.
#[cfg(any(feature = "postgres", feature = "sqlite"))]
pub fn event_registry() -> Result<crate::outbox::EventRegistry, crate::outbox::RegistryError> {
    use crate::domain::events::{OrderCanceled, OrderCompleted, OrderCreated, OrderReadied};
    use crate::integration_events::domain_event_names as names;
    let mut registry = crate::outbox::EventRegistry::new();
    registry
        .register::<OrderCreated>(names::ORDER_CREATED)?
        .register::<OrderReadied>(names::ORDER_READIED)?
        .register::<OrderCanceled>(names::ORDER_CANCELED)?
        .register::<OrderCompleted>(names::ORDER_COMPLETED)?;
    Ok(registry)
}

/// Runs the flow on the event store `database_url` names (by its scheme, see
/// [`Database`](crate::outbox::Database)): [`run_on_postgres`] or [`run_on_sqlite`].
///
/// # Errors
/// [`DemoError::Store`] when the URL's scheme is neither, or its backend is not in this build
/// (its feature off); otherwise what the backend's run returns.
#[cfg(any(feature = "postgres", feature = "sqlite"))]
pub async fn run_on_database(
    client: async_nats::Client,
    database_url: &str,
    run: &str,
    wait: Duration,
    log: &mut dyn FnMut(String),
) -> Result<Report, DemoError> {
    use crate::outbox::Database;
    match Database::of_url(database_url) {
        #[cfg(feature = "postgres")]
        Some(Database::Postgres) => run_on_postgres(client, database_url, run, wait, log).await,
        #[cfg(feature = "sqlite")]
        Some(Database::Sqlite) => run_on_sqlite(client, database_url, run, wait, log).await,
        #[allow(unreachable_patterns)]
        Some(database) => Err(DemoError::Store(format!(
            "DATABASE_URL names a {database:?} database, but this build has no {} feature",
            database.feature()
        ))),
        None => Err(DemoError::Store(
            "DATABASE_URL is neither postgres://... nor sqlite://...".to_owned(),
        )),
    }
}

/// Runs the flow on the Postgres event store with the transactional outbox (feature
/// `postgres`): the orders are saved in a schema of their own (`ordering_demo_<run>`, dropped
/// at the end), their integration events written to the outbox in the same transactions, and
/// a relay publishes the outbox to JetStream, where the consumers receive them as in
/// [`run_on_jetstream`].
///
/// # Errors
/// [`DemoError`] when the database, a command, the broker or a consumer fails.
#[cfg(feature = "postgres")]
pub async fn run_on_postgres(
    client: async_nats::Client,
    database_url: &str,
    run: &str,
    wait: Duration,
    log: &mut dyn FnMut(String),
) -> Result<Report, DemoError> {
    use eventmap::postgres::sqlx::postgres::PgPoolOptions;
    use eventmap::postgres::{OutboxWriter, PostgresStore, Relay, RelayConfig};

    let context = async_nats::jetstream::new(client);
    let consumers = Consumers::start(&context, run).await?;
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(eventmap::postgres::connect_options(database_url).map_err(store_error)?)
        .await
        .map_err(store_error)?;
    let schema = format!("ordering_demo_{run}");
    let store = PostgresStore::builder(pool.clone())
        .schema(schema.clone())
        .registry(event_registry().map_err(store_error)?)
        .outbox(glue(OutboxWriter::shared()))
        .build()
        .await
        .map_err(store_error)?;
    log(format!(
        "store: PostgreSQL schema `{schema}`; integration events go through the transactional outbox"
    ));
    let recorder = RecordingPublisher::on(&context);
    let relay = Relay::new(
        pool.clone(),
        recorder.clone(),
        RelayConfig::default().schema(schema.clone()),
    )
    .await
    .map_err(store_error)?;
    relay
        .check_duplicate_windows(
            &context,
            integration_events::channels::ALL.iter().map(|c| c.stream),
        )
        .await;
    let outcome = run_outboxed(
        &context, consumers, store, &relay, &recorder, run, wait, log,
    )
    .await;
    let _ = eventmap::postgres::sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
        .execute(&pool)
        .await;
    pool.close().await;
    outcome
}

/// Runs the flow on the SQLite event store with the transactional outbox (feature `sqlite`):
/// as [`run_on_postgres`], in the file `database_url` names (`sqlite://path/to/file.db`,
/// created if missing and kept: the orders of each run have ids of their own), the relay
/// running in this process and woken by each commit.
///
/// # Errors
/// [`DemoError`] when the database, a command, the broker or a consumer fails.
#[cfg(feature = "sqlite")]
pub async fn run_on_sqlite(
    client: async_nats::Client,
    database_url: &str,
    run: &str,
    wait: Duration,
    log: &mut dyn FnMut(String),
) -> Result<Report, DemoError> {
    use eventmap::sqlite::{OutboxWriter, Relay, RelayConfig, SqliteStore};

    let context = async_nats::jetstream::new(client);
    let consumers = Consumers::start(&context, run).await?;
    let pool = eventmap::sqlite::connect(database_url)
        .await
        .map_err(store_error)?;
    let store = SqliteStore::builder(pool.clone())
        .registry(event_registry().map_err(store_error)?)
        .outbox(glue(OutboxWriter::shared()))
        .build()
        .await
        .map_err(store_error)?;
    log(format!(
        "store: SQLite file `{}` (WAL); integration events go through the transactional outbox",
        pool.connect_options().get_filename().display()
    ));
    let recorder = RecordingPublisher::on(&context);
    let relay = Relay::new(pool.clone(), recorder.clone(), RelayConfig::default())
        .await
        .map_err(store_error)?;
    let outcome = run_outboxed(
        &context, consumers, store, &relay, &recorder, run, wait, log,
    )
    .await;
    pool.close().await;
    outcome
}

#[cfg(any(feature = "postgres", feature = "sqlite"))]
fn store_error(error: impl std::error::Error + 'static) -> DemoError {
    DemoError::Store(eventmap::error::error_chain(&error))
}

/// The flow once the store and its relay are built, the same on both backends: the relay
/// runs while the orders are placed, until the outbox is drained (at most `wait`); the
/// consumers must then receive every event the broker acknowledged.
#[cfg(any(feature = "postgres", feature = "sqlite"))]
#[allow(clippy::too_many_arguments)]
async fn run_outboxed<S: eventmap::AggregateStore<Order> + 'static>(
    context: &async_nats::jetstream::Context,
    consumers: Consumers,
    store: S,
    relay: &impl crate::outbox::OutboxRelay,
    recorder: &RecordingPublisher,
    run: &str,
    wait: Duration,
    log: &mut dyn FnMut(String),
) -> Result<Report, DemoError> {
    let relaying = relay.spawn();
    let placed = place_orders(&OrderingService::new(store), run, log).await;
    let drained = match crate::outbox::drain(relay, wait).await {
        Ok(0) => Ok(()),
        Ok(left) => Err(DemoError::Store(format!(
            "{left} outbox rows still unpublished"
        ))),
        Err(e) => Err(store_error(e)),
    };
    if let Err(err) = relaying.stop().await {
        tracing::warn!(error = %err, "the relay stopped with an error");
    }
    placed?;
    drained?;
    let mut published = recorder.take();
    // A re-sent row is acknowledged again (as a duplicate): one event all the same.
    let mut seen = BTreeSet::new();
    published.retain(|p| seen.insert(p.id.clone()));
    log(format!(
        "relay published {} integration events from the outbox, acknowledged by JetStream",
        published.len()
    ));
    consumers.receive_all(context, published, wait, log).await
}

/// Runs the flow without a broker: the in-memory publisher keeps the encoded messages, and
/// both consumers decode them exactly as they would from JetStream.
///
/// # Errors
/// [`DemoError`] when a command fails or a message does not decode.
pub async fn run_in_memory(run: &str, log: &mut dyn FnMut(String)) -> Result<Report, DemoError> {
    let memory = InMemoryPublisher::new();
    let recorder = Arc::new(RecordingPublisher {
        inner: Arc::new(memory.clone()),
        published: Mutex::new(Vec::new()),
    });
    place_orders(&service_with(recorder.clone()), run, log).await?;
    let mut report = Report {
        published: recorder.take(),
        ..Report::default()
    };
    for message in memory.messages() {
        let event =
            OrderIntegrationEvent::decode(&message.name, &message.payload).map_err(|e| {
                DemoError::Consumer {
                    consumer: "search",
                    message: e.to_string(),
                }
            })?;
        log(format!(
            "search: {}: {}",
            message.name,
            report.index.apply(&event)
        ));
        report.search.insert(message.id.to_string());
        if NOTIFICATION_EVENTS.contains(&message.name.as_str()) {
            log(format!(
                "notifications: {}: {}",
                message.name,
                notification(&event)
            ));
            report.notifications.insert(message.id.to_string());
        }
    }
    Ok(report)
}

/// Runs `future` on a current-thread tokio runtime (faster and steadier than the
/// multi-thread one for this client on two cores).
///
/// # Errors
/// The I/O error when the runtime cannot be built.
pub fn block_on<F: Future>(future: F) -> std::io::Result<F::Output> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(future))
}
