//! Writes the multi-file proto set and mapping table of `tests/scale_fixture` (the documents
//! at scale, issue 13 §2) into a folder, for `tests/docs-tools/run.sh`:
//!
//! ```sh
//! cargo run -p eventmap-codegen --example scale_fixture -- OUT_DIR [EVENTS]
//! ```
//!
//! EVENTS defaults to 480. Exit 2 on bad arguments or when the files cannot be written.

#[path = "../tests/scale_fixture/mod.rs"]
mod scale_fixture;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (out, events) = match args.as_slice() {
        [out] => (out, Ok(scale_fixture::DOCS_TOOLS_EVENTS)),
        [out, events] => (out, events.parse::<usize>()),
        _ => {
            eprintln!("usage: scale_fixture OUT_DIR [EVENTS]");
            return ExitCode::from(2);
        }
    };
    let events = match events {
        Ok(n) if n > 0 => n,
        _ => {
            eprintln!("scale_fixture: EVENTS must be a positive number");
            return ExitCode::from(2);
        }
    };
    match scale_fixture::write(out.as_ref(), events) {
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
