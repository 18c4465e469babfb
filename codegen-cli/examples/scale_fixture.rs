//! Writes the multi-file proto set and mapping table of `tests/scale_fixture` (the documents
//! at scale) into a folder, for `tests/docs-tools/run.sh`:
//!
//! ```sh
//! cargo run -p eventmap-codegen --example scale_fixture -- OUT_DIR [EVENTS [PER_FILE]]
//! ```
//!
//! EVENTS defaults to 480, PER_FILE (events per `.proto` file; 0: one file per package) to 40.
//! Exit 2 on bad arguments or when the files cannot be written.

#[path = "../tests/scale_fixture/mod.rs"]
mod scale_fixture;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |text: &str| text.parse::<usize>().ok();
    let (out, events, per_file) = match args.as_slice() {
        [out] => (
            out,
            Some(scale_fixture::DOCS_TOOLS_EVENTS),
            Some(scale_fixture::EVENTS_PER_FILE),
        ),
        [out, events] => (out, number(events), Some(scale_fixture::EVENTS_PER_FILE)),
        [out, events, per_file] => (out, number(events), number(per_file)),
        _ => {
            eprintln!("usage: scale_fixture OUT_DIR [EVENTS [PER_FILE]]");
            return ExitCode::from(2);
        }
    };
    let (Some(events @ 1..), Some(per_file)) = (events, per_file) else {
        eprintln!("scale_fixture: EVENTS must be a positive number, PER_FILE a number");
        return ExitCode::from(2);
    };
    let per_file = if per_file == 0 { usize::MAX } else { per_file };
    match scale_fixture::write_with(out.as_ref(), events, per_file) {
        Ok(()) => {
            println!("scale_fixture: wrote {events} events into {out}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("scale_fixture: cannot write into {out}: {err}");
            ExitCode::from(2)
        }
    }
}
