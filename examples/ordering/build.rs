//! Generates the prost types of `proto/` and the integration module of `mappings.yaml` into
//! `OUT_DIR` with `eventmap_codegen::Builder`. The crate uses the prost types from there;
//! the integration module it uses is the committed `src/generated/integration_events.rs`,
//! and the test `generated_module_is_current` keeps the two identical.

fn main() {
    let full = eventmap_codegen::Builder::new()
        .mappings("../../mappings.yaml")
        .compile();
    // With the `derive` feature the converters come from `#[derive(IntegrationEvent)]`: the
    // names, channels and decoding enums from a module without converters.
    let names = if std::env::var_os("CARGO_FEATURE_DERIVE").is_some() {
        eventmap_codegen::Builder::new()
            .mappings("../../mappings.yaml")
            .generate_protos(false)
            .converters(false)
            .module_file("integration_names.rs")
            .compile()
    } else {
        Ok(())
    };
    if let Err(err) = full.and(names) {
        eprintln!("{err}");
        std::process::exit(1);
    }
}
