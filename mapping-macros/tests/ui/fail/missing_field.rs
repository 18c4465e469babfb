// A mapped field renamed in the struct: the error is on the field, naming the table line.
mod proto {
    include!("../common/proto.rs");
}

#[derive(Debug, Clone, eventmap::IntegrationEvent)]
#[integration(mappings = "ui/mappings.yaml")]
pub struct Placed {
    customer_ident: String,
    total: i64,
    r#type: String,
}

fn main() {}
