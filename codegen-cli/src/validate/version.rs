//! `version:`, the format of the mapping table, checked as written: whatever the user wrote
//! (a number past `u32`, a negative one, a word) is reported in the table's terms.

/// The mapping format versions this eventmap reads.
pub(super) const KNOWN_FORMAT_VERSIONS: &[u32] = &[1];

/// Why `written` (the value of `version:` as written) is not a format version this eventmap
/// reads, or `None` when it is one.
pub(super) fn problem(written: &str) -> Option<String> {
    match written.parse::<u32>() {
        Ok(version) if KNOWN_FORMAT_VERSIONS.contains(&version) => None,
        Ok(version) => Some(format!("mapping format version {version} is not supported")),
        Err(_) => Some(format!(
            "`{written}` is not a mapping format version (a small whole number, 1 or more)"
        )),
    }
}

/// What `version:` accepts: the format versions this eventmap knows.
pub(super) fn hint() -> String {
    let known: Vec<String> = KNOWN_FORMAT_VERSIONS
        .iter()
        .map(|v| format!("`version: {v}`"))
        .collect();
    format!(
        "`version` names the format of this table (not of its contracts); this eventmap reads {}",
        known.join(" or ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_versions_pass() {
        assert_eq!(problem("1"), None);
        assert_eq!(
            problem("2").as_deref(),
            Some("mapping format version 2 is not supported")
        );
        for written in ["99999999999", "-1", "1.5", "one"] {
            assert_eq!(
                problem(written),
                Some(format!(
                    "`{written}` is not a mapping format version (a small whole number, 1 or more)"
                ))
            );
        }
    }
}
