// A field of a nested message's element whose type cannot convert (i64 into int32 without
// `checked: true`): rustc's error lands on the payload field the nested message is built
// from (`parcels`), not on the derive.
mod proto {
    include!("../common/proto.rs");
}

#[derive(Debug, Clone)]
pub struct Parcel {
    grams: i64,
}

#[derive(Debug, Clone, eventmap::IntegrationEvent)]
#[integration(mappings = "ui/packing.yaml")]
pub struct Packed {
    parcels: Vec<Parcel>,
}

fn main() {}
