//! The exit codes of every subcommand, in one table: printed by `eventmap-ops --help` and
//! written in docs/operations.md (`tests/help.rs` keeps the two the same).

/// What exit codes 0 and 2 mean, for every subcommand.
pub const SUMMARY: &str = "Exit codes: 0 done, also when a selection matches nothing (nothing to \
do); 2 could not run: bad arguments, a mapping table with errors (shown with file:line:column), \
NATS or PostgreSQL refusing or unreachable (NATS once --connect-wait is over), a --schema \
without eventmap tables, a publish or delete failing mid-run (what was done is printed first); \
1 when the subcommand was refused, or an id or name it was given was not found or not acted \
on:";

/// Per subcommand, when it exits 1 (the script-facing rule: something named explicitly, an
/// id or a name, was not found or not acted on, or a confirmation was refused; a selection
/// that matches nothing is not an error).
pub const EXIT_1: &[(&str, &str)] = &[
    (
        "relay",
        "never (it runs until SIGTERM or Ctrl-C, then exits 0)",
    ),
    ("dead-letters list", "never"),
    ("dead-letters show", "no dead letter by that id"),
    (
        "dead-letters replay",
        "an id given was not found; a selected dead letter cannot be replayed (no original subject); with --dry-run, when the replay would",
    ),
    (
        "dead-letters purge",
        "not confirmed (stdin not a terminal and no --yes, or not answered y); an id given was not found; with --dry-run, when an id was not found",
    ),
    ("outbox list", "never"),
    ("outbox show", "no outbox row by that id"),
    (
        "outbox retry",
        "an id given is not parked (the others are retried)",
    ),
    (
        "outbox skip",
        "not confirmed; an id given is not parked (the others are skipped)",
    ),
    ("backfill list", "never"),
    (
        "backfill reset",
        "not confirmed; no backfill by that name; the backfill is running (a run holds its lock)",
    ),
    ("status", "never"),
    (
        "metrics",
        "never (a scrape that cannot read the figures is answered 503; it serves until SIGTERM or Ctrl-C)",
    ),
];

/// The text `--help` prints after the subcommands: [`SUMMARY`], then one line per
/// subcommand of [`EXIT_1`], aligned.
pub fn help() -> String {
    let width = EXIT_1
        .iter()
        .map(|(command, _)| command.len())
        .max()
        .unwrap_or(0);
    let mut text = SUMMARY.to_owned();
    for (command, when) in EXIT_1 {
        text.push_str(&format!("\n  {command:<width$}  {when}"));
    }
    text
}
