//! A domain value that is either a plain `T` or an `Option<T>`, told apart without naming `T`:
//! how generated code builds an optional message field field by field (`fields:` in the table)
//! from a domain `Option<Struct>` as well as from a `Struct`.
//!
//! The table does not name the domain type of a nested value, so the `Present<T>` trait (which
//! needs `T`) cannot choose. Method resolution can: [`MaybeOption::present`] takes
//! `Maybe<Option<T>>` by value and [`MaybePlain::present`] takes `&Maybe<T>`, so for a value
//! whose type is an `Option` the first applies (no auto-reference needed) and for any other
//! type the second. The type is concrete in generated code (a payload field), so the choice is
//! made at compile time; a generic `T` is taken as plain.

use super::ConversionError;

/// A reference to a domain value, wrapped for [`MaybeOption`] and [`MaybePlain`]. Generated
/// code writes `{ use ::eventmap::convert::{MaybeOption as _, MaybePlain as _};
/// ::eventmap::convert::Maybe(&payload.x).present() }`, which gives an `Option<&T>`.
#[derive(Debug)]
pub struct Maybe<'a, T: ?Sized>(pub &'a T);

/// [`Maybe`] of an `Option<T>`: the `T` when it is `Some`.
pub trait MaybeOption<'a> {
    /// The value's type inside the `Option`.
    type Item: ?Sized;
    /// `Some(&T)` for `Some(T)`, `None` for `None`.
    fn present(self) -> Option<&'a Self::Item>;
}

impl<'a, T> MaybeOption<'a> for Maybe<'a, Option<T>> {
    type Item = T;
    fn present(self) -> Option<&'a T> {
        self.0.as_ref()
    }
}

/// [`Maybe`] of any other value (through `&Maybe`, so that [`MaybeOption`] is chosen first
/// for an `Option`): always present.
pub trait MaybePlain<'a> {
    /// The value's type.
    type Item: ?Sized;
    /// `Some(&T)`.
    fn present(self) -> Option<&'a Self::Item>;
}

impl<'a, T: ?Sized> MaybePlain<'a> for &Maybe<'a, T> {
    type Item = T;
    fn present(self) -> Option<&'a T> {
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

#[cfg(test)]
mod tests {
    use super::{Maybe, MaybeOption as _, MaybePlain as _, map_maybe};
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
        assert_eq!(Maybe(&plain).present(), Some(&Parcel { grams: 850 }));
        assert_eq!(Maybe(&some).present(), Some(&Parcel { grams: 900 }));
        assert_eq!(Maybe(&none).present(), None);
        // An `Option` of an `Option`: the outer one decides.
        let nested: Option<Option<Parcel>> = Some(None);
        assert_eq!(Maybe(&nested).present(), Some(&None));
    }

    #[test]
    fn map_maybe_builds_when_present_and_locates_errors() {
        let some = Some(Parcel { grams: 900 });
        let none: Option<Parcel> = None;
        assert_eq!(
            map_maybe(Maybe(&some).present(), "parcel", grams),
            Ok(Some(900))
        );
        assert_eq!(map_maybe(Maybe(&none).present(), "parcel", grams), Ok(None));
        let err = map_maybe(Maybe(&Parcel { grams: 0 }).present(), "parcel", grams)
            .expect_err("no weight");
        assert_eq!(err.field(), "parcel.grams");
    }
}
