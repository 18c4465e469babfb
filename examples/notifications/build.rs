//! Generates the prost types of the ordering service's contracts into `OUT_DIR` (the
//! subscription items come from `eventmap::subscriptions!` in `src/lib.rs`).

fn main() {
    if let Err(err) = eventmap_codegen::Builder::new()
        .mappings("mappings.yaml")
        .compile()
    {
        eprintln!("{err}");
        std::process::exit(1);
    }
}
