//! The search read model: one row per order in the table `search_orders` of the service's
//! schema.

use sqlx::{PgConnection, PgPool, Row};

/// Where an order is, as the search service shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStatus {
    /// Created, not ready yet.
    New,
    /// Ready for pickup.
    ReadyForPickup,
    /// Picked up and paid.
    Completed,
    /// Canceled.
    Canceled,
}

impl OrderStatus {
    /// The text stored in the `status` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "New",
            Self::ReadyForPickup => "Ready For Pickup",
            Self::Completed => "Completed",
            Self::Canceled => "Canceled",
        }
    }

    /// The status stored as `text`, if it is one.
    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::New,
            Self::ReadyForPickup,
            Self::Completed,
            Self::Canceled,
        ]
        .into_iter()
        .find(|status| status.as_str() == text)
    }
}

/// One order of the read model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchEntry {
    /// The order (aggregate) id.
    pub order_id: String,
    /// The customer who ordered.
    pub customer_id: String,
    /// Total in cents.
    pub total_cents: i64,
    /// Currency of the total.
    pub currency: String,
    /// Where the order is.
    pub status: OrderStatus,
    /// Number of order lines.
    pub lines: i32,
    /// The order's aggregate version of the last event applied.
    pub version: u64,
}

/// An event was not applied to the read model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadModelError {
    /// The order has no row yet (its `OrderCreated` was not applied yet: redelivered later).
    #[error("order `{order_id}` is not indexed yet")]
    NotIndexed {
        /// The order id.
        order_id: String,
    },
    /// An aggregate version does not fit the `bigint` column.
    #[error("order `{order_id}`: version {version} does not fit a bigint")]
    Version {
        /// The order id.
        order_id: String,
        /// The version received.
        version: u64,
    },
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// The read model's table, in one schema.
#[derive(Debug, Clone)]
pub struct ReadModel {
    pool: PgPool,
    table: String,
}

fn version_column(order_id: &str, version: u64) -> Result<i64, ReadModelError> {
    i64::try_from(version).map_err(|_| ReadModelError::Version {
        order_id: order_id.to_owned(),
        version,
    })
}

impl ReadModel {
    /// The read model in `schema` (created with its table when missing).
    ///
    /// # Errors
    ///
    /// The database's, or an invalid schema name (letters, digits and `_` only).
    pub async fn new(pool: PgPool, schema: &str) -> Result<Self, ReadModelError> {
        if schema.is_empty()
            || !schema
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(ReadModelError::Database(sqlx::Error::Protocol(format!(
                "invalid schema name {schema:?}: letters, digits and `_` only"
            ))));
        }
        let table = format!("\"{schema}\".search_orders");
        sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
            .execute(&pool)
            .await?;
        sqlx::query(&format!(
            "CREATE TABLE IF NOT EXISTS {table} (
                order_id text PRIMARY KEY,
                customer_id text NOT NULL,
                total_cents bigint NOT NULL,
                currency text NOT NULL,
                status text NOT NULL,
                lines integer NOT NULL,
                version bigint NOT NULL
            )"
        ))
        .execute(&pool)
        .await?;
        Ok(Self { pool, table })
    }

    /// Inserts a new order (status New); a row already there is left as it is.
    ///
    /// # Errors
    ///
    /// The database's.
    pub async fn insert(
        &self,
        conn: &mut PgConnection,
        entry: &SearchEntry,
    ) -> Result<(), ReadModelError> {
        let version = version_column(&entry.order_id, entry.version)?;
        sqlx::query(&format!(
            "INSERT INTO {} (order_id, customer_id, total_cents, currency, status, lines, version)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (order_id) DO NOTHING",
            self.table
        ))
        .bind(&entry.order_id)
        .bind(&entry.customer_id)
        .bind(entry.total_cents)
        .bind(&entry.currency)
        .bind(entry.status.as_str())
        .bind(entry.lines)
        .bind(version)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Moves order `order_id` to `status` at aggregate version `version`; an older version
    /// than the row's changes nothing.
    ///
    /// # Errors
    ///
    /// [`ReadModelError::NotIndexed`] when the order has no row yet, or the database's.
    pub async fn set_status(
        &self,
        conn: &mut PgConnection,
        order_id: &str,
        status: OrderStatus,
        version: u64,
    ) -> Result<(), ReadModelError> {
        let version = version_column(order_id, version)?;
        let found = sqlx::query(&format!(
            "UPDATE {} SET status = CASE WHEN version < $3 THEN $2 ELSE status END,
                           version = GREATEST(version, $3)
             WHERE order_id = $1",
            self.table
        ))
        .bind(order_id)
        .bind(status.as_str())
        .bind(version)
        .execute(conn)
        .await?
        .rows_affected();
        if found == 0 {
            return Err(ReadModelError::NotIndexed {
                order_id: order_id.to_owned(),
            });
        }
        Ok(())
    }

    /// The order `order_id`, if indexed.
    ///
    /// # Errors
    ///
    /// The database's.
    pub async fn get(&self, order_id: &str) -> Result<Option<SearchEntry>, ReadModelError> {
        Ok(self
            .all_where("WHERE order_id = $1", Some(order_id))
            .await?
            .pop())
    }

    /// Every indexed order, by id.
    ///
    /// # Errors
    ///
    /// The database's.
    pub async fn all(&self) -> Result<Vec<SearchEntry>, ReadModelError> {
        self.all_where("", None).await
    }

    async fn all_where(
        &self,
        filter: &str,
        order_id: Option<&str>,
    ) -> Result<Vec<SearchEntry>, ReadModelError> {
        let sql = format!(
            "SELECT order_id, customer_id, total_cents, currency, status, lines, version
             FROM {} {filter} ORDER BY order_id",
            self.table
        );
        let mut query = sqlx::query(&sql);
        if let Some(order_id) = order_id {
            query = query.bind(order_id);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                let status: String = row.try_get("status")?;
                let version: i64 = row.try_get("version")?;
                Ok(SearchEntry {
                    order_id: row.try_get("order_id")?,
                    customer_id: row.try_get("customer_id")?,
                    total_cents: row.try_get("total_cents")?,
                    currency: row.try_get("currency")?,
                    status: OrderStatus::parse(&status).ok_or_else(|| {
                        sqlx::Error::Decode(format!("unknown status {status:?}").into())
                    })?,
                    lines: row.try_get("lines")?,
                    version: u64::try_from(version).unwrap_or(0),
                })
            })
            .collect()
    }
}
