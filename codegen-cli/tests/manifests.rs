//! The published crates (`eventmap`, `eventmap-codegen`, `eventmap-macros`) carry what
//! crates.io and docs.rs need: description, licence (and its files), repository, readme,
//! keywords, categories, rust-version, docs.rs features, and a version on every path
//! dependency between them (`cargo package` refuses a path dependency without one).

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

const PUBLISHED: &[&str] = &["runtime", "codegen-cli", "mapping-macros"];

#[test]
fn published_crates_have_their_metadata_and_files() {
    for dir in PUBLISHED {
        let crate_dir = root().join(dir);
        let manifest = std::fs::read_to_string(crate_dir.join("Cargo.toml")).expect("Cargo.toml");
        assert!(!manifest.contains("publish = false"), "{dir}");
        for key in [
            "description = \"",
            "version.workspace = true",
            "edition.workspace = true",
            "rust-version.workspace = true",
            "license.workspace = true",
            "repository.workspace = true",
            "readme = \"README.md\"",
            "keywords = [",
            "categories = [",
        ] {
            assert!(manifest.contains(key), "{dir}/Cargo.toml has no `{key}`");
        }
        let keywords = manifest
            .lines()
            .find(|l| l.starts_with("keywords = ["))
            .expect("keywords");
        assert!(
            keywords.matches('"').count() / 2 <= 5,
            "crates.io takes 5 keywords: {keywords}"
        );
        for file in ["README.md", "LICENSE-MIT", "LICENSE-APACHE"] {
            let text = std::fs::read_to_string(crate_dir.join(file))
                .unwrap_or_else(|err| panic!("{dir}/{file}: {err}"));
            assert!(text.len() > 200, "{dir}/{file} is too short");
        }
        if *dir != "mapping-macros" {
            assert!(
                manifest.contains("[package.metadata.docs.rs]"),
                "{dir}: no docs.rs features"
            );
        }
    }
    let workspace = std::fs::read_to_string(root().join("Cargo.toml")).expect("Cargo.toml");
    assert!(workspace.contains("license = \"MIT OR Apache-2.0\""));
    assert!(workspace.contains("rust-version = \""));
    for line in workspace.lines().filter(|l| l.contains("path = \"")) {
        assert!(
            line.contains("version = \""),
            "a path dependency without a version: {line}"
        );
    }
}
