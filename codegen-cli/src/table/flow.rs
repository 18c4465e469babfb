//! Unclosed flow collections (`{ from: x` without its `}`): the YAML parser only notices on a
//! later line (the next key, or the end of the file), so the diagnostic is moved to the
//! bracket that was never closed.

use serde_saphyr::ExternalMessageSource;
use serde_saphyr::granit_parser::{ErrorKind, Event, Parser, StructureStyle};

/// A flow collection still open where the parser failed: 1-based line and column (in
/// characters) of its bracket, and the bracket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct OpenBracket {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// `{` or `[`.
    pub bracket: char,
}

/// The innermost flow collection left open when `err` (already unwrapped from alias and
/// snippet wrappers) is a parser error about a flow collection that did not end (no `,` or
/// closing bracket where one was expected, a block key inside it, or the end of the file),
/// when it was opened on an earlier line than `error_line`.
pub(super) fn unclosed(
    text: &str,
    err: &serde_saphyr::Error,
    error_line: usize,
) -> Option<OpenBracket> {
    let serde_saphyr::Error::ExternalMessage { source, .. } = err else {
        return None;
    };
    let ExternalMessageSource::Parser(scan) = source.as_ref() else {
        return None;
    };
    let about_flow = matches!(
        scan.kind(),
        ErrorKind::ExpectedFlowMappingSeparator
            | ErrorKind::ExpectedFlowSequenceSeparator
            | ErrorKind::UnexpectedEofFlowMapping
            | ErrorKind::UnexpectedEofFlowSequence
            | ErrorKind::UnexpectedEofImplicitFlowMapping
            | ErrorKind::UnclosedFlowCollection { .. }
            // The next block key (`rust:`) inside a flow sequence left open.
            | ErrorKind::InvalidColonPlacement
    );
    if !about_flow {
        return None;
    }
    // The collections open where the parser stopped: `Some((char index, line, column))` for
    // a flow one, `None` for a block one.
    let mut open: Vec<Option<(usize, usize, usize)>> = Vec::new();
    for item in Parser::new_from_str(text) {
        let Ok((event, span)) = item else { break };
        match event {
            Event::MappingStart(style, ..) | Event::SequenceStart(style, ..) => {
                let start = span.start;
                open.push(
                    (style == StructureStyle::Flow)
                        .then(|| (start.index(), start.line(), start.col())),
                );
            }
            Event::MappingEnd | Event::SequenceEnd => {
                open.pop();
            }
            _ => {}
        }
    }
    // The innermost bracket (an implicit mapping inside `[ a: b ]` has none of its own).
    let (line, col, bracket) =
        open.iter()
            .rev()
            .map_while(|o| *o)
            .find_map(|(index, line, col)| {
                let c = text.chars().nth(index).filter(|c| matches!(c, '{' | '['))?;
                Some((line, col, c))
            })?;
    (line < error_line).then_some(OpenBracket {
        line,
        column: col + 1,
        bracket,
    })
}
