//! Generated modules pinned with insta: a change to the emitter shows up here as a reviewable
//! diff (`cargo insta review`). The ordering example's module is pinned once, by the file the
//! example commits (`examples/ordering/src/generated/integration_events.rs`): this test checks
//! that `eventmap generate` writes it, `examples/ordering/tests/generated_module.rs` that the
//! `Builder` does.

use std::path::Path;

#[test]
fn committed_example_module_is_current() {
    let analysis = eventmap_codegen::analyze(Path::new("../mappings.yaml")).expect("readable");
    let code = analysis.generate().expect("valid table");
    let committed =
        std::fs::read_to_string("../examples/ordering/src/generated/integration_events.rs")
            .expect("committed module");
    assert!(
        committed == code,
        "run `cargo run -p eventmap-codegen -- generate`: the committed module is stale"
    );
}

/// The consuming side: the module of the search example's table (subscriptions only).
#[test]
fn consuming_module() {
    let analysis =
        eventmap_codegen::analyze(Path::new("../examples/search/mappings.yaml")).expect("readable");
    let code = analysis.generate().expect("generates");
    insta::assert_snapshot!("search_subscriptions", code);
}

/// One payload type behind several domain event names (`tests/fixtures/shared/`): the
/// registration declares the type's names once and subscribes each row by type and name.
#[test]
fn shared_payload_module() {
    let analysis = eventmap_codegen::analyze(Path::new("../tests/fixtures/shared/mappings.yaml"))
        .expect("readable");
    let code = analysis.generate().expect("valid table");
    insta::assert_snapshot!("shared_payload_integration_events", code);
}

/// CloudEvents types apart from the names (`tests/fixtures/cetype/`): `<NAME>_CE_TYPE`
/// constants, the enums decoding by `ce-type` with their `SUBJECT_TOKENS`, the registration
/// `with_ce_type`, the subscription's `EVENTS` by `ce-type`.
#[test]
fn ce_type_module() {
    let analysis = eventmap_codegen::analyze(Path::new("../tests/fixtures/cetype/mappings.yaml"))
        .expect("readable");
    assert!(analysis.diagnostics.is_empty(), "{}", analysis.render());
    let code = analysis.generate().expect("valid table");
    insta::assert_snapshot!("ce_type_integration_events", code);
}
