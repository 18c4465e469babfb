//! What the end-to-end tests of the example services share: the ordering service's trigger
//! sequence and the database they use.

use eventmap::AggregateStore;
use ordering_example::application::{CreateOrder, OrderingService};
use ordering_example::domain::events::OrderItem;
use ordering_example::domain::ids::{CustomerId, InvoiceId, PaymentId, ProductId, StoreId};
use ordering_example::domain::money::Money;
use ordering_example::domain::order::Order;

/// `DATABASE_URL`, or the local `default` database (trust auth).
pub fn database_url(default: &str) -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| format!("postgres://postgres@127.0.0.1:5432/{default}"))
}

/// One line of an order: `quantity` x `sku` at `cents` EUR, from store-1.
pub fn item(sku: &str, cents: i64, quantity: u32) -> OrderItem {
    OrderItem {
        product_id: ProductId::new(sku),
        store_id: StoreId::new("store-1"),
        product_name: sku.to_owned(),
        unit_price: Money::new(cents, "EUR"),
        quantity,
    }
}

/// Places four orders `<prefix>-1` to `<prefix>-4` (alice, bob, carol, dave; order n has 2 tea
/// and n cakes): the first readied then completed, the second canceled, the third readied,
/// the fourth left new. Returns their ids.
pub async fn place_orders<S: AggregateStore<Order>>(
    service: &OrderingService<S>,
    prefix: &str,
) -> Vec<String> {
    let mut ids = Vec::new();
    for (n, customer) in (1u32..).zip(["alice", "bob", "carol", "dave"]) {
        let id = format!("{prefix}-{n}");
        service
            .create_order(CreateOrder {
                order_id: id.clone(),
                customer_id: CustomerId::new(customer),
                payment_id: PaymentId::new(format!("pay-{n}")),
                items: vec![item("tea", 350, 2), item("cake", 425, n)],
            })
            .await
            .expect("create");
        ids.push(id);
    }
    service.ready_order(&ids[0]).await.expect("ready");
    service
        .cancel_order(&ids[1], "changed my mind")
        .await
        .expect("cancel");
    service.ready_order(&ids[2]).await.expect("ready");
    service
        .complete_order(&ids[0], InvoiceId::new("inv-1"))
        .await
        .expect("complete");
    ids
}
