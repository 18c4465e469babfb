//! `checked: true` in the table: range-checked narrowings ([`checked`], [`checked_optional`]).

use super::ConversionError;

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
