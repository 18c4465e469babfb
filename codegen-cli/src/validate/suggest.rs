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

/// Longest name (in characters) for which [`suggest`] looks for a likely typo.
pub(crate) const SUGGEST_MAX_CHARS: usize = 256;

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
