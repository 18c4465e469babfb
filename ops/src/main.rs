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
        // Colours only on a terminal: no escape codes in a redirected log file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let format = cli.format;
    match eventmap_ops::run(cli, eventmap::shutdown_signal()).await {
        Ok(code) => code,
        Err(err) => {
            let message = eventmap_ops::error_chain(&err);
            eprintln!("eventmap-ops: {message}");
            // A script reading JSON still gets one document on stdout: the error and the code.
            if format == eventmap_ops::cli::Format::Json {
                let document =
                    serde_json::json!({ "error": message, "exit_code": err.exit_code() });
                println!("{document}");
            }
            ExitCode::from(err.exit_code())
        }
    }
}
