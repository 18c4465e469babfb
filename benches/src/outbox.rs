//! The Postgres side of the relay benchmark: a fresh schema with the event store and its
//! transactional outbox, filled through the store API with the ordering example's events.

use std::sync::Arc;
use std::time::Duration;

use eventmap::postgres::sqlx::postgres::{PgPool, PgPoolOptions};
use eventmap::postgres::sqlx::{self, Row};
use eventmap::postgres::{OutboxWriter, PostgresStore, Relay, RelayConfig};
use eventmap::{Aggregate, AggregateRoot, EventDispatcher, IntegrationMessage, Publisher};
use ordering_example::domain::events::{OrderCanceled, OrderCompleted, OrderReadied};
use ordering_example::domain::ids::{CustomerId, InvoiceId, PaymentId};
use ordering_example::domain::money::Money;
use uuid::Uuid;

use crate::ordering;

/// Why a step of the relay benchmark failed.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// The store, the outbox or the relay failed.
    #[error(transparent)]
    Store(#[from] eventmap::postgres::Error),
    /// A statement of the benchmark itself failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The ordering example's event registry could not be built.
    #[error(transparent)]
    Registry(#[from] eventmap::postgres::RegistryError),
    /// An outbox row's headers are not `[[name, value], ...]`.
    #[error("outbox row {id}: headers are not [[name, value], ...]: {source}")]
    Headers {
        /// The row id.
        id: i64,
        /// The JSON error.
        source: serde_json::Error,
    },
}

/// The default of [`database_url`]: the machine's `postgres` database (trust auth, user
/// postgres) over plain TCP on loopback. `sslmode=disable`: with sqlx's default (`prefer`) a
/// server with TLS on (Debian's default) encrypts every round trip, and on loopback that
/// measures rustls, not eventmap (the inbox with one `INSERT` per event lost 14-21% to it,
/// see BENCHMARKS.md).
pub const DEFAULT_DATABASE_URL: &str =
    "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable";

/// `DATABASE_URL`, by default [`DEFAULT_DATABASE_URL`].
pub fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned())
}

/// A connection pool on [`database_url`] with at most `connections` connections.
///
/// # Errors
///
/// When the server cannot be reached within 10 s.
pub async fn connect(connections: u32) -> Result<PgPool, OutboxError> {
    Ok(PgPoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect(&database_url())
        .await?)
}

/// An order of the ordering example as the benchmark appends it: the four events of
/// [`ordering::sample_events`] (created, readied, canceled, completed), one or several per
/// save, with the example's aggregate name so that the generated handlers convert them.
#[derive(Debug, Clone)]
pub struct BenchOrder {
    root: AggregateRoot,
}

impl Aggregate for BenchOrder {
    const NAME: &'static str = "Order";
    fn root(&self) -> &AggregateRoot {
        &self.root
    }
    fn root_mut(&mut self) -> &mut AggregateRoot {
        &mut self.root
    }
}

impl BenchOrder {
    /// A new order `id` at version 0.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            root: AggregateRoot::new(id),
        }
    }

    /// Order `id` as loaded at `stored_version` (its events up to it stored), no pending
    /// events.
    pub fn restored(id: impl Into<String>, stored_version: u64) -> Self {
        Self {
            root: AggregateRoot::restored(id, stored_version),
        }
    }

    /// Records the order's next event (version 1 to 4: created, readied, canceled,
    /// completed; after that, completed again). Returns the new version.
    pub fn record_next(&mut self) -> u64 {
        let customer = || CustomerId::new("customer-0001");
        let payment = || PaymentId::new("payment-0001");
        match self.root.version() {
            0 => self.root.record(Self::NAME, ordering::order_created()),
            1 => self.root.record(
                Self::NAME,
                OrderReadied {
                    customer_id: customer(),
                    payment_id: payment(),
                    total: Money::new(1_125, "EUR"),
                },
            ),
            2 => self.root.record(
                Self::NAME,
                OrderCanceled {
                    customer_id: customer(),
                    payment_id: payment(),
                    reason: "out of stock".to_owned(),
                },
            ),
            _ => self.root.record(
                Self::NAME,
                OrderCompleted {
                    customer_id: customer(),
                    invoice_id: InvoiceId::new("invoice-0001"),
                },
            ),
        }
        self.root.version()
    }

    /// Marks the pending events stored (after the commit).
    pub fn committed(&mut self) {
        self.root.take_pending();
    }
}

/// A fresh schema holding the store and its outbox; [`OutboxDb::drop_schema`] removes it.
#[derive(Debug)]
pub struct OutboxDb {
    pool: PgPool,
    schema: String,
    store: PostgresStore,
}

impl OutboxDb {
    /// Creates schema `<prefix>_<random>` on `pool` with the store's tables, the store
    /// writing the ordering example's integration messages (generated handlers on
    /// [`OutboxWriter`]) to the outbox.
    ///
    /// # Errors
    ///
    /// [`OutboxError::Store`] when the migrations fail.
    pub async fn create(pool: PgPool, prefix: &str) -> Result<Self, OutboxError> {
        let schema = format!("{prefix}_{}", &Uuid::new_v4().simple().to_string()[..12]);
        Self::open(pool, schema).await
    }

    /// The store on an existing (or new) schema `schema`.
    ///
    /// # Errors
    ///
    /// [`OutboxError::Store`] when the migrations fail.
    pub async fn open(pool: PgPool, schema: String) -> Result<Self, OutboxError> {
        let mut outbox = EventDispatcher::new();
        ordering_example::integration_events::register_integration_event_handlers(
            &mut outbox,
            OutboxWriter::shared(),
        );
        let store = PostgresStore::builder(pool.clone())
            .schema(schema.clone())
            .registry(ordering_example::demo::event_registry()?)
            .outbox(outbox)
            .build()
            .await?;
        Ok(Self {
            pool,
            schema,
            store,
        })
    }

    /// The schema name.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The store.
    pub fn store(&self) -> &PostgresStore {
        &self.store
    }

    /// A relay on this schema, publishing through `publisher`, with `config`'s other
    /// settings.
    ///
    /// # Errors
    ///
    /// [`OutboxError::Store`].
    pub async fn relay(
        &self,
        publisher: Arc<dyn Publisher>,
        config: RelayConfig,
    ) -> Result<Relay, OutboxError> {
        Ok(Relay::new(
            self.pool.clone(),
            publisher,
            config.schema(self.schema.clone()),
        )
        .await?)
    }

    /// Appends `count` events through the store API: orders `order-<first>`, ... with their
    /// four events each (one `append` per order), `per_transaction` events (whole orders)
    /// per transaction, `writers` transactions at once (disjoint orders; each order's rows
    /// are adjacent in the outbox).
    ///
    /// # Errors
    ///
    /// [`OutboxError::Store`].
    pub async fn fill(
        &self,
        count: usize,
        first: usize,
        per_transaction: usize,
        writers: usize,
    ) -> Result<(), OutboxError> {
        let orders = count.div_ceil(4);
        let per_writer = orders.div_ceil(writers.max(1)).max(1);
        let ranges = (0..orders).step_by(per_writer).map(|start| {
            let end = (start + per_writer).min(orders);
            // Events of orders start..end (the last order may have fewer than four).
            let events = (end * 4).min(count) - start * 4;
            self.fill_orders(first + start, events, per_transaction)
        });
        futures::future::try_join_all(ranges).await?;
        Ok(())
    }

    /// One writer of [`fill`](Self::fill): `count` events on orders from `order-<first>`.
    async fn fill_orders(
        &self,
        first: usize,
        count: usize,
        per_transaction: usize,
    ) -> Result<(), OutboxError> {
        let orders_per_transaction = per_transaction.div_ceil(4).max(1);
        let mut appended = 0;
        let mut next = first;
        while appended < count {
            let mut tx = self.store.begin().await?;
            for _ in 0..orders_per_transaction {
                if appended >= count {
                    break;
                }
                let mut order = BenchOrder::new(format!("order-{next}"));
                next += 1;
                while order.root.version() < 4 && appended < count {
                    order.record_next();
                    appended += 1;
                }
                tx.append(&order).await?;
            }
            tx.commit().await?;
        }
        Ok(())
    }

    /// The messages of the outbox in id order, as the relay sends them, each with a new
    /// id (`Nats-Msg-Id`, same length): the baseline publishes the same bytes without being
    /// dropped as duplicates of the relay's.
    ///
    /// # Errors
    ///
    /// [`OutboxError::Database`] or [`OutboxError::Headers`].
    pub async fn messages(&self) -> Result<Vec<IntegrationMessage>, OutboxError> {
        let rows = sqlx::query(&format!(
            "SELECT id, subject, name, headers, payload \
             FROM \"{}\".eventmap_outbox ORDER BY id",
            self.schema
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let id: i64 = row.try_get("id")?;
                let headers: String = row.try_get("headers")?;
                let payload: Vec<u8> = row.try_get("payload")?;
                Ok(IntegrationMessage {
                    id: Uuid::new_v4(),
                    name: row.try_get("name")?,
                    subject: row.try_get("subject")?,
                    payload: payload.into(),
                    headers: serde_json::from_str(&headers)
                        .map_err(|source| OutboxError::Headers { id, source })?,
                })
            })
            .collect()
    }

    /// Unpublished rows of the outbox.
    ///
    /// # Errors
    ///
    /// [`OutboxError::Database`].
    pub async fn unpublished(&self) -> Result<i64, OutboxError> {
        Ok(sqlx::query_scalar(&format!(
            "SELECT count(*) FROM \"{}\".eventmap_outbox WHERE published_at IS NULL",
            self.schema
        ))
        .fetch_one(&self.pool)
        .await?)
    }

    /// Drops the schema and everything in it.
    ///
    /// # Errors
    ///
    /// [`OutboxError::Database`].
    pub async fn drop_schema(self) -> Result<(), OutboxError> {
        drop_schema(&self.pool, &self.schema).await
    }
}

/// Drops schema `schema` (if it exists) and everything in it.
///
/// # Errors
///
/// [`OutboxError::Database`].
pub async fn drop_schema(pool: &PgPool, schema: &str) -> Result<(), OutboxError> {
    sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
        .execute(pool)
        .await?;
    Ok(())
}
