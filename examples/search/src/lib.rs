//! The search service example of eventmap: it keeps a read model of orders (status
//! New -> Ready For Pickup -> Completed, or Canceled, with customer and total) from the
//! ordering service's integration events, on PostgreSQL or, with nothing to install, on a
//! SQLite file ([`Backend`]: the same code over both).
//!
//! What it consumes is declared in `mappings.yaml` (`subscriptions.orders`); the `Builder`
//! generates from it the [`subscriptions`] module: the decoded event enum, the
//! [`OrdersHandler`] trait (one method per event) and the
//! consumer's spec (durable name, server-side filters, delivery policy). [`SearchService`]
//! implements the trait; each event is applied through the inbox (`eventmap::postgres::Inbox`
//! or `eventmap::sqlite::Inbox`) in the same transaction as the read-model write, so a
//! redelivered message changes nothing the second time.
//!
//! The service binary runs [`SearchService`] as a [`TransactionalHandler`] under
//! `Consumer::run_with_inbox` instead: a pulled batch of events per transaction, and each
//! order's events applied in version order even after a crash of the service (the runtime
//! holds an order's later events until the earlier ones come back), so the read model needs
//! no "not yet" retries.

pub mod read_model;

use std::fmt;
use std::future::Future;

use eventmap::BoxError;
use eventmap::inbox::{InboxBackend, InboxError, InboxOutcome};
use eventmap::nats::{Delivery, TransactionalHandler};
use sqlx::{PgConnection, Postgres, Sqlite, SqliteConnection};

pub use read_model::{
    Dialect, OrderStatus, ReadModel, ReadModelDatabase, ReadModelError, SearchEntry,
};

/// The prost types of the ordering service's contracts (`proto/ordering/v1`).
#[allow(missing_docs, clippy::all)]
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/protos.rs"));
}

/// Generated from `mappings.yaml` by `eventmap_codegen::Builder`: the subscription `orders`.
#[allow(missing_docs, clippy::module_inception)]
pub mod subscriptions {
    include!(concat!(env!("OUT_DIR"), "/integration_events.rs"));
}

use subscriptions::{OrdersEvent, OrdersHandler};

/// A database the search service runs on: its read model's statements
/// ([`ReadModelDatabase`]) and its inbox. Implemented for `sqlx::Postgres`
/// (`eventmap::postgres::Inbox`) and `sqlx::Sqlite` (`eventmap::sqlite::Inbox`).
pub trait Backend: ReadModelDatabase {
    /// The inbox on this database.
    type Inbox: InboxBackend<Database = Self> + Clone + fmt::Debug;

    /// Applies `change` to `model` through `inbox`, once per `(durable, message_id)`: the
    /// inbox records the id in the transaction of the change.
    fn once<'a>(
        inbox: &'a Self::Inbox,
        model: &'a ReadModel<Self>,
        durable: &'a str,
        message_id: &'a str,
        change: &'a Change,
    ) -> impl Future<Output = Result<InboxOutcome<()>, InboxError<ReadModelError>>> + Send + 'a;
}

impl Backend for Postgres {
    type Inbox = eventmap::postgres::Inbox;

    async fn once(
        inbox: &Self::Inbox,
        model: &ReadModel<Self>,
        durable: &str,
        message_id: &str,
        change: &Change,
    ) -> Result<InboxOutcome<()>, InboxError<ReadModelError>> {
        inbox
            .process(durable, message_id, async |conn: &mut PgConnection| {
                change.apply(model, conn).await
            })
            .await
    }
}

impl Backend for Sqlite {
    type Inbox = eventmap::sqlite::Inbox;

    async fn once(
        inbox: &Self::Inbox,
        model: &ReadModel<Self>,
        durable: &str,
        message_id: &str,
        change: &Change,
    ) -> Result<InboxOutcome<()>, InboxError<ReadModelError>> {
        inbox
            .process(durable, message_id, async |conn: &mut SqliteConnection| {
                change.apply(model, conn).await
            })
            .await
    }
}

/// The search service's handler of subscription `orders`: each event updates the read model
/// through the inbox, on database `B`.
#[derive(Debug, Clone)]
pub struct SearchService<B: Backend> {
    inbox: B::Inbox,
    read_model: ReadModel<B>,
}

impl<B: Backend> SearchService<B> {
    /// A service writing `read_model`, de-duplicating through `inbox` (both in one schema of
    /// one database, or one SQLite file, so that they commit together).
    pub fn new(inbox: B::Inbox, read_model: ReadModel<B>) -> Self {
        Self { inbox, read_model }
    }

    /// Applies `change` to the read model once per message id.
    async fn once(&self, delivery: &Delivery<OrdersEvent>, change: Change) -> Result<(), BoxError> {
        let outcome = B::once(
            &self.inbox,
            &self.read_model,
            subscriptions::subscriptions::orders::DURABLE,
            delivery.id(),
            &change,
        )
        .await?;
        if outcome.is_duplicate() {
            tracing::info!(id = %delivery.id(), name = %delivery.name(), "already applied; skipped");
        }
        Ok(())
    }
}

/// What one event does to the read model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A new order.
    Insert(SearchEntry),
    /// An order's new status, at its version.
    Status {
        /// The order (aggregate) id.
        order_id: String,
        /// Its status after the event.
        status: OrderStatus,
        /// The order's aggregate version of the event.
        version: u64,
    },
}

impl Change {
    /// The change of `event`.
    pub fn of(event: &OrdersEvent) -> Self {
        let status = |order_id: &String, status, version| Self::Status {
            order_id: order_id.clone(),
            status,
            version,
        };
        match event {
            OrdersEvent::OrderCreatedEvent(event) => Self::created(event),
            OrdersEvent::OrderReadiedEvent(event) => status(
                &event.order_id,
                OrderStatus::ReadyForPickup,
                event.order_version,
            ),
            OrdersEvent::OrderCanceledEvent(event) => {
                status(&event.order_id, OrderStatus::Canceled, event.order_version)
            }
            OrdersEvent::OrderCompletedEvent(event) => {
                status(&event.order_id, OrderStatus::Completed, event.order_version)
            }
        }
    }

    /// The entry of a new order.
    fn created(event: &proto::ordering::v1::OrderCreated) -> Self {
        Self::Insert(SearchEntry {
            order_id: event.order_id.clone(),
            customer_id: event.customer_id.clone(),
            total_cents: event.total_cents,
            currency: event.currency.clone(),
            status: OrderStatus::New,
            lines: i32::try_from(event.items.len()).unwrap_or(i32::MAX),
            version: event.order_version,
        })
    }

    /// Writes the change on `conn`, a connection of `model`'s database.
    ///
    /// # Errors
    ///
    /// Those of [`ReadModel::insert`] and [`ReadModel::set_status`].
    pub async fn apply<DB: ReadModelDatabase>(
        &self,
        model: &ReadModel<DB>,
        conn: &mut DB::Connection,
    ) -> Result<(), ReadModelError> {
        match self {
            Self::Insert(entry) => model.insert(conn, entry).await,
            Self::Status {
                order_id,
                status,
                version,
            } => model.set_status(conn, order_id, *status, *version).await,
        }
    }
}

/// The service under `Consumer::run_with_inbox`: the runtime records the message ids and
/// commits; each event is one read-model write on the batch's transaction.
impl<B: Backend> TransactionalHandler<OrdersEvent, B> for SearchService<B> {
    async fn handle(
        &self,
        conn: &mut B::Connection,
        delivery: &Delivery<OrdersEvent>,
    ) -> Result<(), BoxError> {
        Change::of(&delivery.event)
            .apply(&self.read_model, conn)
            .await?;
        Ok(())
    }
}

/// The service under `Consumer::run` (the generated `OrdersRouter`): each event through
/// the inbox's `process`, a transaction per event.
impl<B: Backend> OrdersHandler for SearchService<B> {
    async fn order_created_event(
        &self,
        event: &proto::ordering::v1::OrderCreated,
        delivery: &Delivery<OrdersEvent>,
    ) -> Result<(), BoxError> {
        self.once(delivery, Change::created(event)).await
    }

    async fn order_readied_event(
        &self,
        _: &proto::ordering::v1::OrderReadied,
        delivery: &Delivery<OrdersEvent>,
    ) -> Result<(), BoxError> {
        self.once(delivery, Change::of(&delivery.event)).await
    }

    async fn order_canceled_event(
        &self,
        _: &proto::ordering::v1::OrderCanceled,
        delivery: &Delivery<OrdersEvent>,
    ) -> Result<(), BoxError> {
        self.once(delivery, Change::of(&delivery.event)).await
    }

    async fn order_completed_event(
        &self,
        _: &proto::ordering::v1::OrderCompleted,
        delivery: &Delivery<OrdersEvent>,
    ) -> Result<(), BoxError> {
        self.once(delivery, Change::of(&delivery.event)).await
    }
}
