//! The two consumers of the ordering example: search (keeps a read model of orders) and
//! notifications (tells customers). Both receive the typed integration events of the
//! `order` channel, decoded into the generated [`OrderIntegrationEvent`] enum; neither sees
//! a domain type.

use std::collections::BTreeMap;

use crate::integration_events::OrderIntegrationEvent;

/// Status of an order in the search read model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchStatus {
    /// Created, not ready yet.
    New,
    /// Ready for pickup.
    ReadyForPickup,
    /// Picked up.
    Completed,
    /// Canceled.
    Canceled,
}

/// One order as the search service indexes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchEntry {
    /// The customer who ordered.
    pub customer_id: String,
    /// Total in cents.
    pub total_cents: i64,
    /// Currency of the total.
    pub currency: String,
    /// Where the order is.
    pub status: SearchStatus,
    /// Number of distinct products.
    pub lines: usize,
}

/// The search service's read model, built from integration events only.
#[derive(Debug, Default)]
pub struct SearchIndex {
    orders: BTreeMap<String, SearchEntry>,
}

impl SearchIndex {
    /// Applies one integration event and returns a line describing what changed.
    pub fn apply(&mut self, event: &OrderIntegrationEvent) -> String {
        match event {
            OrderIntegrationEvent::OrderCreatedEvent(e) => {
                self.orders.insert(
                    e.order_id.clone(),
                    SearchEntry {
                        customer_id: e.customer_id.clone(),
                        total_cents: e.total_cents,
                        currency: e.currency.clone(),
                        status: SearchStatus::New,
                        lines: e.items.len(),
                    },
                );
                format!(
                    "indexed order {} of {} ({} line{}, total {} cents {})",
                    e.order_id,
                    e.customer_id,
                    e.items.len(),
                    if e.items.len() == 1 { "" } else { "s" },
                    e.total_cents,
                    e.currency
                )
            }
            OrderIntegrationEvent::OrderReadiedEvent(e) => {
                self.set_status(&e.order_id, SearchStatus::ReadyForPickup)
            }
            OrderIntegrationEvent::OrderCanceledEvent(e) => {
                self.set_status(&e.order_id, SearchStatus::Canceled)
            }
            OrderIntegrationEvent::OrderCompletedEvent(e) => {
                self.set_status(&e.order_id, SearchStatus::Completed)
            }
        }
    }

    fn set_status(&mut self, order_id: &str, status: SearchStatus) -> String {
        match self.orders.get_mut(order_id) {
            Some(entry) => {
                entry.status = status;
                format!("order {order_id} is now {status:?}")
            }
            None => format!("order {order_id} is {status:?}, but was never indexed"),
        }
    }

    /// The indexed order `order_id`.
    pub fn get(&self, order_id: &str) -> Option<&SearchEntry> {
        self.orders.get(order_id)
    }

    /// Every indexed order, by id.
    pub fn orders(&self) -> &BTreeMap<String, SearchEntry> {
        &self.orders
    }
}

/// The integration events the notification service asks for.
pub const NOTIFICATION_EVENTS: &[&str] = &[
    crate::integration_events::integration_event_names::ORDER_READIED_EVENT,
    crate::integration_events::integration_event_names::ORDER_CANCELED_EVENT,
    crate::integration_events::integration_event_names::ORDER_COMPLETED_EVENT,
];

/// The message the notification service sends to the customer for `event`.
pub fn notification(event: &OrderIntegrationEvent) -> String {
    match event {
        OrderIntegrationEvent::OrderCreatedEvent(e) => {
            format!(
                "to {}: we received your order {}",
                e.customer_id, e.order_id
            )
        }
        OrderIntegrationEvent::OrderReadiedEvent(e) => format!(
            "to {}: order {} is ready for pickup ({} cents to pay)",
            e.customer_id, e.order_id, e.total_cents
        ),
        OrderIntegrationEvent::OrderCanceledEvent(e) => format!(
            "to {}: order {} was canceled ({})",
            e.customer_id, e.order_id, e.reason
        ),
        OrderIntegrationEvent::OrderCompletedEvent(e) => format!(
            "to {}: thank you! invoice {} for order {}",
            e.customer_id, e.invoice_id, e.order_id
        ),
    }
}
