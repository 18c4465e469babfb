//! [`TransactionalHandler`]: what a [`Consumer`](super::Consumer) run with the inbox
//! ([`Consumer::run_with_inbox`](super::Consumer::run_with_inbox)) does with each event, on
//! the connection of the transaction that also records the message id.

use std::future::Future;

use tracing::Instrument;

use crate::decode::IntegrationEventSet;
use crate::error::BoxError;
use crate::nats::Delivery;

/// Handles one event inside the inbox's transaction: its writes go through `conn`, and they
/// commit together with the ids of the batch's messages, or not at all.
///
/// `DB` is the inbox's database: `sqlx::Postgres` (`conn` is a `PgConnection`) for
/// [`postgres::Inbox`](crate::postgres::Inbox), `sqlx::Sqlite` (`conn` is a
/// `SqliteConnection`) for [`sqlite::Inbox`](crate::sqlite::Inbox); the default is
/// [`DefaultDatabase`](crate::inbox::DefaultDatabase) (Postgres when the feature is on). A
/// handler written once for both is generic over `DB`.
///
/// The handler must not commit, roll back or acknowledge: the runtime does (see
/// [`Consumer::run_with_inbox`](super::Consumer::run_with_inbox)). `Err` (or a panic) rolls
/// back the batch; the runtime then retries its messages one at a time, so the failing one
/// is redelivered with the policy's backoff (and dead-lettered after its last delivery) and
/// the others are applied. A handler runs at most once per committed message id: a
/// redelivery, or the same message twice in a batch, does not reach it.
///
/// Handlers are called one after the other, in stream order; several events of a batch share
/// one transaction, so a handler sees the uncommitted writes of the earlier ones. With
/// [`DeliveryPolicy::inbox_transactions`](super::DeliveryPolicy::inbox_transactions) above 1,
/// a batch is split by aggregate into transactions that run at the same time: the handler is
/// then called concurrently for different aggregates, and sees the writes of its own
/// transaction's events only.
///
/// [`handle`](Self::handle) is all a handler has to write. A handler that can apply many
/// events with fewer statements (one multi-row `INSERT ... SELECT unnest(...)` instead of one
/// `INSERT` per event: each statement is a round trip to PostgreSQL, which is where a batch
/// spends its time, see `BENCHMARKS.md`) also overrides [`handle_batch`](Self::handle_batch).
///
/// ```no_run
/// use eventmap::BoxError;
/// use eventmap::nats::{Delivery, TransactionalHandler};
/// use eventmap::postgres::sqlx::{self, PgConnection};
/// # #[derive(Debug)] enum OrderEvents { Created }
/// # impl eventmap::IntegrationEventSet for OrderEvents {
/// #     const CHANNEL: eventmap::ChannelSpec =
/// #         eventmap::ChannelSpec::new("order", "ordering.order", "ORDERING_ORDERS");
/// #     const NAMES: &'static [&'static str] = &["OrderCreatedEvent"];
/// #     fn decode(_: &str, _: &[u8]) -> Result<Self, eventmap::DecodeError> { Ok(Self::Created) }
/// #     fn name(&self) -> &'static str { "OrderCreatedEvent" }
/// # }
/// struct Index;
///
/// impl TransactionalHandler<OrderEvents> for Index {
///     async fn handle(
///         &self,
///         conn: &mut PgConnection,
///         delivery: &Delivery<OrderEvents>,
///     ) -> Result<(), BoxError> {
///         sqlx::query("INSERT INTO orders (id, version) VALUES ($1, $2)")
///             .bind(delivery.aggregate_id())
///             .bind(i64::try_from(delivery.aggregate_version)?)
///             .execute(&mut *conn)
///             .await?;
///         Ok(())
///     }
/// }
/// ```
pub trait TransactionalHandler<
    E: IntegrationEventSet + Sync,
    DB: sqlx::Database = crate::inbox::DefaultDatabase,
>: Send + Sync
{
    /// Applies one delivery on `conn`, the batch transaction's connection.
    fn handle(
        &self,
        conn: &mut DB::Connection,
        delivery: &Delivery<E>,
    ) -> impl Future<Output = Result<(), BoxError>> + Send;

    /// Applies the new deliveries of a batch, or of its share of the batch when the batch is
    /// split into transactions (never empty; duplicates already left out), in stream order,
    /// on `conn`. `Err` rolls the whole batch (or share) back (the runtime then calls this
    /// with one delivery at a time to find the failing one). The default calls
    /// [`handle`](Self::handle) for each, in a `consume` span of its own.
    fn handle_batch(
        &self,
        conn: &mut DB::Connection,
        deliveries: &[&Delivery<E>],
        durable: &str,
    ) -> impl Future<Output = Result<(), BoxError>> + Send {
        async move {
            for delivery in deliveries {
                self.handle(conn, delivery)
                    .instrument(super::run::handler_span(delivery, durable))
                    .await?;
            }
            Ok(())
        }
    }
}
