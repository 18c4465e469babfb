//! Generates, with the `Builder`: the kitchen-sink fixture (every field form of the mapping
//! format), and the property fixture (every proto field kind x every source form x every
//! domain type the docs allow, `build/property.rs`), so that the tests compile and run the
//! generated code.

#[path = "build/property.rs"]
mod property;

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
