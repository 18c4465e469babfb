//! The Order aggregate: create with items, ready, cancel, complete. Illegal transitions are
//! errors and record nothing.

use eventmap::{Aggregate, AggregateEvent, AggregateRoot, EventSourced};

use super::events::{OrderCanceled, OrderCompleted, OrderCreated, OrderItem, OrderReadied};
use super::ids::{CustomerId, InvoiceId, PaymentId};
use super::money::Money;

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStatus {
    /// Placed, not yet ready.
    Pending,
    /// Ready for pickup.
    Ready,
    /// Canceled (final).
    Canceled,
    /// Picked up and invoiced (final).
    Completed,
}

/// Why an order operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    /// An order needs at least one item.
    #[error("an order needs at least one item")]
    NoItems,
    /// Item quantities start at 1.
    #[error("item `{0}` has quantity 0")]
    ZeroQuantity(String),
    /// All items of an order share one currency.
    #[error("item `{item}` is priced in {found}, the order in {expected}")]
    MixedCurrencies {
        /// The item.
        item: String,
        /// The order's currency.
        expected: String,
        /// The item's.
        found: String,
    },
    /// The total does not fit in 64 bits of cents.
    #[error("the order total overflows")]
    TotalOverflow,
    /// The operation is not allowed in the order's current status.
    #[error("cannot {action} an order that is {status:?}")]
    IllegalTransition {
        /// What was attempted.
        action: &'static str,
        /// The status it is in.
        status: OrderStatus,
    },
}

/// The Order aggregate.
#[derive(Debug, Clone)]
pub struct Order {
    root: AggregateRoot,
    customer_id: CustomerId,
    payment_id: PaymentId,
    items: Vec<OrderItem>,
    total: Money,
    status: OrderStatus,
}

impl Aggregate for Order {
    const NAME: &'static str = "Order";

    fn root(&self) -> &AggregateRoot {
        &self.root
    }

    fn root_mut(&mut self) -> &mut AggregateRoot {
        &mut self.root
    }
}

/// Rebuilding an order from its stored events (the Postgres store loads aggregates this way):
/// each event sets the state its command set.
impl EventSourced for Order {
    fn blank(id: &str) -> Self {
        Order {
            root: AggregateRoot::new(id),
            customer_id: CustomerId::new(""),
            payment_id: PaymentId::new(""),
            items: Vec::new(),
            total: Money::new(0, ""),
            status: OrderStatus::Pending,
        }
    }

    fn apply(&mut self, event: &AggregateEvent) {
        if let Some(created) = event.downcast::<OrderCreated>() {
            let created = created.payload();
            self.customer_id = created.customer_id.clone();
            self.payment_id = created.payment_id.clone();
            self.items = created.items.clone();
            self.total = created.total.clone();
            self.status = OrderStatus::Pending;
        } else if event.is::<OrderReadied>() {
            self.status = OrderStatus::Ready;
        } else if event.is::<OrderCanceled>() {
            self.status = OrderStatus::Canceled;
        } else if event.is::<OrderCompleted>() {
            self.status = OrderStatus::Completed;
        }
    }
}

impl Order {
    /// Places a new order and records `OrderCreated`.
    ///
    /// # Errors
    /// [`OrderError`] when there are no items, a quantity is 0, currencies differ or the total
    /// overflows.
    pub fn create(
        id: impl Into<String>,
        customer_id: CustomerId,
        payment_id: PaymentId,
        items: Vec<OrderItem>,
    ) -> Result<Order, OrderError> {
        let first = items.first().ok_or(OrderError::NoItems)?;
        let currency = first.unit_price.currency.clone();
        let mut cents: i64 = 0;
        for item in &items {
            if item.quantity == 0 {
                return Err(OrderError::ZeroQuantity(item.product_name.clone()));
            }
            if item.unit_price.currency != currency {
                return Err(OrderError::MixedCurrencies {
                    item: item.product_name.clone(),
                    expected: currency,
                    found: item.unit_price.currency.clone(),
                });
            }
            let line = item
                .unit_price
                .times(item.quantity)
                .ok_or(OrderError::TotalOverflow)?;
            cents = cents
                .checked_add(line.cents)
                .ok_or(OrderError::TotalOverflow)?;
        }
        let total = Money::new(cents, &currency);
        let mut order = Order {
            root: AggregateRoot::new(id),
            customer_id: customer_id.clone(),
            payment_id: payment_id.clone(),
            items: items.clone(),
            total: total.clone(),
            status: OrderStatus::Pending,
        };
        order.root.record(
            Self::NAME,
            OrderCreated {
                customer_id,
                payment_id,
                items,
                total,
            },
        );
        Ok(order)
    }

    /// Marks a pending order ready for pickup and records `OrderReadied`.
    ///
    /// # Errors
    /// [`OrderError::IllegalTransition`] unless the order is pending.
    pub fn ready(&mut self) -> Result<(), OrderError> {
        self.require(OrderStatus::Pending, "ready")?;
        self.status = OrderStatus::Ready;
        let event = OrderReadied {
            customer_id: self.customer_id.clone(),
            payment_id: self.payment_id.clone(),
            total: self.total.clone(),
        };
        self.root.record(Self::NAME, event);
        Ok(())
    }

    /// Cancels a pending or ready order and records `OrderCanceled`.
    ///
    /// # Errors
    /// [`OrderError::IllegalTransition`] when the order is already canceled or completed.
    pub fn cancel(&mut self, reason: impl Into<String>) -> Result<(), OrderError> {
        if matches!(self.status, OrderStatus::Canceled | OrderStatus::Completed) {
            return Err(OrderError::IllegalTransition {
                action: "cancel",
                status: self.status,
            });
        }
        self.status = OrderStatus::Canceled;
        let event = OrderCanceled {
            customer_id: self.customer_id.clone(),
            payment_id: self.payment_id.clone(),
            reason: reason.into(),
        };
        self.root.record(Self::NAME, event);
        Ok(())
    }

    /// Completes a ready order with its invoice and records `OrderCompleted`.
    ///
    /// # Errors
    /// [`OrderError::IllegalTransition`] unless the order is ready.
    pub fn complete(&mut self, invoice_id: InvoiceId) -> Result<(), OrderError> {
        self.require(OrderStatus::Ready, "complete")?;
        self.status = OrderStatus::Completed;
        let event = OrderCompleted {
            customer_id: self.customer_id.clone(),
            invoice_id,
        };
        self.root.record(Self::NAME, event);
        Ok(())
    }

    fn require(&self, status: OrderStatus, action: &'static str) -> Result<(), OrderError> {
        if self.status == status {
            Ok(())
        } else {
            Err(OrderError::IllegalTransition {
                action,
                status: self.status,
            })
        }
    }

    /// The order's id.
    pub fn id(&self) -> &str {
        self.root.id()
    }

    /// Where the order is in its life.
    pub fn status(&self) -> OrderStatus {
        self.status
    }

    /// The order's lines.
    pub fn items(&self) -> &[OrderItem] {
        &self.items
    }

    /// Sum of the items.
    pub fn total(&self) -> &Money {
        &self.total
    }

    /// The customer who ordered.
    pub fn customer_id(&self) -> &CustomerId {
        &self.customer_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::{ProductId, StoreId};

    fn item(name: &str, cents: i64, quantity: u32) -> OrderItem {
        OrderItem {
            product_id: ProductId::new(format!("p-{name}")),
            store_id: StoreId::new("s-1"),
            product_name: name.into(),
            unit_price: Money::new(cents, "EUR"),
            quantity,
        }
    }

    fn order() -> Order {
        Order::create(
            "o-1",
            CustomerId::new("c-1"),
            PaymentId::new("pay-1"),
            vec![item("tea", 350, 2), item("cake", 425, 1)],
        )
        .expect("valid order")
    }

    #[test]
    fn create_sums_items_and_records_created() {
        let order = order();
        assert_eq!(order.total(), &Money::new(1125, "EUR"));
        assert_eq!(order.status(), OrderStatus::Pending);
        let pending = order.root().pending();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].name(), "OrderCreated");
        assert_eq!(pending[0].aggregate_version(), 1);
    }

    #[test]
    fn lifecycle_records_one_event_per_step() {
        let mut order = order();
        order.ready().expect("ready");
        order.complete(InvoiceId::new("inv-1")).expect("complete");
        let names: Vec<&str> = order.root().pending().iter().map(|e| e.name()).collect();
        assert_eq!(names, ["OrderCreated", "OrderReadied", "OrderCompleted"]);
        assert_eq!(order.root().pending()[2].aggregate_version(), 3);
    }

    #[test]
    fn illegal_transitions_are_errors_and_record_nothing() {
        let mut order = order();
        assert_eq!(
            order.complete(InvoiceId::new("inv-1")),
            Err(OrderError::IllegalTransition {
                action: "complete",
                status: OrderStatus::Pending
            })
        );
        order.cancel("changed my mind").expect("cancel");
        assert!(order.ready().is_err());
        assert!(order.cancel("again").is_err());
        assert_eq!(order.root().pending().len(), 2);
    }

    #[test]
    fn replaying_the_events_rebuilds_the_order() {
        let mut order = order();
        order.ready().expect("ready");
        order.cancel("late").expect("cancel");
        let events = order.root_mut().take_pending();
        let rebuilt: Order = eventmap::store::replay("o-1", &events).expect("replay");
        assert_eq!(rebuilt.status(), OrderStatus::Canceled);
        assert_eq!(rebuilt.total(), order.total());
        assert_eq!(rebuilt.items(), order.items());
        assert_eq!(rebuilt.customer_id(), order.customer_id());
        assert_eq!(rebuilt.root().version(), 3);
    }

    #[test]
    fn invalid_orders_are_refused() {
        let create = |items| Order::create("o", CustomerId::new("c"), PaymentId::new("p"), items);
        assert_eq!(create(vec![]).err(), Some(OrderError::NoItems));
        assert_eq!(
            create(vec![item("tea", 1, 0)]).err(),
            Some(OrderError::ZeroQuantity("tea".into()))
        );
        let mut usd = item("cake", 1, 1);
        usd.unit_price.currency = "USD".into();
        assert!(matches!(
            create(vec![item("tea", 1, 1), usd]).err(),
            Some(OrderError::MixedCurrencies { .. })
        ));
        assert_eq!(
            create(vec![item("tea", i64::MAX, 2)]).err(),
            Some(OrderError::TotalOverflow)
        );
    }
}
