//! Generates the prost types of `proto/` and the integration module of `mappings.yaml` into
//! `OUT_DIR` with `eventmap_codegen::Builder`. The crate uses the prost types from there;
//! the integration module it uses is the committed `src/generated/integration_events.rs`,
//! and the test `generated_module_is_current` keeps the two identical.
//!
//! The gRPC API (`proto/ordering/v1/service.proto`, not part of the mapping table) goes
//! through protox and tonic-prost-build into `OUT_DIR/grpc/` (its own folder: it shares the
//! `ordering.v1` package, and so prost's file name, with the integration events).

use std::path::PathBuf;

const PROTO_ROOT: &str = "../../proto";
const SERVICE_PROTO: &str = "ordering/v1/service.proto";

fn main() {
    let full = eventmap_codegen::Builder::new()
        .mappings("../../mappings.yaml")
        .compile();
    // With the `derive` feature the converters come from `#[derive(IntegrationEvent)]`: the
    // names, channels and decoding enums from a module without converters.
    let names = if std::env::var_os("CARGO_FEATURE_DERIVE").is_some() {
        eventmap_codegen::Builder::new()
            .mappings("../../mappings.yaml")
            .generate_protos(false)
            .converters(false)
            .module_file("integration_names.rs")
            .compile()
    } else {
        Ok(())
    };
    if let Err(err) = full.and(names) {
        eprintln!("{err}");
        std::process::exit(1);
    }
    if let Err(err) = compile_service() {
        eprintln!("{SERVICE_PROTO}: {err}");
        std::process::exit(1);
    }
}

/// The message types, server and client of the gRPC service, into `OUT_DIR/grpc/`.
fn compile_service() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed={PROTO_ROOT}/{SERVICE_PROTO}");
    let descriptors = protox::compile([SERVICE_PROTO], [PROTO_ROOT])?;
    let out_dir =
        PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?).join("grpc");
    std::fs::create_dir_all(&out_dir)?;
    tonic_prost_build::configure()
        .out_dir(out_dir)
        .compile_fds(descriptors)?;
    Ok(())
}
