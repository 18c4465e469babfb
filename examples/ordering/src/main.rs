//! `ordering-example demo`: runs the ordering flow end to end and exits 0 when every
//! published integration event was received by the consumers subscribed to it.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use eventmap::nats::LocalServer;
use ordering_example::demo::{self, Report};

#[derive(Debug, Parser)]
#[command(
    name = "ordering-example",
    about = "The ordering service example of eventmap"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create, ready, cancel and complete orders; the search and notification consumers print
    /// what they receive. Uses the NATS server at $NATS_URL, or a private nats-server started
    /// on a free loopback port (and stopped afterwards) when NATS_URL is unset. With
    /// DATABASE_URL set (and the `postgres` feature), the orders go to the Postgres event
    /// store in a schema of their own and their events through the transactional outbox and a
    /// relay.
    Demo {
        /// Run on the in-memory publisher instead of NATS.
        #[arg(long)]
        in_memory: bool,
        /// Seconds to wait for the consumers to receive every event.
        #[arg(long, default_value_t = 20)]
        wait: u64,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let Command::Demo { in_memory, wait } = Cli::parse().command;
    let outcome = demo::block_on(run(in_memory, Duration::from_secs(wait)))
        .map_err(|e| format!("cannot start the tokio runtime: {e}"))
        .and_then(|result| result);
    match outcome {
        Ok(report) => verdict(&report),
        Err(message) => {
            eprintln!("ordering-example: {message}");
            ExitCode::from(2)
        }
    }
}

async fn run(in_memory: bool, wait: Duration) -> Result<Report, String> {
    let run = demo::run_id();
    let mut log = |line: String| println!("{line}");
    if in_memory {
        println!("running on the in-memory publisher (no broker)");
        return demo::run_in_memory(&run, &mut log)
            .await
            .map_err(|e| e.to_string());
    }
    let (url, _server) = match std::env::var("NATS_URL") {
        Ok(url) if !url.is_empty() => (url, None),
        _ => {
            let server = LocalServer::start().await.map_err(|e| {
                format!("cannot start a private nats-server: {e}\n(set NATS_URL to use a running server, or pass --in-memory)")
            })?;
            println!(
                "started a private nats-server {} at {}",
                server.version(),
                server.url()
            );
            (server.url(), Some(server))
        }
    };
    let client = tokio::time::timeout(Duration::from_secs(5), async_nats::connect(&url))
        .await
        .map_err(|_| {
            format!("NATS at {url} did not answer within 5 s (is it running? or pass --in-memory)")
        })?
        .map_err(|e| {
            format!("cannot reach NATS at {url}: {e} (is it running? or pass --in-memory)")
        })?;
    println!(
        "connected to NATS {} at {url}",
        client.server_info().version
    );
    match std::env::var("DATABASE_URL") {
        #[cfg(feature = "postgres")]
        Ok(database_url) if !database_url.is_empty() => {
            demo::run_on_postgres(client, &database_url, &run, wait, &mut log)
                .await
                .map_err(|e| e.to_string())
        }
        #[cfg(not(feature = "postgres"))]
        Ok(database_url) if !database_url.is_empty() => {
            println!(
                "DATABASE_URL is set but this build has no Postgres mode \
                 (cargo run -p ordering-example --features postgres -- demo); \
                 dispatching after save instead"
            );
            demo::run_on_jetstream(client, &run, wait, &mut log)
                .await
                .map_err(|e| e.to_string())
        }
        _ => demo::run_on_jetstream(client, &run, wait, &mut log)
            .await
            .map_err(|e| e.to_string()),
    }
}

fn verdict(report: &Report) -> ExitCode {
    let missing = report.missing();
    println!(
        "published {}; search received {}; notifications received {}",
        report.published.len(),
        report.search.len(),
        report.notifications.len()
    );
    if missing.is_empty() && !report.published.is_empty() {
        println!("ok: every published integration event was received");
        ExitCode::SUCCESS
    } else {
        for line in &missing {
            eprintln!("not received: {line}");
        }
        ExitCode::from(1)
    }
}
