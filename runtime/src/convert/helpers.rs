//! The functions generated code calls for each mapped field: [`field`], [`map_each`],
//! [`map_one`], [`map_present`], [`map_required`], [`map_values`],
//! [`enum_number!`](crate::convert::enum_number), and [`present`], [`messages`],
//! [`message_map`] for values the table passes through.

use super::{ConversionError, IntoProto};

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

/// Converts `value` into the message `P` of a field that must be present (a proto2
/// `required` `Timestamp`/`Duration`, a oneof member), through `IntoProto<Option<P>>`: so a
/// domain `SystemTime` and an `Option<SystemTime>` both convert, `None` being an error.
///
/// # Errors
///
/// The conversion's [`ConversionError`] at `field`, or one saying the value is absent.
pub fn required<T: ?Sized + IntoProto<Option<P>>, P>(
    value: &T,
    field: &str,
) -> Result<P, ConversionError> {
    value
        .into_proto()
        .map_err(|err| err.at(field))?
        .ok_or_else(|| absent(field))
}

/// Builds one nested message per element of a domain collection (a `repeated` message field
/// of the proto): `convert` runs on each element in iteration order.
///
/// `items` iterates references to the elements: a reference to a `Vec`, slice, array,
/// `VecDeque`, `BTreeSet`, ..., or what [`Collection`](super::Collection) gives for a domain
/// `Option` of one (no element for `None`). Errors are located at
/// `"<field>.<index>.<inner path>"`, e.g. `items.3.quantity`.
///
/// # Errors
///
/// The first element's [`ConversionError`].
pub fn map_each<'a, I, T, M, F>(
    items: I,
    field: &str,
    mut convert: F,
) -> Result<Vec<M>, ConversionError>
where
    I: IntoIterator<Item = &'a T>,
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
        None => Err(absent(field)),
    }
}

/// The error of a domain value that is absent (`None`) where the proto field `field` needs a
/// message (a proto2 `required` message field, a oneof member).
pub(super) fn absent(field: &str) -> ConversionError {
    ConversionError::new("the domain value is absent (`None`), and the proto field needs a message")
        .at(field)
}

/// Builds a protobuf `map` whose values are messages, one message per value of a domain map
/// (a reference to a `HashMap<K, V>`, `BTreeMap<K, V>`, `IndexMap`, anything that iterates over
/// `(&K, &V)`, or what [`Collection`](super::Collection) gives for a domain `Option` of a map,
/// no entry for `None`): keys convert through [`IntoProto`], each value through `convert`. Errors are
/// located at `"<field>.<key>.<inner path>"`, with the key in its `Debug` form.
///
/// # Errors
///
/// The first key's or value's [`ConversionError`].
pub fn map_values<'a, E, K, V, PK, M, Out>(
    entries: E,
    field: &str,
    mut convert: impl FnMut(&'a V) -> Result<M, ConversionError>,
) -> Result<Out, ConversionError>
where
    E: IntoIterator<Item = (&'a K, &'a V)>,
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
