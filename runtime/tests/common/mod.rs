//! Shared fixtures of the integration tests: a small "ordering" domain, its protobuf
//! messages, hand-written versions of what the code generator emits, and NATS helpers.
#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use eventmap::convert::{ConversionError, IntoProto};
use eventmap::decode::{DecodeError, IntegrationEventSet, decode_payload};
use eventmap::nats::async_nats::jetstream::message::StreamMessage;
use eventmap::nats::async_nats::{self, Client, jetstream::Context};
use eventmap::test_util::LocalServer;
use eventmap::{
    AggregateEvent, ChannelSpec, DomainEvent, IntegrationMessage, integration_event_id,
};

/// The `order` channel of mappings.yaml.
pub const ORDER: ChannelSpec = ChannelSpec::new("order", "ordering.order", "ORDERING_ORDERS");
pub const SOURCE: &str = "ordering";

#[derive(Debug, Clone, PartialEq)]
pub struct OrderCreated {
    pub customer_id: String,
    pub quantity: u16,
}
impl DomainEvent for OrderCreated {
    fn event_name(&self) -> &'static str {
        "OrderCreated"
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderCanceled {
    pub reason: String,
}
impl DomainEvent for OrderCanceled {
    fn event_name(&self) -> &'static str {
        "OrderCanceled"
    }
}

pub mod proto {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct OrderCreated {
        #[prost(string, tag = "1")]
        pub id: String,
        #[prost(string, tag = "2")]
        pub order_id: String,
        #[prost(string, tag = "3")]
        pub customer_id: String,
        #[prost(int32, tag = "4")]
        pub quantity: i32,
        #[prost(message, optional, tag = "5")]
        pub created_at: Option<prost_types::Timestamp>,
        #[prost(uint64, tag = "6")]
        pub order_version: u64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct OrderCanceled {
        #[prost(string, tag = "1")]
        pub id: String,
        #[prost(string, tag = "2")]
        pub order_id: String,
        #[prost(string, tag = "3")]
        pub reason: String,
    }
}

/// What generated code would emit for `OrderCreated -> OrderCreatedEvent`.
pub fn convert_created(
    event: &AggregateEvent<OrderCreated>,
) -> Result<proto::OrderCreated, ConversionError> {
    Ok(proto::OrderCreated {
        id: integration_event_id(event.id(), "OrderCreatedEvent").to_string(),
        order_id: IntoProto::into_proto(event.aggregate_id())
            .map_err(|e: ConversionError| e.at("order_id"))?,
        customer_id: IntoProto::into_proto(&event.payload().customer_id)
            .map_err(|e: ConversionError| e.at("customer_id"))?,
        quantity: IntoProto::into_proto(&event.payload().quantity)
            .map_err(|e: ConversionError| e.at("quantity"))?,
        created_at: IntoProto::into_proto(&event.occurred_at())
            .map_err(|e: ConversionError| e.at("created_at"))?,
        order_version: IntoProto::into_proto(&event.aggregate_version())
            .map_err(|e: ConversionError| e.at("order_version"))?,
    })
}

/// What generated code would emit for `OrderCanceled -> OrderCanceledEvent`.
pub fn convert_canceled(
    event: &AggregateEvent<OrderCanceled>,
) -> Result<proto::OrderCanceled, ConversionError> {
    Ok(proto::OrderCanceled {
        id: integration_event_id(event.id(), "OrderCanceledEvent").to_string(),
        order_id: IntoProto::into_proto(event.aggregate_id())
            .map_err(|e: ConversionError| e.at("order_id"))?,
        reason: IntoProto::into_proto(&event.payload().reason)
            .map_err(|e: ConversionError| e.at("reason"))?,
    })
}

/// What generated code would emit for the consumer side of the `order` channel.
#[derive(Debug, Clone, PartialEq)]
pub enum OrderEvents {
    Created(proto::OrderCreated),
    Canceled(proto::OrderCanceled),
}

impl IntegrationEventSet for OrderEvents {
    const CHANNEL: ChannelSpec = ORDER;
    const NAMES: &'static [&'static str] = &["OrderCreatedEvent", "OrderCanceledEvent"];

    fn decode(name: &str, payload: &[u8]) -> Result<Self, DecodeError> {
        match name {
            "OrderCreatedEvent" => decode_payload(name, payload).map(Self::Created),
            "OrderCanceledEvent" => decode_payload(name, payload).map(Self::Canceled),
            other => Err(DecodeError::UnknownEvent {
                name: other.to_owned(),
            }),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Self::Created(_) => "OrderCreatedEvent",
            Self::Canceled(_) => "OrderCanceledEvent",
        }
    }
}

/// Upper bound of any single test.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs `test`, failing if it takes longer than [`TEST_TIMEOUT`].
pub async fn within<F: Future>(test: F) -> F::Output {
    tokio::time::timeout(TEST_TIMEOUT, test)
        .await
        .expect("test exceeded its time limit")
}

/// Polls `condition` every 20 ms until it holds; panics naming `what` after 10 s.
pub async fn eventually<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !condition().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Starts a private nats-server >= 2.10.
pub async fn start_server() -> LocalServer {
    LocalServer::start()
        .await
        .unwrap_or_else(|err| panic!("cannot start nats-server: {err}"))
}

/// Connects a client and a JetStream context to `server` (bounded).
pub async fn connect(server: &LocalServer) -> (Client, Context) {
    let client = tokio::time::timeout(Duration::from_secs(10), async_nats::connect(server.url()))
        .await
        .expect("connect timed out")
        .expect("connect failed");
    let context = async_nats::jetstream::new(client.clone());
    (client, context)
}

/// `count` OrderCreated integration messages of distinct aggregates.
pub fn created_messages(count: usize) -> Vec<IntegrationMessage> {
    (0..count)
        .map(|index| {
            let event = AggregateEvent::new(
                "Order",
                format!("order-{index}"),
                1,
                OrderCreated {
                    customer_id: format!("customer-{index}"),
                    quantity: 1,
                },
            );
            let proto = convert_created(&event).expect("conversion");
            IntegrationMessage::from_aggregate_event(
                &event.into_dyn(),
                &ORDER,
                "OrderCreatedEvent",
                SOURCE,
                &proto,
            )
        })
        .collect()
}

/// Every message stored in the stream `stream`, in order.
pub async fn stored_messages(js: &Context, stream: &str) -> Vec<StreamMessage> {
    let mut stream = js.get_stream(stream).await.expect("stream");
    let last = stream
        .info()
        .await
        .expect("stream info")
        .state
        .last_sequence;
    let mut messages = Vec::new();
    for sequence in 1..=last {
        messages.push(
            stream
                .get_raw_message(sequence)
                .await
                .expect("stored message"),
        );
    }
    messages
}
