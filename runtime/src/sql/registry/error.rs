//! [`RegistryError`]: why encoding, decoding or upcasting a stored payload failed, or a
//! registration was refused.

use super::MAX_UPCASTS;
use crate::error::BoxError;

/// Encoding, decoding or upcasting a payload failed, or a registration was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The payload's Rust type was not registered.
    #[error(
        "domain event `{name}` cannot be stored: its type is not registered in the EventRegistry"
    )]
    Unregistered {
        /// The event's name.
        name: String,
    },
    /// The event's name is not the name its type was registered under.
    #[error(
        "domain event type {type_name} is registered as `{registered}` but the event is named `{name}`"
    )]
    NameMismatch {
        /// Rust type of the payload.
        type_name: &'static str,
        /// Name it was registered under.
        registered: &'static str,
        /// Name the event carries.
        name: String,
    },
    /// No type is registered for this name and version, and no upcaster leads from it to one.
    #[error(
        "no domain event type is registered as `{name}` version {schema_version}, and no upcaster applies"
    )]
    Unknown {
        /// Stored name (after the upcasts that applied).
        name: String,
        /// Stored version (after the upcasts that applied).
        schema_version: u32,
    },
    /// The payload could not be written as JSON.
    #[error("cannot serialize domain event `{name}`")]
    Serialize {
        /// Event name.
        name: String,
        /// serde_json's error.
        #[source]
        source: serde_json::Error,
    },
    /// A float of the payload is NaN or infinite: the store keeps payloads as JSON, which
    /// has no such numbers (RFC 8259, section 6), and serde_json would write `null`, read
    /// back as `None` (the value lost) or as an error (the aggregate no longer loads). The
    /// append is refused; nothing is stored.
    #[error(
        "domain event `{name}` cannot be stored: field `{field}` is {value}, and the event store keeps payloads as JSON, which has no NaN or infinity"
    )]
    NonFinite {
        /// Event name.
        name: String,
        /// Path of the float in the payload (`legs[2].fuel_litres`, `weights["gross"]`).
        field: String,
        /// The value (NaN, inf or -inf).
        value: f64,
    },
    /// An `i128`/`u128` of the payload is outside `i64::MIN..=u64::MAX`: the store keeps
    /// payloads as JSON values (serde_json's `Value`), which hold no wider integer. The
    /// append is refused; nothing is stored.
    #[error(
        "domain event `{name}` cannot be stored: field `{field}` is {value}, beyond the 64-bit integers the event store's JSON holds (i64::MIN..=u64::MAX); store such a value as a string"
    )]
    IntegerOutOfRange {
        /// Event name.
        name: String,
        /// Path of the integer in the payload (`serials[2]`).
        field: String,
        /// The value, in decimal.
        value: String,
    },
    /// The stored JSON is not the registered type (after upcasting).
    #[error("cannot deserialize domain event `{name}` version {schema_version} as {type_name}")]
    Deserialize {
        /// Event name.
        name: String,
        /// Schema version.
        schema_version: u32,
        /// The registered type.
        type_name: &'static str,
        /// serde_json's error.
        #[source]
        source: serde_json::Error,
    },
    /// An upcaster failed.
    #[error("upcasting domain event `{name}` from version {from_version} failed")]
    Upcast {
        /// Event name.
        name: String,
        /// Version the failing upcaster starts from.
        from_version: u32,
        /// The upcaster's error.
        #[source]
        source: BoxError,
    },
    /// Upcasting did not reach a registered version in [`MAX_UPCASTS`] steps.
    #[error("upcasting domain event `{name}` did not end after {MAX_UPCASTS} steps")]
    UpcastLoop {
        /// Event name.
        name: String,
    },
    /// A name, a type or an upcaster was registered twice, or the version is invalid.
    #[error("invalid registration: {0}")]
    Registration(String),
}
