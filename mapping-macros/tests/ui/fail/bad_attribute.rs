// An unknown option of #[integration(..)].
#[derive(Debug, Clone, eventmap::IntegrationEvent)]
#[integration(table = "mappings.yaml")]
pub struct Placed {
    customer_id: String,
}

fn main() {}
