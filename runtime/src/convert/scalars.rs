//! [`IntoProto`] impls of plain values: identity, lossless integer and float widenings,
//! strings, ids and bytes, and each of them into an `optional` field.

use bytes::Bytes;
use prost_types::Timestamp;
use uuid::Uuid;

use super::{ConversionError, IntoProto};

// ---------------------------------------------------------------------------------------------
// Identity

macro_rules! identity {
    ($($t:ty),* $(,)?) => {$(
        impl IntoProto<$t> for $t {
            #[inline]
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
            #[inline]
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

impl IntoProto<f64> for f32 {
    #[inline]
    fn into_proto(&self) -> Result<f64, ConversionError> {
        Ok(f64::from(*self))
    }
}

// ---------------------------------------------------------------------------------------------
// Strings, ids, bytes

impl IntoProto<String> for str {
    #[inline]
    fn into_proto(&self) -> Result<String, ConversionError> {
        Ok(self.to_owned())
    }
}

impl IntoProto<String> for char {
    #[inline]
    fn into_proto(&self) -> Result<String, ConversionError> {
        Ok(self.to_string())
    }
}

impl IntoProto<String> for Uuid {
    #[inline]
    fn into_proto(&self) -> Result<String, ConversionError> {
        Ok(self.hyphenated().to_string())
    }
}

impl IntoProto<Vec<u8>> for Uuid {
    #[inline]
    fn into_proto(&self) -> Result<Vec<u8>, ConversionError> {
        Ok(self.as_bytes().to_vec())
    }
}

impl IntoProto<Bytes> for Uuid {
    #[inline]
    fn into_proto(&self) -> Result<Bytes, ConversionError> {
        Ok(Bytes::copy_from_slice(self.as_bytes()))
    }
}

impl IntoProto<Bytes> for Vec<u8> {
    #[inline]
    fn into_proto(&self) -> Result<Bytes, ConversionError> {
        Ok(Bytes::copy_from_slice(self))
    }
}

impl IntoProto<Bytes> for [u8] {
    #[inline]
    fn into_proto(&self) -> Result<Bytes, ConversionError> {
        Ok(Bytes::copy_from_slice(self))
    }
}

impl IntoProto<Vec<u8>> for Bytes {
    #[inline]
    fn into_proto(&self) -> Result<Vec<u8>, ConversionError> {
        Ok(self.to_vec())
    }
}

// ---------------------------------------------------------------------------------------------
// Plain values into `optional` fields and wrappers (prost `Option<T>`): `Some(..)`. Concrete
// impls, because a blanket `impl<T: IntoProto<P>> IntoProto<Option<P>> for T` would overlap
// the `Option<T>` one below.

macro_rules! optional {
    ($($source:ty => $($target:ty),+;)*) => {$($(
        impl IntoProto<Option<$target>> for $source {
            #[inline]
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
    Timestamp => Timestamp;
    prost_types::Duration => prost_types::Duration;
);
