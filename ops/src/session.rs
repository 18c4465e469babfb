//! [`Session`]: what a command works with, opened on first use: the service's table, the
//! JetStream context, the PostgreSQL pool. A command that needs no database never connects
//! to one.

use eventmap::nats::async_nats::jetstream::{self, Context};
use eventmap::nats::connect::{
    ConnectSettings, PermissionViolations, connect_recording_violations,
};
use eventmap::postgres::sqlx::PgPool;
use eventmap_codegen::service::Service;
use tokio::sync::OnceCell;

use crate::OpsError;
use crate::cli::{Cli, Format};

/// The settings of one run and the connections opened so far.
#[derive(Debug)]
pub struct Session {
    /// `--mappings`.
    pub mappings: std::path::PathBuf,
    /// `--database-url`.
    pub database_url: String,
    /// `--format`.
    pub format: Format,
    nats: ConnectSettings,
    violations: PermissionViolations,
    service: OnceCell<Service>,
    jetstream: OnceCell<Context>,
    pool: OnceCell<PgPool>,
}

impl Session {
    /// A session with the global settings of `cli`; nothing is opened yet.
    pub fn new(cli: &Cli) -> Self {
        Self {
            mappings: cli.mappings.clone(),
            database_url: cli.database_url.clone(),
            format: cli.format,
            nats: cli.nats.settings().name("eventmap-ops"),
            violations: PermissionViolations::new(),
            service: OnceCell::new(),
            jetstream: OnceCell::new(),
            pool: OnceCell::new(),
        }
    }

    /// The service's table, read and checked on first use.
    ///
    /// # Errors
    ///
    /// [`OpsError::Table`].
    pub async fn service(&self) -> Result<&Service, OpsError> {
        self.service
            .get_or_try_init(|| async {
                eventmap_codegen::service::load(&self.mappings).map_err(|source| OpsError::Table {
                    path: self.mappings.clone(),
                    source,
                })
            })
            .await
    }

    /// The JetStream context, connected on first use (waiting while the server is away, as
    /// [`connect`](eventmap::nats::connect::connect) does), its connection's publish permission violations recorded in
    /// [`violations`](Self::violations).
    ///
    /// # Errors
    ///
    /// [`OpsError::Connect`].
    pub async fn jetstream(&self) -> Result<&Context, OpsError> {
        self.jetstream
            .get_or_try_init(|| async {
                let client = connect_recording_violations(&self.nats, &self.violations).await?;
                Ok(jetstream::new(client))
            })
            .await
    }

    /// The publish permission violations the server reported on the
    /// [`jetstream`](Self::jetstream) connection: NATS drops a publish the user may not make
    /// and says so only asynchronously, so a command that publishes races its acks against
    /// these to fail at once with the server's text instead of after the ack timeout.
    pub fn violations(&self) -> &PermissionViolations {
        &self.violations
    }

    /// `err`, from a command on a schema, as an [`OpsError`]: [`OpsError::NoSchema`] (naming
    /// the database, its password redacted) when the schema has no eventmap tables, else
    /// `other(err)`.
    pub fn schema_error(
        &self,
        err: eventmap::postgres::Error,
        other: fn(eventmap::postgres::Error) -> OpsError,
    ) -> OpsError {
        match err {
            eventmap::postgres::Error::SchemaMissing { schema, exists } => OpsError::NoSchema {
                schema,
                exists,
                url: eventmap::redact::redact_url(&self.database_url),
            },
            err => other(err),
        }
    }

    /// The PostgreSQL pool (2 connections), connected on first use.
    ///
    /// # Errors
    ///
    /// [`OpsError::Relay`] (a bad or unreachable database, the URL redacted).
    pub async fn pool(&self) -> Result<&PgPool, OpsError> {
        self.pool
            .get_or_try_init(|| async {
                Ok(eventmap::postgres::connect_pool(&self.database_url, 2).await?)
            })
            .await
    }
}
