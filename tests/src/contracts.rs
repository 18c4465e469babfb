//! The contract guard's fixture (`fixtures/contracts/`): one billing producer built three
//! times, from `v1/` (whose table also declares the consumer's subscription), from a
//! wire-compatible change (`compatible/`: fields added) and from an incompatible one
//! (`incompatible/`: `total_cents` became a string), each module with its own prost types
//! and contracts.

/// The producer (and consumer) built from `fixtures/contracts/v1/`.
pub mod v1 {
    /// The prost types of `v1/`.
    #[allow(missing_docs, clippy::all)]
    pub mod proto {
        include!(concat!(env!("OUT_DIR"), "/contracts_v1_protos.rs"));
    }
    /// The code generated from `fixtures/contracts/v1.yaml`.
    pub mod integration {
        include!(concat!(env!("OUT_DIR"), "/contracts_v1_integration.rs"));
    }
}

/// The producer built from `fixtures/contracts/compatible/` (fields added).
pub mod compatible {
    /// The prost types of `compatible/`.
    #[allow(missing_docs, clippy::all)]
    pub mod proto {
        include!(concat!(env!("OUT_DIR"), "/contracts_compatible_protos.rs"));
    }
    /// The code generated from `fixtures/contracts/compatible.yaml`.
    pub mod integration {
        include!(concat!(
            env!("OUT_DIR"),
            "/contracts_compatible_integration.rs"
        ));
    }
}

/// The producer built from `fixtures/contracts/incompatible/` (`total_cents` a string).
pub mod incompatible {
    /// The prost types of `incompatible/`.
    #[allow(missing_docs, clippy::all)]
    pub mod proto {
        include!(concat!(
            env!("OUT_DIR"),
            "/contracts_incompatible_protos.rs"
        ));
    }
    /// The code generated from `fixtures/contracts/incompatible.yaml`.
    pub mod integration {
        include!(concat!(
            env!("OUT_DIR"),
            "/contracts_incompatible_integration.rs"
        ));
    }
}

/// Domain types of the fixture, shared by the three producers.
pub mod domain {
    /// One invoice line.
    #[derive(Debug, Clone, PartialEq)]
    pub struct Line {
        /// The product.
        pub sku: String,
        /// How many.
        pub quantity: u32,
    }

    /// An invoice was issued.
    #[derive(Debug, Clone, PartialEq)]
    pub struct InvoiceIssued {
        /// The total, in cents.
        pub total_cents: i64,
        /// The total as the incompatible producer writes it.
        pub total_text: String,
        /// The currency (written by the compatible producer only).
        pub currency: String,
        /// The lines.
        pub lines: Vec<Line>,
    }

    impl eventmap::DomainEvent for InvoiceIssued {
        fn event_name(&self) -> &'static str {
            "InvoiceIssued"
        }
    }
}
