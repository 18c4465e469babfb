// `checked: true` on values it cannot range-check: an `Option<u64>` into `int64`, a field that
// is always present (what would `None` be?), and, in the other module, an `f64`. rustc's
// error says what `checked` takes and what to write instead, on the user's field.
mod proto {
    include!("../common/proto.rs");
}

#[derive(Debug, Clone, eventmap::IntegrationEvent)]
#[integration(mappings = "ui/checked.yaml")]
pub struct Placed {
    customer_id: String,
    total: Option<u64>,
    r#type: String,
}

mod float {
    #[derive(Debug, Clone, eventmap::IntegrationEvent)]
    #[integration(mappings = "ui/checked.yaml")]
    pub struct Placed {
        customer_id: String,
        total: f64,
        r#type: String,
    }
}

fn main() {}
