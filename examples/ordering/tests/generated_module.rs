//! The module `eventmap_codegen::Builder` writes into `OUT_DIR` at build time is the module
//! `eventmap generate` wrote and the example commits: one emitter, two front doors.

#[test]
fn builder_output_equals_the_committed_module() {
    let built = include_str!(concat!(env!("OUT_DIR"), "/integration_events.rs"));
    let committed = include_str!("../src/generated/integration_events.rs");
    assert!(
        built == committed,
        "src/generated/integration_events.rs is stale: run `cargo run -p eventmap-codegen -- generate`"
    );
}
