// A variant of the domain enum missing from the row's `values:`: rustc's E0004 on the user's
// field, naming the variant, without a suggestion to edit code (the fix is in the table).
mod proto {
    include!("../common/proto.rs");
}

#[derive(Debug, Clone)]
pub enum Carrier {
    Ups,
    Dhl,
    Fedex,
}

#[derive(Debug, Clone, eventmap::IntegrationEvent)]
#[integration(mappings = "ui/shipping.yaml")]
pub struct Shipped {
    carrier: Carrier,
}

fn main() {}
