//! The shared payload type of [`crate::shared`], mapped by `#[derive(IntegrationEvent)]`
//! (`fixtures/shared/derive.yaml`): the derive finds every row whose `type:` names the struct,
//! and `register_integration_event_handlers` of the `Builder`'s module without converters
//! registers every domain type of the table through its derive.

/// The names, channels, decoding enums and registration generated without converters.
pub mod integration {
    include!(concat!(env!("OUT_DIR"), "/shared_derive_integration.rs"));
}

/// Domain types, with their converters derived from the table.
pub mod domain {
    pub use crate::shared::domain::Direction;

    /// A product's price changed; mapped under `PriceIncreased` (two rows) and
    /// `PriceDecreased`. With several names the derive leaves `DomainEvent` to the type.
    #[derive(Debug, Clone, PartialEq, eventmap::IntegrationEvent)]
    #[integration(mappings = "fixtures/shared/derive.yaml")]
    pub struct PriceChanged {
        /// The product.
        pub product_id: String,
        /// The price before, in cents.
        pub old_cents: i64,
        /// The price after, in cents.
        pub new_cents: i64,
        /// `new_cents - old_cents`.
        pub delta_cents: i64,
        /// Which way it went (and so the event's name).
        pub direction: Direction,
    }

    impl eventmap::DomainEvent for PriceChanged {
        fn event_name(&self) -> &'static str {
            self.direction.event_name()
        }
    }

    /// A whole catalog repriced (one row: the derive names it).
    #[derive(Debug, Clone, PartialEq, eventmap::IntegrationEvent)]
    #[integration(mappings = "fixtures/shared/derive.yaml")]
    pub struct CatalogRepriced {
        /// The catalog.
        pub catalog_id: String,
        /// The change applied to every price, in cents.
        pub delta_cents: i64,
    }
}
