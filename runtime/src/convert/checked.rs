//! `checked: true` in the table: range-checked narrowings ([`checked`], [`checked_optional`]).

use super::ConversionError;

/// Converts `value` into the prost type `P` with a range check ([`CheckedInto`], which
/// `TryFrom` implements): what the table's `checked: true` generates, for narrowings such as
/// `u32` into `int32` or `usize` into `uint64`, which `IntoProto` deliberately does not offer.
///
/// # Errors
/// A [`ConversionError`] at `field`, naming the value and the target type, when the value does
/// not fit.
pub fn checked<T, P>(value: &T, field: &str) -> Result<P, ConversionError>
where
    T: ?Sized + CheckedInto<P>,
{
    value.checked_into().map_err(|err| err.at(field))
}

/// A domain number that `checked: true` narrows into the prost type `P` of an integer field
/// (`i32`, `i64`, `u32`, `u64`) or of an `optional` one (`Option<i32>`, ...): every primitive
/// integer, and, into an `optional` field, an `Option` of one (`None` stays absent).
///
/// A missing impl is reported, in generated code, as a `checked: true` that cannot apply,
/// with what to write in the table instead.
#[diagnostic::on_unimplemented(
    message = "`checked: true` cannot range-check `{Self}` into `{P}`, the prost type of this proto field",
    label = "`checked: true` on a `{Self}` into `{P}`",
    note = "`checked: true` narrows a primitive integer (`i8`..`i128`, `u8`..`u128`, `isize`, `usize`) into an integer proto field, and an `Option` of one only into an `optional` field (`None` stays absent)",
    note = "for a float, an `Option` into a field that is always present (say what `None` becomes), or an own type, convert the value with a `with:` function in the table instead"
)]
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
