//! Commands of the ordering service and their handler: load the Order aggregate, call the
//! domain operation, save it. Saving goes through the store's dispatch middleware, which
//! hands the new domain events to the integration handlers.

use eventmap::{AggregateEvent, AggregateStore, StoreError};

use crate::domain::events::OrderItem;
use crate::domain::ids::{CustomerId, InvoiceId, PaymentId};
use crate::domain::order::{Order, OrderError};

/// Place a new order.
#[derive(Debug, Clone)]
pub struct CreateOrder {
    /// The new order's id.
    pub order_id: String,
    /// Who orders.
    pub customer_id: CustomerId,
    /// The authorised payment.
    pub payment_id: PaymentId,
    /// What is ordered.
    pub items: Vec<OrderItem>,
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The domain refused it.
    #[error(transparent)]
    Domain(#[from] OrderError),
    /// Loading or saving failed (including a failed dispatch after save).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Handles the ordering commands against an aggregate store.
#[derive(Debug)]
pub struct OrderingService<S> {
    store: S,
}

impl<S: AggregateStore<Order>> OrderingService<S> {
    /// A service saving through `store`.
    pub fn new(store: S) -> Self {
        OrderingService { store }
    }

    /// `CreateOrder`: returns the saved domain events.
    ///
    /// # Errors
    /// [`CommandError`] when the order is invalid or cannot be saved.
    pub async fn create_order(
        &self,
        command: CreateOrder,
    ) -> Result<Vec<AggregateEvent>, CommandError> {
        let mut order = Order::create(
            command.order_id,
            command.customer_id,
            command.payment_id,
            command.items,
        )?;
        Ok(self.store.save(&mut order).await?)
    }

    /// `ReadyOrder`.
    ///
    /// # Errors
    /// [`CommandError`] when the order is unknown, not pending, or cannot be saved.
    pub async fn ready_order(&self, order_id: &str) -> Result<Vec<AggregateEvent>, CommandError> {
        self.change(order_id, Order::ready).await
    }

    /// `CancelOrder`.
    ///
    /// # Errors
    /// [`CommandError`] when the order is unknown, already final, or cannot be saved.
    pub async fn cancel_order(
        &self,
        order_id: &str,
        reason: &str,
    ) -> Result<Vec<AggregateEvent>, CommandError> {
        self.change(order_id, |order| order.cancel(reason)).await
    }

    /// `CompleteOrder`.
    ///
    /// # Errors
    /// [`CommandError`] when the order is unknown, not ready, or cannot be saved.
    pub async fn complete_order(
        &self,
        order_id: &str,
        invoice_id: InvoiceId,
    ) -> Result<Vec<AggregateEvent>, CommandError> {
        self.change(order_id, |order| order.complete(invoice_id))
            .await
    }

    async fn change(
        &self,
        order_id: &str,
        operation: impl FnOnce(&mut Order) -> Result<(), OrderError>,
    ) -> Result<Vec<AggregateEvent>, CommandError> {
        let mut order = self.store.load(order_id).await?;
        operation(&mut order)?;
        Ok(self.store.save(&mut order).await?)
    }
}
