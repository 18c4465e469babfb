//! `eventmap-ops`: the operations binary of an eventmap service (`--help`, README, and
//! docs/operations.md).

use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = eventmap_ops::cli::parse();
    let default_level = cli.command.default_log_level();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level)),
        )
        .with_writer(std::io::stderr)
        .init();
    match eventmap_ops::run(cli, eventmap::shutdown_signal()).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("eventmap-ops: {}", eventmap_ops::error_chain(&err));
            ExitCode::from(err.exit_code())
        }
    }
}
