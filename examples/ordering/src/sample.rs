//! The sample orders and the command sequence that the `demo` runs in process and
//! `client trigger` sends over gRPC: four orders, three readied, two canceled, two completed
//! (11 integration events).

/// Currency of every sample price.
pub const CURRENCY: &str = "EUR";
/// The store every sample product is sold by.
pub const STORE: &str = "store-1";

/// One line of a sample order.
#[derive(Debug, Clone, Copy)]
pub struct SampleLine {
    /// Product id.
    pub product_id: &'static str,
    /// Name shown to the customer.
    pub product_name: &'static str,
    /// Price of one unit in cents of [`CURRENCY`].
    pub unit_price_cents: i64,
    /// Number of units.
    pub quantity: u32,
}

/// One sample order.
#[derive(Debug, Clone, Copy)]
pub struct SampleOrder {
    /// Who orders.
    pub customer: &'static str,
    /// What is ordered.
    pub lines: &'static [SampleLine],
}

const fn line(
    product_id: &'static str,
    product_name: &'static str,
    unit_price_cents: i64,
    quantity: u32,
) -> SampleLine {
    SampleLine {
        product_id,
        product_name,
        unit_price_cents,
        quantity,
    }
}

/// The orders placed, in order; [`Step`]s refer to them by position (1-based).
pub const ORDERS: [SampleOrder; 4] = [
    SampleOrder {
        customer: "alice",
        lines: &[
            line("tea", "Green tea", 350, 2),
            line("cake", "Cheesecake", 425, 1),
        ],
    },
    SampleOrder {
        customer: "bob",
        lines: &[line("coffee", "Espresso", 220, 3)],
    },
    SampleOrder {
        customer: "carol",
        lines: &[
            line("bagel", "Bagel", 180, 4),
            line("tea", "Green tea", 350, 1),
        ],
    },
    SampleOrder {
        customer: "dave",
        lines: &[line("cake", "Cheesecake", 425, 2)],
    },
];

/// A command on a placed sample order (the number is its 1-based position in [`ORDERS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Ready the order.
    Ready(usize),
    /// Cancel the order, with a reason.
    Cancel(usize, &'static str),
    /// Complete the order; the invoice id is this prefix followed by `-<run>`.
    Complete(usize, &'static str),
}

/// What follows the creation of [`ORDERS`].
pub const STEPS: [Step; 7] = [
    Step::Ready(1),
    Step::Ready(3),
    Step::Ready(4),
    Step::Cancel(2, "customer changed their mind"),
    Step::Cancel(3, "not picked up"),
    Step::Complete(1, "inv-1"),
    Step::Complete(4, "inv-2"),
];

/// The id of the `n`th (1-based) sample order of run `run`.
pub fn order_id(run: &str, n: usize) -> String {
    format!("order-{run}-{n}")
}

/// The payment id of the `n`th (1-based) sample order of run `run`.
pub fn payment_id(run: &str, n: usize) -> String {
    format!("pay-{run}-{n}")
}

/// The invoice id a [`Step::Complete`] with `prefix` uses in run `run`.
pub fn invoice_id(prefix: &str, run: &str) -> String {
    format!("{prefix}-{run}")
}
