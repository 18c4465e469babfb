//! The search read model: one row per order in the table `search_orders` of the service's
//! schema (PostgreSQL) or database file (SQLite). The statements are written once, over
//! [`ReadModelDatabase`]; [`Dialect`] holds the little that differs: where the table lives.

use std::future::Future;

use sqlx::{
    ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Postgres, Row, Sqlite,
    Type,
};

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
    /// The schema name cannot be used.
    #[error("invalid schema name {0:?}: letters, digits and `_` only")]
    Schema(String),
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

/// Where the read model's table lives on one database.
pub trait Dialect: Database {
    /// The table's name for `schema`.
    fn table(schema: &str) -> String;

    /// The statement creating `schema` before the table, if the database has schemas.
    fn create_schema(schema: &str) -> Option<String>;
}

/// PostgreSQL: the table in the service's schema.
impl Dialect for Postgres {
    fn table(schema: &str) -> String {
        format!("\"{schema}\".search_orders")
    }

    fn create_schema(schema: &str) -> Option<String> {
        Some(format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
    }
}

/// SQLite: the database file is the service's own, the schema name is not used.
impl Dialect for Sqlite {
    fn table(_schema: &str) -> String {
        "search_orders".to_owned()
    }

    fn create_schema(_schema: &str) -> Option<String> {
        None
    }
}

/// A database the read model runs on: every sqlx database with a [`Dialect`] whose driver
/// takes the read model's statements (PostgreSQL and SQLite); implemented once, for both.
pub trait ReadModelDatabase: Dialect {
    /// Creates the table (and its schema) when missing.
    fn create(pool: &Pool<Self>, schema: &str) -> impl Future<Output = sqlx::Result<()>> + Send;

    /// Inserts `entry` unless its order has a row; on `conn`.
    fn insert(
        conn: &mut Self::Connection,
        table: &str,
        entry: &SearchEntry,
        version: i64,
    ) -> impl Future<Output = sqlx::Result<()>> + Send;

    /// Moves `order_id` to `status` unless its row is at `version` or later; `false` when
    /// the order has no row.
    fn set_status(
        conn: &mut Self::Connection,
        table: &str,
        order_id: &str,
        status: OrderStatus,
        version: i64,
    ) -> impl Future<Output = sqlx::Result<bool>> + Send;

    /// The rows (of `order_id` only, if given), by order id.
    fn select(
        pool: &Pool<Self>,
        table: &str,
        order_id: Option<&str>,
    ) -> impl Future<Output = Result<Vec<SearchEntry>, ReadModelError>> + Send;
}

impl<DB> ReadModelDatabase for DB
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'c> &'c Pool<DB>: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> String: Encode<'q, DB>,
    for<'q> i64: Encode<'q, DB>,
    for<'q> i32: Encode<'q, DB>,
    for<'r> String: Decode<'r, DB>,
    for<'r> i64: Decode<'r, DB>,
    for<'r> i32: Decode<'r, DB>,
    String: Type<DB>,
    i64: Type<DB>,
    i32: Type<DB>,
    for<'a> &'a str: ColumnIndex<DB::Row>,
{
    async fn create(pool: &Pool<Self>, schema: &str) -> sqlx::Result<()> {
        if let Some(statement) = DB::create_schema(schema) {
            sqlx::query(&statement).execute(pool).await?;
        }
        sqlx::query(&format!(
            "CREATE TABLE IF NOT EXISTS {} (
                order_id text PRIMARY KEY,
                customer_id text NOT NULL,
                total_cents bigint NOT NULL,
                currency text NOT NULL,
                status text NOT NULL,
                lines integer NOT NULL,
                version bigint NOT NULL
            )",
            DB::table(schema)
        ))
        .execute(pool)
        .await?;
        Ok(())
    }

    async fn insert(
        conn: &mut DB::Connection,
        table: &str,
        entry: &SearchEntry,
        version: i64,
    ) -> sqlx::Result<()> {
        sqlx::query(&format!(
            "INSERT INTO {table} (order_id, customer_id, total_cents, currency, status, lines, version)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (order_id) DO NOTHING"
        ))
        .bind(entry.order_id.clone())
        .bind(entry.customer_id.clone())
        .bind(entry.total_cents)
        .bind(entry.currency.clone())
        .bind(entry.status.as_str().to_owned())
        .bind(entry.lines)
        .bind(version)
        .execute(conn)
        .await?;
        Ok(())
    }

    async fn set_status(
        conn: &mut DB::Connection,
        table: &str,
        order_id: &str,
        status: OrderStatus,
        version: i64,
    ) -> sqlx::Result<bool> {
        // Both columns from the row as it was: the status changes only with a newer version.
        let found = sqlx::query(&format!(
            "UPDATE {table} SET status = CASE WHEN version < $3 THEN $2 ELSE status END,
                                version = CASE WHEN version < $3 THEN $3 ELSE version END
             WHERE order_id = $1 RETURNING order_id"
        ))
        .bind(order_id.to_owned())
        .bind(status.as_str().to_owned())
        .bind(version)
        .fetch_optional(conn)
        .await?;
        Ok(found.is_some())
    }

    async fn select(
        pool: &Pool<Self>,
        table: &str,
        order_id: Option<&str>,
    ) -> Result<Vec<SearchEntry>, ReadModelError> {
        let filter = if order_id.is_some() {
            "WHERE order_id = $1"
        } else {
            ""
        };
        let sql = format!(
            "SELECT order_id, customer_id, total_cents, currency, status, lines, version
             FROM {table} {filter} ORDER BY order_id"
        );
        let mut query = sqlx::query(&sql);
        if let Some(order_id) = order_id {
            query = query.bind(order_id.to_owned());
        }
        let rows = query.fetch_all(pool).await?;
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

/// The read model's table, on PostgreSQL (`ReadModel<Postgres>`, in one schema) or SQLite
/// (`ReadModel<Sqlite>`).
#[derive(Debug)]
pub struct ReadModel<DB: Database> {
    pool: Pool<DB>,
    table: String,
}

impl<DB: Database> Clone for ReadModel<DB> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            table: self.table.clone(),
        }
    }
}

fn version_column(order_id: &str, version: u64) -> Result<i64, ReadModelError> {
    i64::try_from(version).map_err(|_| ReadModelError::Version {
        order_id: order_id.to_owned(),
        version,
    })
}

impl<DB: ReadModelDatabase> ReadModel<DB> {
    /// The read model in `schema` (created with its table when missing; on SQLite the
    /// database file is the service's and the name only checked).
    ///
    /// # Errors
    ///
    /// [`ReadModelError::Schema`] for a name with other than letters, digits and `_`, or the
    /// database's.
    pub async fn new(pool: Pool<DB>, schema: &str) -> Result<Self, ReadModelError> {
        if schema.is_empty()
            || !schema
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(ReadModelError::Schema(schema.to_owned()));
        }
        DB::create(&pool, schema).await?;
        Ok(Self {
            pool,
            table: DB::table(schema),
        })
    }

    /// Inserts a new order (status New); a row already there is left as it is.
    ///
    /// # Errors
    ///
    /// [`ReadModelError::Version`], or the database's.
    pub async fn insert(
        &self,
        conn: &mut DB::Connection,
        entry: &SearchEntry,
    ) -> Result<(), ReadModelError> {
        let version = version_column(&entry.order_id, entry.version)?;
        DB::insert(conn, &self.table, entry, version).await?;
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
        conn: &mut DB::Connection,
        order_id: &str,
        status: OrderStatus,
        version: u64,
    ) -> Result<(), ReadModelError> {
        let version = version_column(order_id, version)?;
        if !DB::set_status(conn, &self.table, order_id, status, version).await? {
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
        Ok(DB::select(&self.pool, &self.table, Some(order_id))
            .await?
            .pop())
    }

    /// Every indexed order, by id.
    ///
    /// # Errors
    ///
    /// The database's.
    pub async fn all(&self) -> Result<Vec<SearchEntry>, ReadModelError> {
        DB::select(&self.pool, &self.table, None).await
    }
}
