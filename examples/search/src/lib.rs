//! The search service example of eventmap: it keeps a Postgres read model of orders (status
//! New -> Ready For Pickup -> Completed, or Canceled, with customer and total) from the
//! ordering service's integration events.
//!
//! What it consumes is declared in `mappings.yaml` (`subscriptions.orders`); the `Builder`
//! generates from it the [`subscriptions`] module: the decoded event enum, the
//! [`OrdersHandler`](subscriptions::OrdersHandler) trait (one method per event) and the
//! consumer's spec (durable name, server-side filters, delivery policy). [`SearchService`]
//! implements the trait; each event is applied through the [`Inbox`] in the same transaction
//! as the read-model write, so a redelivered message changes nothing the second time.
//!
//! The service binary runs [`SearchService`] as a [`TransactionalHandler`] under
//! `Consumer::run_with_inbox` instead: a pulled batch of events per transaction, and each
//! order's events applied in version order even after a crash of the service (the runtime
//! holds an order's later events until the earlier ones come back), so the read model needs
//! no "not yet" retries.

pub mod read_model;

use eventmap::BoxError;
use eventmap::nats::{Delivery, TransactionalHandler};
use eventmap::postgres::Inbox;
use sqlx::PgConnection;

pub use read_model::{OrderStatus, ReadModel, ReadModelError, SearchEntry};

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

/// The search service's handler of subscription `orders`: each event updates the read model
/// through the inbox.
#[derive(Debug, Clone)]
pub struct SearchService {
    inbox: Inbox,
    read_model: ReadModel,
}

impl SearchService {
    /// A service writing `read_model`, de-duplicating through `inbox` (both in one schema of
    /// one database, so that they commit together).
    pub fn new(inbox: Inbox, read_model: ReadModel) -> Self {
        Self { inbox, read_model }
    }

    /// Applies `change` to the read model once per message id: the inbox records the id in
    /// the transaction of the change.
    async fn once(&self, delivery: &Delivery<OrdersEvent>, change: Change) -> Result<(), BoxError> {
        let read_model = &self.read_model;
        let outcome = self
            .inbox
            .process(
                subscriptions::subscriptions::orders::DURABLE,
                delivery.id(),
                async |conn: &mut PgConnection| change.apply(read_model, conn).await,
            )
            .await?;
        if outcome.is_duplicate() {
            tracing::info!(id = %delivery.id(), name = %delivery.name(), "already applied; skipped");
        }
        Ok(())
    }
}

/// What one event does to the read model.
enum Change {
    /// A new order.
    Insert(SearchEntry),
    /// An order's new status, at its version.
    Status {
        order_id: String,
        status: OrderStatus,
        version: u64,
    },
}

impl Change {
    /// The change of `event`.
    fn of(event: &OrdersEvent) -> Self {
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

    /// Writes the change on `conn`.
    async fn apply(
        &self,
        model: &ReadModel,
        conn: &mut PgConnection,
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
impl TransactionalHandler<OrdersEvent> for SearchService {
    async fn handle(
        &self,
        conn: &mut PgConnection,
        delivery: &Delivery<OrdersEvent>,
    ) -> Result<(), BoxError> {
        Change::of(&delivery.event)
            .apply(&self.read_model, conn)
            .await?;
        Ok(())
    }
}

/// The service under `Consumer::run` (the generated `OrdersRouter`): each event through
/// [`Inbox::process`], a transaction per event.
impl OrdersHandler for SearchService {
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
