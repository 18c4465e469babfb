//! Field conversions from domain values to protobuf (prost) field types.
//!
//! Generated code converts every mapped field with [`field`] (an [`IntoProto`] conversion that
//! names the field in its error), [`checked`] (`checked: true` in the table: a range-checked
//! narrowing), [`map_each`], [`map_one`] and [`map_maybe`] (nested messages built field by
//! field: for each element, once, or once when the domain value, a `T` or an `Option<T>` told
//! apart by [`Maybe`], is present); the target type is the prost field
//! type, so inference picks the impl.
//! The [`IntoProto`] impls are:
//!
//! | source | target | rule |
//! | --- | --- | --- |
//! | `bool`, `f32`, `f64`, `String`, `u8`, `Bytes`, `Timestamp`, `prost_types::Duration` | same | identity |
//! | `i8`, `i16`, `u8`, `u16` | `i32` | lossless widening |
//! | `i8`, `i16`, `i32`, `u8`, `u16`, `u32` | `i64` | lossless widening |
//! | `u8`, `u16` | `u32`; `u8`, `u16`, `u32` -> `u64` | lossless widening |
//! | a narrowing (`u32` -> `i32`, `i64` -> `i32`, `usize` -> any) | | does not compile: ask for [`checked`] with `checked: true` in the table |
//! | `Result<T, E: Display>` | `P` where `T: IntoProto<P>` | `Err` becomes a [`ConversionError`] with `E`'s message (for fallible `with:` functions) |
//! | `HashMap<K, V>`, `BTreeMap<K, V>` | `HashMap<PK, PV>`, `BTreeMap<PK, PV>` | key- and value-wise (protobuf `map` fields) |
//! | `f32` | `f64` | lossless widening (no float narrowing, no int <-> float) |
//! | `str`, `char` (`&str`, `Box<str>`, `Arc<str>`, `Cow<str>` through the blanket impls) | `String` | copy |
//! | `uuid::Uuid` | `String` | hyphenated lower case, `67e55044-10b1-426f-9247-bb680e5fe0c8` |
//! | `uuid::Uuid` | `Vec<u8>`, `Bytes` | the 16 bytes, big-endian (RFC 9562 byte order) |
//! | `Vec<u8>`, `[u8]` | `Bytes` | copy |
//! | `Bytes` | `Vec<u8>` | copy |
//! | `SystemTime` | `Timestamp`, `Option<Timestamp>` | checked against the range of `google.protobuf.Timestamp` (0001-01-01T00:00:00Z ..= 9999-12-31T23:59:59.999999999Z) |
//! | `std::time::Duration` | `prost_types::Duration`, `Option<..>` | checked against the range of `google.protobuf.Duration` (+-315,576,000,000 s) |
//! | `Vec<T>`, `[T]`, `[T; N]` | `Vec<P>` where `T: IntoProto<P>` | element-wise; an error gets the index as path segment (`"3"`) |
//! | `Option<T>` | `Option<P>` | `None` stays `None` |
//! | every source above except containers (`i64`, `String`, `&str`, `Uuid`, `SystemTime`, ...) | `Option<P>` of its targets | `Some(..)`: a plain value into a proto3/proto2 `optional` field or a wrapper (`StringValue` is `Option<String>`) |
//! | `()` | `()` | identity (`google.protobuf.Empty`) |
//! | `&T`, `Box<T>`, `Arc<T>`, `Cow<T>` | `P` where `T: IntoProto<P>` | delegates |
//!
//! `Option<Timestamp>`/`Option<Duration>` targets exist because prost represents message-typed
//! fields (such as `google.protobuf.Timestamp`) as `Option<M>`.
//!
//! Own types (ids, money, enums) get their own `impl IntoProto<P> for MyType`; the
//! `Vec`/`Option`/map impls then apply to them too (into an `optional` field, a plain own
//! value needs `impl IntoProto<Option<P>>` too, or a `with:` function).
//!
//! Three helpers serve what `IntoProto` cannot say without overlapping impls: [`checked_optional`]
//! (`checked: true` into an `optional` field, from a plain number or an `Option` of one),
//! [`present`] (an `optional` enum matched from a domain enum or an `Option` of one, the type
//! being known), and [`messages`]/[`message_map`] with [`present`] (a `with:` function that
//! returns the prost message itself, or an `Option`, `Vec` or map of it: passed through). Nested messages are usually mapped field by
//! field in the table (`fields:`), which needs no impl.

mod checked;
mod collection;
mod containers;
mod helpers;
mod maybe;
mod scalars;
mod time;

/// Converts a domain value into the prost type `P` of a protobuf field.
///
/// Takes `&self` so conversions never consume the domain event (payloads are shared `Arc`s).
///
/// A missing impl is reported, in generated code, as a value of the domain that does not
/// convert into the prost type of its field, with what to write in the table instead.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not convert into `{P}`, the prost type of this proto field",
    label = "no lossless conversion from `{Self}` into `{P}`",
    note = "if this is an integer narrowing (such as `i64` or `usize` into `int32`), write `checked: true` on this field in the mapping table: it is then range-checked at run time (`checked` is for integers only: not for `f64` into `float`, nor for an `Option` into a field that is always present, nor for the keys or values of a map)",
    note = "otherwise convert the value with a `with:` function in the table, or implement `eventmap::convert::IntoProto<{P}>` for `{Self}`"
)]
pub trait IntoProto<P> {
    /// Converts `self`.
    ///
    /// # Errors
    ///
    /// [`ConversionError`] when the value cannot be represented in `P` (out-of-range integer,
    /// time outside the protobuf Timestamp range, ...).
    // The name is part of the generated-code contract; `&self` so nothing is consumed.
    #[allow(clippy::wrong_self_convention)]
    fn into_proto(&self) -> Result<P, ConversionError>;
}

/// A field value could not be converted to its protobuf representation.
///
/// Carries the dotted path of the field inside the message (`items.3.quantity`, built
/// inside-out with [`ConversionError::at`]; empty when unknown) and a human readable message.
///
/// Displays as ``field `items.3.quantity`: <message>``, or just `<message>` without a path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(.field, .message))]
pub struct ConversionError {
    field: String,
    message: String,
}

fn render(field: &str, message: &str) -> String {
    if field.is_empty() {
        message.to_owned()
    } else {
        format!("field `{field}`: {message}")
    }
}

impl ConversionError {
    /// An error with `message` and no field path yet.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            field: String::new(),
            message: message.into(),
        }
    }

    /// Prefixes the field path with `field` (`"quantity"` then `.at("3")` then `.at("items")`
    /// gives `"items.3.quantity"`). An empty `field` leaves the path unchanged.
    pub fn at(mut self, field: &str) -> Self {
        if field.is_empty() {
            return self;
        }
        self.field = if self.field.is_empty() {
            field.to_owned()
        } else {
            format!("{field}.{}", self.field)
        };
        self
    }

    /// Dotted path of the field that failed; empty when unknown.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// What went wrong, without the field path.
    pub fn message(&self) -> &str {
        &self.message
    }
}

pub use checked::{CheckedInto, checked, checked_optional};
pub use collection::{Collection, Whole};
pub use helpers::{
    Present, field, map_each, map_one, map_present, map_required, map_values, message_map,
    messages, present, required,
};
pub use maybe::{Maybe, Plain, map_maybe, map_maybe_required};
pub(crate) use time::timestamp_from;

#[doc(inline)]
pub use crate::__enum_number as enum_number;

#[cfg(test)]
mod tests;
