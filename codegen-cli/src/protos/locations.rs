//! Where the elements of one `.proto` file are, from its `SourceCodeInfo`: the span of each
//! element's name, in characters, so that a diagnostic underlines the name itself
//! (`store_id` in `repeated string store_id = 2;`, `Order` in `message Order {`), not the
//! start of the declaration.

use std::collections::HashMap;
use std::path::PathBuf;

use prost_types::SourceCodeInfo;

use crate::diagnostic::SourceLocation;

/// The field number of `name` in the descriptors that have one (`DescriptorProto`,
/// `FieldDescriptorProto`, `EnumDescriptorProto`, `EnumValueDescriptorProto`,
/// `OneofDescriptorProto`, services and methods): the name's own location has the element's
/// path followed by it.
const NAME_FIELD: i32 = 1;

/// The locations of one file.
#[derive(Debug)]
pub(super) struct FileLocations {
    /// How the file is shown in diagnostics.
    shown: PathBuf,
    /// Element path (`[4, 0, 2, 1]`: message 0, field 1) -> its span as `SourceCodeInfo`
    /// gives it: 0-based start line, start column, [end line,] end column, columns in bytes.
    spans: HashMap<Vec<i32>, Vec<i32>>,
    /// The file's text, when known: columns are converted from bytes to characters and a
    /// name without a location of its own (the `package`) is found in its declaration.
    text: Option<String>,
    /// Byte offset of the start of each line of `text`.
    line_starts: Vec<usize>,
}

impl FileLocations {
    /// The locations of a file shown as `shown`, from its source info and, when known, its
    /// text.
    pub(super) fn new(shown: PathBuf, info: &SourceCodeInfo, text: Option<String>) -> Self {
        let mut spans = HashMap::with_capacity(info.location.len());
        for loc in &info.location {
            if loc.span.len() >= 3 {
                // The first location of a path, as a linear search would find it.
                spans
                    .entry(loc.path.clone())
                    .or_insert_with(|| loc.span.clone());
            }
        }
        let line_starts = text.as_deref().map_or_else(Vec::new, |t| {
            std::iter::once(0)
                .chain(t.match_indices('\n').map(|(i, _)| i + 1))
                .collect()
        });
        FileLocations {
            shown,
            spans,
            text,
            line_starts,
        }
    }

    /// Where the name of the element at `path` is: its own location when the source info
    /// has one, else `name` found in the element's declaration, else the declaration's start
    /// with the length of `name`.
    pub(super) fn name_location(&self, path: &[i32], name: &str) -> Option<SourceLocation> {
        let declaration = self.spans.get(path)?;
        let (&line, &start) = (declaration.first()?, declaration.get(1)?);
        let mut name_path = path.to_vec();
        name_path.push(NAME_FIELD);
        let (line, start, end) = self
            .spans
            .get(&name_path)
            .and_then(|span| one_line(span))
            .or_else(|| self.find_in_declaration(declaration, name))
            .unwrap_or((line, start, start.saturating_add(byte_len(name))));
        let column = self.chars_before(line, start);
        let end_column = self.chars_before(line, end).max(column + 1);
        Some(SourceLocation {
            file: self.shown.clone(),
            line: usize::try_from(line).ok()? + 1,
            column: column + 1,
            len: end_column - column,
        })
    }

    /// The text of 0-based `line`, without its line break.
    fn line(&self, line: i32) -> Option<&str> {
        let text = self.text.as_deref()?;
        let index = usize::try_from(line).ok()?;
        let start = *self.line_starts.get(index)?;
        let end = self
            .line_starts
            .get(index + 1)
            .map_or(text.len(), |e| e - 1);
        text.get(start..end)
    }

    /// How many characters precede byte column `column` of 0-based `line` (the byte column
    /// itself when the text is not known).
    fn chars_before(&self, line: i32, column: i32) -> usize {
        let bytes = usize::try_from(column).unwrap_or(0);
        self.line(line)
            .and_then(|l| l.get(..bytes.min(l.len())))
            .map_or(bytes, |before| before.chars().count())
    }

    /// `name` as a whole token in the first line of `declaration`, after the declaration's
    /// first word (the keyword: `package`, `message`, a label or a type): 0-based line and
    /// byte columns.
    fn find_in_declaration(&self, declaration: &[i32], name: &str) -> Option<(i32, i32, i32)> {
        let (&line, &start) = (declaration.first()?, declaration.get(1)?);
        let text = self.line(line)?;
        let from = usize::try_from(start).ok()?;
        let rest = text.get(from..)?;
        let first_word = rest.find(|c: char| !is_name_char(c)).unwrap_or(rest.len());
        let token = |at: usize| {
            let before = rest.get(..at).and_then(|b| b.chars().next_back());
            let after = rest.get(at + name.len()..).and_then(|a| a.chars().next());
            !before.is_some_and(is_name_char) && !after.is_some_and(is_name_char)
        };
        let at = rest
            .match_indices(name)
            .map(|(i, _)| i)
            .find(|&i| i >= first_word && token(i))?;
        let begin = i32::try_from(from + at).ok()?;
        Some((line, begin, begin.checked_add(byte_len(name))?))
    }
}

/// A span on one line: 0-based line, start and end byte columns.
fn one_line(span: &[i32]) -> Option<(i32, i32, i32)> {
    match *span {
        [line, start, end] => Some((line, start, end)),
        [line, start, end_line, end] if end_line == line => Some((line, start, end)),
        _ => None,
    }
}

/// Characters of a proto name (dotted for a package).
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

fn byte_len(name: &str) -> i32 {
    i32::try_from(name.len()).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use prost_types::source_code_info::Location;

    use super::*;

    fn locations(text: &str, spans: &[(&[i32], &[i32])]) -> FileLocations {
        let info = SourceCodeInfo {
            location: spans
                .iter()
                .map(|(path, span)| Location {
                    path: path.to_vec(),
                    span: span.to_vec(),
                    ..Location::default()
                })
                .collect(),
        };
        FileLocations::new("a.proto".into(), &info, Some(text.to_owned()))
    }

    fn at(loc: Option<SourceLocation>) -> (usize, usize, usize) {
        let loc = loc.expect("located");
        (loc.line, loc.column, loc.len)
    }

    #[test]
    fn the_name_location_is_used_and_counted_in_characters() {
        // `é` is two bytes: the name starts at byte 18, character 17 (0-based).
        let text = "message M {\n  /* é */ string store_id = 2;\n}\n";
        let locs = locations(
            text,
            &[
                (&[4, 0, 2, 0], &[1, 11, 31]),
                (&[4, 0, 2, 0, 1], &[1, 18, 26]),
            ],
        );
        assert_eq!(
            at(locs.name_location(&[4, 0, 2, 0], "store_id")),
            (2, 18, 8)
        );
    }

    #[test]
    fn a_name_without_a_location_is_found_in_its_declaration() {
        let text = "syntax = \"proto3\";\npackage package.v1;\n";
        let locs = locations(text, &[(&[2], &[1, 0, 19])]);
        assert_eq!(at(locs.name_location(&[2], "package.v1")), (2, 9, 10));
        let locs = locations("package shop.v1 ;\n", &[(&[2], &[0, 0, 17])]);
        assert_eq!(
            at(locs.name_location(&[2], "v1")),
            (1, 1, 2),
            "not a whole token"
        );
    }
}
