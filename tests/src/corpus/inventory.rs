//! The inventory service (`fixtures/corpus/inventory/`): proto3 contracts on a shared
//! `common/v1/types.proto`, two channels, `StockReceived` under two contract versions.

/// The prost types of `fixtures/corpus/inventory/proto` (`common::v1`, `inventory::v1`,
/// `inventory::v2`).
#[allow(missing_docs, clippy::all)]
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/corpus_inventory_protos.rs"));
}

/// The code generated from `fixtures/corpus/inventory/mappings.yaml`.
pub mod integration {
    include!(concat!(env!("OUT_DIR"), "/corpus_inventory_integration.rs"));
}

/// The inventory domain model.
pub mod domain {
    use std::time::SystemTime;

    use eventmap::convert::{ConversionError, IntoProto};

    use super::proto::common::v1 as common;

    /// An amount of money in minor units; converts into `common.v1.Money` wherever a contract
    /// uses it.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Money {
        /// Minor units.
        pub minor: i64,
        /// ISO 4217 code.
        pub currency: String,
    }

    impl Money {
        /// `minor` units of `currency`.
        pub fn new(minor: i64, currency: &str) -> Self {
            Self {
                minor,
                currency: currency.to_owned(),
            }
        }
    }

    impl IntoProto<common::Money> for Money {
        fn into_proto(&self) -> Result<common::Money, ConversionError> {
            Ok(common::Money {
                units: self.minor,
                currency_code: self.currency.clone(),
            })
        }
    }

    /// A postal address; mapped field by field in one contract and through `IntoProto` in
    /// the others.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Address {
        /// Street lines.
        pub lines: Vec<String>,
        /// City.
        pub city: String,
        /// Postal code.
        pub postal_code: String,
        /// ISO 3166 country code.
        pub country: String,
    }

    impl IntoProto<common::Address> for Address {
        fn into_proto(&self) -> Result<common::Address, ConversionError> {
            Ok(common::Address {
                lines: self.lines.clone(),
                city: self.city.clone(),
                postal_code: self.postal_code.clone(),
                country_code: self.country.clone(),
            })
        }
    }

    /// A supplier.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Supplier {
        /// Its name (not in the contracts).
        pub name: String,
        /// Where it ships from.
        pub address: Address,
    }

    /// Goods arrived at a warehouse (the aggregate is the warehouse).
    #[derive(Debug, Clone, PartialEq, eventmap::DomainEvent)]
    pub struct StockReceived {
        /// The stock keeping unit.
        pub sku: String,
        /// How many.
        pub quantity: u32,
        /// The cost of one.
        pub unit_cost: Money,
        /// The cost of the lot.
        pub lot_cost: Money,
        /// The lot number.
        pub lot: String,
        /// Who delivered.
        pub supplier: Supplier,
    }

    /// Stock was put aside for an order.
    #[derive(Debug, Clone, PartialEq, eventmap::DomainEvent)]
    pub struct StockReserved {
        /// The stock keeping unit.
        pub sku: String,
        /// The order.
        pub order_id: String,
        /// How many (Go `int`).
        pub quantity: i64,
        /// Until when the reservation holds.
        pub until: SystemTime,
    }

    /// One parcel of a shipment.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Parcel {
        /// The carrier's tracking number.
        pub tracking_number: String,
        /// Its weight.
        pub weight_grams: u16,
    }

    /// A shipment left the warehouse (the aggregate is the shipment).
    #[derive(Debug, Clone, PartialEq, eventmap::DomainEvent)]
    pub struct ShipmentDispatched {
        /// The order shipped.
        pub order_id: String,
        /// Where to.
        pub destination: Address,
        /// The value declared to customs.
        pub declared_value: Money,
        /// Its parcels.
        pub parcels: Vec<Parcel>,
    }

    /// A stock count was taken; stays inside the service.
    #[derive(Debug, Clone, PartialEq, eventmap::DomainEvent)]
    pub struct StockCounted {
        /// The stock keeping unit.
        pub sku: String,
        /// How many were counted.
        pub counted: u32,
    }
}
