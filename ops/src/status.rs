//! `eventmap-ops status`: the service's lag at a glance: the outbox backlog (rows, age of
//! the oldest unpublished, rows being retried, rows parked), each subscription's durable consumer
//! (pending, awaiting ack, redelivered) and dead letters.

use std::collections::HashMap;
use std::io::Write;
use std::process::ExitCode;
use std::time::SystemTime;

use eventmap::nats::async_nats::jetstream::{self, Context};
use eventmap::postgres::sqlx;
use eventmap::postgres::{DEFAULT_SCHEMA, Outbox};
use eventmap_codegen::service::Subscription;
use serde::Serialize;

use crate::OpsError;
use crate::dead_letters::store;
use crate::output::{Report, age, print, table};
use crate::session::Session;

/// Arguments of `status`.
#[derive(Debug, Clone, clap::Args)]
pub struct StatusArgs {
    /// Schema of the service's outbox
    #[arg(long, env = "EVENTMAP_SCHEMA", default_value = DEFAULT_SCHEMA)]
    pub schema: String,
    /// Leave the outbox out (a service that only consumes; no PostgreSQL connection)
    #[arg(long)]
    pub no_outbox: bool,
}

/// What `status` prints.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    /// The table's `service`.
    pub service: String,
    /// The outbox, unless `--no-outbox`.
    pub outbox: Option<OutboxStatus>,
    /// One entry per subscription of the table.
    pub subscriptions: Vec<SubscriptionStatus>,
}

/// The outbox backlog.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OutboxStatus {
    /// The schema.
    pub schema: String,
    /// Unpublished rows (committed).
    pub backlog: u64,
    /// Age of the oldest unpublished row, in seconds (0 without backlog).
    pub oldest_age_secs: f64,
    /// Unpublished rows with at least one failed publish.
    pub retrying: u64,
    /// Rows the relay parked because the broker refuses them (`eventmap-ops outbox list`).
    pub parked: u64,
    /// Unpublished rows waiting behind a parked row of their aggregate.
    pub waiting_behind_parked: u64,
    /// The error of the first row being retried.
    pub last_error: Option<String>,
}

/// A subscription's consumer and dead letters.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SubscriptionStatus {
    /// Name in the table.
    pub name: String,
    /// The durable consumer.
    pub durable: String,
    /// The stream it consumes.
    pub stream: String,
    /// Its state, `null` when the consumer does not exist (yet).
    pub consumer: Option<ConsumerStatus>,
    /// The dead-letter stream, if the subscription has one.
    pub dead_letter_stream: Option<String>,
    /// Dead letters of this subscription waiting there.
    pub dead_letters: Option<u64>,
}

/// A durable consumer's state, as JetStream reports it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ConsumerStatus {
    /// Messages of its subjects not yet delivered.
    pub pending: u64,
    /// Delivered, not yet acknowledged.
    pub ack_pending: u64,
    /// Delivered more than once and not yet acknowledged.
    pub redelivered: u64,
    /// Pull requests waiting.
    pub waiting: u64,
    /// Stream sequence of the last acknowledged message below which all are acknowledged.
    pub ack_floor: u64,
}

/// Runs `status`.
///
/// # Errors
///
/// [`OpsError`]: the table, NATS, PostgreSQL.
pub async fn run(session: &Session, args: StatusArgs) -> Result<ExitCode, OpsError> {
    let report = collect(session, &args).await?;
    print(session.format, &report)?;
    Ok(ExitCode::SUCCESS)
}

/// Reads the figures of `status` (also what `metrics` serves on each scrape).
///
/// # Errors
///
/// [`OpsError`]: the table, NATS, PostgreSQL.
pub async fn collect(session: &Session, args: &StatusArgs) -> Result<StatusReport, OpsError> {
    let service = session.service().await?;
    let outbox = if args.no_outbox {
        None
    } else {
        Some(outbox(session, &args.schema).await?)
    };
    let jetstream = session.jetstream().await?;
    // Every dead-letter stream read once, the dead letters counted by stream and durable.
    let letters = store::scan(
        jetstream,
        &store::sources(service, None)?,
        &indicatif::ProgressBar::hidden(),
    )
    .await?;
    let mut dead_letters: HashMap<(&str, &str), u64> = HashMap::new();
    for letter in &letters {
        if let Some(durable) = letter.durable() {
            *dead_letters
                .entry((letter.stream.as_str(), durable))
                .or_default() += 1;
        }
    }
    let mut subscriptions = Vec::new();
    for subscription in &service.subscriptions {
        let dead = subscription.dead_letter.as_ref().map(|channel| {
            dead_letters
                .get(&(channel.stream.as_str(), subscription.durable.as_str()))
                .copied()
                .unwrap_or(0)
        });
        subscriptions.push(subscription_status(jetstream, subscription, dead).await?);
    }
    Ok(StatusReport {
        service: service.name.clone(),
        outbox,
        subscriptions,
    })
}

/// The outbox backlog in `schema`, which must exist with eventmap's tables (it is never
/// created or migrated: reading only).
///
/// # Errors
///
/// [`OpsError::NoSchema`], [`OpsError::Outbox`], [`OpsError::Database`].
pub async fn outbox(session: &Session, schema: &str) -> Result<OutboxStatus, OpsError> {
    let pool = session.pool().await?;
    let opened = Outbox::open(pool.clone(), schema)
        .await
        .map_err(|err| session.schema_error(err, OpsError::Outbox))?;
    // The name is checked by `Outbox::open` (no quoting needed beyond the quotes).
    let table = format!("\"{schema}\".eventmap_outbox");
    // The backlog as `outbox list` counts it (parked rows and those behind them included).
    let counted = opened.backlog().await.map_err(OpsError::Outbox)?;
    let (retrying, last_error): (i64, Option<String>) = sqlx::query_as(&format!(
        "SELECT count(*) FILTER (WHERE attempts > 0), \
                (SELECT last_error FROM {table} WHERE published_at IS NULL \
                   AND last_error IS NOT NULL ORDER BY id LIMIT 1) \
         FROM {table} WHERE published_at IS NULL"
    ))
    .fetch_one(pool)
    .await?;
    Ok(OutboxStatus {
        schema: schema.to_owned(),
        backlog: counted.unpublished,
        oldest_age_secs: counted.oldest_age(SystemTime::now()).as_secs_f64(),
        retrying: u64::try_from(retrying).unwrap_or_default(),
        parked: counted.parked,
        waiting_behind_parked: counted.waiting_behind_parked,
        last_error,
    })
}

/// The consumer of `subscription`, with its `dead_letters` counted.
async fn subscription_status(
    jetstream: &Context,
    subscription: &Subscription,
    dead_letters: Option<u64>,
) -> Result<SubscriptionStatus, OpsError> {
    let consumer = match jetstream.get_stream(&subscription.channel.stream).await {
        Ok(stream) => match stream.consumer_info(&subscription.durable).await {
            Ok(info) => Some(ConsumerStatus {
                pending: info.num_pending,
                ack_pending: info.num_ack_pending as u64,
                redelivered: info.num_redelivered as u64,
                waiting: info.num_waiting as u64,
                ack_floor: info.ack_floor.stream_sequence,
            }),
            Err(err) if is_not_found(&err) => None,
            Err(err) => {
                return Err(OpsError::jetstream(
                    format!("cannot read consumer `{}`", subscription.durable),
                    err,
                ));
            }
        },
        Err(_) => None,
    };
    Ok(SubscriptionStatus {
        name: subscription.name.clone(),
        durable: subscription.durable.clone(),
        stream: subscription.channel.stream.clone(),
        consumer,
        dead_letter_stream: subscription.dead_letter.as_ref().map(|c| c.stream.clone()),
        dead_letters,
    })
}

/// Whether a consumer request failed because the consumer does not exist.
fn is_not_found(err: &jetstream::context::ConsumerInfoError) -> bool {
    use jetstream::context::ConsumerInfoErrorKind as Kind;
    match err.kind() {
        Kind::NotFound | Kind::StreamNotFound => true,
        Kind::JetStream(inner) => inner.error_code() == jetstream::ErrorCode::CONSUMER_NOT_FOUND,
        _ => false,
    }
}

impl Report for StatusReport {
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(out, "service {}", self.service)?;
        match &self.outbox {
            Some(outbox) => {
                write!(
                    out,
                    "outbox (schema {}): {} unpublished",
                    outbox.schema, outbox.backlog
                )?;
                if outbox.backlog > 0 {
                    write!(out, ", oldest {}", age(outbox.oldest_age_secs as u64))?;
                }
                write!(out, ", {} retrying", outbox.retrying)?;
                if outbox.parked > 0 {
                    write!(
                        out,
                        ", {} parked ({} waiting behind them; eventmap-ops outbox list)",
                        outbox.parked, outbox.waiting_behind_parked
                    )?;
                }
                writeln!(out)?;
                if let Some(error) = &outbox.last_error {
                    writeln!(out, "  first error: {error}")?;
                }
            }
            None => writeln!(out, "outbox: not read (--no-outbox)")?,
        }
        if self.subscriptions.is_empty() {
            return writeln!(out, "no subscriptions");
        }
        let rows = self
            .subscriptions
            .iter()
            .map(|s| {
                let (pending, ack_pending, redelivered) = match &s.consumer {
                    Some(c) => (
                        c.pending.to_string(),
                        c.ack_pending.to_string(),
                        c.redelivered.to_string(),
                    ),
                    None => ("-".into(), "-".into(), "-".into()),
                };
                vec![
                    s.name.clone(),
                    s.durable.clone(),
                    if s.consumer.is_some() {
                        "exists".into()
                    } else {
                        "not created".into()
                    },
                    pending,
                    ack_pending,
                    redelivered,
                    s.dead_letters
                        .map_or_else(|| "-".to_owned(), |n| n.to_string()),
                ]
            })
            .collect();
        out.write_all(
            table(
                &[
                    "SUBSCRIPTION",
                    "DURABLE",
                    "CONSUMER",
                    "PENDING",
                    "ACK PENDING",
                    "REDELIVERED",
                    "DEAD LETTERS",
                ],
                &[3, 4, 5, 6],
                rows,
            )
            .as_bytes(),
        )?;
        Ok(())
    }
}
