//! Progress of long runs: an `indicatif` bar on stderr, shown only on a terminal and with
//! `--format text`.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::Format;

/// A progress bar of `total` steps named `what`; hidden unless stderr is a terminal and the
/// format is text.
pub fn bar(format: Format, total: u64, what: &str) -> ProgressBar {
    let target = if format == Format::Text && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(total), target);
    if let Ok(style) =
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({per_sec}, {eta} left)")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_owned());
    bar
}
