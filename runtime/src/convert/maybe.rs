//! A domain value that is either a plain `T` or an `Option<T>`, told apart without naming `T`:
//! how generated code builds an optional message field field by field (`fields:` in the table)
//! from a domain `Option<Struct>` as well as from a `Struct`.
//!
//! The table does not name the domain type of a nested value, so the `Present<T>` trait (which
//! needs `T`) cannot choose. Method resolution can: `Maybe<Option<T>>` has an inherent
//! [`present`](Maybe::present) and every other `Maybe<T>` reaches [`Plain::present`] through
//! `Deref`; an inherent method of the receiver's own type is found before one behind a
//! dereference. The type is concrete in generated code (a payload field), so the choice is
//! made at compile time; a generic `T` is taken as plain.

use std::ops::Deref;

use super::ConversionError;

/// A reference to a domain value that may be an `Option`: `Maybe::new(&value).present()`
/// gives `Some(&value)` for a plain value and `value.as_ref()` for an `Option<T>`.
#[derive(Debug)]
pub struct Maybe<'a, T: ?Sized>(Plain<'a, T>);

/// A reference to a domain value taken as always present (what [`Maybe`] of a type that is
/// not an `Option` dereferences to).
#[derive(Debug)]
pub struct Plain<'a, T: ?Sized>(&'a T);

impl<'a, T: ?Sized> Maybe<'a, T> {
    /// Wraps `value`.
    pub fn new(value: &'a T) -> Self {
        Self(Plain(value))
    }
}

impl<'a, T> Maybe<'a, Option<T>> {
    /// The value inside the `Option`: `Some(&T)` for `Some(T)`, `None` for `None`.
    pub fn present(&self) -> Option<&'a T> {
        self.0.0.as_ref()
    }
}

impl<'a, T: ?Sized> Deref for Maybe<'a, T> {
    type Target = Plain<'a, T>;
    fn deref(&self) -> &Plain<'a, T> {
        &self.0
    }
}

impl<'a, T: ?Sized> Plain<'a, T> {
    /// `Some(&T)`: a plain value is always present.
    pub fn present(&self) -> Option<&'a T> {
        Some(self.0)
    }
}

/// Builds one nested message from a domain value that [`Maybe`] found present (`Some`), or
/// gives `None` (the field stays absent): what generated code writes for a message field
/// filled field by field.
///
/// # Errors
///
/// The [`ConversionError`] of `convert`, located at `field`.
pub fn map_maybe<'a, T, M, F>(
    value: Option<&'a T>,
    field: &str,
    convert: F,
) -> Result<Option<M>, ConversionError>
where
    T: ?Sized,
    F: FnOnce(&'a T) -> Result<M, ConversionError>,
{
    value.map(convert).transpose().map_err(|err| err.at(field))
}

/// Builds one nested message from a domain value that must be present (a proto2 `required`
/// message field, a oneof member) filled field by field: like [`map_maybe`], and an absent
/// value (`None` of a domain `Option`) is an error, as for a named mapping
/// ([`map_required`](super::map_required)).
///
/// # Errors
///
/// A [`ConversionError`] at `field` when the value is `None`, or the error of `convert`.
pub fn map_maybe_required<'a, T, M, F>(
    value: Option<&'a T>,
    field: &str,
    convert: F,
) -> Result<M, ConversionError>
where
    T: ?Sized,
    F: FnOnce(&'a T) -> Result<M, ConversionError>,
{
    match value {
        Some(value) => convert(value).map_err(|err| err.at(field)),
        None => Err(super::helpers::absent(field)),
    }
}

#[cfg(test)]
mod tests {
    use super::{Maybe, map_maybe, map_maybe_required};
    use crate::convert::ConversionError;

    #[derive(Debug, PartialEq)]
    struct Parcel {
        grams: u32,
    }

    fn grams(parcel: &Parcel) -> Result<u32, ConversionError> {
        if parcel.grams == 0 {
            return Err(ConversionError::new("no weight").at("grams"));
        }
        Ok(parcel.grams)
    }

    #[test]
    fn a_plain_value_is_present_and_an_option_only_when_some() {
        let plain = Parcel { grams: 850 };
        let some = Some(Parcel { grams: 900 });
        let none: Option<Parcel> = None;
        assert_eq!(Maybe::new(&plain).present(), Some(&Parcel { grams: 850 }));
        assert_eq!(Maybe::new(&some).present(), Some(&Parcel { grams: 900 }));
        assert_eq!(Maybe::new(&none).present(), None);
        // An `Option` of an `Option`: the outer one decides.
        let nested: Option<Option<Parcel>> = Some(None);
        assert_eq!(Maybe::new(&nested).present(), Some(&None));
        // A type parameter is taken as plain, even when instantiated with an `Option`.
        fn generic<T>(value: &T) -> Option<&T> {
            Maybe::new(value).present()
        }
        assert_eq!(generic(&none), Some(&None));
        assert_eq!(generic(&plain), Some(&Parcel { grams: 850 }));
    }

    #[test]
    fn map_maybe_builds_when_present_and_locates_errors() {
        let some = Some(Parcel { grams: 900 });
        let none: Option<Parcel> = None;
        assert_eq!(
            map_maybe(Maybe::new(&some).present(), "parcel", grams),
            Ok(Some(900))
        );
        assert_eq!(
            map_maybe(Maybe::new(&none).present(), "parcel", grams),
            Ok(None)
        );
        let err = map_maybe(Maybe::new(&Parcel { grams: 0 }).present(), "parcel", grams)
            .expect_err("no weight");
        assert_eq!(err.field(), "parcel.grams");
        // Where the proto field needs a message: `None` is an error naming the field.
        assert_eq!(
            map_maybe_required(Maybe::new(&some).present(), "parcel", grams),
            Ok(900)
        );
        let err =
            map_maybe_required(Maybe::new(&none).present(), "parcel", grams).expect_err("absent");
        assert_eq!(err.field(), "parcel");
        assert!(err.message().contains("absent"), "{err}");
    }
}
