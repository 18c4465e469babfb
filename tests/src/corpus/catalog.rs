//! The catalog service (`fixtures/corpus/catalog/`): a proto3 contract.

/// The prost types of `fixtures/corpus/catalog/proto`.
#[allow(missing_docs, clippy::all)]
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/corpus_catalog_protos.rs"));
}

/// The code generated from `fixtures/corpus/catalog/mappings.yaml`.
pub mod integration {
    include!(concat!(env!("OUT_DIR"), "/corpus_catalog_integration.rs"));
}

/// The catalog domain model.
pub mod domain {
    use std::collections::HashMap;
    use std::time::SystemTime;

    use super::proto::catalog::v1 as proto;

    /// A price in minor units.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Price {
        /// Minor units.
        pub amount_minor: i64,
        /// ISO 4217 code.
        pub currency: String,
    }

    impl Price {
        /// `amount_minor` of `currency`.
        pub fn new(amount_minor: i64, currency: &str) -> Self {
            Self {
                amount_minor,
                currency: currency.to_owned(),
            }
        }
    }

    /// The tax class of every list price of this catalog.
    pub const TAX_CLASS: &str = "standard";

    /// The last moment the product can be ordered: a day before it is discontinued; `None`
    /// while it stays in the catalog.
    pub fn last_order_at(discontinued_at: &Option<SystemTime>) -> Option<SystemTime> {
        discontinued_at.and_then(|at| at.checked_sub(std::time::Duration::from_secs(86_400)))
    }

    /// The catalog's pricing code: the contract's `Pricing` message for a list price (a sale
    /// price of 10% off is announced for prices of 100.00 and more).
    pub fn pricing(list: &Price) -> proto::Pricing {
        let price = |p: &Price| proto::Price {
            amount_minor: p.amount_minor,
            currency: p.currency.clone(),
        };
        let sale = (list.amount_minor >= 10_000)
            .then(|| Price::new(list.amount_minor * 9 / 10, &list.currency));
        proto::Pricing {
            list: Some(price(list)),
            sale: sale.as_ref().map(price),
            tax_class: TAX_CLASS.to_owned(),
        }
    }

    /// A parcel's weight.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Weight {
        /// Grams.
        pub grams: u32,
    }

    /// The parcel a variant ships in.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Parcel {
        /// Width in millimetres.
        pub width_mm: u16,
        /// Height in millimetres.
        pub height_mm: u16,
        /// Its weight.
        pub weight: Weight,
    }

    /// A sellable variant.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Variant {
        /// Stock keeping unit.
        pub sku: String,
        /// The kind of variant (`size`, `colour`).
        pub r#type: String,
        /// Its parcel.
        pub parcel: Parcel,
        /// Roughly how many are in stock, when known (Go `*int`).
        pub stock_hint: Option<i64>,
    }

    /// A link to a resource.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Href(pub String);

    /// A product's links.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Links {
        /// The product itself.
        pub self_link: Href,
        /// The collection it belongs to.
        pub collection: String,
    }

    /// A product was published.
    #[derive(Debug, Clone, PartialEq, eventmap::DomainEvent)]
    pub struct ProductPublished {
        /// Its title.
        pub title: String,
        /// Its subtitle, when it has one.
        pub subtitle: Option<String>,
        /// Its position in the listing (always known).
        pub position: u32,
        /// Its variants.
        pub variants: Vec<Variant>,
        /// Free-form attributes.
        pub attributes: HashMap<String, String>,
        /// Its brand, when known.
        pub brand: Option<String>,
        /// The product type.
        pub r#type: String,
        /// The search match policy.
        pub r#match: String,
        /// The supplier's reference.
        pub r#ref: String,
        /// When it can be bought.
        pub available_from: SystemTime,
        /// Its list price.
        pub list_price: Price,
        /// Featured on the home page (the contract's `Empty` marker).
        pub featured: (),
        /// Its links.
        pub links: Links,
        /// When it leaves the catalog, when that is planned.
        pub discontinued_at: Option<SystemTime>,
        /// How long a buyer may return it; `None` for a final sale.
        pub return_window: Option<std::time::Duration>,
        /// Its links on a marketplace, when it is listed there too.
        pub mirror_links: Option<Links>,
    }

    /// A product's list price changed: recorded as `PriceRaised`, `PriceLowered` or
    /// `PriceCorrected` (internal), by the instance.
    #[derive(Debug, Clone, PartialEq)]
    pub struct ProductPriceChanged {
        /// The price before.
        pub old: Price,
        /// The price after.
        pub new: Price,
        /// Who changed it.
        pub changed_by: String,
        /// A correction of a typo, not a price move.
        pub correction: bool,
    }

    impl eventmap::DomainEvent for ProductPriceChanged {
        fn event_name(&self) -> &'static str {
            if self.correction {
                "PriceCorrected"
            } else if self.new.amount_minor > self.old.amount_minor {
                "PriceRaised"
            } else {
                "PriceLowered"
            }
        }
    }
}
