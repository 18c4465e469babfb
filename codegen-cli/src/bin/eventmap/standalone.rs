//! The subcommands that read no existing mapping table: a starter table from protos
//! (`init`), the table's JSON Schema, shell completions and the man pages of the command
//! itself.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, Subcommand};
use clap_complete::Shell;
use eventmap_codegen::__private::{self as committed, Freshness};
use eventmap_codegen::Error;
use eventmap_codegen::init::{self, ChannelPer, InitOptions};

use crate::Cli;

/// Subcommands that need no table (flattened into the command list).
#[derive(Debug, Subcommand)]
pub enum Standalone {
    /// Write a starter table for existing `.proto` contracts.
    ///
    /// The table (`--mappings`, default `mappings.yaml`) has a channel per package (or file), a
    /// row per message that looks like an event, every field listed with its source guessed by
    /// name, and comments where a guess is weak. It passes `eventmap check`; an existing table
    /// is never overwritten.
    Init {
        /// The folder of the `.proto` files (their include directory).
        #[arg(long, value_name = "DIR")]
        protos: PathBuf,
        /// The files to read, relative to DIR (default: every `.proto` under it).
        #[arg(long, value_name = "FILE", num_args = 1..)]
        files: Vec<String>,
        /// The service's name, its CloudEvents `ce-source` (default: the first segment of the
        /// first proto package).
        #[arg(long, value_name = "NAME")]
        service: Option<String>,
        /// One channel per proto package or per file.
        #[arg(long, value_enum, default_value_t = ChannelPer::Package)]
        channel_per: ChannelPer,
    },
    /// Explain a rule of `eventmap check`, with a failing and a passing example.
    ///
    /// What the rule reports, why it matters, its fixtures, and for a breaking rule how to
    /// accept an intended break.
    Explain {
        /// The rule id, as diagnostics print it (`unknown-proto-field`).
        rule: String,
    },
    /// Print the JSON Schema of the mapping table, or write it to a file.
    ///
    /// Editors read it for completion, hover and validation (yaml-language-server:
    /// `# yaml-language-server: $schema=<path>` on the table's first line).
    Schema {
        /// Write to FILE (only when it changed) instead of stdout.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// With --output: do not write, exit 1 with a unified diff when FILE is not current.
        #[arg(long, requires = "output")]
        check: bool,
    },
    /// Print the shell completion script for bash, zsh, fish, powershell or elvish.
    ///
    /// bash: `eventmap completions bash > ~/.local/share/bash-completion/completions/eventmap`;
    /// zsh: `eventmap completions zsh > ~/.zfunc/_eventmap` (with `~/.zfunc` in `fpath`);
    /// fish: `eventmap completions fish > ~/.config/fish/completions/eventmap.fish`;
    /// powershell: `eventmap completions powershell >> $PROFILE`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Print the man page of `eventmap` (roff), or write one page per subcommand.
    ///
    /// With `--out DIR`: `eventmap.1`, `eventmap-check.1`, ... into DIR.
    Man {
        /// The folder to write the pages into (created when missing).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

/// Runs a subcommand that reads no table; `tables` are the `--mappings` given.
pub fn run(command: &Standalone, tables: &[PathBuf]) -> Result<ExitCode, Error> {
    match command {
        Standalone::Init {
            protos,
            files,
            service,
            channel_per,
        } => {
            let [table] = tables else {
                eprintln!("error: init writes one table, {} were given", tables.len());
                return Ok(ExitCode::from(2));
            };
            let options = InitOptions {
                protos: protos.clone(),
                files: files.clone(),
                service: service.clone(),
                channel_per: *channel_per,
                table: table.clone(),
            };
            Ok(write_init(&options))
        }
        Standalone::Explain { rule } => Ok(match eventmap_codegen::explain::explain(rule) {
            Ok(text) => {
                crate::out(&text);
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("error: {err}");
                ExitCode::from(2)
            }
        }),
        Standalone::Schema { output, check } => schema(output.as_deref(), *check),
        Standalone::Completions { shell } => {
            let mut command = Cli::command();
            clap_complete::generate(*shell, &mut command, "eventmap", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Standalone::Man { out } => man(out.as_deref()),
    }
}

/// `eventmap init`: writes the starter table and says what it holds; exit 2 when nothing was
/// written (an existing table, protos that do not compile, no event found).
fn write_init(options: &InitOptions) -> ExitCode {
    match init::write_starter_table(options) {
        Ok(starter) => {
            eprintln!(
                "eventmap: wrote {} ({} integration event{} on {} channel{}; {} message{} left out, listed in it); it passes `eventmap check`: review the guesses marked by comments",
                options.table.display(),
                starter.events,
                plural(starter.events),
                starter.channels,
                plural(starter.channels),
                starter.left_out.len(),
                plural(starter.left_out.len()),
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(2)
        }
    }
}

/// `s` for a count other than one.
fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `eventmap schema`: the schema on stdout, or synchronised with `output`.
fn schema(output: Option<&Path>, check: bool) -> Result<ExitCode, Error> {
    let text = eventmap_codegen::schema::mapping_table_json();
    let Some(path) = output else {
        crate::out(&text);
        return Ok(ExitCode::SUCCESS);
    };
    if !check {
        if committed::write_if_changed(path, &text)? {
            eprintln!("eventmap: wrote {}", path.display());
        } else {
            eprintln!("eventmap: {} is already current", path.display());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let hint = format!("run `eventmap schema --output {}`", path.display());
    Ok(match committed::freshness(path, &text) {
        Freshness::Current => {
            eprintln!("eventmap: {} is current", path.display());
            ExitCode::SUCCESS
        }
        Freshness::Stale { diff } => {
            crate::out(&diff);
            eprintln!("eventmap: {} is stale; {hint}", path.display());
            ExitCode::from(1)
        }
        Freshness::Missing => {
            eprintln!("eventmap: {} is missing; {hint}", path.display());
            ExitCode::from(1)
        }
    })
}

/// The error of a failed write to `path`.
fn written(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        action: "write",
        path: path.to_path_buf(),
        source,
    }
}

/// `eventmap man`: the main page on stdout, or every page into `out`.
fn man(out: Option<&Path>) -> Result<ExitCode, Error> {
    let command = Cli::command();
    match out {
        None => {
            clap_mangen::Man::new(command)
                .render(&mut std::io::stdout().lock())
                .map_err(written(Path::new("<stdout>")))?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(written(dir))?;
            clap_mangen::generate_to(command, dir).map_err(written(dir))?;
            eprintln!("eventmap: wrote the man pages into {}", dir.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
