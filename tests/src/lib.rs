//! Fixtures of eventmap's end-to-end tests (the tests themselves are in `tests/`).
//!
//! [`kitchen`] holds a domain event that uses every field form of the mapping format;
//! [`kitchen_integration`] is the module generated for it by `eventmap_codegen::Builder`
//! (see `build.rs` and `fixtures/kitchen/`), compiled here under `deny(warnings)`.
//!
//! [`property`] holds the domain types of the property fixture (`build/property.rs`: every
//! proto field kind x source form x domain type that `check` accepts), and
//! [`property_integration`] the one module generated for all of them.
#![deny(warnings, missing_docs)]

pub mod history;
pub mod history_derive;

/// The prost types of `fixtures/kitchen/proto`.
#[allow(missing_docs, clippy::all)]
pub mod kitchen_proto {
    include!(concat!(env!("OUT_DIR"), "/kitchen_protos.rs"));
}

/// The code generated from `fixtures/kitchen/mappings.yaml`.
pub mod kitchen_integration {
    include!(concat!(env!("OUT_DIR"), "/kitchen_integration.rs"));
}

/// Domain types of the kitchen-sink fixture.
pub mod kitchen {
    use std::time::Duration;

    /// A postal address.
    #[derive(Debug, Clone, PartialEq)]
    pub struct Address {
        /// Street and number.
        pub street: String,
        /// City.
        pub city: String,
    }

    /// A domain enum (one variant carries data).
    #[derive(Debug, Clone, PartialEq)]
    pub enum Level {
        /// Low.
        Low,
        /// High, with a detail the contract does not carry.
        High(u8),
    }

    /// A tuple struct, mapped through its field `0`.
    #[derive(Debug, Clone, PartialEq)]
    pub struct Wrapped(pub String);

    /// A domain event whose fields exercise every conversion.
    #[derive(Debug, Clone, PartialEq)]
    pub struct SinkFilled {
        /// Maps to proto `type` (a Rust keyword).
        pub r#type: String,
        /// Maps to proto `match` (a Rust keyword).
        pub r#match: String,
        /// Maps to proto `self` (prost: `self_`).
        pub myself: String,
        /// Widened into `uint32`.
        pub small: u16,
        /// Narrowed (checked) into `int32`.
        pub narrowed: u32,
        /// Widened into `int64`.
        pub wide: i32,
        /// Widened into `double`.
        pub ratio: f32,
        /// `bytes`.
        pub raw: Vec<u8>,
        /// A nested singular message.
        pub address: Address,
        /// A nested repeated message.
        pub previous: Vec<Address>,
        /// `repeated string`.
        pub tags: Vec<String>,
        /// proto3 `optional string`.
        pub nickname: Option<String>,
        /// `google.protobuf.Duration`.
        pub took: Duration,
        /// A nested message built from a tuple struct.
        pub inner: Wrapped,
        /// Maps to proto `async` (a Rust keyword).
        pub r#async: String,
        /// A recursive structure (prost boxes `Node.parent`).
        pub node: Node,
        /// A `google.protobuf.StringValue` (prost: `Option<String>`).
        pub nickname_text: String,
        /// Mapped field by field onto a `google.protobuf.Timestamp`.
        pub stamp: Stamp,
        /// A `map<string, string>`.
        pub labels: std::collections::BTreeMap<String, String>,
        /// A domain enum mapped onto `kitchen.v1.Priority` by proto value names.
        pub level: Level,
        /// The same, repeated.
        pub history: Vec<Level>,
    }

    /// A tree node of the domain.
    #[derive(Debug, Clone, PartialEq)]
    pub struct Node {
        /// Its label.
        pub label: String,
        /// Its parent.
        pub parent: Parent,
        /// Its children, by label.
        pub children: Vec<Child>,
    }

    /// A parent node (only its label is kept).
    #[derive(Debug, Clone, PartialEq)]
    pub struct Parent {
        /// Its label.
        pub label: String,
    }

    /// A child node.
    #[derive(Debug, Clone, PartialEq)]
    pub struct Child {
        /// Its label.
        pub this: String,
    }

    /// A domain event that is mapped to no integration event.
    #[derive(Debug, Clone, PartialEq)]
    pub struct SinkDrained;

    impl eventmap::DomainEvent for SinkFilled {
        fn event_name(&self) -> &'static str {
            "SinkFilled"
        }
    }

    impl eventmap::DomainEvent for SinkDrained {
        fn event_name(&self) -> &'static str {
            "SinkDrained"
        }
    }

    /// A point in time as whole seconds, mapped field by field onto `google.protobuf.Timestamp`.
    #[derive(Debug, Clone, PartialEq)]
    pub struct Stamp {
        /// Seconds since the Unix epoch.
        pub secs: i64,
    }

    /// The conversion function the table names for `computed`.
    pub fn double(value: &i32) -> i64 {
        i64::from(*value) * 2
    }
}

/// The prost types of the property fixture (`OUT_DIR/property/*.proto`).
#[allow(missing_docs, clippy::all)]
pub mod property_proto {
    include!(concat!(env!("OUT_DIR"), "/property_protos.rs"));
}

/// The code generated for every combination of the property fixture that `check` accepts.
pub mod property_integration {
    include!(concat!(env!("OUT_DIR"), "/property_integration.rs"));
}

/// Domain types of the property fixture, and one runner per accepted combination.
pub mod property {
    use crate::property_proto::prop::{v2, v3};
    use eventmap::convert::{ConversionError, IntoProto};

    include!(concat!(env!("OUT_DIR"), "/property/cases.rs"));

    /// The domain enum mapped onto `Color` with `enum:`.
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub enum Color {
        /// `COLOR_RED`.
        Red,
        /// `COLOR_GREEN`.
        Green,
    }

    /// An own type with `IntoProto` into the `Inner` messages (`from` without `fields:`).
    #[derive(Debug, Clone, PartialEq)]
    pub struct Own(pub i32);

    impl IntoProto<v3::Inner> for Own {
        fn into_proto(&self) -> Result<v3::Inner, ConversionError> {
            Ok(v3::Inner {
                name: String::from("in"),
                n: self.0,
            })
        }
    }

    impl IntoProto<v2::Inner> for Own {
        fn into_proto(&self) -> Result<v2::Inner, ConversionError> {
            Ok(v2::Inner {
                name: String::from("in"),
                n: self.0,
            })
        }
    }

    /// A domain struct mapped field by field onto `Inner`.
    #[derive(Debug, Clone, PartialEq)]
    pub struct InnerD {
        /// Its name.
        pub name: String,
        /// Its number.
        pub n: i32,
    }

    /// Whole seconds, mapped field by field onto `Timestamp` and `Duration`.
    #[derive(Debug, Clone, PartialEq)]
    pub struct Stamp {
        /// Seconds.
        pub secs: i64,
    }

    /// The `with:` function of the fixture: the value itself, cloned.
    pub fn clone_it<T: Clone>(value: &T) -> T {
        value.clone()
    }
}

pub mod cetype;
pub mod contracts;
pub mod corpus;
pub mod shared;
pub mod shared_derive;

/// The Rust snippets of `README.md`, compiled as doctests (those that need a broker or a
/// database are `no_run`): lines starting with `# ` give each the service it runs in (the
/// ordering example, or the example's table built with the `Builder` into `OUT_DIR`).
#[doc = include_str!("../../README.md")]
pub mod readme {}

/// The Rust snippets of `docs/delivery.md`, compiled as doctests.
#[doc = include_str!("../../docs/delivery.md")]
pub mod delivery_doc {}

/// The Rust snippets of `docs/mappings.md`, compiled as doctests.
#[doc = include_str!("../../docs/mappings.md")]
pub mod mappings_doc {}

/// The Rust snippets of `docs/connecting.md`, compiled as doctests.
#[doc = include_str!("../../docs/connecting.md")]
pub mod connecting_doc {}

/// The Rust snippets of `docs/checks.md`, compiled as doctests.
#[doc = include_str!("../../docs/checks.md")]
pub mod checks_doc {}

/// The Rust snippets of `docs/security.md`, compiled as doctests.
#[doc = include_str!("../../docs/security.md")]
pub mod security_doc {}
