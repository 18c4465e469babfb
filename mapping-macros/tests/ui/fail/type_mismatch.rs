// A field whose type cannot convert to its proto field (u64 does not fit int64 without
// `checked: true`): rustc's own error, on the user's field.
mod proto {
    include!("../common/proto.rs");
}

#[derive(Debug, Clone, eventmap::IntegrationEvent)]
#[integration(mappings = "ui/mappings.yaml")]
pub struct Placed {
    customer_id: String,
    total: u64,
    r#type: String,
}

fn main() {}
