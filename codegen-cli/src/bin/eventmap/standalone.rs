//! The subcommands that read no mapping table: the table's JSON Schema, shell completions and
//! the man pages of the command itself.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, Subcommand};
use clap_complete::Shell;
use eventmap_codegen::__private::{self as committed, Freshness};
use eventmap_codegen::Error;

use crate::Cli;

/// Subcommands that need no table (flattened into the command list).
#[derive(Debug, Subcommand)]
pub enum Standalone {
    /// Print the JSON Schema of the mapping table (for editors: completion, hover and
    /// validation), or write it to a file.
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
    /// Print the man page of `eventmap` (roff), or write one page per subcommand into a folder
    /// (`eventmap.1`, `eventmap-check.1`, ...).
    Man {
        /// The folder to write the pages into (created when missing).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

/// Runs a subcommand that reads no table.
pub fn run(command: &Standalone) -> Result<ExitCode, Error> {
    match command {
        Standalone::Schema { output, check } => schema(output.as_deref(), *check),
        Standalone::Completions { shell } => {
            let mut command = Cli::command();
            clap_complete::generate(*shell, &mut command, "eventmap", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Standalone::Man { out } => man(out.as_deref()),
    }
}

/// `eventmap schema`: the schema on stdout, or synchronised with `output`.
fn schema(output: Option<&Path>, check: bool) -> Result<ExitCode, Error> {
    let text = eventmap_codegen::schema::mapping_table_json();
    let Some(path) = output else {
        print!("{text}");
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
            print!("{diff}");
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
