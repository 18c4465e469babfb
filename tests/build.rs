//! Generates the fixtures with the `Builder`, so that the tests compile and run the generated
//! code: the kitchen sink (every field form of the mapping format) and the shared payload type
//! (one domain type behind several domain event names), the latter also without converters
//! for `#[derive(IntegrationEvent)]`.

fn main() {
    let kitchen = eventmap_codegen::Builder::new()
        .mappings("fixtures/kitchen/mappings.yaml")
        .protos_file("kitchen_protos.rs")
        .module_file("kitchen_integration.rs")
        .compile();
    let shared = eventmap_codegen::Builder::new()
        .mappings("fixtures/shared/mappings.yaml")
        .protos_file("shared_protos.rs")
        .module_file("shared_integration.rs")
        .compile();
    let shared_derive = eventmap_codegen::Builder::new()
        .mappings("fixtures/shared/derive.yaml")
        .generate_protos(false)
        .converters(false)
        .module_file("shared_derive_integration.rs")
        .compile();
    if let Err(err) = kitchen.and(shared).and(shared_derive) {
        eprintln!("{err}");
        std::process::exit(1);
    }
}
