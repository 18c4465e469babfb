//! A service crate in Builder mode whose domain types do not fit its table (see
//! `tests/rustc_errors.rs`): `OrderPlaced::quantity` is an `i64` mapped onto an `int32`
//! without `checked: true`, `Carrier::Fedex` is missing from the `values:` of
//! `OrderShipped`'s `carrier`, and `ReturnReason::Late` from the `variants:` of
//! `OrderReturned`'s oneof `reason`.

/// The prost types, as `Builder` writes them.
pub mod proto {
    include!("generated/protos.rs");
}

/// The domain events.
pub mod domain {
    /// An order was placed.
    #[derive(Debug, Clone)]
    pub struct OrderPlaced {
        /// How many items (an `i64`, the proto field is an `int32`).
        pub quantity: i64,
    }

    impl eventmap::DomainEvent for OrderPlaced {
        fn event_name(&self) -> &'static str {
            "OrderPlaced"
        }
    }

    /// Who ships an order.
    #[derive(Debug, Clone)]
    pub enum Carrier {
        /// UPS.
        Ups,
        /// DHL.
        Dhl,
        /// FedEx: not in the table's `values:`.
        Fedex,
    }

    /// An order was shipped.
    #[derive(Debug, Clone)]
    pub struct OrderShipped {
        /// The carrier.
        pub carrier: Carrier,
    }

    impl eventmap::DomainEvent for OrderShipped {
        fn event_name(&self) -> &'static str {
            "OrderShipped"
        }
    }

    /// Why an order came back: sets the proto oneof `reason`.
    #[derive(Debug, Clone)]
    pub enum ReturnReason {
        /// What was damaged.
        Damaged(String),
        /// Too late: not in the table's `variants:`.
        Late,
        /// Any other reason, in words.
        Other(String),
    }

    /// An order was returned.
    #[derive(Debug, Clone)]
    pub struct OrderReturned {
        /// Why.
        pub reason: ReturnReason,
    }

    impl eventmap::DomainEvent for OrderReturned {
        fn event_name(&self) -> &'static str {
            "OrderReturned"
        }
    }
}

/// The integration module, as `Builder` writes it.
pub mod integration_events {
    include!("generated/integration_events.rs");
}
