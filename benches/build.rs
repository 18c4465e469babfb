//! Generates with `eventmap_codegen::Builder`, so that the benchmarks measure the generator's
//! real output:
//!
//! * the prost types and the integration module of the wide benchmark event
//!   (`fixtures/wide/`);
//! * the subscription module of the consumer benchmark's consuming table
//!   (`fixtures/consumer/`; the prost types are the ordering example's).

fn main() {
    let wide = eventmap_codegen::Builder::new()
        .mappings("fixtures/wide/mappings.yaml")
        .protos_file("wide_protos.rs")
        .module_file("wide_integration.rs")
        .compile();
    let consumer = eventmap_codegen::Builder::new()
        .mappings("fixtures/consumer/mappings.yaml")
        .generate_protos(false)
        .module_file("consumer_subscriptions.rs")
        .compile();
    for result in [wide, consumer] {
        if let Err(err) = result {
            eprintln!("{err}");
            std::process::exit(1);
        }
    }
}
