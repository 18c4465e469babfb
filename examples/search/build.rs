//! Generates the prost types of the ordering service's contracts and the subscription module
//! of `mappings.yaml` (the search service's consuming table) into `OUT_DIR`.

fn main() {
    if let Err(err) = eventmap_codegen::Builder::new()
        .mappings("mappings.yaml")
        .compile()
    {
        eprintln!("{err}");
        std::process::exit(1);
    }
}
