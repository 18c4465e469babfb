//! The `eventmap` command: check a mapping table against its protos and generate the
//! integration module and the documentation of the integration events from it.
//!
//! Exit codes: 0 ok, 1 problems found (or stale output with `generate --check` or
//! `docs --check`), 2 could not run (unreadable file, bad arguments).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{ArgAction, Parser, Subcommand, ValueEnum};
use eventmap_codegen::__private::{self as committed, Freshness};
use eventmap_codegen::breaking::{self, Baseline, BaselineProblem};
use eventmap_codegen::permissions::{self, DEFAULT_INBOX_PREFIX, ServicePermissions};
use eventmap_codegen::{Analysis, Diagnostic, Error, analyze, report, rules};

#[path = "eventmap/standalone.rs"]
mod standalone;

/// Check a mapping table (mappings.yaml) against its .proto contracts and generate the Rust
/// glue between domain events and protobuf integration events on NATS JetStream.
///
/// Exit codes: 0 ok, 1 problems found (or stale output), 2 could not run.
#[derive(Debug, Parser)]
#[command(name = "eventmap", version)]
struct Cli {
    /// The mapping table. Paths inside it are relative to its own folder. `permissions` takes
    /// several (`--mappings A --mappings B`), one user each; the other commands take one.
    #[arg(long, global = true, action = ArgAction::Append, default_value = "mappings.yaml")]
    mappings: Vec<PathBuf>,
    /// How problems are reported: `text` (for people, on stderr), `json` (an array of objects
    /// on stdout) or `github` (GitHub Actions workflow commands on stdout). In `json` and
    /// `github`, stdout holds nothing else: the other messages go to stderr. `permissions`
    /// writes `text` (nats-server configuration) or `json`.
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[command(subcommand)]
    command: Command,
}

/// Output format of diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// rustc-style text with snippets.
    Text,
    /// A JSON array of objects (path, start/end line and column, rule, severity, message).
    Json,
    /// GitHub Actions workflow commands.
    Github,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check the table against its protos; exit 1 when there are problems.
    Check {
        /// Also report breaking changes of the integration contract against a baseline: a git
        /// revision (`HEAD~1`, `origin/main`; read through git, nothing is checked out) or a
        /// folder laid out like this one. Intended breaks are accepted in
        /// `eventmap-accepted-breaks.yaml` next to the table.
        #[arg(long, value_name = "REV|DIR")]
        against: Option<String>,
    },
    /// Write the integration module to the file the table names (`rust.output`).
    Generate {
        /// Do not write: exit 1 with a unified diff when the file is not current.
        #[arg(long)]
        check: bool,
    },
    /// Write the documentation of the integration events: an AsyncAPI 3.0 document
    /// (`asyncapi.yaml`) and an event catalog with Mermaid diagrams (`events.md`).
    Docs {
        /// The folder to write into (default: `docs/generated` in the table's folder).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Do not write: exit 1 with a unified diff when a file is not current.
        #[arg(long)]
        check: bool,
    },
    /// Write the NATS permissions each table's service needs, and no more: the `authorization`
    /// block of a nats-server configuration (`--format text`, with the reason of each subject as
    /// comments) or JSON (`--format json`). See docs/security.md.
    Permissions {
        /// The NATS user name (one table only; default: the table's `service`).
        #[arg(long, value_name = "NAME")]
        user: Option<String>,
        /// The prefix of the services' reply subjects: the `--inbox-prefix`/`NATS_INBOX_PREFIX`
        /// the services connect with (a prefix of its own per service keeps others from
        /// reading its replies);
        /// `{service}` in it is the table's service, e.g. `_INBOX_{service}`.
        #[arg(long, value_name = "PREFIX", default_value = DEFAULT_INBOX_PREFIX)]
        inbox_prefix: String,
        /// Write to FILE instead of stdout.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    #[command(flatten)]
    Standalone(standalone::Standalone),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err}");
            // Machine formats still get their shape on stdout: one `could-not-run` error.
            if cli.format != Format::Text {
                let mut diagnostic = Diagnostic::new(rules::COULD_NOT_RUN, err.to_string());
                diagnostic.hint = Some(format!(
                    "eventmap could not check `{}` (exit 2)",
                    tables(&cli.mappings)
                ));
                let diagnostics = [diagnostic];
                match cli.format {
                    Format::Json => println!("{}", report::render_json(&diagnostics)),
                    Format::Github => print!("{}", report::render_github(&diagnostics)),
                    Format::Text => {}
                }
            }
            ExitCode::from(2)
        }
    }
}

/// The tables, `, `-separated, for messages.
fn tables(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|path| path.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn run(cli: &Cli) -> Result<ExitCode, Error> {
    if let Command::Standalone(command) = &cli.command {
        return standalone::run(command, &cli.mappings);
    }
    if let Command::Permissions {
        user,
        inbox_prefix,
        output,
    } = &cli.command
    {
        return write_permissions(cli, user.as_deref(), inbox_prefix, output.as_deref());
    }
    let [mappings] = cli.mappings.as_slice() else {
        eprintln!(
            "error: this command takes one table, {} were given ({})",
            cli.mappings.len(),
            tables(&cli.mappings)
        );
        return Ok(ExitCode::from(2));
    };
    let mut analysis = analyze(mappings)?;
    if let Command::Check {
        against: Some(against),
    } = &cli.command
    {
        compare_with_baseline(against, mappings, &mut analysis)?;
    }
    emit(cli.format, &analysis, &analysis.diagnostics);
    if reported_errors(&analysis) {
        return Ok(ExitCode::from(1));
    }
    match cli.command {
        Command::Check { .. } => {
            say(
                cli.format,
                &format!(
                    "eventmap: {} is consistent with its protos\n",
                    mappings.display()
                ),
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Generate { check } => generate(cli.format, &analysis, check),
        Command::Docs { ref out, check } => docs(cli.format, &analysis, out.as_deref(), check),
        // Answered before the single table is read (it takes several); kept for the match.
        Command::Permissions {
            ref user,
            ref inbox_prefix,
            ref output,
        } => write_permissions(cli, user.as_deref(), inbox_prefix, output.as_deref()),
        // Answered before any table is read.
        Command::Standalone(ref command) => standalone::run(command, &cli.mappings),
    }
}

/// Says on stderr how many errors `analysis` has; `true` when it has any.
fn reported_errors(analysis: &Analysis) -> bool {
    let errors = analysis.diagnostics.iter().filter(|d| d.is_error()).count();
    if errors > 0 {
        eprintln!(
            "eventmap: {} has {errors} error{}",
            analysis.file.display(),
            if errors == 1 { "" } else { "s" }
        );
    }
    errors > 0
}

/// `eventmap permissions`: checks every table (exit 1 with the diagnostics when one has
/// errors), then writes the users' permissions as nats-server configuration or JSON, to
/// `output` or stdout.
fn write_permissions(
    cli: &Cli,
    user: Option<&str>,
    inbox_prefix: &str,
    output: Option<&Path>,
) -> Result<ExitCode, Error> {
    if cli.format == Format::Github {
        eprintln!("error: permissions are written as `--format text` or `--format json`");
        return Ok(ExitCode::from(2));
    }
    if user.is_some() && cli.mappings.len() > 1 {
        eprintln!("error: --user names the user of one table; give one --mappings with it");
        return Ok(ExitCode::from(2));
    }
    let analyses = cli
        .mappings
        .iter()
        .map(|path| analyze(path))
        .collect::<Result<Vec<_>, _>>()?;
    let failed = analyses.iter().any(Analysis::has_errors);
    // With errors in `--format json`, stdout holds the diagnostics of every table (one JSON
    // array) instead of the permissions; otherwise the diagnostics go to stderr as text.
    if failed && cli.format == Format::Json {
        let all: Vec<Diagnostic> = analyses
            .iter()
            .flat_map(|analysis| analysis.diagnostics.iter().cloned())
            .collect();
        println!("{}", report::render_json(&all));
    }
    for analysis in &analyses {
        if !(failed && cli.format == Format::Json) {
            emit(Format::Text, analysis, &analysis.diagnostics);
        }
        reported_errors(analysis);
    }
    if failed {
        return Ok(ExitCode::from(1));
    }
    let options = permissions::Options {
        user: user.map(str::to_owned),
        inbox_prefix: inbox_prefix.to_owned(),
    };
    let services = analyses
        .iter()
        .map(|analysis| permissions::for_table(analysis, &options))
        .collect::<Result<Vec<ServicePermissions>, _>>()?;
    let text = match cli.format {
        Format::Json => permissions::json(&services)?,
        _ => permissions::server_config(&services)?,
    };
    match output {
        None => print!("{text}"),
        Some(path) => {
            committed::write_if_changed(path, &text)?;
            eprintln!("eventmap: wrote {}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Adds the breaking changes against `against` (a folder when one exists at that path, a git
/// revision otherwise) to `analysis`. A baseline without the table (a new table) has nothing
/// to break: that is said on stderr, not an error.
fn compare_with_baseline(
    against: &str,
    table: &Path,
    analysis: &mut Analysis,
) -> Result<(), Error> {
    let baseline = if Path::new(against).is_dir() {
        Baseline::Dir(PathBuf::from(against))
    } else {
        Baseline::GitRef {
            repo_dir: PathBuf::from("."),
            rev: against.to_owned(),
        }
    };
    match breaking::load_baseline(&baseline, table) {
        Ok(base) => breaking::check_against(&base, analysis),
        Err(Error::Baseline {
            problem: BaselineProblem::TableNotFound(path),
            ..
        }) => {
            eprintln!(
                "eventmap: the baseline {baseline} has no table at `{}`: nothing to compare",
                path.display()
            );
            Ok(())
        }
        Err(err) => Err(err),
    }
}

/// Prints `text`, meant for people (a summary, a diff), on stdout in the text format and on
/// stderr in the machine formats, whose stdout holds only the JSON or the GitHub commands (so
/// that `eventmap check --format json | jq` works).
fn say(format: Format, text: &str) {
    if format == Format::Text {
        print!("{text}");
    } else {
        eprint!("{text}");
    }
}

/// Reports `diagnostics` in `format`: text on stderr, JSON and GitHub commands on stdout. JSON
/// is always printed (an empty array when there is nothing to report).
fn emit(format: Format, analysis: &Analysis, diagnostics: &[Diagnostic]) {
    match format {
        Format::Text => {
            if !diagnostics.is_empty() {
                eprintln!("{}", report::render_text(diagnostics, &analysis.sources));
            }
        }
        Format::Json => println!("{}", report::render_json(diagnostics)),
        Format::Github => print!("{}", report::render_github(diagnostics)),
    }
}

fn generate(format: Format, analysis: &Analysis, check: bool) -> Result<ExitCode, Error> {
    let code = analysis.generate()?;
    let model = analysis.model()?;
    let output = model
        .output
        .clone()
        .ok_or_else(|| Error::NoOutput(analysis.file.clone()))?;
    sync_files(format, &[(output, code.as_str())], check, "generate")
}

/// Writes the documentation (`asyncapi.yaml`, `events.md`) into `out`, by default
/// `docs/generated` in the table's folder.
fn docs(
    format: Format,
    analysis: &Analysis,
    out: Option<&Path>,
    check: bool,
) -> Result<ExitCode, Error> {
    let docs = eventmap_codegen::docs::render(analysis)?;
    let dir = out.map_or_else(
        || eventmap_codegen::docs::default_out_dir(&analysis.file),
        Path::to_path_buf,
    );
    sync_files(format, &docs.files(&dir), check, "docs")
}

/// Writes each file that changed; with `check`, writes nothing and exits 1 when a file is
/// stale (its unified diff on stdout, on stderr in the machine formats) or missing. `command`
/// is the subcommand that writes them, for the hint.
fn sync_files(
    format: Format,
    files: &[(PathBuf, &str)],
    check: bool,
    command: &str,
) -> Result<ExitCode, Error> {
    let hint = format!("run `eventmap {command}`");
    let mut status = ExitCode::SUCCESS;
    for (path, contents) in files {
        if !check {
            if committed::write_if_changed(path, contents)? {
                say(format, &format!("eventmap: wrote {}\n", path.display()));
            } else {
                say(
                    format,
                    &format!("eventmap: {} is already current\n", path.display()),
                );
            }
            continue;
        }
        match committed::freshness(path, contents) {
            Freshness::Current => say(
                format,
                &format!("eventmap: {} is current\n", path.display()),
            ),
            Freshness::Stale { diff } => {
                say(format, &diff);
                eprintln!("eventmap: {} is stale; {hint}", path.display());
                status = ExitCode::from(1);
            }
            Freshness::Missing => {
                eprintln!("eventmap: {} is missing; {hint}", path.display());
                status = ExitCode::from(1);
            }
        }
    }
    Ok(status)
}
