//! A private JetStream server from the test kit (feature `test-util`): starts `nats-server`
//! on a free loopback port, provisions a stream, publishes one integration message and prints
//! the broker's receipt; the server is killed when `server` is dropped.
//!
//! ```sh
//! NATS_SERVER_BIN=/path/to/nats-server \
//!     cargo run -p eventmap --features test-util --example local_server
//! ```

use eventmap::nats::{JetStreamPublisher, async_nats, provision_streams};
use eventmap::test_util::LocalServer;
use eventmap::{AggregateEvent, ChannelSpec, DomainEvent, IntegrationMessage, Publisher};

const ORDERS: ChannelSpec = ChannelSpec::new("order", "example.order", "EXAMPLE_ORDERS");

/// The domain event published.
#[derive(Debug)]
struct OrderPlaced;

impl DomainEvent for OrderPlaced {
    fn event_name(&self) -> &'static str {
        "OrderPlaced"
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = LocalServer::start().await?;
    println!(
        "nats-server {} at {}, store {}",
        server.version(),
        server.url(),
        server.store_dir().display()
    );
    let context = async_nats::jetstream::new(async_nats::connect(server.url()).await?);
    provision_streams(&context, &[ORDERS]).await?;

    let event = AggregateEvent::new("Order", "o-1", 1, OrderPlaced);
    let message = IntegrationMessage::from_aggregate_event(
        &event,
        &ORDERS,
        "OrderPlacedEvent",
        "example",
        &(),
    );
    let receipt = JetStreamPublisher::new(context).publish(&message).await?;
    println!(
        "{} stored as {} #{}",
        message.subject, receipt.stream, receipt.sequence
    );
    Ok(())
}
