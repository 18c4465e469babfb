//! Generates the prost types of `proto/` and the integration module of `mappings.yaml` into
//! `OUT_DIR` with `eventmap_codegen::Builder`. The crate uses the prost types from there;
//! the integration module it uses is the committed `src/generated/integration_events.rs`,
//! and the test `generated_module_is_current` keeps the two identical.

fn main() {
    if let Err(err) = eventmap_codegen::Builder::new()
        .mappings("../../mappings.yaml")
        .compile()
    {
        eprintln!("{err}");
        std::process::exit(1);
    }
}
