// A variant of the domain enum missing from the `variants:` of a oneof: rustc's E0004, as
// the `match` that sets the oneof has no wildcard.
mod proto {
    include!("../common/proto.rs");
}

#[derive(Debug, Clone)]
pub enum Reason {
    Damaged(String),
    Late,
    Other(String),
}

#[derive(Debug, Clone, eventmap::IntegrationEvent)]
#[integration(mappings = "ui/returns.yaml")]
pub struct Returned {
    reason: Reason,
}

fn main() {}
