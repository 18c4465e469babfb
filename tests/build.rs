//! Generates the kitchen-sink fixture (every field form of the mapping format) with the
//! `Builder`, so that the tests compile and run the generated code; and the example's module
//! with the Builder's default names, for the README's snippets.

fn main() {
    let kitchen = eventmap_codegen::Builder::new()
        .mappings("fixtures/kitchen/mappings.yaml")
        .protos_file("kitchen_protos.rs")
        .module_file("kitchen_integration.rs")
        .compile();
    // The README's snippets (doctests of `src/lib.rs`) build a service on the example's
    // table, with the Builder's default file names as the README writes them.
    let readme = eventmap_codegen::Builder::new()
        .mappings("../mappings.yaml")
        .compile();
    if let Err(err) = kitchen.and(readme) {
        eprintln!("{err}");
        std::process::exit(1);
    }
}
