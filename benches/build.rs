//! Generates the prost types and the integration module of the wide benchmark event
//! (`fixtures/wide/`) with `eventmap_codegen::Builder`, so that the benchmark measures the
//! generator's real output.

fn main() {
    if let Err(err) = eventmap_codegen::Builder::new()
        .mappings("fixtures/wide/mappings.yaml")
        .protos_file("wide_protos.rs")
        .module_file("wide_integration.rs")
        .compile()
    {
        eprintln!("{err}");
        std::process::exit(1);
    }
}
