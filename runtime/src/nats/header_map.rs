//! Reading the headers of a received message in place: the async-nats [`HeaderMap`] the
//! client parsed, without copying a name or a value (a consumer reads the CloudEvents
//! envelope of every message; copying its headers into owned strings was a third of the
//! consumer's CPU, `BENCHMARKS.md`).

use async_nats::HeaderMap;

/// Every `(name, value)` of `headers` (a header with several values once per value, in the
/// order received), names in no particular order: a NATS header map is unordered.
pub(crate) fn pairs(headers: Option<&HeaderMap>) -> impl Iterator<Item = (&str, &str)> {
    headers.into_iter().flat_map(|headers| {
        headers.iter().flat_map(|(name, values)| {
            let name: &str = name.as_ref();
            values.iter().map(move |value| (name, value.as_str()))
        })
    })
}

/// Each header name of `headers` with its first value, names in no particular order: what
/// the envelope is read from (of a header given twice, the first value counts).
pub(crate) fn firsts(headers: Option<&HeaderMap>) -> impl Iterator<Item = (&str, &str)> {
    headers.into_iter().flat_map(|headers| {
        headers.iter().filter_map(|(name, values)| {
            let value = values.first()?;
            Some((name.as_ref(), value.as_str()))
        })
    })
}

/// The first value of the header `name` in `headers`, names compared ASCII
/// case-insensitively like NATS and HTTP header names; `None` when absent.
///
/// A scan of the map rather than a hash lookup: the map's keys are case-sensitive, and
/// building a key from a `&str` allocates. A message has about a dozen headers.
pub(crate) fn find<'a>(headers: Option<&'a HeaderMap>, name: &str) -> Option<&'a str> {
    headers?.iter().find_map(|(key, values)| {
        let key: &str = key.as_ref();
        if key.len() == name.len() && key.eq_ignore_ascii_case(name) {
            values.first().map(|value| value.as_str())
        } else {
            None
        }
    })
}

/// The first value of each header of `names`, in one pass over `headers` (names compared as
/// [`find`] does): for a caller that needs several.
pub(crate) fn find_each<'a, const N: usize>(
    headers: Option<&'a HeaderMap>,
    names: [&str; N],
) -> [Option<&'a str>; N] {
    let mut found = [None; N];
    let Some(headers) = headers else {
        return found;
    };
    let mut missing = N;
    for (key, values) in headers.iter() {
        let key: &str = key.as_ref();
        for (name, slot) in names.iter().zip(found.iter_mut()) {
            if slot.is_none() && key.len() == name.len() && key.eq_ignore_ascii_case(name) {
                *slot = values.first().map(|value| value.as_str());
                missing -= 1;
            }
        }
        if missing == 0 {
            break;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_values_in_place_case_insensitively() {
        let mut map = HeaderMap::new();
        map.insert("ce-type", "OrderCreatedEvent");
        map.append("X-Twice", "first");
        map.append("X-Twice", "second");
        assert_eq!(find(Some(&map), "CE-TYPE"), Some("OrderCreatedEvent"));
        assert_eq!(find(Some(&map), "x-twice"), Some("first"));
        assert_eq!(find(Some(&map), "ce-id"), None);
        assert_eq!(
            find_each(Some(&map), ["ce-id", "Ce-Type", "x-twice"]),
            [None, Some("OrderCreatedEvent"), Some("first")]
        );
        assert_eq!(find_each(None, ["ce-type"]), [None]);
        assert_eq!(find(None, "ce-type"), None);
        let mut all: Vec<_> = pairs(Some(&map)).collect();
        all.sort_unstable();
        assert_eq!(
            all,
            [
                ("X-Twice", "first"),
                ("X-Twice", "second"),
                ("ce-type", "OrderCreatedEvent"),
            ]
        );
        assert_eq!(pairs(None).count(), 0);
        let mut firsts: Vec<_> = firsts(Some(&map)).collect();
        firsts.sort_unstable();
        assert_eq!(
            firsts,
            [("X-Twice", "first"), ("ce-type", "OrderCreatedEvent")]
        );
    }
}
