//! `eventmap-ops --help` and docs/operations.md give the same exit codes for every
//! subcommand (`eventmap_ops::exit_codes`), and every subcommand of the binary is in the
//! table.

use eventmap_ops::exit_codes::{EXIT_1, SUMMARY};

fn operations_md() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/operations.md");
    std::fs::read_to_string(path).unwrap_or_else(|err| panic!("{path}: {err}"))
}

/// The rows of the exit-code table of docs/operations.md: (command, when it exits 1).
fn documented_rows(doc: &str) -> Vec<(String, String)> {
    let table = doc
        .split_once("| command | exit 1 when |")
        .map(|(_, rest)| rest)
        .expect("docs/operations.md has the table `| command | exit 1 when |`");
    table
        .lines()
        .skip(2) // the rest of the header line, the separator
        .take_while(|line| line.starts_with('|'))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
            assert_eq!(cells.len(), 2, "{line}");
            (cells[0].trim_matches('`').to_owned(), cells[1].to_owned())
        })
        .collect()
}

#[test]
fn the_exit_codes_of_help_and_docs_are_the_same() {
    let documented = documented_rows(&operations_md());
    let expected: Vec<(String, String)> = EXIT_1
        .iter()
        .map(|(command, when)| ((*command).to_owned(), (*when).to_owned()))
        .collect();
    assert_eq!(documented, expected);

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_eventmap-ops"))
        .arg("--help")
        .output()
        .expect("eventmap-ops runs");
    assert_eq!(output.status.code(), Some(0));
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(help.contains(SUMMARY), "{help}");
    for (command, when) in EXIT_1 {
        assert!(
            help.lines()
                .any(|line| line.trim_start().starts_with(command) && line.ends_with(when)),
            "`{command}` not in --help:\n{help}"
        );
    }
}

#[test]
fn every_subcommand_is_in_the_exit_code_table() {
    let command = eventmap_ops::cli::command();
    let mut names = Vec::new();
    for sub in command.get_subcommands() {
        let groups: Vec<_> = sub.get_subcommands().collect();
        if groups.is_empty() {
            names.push(sub.get_name().to_owned());
        } else {
            for inner in groups {
                names.push(format!("{} {}", sub.get_name(), inner.get_name()));
            }
        }
    }
    names.retain(|name| !name.ends_with("help"));
    let listed: Vec<&str> = EXIT_1.iter().map(|(command, _)| *command).collect();
    assert_eq!(names, listed);
}
