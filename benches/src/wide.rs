//! The wide event: one domain event mapped onto a 50-field proto message with every field
//! form (`fixtures/wide/`), its generated module (built by `build.rs` with
//! `eventmap_codegen::Builder`), sample data and the hand-written conversion.

use std::time::Duration;

use eventmap::{AggregateEvent, ChannelSpec, integration_event_id};
use prost_types::Timestamp;

use crate::hand::{Hand, HandError};

/// The prost types of `fixtures/wide/proto`.
#[allow(missing_docs, clippy::all)]
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/wide_protos.rs"));
}

/// The module eventmap generates from `fixtures/wide/mappings.yaml`.
// The emitter matches domain enum variants as `Status::Pending { .. }` (valid for every kind
// of variant); clippy flags it for unit variants.
#[allow(missing_docs, clippy::unneeded_struct_pattern)]
pub mod generated {
    include!(concat!(env!("OUT_DIR"), "/wide_integration.rs"));
}

/// The wide event's channel.
pub const WIDE: ChannelSpec = generated::channels::WIDE;
/// The wide table's service name (`ce-source`).
pub const SOURCE: &str = generated::SOURCE;

/// Domain types of the wide event.
pub mod domain {
    use std::time::Duration;

    use eventmap::convert::{ConversionError, IntoProto};

    /// An identifier newtype, converted with its own `IntoProto` impl.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Id(pub String);

    impl IntoProto<String> for Id {
        fn into_proto(&self) -> Result<String, ConversionError> {
            Ok(self.0.clone())
        }
    }

    /// An amount in cents of a currency.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Money {
        /// Minor units.
        pub cents: i64,
        /// ISO 4217 code.
        pub currency: String,
    }

    /// The `with:` conversion of money fields.
    pub fn to_cents(money: &Money) -> i64 {
        money.cents
    }

    /// A domain enum mapped value by value.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Status {
        /// Not active yet.
        Pending,
        /// Active.
        Active,
        /// Closed.
        Closed,
    }

    /// A postal address.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Address {
        /// Street and number.
        pub street: String,
        /// City.
        pub city: String,
        /// Postal code.
        pub zip: String,
        /// Country code.
        pub country: String,
    }

    /// One line.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct LineItem {
        /// Stock keeping unit.
        pub sku: String,
        /// Name shown.
        pub name: String,
        /// Units (narrowed, checked, into `int32`).
        pub quantity: u32,
        /// Price of one unit.
        pub unit_price: Money,
    }

    /// The wide domain event.
    #[derive(Debug, Clone, PartialEq)]
    #[allow(missing_docs)]
    pub struct WideHappened {
        pub s01: String,
        pub s02: String,
        pub s03: String,
        pub s04: String,
        pub s05: String,
        pub s06: String,
        pub s07: String,
        pub s08: String,
        pub customer_id: Id,
        pub account_id: Id,
        pub merchant_id: Id,
        pub n01: i64,
        pub n02: i64,
        pub n03: i64,
        pub n04: i64,
        pub n05: i64,
        pub small_a: i32,
        pub small_b: i32,
        pub c01: u32,
        pub c02: u32,
        pub big01: u64,
        pub big02: u64,
        pub q01: u32,
        pub q02: u32,
        pub delta: i64,
        pub flag01: bool,
        pub flag02: bool,
        pub flag03: bool,
        pub flag04: bool,
        pub ratio01: f64,
        pub ratio02: f64,
        pub ratio03: f64,
        pub weight: f32,
        pub total: Money,
        pub tax: Money,
        pub status: Status,
        pub address: Address,
        pub items: Vec<LineItem>,
        pub tags: Vec<String>,
        pub nickname: Option<String>,
        pub ttl: Duration,
    }

    impl eventmap::DomainEvent for WideHappened {
        fn event_name(&self) -> &'static str {
            "WideHappened"
        }
    }
}

use domain::{Address, Id, LineItem, Money, Status, WideHappened};

/// A wide event with five items and three tags.
pub fn sample() -> WideHappened {
    let text = |n: u32| format!("value number {n} of the wide event");
    let eur = |cents: i64| Money {
        cents,
        currency: "EUR".to_owned(),
    };
    WideHappened {
        s01: text(1),
        s02: text(2),
        s03: text(3),
        s04: text(4),
        s05: text(5),
        s06: text(6),
        s07: text(7),
        s08: text(8),
        customer_id: Id("customer-0001".to_owned()),
        account_id: Id("account-0001".to_owned()),
        merchant_id: Id("merchant-0001".to_owned()),
        n01: 1,
        n02: -2_000,
        n03: 3_000_000,
        n04: -4_000_000_000,
        n05: 5,
        small_a: 6,
        small_b: -7,
        c01: 8,
        c02: 9_000,
        big01: 10_000_000_000,
        big02: 11,
        q01: 12,
        q02: 13_000,
        delta: -14,
        flag01: true,
        flag02: false,
        flag03: true,
        flag04: false,
        ratio01: 0.15,
        ratio02: 16.5,
        ratio03: -17.25,
        weight: 1.8,
        total: eur(1_900),
        tax: eur(361),
        status: Status::Active,
        address: Address {
            street: "1 Benchmark Street".to_owned(),
            city: "Loopback".to_owned(),
            zip: "12701".to_owned(),
            country: "XX".to_owned(),
        },
        items: (1..=5)
            .map(|n| LineItem {
                sku: format!("sku-{n:04}"),
                name: format!("item number {n}"),
                quantity: n,
                unit_price: eur(100 * i64::from(n)),
            })
            .collect(),
        tags: vec!["alpha".into(), "beta".into(), "gamma".into()],
        nickname: Some("wide".to_owned()),
        ttl: Duration::from_millis(90_500),
    }
}

/// [`sample`] on aggregate `Account`/`aggregate_id`, version 1.
pub fn sample_event(aggregate_id: &str) -> AggregateEvent<WideHappened> {
    AggregateEvent::new("Account", aggregate_id, 1, sample())
        .with_occurred_at(crate::ordering::occurred_at())
}

impl TryFrom<Hand<'_, WideHappened>> for proto::bench::v1::WideHappened {
    type Error = HandError;

    fn try_from(Hand(event, p): Hand<'_, WideHappened>) -> Result<Self, HandError> {
        use proto::bench::v1 as pb;
        Ok(Self {
            id: integration_event_id(event.id(), "WideHappenedEvent").to_string(),
            aggregate_id: event.aggregate_id().to_owned(),
            aggregate_version: event.aggregate_version(),
            occurred_at: Some(Timestamp::from(event.occurred_at())),
            event_name: event.name().to_owned(),
            s01: p.s01.clone(),
            s02: p.s02.clone(),
            s03: p.s03.clone(),
            s04: p.s04.clone(),
            s05: p.s05.clone(),
            s06: p.s06.clone(),
            s07: p.s07.clone(),
            s08: p.s08.clone(),
            customer_id: p.customer_id.0.clone(),
            account_id: p.account_id.0.clone(),
            merchant_id: p.merchant_id.0.clone(),
            n01: p.n01,
            n02: p.n02,
            n03: p.n03,
            n04: p.n04,
            n05: p.n05,
            small_a: i64::from(p.small_a),
            small_b: i64::from(p.small_b),
            c01: p.c01,
            c02: p.c02,
            big01: p.big01,
            big02: p.big02,
            q01: i32::try_from(p.q01).map_err(HandError::range("q01"))?,
            q02: i32::try_from(p.q02).map_err(HandError::range("q02"))?,
            delta: i32::try_from(p.delta).map_err(HandError::range("delta"))?,
            flag01: p.flag01,
            flag02: p.flag02,
            flag03: p.flag03,
            flag04: p.flag04,
            ratio01: p.ratio01,
            ratio02: p.ratio02,
            ratio03: p.ratio03,
            weight: p.weight,
            total_cents: domain::to_cents(&p.total),
            tax_cents: domain::to_cents(&p.tax),
            currency: p.total.currency.clone(),
            source_system: "eventmap benchmark".to_owned(),
            schema_rev: 7,
            status: match p.status {
                Status::Pending => pb::Status::Pending,
                Status::Active => pb::Status::Active,
                Status::Closed => pb::Status::Closed,
            } as i32,
            note: String::new(),
            address: Some(pb::Address {
                street: p.address.street.clone(),
                city: p.address.city.clone(),
                zip: p.address.zip.clone(),
                country: p.address.country.clone(),
            }),
            items: p
                .items
                .iter()
                .map(|item: &LineItem| {
                    Ok(pb::LineItem {
                        sku: item.sku.clone(),
                        name: item.name.clone(),
                        quantity: i32::try_from(item.quantity)
                            .map_err(HandError::range("items.quantity"))?,
                        unit_price_cents: domain::to_cents(&item.unit_price),
                    })
                })
                .collect::<Result<_, HandError>>()?,
            tags: p.tags.clone(),
            nickname: p.nickname.clone(),
            ttl: Some(prost_types::Duration::try_from(p.ttl).map_err(HandError::range("ttl"))?),
        })
    }
}
