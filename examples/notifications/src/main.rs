//! `notifications-example`: the notifications service. Consumes the ordering service's
//! integration events from NATS JetStream and records the notifications it would send
//! (PostgreSQL, or SQLite for a `sqlite://` URL), until
//! interrupted (Ctrl-C or SIGTERM); `notifications-example list` prints them.

use std::process::ExitCode;

use clap::Parser;
use eventmap::nats::Consumer;
use eventmap::nats::connect::{ConnectArgs, connect};
use eventmap::redact::redact_url;
use notifications_example::subscriptions::{OrdersEvent, OrdersRouter, subscriptions};
use notifications_example::{NotificationService, NotificationsDatabase};

#[derive(Debug, Parser)]
#[command(
    name = "notifications-example",
    about = "The notifications service example of eventmap"
)]
struct Cli {
    /// NATS connection (JetStream, server 2.10 or newer).
    #[command(flatten)]
    nats: ConnectArgs,
    /// Database where notifications are recorded: PostgreSQL (`postgres://...`) or a SQLite
    /// file (`sqlite://path/notifications.db`, created when missing).
    #[arg(
        long,
        env = "DATABASE_URL",
        hide_env_values = true,
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    database_url: String,
    /// Schema of the notifications table (PostgreSQL; a SQLite file is the service's own).
    #[arg(long, default_value = "notifications")]
    schema: String,
    /// Print the recorded notifications and exit, instead of consuming.
    #[arg(long)]
    list: bool,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colours only on a terminal: no escape codes in a redirected log file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match serve(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("notifications-example: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Opens the database of `cli.database_url` and runs on it.
async fn serve(cli: Cli) -> Result<(), String> {
    let url = cli.database_url.clone();
    let cannot_connect = |e: sqlx::Error| format!("cannot connect to {}: {e}", redact_url(&url));
    if url.starts_with("sqlite:") {
        let options = eventmap::sqlite::connect_options(&url)
            .map_err(|e| format!("invalid {}: {e}", redact_url(&url)))?;
        let pool = sqlx::SqlitePool::connect_with(options)
            .await
            .map_err(cannot_connect)?;
        run(cli, pool).await
    } else {
        // One connection first: an unreachable server fails at once, with the reason.
        let pool = eventmap::postgres::connect_pool(&url, 10)
            .await
            .map_err(|e| e.to_string())?;
        run(cli, pool).await
    }
}

/// Lists the notifications, or consumes until Ctrl-C or SIGTERM; on `pool`'s database.
async fn run<DB: NotificationsDatabase>(cli: Cli, pool: sqlx::Pool<DB>) -> Result<(), String> {
    let service = NotificationService::new(pool, &cli.schema)
        .await
        .map_err(|e| format!("cannot prepare the notifications table: {e}"))?;
    if cli.list {
        let notifications = service.all().await.map_err(|e| e.to_string())?;
        for notification in notifications {
            println!("to {}: {}", notification.customer_id, notification.text);
        }
        return Ok(());
    }
    let client = connect(&cli.nats.settings().name("notifications-example"))
        .await
        .map_err(|e| e.to_string())?;
    let jetstream = eventmap::nats::async_nats::jetstream::new(client);
    let consumer = Consumer::<OrdersEvent>::start(&jetstream, &subscriptions::orders::spec())
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(
        durable = subscriptions::orders::DURABLE,
        "notifications service consuming"
    );
    let report = consumer
        .run(&OrdersRouter(service), eventmap::shutdown_signal())
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(?report, "notifications service stopped");
    Ok(())
}
