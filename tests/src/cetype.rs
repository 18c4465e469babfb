//! CloudEvents types apart from the integration event names (`fixtures/cetype/mappings.yaml`):
//! a row with `ce_type: com.example.ordering.OrderCreated` is published on the subject of its
//! name with that `ce-type`, and the table's subscription decodes it by that type.

/// The prost types of `fixtures/cetype/proto`.
#[allow(missing_docs, clippy::all)]
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/cetype_protos.rs"));
}

/// The code generated from `fixtures/cetype/mappings.yaml`.
pub mod integration {
    include!(concat!(env!("OUT_DIR"), "/cetype_integration.rs"));
}

/// Domain types of the fixture.
pub mod domain {
    /// An order was created.
    #[derive(Debug, Clone, PartialEq)]
    pub struct OrderCreated {
        /// The order's total, in cents.
        pub total_cents: i64,
    }

    /// An order was shipped.
    #[derive(Debug, Clone, PartialEq)]
    pub struct OrderShipped {
        /// Who carries it.
        pub carrier: String,
    }

    impl eventmap::DomainEvent for OrderCreated {
        fn event_name(&self) -> &'static str {
            "OrderCreated"
        }
    }

    impl eventmap::DomainEvent for OrderShipped {
        fn event_name(&self) -> &'static str {
            "OrderShipped"
        }
    }
}
