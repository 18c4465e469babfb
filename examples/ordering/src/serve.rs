//! `ordering-example serve`: the ordering service as a process of its own. gRPC calls run
//! commands on the Order aggregate; the saved domain events become integration events on
//! JetStream, either dispatched after save (in-memory store) or through the transactional
//! outbox of the Postgres or SQLite store and a relay running in the same process (features
//! `postgres`, `sqlite`).
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
    /// The SQLite event store in the file `database_url` names (created if missing, kept)
    /// with the transactional outbox, and a relay publishing the outbox to JetStream, woken
    /// by each commit (feature `sqlite`).
    #[cfg(feature = "sqlite")]
    Sqlite {
        /// `sqlite://path/to/file.db`
        database_url: String,
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
    /// The event store (Postgres or SQLite) or its relay failed.
    #[cfg(any(feature = "postgres", feature = "sqlite"))]
    #[error("event store: {0}")]
    Store(#[from] crate::outbox::Error),
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
    Postgres(Box<outboxed::Outboxed<eventmap::postgres::PostgresStore, eventmap::postgres::Relay>>),
    #[cfg(feature = "sqlite")]
    Sqlite(Box<outboxed::Outboxed<eventmap::sqlite::SqliteStore, eventmap::sqlite::Relay>>),
}

impl Service {
    /// Provisions the streams of the channels on `nats`'s JetStream, registers the contracts
    /// of the integration events in the contract registry (before anything is published, so
    /// that consumers judge them), and opens the store of
    /// `backend` (for Postgres and SQLite: runs the migrations and prepares the relay).
    /// `log` receives a line per step.
    ///
    /// # Errors
    /// [`ServeError::Provision`], [`ServeError::Registry`], or `ServeError::Store` when the
    /// database cannot be reached or migrated.
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
                outboxed::open_postgres(&context, publisher, &database_url, schema, log).await?,
            )),
            #[cfg(feature = "sqlite")]
            Backend::Sqlite { database_url } => Store::Sqlite(Box::new(
                outboxed::open_sqlite(publisher, &database_url, log).await?,
            )),
        };
        Ok(Service { store })
    }

    /// Serves the gRPC API on `listener` until `shutdown` completes, then finishes the calls
    /// in progress and returns (with an outbox: after the relay published what is left in it,
    /// for at most a few seconds).
    ///
    /// # Errors
    /// [`ServeError::Transport`] when the server fails; `ServeError::Store` when the relay
    /// task died.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ServeError> {
        match self.store {
            Store::Memory(commands) => run_server(listener, commands, shutdown).await,
            #[cfg(feature = "postgres")]
            Store::Postgres(outboxed) => outboxed.serve(listener, shutdown).await,
            #[cfg(feature = "sqlite")]
            Store::Sqlite(outboxed) => outboxed.serve(listener, shutdown).await,
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

#[cfg(any(feature = "postgres", feature = "sqlite"))]
mod outboxed {
    use std::future::Future;
    use std::time::Duration;

    use eventmap::AggregateStore;
    use tokio::net::TcpListener;

    use super::{ServeError, run_server};
    use crate::application::OrderingService;
    use crate::domain::order::Order;
    use crate::outbox::{self, OutboxRelay};

    /// How long a shutdown waits for the relay to publish what is left in the outbox.
    const DRAIN: Duration = Duration::from_secs(5);

    /// A store with its outbox, and the relay that publishes the outbox.
    #[derive(Debug)]
    pub(super) struct Outboxed<S, R> {
        store: S,
        relay: R,
        database: Database,
    }

    /// The database of the run, and what is done with it at shutdown.
    #[derive(Debug)]
    enum Database {
        /// A Postgres schema: dropped at shutdown when `ephemeral` and drained.
        #[cfg(feature = "postgres")]
        Postgres {
            pool: eventmap::postgres::sqlx::PgPool,
            schema: String,
            ephemeral: bool,
        },
        /// An SQLite file: kept.
        #[cfg(feature = "sqlite")]
        Sqlite {
            pool: eventmap::sqlite::sqlx::SqlitePool,
        },
    }

    /// The Postgres store on `schema` (or a new schema of this run) with its relay.
    #[cfg(feature = "postgres")]
    pub(super) async fn open_postgres(
        context: &async_nats::jetstream::Context,
        publisher: std::sync::Arc<eventmap::nats::JetStreamPublisher>,
        database_url: &str,
        schema: Option<String>,
        log: &mut dyn FnMut(String),
    ) -> Result<Outboxed<eventmap::postgres::PostgresStore, eventmap::postgres::Relay>, ServeError>
    {
        use eventmap::postgres::sqlx::postgres::PgPoolOptions;
        use eventmap::postgres::{Error, OutboxWriter, PostgresStore, Relay, RelayConfig};

        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(eventmap::postgres::connect_options(database_url).map_err(Error::from)?)
            .await
            .map_err(Error::from)?;
        let ephemeral = schema.is_none();
        let schema = schema.unwrap_or_else(|| format!("ordering_serve_{}", crate::demo::run_id()));
        let store = PostgresStore::builder(pool.clone())
            .schema(schema.clone())
            .registry(crate::demo::event_registry().map_err(Error::from)?)
            .outbox(crate::demo::glue(OutboxWriter::shared()))
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
                crate::integration_events::channels::ALL
                    .iter()
                    .map(|c| c.stream),
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
            store,
            relay,
            database: Database::Postgres {
                pool,
                schema,
                ephemeral,
            },
        })
    }

    /// The SQLite store in the file `database_url` names, with its relay.
    #[cfg(feature = "sqlite")]
    pub(super) async fn open_sqlite(
        publisher: std::sync::Arc<eventmap::nats::JetStreamPublisher>,
        database_url: &str,
        log: &mut dyn FnMut(String),
    ) -> Result<Outboxed<eventmap::sqlite::SqliteStore, eventmap::sqlite::Relay>, ServeError> {
        use eventmap::sqlite::{OutboxWriter, Relay, RelayConfig, SqliteStore};

        let pool = eventmap::sqlite::connect(database_url).await?;
        let store = SqliteStore::builder(pool.clone())
            .registry(crate::demo::event_registry().map_err(outbox::Error::from)?)
            .outbox(crate::demo::glue(OutboxWriter::shared()))
            .build()
            .await?;
        let relay = Relay::new(pool.clone(), publisher, RelayConfig::default()).await?;
        log(format!(
            "store: SQLite file `{}` (WAL); integration events go through the transactional \
             outbox and a relay",
            pool.connect_options().get_filename().display()
        ));
        Ok(Outboxed {
            store,
            relay,
            database: Database::Sqlite { pool },
        })
    }

    impl<S: AggregateStore<Order> + 'static, R: OutboxRelay> Outboxed<S, R> {
        /// Serves with the relay running beside; at shutdown, waits (at most [`DRAIN`]) for
        /// the relay to publish what is left.
        pub(super) async fn serve(
            self,
            listener: TcpListener,
            shutdown: impl Future<Output = ()> + Send,
        ) -> Result<(), ServeError> {
            let Outboxed {
                store,
                relay,
                database,
            } = self;
            let relaying = relay.spawn();
            let served = run_server(listener, OrderingService::new(store), shutdown).await;
            let left = outbox::drain(&relay, DRAIN).await;
            let relayed = relaying.stop().await;
            if let Err(e) = &left {
                tracing::warn!(error = %e, "cannot read the outbox backlog");
            }
            database.close(left.ok()).await;
            served?;
            relayed?;
            Ok(())
        }
    }

    impl Database {
        /// Closes the pool; drops an ephemeral Postgres schema when `left` says the outbox
        /// was drained.
        async fn close(self, left: Option<u64>) {
            match self {
                #[cfg(feature = "postgres")]
                Database::Postgres {
                    pool,
                    schema,
                    ephemeral,
                } => {
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
                        None => tracing::warn!(
                            schema,
                            "cannot read the outbox backlog; the schema is kept"
                        ),
                    }
                    pool.close().await;
                }
                #[cfg(feature = "sqlite")]
                Database::Sqlite { pool } => {
                    if let Some(rows @ 1..) = left {
                        tracing::warn!(
                            rows,
                            "outbox rows still unpublished at shutdown; the next start relays them"
                        );
                    }
                    pool.close().await;
                }
            }
        }
    }
}
