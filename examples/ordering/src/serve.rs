//! `ordering-example serve`: the ordering service as a process of its own. gRPC calls run
//! commands on the Order aggregate; the saved domain events become integration events on
//! JetStream, either dispatched after save (in-memory store) or through the transactional
//! outbox of the Postgres store and a relay running in the same process (feature `postgres`).
//!
//! Two steps: [`Service::start`] provisions the streams and opens the store (everything that
//! can fail before a call is taken), [`Service::serve`] serves until shutdown.

use std::future::Future;
use std::sync::Arc;

use eventmap::AggregateStore;
use eventmap::nats::{
    ContractRegistry, JetStreamPublisher, ProvisionError, RegistryError, provision_streams,
};
use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

use crate::application::OrderingService;
use crate::domain::order::Order;
use crate::grpc::OrderingApi;
use crate::integration_events;

/// Where the service keeps its orders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// In memory (lost at exit); each save dispatches the new events to the integration
    /// handlers, which publish them to JetStream before the call answers.
    Memory,
    /// The Postgres event store at `database_url` with the transactional outbox, and a relay
    /// publishing the outbox to JetStream (feature `postgres`).
    #[cfg(feature = "postgres")]
    Postgres {
        /// `postgres://...`
        database_url: String,
        /// The schema of the store and outbox. `None`: a new schema of this run
        /// (`ordering_serve_<random>`), dropped at shutdown once the relay has published
        /// everything; a named schema is kept, and may be shared with other processes.
        schema: Option<String>,
    },
}

/// Why the service could not start, or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The JetStream streams of the channels could not be provisioned.
    #[error("cannot provision the JetStream streams: {0}")]
    Provision(#[from] ProvisionError),
    /// The contracts of the integration events could not be registered.
    #[error("cannot register the contracts: {0}")]
    Registry(#[from] RegistryError),
    /// The gRPC server failed.
    #[error("gRPC server: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// The Postgres store or its relay failed.
    #[cfg(feature = "postgres")]
    #[error("Postgres: {0}")]
    Postgres(#[from] eventmap::postgres::Error),
}

/// A started service: streams provisioned, store open, ready to [`serve`](Self::serve).
#[derive(Debug)]
pub struct Service {
    store: Store,
}

#[derive(Debug)]
enum Store {
    Memory(OrderingService<crate::demo::MemoryStore>),
    #[cfg(feature = "postgres")]
    Postgres(Box<postgres::Outboxed>),
}

impl Service {
    /// Provisions the streams of the channels on `nats`'s JetStream, registers the contracts
    /// of the integration events in the contract registry (before anything is published, so
    /// that consumers judge them), and opens the store of
    /// `backend` (for Postgres: runs the migrations of the schema and prepares the relay).
    /// `log` receives a line per step.
    ///
    /// # Errors
    /// [`ServeError::Provision`], [`ServeError::Registry`], or [`ServeError::Postgres`] when the database cannot be
    /// reached or migrated.
    pub async fn start(
        nats: async_nats::Client,
        backend: Backend,
        log: &mut dyn FnMut(String),
    ) -> Result<Service, ServeError> {
        let context = async_nats::jetstream::new(nats);
        provision_streams(&context, integration_events::channels::ALL).await?;
        for channel in integration_events::channels::ALL {
            log(format!(
                "stream {} provisioned for {}",
                channel.stream,
                channel.wildcard()
            ));
        }
        let contracts = integration_events::contracts::PUBLISHED;
        ContractRegistry::open(&context)
            .await?
            .register(contracts)
            .await?;
        for contract in contracts {
            log(format!(
                "contract of {} registered: {}",
                contract.event, contract.dataschema
            ));
        }
        let publisher = Arc::new(JetStreamPublisher::new(context.clone()));
        let store = match backend {
            Backend::Memory => {
                log("store: in memory; integration events are published after each save".into());
                Store::Memory(crate::demo::service_with(publisher))
            }
            #[cfg(feature = "postgres")]
            Backend::Postgres {
                database_url,
                schema,
            } => Store::Postgres(Box::new(
                postgres::Outboxed::open(&context, publisher, &database_url, schema, log).await?,
            )),
        };
        Ok(Service { store })
    }

    /// Serves the gRPC API on `listener` until `shutdown` completes, then finishes the calls
    /// in progress and returns (with Postgres: after the relay published what is left in the
    /// outbox, for at most a few seconds).
    ///
    /// # Errors
    /// [`ServeError::Transport`] when the server fails; [`ServeError::Postgres`] when the
    /// relay task died.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ServeError> {
        match self.store {
            Store::Memory(commands) => run_server(listener, commands, shutdown).await,
            #[cfg(feature = "postgres")]
            Store::Postgres(outboxed) => outboxed.serve(listener, shutdown).await,
        }
    }
}

async fn run_server<S: AggregateStore<Order> + 'static>(
    listener: TcpListener,
    commands: OrderingService<S>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    Server::builder()
        .serve_with_incoming_shutdown(
            OrderingApi::new(commands).into_server(),
            TcpIncoming::from(listener),
            shutdown,
        )
        .await?;
    Ok(())
}

#[cfg(feature = "postgres")]
mod postgres {
    use std::future::Future;
    use std::sync::Arc;
    use std::time::Duration;

    use eventmap::nats::JetStreamPublisher;
    use eventmap::postgres::sqlx::PgPool;
    use eventmap::postgres::sqlx::postgres::PgPoolOptions;
    use eventmap::postgres::{OutboxWriter, PostgresStore, Relay, RelayConfig};
    use tokio::net::TcpListener;

    use super::{ServeError, run_server};
    use crate::application::OrderingService;
    use crate::integration_events;

    /// How long a shutdown waits for the relay to publish what is left in the outbox.
    const DRAIN: Duration = Duration::from_secs(5);

    /// The Postgres store with its outbox, and the relay that publishes the outbox.
    #[derive(Debug)]
    pub(super) struct Outboxed {
        pool: PgPool,
        schema: String,
        ephemeral: bool,
        store: PostgresStore,
        relay: Relay,
    }

    impl Outboxed {
        pub(super) async fn open(
            context: &async_nats::jetstream::Context,
            publisher: Arc<JetStreamPublisher>,
            database_url: &str,
            schema: Option<String>,
            log: &mut dyn FnMut(String),
        ) -> Result<Outboxed, ServeError> {
            let pool = PgPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(
                    eventmap::postgres::connect_options(database_url)
                        .map_err(eventmap::postgres::Error::from)?,
                )
                .await
                .map_err(eventmap::postgres::Error::from)?;
            let ephemeral = schema.is_none();
            let schema =
                schema.unwrap_or_else(|| format!("ordering_serve_{}", crate::demo::run_id()));
            let outbox = crate::demo::glue(OutboxWriter::shared());
            let store = PostgresStore::builder(pool.clone())
                .schema(schema.clone())
                .registry(crate::demo::event_registry().map_err(eventmap::postgres::Error::from)?)
                .outbox(outbox)
                .build()
                .await?;
            let relay = Relay::new(
                pool.clone(),
                publisher,
                RelayConfig::default().schema(schema.clone()),
            )
            .await?;
            relay
                .check_duplicate_windows(
                    context,
                    integration_events::channels::ALL.iter().map(|c| c.stream),
                )
                .await;
            log(format!(
                "store: PostgreSQL schema `{schema}`{}; integration events go through the \
                 transactional outbox and a relay",
                if ephemeral {
                    " (dropped at shutdown)"
                } else {
                    ""
                }
            ));
            Ok(Outboxed {
                pool,
                schema,
                ephemeral,
                store,
                relay,
            })
        }

        pub(super) async fn serve(
            self,
            listener: TcpListener,
            shutdown: impl Future<Output = ()> + Send,
        ) -> Result<(), ServeError> {
            let Outboxed {
                pool,
                schema,
                ephemeral,
                store,
                relay,
            } = self;
            let relaying = relay.spawn();
            let served = run_server(listener, OrderingService::new(store), shutdown).await;
            let left = drain(&relay).await;
            let relayed = relaying.stop().await;
            match left {
                Some(0) if ephemeral => {
                    let drop_schema = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
                    if let Err(e) = eventmap::postgres::sqlx::query(&drop_schema)
                        .execute(&pool)
                        .await
                    {
                        tracing::warn!(error = %e, schema, "cannot drop the schema of this run");
                    }
                }
                Some(0) => {}
                Some(rows) => tracing::warn!(
                    schema,
                    rows,
                    "outbox rows still unpublished at shutdown; the schema is kept"
                ),
                None => {
                    tracing::warn!(schema, "cannot read the outbox backlog; the schema is kept")
                }
            }
            pool.close().await;
            served?;
            relayed?;
            Ok(())
        }
    }

    /// Waits (at most [`DRAIN`]) until the outbox is empty; returns the rows left, or `None`
    /// when the backlog cannot be read.
    async fn drain(relay: &Relay) -> Option<u64> {
        let deadline = tokio::time::Instant::now() + DRAIN;
        loop {
            match relay.backlog().await {
                Ok(0) => return Some(0),
                Ok(left) if tokio::time::Instant::now() >= deadline => return Some(left),
                Ok(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the outbox backlog");
                    return None;
                }
            }
        }
    }
}
