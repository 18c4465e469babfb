//! An order history in a Postgres schema of its own: what the backfill tests of this crate
//! and of `eventmap-ops` replay (feature `postgres`). Each order is one line of green tea from
//! `customer-1`, created (and readied, when asked) and saved through the event store, without
//! outbox: the history is all there is.

use eventmap::AggregateStore;
use eventmap::postgres::sqlx::PgPool;
use eventmap::postgres::sqlx::postgres::PgPoolOptions;
use eventmap::postgres::{Error, PostgresStore};

use crate::domain::events::OrderItem;
use crate::domain::ids::{CustomerId, PaymentId, ProductId, StoreId};
use crate::domain::money::Money;
use crate::domain::order::Order;
use crate::sample::{CURRENCY, STORE};

/// How many tasks save the orders of [`OrderHistory::save_orders`] at once.
const WRITERS: usize = 4;

/// A schema `<prefix>_<12 hex digits>` on the PostgreSQL at a URL, with the ordering event
/// store on it.
#[derive(Debug)]
pub struct OrderHistory {
    /// The pool the store uses (`max_connections` of [`OrderHistory::create`]).
    pub pool: PgPool,
    /// The schema's name.
    pub schema: String,
    /// The store, with the ordering registry ([`crate::demo::event_registry`]).
    pub store: PostgresStore,
}

impl OrderHistory {
    /// Connects to `database_url` (`max_connections` connections) and builds the store on a
    /// new schema named after `prefix`.
    ///
    /// # Errors
    ///
    /// The store's [`Error`]: PostgreSQL unreachable, a migration failing; a registry the
    /// ordering events do not fit in ([`Error::Registry`]).
    pub async fn create(
        database_url: &str,
        prefix: &str,
        max_connections: u32,
    ) -> Result<Self, Error> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .connect(database_url)
            .await?;
        let schema = format!(
            "{prefix}_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        let store = PostgresStore::builder(pool.clone())
            .schema(schema.clone())
            .registry(crate::demo::event_registry()?)
            .build()
            .await?;
        Ok(Self {
            pool,
            schema,
            store,
        })
    }

    /// Saves `count` orders `order-0` ... (payments `payment-0` ...) of `quantity` units,
    /// readied when `ready` (two events an order, else one), by a few concurrent writers.
    ///
    /// # Errors
    ///
    /// The first failing save's message (an order is its own aggregate: no conflicts).
    pub async fn save_orders(
        &self,
        count: usize,
        quantity: u32,
        ready: bool,
    ) -> Result<(), String> {
        let writers: Vec<_> = (0..WRITERS)
            .map(|writer| {
                let store = self.store.clone();
                tokio::spawn(async move {
                    for n in (writer..count).step_by(WRITERS) {
                        let mut order = order(n, quantity).map_err(|err| err.to_string())?;
                        if ready {
                            order.ready().map_err(|err| err.to_string())?;
                        }
                        store
                            .save(&mut order)
                            .await
                            .map_err(|err| err.to_string())?;
                    }
                    Ok::<_, String>(())
                })
            })
            .collect();
        for writer in writers {
            writer.await.map_err(|err| err.to_string())??;
        }
        Ok(())
    }

    /// Drops the schema (errors ignored: a test's cleanup) and closes the pool.
    pub async fn drop_schema(self) {
        let _ = eventmap::postgres::sqlx::query(&format!(
            "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
            self.schema
        ))
        .execute(&self.pool)
        .await;
        self.pool.close().await;
    }
}

/// Order `order-{n}`: `quantity` units of green tea at 3.50.
fn order(n: usize, quantity: u32) -> Result<Order, crate::domain::order::OrderError> {
    Order::create(
        format!("order-{n}"),
        CustomerId::new("customer-1"),
        PaymentId::new(format!("payment-{n}")),
        vec![OrderItem {
            product_id: ProductId::new("tea"),
            store_id: StoreId::new(STORE),
            product_name: "Green tea".into(),
            unit_price: Money::new(350, CURRENCY),
            quantity,
        }],
    )
}
