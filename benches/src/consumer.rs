//! The consumer benchmark's side of eventmap (scenario 8 of `benches/broker.rs`): the
//! subscription module generated from `fixtures/consumer/mappings.yaml` by `build.rs`, and
//! the handlers measured: one that counts events by type and one that goes through the
//! PostgreSQL [`Inbox`] with one small write per event (both through the generated router),
//! and [`BatchedInboxHandler`], the same write as a [`TransactionalHandler`] for
//! `Consumer::run_with_inbox` (a batch per transaction).

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use eventmap::BoxError;
use eventmap::nats::{Delivery, TransactionalHandler};
use eventmap::postgres::Inbox;
use eventmap::postgres::sqlx::{self, PgConnection};
use ordering_example::proto::ordering::v1 as proto;
use tokio::sync::Notify;

/// Generated from `fixtures/consumer/mappings.yaml` by `eventmap_codegen::Builder`: the
/// subscription `orders` (durable `bench-orders`, the four events of the ordering example,
/// the default delivery policy). The generated router's `handle` returns `impl Future` with an
/// `async move` body, which `clippy::manual_async_fn` flags.
#[allow(missing_docs, clippy::manual_async_fn)]
pub mod generated {
    include!(concat!(env!("OUT_DIR"), "/consumer_subscriptions.rs"));
}

pub use generated::{OrdersEvent, OrdersHandler, OrdersRouter};

/// Counts the events handled, by type, and wakes [`Counter::done`] when `target` were.
#[derive(Debug)]
pub struct Counter {
    by_type: [AtomicU64; 4],
    target: u64,
    done: Notify,
}

impl Counter {
    /// A counter that is done after `target` events.
    pub fn new(target: u64) -> Self {
        Self {
            by_type: Default::default(),
            target,
            done: Notify::new(),
        }
    }

    /// Counts one event of type `index` (0 to 3: created, readied, canceled, completed).
    pub fn count(&self, index: usize) {
        if let Some(counter) = self.by_type.get(index) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        if self.total() == self.target {
            self.done.notify_one();
        }
    }

    /// Events counted, by type.
    pub fn by_type(&self) -> [u64; 4] {
        self.by_type
            .each_ref()
            .map(|counter| counter.load(Ordering::Relaxed))
    }

    /// Events counted in all.
    pub fn total(&self) -> u64 {
        self.by_type().iter().sum()
    }

    /// Completes once `target` events were counted (at once if they already were).
    pub async fn done(&self) {
        if self.total() >= self.target {
            return;
        }
        self.done.notified().await;
    }
}

/// The minimal handler: looks at each event by type and counts it.
#[derive(Debug)]
pub struct CountingHandler<'a>(pub &'a Counter);

impl OrdersHandler for CountingHandler<'_> {
    async fn order_created_event(
        &self,
        event: &proto::OrderCreated,
        _: &Delivery<OrdersEvent>,
    ) -> Result<(), BoxError> {
        black_box(event.items.len());
        self.0.count(0);
        Ok(())
    }

    async fn order_readied_event(
        &self,
        event: &proto::OrderReadied,
        _: &Delivery<OrdersEvent>,
    ) -> Result<(), BoxError> {
        black_box(event.total_cents);
        self.0.count(1);
        Ok(())
    }

    async fn order_canceled_event(
        &self,
        event: &proto::OrderCanceled,
        _: &Delivery<OrdersEvent>,
    ) -> Result<(), BoxError> {
        black_box(event.reason.len());
        self.0.count(2);
        Ok(())
    }

    async fn order_completed_event(
        &self,
        event: &proto::OrderCompleted,
        _: &Delivery<OrdersEvent>,
    ) -> Result<(), BoxError> {
        black_box(event.invoice_id.len());
        self.0.count(3);
        Ok(())
    }
}

/// The table of [`InboxHandler`]'s writes, in the inbox's schema.
pub const EVENTS_TABLE: &str = "bench_consumed";

/// Creates [`EVENTS_TABLE`] in the inbox's schema (which the inbox's migrations created) and
/// returns the `INSERT` of one row (`$1` order id, `$2` version, `$3` event name).
async fn events_table(inbox: &Inbox) -> Result<String, sqlx::Error> {
    let table = format!("\"{}\".{EVENTS_TABLE}", inbox.schema());
    sqlx::query(&format!(
        "CREATE TABLE IF NOT EXISTS {table} (\
         order_id text NOT NULL, version bigint NOT NULL, event text NOT NULL, \
         PRIMARY KEY (order_id, version))"
    ))
    .execute(inbox.pool())
    .await?;
    Ok(format!(
        "INSERT INTO {table} (order_id, version, event) VALUES ($1, $2, $3)"
    ))
}

/// The handler with the inbox: each event goes through [`Inbox::process`] (keyed by the
/// durable name and `ce-id`) with one small write in its transaction, a row in
/// [`EVENTS_TABLE`]; then it is counted.
#[derive(Debug)]
pub struct InboxHandler<'a> {
    inbox: &'a Inbox,
    counter: &'a Counter,
    durable: &'a str,
    insert: String,
}

impl<'a> InboxHandler<'a> {
    /// Creates [`EVENTS_TABLE`] in the inbox's schema (which the inbox's migrations created).
    ///
    /// # Errors
    ///
    /// The database's.
    pub async fn new(
        inbox: &'a Inbox,
        counter: &'a Counter,
        durable: &'a str,
    ) -> Result<Self, sqlx::Error> {
        Ok(Self {
            inbox,
            counter,
            durable,
            insert: events_table(inbox).await?,
        })
    }

    async fn record(
        &self,
        delivery: &Delivery<OrdersEvent>,
        order_id: &str,
        version: u64,
        index: usize,
    ) -> Result<(), BoxError> {
        let version = i64::try_from(version)?;
        let name = delivery.name();
        let outcome = self
            .inbox
            .process(
                self.durable,
                delivery.id(),
                async |conn: &mut PgConnection| {
                    sqlx::query(&self.insert)
                        .bind(order_id)
                        .bind(version)
                        .bind(name)
                        .execute(&mut *conn)
                        .await
                },
            )
            .await?;
        if outcome.is_duplicate() {
            return Err(format!("{} was already processed", delivery.id()).into());
        }
        self.counter.count(index);
        Ok(())
    }
}

impl OrdersHandler for InboxHandler<'_> {
    async fn order_created_event(
        &self,
        event: &proto::OrderCreated,
        delivery: &Delivery<OrdersEvent>,
    ) -> Result<(), BoxError> {
        self.record(delivery, &event.order_id, event.order_version, 0)
            .await
    }

    async fn order_readied_event(
        &self,
        event: &proto::OrderReadied,
        delivery: &Delivery<OrdersEvent>,
    ) -> Result<(), BoxError> {
        self.record(delivery, &event.order_id, event.order_version, 1)
            .await
    }

    async fn order_canceled_event(
        &self,
        event: &proto::OrderCanceled,
        delivery: &Delivery<OrdersEvent>,
    ) -> Result<(), BoxError> {
        self.record(delivery, &event.order_id, event.order_version, 2)
            .await
    }

    async fn order_completed_event(
        &self,
        event: &proto::OrderCompleted,
        delivery: &Delivery<OrdersEvent>,
    ) -> Result<(), BoxError> {
        self.record(delivery, &event.order_id, event.order_version, 3)
            .await
    }
}

/// The inbox handler of `Consumer::run_with_inbox`: the write of [`InboxHandler`] (a row in
/// [`EVENTS_TABLE`]) on the batch transaction's connection, one `INSERT` per event
/// ([`TransactionalHandler::handle`]) or, `multi_row`, one `INSERT ... SELECT unnest(...)`
/// per batch ([`TransactionalHandler::handle_batch`]); counted when the write was made (the
/// benchmark checks the committed rows afterwards).
#[derive(Debug)]
pub struct BatchedInboxHandler<'a> {
    counter: &'a Counter,
    insert: String,
    insert_many: Option<String>,
}

impl<'a> BatchedInboxHandler<'a> {
    /// Creates [`EVENTS_TABLE`] in the inbox's schema (which the inbox's migrations created).
    ///
    /// # Errors
    ///
    /// The database's.
    pub async fn new(
        inbox: &Inbox,
        counter: &'a Counter,
        multi_row: bool,
    ) -> Result<Self, sqlx::Error> {
        let insert = events_table(inbox).await?;
        let insert_many = multi_row.then(|| {
            format!(
                "INSERT INTO \"{}\".{EVENTS_TABLE} (order_id, version, event) \
                 SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[])",
                inbox.schema()
            )
        });
        Ok(Self {
            counter,
            insert,
            insert_many,
        })
    }
}

/// Order id, version and type index (see [`Counter::count`]) of an event.
fn row_of(event: &OrdersEvent) -> (&str, u64, usize) {
    match event {
        OrdersEvent::OrderCreatedEvent(event) => (&event.order_id, event.order_version, 0),
        OrdersEvent::OrderReadiedEvent(event) => (&event.order_id, event.order_version, 1),
        OrdersEvent::OrderCanceledEvent(event) => (&event.order_id, event.order_version, 2),
        OrdersEvent::OrderCompletedEvent(event) => (&event.order_id, event.order_version, 3),
    }
}

impl TransactionalHandler<OrdersEvent> for BatchedInboxHandler<'_> {
    async fn handle(
        &self,
        conn: &mut PgConnection,
        delivery: &Delivery<OrdersEvent>,
    ) -> Result<(), BoxError> {
        let (order_id, version, index) = row_of(&delivery.event);
        sqlx::query(&self.insert)
            .bind(order_id)
            .bind(i64::try_from(version)?)
            .bind(delivery.name())
            .execute(&mut *conn)
            .await?;
        self.counter.count(index);
        Ok(())
    }

    async fn handle_batch(
        &self,
        conn: &mut PgConnection,
        deliveries: &[&Delivery<OrdersEvent>],
        durable: &str,
    ) -> Result<(), BoxError> {
        let Some(insert_many) = &self.insert_many else {
            for delivery in deliveries {
                self.handle(conn, delivery).await?;
            }
            return Ok(());
        };
        black_box(durable);
        let mut ids = Vec::with_capacity(deliveries.len());
        let mut versions = Vec::with_capacity(deliveries.len());
        let mut names = Vec::with_capacity(deliveries.len());
        let mut indexes = Vec::with_capacity(deliveries.len());
        for delivery in deliveries {
            let (order_id, version, index) = row_of(&delivery.event);
            ids.push(order_id);
            versions.push(i64::try_from(version)?);
            names.push(delivery.name());
            indexes.push(index);
        }
        sqlx::query(insert_many)
            .bind(&ids)
            .bind(&versions)
            .bind(&names)
            .execute(&mut *conn)
            .await?;
        for index in indexes {
            self.counter.count(index);
        }
        Ok(())
    }
}
