//! Field conversions from domain values to protobuf (prost) field types.
//!
//! Generated code converts every mapped field with [`field`] (an [`IntoProto`] conversion that
//! names the field in its error), [`checked`] (`checked: true` in the table: a range-checked
//! narrowing), [`map_each`] and [`map_one`] (nested messages built field by field, for each
//! element or once); the target type is the prost field type, so inference picks the impl.
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

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use prost_types::Timestamp;
use uuid::Uuid;

/// Converts a domain value into the prost type `P` of a protobuf field.
///
/// Takes `&self` so conversions never consume the domain event (payloads are shared `Arc`s).
///
/// A missing impl is reported, in generated code, as a value of the domain that does not
/// convert into the prost type of its field, with what to write in the table instead.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not convert into `{P}`, the prost type of this proto field",
    label = "no lossless conversion from `{Self}` into `{P}`",
    note = "a narrowing (such as `i64` or `usize` into `int32`) needs `checked: true` on this field in the mapping table: it is then range-checked at run time",
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

// ---------------------------------------------------------------------------------------------
// Helpers called by generated code

/// Converts `value` into the type of the proto field `field`; on error the field name is
/// prefixed to the error path ([`ConversionError::at`]).
///
/// Generated code converts every mapped field with
/// `::eventmap::convert::field(&value, "proto_field")?`; the target type `P` is inferred from
/// the prost struct field.
///
/// # Errors
///
/// The [`ConversionError`] of `value.into_proto()`, located at `field`.
pub fn field<T: ?Sized + IntoProto<P>, P>(value: &T, field: &str) -> Result<P, ConversionError> {
    value.into_proto().map_err(|err| err.at(field))
}

/// Builds one nested message per element of a domain collection (a `repeated` message field
/// of the proto): `convert` runs on each element in iteration order.
///
/// `items` is anything whose reference iterates (`Vec`, slices, arrays, `VecDeque`,
/// `BTreeSet`, ...). Errors are located at `"<field>.<index>.<inner path>"`, e.g.
/// `items.3.quantity`.
///
/// # Errors
///
/// The first element's [`ConversionError`].
pub fn map_each<'a, C, T, M, F>(
    items: &'a C,
    field: &str,
    mut convert: F,
) -> Result<Vec<M>, ConversionError>
where
    C: ?Sized,
    &'a C: IntoIterator<Item = &'a T>,
    T: 'a + ?Sized,
    F: FnMut(&'a T) -> Result<M, ConversionError>,
{
    let items = items.into_iter();
    // Allocated once for collections that know their length (`collect` into a `Result`
    // cannot use it).
    let mut converted = Vec::with_capacity(items.size_hint().0);
    for (index, item) in items.enumerate() {
        converted.push(convert(item).map_err(|err| err.at(&index.to_string()).at(field))?);
    }
    Ok(converted)
}

/// Builds one nested message from a domain value (a singular message field of the proto; the
/// caller wraps the result in `Some`).
///
/// # Errors
///
/// The [`ConversionError`] of `convert`, located at `field`.
pub fn map_one<'a, T, M, F>(value: &'a T, field: &str, convert: F) -> Result<M, ConversionError>
where
    T: ?Sized,
    F: FnOnce(&'a T) -> Result<M, ConversionError>,
{
    convert(value).map_err(|err| err.at(field))
}

/// Builds one nested message from a domain value that may be absent: `T`, `Box<T>`,
/// `Option<T>` or `Option<Box<T>>` ([`Present`]); what generated code writes for an optional
/// message field (`Option<M>` in prost) filled by a named mapping (`mapping:` in the table),
/// including a recursive one. An absent value gives `None`.
///
/// # Errors
///
/// The [`ConversionError`] of `convert`, located at `field`.
pub fn map_present<'a, T, V, M>(
    value: &'a V,
    field: &str,
    convert: impl FnOnce(&'a T) -> Result<M, ConversionError>,
) -> Result<Option<M>, ConversionError>
where
    V: ?Sized + Present<T>,
    T: 'a,
{
    value
        .present()
        .map(convert)
        .transpose()
        .map_err(|err| err.at(field))
}

/// Builds one nested message from a domain value that must be present (a proto2 `required`
/// message field, a oneof member): like [`map_present`], and an absent value is an error.
///
/// # Errors
///
/// A [`ConversionError`] at `field` when the value is `None`, or the error of `convert`.
pub fn map_required<'a, T, V, M>(
    value: &'a V,
    field: &str,
    convert: impl FnOnce(&'a T) -> Result<M, ConversionError>,
) -> Result<M, ConversionError>
where
    V: ?Sized + Present<T>,
    T: 'a,
{
    match value.present() {
        Some(value) => convert(value).map_err(|err| err.at(field)),
        None => Err(ConversionError::new(
            "the domain value is absent (`None`), and the proto field needs a message",
        )
        .at(field)),
    }
}

/// Builds a protobuf `map` whose values are messages, one message per value of a domain map
/// (`HashMap<K, V>`, `BTreeMap<K, V>`, `IndexMap`, or anything whose reference iterates over
/// `(&K, &V)`): keys convert through [`IntoProto`], each value through `convert`. Errors are
/// located at `"<field>.<key>.<inner path>"`, with the key in its `Debug` form.
///
/// # Errors
///
/// The first key's or value's [`ConversionError`].
pub fn map_values<'a, C, K, V, PK, M, Out>(
    entries: &'a C,
    field: &str,
    mut convert: impl FnMut(&'a V) -> Result<M, ConversionError>,
) -> Result<Out, ConversionError>
where
    C: ?Sized,
    &'a C: IntoIterator<Item = (&'a K, &'a V)>,
    K: IntoProto<PK> + std::fmt::Debug + 'a,
    V: 'a,
    Out: FromIterator<(PK, M)>,
{
    entries
        .into_iter()
        .map(|(key, value)| {
            let at = |err: ConversionError| err.at(&format!("{key:?}")).at(field);
            Ok((key.into_proto().map_err(at)?, convert(value).map_err(at)?))
        })
        .collect()
}

/// The proto enum number of a domain enum value, variant by variant as the table's `values:`
/// says: `enum_number!(&payload.carrier, Carrier::Ups { .. } => 1i32, Carrier::Dhl { .. } => 2i32,)`
/// (each arm followed by a comma). What generated code writes for
/// `{ from: .., enum: .., values: {..} }`.
///
/// It is a `match` without a wildcard arm, so a variant missing from `values:` does not compile
/// (E0004, reported on the value, whose line in generated code names the table's row). A
/// guarded arm written here follows the table's arms: it does not count for exhaustiveness,
/// and it keeps rustc from suggesting an arm to add to generated code (the fix is in the
/// table).
///
/// ```
/// enum Carrier { Ups, Dhl }
/// let number = eventmap::convert::enum_number!(
///     &Carrier::Dhl,
///     Carrier::Ups { .. } => 1i32,
///     Carrier::Dhl { .. } => 2i32,
/// );
/// assert_eq!(number, 2);
/// ```
#[doc(hidden)]
#[macro_export]
macro_rules! __enum_number {
    ($value:expr, $($arms:tt)*) => {
        match $value {
            $($arms)*
            #[allow(unreachable_patterns)]
            _ if false => ::core::unreachable!(),
        }
    };
}

#[doc(inline)]
pub use crate::__enum_number as enum_number;

// ---------------------------------------------------------------------------------------------
// Identity

macro_rules! identity {
    ($($t:ty),* $(,)?) => {$(
        impl IntoProto<$t> for $t {
            fn into_proto(&self) -> Result<$t, ConversionError> {
                Ok(self.clone())
            }
        }
    )*};
}

identity!(
    (),
    bool,
    f32,
    f64,
    String,
    i32,
    i64,
    u32,
    u64,
    u8,
    Bytes,
    Timestamp,
    prost_types::Duration
);

// ---------------------------------------------------------------------------------------------
// Integers: only the lossless widenings. A narrowing (`u32` into `int32`, `usize` into
// anything) does not compile through `IntoProto`: the table must ask for it with
// `checked: true`, which converts through [`checked`] and fails at run time, naming the field,
// when the value does not fit.

macro_rules! integers_into {
    ($target:ty: $($source:ty),* $(,)?) => {$(
        impl IntoProto<$target> for $source {
            fn into_proto(&self) -> Result<$target, ConversionError> {
                Ok(<$target>::from(*self))
            }
        }
    )*};
}

integers_into!(i32: i8, i16, u8, u16);
integers_into!(i64: i8, i16, i32, u8, u16, u32);
integers_into!(u32: u8, u16);
integers_into!(u64: u8, u16, u32);

/// Converts `value` into the prost type `P` with a range check (`TryFrom`): what the table's
/// `checked: true` generates, for narrowings such as `u32` into `int32` or `usize` into
/// `uint64`, which `IntoProto` deliberately does not offer.
///
/// # Errors
/// A [`ConversionError`] at `field`, naming the value and the target type, when the value does
/// not fit.
pub fn checked<T, P>(value: &T, field: &str) -> Result<P, ConversionError>
where
    T: Clone + std::fmt::Display,
    P: TryFrom<T>,
{
    P::try_from(value.clone()).map_err(|_| {
        ConversionError::new(format!(
            "value {value} does not fit in {}",
            std::any::type_name::<P>()
        ))
        .at(field)
    })
}

/// A domain number that `checked: true` narrows into the prost type `P` of an `optional`
/// field (`Option<i32>`, ...): every primitive integer, and an `Option` of one (`None` stays
/// absent).
pub trait CheckedInto<P> {
    /// Converts `self` with a range check.
    ///
    /// # Errors
    /// [`ConversionError`] naming the value and the target type when it does not fit.
    fn checked_into(&self) -> Result<P, ConversionError>;
}

macro_rules! checked_into {
    ($source:ty: $($target:ty),*) => {$(
        impl CheckedInto<$target> for $source {
            fn checked_into(&self) -> Result<$target, ConversionError> {
                <$target>::try_from(*self).map_err(|_| {
                    ConversionError::new(format!(
                        "value {self} does not fit in {}",
                        std::any::type_name::<$target>()
                    ))
                })
            }
        }

        impl CheckedInto<Option<$target>> for $source {
            fn checked_into(&self) -> Result<Option<$target>, ConversionError> {
                CheckedInto::<$target>::checked_into(self).map(Some)
            }
        }
    )*};
}

macro_rules! checked_into_all {
    ($($source:ty),*) => {$( checked_into!($source: i32, i64, u32, u64); )*};
}

checked_into_all!(
    i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize
);

impl<T: CheckedInto<P>, P> CheckedInto<Option<P>> for Option<T> {
    fn checked_into(&self) -> Result<Option<P>, ConversionError> {
        self.as_ref().map(CheckedInto::checked_into).transpose()
    }
}

/// Converts `value` into the `Option<_>` of an `optional` field with a range check: what
/// `checked: true` generates for such a field. A plain number becomes `Some`, an `Option`
/// stays absent when `None`.
///
/// # Errors
/// A [`ConversionError`] at `field` when the value does not fit.
pub fn checked_optional<T: ?Sized + CheckedInto<P>, P>(
    value: &T,
    field: &str,
) -> Result<P, ConversionError> {
    value.checked_into().map_err(|err| err.at(field))
}

/// A domain value that may be absent: `T` itself (always present), `Box<T>`, `Option<T>` or
/// `Option<Box<T>>`. Generated
/// code names `T` (a domain enum, a prost message), so the choice is never ambiguous.
pub trait Present<T> {
    /// The value, when present.
    fn present(&self) -> Option<&T>;
}

impl<T> Present<T> for T {
    fn present(&self) -> Option<&T> {
        Some(self)
    }
}

impl<T> Present<T> for Option<T> {
    fn present(&self) -> Option<&T> {
        self.as_ref()
    }
}

impl<T> Present<T> for Box<T> {
    fn present(&self) -> Option<&T> {
        Some(self)
    }
}

impl<T> Present<T> for Option<Box<T>> {
    fn present(&self) -> Option<&T> {
        self.as_deref()
    }
}

/// `value` as an `Option<&T>`, whether the domain holds a `T` or an `Option<T>`: how generated
/// code fills an `optional` enum field (`present::<Status, _>(&payload.status).map(..)`) and
/// a message field from a `with:` function that returns the prost message or an `Option` of it.
pub fn present<T, V: ?Sized + Present<T>>(value: &V) -> Option<&T> {
    value.present()
}

/// The prost messages of a domain collection, cloned: a `with:` function that returns the
/// prost messages of a `repeated` message field itself (`Vec<M>`, a slice, an array).
pub fn messages<'a, C, M>(items: &'a C) -> Vec<M>
where
    C: ?Sized,
    &'a C: IntoIterator<Item = &'a M>,
    M: Clone + 'a,
{
    items.into_iter().cloned().collect()
}

/// A protobuf `map` whose values are prost messages, from a `with:` function that returns them
/// itself (`HashMap<K, M>`, `BTreeMap<K, M>`): keys convert through [`IntoProto`], messages are
/// cloned.
///
/// # Errors
/// A [`ConversionError`] at `field` when a key does not convert.
pub fn message_map<'a, C, K, M, PK, Out>(
    entries: &'a C,
    field: &str,
) -> Result<Out, ConversionError>
where
    C: ?Sized,
    &'a C: IntoIterator<Item = (&'a K, &'a M)>,
    K: IntoProto<PK> + std::fmt::Debug + 'a,
    M: Clone + 'a,
    Out: FromIterator<(PK, M)>,
{
    entries
        .into_iter()
        .map(|(key, value)| {
            let k = key
                .into_proto()
                .map_err(|e| e.at(&format!("{key:?}")).at(field))?;
            Ok((k, value.clone()))
        })
        .collect()
}

impl IntoProto<f64> for f32 {
    fn into_proto(&self) -> Result<f64, ConversionError> {
        Ok(f64::from(*self))
    }
}

// ---------------------------------------------------------------------------------------------
// Strings, ids, bytes

impl IntoProto<String> for str {
    fn into_proto(&self) -> Result<String, ConversionError> {
        Ok(self.to_owned())
    }
}

impl IntoProto<String> for char {
    fn into_proto(&self) -> Result<String, ConversionError> {
        Ok(self.to_string())
    }
}

impl IntoProto<String> for Uuid {
    fn into_proto(&self) -> Result<String, ConversionError> {
        Ok(self.hyphenated().to_string())
    }
}

impl IntoProto<Vec<u8>> for Uuid {
    fn into_proto(&self) -> Result<Vec<u8>, ConversionError> {
        Ok(self.as_bytes().to_vec())
    }
}

impl IntoProto<Bytes> for Uuid {
    fn into_proto(&self) -> Result<Bytes, ConversionError> {
        Ok(Bytes::copy_from_slice(self.as_bytes()))
    }
}

impl IntoProto<Bytes> for Vec<u8> {
    fn into_proto(&self) -> Result<Bytes, ConversionError> {
        Ok(Bytes::copy_from_slice(self))
    }
}

impl IntoProto<Bytes> for [u8] {
    fn into_proto(&self) -> Result<Bytes, ConversionError> {
        Ok(Bytes::copy_from_slice(self))
    }
}

impl IntoProto<Vec<u8>> for Bytes {
    fn into_proto(&self) -> Result<Vec<u8>, ConversionError> {
        Ok(self.to_vec())
    }
}

// ---------------------------------------------------------------------------------------------
// Time

/// Seconds of 0001-01-01T00:00:00Z, the lower bound of `google.protobuf.Timestamp`.
const TIMESTAMP_MIN_SECONDS: i64 = -62_135_596_800;
/// Seconds of 9999-12-31T23:59:59Z, the upper bound of `google.protobuf.Timestamp`.
const TIMESTAMP_MAX_SECONDS: i64 = 253_402_300_799;
/// Bound of `google.protobuf.Duration` seconds (about 10,000 years).
const DURATION_MAX_SECONDS: u64 = 315_576_000_000;

/// Converts a `SystemTime` into a normalized protobuf `Timestamp` (nanos in `0..1e9`, also
/// before the epoch) without panicking; `None` outside the protobuf range.
pub(crate) fn timestamp_from(time: SystemTime) -> Option<Timestamp> {
    let (seconds, nanos) = match time.duration_since(UNIX_EPOCH) {
        Ok(after) => (
            i64::try_from(after.as_secs()).ok()?,
            i32::try_from(after.subsec_nanos()).ok()?,
        ),
        Err(before) => {
            let before = before.duration();
            let seconds = i64::try_from(before.as_secs()).ok()?;
            let nanos = i32::try_from(before.subsec_nanos()).ok()?;
            if nanos == 0 {
                (seconds.checked_neg()?, 0)
            } else {
                (
                    seconds.checked_neg()?.checked_sub(1)?,
                    1_000_000_000 - nanos,
                )
            }
        }
    };
    (TIMESTAMP_MIN_SECONDS..=TIMESTAMP_MAX_SECONDS)
        .contains(&seconds)
        .then_some(Timestamp { seconds, nanos })
}

impl IntoProto<Timestamp> for SystemTime {
    fn into_proto(&self) -> Result<Timestamp, ConversionError> {
        timestamp_from(*self).ok_or_else(|| {
            ConversionError::new(format!(
                "time {self:?} is outside the range of google.protobuf.Timestamp \
                 (0001-01-01T00:00:00Z ..= 9999-12-31T23:59:59.999999999Z)"
            ))
        })
    }
}

impl IntoProto<Option<Timestamp>> for SystemTime {
    fn into_proto(&self) -> Result<Option<Timestamp>, ConversionError> {
        IntoProto::<Timestamp>::into_proto(self).map(Some)
    }
}

impl IntoProto<prost_types::Duration> for Duration {
    fn into_proto(&self) -> Result<prost_types::Duration, ConversionError> {
        let seconds = self.as_secs();
        if seconds > DURATION_MAX_SECONDS {
            return Err(ConversionError::new(format!(
                "duration {self:?} exceeds the range of google.protobuf.Duration \
                 ({DURATION_MAX_SECONDS} s)"
            )));
        }
        // Both casts are in range: seconds <= 315_576_000_000 and nanos < 1e9.
        Ok(prost_types::Duration {
            seconds: seconds as i64,
            nanos: self.subsec_nanos() as i32,
        })
    }
}

impl IntoProto<Option<prost_types::Duration>> for Duration {
    fn into_proto(&self) -> Result<Option<prost_types::Duration>, ConversionError> {
        IntoProto::<prost_types::Duration>::into_proto(self).map(Some)
    }
}

// ---------------------------------------------------------------------------------------------
// Plain values into `optional` fields and wrappers (prost `Option<T>`): `Some(..)`. Concrete
// impls, because a blanket `impl<T: IntoProto<P>> IntoProto<Option<P>> for T` would overlap
// the `Option<T>` one below.

macro_rules! optional {
    ($($source:ty => $($target:ty),+;)*) => {$($(
        impl IntoProto<Option<$target>> for $source {
            fn into_proto(&self) -> Result<Option<$target>, ConversionError> {
                IntoProto::<$target>::into_proto(self).map(Some)
            }
        }
    )+)*};
}

optional!(
    () => ();
    bool => bool;
    f32 => f32, f64;
    f64 => f64;
    i8 => i32, i64;
    i16 => i32, i64;
    i32 => i32, i64;
    i64 => i64;
    u8 => i32, i64, u32, u64, u8;
    u16 => i32, i64, u32, u64;
    u32 => i64, u32, u64;
    u64 => u64;
    String => String;
    str => String;
    char => String;
    Uuid => String, Vec<u8>, Bytes;
    Vec<u8> => Vec<u8>, Bytes;
    [u8] => Vec<u8>, Bytes;
    Bytes => Bytes, Vec<u8>;
);

// ---------------------------------------------------------------------------------------------
// Containers and indirection

fn convert_items<T: IntoProto<P>, P>(items: &[T]) -> Result<Vec<P>, ConversionError> {
    // Allocated once at the final size (`collect` into a `Result` cannot know it).
    let mut converted = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        converted.push(
            item.into_proto()
                .map_err(|err| err.at(&index.to_string()))?,
        );
    }
    Ok(converted)
}

impl<T: IntoProto<P>, P> IntoProto<Vec<P>> for [T] {
    fn into_proto(&self) -> Result<Vec<P>, ConversionError> {
        convert_items(self)
    }
}

impl<T: IntoProto<P>, P> IntoProto<Vec<P>> for Vec<T> {
    fn into_proto(&self) -> Result<Vec<P>, ConversionError> {
        convert_items(self)
    }
}

impl<T: IntoProto<P>, P, const N: usize> IntoProto<Vec<P>> for [T; N] {
    fn into_proto(&self) -> Result<Vec<P>, ConversionError> {
        convert_items(self)
    }
}

impl<T: IntoProto<P>, P> IntoProto<Option<P>> for Option<T> {
    fn into_proto(&self) -> Result<Option<P>, ConversionError> {
        self.as_ref().map(IntoProto::into_proto).transpose()
    }
}

impl<T: ?Sized + IntoProto<P>, P> IntoProto<P> for &T {
    fn into_proto(&self) -> Result<P, ConversionError> {
        (**self).into_proto()
    }
}

impl<T: ?Sized + IntoProto<P>, P> IntoProto<P> for Box<T> {
    fn into_proto(&self) -> Result<P, ConversionError> {
        (**self).into_proto()
    }
}

impl<T: ?Sized + IntoProto<P>, P> IntoProto<P> for Arc<T> {
    fn into_proto(&self) -> Result<P, ConversionError> {
        (**self).into_proto()
    }
}

impl<T: ?Sized + ToOwned + IntoProto<P>, P> IntoProto<P> for Cow<'_, T> {
    fn into_proto(&self) -> Result<P, ConversionError> {
        (**self).into_proto()
    }
}

impl<T: IntoProto<P>, P, E: std::fmt::Display> IntoProto<P> for Result<T, E> {
    fn into_proto(&self) -> Result<P, ConversionError> {
        match self {
            Ok(value) => value.into_proto(),
            Err(err) => Err(ConversionError::new(err.to_string())),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Maps (protobuf `map<K, V>`; prost uses `HashMap` unless configured for `BTreeMap`)

fn convert_entries<'a, K, V, PK, PV, M>(
    entries: impl Iterator<Item = (&'a K, &'a V)>,
) -> Result<M, ConversionError>
where
    K: IntoProto<PK> + std::fmt::Debug + 'a,
    V: IntoProto<PV> + 'a,
    M: FromIterator<(PK, PV)>,
{
    entries
        .map(|(key, value)| {
            let k = key.into_proto().map_err(|e| e.at(&format!("{key:?}")))?;
            let v = value.into_proto().map_err(|e| e.at(&format!("{key:?}")))?;
            Ok((k, v))
        })
        .collect()
}

impl<K, V, PK, PV, S> IntoProto<HashMap<PK, PV>> for HashMap<K, V, S>
where
    K: IntoProto<PK> + std::fmt::Debug,
    V: IntoProto<PV>,
    PK: Eq + std::hash::Hash,
{
    fn into_proto(&self) -> Result<HashMap<PK, PV>, ConversionError> {
        convert_entries(self.iter())
    }
}

impl<K, V, PK, PV> IntoProto<HashMap<PK, PV>> for BTreeMap<K, V>
where
    K: IntoProto<PK> + std::fmt::Debug,
    V: IntoProto<PV>,
    PK: Eq + std::hash::Hash,
{
    fn into_proto(&self) -> Result<HashMap<PK, PV>, ConversionError> {
        convert_entries(self.iter())
    }
}

impl<K, V, PK, PV> IntoProto<BTreeMap<PK, PV>> for BTreeMap<K, V>
where
    K: IntoProto<PK> + std::fmt::Debug,
    V: IntoProto<PV>,
    PK: Ord,
{
    fn into_proto(&self) -> Result<BTreeMap<PK, PV>, ConversionError> {
        convert_entries(self.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv<P, T: IntoProto<P> + ?Sized>(value: &T) -> Result<P, ConversionError> {
        value.into_proto()
    }

    #[test]
    fn identity_values() {
        assert_eq!(conv::<bool, _>(&true), Ok(true));
        assert_eq!(conv::<i32, _>(&-7i32), Ok(-7));
        assert_eq!(conv::<i64, _>(&i64::MIN), Ok(i64::MIN));
        assert_eq!(conv::<u32, _>(&u32::MAX), Ok(u32::MAX));
        assert_eq!(conv::<u64, _>(&42u64), Ok(42));
        assert_eq!(conv::<f32, _>(&1.5f32), Ok(1.5));
        assert_eq!(conv::<f64, _>(&-2.25f64), Ok(-2.25));
        assert_eq!(conv::<String, _>(&"héllo".to_string()), Ok("héllo".into()));
        assert_eq!(conv::<Vec<u8>, _>(&vec![0u8, 255, 7]), Ok(vec![0, 255, 7]));
        let ts = Timestamp {
            seconds: 5,
            nanos: 6,
        };
        assert_eq!(conv::<Timestamp, _>(&ts), Ok(ts));
    }

    #[test]
    fn lossless_widenings() {
        assert_eq!(conv::<i32, _>(&-128i8), Ok(-128));
        assert_eq!(conv::<i32, _>(&i16::MIN), Ok(-32768));
        assert_eq!(conv::<i64, _>(&i32::MIN), Ok(i64::from(i32::MIN)));
        assert_eq!(conv::<u32, _>(&u16::MAX), Ok(65535));
        assert_eq!(conv::<u64, _>(&u32::MAX), Ok(4_294_967_295));
        assert_eq!(conv::<i64, _>(&u32::MAX), Ok(4_294_967_295));
        assert_eq!(conv::<i32, _>(&200u8), Ok(200));
        assert_eq!(conv::<f64, _>(&0.5f32), Ok(0.5));
    }

    #[test]
    fn checked_narrowings() {
        assert_eq!(checked::<_, u64>(&17usize, "n"), Ok(17));
        assert_eq!(checked::<_, i32>(&-5i64, "n"), Ok(-5));
        assert_eq!(checked::<_, i32>(&7u32, "quantity"), Ok(7));
        let err = checked::<_, i32>(&3_000_000_000i64, "quantity").unwrap_err();
        assert_eq!(
            err.to_string(),
            "field `quantity`: value 3000000000 does not fit in i32"
        );
        assert_eq!(err.field(), "quantity");
        let err = checked::<_, u64>(&-1i32, "n").unwrap_err();
        assert_eq!(err.message(), "value -1 does not fit in u64");
    }

    #[test]
    fn results_and_maps() {
        let ok: Result<u16, String> = Ok(7);
        assert_eq!(conv::<i32, _>(&ok), Ok(7));
        let err: Result<u16, String> = Err("no rate for XYZ".into());
        assert_eq!(
            conv::<i32, _>(&err).unwrap_err().message(),
            "no rate for XYZ"
        );

        let mut domain = HashMap::new();
        domain.insert("a".to_owned(), 1u16);
        domain.insert("b".to_owned(), 2u16);
        let proto: HashMap<String, u32> = conv(&domain).unwrap();
        assert_eq!(proto.get("a"), Some(&1));
        assert_eq!(proto.len(), 2);
        let tree: BTreeMap<u32, String> = [(1u32, "x".to_owned())].into_iter().collect();
        let as_hash: HashMap<u32, String> = conv(&tree).unwrap();
        assert_eq!(as_hash.get(&1).map(String::as_str), Some("x"));
        let times: BTreeMap<String, SystemTime> = [(
            "t".to_owned(),
            UNIX_EPOCH - Duration::from_secs(86_400 * 800_000),
        )]
        .into_iter()
        .collect();
        let err = conv::<HashMap<String, Timestamp>, _>(&times).unwrap_err();
        assert_eq!(err.field(), "\"t\"");
    }

    #[test]
    fn strings_and_ids() {
        assert_eq!(conv::<String, _>("abc"), Ok("abc".into()));
        assert_eq!(conv::<String, _>(&"abc"), Ok("abc".into()));
        let boxed: Box<str> = "boxed".into();
        assert_eq!(conv::<String, _>(&boxed), Ok("boxed".into()));
        let shared: Arc<str> = "shared".into();
        assert_eq!(conv::<String, _>(&shared), Ok("shared".into()));
        assert_eq!(conv::<String, _>(&Cow::Borrowed("cow")), Ok("cow".into()));
        assert_eq!(conv::<String, _>(&'€'), Ok("€".into()));

        let id = Uuid::parse_str("67E55044-10B1-426F-9247-BB680E5FE0C8").unwrap();
        assert_eq!(
            conv::<String, _>(&id),
            Ok("67e55044-10b1-426f-9247-bb680e5fe0c8".into())
        );
        let raw: Vec<u8> = conv(&id).unwrap();
        assert_eq!(raw.len(), 16);
        assert_eq!(&raw[..4], &[0x67, 0xe5, 0x50, 0x44]);
        assert_eq!(conv::<Bytes, _>(&id), Ok(Bytes::from(raw.clone())));
        assert_eq!(conv::<Bytes, _>(&raw), Ok(Bytes::from(raw.clone())));
        assert_eq!(
            conv::<Vec<u8>, _>(&Bytes::from_static(b"xy")),
            Ok(b"xy".to_vec())
        );
    }

    #[test]
    fn times_and_durations() {
        let time = UNIX_EPOCH + Duration::new(1_796_014_800, 123_456_789);
        assert_eq!(
            conv::<Timestamp, _>(&time),
            Ok(Timestamp {
                seconds: 1_796_014_800,
                nanos: 123_456_789
            })
        );
        assert_eq!(
            conv::<Option<Timestamp>, _>(&time)
                .unwrap()
                .unwrap()
                .to_string(),
            "2026-11-30T05:00:00.123456789Z"
        );
        // Before the epoch: normalized to a negative second and positive nanos.
        let before = UNIX_EPOCH - Duration::new(1, 250_000_000);
        assert_eq!(
            conv::<Timestamp, _>(&before),
            Ok(Timestamp {
                seconds: -2,
                nanos: 750_000_000
            })
        );
        let too_late = UNIX_EPOCH + Duration::from_secs(253_402_300_800);
        let err = conv::<Timestamp, _>(&too_late).unwrap_err();
        assert!(err.message().contains("google.protobuf.Timestamp"), "{err}");
        let too_early = UNIX_EPOCH - Duration::from_secs(62_135_596_801);
        assert!(conv::<Timestamp, _>(&too_early).is_err());

        assert_eq!(
            conv::<prost_types::Duration, _>(&Duration::from_millis(1_500)),
            Ok(prost_types::Duration {
                seconds: 1,
                nanos: 500_000_000
            })
        );
        assert!(
            conv::<Option<prost_types::Duration>, _>(&Duration::ZERO)
                .unwrap()
                .is_some()
        );
        let err = conv::<prost_types::Duration, _>(&Duration::from_secs(u64::MAX)).unwrap_err();
        assert!(err.message().contains("google.protobuf.Duration"), "{err}");
    }

    #[test]
    fn containers_and_paths() {
        assert_eq!(conv::<Vec<i64>, _>(&vec![1i32, -2, 3]), Ok(vec![1, -2, 3]));
        assert_eq!(conv::<Vec<u64>, _>(&[1u8, 2][..]), Ok(vec![1, 2]));
        assert_eq!(
            conv::<Vec<String>, _>(&["a", "b"]),
            Ok(vec!["a".into(), "b".into()])
        );
        assert_eq!(conv::<Option<u32>, _>(&Some(5u16)), Ok(Some(5)));
        assert_eq!(conv::<Option<u32>, _>(&None::<u16>), Ok(None));
        assert_eq!(conv::<u32, _>(&Box::new(8u8)), Ok(8));
        assert_eq!(conv::<u32, _>(&Arc::new(9u8)), Ok(9));

        let past = UNIX_EPOCH - Duration::from_secs(86_400 * 800_000);
        let err =
            conv::<Vec<Timestamp>, _>(&vec![UNIX_EPOCH, UNIX_EPOCH, UNIX_EPOCH, past]).unwrap_err();
        assert_eq!(err.field(), "3");
        let err = err.at("quantity").at("");
        assert_eq!(err.field(), "quantity.3");

        let nested = vec![vec![UNIX_EPOCH], vec![UNIX_EPOCH, past]];
        let err = conv::<Vec<Vec<Timestamp>>, _>(&nested).unwrap_err();
        let err = err.at("items");
        assert_eq!(err.field(), "items.1.1");
        assert!(err.to_string().starts_with("field `items.1.1`: "), "{err}");
    }

    #[test]
    fn generated_code_helpers() {
        assert_eq!(field::<_, i32>(&7u8, "quantity"), Ok(7));
        let past = UNIX_EPOCH - Duration::from_secs(86_400 * 800_000);
        let err = field::<_, Timestamp>(&past, "created_at").unwrap_err();
        assert_eq!(err.field(), "created_at");

        let items = std::collections::VecDeque::from([1u64, 2, u64::MAX]);
        let ok = map_each(&items, "items", |item| field::<_, u64>(item, "n"));
        assert_eq!(ok, Ok(vec![1, 2, u64::MAX]));
        let err = map_each(&items, "items", |item| checked::<_, u32>(item, "n")).unwrap_err();
        assert_eq!(err.field(), "items.2.n");
        let empty: Vec<u8> = Vec::new();
        assert_eq!(
            map_each(&empty, "items", |b| field::<_, u32>(b, "b")),
            Ok(vec![])
        );

        let err = map_one(&"x", "address", |_| {
            Err::<(), _>(ConversionError::new("bad").at("city"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "field `address.city`: bad");
        assert_eq!(map_one(&5u16, "n", |n| field::<_, i64>(n, "v")), Ok(5));
    }

    #[test]
    fn plain_values_into_optional_fields() {
        assert_eq!(conv::<Option<i64>, _>(&7i64), Ok(Some(7)));
        assert_eq!(conv::<Option<i64>, _>(&7u32), Ok(Some(7)));
        assert_eq!(conv::<Option<i64>, _>(&None::<i64>), Ok(None));
        assert_eq!(
            conv::<Option<String>, _>(&"x".to_owned()),
            Ok(Some("x".into()))
        );
        assert_eq!(conv::<Option<String>, _>(&"y"), Ok(Some("y".into())));
        assert_eq!(conv::<Option<()>, _>(&()), Ok(Some(())));
        let id = Uuid::nil();
        assert_eq!(
            conv::<Option<String>, _>(&id),
            Ok(Some("00000000-0000-0000-0000-000000000000".into()))
        );
    }

    #[test]
    fn checked_into_optional_fields() {
        assert_eq!(checked_optional::<_, Option<i32>>(&7u64, "n"), Ok(Some(7)));
        assert_eq!(
            checked_optional::<_, Option<i32>>(&None::<u64>, "n"),
            Ok(None)
        );
        assert_eq!(
            checked_optional::<_, Option<i64>>(&Some(5usize), "n"),
            Ok(Some(5))
        );
        let err = checked_optional::<_, Option<i32>>(&u64::MAX, "n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "field `n`: value 18446744073709551615 does not fit in i32"
        );
    }

    #[test]
    fn present_values_and_message_identity() {
        #[derive(Debug, Clone, PartialEq)]
        struct M(u8);
        assert_eq!(present::<M, _>(&M(1)), Some(&M(1)));
        assert_eq!(present::<M, _>(&Some(M(2))), Some(&M(2)));
        assert_eq!(present::<M, _>(&None::<M>), None);
        assert_eq!(messages::<_, M>(&vec![M(1), M(2)]), vec![M(1), M(2)]);
        let map: BTreeMap<u16, M> = [(3, M(3))].into_iter().collect();
        let proto: HashMap<u32, M> = message_map(&map, "m").unwrap();
        assert_eq!(proto.get(&3), Some(&M(3)));
    }

    #[test]
    fn error_display_and_path_building() {
        let err = ConversionError::new("bad")
            .at("quantity")
            .at("0")
            .at("items");
        assert_eq!(err.field(), "items.0.quantity");
        assert_eq!(err.message(), "bad");
        assert_eq!(err.to_string(), "field `items.0.quantity`: bad");
        assert_eq!(ConversionError::new("plain").to_string(), "plain");
    }
}
