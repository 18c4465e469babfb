//! Generates the kitchen-sink fixture (every field form of the mapping format) with the
//! `Builder`, so that the tests compile and run the generated code.

fn main() {
    if let Err(err) = eventmap_codegen::Builder::new()
        .mappings("fixtures/kitchen/mappings.yaml")
        .protos_file("kitchen_protos.rs")
        .module_file("kitchen_integration.rs")
        .compile()
    {
        eprintln!("{err}");
        std::process::exit(1);
    }
}
