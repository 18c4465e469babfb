//! The notifications service example of eventmap: for each created, readied and canceled
//! order it records the message it would send to the customer.
//!
//! What it consumes is declared in `mappings.yaml` (`subscriptions.orders`: three of the
//! ordering service's four events, filtered on the server); `eventmap::subscriptions!`
//! generates the [`subscriptions`] module from it at compile time. [`NotificationService`] implements the generated
//! [`OrdersHandler`]. Idempotency here comes without the inbox:
//! each notification is stored under its message id (`ce-id`), so a redelivery inserts
//! nothing new.
//!
//! The notifications are kept on PostgreSQL or, with nothing to install, in a SQLite file:
//! [`NotificationService`] is written once over both ([`NotificationsDatabase`]).

use std::future::Future;

use eventmap::BoxError;
use eventmap::nats::Delivery;
use sqlx::{
    ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Postgres, Row, Sqlite,
    Type,
};

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

/// Where the notifications table lives on one database, and its time column.
pub trait Dialect: Database {
    /// The table's name for `schema`.
    fn table(schema: &str) -> String;

    /// The statement creating `schema` before the table, if the database has schemas.
    fn create_schema(schema: &str) -> Option<String>;

    /// The definition of the `recorded_at` column: the time of the insert.
    const RECORDED_AT: &'static str;
}

/// PostgreSQL: the table in the service's schema.
impl Dialect for Postgres {
    fn table(schema: &str) -> String {
        format!("\"{schema}\".notifications")
    }

    fn create_schema(schema: &str) -> Option<String> {
        Some(format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
    }

    const RECORDED_AT: &'static str = "timestamptz NOT NULL DEFAULT now()";
}

/// SQLite: the database file is the service's own, the schema name is not used.
impl Dialect for Sqlite {
    fn table(_schema: &str) -> String {
        "notifications".to_owned()
    }

    fn create_schema(_schema: &str) -> Option<String> {
        None
    }

    // UTC, ISO 8601 with milliseconds: sorts as text in time order.
    const RECORDED_AT: &'static str =
        "text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))";
}

/// A database the service records on: every sqlx database with a [`Dialect`] whose driver
/// takes its statements (PostgreSQL and SQLite); implemented once, for both.
pub trait NotificationsDatabase: Dialect {
    /// Creates the table (and its schema) when missing.
    fn create(pool: &Pool<Self>, schema: &str) -> impl Future<Output = sqlx::Result<()>> + Send;

    /// Inserts `notification` unless its message id has one; `false` when it had.
    fn insert(
        pool: &Pool<Self>,
        table: &str,
        notification: Notification,
    ) -> impl Future<Output = sqlx::Result<bool>> + Send;

    /// Every notification of `table`, oldest first.
    fn select(
        pool: &Pool<Self>,
        table: &str,
    ) -> impl Future<Output = sqlx::Result<Vec<Notification>>> + Send;
}

impl<DB> NotificationsDatabase for DB
where
    DB: Dialect,
    for<'c> &'c Pool<DB>: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> String: Encode<'q, DB>,
    for<'r> String: Decode<'r, DB>,
    String: Type<DB>,
    for<'a> &'a str: ColumnIndex<DB::Row>,
{
    async fn create(pool: &Pool<Self>, schema: &str) -> sqlx::Result<()> {
        if let Some(statement) = DB::create_schema(schema) {
            sqlx::query(&statement).execute(pool).await?;
        }
        sqlx::query(&format!(
            "CREATE TABLE IF NOT EXISTS {} (
                message_id text PRIMARY KEY,
                order_id text NOT NULL,
                customer_id text NOT NULL,
                text text NOT NULL,
                recorded_at {}
            )",
            DB::table(schema),
            DB::RECORDED_AT
        ))
        .execute(pool)
        .await?;
        Ok(())
    }

    async fn insert(
        pool: &Pool<Self>,
        table: &str,
        notification: Notification,
    ) -> sqlx::Result<bool> {
        let inserted = sqlx::query(&format!(
            "INSERT INTO {table} (message_id, order_id, customer_id, text) VALUES ($1, $2, $3, $4)
             ON CONFLICT (message_id) DO NOTHING RETURNING message_id"
        ))
        .bind(notification.message_id)
        .bind(notification.order_id)
        .bind(notification.customer_id)
        .bind(notification.text)
        .fetch_optional(pool)
        .await?;
        Ok(inserted.is_some())
    }

    async fn select(pool: &Pool<Self>, table: &str) -> sqlx::Result<Vec<Notification>> {
        let rows = sqlx::query(&format!(
            "SELECT message_id, order_id, customer_id, text FROM {table} \
             ORDER BY recorded_at, message_id"
        ))
        .fetch_all(pool)
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

/// The notifications the service would have sent, in the table `notifications` of its
/// schema (PostgreSQL, `NotificationService<Postgres>`) or of its SQLite file
/// (`NotificationService<Sqlite>`).
#[derive(Debug)]
pub struct NotificationService<DB: Database> {
    pool: Pool<DB>,
    table: String,
}

impl<DB: Database> Clone for NotificationService<DB> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            table: self.table.clone(),
        }
    }
}

impl<DB: NotificationsDatabase> NotificationService<DB> {
    /// The service recording into `schema` (created with its table when missing; on SQLite
    /// the database file is the service's and the name only checked).
    ///
    /// # Errors
    ///
    /// The database's, or an invalid schema name (letters, digits and `_` only).
    pub async fn new(pool: Pool<DB>, schema: &str) -> Result<Self, sqlx::Error> {
        if schema.is_empty()
            || !schema
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(sqlx::Error::Protocol(format!(
                "invalid schema name {schema:?}: letters, digits and `_` only"
            )));
        }
        DB::create(&pool, schema).await?;
        Ok(Self {
            pool,
            table: DB::table(schema),
        })
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
        let notification = Notification {
            message_id: delivery.id().to_owned(),
            order_id: order_id.to_owned(),
            customer_id: customer_id.to_owned(),
            text: text.clone(),
        };
        if DB::insert(&self.pool, &self.table, notification).await? {
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
        DB::select(&self.pool, &self.table).await
    }
}

/// Cents as `12.34`.
fn amount(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, (cents % 100).abs())
}

impl<DB: NotificationsDatabase> OrdersHandler for NotificationService<DB> {
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
