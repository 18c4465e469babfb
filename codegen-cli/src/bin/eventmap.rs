//! The `eventmap` command: check a mapping table against its protos and generate the
//! integration module and the documentation of the integration events from it.
//!
//! Exit codes: 0 ok, 1 problems found (or stale output with `generate --check` or
//! `docs --check`), 2 could not run (unreadable file, bad arguments).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{ArgAction, Parser, Subcommand, ValueEnum};
use eventmap_codegen::__private::{self as committed, Freshness};
use eventmap_codegen::breaking::{self, Baseline, BaselineProblem, Break};
use eventmap_codegen::permissions::{self, DEFAULT_INBOX_PREFIX, ServicePermissions};
use eventmap_codegen::{Analysis, Diagnostic, Error, analyze, report, rules, system};

#[path = "eventmap/standalone.rs"]
mod standalone;

/// Check a mapping table (mappings.yaml) against its .proto contracts and generate the Rust
/// glue between domain events and protobuf integration events on NATS JetStream.
///
/// Exit codes: 0 ok, 1 problems found (or stale output), 2 could not run.
#[derive(Debug, Parser)]
#[command(name = "eventmap", version)]
struct Cli {
    /// The mapping table. Paths inside it are relative to its own folder. `check`, `docs` and
    /// `permissions` take several (`--mappings A --mappings B`): a folder stands for every
    /// `mappings.yaml` under it (hidden folders and `target` skipped), a quoted glob pattern
    /// (`'services/*/mappings.yaml'`) for the files it matches. `check` then also checks the
    /// tables against each other (consumers against producers), `docs` documents them as one
    /// system. `generate` takes one.
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

/// `check --against-registry`: the NATS server whose contract registry the tables are
/// compared with.
#[derive(Debug, clap::Args)]
struct RegistryArgs {
    /// Also compare the tables with the contracts live in the contract registry of the NATS
    /// server at URL (the JetStream key-value bucket producers register their contracts in when
    /// they start): what a deploy pipeline checks before it deploys a service. Read only; the
    /// rules are in docs/checks.md, "Against the live registry". Exit 2 when the server cannot
    /// be read.
    #[cfg(feature = "registry")]
    #[arg(long, value_name = "NATS_URL")]
    against_registry: Option<String>,
    /// A NATS credentials file (user JWT and NKey seed) for `--against-registry`; a user and
    /// password or a token can be in the URL (`nats://user:password@host:4222`). The `nats`
    /// CLI's variables are read too: `NATS_USER`/`NATS_PASSWORD`, `NATS_TOKEN`, `NATS_CREDS`
    /// and `NATS_INBOX_PREFIX` (a user whose replies must arrive on its own prefix).
    #[cfg(feature = "registry")]
    #[arg(long, value_name = "FILE", requires = "against_registry")]
    registry_creds: Option<PathBuf>,
    /// How long connecting to the server, and each read, may take (`5s`, `500ms`).
    #[cfg(feature = "registry")]
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = humantime::parse_duration, requires = "against_registry")]
    registry_timeout: std::time::Duration,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check the table against its protos, and several tables against each other; exit 1 when
    /// there are problems.
    Check {
        /// Also report breaking changes of the integration contract against a baseline: a git
        /// revision (`HEAD~1`, `origin/main`; read through git, nothing is checked out) or a
        /// folder laid out like this one. Intended breaks are accepted in
        /// `eventmap-accepted-breaks.yaml` next to the table. With several tables, each break
        /// is also reported in each consumer's table that subscribes to an event it reaches.
        #[arg(long, value_name = "REV|DIR")]
        against: Option<String>,
        #[command(flatten)]
        registry: RegistryArgs,
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
                let diagnostics = [could_not_run(&err, &cli.mappings)];
                match cli.format {
                    Format::Json => out(&format!("{}\n", report::render_json(&diagnostics))),
                    Format::Github => out(&report::render_github(&diagnostics)),
                    Format::Text => {}
                }
            }
            ExitCode::from(2)
        }
    }
}

/// Writes `text` to stdout. A reader that went away (`| head`, `| true`) is not an error of
/// the command: the rest is dropped and the exit code stays the command's; another write
/// failure is reported on stderr.
pub(crate) fn out(text: &str) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    if let Err(err) = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        && err.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("eventmap: cannot write to stdout: {err}");
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
    let tables = system::find_tables(&cli.mappings)?;
    match &cli.command {
        Command::Permissions {
            user,
            inbox_prefix,
            output,
        } => {
            return write_permissions(
                cli,
                &tables,
                user.as_deref(),
                inbox_prefix,
                output.as_deref(),
            );
        }
        Command::Check { against, registry } => {
            return check(cli.format, &tables, against.as_deref(), registry);
        }
        Command::Docs { out, check } if tables.len() > 1 => {
            return system_docs(cli.format, &tables, out.as_deref(), *check);
        }
        _ => {}
    }
    let [mappings] = tables.as_slice() else {
        eprintln!(
            "error: this command takes one table, {} were given ({})",
            tables.len(),
            self::tables(&tables)
        );
        return Ok(ExitCode::from(2));
    };
    let analysis = analyze(mappings)?;
    emit(cli.format, &analysis, &analysis.diagnostics);
    if reported_errors(&analysis) {
        return Ok(ExitCode::from(1));
    }
    match cli.command {
        Command::Generate { check } => generate(cli.format, &analysis, check),
        Command::Docs { ref out, check } => docs(cli.format, &analysis, out.as_deref(), check),
        // Answered above.
        Command::Check { .. } | Command::Permissions { .. } | Command::Standalone(_) => {
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `eventmap check`: each table against its protos, then (with several) the tables against
/// each other, then (with `against`) each table against its baseline, with the consumers a
/// producer's break reaches. Exit 1 when a table has errors.
fn check(
    format: Format,
    tables: &[PathBuf],
    against: Option<&str>,
    registry: &RegistryArgs,
) -> Result<ExitCode, Error> {
    let mut analyses = tables
        .iter()
        .map(|path| analyze(path))
        .collect::<Result<Vec<_>, _>>()?;
    // Before the baseline: a break is an error of the producer's table, and the cross-checks
    // compare tables that are valid on their own.
    let cross = system::check(&mut analyses);
    if let Some(against) = against {
        let mut impacts = Vec::new();
        for index in 0..analyses.len() {
            let Some((base, found)) = compare_with_baseline(against, &mut analyses[index])? else {
                continue;
            };
            // The breaks not accepted in the producer's accepted-breaks file.
            let kept: Vec<Break> = found
                .into_iter()
                .filter(|b| analyses[index].diagnostics.contains(&b.diagnostic))
                .collect();
            impacts.extend(system::consumer_impacts(&analyses, index, &base, &kept));
        }
        for (index, diagnostic) in impacts {
            analyses[index].diagnostics.push(diagnostic);
        }
    }
    let live = match against_registry(format, &mut analyses, registry) {
        Ok(live) => live,
        Err(err) => {
            // The registry could not be read (exit 2), but what the tables' own checks found
            // is still reported: an unreachable server must not hide a table's errors.
            if format == Format::Text {
                emit_all(format, &analyses);
                eprintln!("error: {err}");
            } else {
                let mut all: Vec<Diagnostic> = analyses
                    .iter()
                    .flat_map(|analysis| analysis.diagnostics.iter().cloned())
                    .collect();
                all.push(could_not_run(&err, tables));
                match format {
                    Format::Json => out(&format!("{}\n", report::render_json(&all))),
                    _ => out(&report::render_github(&all)),
                }
            }
            return Ok(ExitCode::from(2));
        }
    };
    emit_all(format, &analyses);
    let mut failed = false;
    for analysis in &analyses {
        failed |= reported_errors(analysis);
    }
    if let system::CrossCheck::Skipped { tables } = &cross {
        eprintln!(
            "eventmap: the tables are checked against each other once each is valid on its own ({} {} errors)",
            self::tables(tables),
            if tables.len() == 1 { "has" } else { "have" }
        );
    }
    // What was compared with the registry, also when a table failed (a table with errors of
    // its own is not compared: the line says so).
    if let Some(live) = live {
        eprint!("{live}");
    }
    if failed {
        return Ok(ExitCode::from(1));
    }
    let summary = match analyses.as_slice() {
        [one] => format!(
            "eventmap: {} is consistent with its protos\n",
            one.file.display()
        ),
        all => format!(
            "eventmap: {} tables ({}) are consistent with their protos and with each other\n",
            all.len(),
            self::tables(tables)
        ),
    };
    say(format, &summary);
    Ok(ExitCode::SUCCESS)
}

/// With `--against-registry`: the tables against the contracts live on the server; returns
/// the line that says what was compared.
#[cfg(feature = "registry")]
fn against_registry(
    format: Format,
    analyses: &mut [Analysis],
    args: &RegistryArgs,
) -> Result<Option<String>, Error> {
    use eventmap_codegen::contract_registry::{self, Server};
    let Some(url) = &args.against_registry else {
        return Ok(None);
    };
    let from_env = Server::from_env(url.clone());
    let server = Server {
        creds: args.registry_creds.clone().or(from_env.creds.clone()),
        timeout: args.registry_timeout,
        ..from_env
    };
    let snapshot = contract_registry::read(&server, &contract_registry::wanted(analyses))?;
    if !snapshot.exists && format == Format::Text {
        eprintln!(
            "eventmap: {url} has no contract registry (bucket `{}`): no producer registered its contracts there yet",
            eventmap_contract::registry::BUCKET
        );
    }
    let compared = contract_registry::check(analyses, &snapshot);
    Ok(Some(format!(
        "eventmap: against the registry at {url}: of the events the tables publish or subscribe to (counted per table and subscription), {} are registered with the table's contract, {} with another one (compared), {} are not registered{}\n",
        compared.same,
        compared.differ,
        compared.unregistered,
        if compared.skipped > 0 {
            format!(
                "; {} {} errors of {} own, not compared (fix them first)",
                compared.skipped,
                if compared.skipped == 1 {
                    "table has"
                } else {
                    "tables have"
                },
                if compared.skipped == 1 {
                    "its"
                } else {
                    "their"
                }
            )
        } else {
            String::new()
        }
    )))
}

/// Without the feature `registry` there is no `--against-registry`.
#[cfg(not(feature = "registry"))]
fn against_registry(
    _format: Format,
    _analyses: &mut [Analysis],
    _args: &RegistryArgs,
) -> Result<Option<String>, Error> {
    Ok(None)
}

/// Reports the diagnostics of every table: in the text format each table's with its own
/// sources, in the machine formats one JSON array or one list of commands for all.
/// The `could-not-run` diagnostic of `err` (exit 2) for the machine formats.
fn could_not_run(err: &Error, mappings: &[PathBuf]) -> Diagnostic {
    let mut diagnostic = Diagnostic::new(rules::COULD_NOT_RUN, err.to_string());
    diagnostic.hint = Some(format!(
        "eventmap could not check `{}` (exit 2)",
        tables(mappings)
    ));
    diagnostic
}

fn emit_all(format: Format, analyses: &[Analysis]) {
    match format {
        Format::Text => {
            for analysis in analyses {
                emit(format, analysis, &analysis.diagnostics);
            }
        }
        Format::Json | Format::Github => {
            let all: Vec<Diagnostic> = analyses
                .iter()
                .flat_map(|analysis| analysis.diagnostics.iter().cloned())
                .collect();
            match format {
                Format::Json => out(&format!("{}\n", report::render_json(&all))),
                _ => out(&report::render_github(&all)),
            }
        }
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
    tables: &[PathBuf],
    user: Option<&str>,
    inbox_prefix: &str,
    output: Option<&Path>,
) -> Result<ExitCode, Error> {
    if cli.format == Format::Github {
        eprintln!("error: permissions are written as `--format text` or `--format json`");
        return Ok(ExitCode::from(2));
    }
    if user.is_some() && tables.len() > 1 {
        eprintln!("error: --user names the user of one table; give one --mappings with it");
        return Ok(ExitCode::from(2));
    }
    let analyses = tables
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
        out(&format!("{}\n", report::render_json(&all)));
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
        None => out(&text),
        Some(path) => {
            committed::write_if_changed(path, &text)?;
            eprintln!("eventmap: wrote {}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Adds the breaking changes against `against` (a folder when one exists at that path, a git
/// revision otherwise) to `analysis`; returns the baseline and every break found (accepted or
/// not). A baseline without the table (a new table) has nothing to break: that is said on
/// stderr, not an error.
fn compare_with_baseline(
    against: &str,
    analysis: &mut Analysis,
) -> Result<Option<(Analysis, Vec<Break>)>, Error> {
    let baseline = if Path::new(against).is_dir() {
        Baseline::Dir(PathBuf::from(against))
    } else {
        Baseline::GitRef {
            repo_dir: PathBuf::from("."),
            rev: against.to_owned(),
        }
    };
    let table = analysis.file.clone();
    match breaking::load_baseline(&baseline, &table) {
        Ok(base) => {
            let found = breaking::breaks(&base, analysis);
            breaking::check_against(&base, analysis)?;
            Ok(Some((base, found)))
        }
        Err(Error::Baseline {
            problem: BaselineProblem::TableNotFound(path),
            ..
        }) => {
            eprintln!(
                "eventmap: the baseline {baseline} has no table at `{}`: nothing to compare",
                path.display()
            );
            Ok(None)
        }
        Err(err) => Err(err),
    }
}

/// Prints `text`, meant for people (a summary, a diff), on stdout in the text format and on
/// stderr in the machine formats, whose stdout holds only the JSON or the GitHub commands (so
/// that `eventmap check --format json | jq` works).
fn say(format: Format, text: &str) {
    if format == Format::Text {
        out(text);
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
        Format::Json => out(&format!("{}\n", report::render_json(diagnostics))),
        Format::Github => out(&report::render_github(diagnostics)),
    }
}

fn generate(format: Format, analysis: &Analysis, check: bool) -> Result<ExitCode, Error> {
    let code = analysis.generate()?;
    let model = analysis.model()?;
    let output = model
        .output
        .clone()
        .ok_or_else(|| Error::NoOutput(analysis.file.clone()))?;
    if !check {
        // `--check` writes nothing: it compares, and reports the file stale.
        eventmap_codegen::check_output(&output, &analysis.file)?;
    }
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

/// `eventmap docs` over several tables: each table's documents, knowing its peers, in its
/// own folder (`out/<service>` with `--out`), and the system catalog next to the first
/// table's documents (in `out` with `--out`).
fn system_docs(
    format: Format,
    tables: &[PathBuf],
    out: Option<&Path>,
    check: bool,
) -> Result<ExitCode, Error> {
    let analyses = tables
        .iter()
        .map(|path| analyze(path))
        .collect::<Result<Vec<_>, _>>()?;
    emit_all(format, &analyses);
    let mut failed = false;
    for analysis in &analyses {
        failed |= reported_errors(analysis);
    }
    if failed {
        return Ok(ExitCode::from(1));
    }
    let docs = eventmap_codegen::docs::render_system(&analyses)?;
    let mappings: Vec<String> = tables
        .iter()
        .map(|t| format!("--mappings {}", t.display()))
        .collect();
    let command = format!("{} docs", mappings.join(" "));
    sync_files(format, &docs.files(out), check, &command)
}
