//! trybuild UI tests of the derive: compile errors with precise spans and messages naming the
//! mapping file line, and derives that compile on generics, lifetimes, where-clauses, raw
//! identifiers, `#[cfg]` fields and shadowed names.
//!
//! The `.stderr` files were made with the rustc version in `tests/ui/TOOLCHAIN`; rustc's
//! wording changes between versions, so under another version the test says so and skips.
//! Regenerate them with `TRYBUILD=overwrite cargo test -p eventmap-macros --test ui`.
//!
//! The cases name their tables as `ui/<file>.yaml`: relative to the crate trybuild builds them
//! in (`<target dir>/tests/trybuild/eventmap-macros`), where this test links `ui` to
//! `tests/ui`, so that the cases find their tables wherever the target directory is
//! (`CARGO_TARGET_DIR`).

use std::path::{Path, PathBuf};

/// The target directory this test binary was built in: `<target>/debug/deps/ui-<hash>`.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.ancestors()
        .nth(3)
        .expect("the test binary lies in <target>/<profile>/deps")
        .to_path_buf()
}

/// Links `<target>/tests/trybuild/eventmap-macros/ui` to this crate's `tests/ui`.
fn link_tables() {
    let project = target_dir().join("tests/trybuild/eventmap-macros");
    std::fs::create_dir_all(&project).expect("trybuild's project folder");
    let link = project.join("ui");
    let tables = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui");
    if std::fs::read_link(&link).ok().as_deref() != Some(tables.as_path()) {
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&tables, &link).expect("link to tests/ui");
    }
}

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
    link_tables();
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
