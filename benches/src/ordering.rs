//! The four events of the ordering example: sample data and the hand-written conversions
//! equivalent to the generated ones (`examples/ordering/src/generated/integration_events.rs`).

use std::time::{Duration, UNIX_EPOCH};

use eventmap::{AggregateEvent, ChannelSpec, integration_event_id};
use ordering_example::domain::events::{
    OrderCanceled, OrderCompleted, OrderCreated, OrderItem, OrderReadied,
};
use ordering_example::domain::ids::{CustomerId, InvoiceId, PaymentId, ProductId, StoreId};
use ordering_example::domain::money::{Money, to_cents};
use ordering_example::proto::ordering::v1 as proto;
use prost_types::Timestamp;

use crate::hand::{Hand, HandError};

/// The example's `order` channel.
pub const ORDER: ChannelSpec = ordering_example::integration_events::channels::ORDER;
/// The example's service name (`ce-source`).
pub const SOURCE: &str = ordering_example::integration_events::SOURCE;
/// The domain event names of the example, in the order of [`sample_events`].
pub const EVENT_NAMES: [&str; 4] = [
    "OrderCreated",
    "OrderReadied",
    "OrderCanceled",
    "OrderCompleted",
];

/// A fixed occurrence time, so encoded sizes do not vary with the clock.
pub fn occurred_at() -> std::time::SystemTime {
    UNIX_EPOCH + Duration::new(1_796_014_800, 123_456_789)
}

/// `OrderCreated` with two items, as in the demo.
pub fn order_created() -> OrderCreated {
    let item = |sku: &str, name: &str, cents: i64, quantity: u32| OrderItem {
        product_id: ProductId::new(sku),
        store_id: StoreId::new("store-1"),
        product_name: name.to_owned(),
        unit_price: Money::new(cents, "EUR"),
        quantity,
    };
    OrderCreated {
        customer_id: CustomerId::new("customer-0001"),
        payment_id: PaymentId::new("payment-0001"),
        items: vec![
            item("tea", "Green tea", 350, 2),
            item("cake", "Cheesecake", 425, 1),
        ],
        total: Money::new(1_125, "EUR"),
    }
}

/// The four events of one order's life, versions 1 to 4, on aggregate `order_id` (a new
/// domain event id each).
pub fn sample_events(order_id: &str) -> Vec<AggregateEvent> {
    let at = occurred_at();
    vec![
        AggregateEvent::new("Order", order_id, 1, order_created())
            .with_occurred_at(at)
            .into_dyn(),
        AggregateEvent::new(
            "Order",
            order_id,
            2,
            OrderReadied {
                customer_id: CustomerId::new("customer-0001"),
                payment_id: PaymentId::new("payment-0001"),
                total: Money::new(1_125, "EUR"),
            },
        )
        .with_occurred_at(at)
        .into_dyn(),
        AggregateEvent::new(
            "Order",
            order_id,
            3,
            OrderCanceled {
                customer_id: CustomerId::new("customer-0001"),
                payment_id: PaymentId::new("payment-0001"),
                reason: "out of stock".to_owned(),
            },
        )
        .with_occurred_at(at)
        .into_dyn(),
        AggregateEvent::new(
            "Order",
            order_id,
            4,
            OrderCompleted {
                customer_id: CustomerId::new("customer-0001"),
                invoice_id: InvoiceId::new("invoice-0001"),
            },
        )
        .with_occurred_at(at)
        .into_dyn(),
    ]
}

fn id(event: &AggregateEvent, name: &str) -> String {
    integration_event_id(event.id(), name).to_string()
}

impl TryFrom<Hand<'_, OrderCreated>> for proto::OrderCreated {
    type Error = HandError;

    fn try_from(Hand(event, payload): Hand<'_, OrderCreated>) -> Result<Self, HandError> {
        Ok(Self {
            id: id(event, "OrderCreatedEvent"),
            order_id: event.aggregate_id().to_owned(),
            customer_id: payload.customer_id.0.clone(),
            payment_id: payload.payment_id.0.clone(),
            items: payload
                .items
                .iter()
                .map(|item| {
                    Ok(proto::OrderItem {
                        product_id: item.product_id.0.clone(),
                        store_id: item.store_id.0.clone(),
                        product_name: item.product_name.clone(),
                        unit_price_cents: to_cents(&item.unit_price),
                        quantity: i32::try_from(item.quantity)
                            .map_err(HandError::range("items.quantity"))?,
                    })
                })
                .collect::<Result<_, HandError>>()?,
            total_cents: to_cents(&payload.total),
            currency: payload.total.currency.clone(),
            created_at: Some(Timestamp::from(event.occurred_at())),
            order_version: event.aggregate_version(),
        })
    }
}

impl From<Hand<'_, OrderReadied>> for proto::OrderReadied {
    fn from(Hand(event, payload): Hand<'_, OrderReadied>) -> Self {
        Self {
            id: id(event, "OrderReadiedEvent"),
            order_id: event.aggregate_id().to_owned(),
            customer_id: payload.customer_id.0.clone(),
            payment_id: payload.payment_id.0.clone(),
            total_cents: to_cents(&payload.total),
            readied_at: Some(Timestamp::from(event.occurred_at())),
            order_version: event.aggregate_version(),
        }
    }
}

impl From<Hand<'_, OrderCanceled>> for proto::OrderCanceled {
    fn from(Hand(event, payload): Hand<'_, OrderCanceled>) -> Self {
        Self {
            id: id(event, "OrderCanceledEvent"),
            order_id: event.aggregate_id().to_owned(),
            customer_id: payload.customer_id.0.clone(),
            payment_id: payload.payment_id.0.clone(),
            reason: payload.reason.clone(),
            canceled_at: Some(Timestamp::from(event.occurred_at())),
            order_version: event.aggregate_version(),
        }
    }
}

impl From<Hand<'_, OrderCompleted>> for proto::OrderCompleted {
    fn from(Hand(event, payload): Hand<'_, OrderCompleted>) -> Self {
        Self {
            id: id(event, "OrderCompletedEvent"),
            order_id: event.aggregate_id().to_owned(),
            customer_id: payload.customer_id.0.clone(),
            invoice_id: payload.invoice_id.0.clone(),
            completed_at: Some(Timestamp::from(event.occurred_at())),
            order_version: event.aggregate_version(),
            emitted_by: "eventmap ordering example".to_owned(),
        }
    }
}
