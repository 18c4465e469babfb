//! Compiles and runs code of the exact shape `eventmap-codegen` emits (paths, helper calls,
//! inference), so a runtime change that breaks generated code fails here.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use eventmap::convert::{ConversionError, IntoProto};

mod domain {
    use super::*;

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct CustomerId(pub String);
    impl IntoProto<String> for CustomerId {
        fn into_proto(&self) -> Result<String, ConversionError> {
            Ok(self.0.clone())
        }
    }

    #[derive(Debug, Clone)]
    pub struct Money {
        pub cents: i64,
        pub currency: String,
    }
    pub fn to_cents(money: &Money) -> i64 {
        money.cents
    }

    #[derive(Debug, Clone)]
    pub struct Item {
        pub name: String,
        pub quantity: u32,
        pub price: Money,
    }

    #[derive(Debug, Clone)]
    pub struct Address {
        pub city: String,
    }

    #[derive(Debug, Clone)]
    pub struct OrderCreated {
        pub customer_id: CustomerId,
        pub items: Vec<Item>,
        pub total: Money,
        pub address: Address,
    }
    impl eventmap::DomainEvent for OrderCreated {
        fn event_name(&self) -> &'static str {
            "OrderCreated"
        }
    }
}

mod proto {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Item {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(int32, tag = "2")]
        pub quantity: i32,
        #[prost(int64, tag = "3")]
        pub unit_price_cents: i64,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Address {
        #[prost(string, tag = "1")]
        pub city: String,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct OrderCreated {
        #[prost(string, tag = "1")]
        pub id: String,
        #[prost(string, tag = "2")]
        pub order_id: String,
        #[prost(string, tag = "3")]
        pub customer_id: String,
        #[prost(message, repeated, tag = "4")]
        pub items: Vec<Item>,
        #[prost(int64, tag = "5")]
        pub total_cents: i64,
        #[prost(string, tag = "6")]
        pub currency: String,
        #[prost(message, optional, tag = "7")]
        pub created_at: Option<prost_types::Timestamp>,
        #[prost(uint64, tag = "8")]
        pub order_version: u64,
        #[prost(message, optional, tag = "9")]
        pub address: Option<Address>,
        #[prost(string, tag = "10")]
        pub event_name: String,
        #[prost(bytes = "vec", tag = "11")]
        pub event_id: Vec<u8>,
    }
}

// ----- what the generator emits (trimmed to one event) -----

pub const SOURCE: &str = "ordering";
pub mod domain_event_names {
    pub const ORDER_CREATED: &str = "OrderCreated";
}
pub mod integration_event_names {
    pub const ORDER_CREATED_EVENT: &str = "OrderCreatedEvent";
}
pub mod channels {
    pub const ORDER: ::eventmap::ChannelSpec =
        ::eventmap::ChannelSpec::new("order", "ordering.order", "ORDERING_ORDERS");
    pub const ALL: &[::eventmap::ChannelSpec] = &[ORDER];
}

pub fn order_created_event(
    event: &::eventmap::AggregateEvent<crate::domain::OrderCreated>,
) -> ::core::result::Result<crate::proto::OrderCreated, ::eventmap::convert::ConversionError> {
    let payload = event.payload();
    ::core::result::Result::Ok(crate::proto::OrderCreated {
        id: ::eventmap::convert::field(
            &::eventmap::integration_event_id(
                event.id(),
                integration_event_names::ORDER_CREATED_EVENT,
            ),
            "id",
        )?,
        order_id: ::eventmap::convert::field(&event.aggregate_id(), "order_id")?,
        customer_id: ::eventmap::convert::field(&payload.customer_id, "customer_id")?,
        items: ::eventmap::convert::map_each(&payload.items, "items", |item| {
            ::core::result::Result::Ok(crate::proto::Item {
                name: ::eventmap::convert::field(&item.name, "name")?,
                quantity: ::eventmap::convert::checked(&item.quantity, "quantity")?,
                unit_price_cents: ::eventmap::convert::field(
                    &crate::domain::to_cents(&item.price),
                    "unit_price_cents",
                )?,
            })
        })?,
        total_cents: ::eventmap::convert::field(
            &crate::domain::to_cents(&payload.total),
            "total_cents",
        )?,
        currency: ::eventmap::convert::field(&payload.total.currency, "currency")?,
        created_at: ::core::option::Option::Some(::eventmap::convert::field(
            &event.occurred_at(),
            "created_at",
        )?),
        order_version: ::eventmap::convert::field(&event.aggregate_version(), "order_version")?,
        address: ::core::option::Option::Some(::eventmap::convert::map_one(
            &payload.address,
            "address",
            |item| {
                ::core::result::Result::Ok(crate::proto::Address {
                    city: ::eventmap::convert::field(&item.city, "city")?,
                })
            },
        )?),
        event_name: ::eventmap::convert::field(&event.name(), "event_name")?,
        event_id: ::eventmap::convert::field(&event.id(), "event_id")?,
    })
}

pub fn register_integration_event_handlers(
    dispatcher: &mut ::eventmap::EventDispatcher,
    publisher: ::std::sync::Arc<dyn ::eventmap::Publisher>,
) {
    if dispatcher.map_type::<crate::domain::OrderCreated>(
        ::core::concat!(
            ::core::module_path!(),
            "::register_integration_event_handlers(crate::domain::OrderCreated)"
        ),
        &[domain_event_names::ORDER_CREATED],
    ) {
        dispatcher.subscribe_to_named::<crate::domain::OrderCreated>(
            domain_event_names::ORDER_CREATED,
            ::eventmap::IntegrationEventHandler::new(
                ::std::sync::Arc::clone(&publisher),
                channels::ORDER,
                integration_event_names::ORDER_CREATED_EVENT,
                SOURCE,
                order_created_event,
            ),
        );
    }
}

#[derive(Clone, PartialEq, Debug)]
pub enum OrderIntegrationEvent {
    OrderCreatedEvent(crate::proto::OrderCreated),
}

impl ::eventmap::IntegrationEventSet for OrderIntegrationEvent {
    const CHANNEL: ::eventmap::ChannelSpec = channels::ORDER;
    const NAMES: &'static [&'static str] = &[integration_event_names::ORDER_CREATED_EVENT];

    fn decode(name: &str, payload: &[u8]) -> ::core::result::Result<Self, ::eventmap::DecodeError> {
        match name {
            integration_event_names::ORDER_CREATED_EVENT => {
                ::eventmap::decode_payload::<crate::proto::OrderCreated>(name, payload)
                    .map(Self::OrderCreatedEvent)
            }
            _ => ::core::result::Result::Err(::eventmap::DecodeError::UnknownEvent {
                name: ::std::string::String::from(name),
            }),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Self::OrderCreatedEvent(_) => integration_event_names::ORDER_CREATED_EVENT,
        }
    }
}

// ----- tests -----

fn event(quantity: u32) -> eventmap::AggregateEvent<domain::OrderCreated> {
    eventmap::AggregateEvent::new(
        "Order",
        "order-9",
        4,
        domain::OrderCreated {
            customer_id: domain::CustomerId("c-1".into()),
            items: vec![
                domain::Item {
                    name: "tea".into(),
                    quantity: 2,
                    price: domain::Money {
                        cents: 350,
                        currency: "EUR".into(),
                    },
                },
                domain::Item {
                    name: "cake".into(),
                    quantity,
                    price: domain::Money {
                        cents: 420,
                        currency: "EUR".into(),
                    },
                },
            ],
            total: domain::Money {
                cents: 1_120,
                currency: "EUR".into(),
            },
            address: domain::Address {
                city: "Lyon".into(),
            },
        },
    )
    .with_occurred_at(UNIX_EPOCH + Duration::from_secs(1_796_014_800))
}

#[test]
fn generated_converter_maps_every_field() {
    let event = event(1);
    let message = order_created_event(&event).unwrap();
    assert_eq!(
        message,
        proto::OrderCreated {
            id: eventmap::integration_event_id(event.id(), "OrderCreatedEvent").to_string(),
            order_id: "order-9".into(),
            customer_id: "c-1".into(),
            items: vec![
                proto::Item {
                    name: "tea".into(),
                    quantity: 2,
                    unit_price_cents: 350
                },
                proto::Item {
                    name: "cake".into(),
                    quantity: 1,
                    unit_price_cents: 420
                },
            ],
            total_cents: 1_120,
            currency: "EUR".into(),
            created_at: Some(prost_types::Timestamp {
                seconds: 1_796_014_800,
                nanos: 0
            }),
            order_version: 4,
            address: Some(proto::Address {
                city: "Lyon".into()
            }),
            event_name: "OrderCreated".into(),
            event_id: event.id().as_bytes().to_vec(),
        }
    );
}

#[test]
fn generated_converter_locates_errors() {
    let err = order_created_event(&event(u32::MAX)).unwrap_err();
    assert_eq!(err.field(), "items.1.quantity");
    assert_eq!(
        err.to_string(),
        "field `items.1.quantity`: value 4294967295 does not fit in i32"
    );
}

#[tokio::test]
async fn generated_registration_and_decoding_round_trip() {
    use eventmap::IntegrationEventSet;

    let publisher = eventmap::InMemoryPublisher::new();
    let mut dispatcher = eventmap::EventDispatcher::new();
    register_integration_event_handlers(&mut dispatcher, Arc::new(publisher.clone()));
    assert_eq!(dispatcher.handler_count_of::<domain::OrderCreated>(), 1);
    assert_eq!(
        dispatcher.handler_count(domain_event_names::ORDER_CREATED),
        0
    );

    let event = event(3).into_dyn();
    dispatcher
        .publish(std::slice::from_ref(&event))
        .await
        .unwrap();
    let messages = publisher.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].subject, "ordering.order.OrderCreatedEvent");

    let decoded = OrderIntegrationEvent::decode(&messages[0].name, &messages[0].payload).unwrap();
    assert_eq!(decoded.name(), "OrderCreatedEvent");
    let OrderIntegrationEvent::OrderCreatedEvent(created) = decoded;
    assert_eq!(created.items[1].quantity, 3);
    assert!(matches!(
        OrderIntegrationEvent::decode("Nope", &[]),
        Err(eventmap::DecodeError::UnknownEvent { name }) if name == "Nope"
    ));
}
