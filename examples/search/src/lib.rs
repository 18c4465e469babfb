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

pub mod read_model;

use eventmap::BoxError;
use eventmap::nats::Delivery;
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
    async fn once<F>(&self, delivery: &Delivery<OrdersEvent>, change: F) -> Result<(), BoxError>
    where
        F: AsyncFnOnce(&ReadModel, &mut PgConnection) -> Result<(), ReadModelError>,
    {
        let read_model = &self.read_model;
        let outcome = self
            .inbox
            .process(
                subscriptions::subscriptions::orders::DURABLE,
                &delivery.id,
                async |conn: &mut PgConnection| change(read_model, conn).await,
            )
            .await?;
        if outcome.is_duplicate() {
            tracing::info!(id = %delivery.id, name = %delivery.name, "already applied; skipped");
        }
        Ok(())
    }
}

impl OrdersHandler for SearchService {
    async fn order_created_event(
        &self,
        event: &proto::ordering::v1::OrderCreated,
        delivery: &Delivery<OrdersEvent>,
    ) -> Result<(), BoxError> {
        let entry = SearchEntry {
            order_id: event.order_id.clone(),
            customer_id: event.customer_id.clone(),
            total_cents: event.total_cents,
            currency: event.currency.clone(),
            status: OrderStatus::New,
            lines: i32::try_from(event.items.len()).unwrap_or(i32::MAX),
            version: event.order_version,
        };
        self.once(delivery, async move |model, conn| {
            model.insert(conn, &entry).await
        })
        .await
    }

    async fn order_readied_event(
        &self,
        event: &proto::ordering::v1::OrderReadied,
        delivery: &Delivery<OrdersEvent>,
    ) -> Result<(), BoxError> {
        let (id, version) = (event.order_id.clone(), event.order_version);
        self.once(delivery, async move |model, conn| {
            model
                .set_status(conn, &id, OrderStatus::ReadyForPickup, version)
                .await
        })
        .await
    }

    async fn order_canceled_event(
        &self,
        event: &proto::ordering::v1::OrderCanceled,
        delivery: &Delivery<OrdersEvent>,
    ) -> Result<(), BoxError> {
        let (id, version) = (event.order_id.clone(), event.order_version);
        self.once(delivery, async move |model, conn| {
            model
                .set_status(conn, &id, OrderStatus::Canceled, version)
                .await
        })
        .await
    }

    async fn order_completed_event(
        &self,
        event: &proto::ordering::v1::OrderCompleted,
        delivery: &Delivery<OrdersEvent>,
    ) -> Result<(), BoxError> {
        let (id, version) = (event.order_id.clone(), event.order_version);
        self.once(delivery, async move |model, conn| {
            model
                .set_status(conn, &id, OrderStatus::Completed, version)
                .await
        })
        .await
    }
}
