//! Duplicate keys: serde-saphyr reports the second occurrence only, so the first one is found
//! again by walking the parser's events to the mapping that holds the duplicate.

use std::collections::HashMap;

use serde_saphyr::granit_parser::{Event, Parser};

/// A collection open during the walk: for a mapping, the first location of each scalar key
/// and whether the next node is a key.
enum Open {
    Mapping {
        first: HashMap<String, (usize, usize)>,
        expects_key: bool,
    },
    Sequence,
}

/// The 1-based line and column of the first occurrence of the key written at `line`:`column`
/// (1-based, in characters) in the same mapping, when that key is a duplicate scalar key.
pub(super) fn first_occurrence(text: &str, line: usize, column: usize) -> Option<(usize, usize)> {
    let mut open: Vec<Open> = Vec::new();
    for item in Parser::new_from_str(text) {
        let Ok((event, span)) = item else { break };
        let at = (span.start.line(), span.start.col() + 1);
        match event {
            Event::MappingStart(..) => {
                key_or_value_seen(&mut open, |_| None);
                open.push(Open::Mapping {
                    first: HashMap::new(),
                    expects_key: true,
                });
            }
            Event::SequenceStart(..) => {
                key_or_value_seen(&mut open, |_| None);
                open.push(Open::Sequence);
            }
            Event::MappingEnd | Event::SequenceEnd => {
                open.pop();
            }
            Event::Scalar(value, ..) => {
                let found = key_or_value_seen(&mut open, |first| {
                    let earlier = *first.entry(value.into_owned()).or_insert(at);
                    (at == (line, column) && earlier != at).then_some(earlier)
                });
                if found.is_some() {
                    return found;
                }
            }
            Event::Alias(..) => {
                key_or_value_seen(&mut open, |_| None);
            }
            _ => {}
        }
    }
    None
}

/// Records that a node starts in the innermost open collection: in a mapping, it is a key
/// (then `on_scalar_key` sees the mapping's keys when the node is a scalar, and its answer
/// is returned) or a value, alternately.
fn key_or_value_seen(
    open: &mut [Open],
    on_scalar_key: impl FnOnce(&mut HashMap<String, (usize, usize)>) -> Option<(usize, usize)>,
) -> Option<(usize, usize)> {
    let Some(Open::Mapping { first, expects_key }) = open.last_mut() else {
        return None;
    };
    let is_key = *expects_key;
    *expects_key = !is_key;
    is_key.then(|| on_scalar_key(first)).flatten()
}
