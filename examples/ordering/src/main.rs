//! `ordering-example demo`: runs the ordering flow end to end and exits 0 when every
//! published integration event was received by the consumers subscribed to it.
//! `ordering-example serve`: the gRPC API as a process of its own; `ordering-example client`
//! calls it (one command, or the sample flow with `client trigger`).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use eventmap::nats::connect::{ConnectArgs, ConnectSettings, connect};
use eventmap::test_util::LocalServer;
use ordering_example::demo::{self, Report};
use ordering_example::grpc::api;
use ordering_example::grpc::client::{self, ClientError};
use ordering_example::sample;
use ordering_example::serve::{self, Backend};

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
    /// what they receive. Uses the NATS server of --server/$NATS_URL, or a private nats-server
    /// started on a free loopback port (and stopped afterwards) when neither is given. With
    /// DATABASE_URL set, the orders go to the event store it names, their events through the
    /// transactional outbox and a relay: postgres://... (feature `postgres`) in a schema of
    /// their own, sqlite://path/to/file.db (feature `sqlite`, on by default) in that file.
    Demo {
        /// Run on the in-memory publisher instead of NATS.
        #[arg(long)]
        in_memory: bool,
        /// Seconds to wait for the consumers to receive every event.
        #[arg(long, default_value_t = 20)]
        wait: u64,
        #[command(flatten)]
        nats: ConnectArgs,
    },
    /// Serve the gRPC API (ordering.v1.OrderingService) until ctrl-c or SIGTERM. Publishes to
    /// the NATS server of --server/$NATS_URL (or a private nats-server started on a free loopback port,
    /// whose URL is printed for the consumers) after provisioning the streams. With
    /// DATABASE_URL set, orders go to the event store it names (postgres://..., feature
    /// `postgres`; sqlite://path/to/file.db, feature `sqlite`) and their events through the
    /// transactional outbox and a relay in this process; otherwise orders are kept in memory
    /// and their events published after each save.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:50051")]
        listen: SocketAddr,
        /// Postgres schema of the store and outbox, kept at exit (processes may share it).
        /// Default: a schema of this run, dropped at exit.
        #[arg(long)]
        schema: Option<String>,
        #[command(flatten)]
        nats: ConnectArgs,
    },
    /// Re-publish the service's integration events from its Postgres event store
    /// (DATABASE_URL) through its current converters: on the live subjects (same ce-ids:
    /// deduplicated) or under --subject-prefix for one new consumer; resumable (a checkpoint
    /// per --name), --dry-run counts, progress on stderr, throughput at the end
    #[cfg(feature = "postgres")]
    Backfill {
        #[command(flatten)]
        args: ordering_example::backfill::BackfillArgs,
        #[command(flatten)]
        nats: ConnectArgs,
    },
    /// Call a running `serve`.
    Client {
        /// The service's endpoint.
        #[arg(long, default_value = "http://127.0.0.1:50051")]
        endpoint: String,
        /// Seconds to wait for the connection and for each call.
        #[arg(long, default_value_t = 10)]
        timeout: u64,
        #[command(subcommand)]
        call: Call,
    },
}

/// A call of `ordering-example client`.
#[derive(Debug, Subcommand)]
enum Call {
    /// Place an order; prints its id, version and total.
    Create {
        /// Who orders.
        #[arg(long)]
        customer: String,
        /// The authorised payment.
        #[arg(long)]
        payment: String,
        /// The order's id (default: the service picks one).
        #[arg(long)]
        order_id: Option<String>,
        /// Currency of every price.
        #[arg(long, default_value = sample::CURRENCY)]
        currency: String,
        /// The store selling the items.
        #[arg(long, default_value = sample::STORE)]
        store: String,
        /// An item, `PRODUCT:QUANTITY:UNIT_PRICE_CENTS[:NAME]`; repeat for more.
        #[arg(long = "item", required = true, value_parser = parse_item)]
        items: Vec<Item>,
    },
    /// Mark a pending order ready for pickup.
    Ready {
        /// The order.
        order_id: String,
    },
    /// Cancel a pending or ready order.
    Cancel {
        /// The order.
        order_id: String,
        /// Why.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Complete a ready order.
    Complete {
        /// The order.
        order_id: String,
        /// The invoice issued.
        #[arg(long)]
        invoice: String,
    },
    /// Run the sample flow: create four orders, ready three, cancel two (one of them ready),
    /// complete two; prints each call.
    Trigger {
        /// Tag of the order ids (`order-<run>-<n>`); default: random.
        #[arg(long)]
        run: Option<String>,
    },
}

/// One `--item` of `client create`.
#[derive(Debug, Clone)]
struct Item {
    product_id: String,
    quantity: u32,
    unit_price_cents: i64,
    name: String,
}

fn parse_item(spec: &str) -> Result<Item, String> {
    let mut parts = spec.splitn(4, ':');
    let (Some(product_id), Some(quantity), Some(price)) =
        (parts.next(), parts.next(), parts.next())
    else {
        return Err("expected PRODUCT:QUANTITY:UNIT_PRICE_CENTS[:NAME]".into());
    };
    if product_id.is_empty() {
        return Err("the product is empty".into());
    }
    let quantity = quantity
        .parse()
        .map_err(|e| format!("quantity `{quantity}`: {e}"))?;
    let unit_price_cents = price
        .parse()
        .map_err(|e| format!("unit price `{price}`: {e}"))?;
    Ok(Item {
        product_id: product_id.to_owned(),
        quantity,
        unit_price_cents,
        name: parts.next().unwrap_or(product_id).to_owned(),
    })
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        // Colours only on a terminal: no escape codes in a redirected log file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let outcome = match Cli::parse().command {
        Command::Demo {
            in_memory,
            wait,
            nats,
        } => demo::block_on(run(in_memory, Duration::from_secs(wait), nats))
            .map(|result| result.map(|report| verdict(&report))),
        Command::Serve {
            listen,
            schema,
            nats,
        } => demo::block_on(run_serve(listen, schema, nats)),
        Command::Client {
            endpoint,
            timeout,
            call,
        } => demo::block_on(run_client(&endpoint, Duration::from_secs(timeout), call)),
        #[cfg(feature = "postgres")]
        Command::Backfill { args, nats } => demo::block_on(run_backfill(args, nats)),
    };
    match outcome {
        Ok(Ok(code)) => code,
        Ok(Err(message)) => {
            eprintln!("ordering-example: {message}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("ordering-example: cannot start the tokio runtime: {e}");
            ExitCode::from(2)
        }
    }
}

/// `backfill`: exit 0 once done (or counted, with --dry-run).
#[cfg(feature = "postgres")]
async fn run_backfill(
    args: ordering_example::backfill::BackfillArgs,
    nats: ConnectArgs,
) -> Result<ExitCode, String> {
    use ordering_example::backfill::progress_line;
    let database_url = std::env::var("DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty())
        .ok_or("backfill reads the event store at DATABASE_URL (not set)")?;
    let client = if args.dry_run {
        None
    } else {
        Some(connect_nats(&nats.settings().name("ordering-example backfill")).await?)
    };
    let mut progress = |p: &eventmap::postgres::BackfillProgress| {
        let rate = p.messages as f64 / p.elapsed.as_secs_f64().max(1e-3);
        progress_line(&format!(
            "{}/{} events, position {}/{}, {} messages ({} new, {} duplicates), {rate:.0}/s",
            p.events, p.total, p.position, p.until, p.messages, p.published, p.duplicates
        ));
    };
    let report =
        ordering_example::backfill::run(&args, &database_url, client, &mut progress).await?;
    let by_event: Vec<String> = report
        .by_event
        .iter()
        .map(|(name, count)| format!("{name} {count}"))
        .collect();
    println!(
        "{} `{}`: {} events read (from position {} to {}), {} messages [{}]; {} new, {} \
         duplicates; {:.1} s, {:.0} messages/s{}",
        if report.dry_run {
            "dry run of"
        } else {
            "backfill"
        },
        report.name,
        report.events,
        report.resumed_from,
        report.until,
        report.messages,
        by_event.join(", "),
        report.published,
        report.duplicates,
        report.elapsed.as_secs_f64(),
        report.messages_per_second(),
        if report.finished || report.dry_run {
            ""
        } else {
            " (not finished: run it again to resume)"
        },
    );
    Ok(ExitCode::SUCCESS)
}

/// `serve`: exit 0 after a graceful shutdown.
async fn run_serve(
    listen: SocketAddr,
    schema: Option<String>,
    nats: ConnectArgs,
) -> Result<ExitCode, String> {
    let (settings, server) = nats_settings(&nats).await?;
    if let Some(server) = &server {
        println!("consumers in other processes: NATS_URL={}", server.url());
    }
    let nats = connect_nats(&settings).await?;
    let backend = match std::env::var("DATABASE_URL") {
        Ok(database_url) if !database_url.is_empty() => database_backend(database_url, schema)?,
        _ => {
            if schema.is_some() {
                println!("--schema is ignored without DATABASE_URL");
            }
            Backend::Memory
        }
    };
    let service = serve::Service::start(nats, backend, &mut |line| println!("{line}"))
        .await
        .map_err(|e| eventmap::error::error_chain(&e))?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    match listener.local_addr() {
        Ok(local) => println!("serving ordering.v1.OrderingService on {local} (ctrl-c to stop)"),
        Err(_) => println!("serving ordering.v1.OrderingService on {listen} (ctrl-c to stop)"),
    }
    service
        .serve(listener, eventmap::shutdown_signal())
        .await
        .map_err(|e| eventmap::error::error_chain(&e))?;
    println!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// `client`: exit 0 when every call succeeded, 1 when the service refused one.
async fn run_client(endpoint: &str, timeout: Duration, call: Call) -> Result<ExitCode, String> {
    let mut client = client::connect(endpoint, timeout)
        .await
        .map_err(|e| eventmap::error::error_chain(&e))?;
    let refused = |rpc: &'static str, order_id: &str| {
        let order_id = order_id.to_owned();
        move |status| ClientError::Call {
            rpc,
            order_id,
            status,
        }
    };
    let outcome = match call {
        Call::Create {
            customer,
            payment,
            order_id,
            currency,
            store,
            items,
        } => {
            let request = api::CreateOrderRequest {
                order_id: order_id.unwrap_or_default(),
                customer_id: customer,
                payment_id: payment,
                currency,
                items: items
                    .into_iter()
                    .map(|item| api::OrderLine {
                        product_id: item.product_id,
                        store_id: store.clone(),
                        product_name: item.name,
                        unit_price_cents: item.unit_price_cents,
                        quantity: item.quantity,
                    })
                    .collect(),
            };
            let label = match request.order_id.as_str() {
                "" => "(new order)".to_owned(),
                id => id.to_owned(),
            };
            client
                .create_order(request)
                .await
                .map_err(refused("CreateOrder", &label))
                .map(|r| {
                    let r = r.into_inner();
                    println!(
                        "CreateOrder {} -> version {}, total {} cents {}",
                        r.order_id, r.version, r.total_cents, r.currency
                    );
                })
        }
        Call::Ready { order_id } => client
            .ready_order(api::ReadyOrderRequest {
                order_id: order_id.clone(),
            })
            .await
            .map_err(refused("ReadyOrder", &order_id))
            .map(|r| {
                println!(
                    "ReadyOrder {order_id} -> version {}",
                    r.into_inner().version
                )
            }),
        Call::Cancel { order_id, reason } => client
            .cancel_order(api::CancelOrderRequest {
                order_id: order_id.clone(),
                reason,
            })
            .await
            .map_err(refused("CancelOrder", &order_id))
            .map(|r| {
                println!(
                    "CancelOrder {order_id} -> version {}",
                    r.into_inner().version
                )
            }),
        Call::Complete { order_id, invoice } => client
            .complete_order(api::CompleteOrderRequest {
                order_id: order_id.clone(),
                invoice_id: invoice,
            })
            .await
            .map_err(refused("CompleteOrder", &order_id))
            .map(|r| {
                println!(
                    "CompleteOrder {order_id} -> version {}",
                    r.into_inner().version
                )
            }),
        Call::Trigger { run } => {
            let run = run.unwrap_or_else(demo::run_id);
            client::trigger(&mut client, &run, &mut |line| println!("{line}"))
                .await
                .map(|calls| println!("ok: {} calls, run {run}", calls.len()))
        }
    };
    match outcome {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e @ ClientError::Call { .. }) => {
            eprintln!("{e}");
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(e.to_string()),
    }
}

/// The settings of `--server`/`$NATS_URL` and the other connection flags, or those of a
/// private nats-server started for this process (kept running while the returned server
/// lives) when no server is given.
async fn nats_settings(
    nats: &ConnectArgs,
) -> Result<(ConnectSettings, Option<LocalServer>), String> {
    if nats.server.is_some() {
        return Ok((nats.settings(), None));
    }
    let server = LocalServer::start().await.map_err(|e| {
        format!("cannot start a private nats-server: {e}\n(set NATS_URL or --server to use a running server)")
    })?;
    println!(
        "started a private nats-server {} at {} (stopped at exit)",
        server.version(),
        server.url()
    );
    Ok((ConnectSettings::new(&server.url()), Some(server)))
}

/// Connects (waiting while the server is unreachable, as `eventmap::nats::connect` does).
async fn connect_nats(settings: &ConnectSettings) -> Result<async_nats::Client, String> {
    let client = connect(&settings.clone().name("ordering-example"))
        .await
        .map_err(|e| eventmap::error::error_chain(&e))?;
    println!(
        "connected to NATS {} at {}",
        client.server_info().version,
        settings.redacted_servers()
    );
    Ok(client)
}

async fn run(in_memory: bool, wait: Duration, nats: ConnectArgs) -> Result<Report, String> {
    let run = demo::run_id();
    let mut log = |line: String| println!("{line}");
    if in_memory {
        println!("running on the in-memory publisher (no broker)");
        return demo::run_in_memory(&run, &mut log)
            .await
            .map_err(|e| eventmap::error::error_chain(&e));
    }
    let (settings, _server) = nats_settings(&nats)
        .await
        .map_err(|e| format!("{e} (or pass --in-memory)"))?;
    let client = connect_nats(&settings)
        .await
        .map_err(|e| format!("{e} (or pass --in-memory)"))?;
    match std::env::var("DATABASE_URL") {
        #[cfg(any(feature = "postgres", feature = "sqlite"))]
        Ok(database_url) if !database_url.is_empty() => {
            demo::run_on_database(client, &database_url, &run, wait, &mut log)
                .await
                .map_err(|e| eventmap::error::error_chain(&e))
        }
        #[cfg(not(any(feature = "postgres", feature = "sqlite")))]
        Ok(database_url) if !database_url.is_empty() => {
            println!(
                "DATABASE_URL is set but this build has no event store \
                 (cargo run -p ordering-example --features postgres,sqlite -- demo); \
                 dispatching after save instead"
            );
            demo::run_on_jetstream(client, &run, wait, &mut log)
                .await
                .map_err(|e| eventmap::error::error_chain(&e))
        }
        _ => demo::run_on_jetstream(client, &run, wait, &mut log)
            .await
            .map_err(|e| eventmap::error::error_chain(&e)),
    }
}

/// The backend of `serve` for `database_url`, by its scheme: the Postgres store (feature
/// `postgres`) or the SQLite one (feature `sqlite`). A scheme this build cannot serve is an
/// error (not a silent fallback to memory).
fn database_backend(database_url: String, schema: Option<String>) -> Result<Backend, String> {
    let is_sqlite = database_url.starts_with("sqlite:");
    #[cfg(feature = "sqlite")]
    if is_sqlite {
        if schema.is_some() {
            println!("--schema is ignored with an SQLite DATABASE_URL (one file per service)");
        }
        return Ok(Backend::Sqlite { database_url });
    }
    #[cfg(feature = "postgres")]
    if !is_sqlite {
        return Ok(Backend::Postgres {
            database_url,
            schema,
        });
    }
    let _ = schema;
    Err(format!(
        "DATABASE_URL is {} but this build has no {} feature \
         (cargo run -p ordering-example --features {} -- serve)",
        if is_sqlite {
            "an SQLite URL"
        } else {
            "not an SQLite URL"
        },
        if is_sqlite { "sqlite" } else { "postgres" },
        if is_sqlite { "sqlite" } else { "postgres" },
    ))
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
