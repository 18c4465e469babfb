//! "Did you mean" suggestions and lists of names for hints.

/// The closest candidate to `name`, when one is close enough to be a likely typo.
///
/// The edit distance costs the product of the two lengths, so names longer than
/// [`SUGGEST_MAX_CHARS`] get no suggestion (two 100,000-character names took minutes), and a
/// candidate is only compared when the difference in length alone does not already rule it out.
pub(crate) fn suggest<'a>(
    name: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    let name_len = name.chars().count();
    if name_len > SUGGEST_MAX_CHARS {
        return None;
    }
    candidates
        .filter_map(|c| {
            let len = c.chars().count();
            let max = (len / 3).max(2);
            (len <= SUGGEST_MAX_CHARS && len.abs_diff(name_len) <= max)
                .then(|| (strsim::damerau_levenshtein(name, c), max, c))
        })
        .filter(|(d, max, _)| *d <= *max && *d > 0)
        .min_by_key(|(d, ..)| *d)
        .map(|(.., c)| c)
}

/// The closest candidate to the qualified name `name` (`package.Message`, `pkg.Outer.Inner`)
/// among qualified `candidates`, judged by the last component in `name`'s own scope (its
/// package, or its enclosing message) so that a long package does not make distant names
/// look close:
/// - a name of the scope that keeps the last component whole and adds at most as much
///   again (`FooV2`, `NewFoo` for `Foo`): the message renamed or versioned, however close
///   another name is by spelling;
/// - else a likely typo of the last component ([`suggest`]) in the scope;
/// - else the same last component in a likely typo of the scope (`shop.v2.Placed` for
///   `shop.v1.Placed`).
pub(crate) fn suggest_qualified<'a>(
    name: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    let (scope, last) = split_qualified(name);
    let candidates: Vec<(&'a str, &'a str, &'a str)> = candidates
        .map(|c| {
            let (c_scope, c_last) = split_qualified(c);
            (c, c_scope, c_last)
        })
        .collect();
    let in_scope = || candidates.iter().filter(|(_, s, _)| *s == scope);
    let last_len = last.chars().count();
    let renamed = in_scope()
        .filter(|(.., c)| *c != last && (c.starts_with(last) || c.ends_with(last)))
        .map(|(full, _, c)| (c.chars().count() - last_len, *full))
        .filter(|(added, _)| *added <= last_len)
        .min_by_key(|(added, _)| *added);
    if let Some((_, full)) = renamed {
        return Some(full);
    }
    if let Some(typo) = suggest(last, in_scope().map(|(.., c)| *c)) {
        return in_scope()
            .find(|(.., c)| *c == typo)
            .map(|(full, ..)| *full);
    }
    suggest(
        name,
        candidates
            .iter()
            .filter(|(_, s, c)| *c == last && *s != scope)
            .map(|(full, ..)| *full),
    )
}

/// `(scope, last component)` of a qualified name: `("shop.v1", "Placed")`, `("", "Placed")`.
fn split_qualified(name: &str) -> (&str, &str) {
    name.rsplit_once('.').unwrap_or(("", name))
}

/// Longest name (in characters) for which [`suggest`] looks for a likely typo.
pub(crate) const SUGGEST_MAX_CHARS: usize = 256;

/// `items` as a comma-separated list of code spans (`` `a`, `b` ``), or `(none)`.
pub(crate) fn list<S: AsRef<str>>(items: &[S]) -> String {
    if items.is_empty() {
        return "(none)".into();
    }
    items
        .iter()
        .map(|s| format!("`{}`", s.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::suggest_qualified;

    fn qualified(name: &str, candidates: &[&'static str]) -> Option<&'static str> {
        suggest_qualified(name, candidates.iter().copied())
    }

    #[test]
    fn a_renamed_message_wins_over_a_closer_spelling() {
        let protos = [
            "shipping.v1.ParcelPicked",
            "shipping.v1.ParcelPackedV2",
            "shipping.v1.Parcel",
        ];
        assert_eq!(
            qualified("shipping.v1.ParcelPacked", &protos),
            Some("shipping.v1.ParcelPackedV2")
        );
        // Prefixed, too; the smallest addition first.
        let protos = ["shop.v1.LegacyPlaced", "shop.v1.NewPlaced"];
        assert_eq!(
            qualified("shop.v1.Placed", &protos),
            Some("shop.v1.NewPlaced")
        );
        // An addition longer than the name itself is another message.
        assert_eq!(qualified("shop.v1.Foo", &["shop.v1.FooBarBaz"]), None);
    }

    #[test]
    fn a_typo_is_judged_on_the_last_component_in_its_own_scope() {
        let protos = ["shop.v1.Placed", "shop.v1.Paid", "shop.v2.Placed"];
        assert_eq!(qualified("shop.v1.Placd", &protos), Some("shop.v1.Placed"));
        // A long package does not make a distant name close: `Foo` is not `Bar`.
        let protos = ["com.example.shipping.v1.Bar"];
        assert_eq!(qualified("com.example.shipping.v1.Foo", &protos), None);
        // The same name in a misspelled package.
        assert_eq!(
            qualified("shop.v3.Placed", &["shop.v2.Placed", "shop.v3.Paid"]),
            Some("shop.v2.Placed")
        );
        assert_eq!(qualified("other.Placed", &["shop.v2.Placed"]), None);
    }
}
