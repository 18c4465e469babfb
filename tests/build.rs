//! Generates, with the `Builder`: the kitchen-sink fixture (every field form of the mapping
//! format); the shared payload type (one domain type behind several domain event names), also
//! without converters for `#[derive(IntegrationEvent)]`; the property fixture (every proto
//! field kind x every source form x every domain type the docs allow, `build/property.rs`); and
//! the example's module with the Builder's default names, for the README's snippets; and the
//! corpus of service tables (`fixtures/corpus/`: payments on proto2, catalog and inventory on
//! proto3); and one producer built from three versions of its proto (`fixtures/contracts/`,
//! the contract guard's tests). The tests compile and run the generated code.

#[path = "build/property.rs"]
mod property;

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
    let shared_mirror = eventmap_codegen::Builder::new()
        .mappings("fixtures/shared/mirror.yaml")
        .generate_protos(false)
        .module_file("shared_mirror_integration.rs")
        .compile();
    // The shared type under Rust keywords (`r#type`, `r#move`, `r#match`).
    let shared_keywords = eventmap_codegen::Builder::new()
        .mappings("fixtures/shared/keywords.yaml")
        .generate_protos(false)
        .module_file("shared_keywords_integration.rs")
        .compile();
    // A workflow engine's history: oneofs from domain enums, maps of messages, a recursive
    // message, whole-event values, named mappings.
    let history = eventmap_codegen::Builder::new()
        .mappings("fixtures/history/mappings.yaml")
        .protos_file("history_protos.rs")
        .module_file("history_integration.rs")
        .compile();
    // CloudEvents types apart from the integration event names.
    let cetype = eventmap_codegen::Builder::new()
        .mappings("fixtures/cetype/mappings.yaml")
        .protos_file("cetype_protos.rs")
        .module_file("cetype_integration.rs")
        .compile();
    // The contract guard: one producer built from three versions of its proto.
    let contracts = ["v1", "compatible", "incompatible"]
        .into_iter()
        .try_for_each(|version| {
            eventmap_codegen::Builder::new()
                .mappings(format!("fixtures/contracts/{version}.yaml"))
                .protos_file(format!("contracts_{version}_protos.rs"))
                .module_file(format!("contracts_{version}_integration.rs"))
                .compile()
        });
    // The README's snippets (doctests of `src/lib.rs`) build a service on the example's
    // table, with the Builder's default file names as the README writes them.
    let readme = eventmap_codegen::Builder::new()
        .mappings("../mappings.yaml")
        .compile();
    // The corpus (`fixtures/corpus/`): service tables written as teams write them.
    let corpus = ["payments", "catalog", "inventory"]
        .into_iter()
        .try_for_each(|service| {
            eventmap_codegen::Builder::new()
                .mappings(format!("fixtures/corpus/{service}/mappings.yaml"))
                .protos_file(format!("corpus_{service}_protos.rs"))
                .module_file(format!("corpus_{service}_integration.rs"))
                .compile()
        });
    if let Err(err) = kitchen
        .and(shared)
        .and(shared_derive)
        .and(shared_mirror)
        .and(shared_keywords)
        .and(history)
        .and(cetype)
        .and(contracts)
        .and(readme)
        .and(corpus)
    {
        eprintln!("{err}");
        std::process::exit(1);
    }

    println!("cargo:rerun-if-changed=build/property.rs");
    let Some(out_dir) = std::env::var_os("OUT_DIR") else {
        eprintln!("OUT_DIR is not set: run from cargo");
        std::process::exit(1);
    };
    let table = property::write(&std::path::Path::new(&out_dir).join("property"));
    // Its inputs are generated here, into OUT_DIR: no rerun-if-changed for them.
    if let Err(err) = eventmap_codegen::Builder::new()
        .mappings(table)
        .protos_file("property_protos.rs")
        .module_file("property_integration.rs")
        .emit_rerun_if_changed(false)
        .compile()
    {
        eprintln!("{err}");
        std::process::exit(1);
    }
}
