// A row whose proto field does not exist, leaving another unmapped: the table's own
// diagnostics, with their file, line and column.
mod proto {
    include!("../common/proto.rs");
}

#[derive(Debug, Clone, eventmap::IntegrationEvent)]
#[integration(mappings = "ui/broken.yaml")]
pub struct Placed {
    customer_id: String,
    total: i64,
    r#type: String,
}

fn main() {}
