//! [`IntoProto`] impls of containers and indirections (`Vec`, slices, arrays, `Option`,
//! references, `Box`, `Arc`, `Cow`, `Result`) and of maps, element-wise.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::{ConversionError, IntoProto};

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

/// An absent domain collection (`Option<Vec<T>>`, `None`) is an empty `repeated` field: the
/// wire has no other way to say it.
impl<C: IntoProto<Vec<P>>, P> IntoProto<Vec<P>> for Option<C> {
    fn into_proto(&self) -> Result<Vec<P>, ConversionError> {
        match self {
            Some(items) => items.into_proto(),
            None => Ok(Vec::new()),
        }
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

/// An absent domain map (`Option<HashMap<K, V>>`, `None`) is an empty `map` field.
impl<M: IntoProto<HashMap<PK, PV>>, PK, PV> IntoProto<HashMap<PK, PV>> for Option<M> {
    fn into_proto(&self) -> Result<HashMap<PK, PV>, ConversionError> {
        match self {
            Some(entries) => entries.into_proto(),
            None => Ok(HashMap::new()),
        }
    }
}

/// An absent domain map is an empty `map` field (prost's `BTreeMap` representation).
impl<M: IntoProto<BTreeMap<PK, PV>>, PK, PV> IntoProto<BTreeMap<PK, PV>> for Option<M> {
    fn into_proto(&self) -> Result<BTreeMap<PK, PV>, ConversionError> {
        match self {
            Some(entries) => entries.into_proto(),
            None => Ok(BTreeMap::new()),
        }
    }
}
