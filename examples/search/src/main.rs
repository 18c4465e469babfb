//! `search-example`: the search service. Consumes the ordering service's integration events
//! from NATS JetStream into its read model (PostgreSQL, or SQLite for a `sqlite://` URL)
//! until interrupted (Ctrl-C or SIGTERM), or prints the read model.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use eventmap::nats::Consumer;
use eventmap::nats::connect::{ConnectArgs, connect};
use eventmap::redact::redact_url;
use search_example::subscriptions::{OrdersEvent, subscriptions};
use search_example::{Backend, ReadModel, SearchService};
use sqlx::{Pool, Postgres, Sqlite};

#[derive(Debug, Parser)]
#[command(
    name = "search-example",
    about = "The search service example of eventmap"
)]
struct Cli {
    /// NATS connection (JetStream, server 2.10 or newer).
    #[command(flatten)]
    nats: ConnectArgs,
    /// Database of the read model and the inbox: PostgreSQL (`postgres://...`) or a SQLite
    /// file (`sqlite://path/search.db`, created when missing).
    #[arg(
        long,
        env = "DATABASE_URL",
        hide_env_values = true,
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    database_url: String,
    /// Schema of the read model and the inbox (PostgreSQL; a SQLite file is the service's own).
    #[arg(long, default_value = "search")]
    schema: String,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Consume until Ctrl-C or SIGTERM (the default).
    Run,
    /// Print the read model.
    List,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colours only on a terminal: no escape codes in a redirected log file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("search-example: cannot start the tokio runtime: {err}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("search-example: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Opens the database of `cli.database_url` and runs on it.
async fn run(cli: Cli) -> Result<(), String> {
    let url = cli.database_url.clone();
    let cannot_connect = |e: sqlx::Error| format!("cannot connect to {}: {e}", redact_url(&url));
    if url.starts_with("sqlite:") {
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(
                eventmap::sqlite::connect_options(&url)
                    .map_err(|e| format!("invalid {}: {e}", redact_url(&url)))?,
            )
            .await
            .map_err(cannot_connect)?;
        let inbox = eventmap::sqlite::Inbox::new(pool.clone())
            .await
            .map_err(|e| format!("cannot prepare the inbox: {e}"))?;
        serve::<Sqlite>(cli, pool, inbox).await
    } else {
        // One connection first: an unreachable server fails at once, with the reason.
        let pool = eventmap::postgres::connect_pool(&url, 4)
            .await
            .map_err(|e| e.to_string())?;
        let inbox = eventmap::postgres::Inbox::new(pool.clone(), &cli.schema)
            .await
            .map_err(|e| format!("cannot prepare the inbox: {e}"))?;
        serve::<Postgres>(cli, pool, inbox).await
    }
}

/// Lists the read model, or consumes into it until Ctrl-C or SIGTERM; on database `B`.
async fn serve<B: Backend>(cli: Cli, pool: Pool<B>, inbox: B::Inbox) -> Result<(), String> {
    let read_model = ReadModel::<B>::new(pool, &cli.schema)
        .await
        .map_err(|e| format!("cannot prepare the read model: {e}"))?;
    if matches!(cli.command, Some(Command::List)) {
        for entry in read_model.all().await.map_err(|e| e.to_string())? {
            println!(
                "{}\t{}\t{}\t{} {}\t{} line(s)",
                entry.order_id,
                entry.status.as_str(),
                entry.customer_id,
                entry.total_cents,
                entry.currency,
                entry.lines
            );
        }
        return Ok(());
    }
    let client = connect(&cli.nats.settings().name("search-example"))
        .await
        .map_err(|e| e.to_string())?;
    let context = eventmap::nats::async_nats::jetstream::new(client);
    let consumer = Consumer::<OrdersEvent>::start(&context, &subscriptions::orders::spec())
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(
        durable = subscriptions::orders::DURABLE,
        "search service consuming"
    );
    // A batch per transaction, each order's events in version order across restarts.
    let handler = SearchService::<B>::new(inbox.clone(), read_model);
    let report = consumer
        .run_with_inbox(&inbox, &handler, eventmap::shutdown_signal())
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(?report, "search service stopped");
    Ok(())
}
