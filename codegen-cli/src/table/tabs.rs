//! Tabs used for indentation: the YAML parser reports them where it noticed, which can be the
//! line before (a plain scalar that it tried to continue) or the character after the tab, so
//! the diagnostic is moved to the tab itself.

use serde_saphyr::ExternalMessageSource;
use serde_saphyr::granit_parser::ErrorKind;

/// What a tab in indentation is, in the user's terms.
pub(super) const MESSAGE: &str = "tabs are not allowed for indentation in YAML; use spaces";

/// The 1-based line and column of the tab that `err` (already unwrapped from alias and
/// snippet wrappers) is about, when it is a parser error about a tab: the first tab in the
/// indentation of a line holding content, from `error_line` (1-based) on.
pub(super) fn indentation_tab(
    text: &str,
    err: &serde_saphyr::Error,
    error_line: usize,
) -> Option<(usize, usize)> {
    let serde_saphyr::Error::ExternalMessage { source, .. } = err else {
        return None;
    };
    let ExternalMessageSource::Parser(scan) = source.as_ref() else {
        return None;
    };
    let about_tab = matches!(
        scan.kind(),
        ErrorKind::TabNotAllowed
            | ErrorKind::TabInBlockIndentation
            | ErrorKind::TabInIndentation
            | ErrorKind::TabAtBlockScalarStart
            | ErrorKind::TabInPlainScalar
    );
    if !about_tab {
        return None;
    }
    text.lines()
        .enumerate()
        .skip(error_line.saturating_sub(1))
        .find_map(|(index, line)| {
            let content = line.trim_start_matches([' ', '\t']);
            let indentation = &line[..line.len() - content.len()];
            if content.is_empty() || content.starts_with('#') {
                return None;
            }
            // Indentation is ASCII: its byte offset is its column.
            indentation.find('\t').map(|tab| (index + 1, tab + 1))
        })
}
