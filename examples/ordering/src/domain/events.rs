//! Domain events of the Order aggregate. They stay inside the ordering service; other
//! services see the integration events that `mappings.yaml` maps them to.

use super::ids::{CustomerId, InvoiceId, PaymentId, ProductId, StoreId};
use super::money::Money;

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OrderItem {
    /// The product.
    pub product_id: ProductId,
    /// The store it is sold by.
    pub store_id: StoreId,
    /// Name shown to the customer.
    pub product_name: String,
    /// Price of one unit.
    pub unit_price: Money,
    /// Number of units.
    pub quantity: u32,
}

/// An order was placed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(
    feature = "derive",
    derive(eventmap::IntegrationEvent),
    integration(mappings = "../../mappings.yaml")
)]
pub struct OrderCreated {
    /// Who ordered.
    pub customer_id: CustomerId,
    /// The payment authorised for it.
    pub payment_id: PaymentId,
    /// What was ordered.
    pub items: Vec<OrderItem>,
    /// Sum of the items.
    pub total: Money,
}

/// An order is ready for pickup.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(
    feature = "derive",
    derive(eventmap::IntegrationEvent),
    integration(mappings = "../../mappings.yaml")
)]
pub struct OrderReadied {
    /// Who ordered.
    pub customer_id: CustomerId,
    /// The payment authorised for it.
    pub payment_id: PaymentId,
    /// Sum of the items.
    pub total: Money,
}

/// An order was canceled.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(
    feature = "derive",
    derive(eventmap::IntegrationEvent),
    integration(mappings = "../../mappings.yaml")
)]
pub struct OrderCanceled {
    /// Who ordered.
    pub customer_id: CustomerId,
    /// The payment to release.
    pub payment_id: PaymentId,
    /// Why it was canceled.
    pub reason: String,
}

/// An order was picked up and invoiced.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(
    feature = "derive",
    derive(eventmap::IntegrationEvent),
    integration(mappings = "../../mappings.yaml")
)]
pub struct OrderCompleted {
    /// Who ordered.
    pub customer_id: CustomerId,
    /// The invoice issued.
    pub invoice_id: InvoiceId,
}

#[cfg(not(feature = "derive"))]
macro_rules! domain_event {
    ($($name:ident),*) => {$(
        impl eventmap::DomainEvent for $name {
            fn event_name(&self) -> &'static str {
                stringify!($name)
            }
        }
    )*};
}

// Without the derive, the domain events name themselves as the table does.
#[cfg(not(feature = "derive"))]
domain_event!(OrderCreated, OrderReadied, OrderCanceled, OrderCompleted);
