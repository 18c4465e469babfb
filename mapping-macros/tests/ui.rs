//! trybuild UI tests of the derive: compile errors with precise spans and messages naming the
//! mapping file line, and derives that compile on generics, lifetimes, where-clauses, raw
//! identifiers, `#[cfg]` fields and shadowed names.
//!
//! The `.stderr` files were made with the rustc version in `tests/ui/TOOLCHAIN`; rustc's
//! wording changes between versions, so under another version the test says so and skips.
//! Regenerate them with `TRYBUILD=overwrite cargo test -p eventmap-macros --test ui`.

#[test]
fn ui() {
    let pinned = include_str!("ui/TOOLCHAIN").trim();
    let current =
        std::process::Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
            .arg("-V")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .unwrap_or_default();
    if current.split_whitespace().nth(1) != Some(pinned) {
        eprintln!("skipping the UI tests: they were made with rustc {pinned}, this is {current}");
        return;
    }
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
