//! The gRPC API of the ordering service (`proto/ordering/v1/service.proto`): the server side
//! ([`OrderingApi`], which hands each call to the command handler), how command errors become
//! gRPC statuses ([`status`]), and a client that connects and runs the sample flow
//! ([`client`]).

pub mod client;
mod server;
pub mod status;

pub use server::OrderingApi;

/// The message types, server and client generated from `proto/ordering/v1/service.proto` by
/// tonic-prost-build at build time.
#[allow(missing_docs, clippy::all)]
pub mod api {
    include!(concat!(env!("OUT_DIR"), "/grpc/ordering.v1.rs"));
}
