//! `ordering-example backfill` (feature `postgres`): the service's integration events
//! re-derived from its Postgres event store with its own converters (the generated router)
//! and published again, through [`eventmap::postgres::Backfill`].
//!
//! A backfill needs the converters and upcasters compiled into the service, so each service
//! offers it as a subcommand of its own binary, wired like this one: its store (registry),
//! its router on `OutboxWriter::shared()`, a JetStream publisher.

use std::time::{Duration, SystemTime};

use eventmap::nats::JetStreamPublisher;
use eventmap::nats::async_nats;
use eventmap::postgres::sqlx::postgres::PgPoolOptions;
use eventmap::postgres::{
    Backfill, BackfillProgress, BackfillReport, BackfillSelection, BackfillTarget, OutboxWriter,
    PostgresStore,
};

/// What to re-publish and where, as `ordering-example backfill` takes it.
#[derive(Debug, Clone, clap::Args)]
pub struct BackfillArgs {
    /// The store's schema
    #[arg(long, env = "EVENTMAP_SCHEMA")]
    pub schema: String,
    /// The backfill's name: its checkpoint; run it again under the same name to resume
    #[arg(long, default_value = "backfill")]
    pub name: String,
    /// Only events of this aggregate type (e.g. Order)
    #[arg(long)]
    pub aggregate_type: Option<String>,
    /// Only events of these aggregate ids (repeat the flag)
    #[arg(long = "aggregate-id")]
    pub aggregate_ids: Vec<String>,
    /// Only these domain events, by their current name (repeat the flag)
    #[arg(long = "event")]
    pub events: Vec<String>,
    /// Only these integration events, e.g. OrderReadiedEvent (repeat the flag)
    #[arg(long = "integration-event")]
    pub integration_events: Vec<String>,
    /// Only events that occurred at or after this time (RFC 3339, e.g. 2026-12-01T00:00:00Z)
    #[arg(long, value_parser = humantime::parse_rfc3339_weak)]
    pub since: Option<SystemTime>,
    /// Only events that occurred before this time (RFC 3339)
    #[arg(long, value_parser = humantime::parse_rfc3339_weak)]
    pub until: Option<SystemTime>,
    /// Publish to `<prefix>.<live subject>` (a stream of one new consumer bound to
    /// `<prefix>.>`) instead of the live subjects
    #[arg(long)]
    pub subject_prefix: Option<String>,
    /// Stored events per batch (each published, then checkpointed)
    #[arg(long, default_value_t = eventmap::postgres::DEFAULT_BACKFILL_BATCH)]
    pub batch: u32,
    /// Acks outstanding while a batch is published
    #[arg(long, default_value_t = eventmap::postgres::DEFAULT_BACKFILL_WINDOW)]
    pub window: usize,
    /// Count what would be published (events read, messages per integration event), without
    /// publishing or checkpointing
    #[arg(long)]
    pub dry_run: bool,
    /// Delete the checkpoint of --name first and start over
    #[arg(long)]
    pub restart: bool,
}

/// Runs the backfill `args` describe on the store at `database_url`, publishing through
/// `client` (not used for a dry run); a progress line per batch goes to `progress`.
///
/// # Errors
///
/// The database, the selection, a conversion or a publish failure, as text.
pub async fn run(
    args: &BackfillArgs,
    database_url: &str,
    client: Option<async_nats::Client>,
    progress: &mut (dyn FnMut(&BackfillProgress) + Send),
) -> Result<BackfillReport, String> {
    let pool = PgPoolOptions::new()
        .max_connections(3)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(eventmap::postgres::connect_options(database_url).map_err(|e| e.to_string())?)
        .await
        .map_err(|e| format!("PostgreSQL: {e}"))?;
    let store = PostgresStore::builder(pool)
        .schema(args.schema.clone())
        .registry(crate::demo::event_registry().map_err(|e| e.to_string())?)
        .build()
        .await
        .map_err(|e| e.to_string())?;
    let selection = BackfillSelection::default()
        .aggregate_ids(args.aggregate_ids.clone())
        .event_names(args.events.clone())
        .integration_events(args.integration_events.clone())
        .occurred(args.since, args.until)
        .map_err(|e| e.to_string())?;
    let selection = match &args.aggregate_type {
        Some(aggregate_type) => selection.aggregate_type(aggregate_type.clone()),
        None => selection,
    };
    let mut backfill = Backfill::new(store, args.name.clone())
        .router(crate::demo::glue(OutboxWriter::shared()))
        .selection(selection)
        .target(match &args.subject_prefix {
            Some(prefix) => BackfillTarget::Prefix(prefix.clone()),
            None => BackfillTarget::Live,
        })
        .batch_size(args.batch)
        .window(args.window);
    if args.dry_run {
        return backfill
            .dry_run(progress)
            .await
            .map_err(|e| eventmap::error::error_chain(&e));
    }
    let client = client.ok_or("a backfill that publishes needs NATS")?;
    backfill = backfill.publisher(JetStreamPublisher::new(async_nats::jetstream::new(client)));
    if args.restart
        && backfill
            .reset()
            .await
            .map_err(|e| eventmap::error::error_chain(&e))?
    {
        progress_line(&format!(
            "checkpoint `{}` deleted: starting over",
            args.name
        ));
    }
    backfill
        .run(progress)
        .await
        .map_err(|e| eventmap::error::error_chain(&e))
}

/// One line on stderr.
pub fn progress_line(line: &str) {
    eprintln!("backfill: {line}");
}
