//! The notifications service example of eventmap: for each created, readied and canceled
//! order it records the message it would send to the customer.
//!
//! What it consumes is declared in `mappings.yaml` (`subscriptions.orders`: three of the
//! ordering service's four events, filtered on the server); `eventmap::subscriptions!`
//! generates the [`subscriptions`] module from it at compile time. [`NotificationService`] implements the generated
//! [`OrdersHandler`](subscriptions::OrdersHandler). Idempotency here comes without the inbox:
//! each notification is stored under its message id (`ce-id`), so a redelivery inserts
//! nothing new.

use eventmap::BoxError;
use eventmap::nats::Delivery;
use sqlx::{PgPool, Row};

/// The prost types of the ordering service's contracts (`proto/ordering/v1`).
#[allow(missing_docs, clippy::all)]
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/protos.rs"));
}

/// The subscription `orders` of `mappings.yaml`, generated in place by the macro (the search
/// example includes the `Builder`'s module instead; both give the same items).
pub mod subscriptions {
    eventmap::subscriptions!("mappings.yaml");
}

use proto::ordering::v1::{OrderCanceled, OrderCreated, OrderReadied};
use subscriptions::{OrdersEvent, OrdersHandler};

/// One notification, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The integration event's id (`ce-id`) it was made for.
    pub message_id: String,
    /// The order concerned.
    pub order_id: String,
    /// Who is told.
    pub customer_id: String,
    /// What they are told.
    pub text: String,
}

/// The notifications the service would have sent, in the table `notifications` of its
/// schema.
#[derive(Debug, Clone)]
pub struct NotificationService {
    pool: PgPool,
    table: String,
}

impl NotificationService {
    /// The service recording into `schema` (created with its table when missing).
    ///
    /// # Errors
    ///
    /// The database's, or an invalid schema name (letters, digits and `_` only).
    pub async fn new(pool: PgPool, schema: &str) -> Result<Self, sqlx::Error> {
        if schema.is_empty()
            || !schema
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(sqlx::Error::Protocol(format!(
                "invalid schema name {schema:?}: letters, digits and `_` only"
            )));
        }
        let table = format!("\"{schema}\".notifications");
        sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
            .execute(&pool)
            .await?;
        sqlx::query(&format!(
            "CREATE TABLE IF NOT EXISTS {table} (
                message_id text PRIMARY KEY,
                order_id text NOT NULL,
                customer_id text NOT NULL,
                text text NOT NULL,
                recorded_at timestamptz NOT NULL DEFAULT now()
            )"
        ))
        .execute(&pool)
        .await?;
        Ok(Self { pool, table })
    }

    /// Records `text` for `customer_id` under the delivery's message id; a redelivery
    /// records nothing new.
    async fn record(
        &self,
        delivery: &Delivery<OrdersEvent>,
        order_id: &str,
        customer_id: &str,
        text: String,
    ) -> Result<(), BoxError> {
        let inserted = sqlx::query(&format!(
            "INSERT INTO {} (message_id, order_id, customer_id, text) VALUES ($1, $2, $3, $4)
             ON CONFLICT (message_id) DO NOTHING",
            self.table
        ))
        .bind(delivery.id())
        .bind(order_id)
        .bind(customer_id)
        .bind(&text)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if inserted == 1 {
            tracing::info!(to = customer_id, order = order_id, "notification: {text}");
        } else {
            tracing::info!(id = %delivery.id(), "notification already recorded; skipped");
        }
        Ok(())
    }

    /// Every notification recorded, oldest first.
    ///
    /// # Errors
    ///
    /// The database's.
    pub async fn all(&self) -> Result<Vec<Notification>, sqlx::Error> {
        let rows = sqlx::query(&format!(
            "SELECT message_id, order_id, customer_id, text FROM {} ORDER BY recorded_at, message_id",
            self.table
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Notification {
                    message_id: row.try_get("message_id")?,
                    order_id: row.try_get("order_id")?,
                    customer_id: row.try_get("customer_id")?,
                    text: row.try_get("text")?,
                })
            })
            .collect()
    }
}

/// Cents as `12.34`.
fn amount(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, (cents % 100).abs())
}

impl OrdersHandler for NotificationService {
    async fn order_created_event(
        &self,
        event: &OrderCreated,
        delivery: &Delivery<OrdersEvent>,
    ) -> Result<(), BoxError> {
        let text = format!(
            "we received your order {} ({} {})",
            event.order_id,
            amount(event.total_cents),
            event.currency
        );
        self.record(delivery, &event.order_id, &event.customer_id, text)
            .await
    }

    async fn order_readied_event(
        &self,
        event: &OrderReadied,
        delivery: &Delivery<OrdersEvent>,
    ) -> Result<(), BoxError> {
        let text = format!(
            "your order {} is ready for pickup ({} to pay)",
            event.order_id,
            amount(event.total_cents)
        );
        self.record(delivery, &event.order_id, &event.customer_id, text)
            .await
    }

    async fn order_canceled_event(
        &self,
        event: &OrderCanceled,
        delivery: &Delivery<OrdersEvent>,
    ) -> Result<(), BoxError> {
        let text = format!(
            "your order {} was canceled: {}",
            event.order_id, event.reason
        );
        self.record(delivery, &event.order_id, &event.customer_id, text)
            .await
    }
}
