//! A domain collection that may be absent (`Option<Vec<T>>`, `Option<HashMap<K, V>>`), told
//! apart from one that is always there without naming its type: how generated code builds a
//! `repeated` or `map` message field element by element (`fields:` or `mapping:` in the
//! table) from a domain `Option` of a collection, `None` giving an empty field.
//!
//! The table does not name the domain type, so the choice is made by method resolution, as
//! for [`Maybe`](super::Maybe): `Collection<Option<C>>` has an inherent
//! [`items`](Collection::items) when `&C` iterates, and every other `Collection<C>` reaches
//! [`Whole::items`] through `Deref`. An `Option<T>` whose `T` does not iterate (a plain
//! struct) is itself a collection of 0 or 1 element (`&Option<T>` iterates).

use std::ops::Deref;

/// A reference to a domain value that a `repeated` or `map` field is built from: a
/// collection, or an `Option` of one. `Collection::new(&value).items()` iterates the
/// elements (none for `None`).
#[derive(Debug)]
pub struct Collection<'a, C: ?Sized>(Whole<'a, C>);

/// A reference to a domain collection taken as always there (what [`Collection`] of a type
/// that is not an `Option` of a collection dereferences to).
#[derive(Debug)]
pub struct Whole<'a, C: ?Sized>(&'a C);

impl<'a, C: ?Sized> Collection<'a, C> {
    /// Wraps `value`.
    pub fn new(value: &'a C) -> Self {
        Self(Whole(value))
    }
}

impl<'a, C> Collection<'a, Option<C>>
where
    &'a C: IntoIterator,
{
    /// The elements of the collection inside the `Option`, none for `None` (an absent list
    /// is an empty `repeated` field: protobuf has no other way to say it).
    pub fn items(&self) -> std::iter::Flatten<std::option::IntoIter<&'a C>> {
        self.0.0.as_ref().into_iter().flatten()
    }
}

impl<'a, C: ?Sized> Deref for Collection<'a, C> {
    type Target = Whole<'a, C>;
    fn deref(&self) -> &Whole<'a, C> {
        &self.0
    }
}

impl<'a, C: ?Sized> Whole<'a, C> {
    /// The collection itself (a `Vec`, slice, array, set, map, or an `Option` of a value that
    /// is not itself a collection: 0 or 1 element).
    pub fn items(&self) -> &'a C {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::Collection;

    #[derive(Debug, PartialEq)]
    struct Line {
        sku: &'static str,
    }

    fn skus<'a>(items: impl IntoIterator<Item = &'a Line>) -> Vec<&'static str> {
        items.into_iter().map(|line| line.sku).collect()
    }

    #[test]
    fn an_option_of_a_collection_is_its_elements_or_none() {
        let plain = vec![Line { sku: "a" }, Line { sku: "b" }];
        let some = Some(vec![Line { sku: "c" }]);
        let none: Option<Vec<Line>> = None;
        let boxed: Option<Box<[Line]>> = Some(vec![Line { sku: "d" }].into_boxed_slice());
        let array = [Line { sku: "e" }];
        let slice: &[Line] = &array;
        assert_eq!(skus(Collection::new(&plain).items()), ["a", "b"]);
        assert_eq!(skus(Collection::new(&some).items()), ["c"]);
        assert!(skus(Collection::new(&none).items()).is_empty());
        assert_eq!(skus(Collection::new(&boxed).items()), ["d"]);
        assert_eq!(skus(Collection::new(&array).items()), ["e"]);
        assert_eq!(skus(Collection::new(slice).items()), ["e"]);
    }

    #[test]
    fn an_option_of_a_plain_value_is_zero_or_one_element() {
        let one = Some(Line { sku: "f" });
        let none: Option<Line> = None;
        assert_eq!(skus(Collection::new(&one).items()), ["f"]);
        assert!(skus(Collection::new(&none).items()).is_empty());
    }

    #[test]
    fn an_option_of_a_map_is_its_entries_or_none() {
        let some = Some(BTreeMap::from([("k", 1u32), ("l", 2)]));
        let none: Option<BTreeMap<&str, u32>> = None;
        let entries: Vec<(&&str, &u32)> = Collection::new(&some).items().collect();
        assert_eq!(entries, [(&"k", &1), (&"l", &2)]);
        assert_eq!(Collection::new(&none).items().count(), 0);
    }
}
