//! The `Builder`'s output folder: two tables built into one `OUT_DIR` keep their prost types
//! apart, even when their protos share a package (`common.v1`) with different contents.

use std::path::Path;

/// Builds `table` into `out` with `protos_file` and `module_file`.
fn build(table: &str, out: &Path, protos_file: &str, module_file: &str) {
    eventmap_codegen::Builder::new()
        .mappings(Path::new("tests/shared_package").join(table))
        .out_dir(out)
        .protos_file(protos_file)
        .module_file(module_file)
        .emit_rerun_if_changed(false)
        .compile()
        .expect("the table builds");
}

#[test]
fn two_tables_sharing_a_package_keep_their_own_prost_types() {
    let out = tempfile::tempdir().expect("temp dir");
    build(
        "a/mappings.yaml",
        out.path(),
        "a_protos.rs",
        "a_integration.rs",
    );
    build(
        "b/mappings.yaml",
        out.path(),
        "b_protos.rs",
        "b_integration.rs",
    );

    let read = |path: &str| std::fs::read_to_string(out.path().join(path)).expect(path);
    assert!(read("a_protos.rs").contains(r#"include!("a_protos/a_protos.rs");"#));
    assert!(read("b_protos.rs").contains(r#"include!("b_protos/b_protos.rs");"#));
    // Each table's `common.v1.Money`, with its own field numbers.
    let money = |folder: &str| {
        let text = read(&format!("{folder}/common.v1.rs"));
        let tag = |field: &str| {
            let at = text.find(&format!("pub {field}:")).expect(field);
            let attribute = text[..at].rfind("tag = \"").expect("tag");
            text[attribute + 7..attribute + 8].to_owned()
        };
        (tag("units"), tag("currency"))
    };
    assert_eq!(money("a_protos"), ("1".to_owned(), "2".to_owned()));
    assert_eq!(money("b_protos"), ("2".to_owned(), "1".to_owned()));
    // prost's include files name the package files relatively, next to themselves.
    assert!(read("a_protos/a_protos.rs").contains(r#"include!("common.v1.rs");"#));
}
