// A struct without a row in the table: the error lists the rows there are.
mod proto {
    include!("../common/proto.rs");
}

#[derive(Debug, Clone, eventmap::IntegrationEvent)]
#[integration(mappings = "ui/mappings.yaml")]
pub struct Shipped {
    customer_id: String,
}

fn main() {}
