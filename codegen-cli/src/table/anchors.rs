//! Aliases of unknown anchors: serde-saphyr stops at such an alias with "unknown anchor"
//! and no name, so the text is read again with the parser's events, unresolved aliases
//! allowed, to name the anchor and find a definition of it further down: YAML anchors must
//! come before their aliases.

use serde_saphyr::granit_parser::{Event, Parser, options};

/// The first alias of `text` whose anchor is not defined before it.
pub(super) struct Unresolved {
    /// The anchor's name, without `&` or `*`.
    pub(super) name: String,
    /// Where the alias is (`*name`): 1-based line and column (in characters).
    pub(super) at: (usize, usize),
    /// Where the first anchor of that name after the alias is (`&name`): 1-based line and
    /// column (in characters), when one is.
    pub(super) later: Option<(usize, usize)>,
}

/// The first alias of `text` that refers to no anchor before it, and the first anchor of its
/// name further down, if any.
pub(super) fn first_unresolved(text: &str) -> Option<Unresolved> {
    let options = options! {
        emit_unresolved_aliases: true,
        emit_anchor_events: true,
    };
    let mut found: Option<Unresolved> = None;
    for item in Parser::new_from_str_with_options(text, options) {
        let Ok((event, span)) = item else { break };
        match (event, found.as_mut()) {
            (Event::UnresolvedAlias(name), None) => {
                found = Some(Unresolved {
                    name: name.into_owned(),
                    at: (span.start.line(), span.start.col() + 1),
                    later: None,
                });
            }
            (Event::Anchor(_, name), Some(alias)) if name == alias.name => {
                alias.later = Some((span.start.line(), span.start.col() + 1));
                break;
            }
            (Event::DocumentEnd, Some(_)) => break,
            _ => {}
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::first_unresolved;

    #[test]
    fn an_anchor_after_its_alias_is_found_with_its_place() {
        let text = "a: *base\nb: &other 1\nc: &base 2\nd: &base 3\n";
        let found = first_unresolved(text).expect("an unresolved alias");
        assert_eq!(found.name, "base");
        assert_eq!(found.at, (1, 4));
        assert_eq!(found.later, Some((3, 4)));
        // Columns count characters.
        let found = first_unresolved("a: *x\nb: { ü: 1, c: &x 2 }\n").expect("an alias");
        assert_eq!(found.later, Some((2, 15)));
    }

    #[test]
    fn an_anchor_defined_nowhere_has_no_place() {
        let found = first_unresolved("a: *nowhere\nb: &base 1\n").expect("an unresolved alias");
        assert_eq!(found.name, "nowhere");
        assert_eq!(found.later, None);
        assert!(first_unresolved("a: &base 1\nb: *base\n").is_none());
    }
}
