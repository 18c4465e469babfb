//! Protox errors as diagnostics: located at the `.proto` file, line and column, or at the
//! `import` of a file that cannot be read, or that closes an import cycle.

use std::path::PathBuf;
use std::string::FromUtf8Error;

use miette::Diagnostic as _;

use super::resolve_in;
use crate::diagnostic::{Diagnostic, SourceLocation, Sources, line_column};
use crate::rules;

/// Turns a protox error into a diagnostic at the `.proto` file, line and column. `roots` are
/// the files the table names: an import that cannot be read is located at its `import`.
pub(super) fn proto_error(
    err: &protox::Error,
    includes: &[PathBuf],
    shown: &[PathBuf],
    roots: &[String],
    sources: &mut Sources,
) -> Diagnostic {
    let mut diagnostic = Diagnostic::new(rules::PROTO, message(err));
    if let Some(at) = cycle_location(err, includes, shown, sources) {
        return diagnostic.at(Some(at));
    }
    let Some(file) = err.file() else {
        return diagnostic;
    };
    let read = resolve_in(includes, shown, file)
        .and_then(|(real, shown_path)| Some((std::fs::read(real).ok()?, shown_path)));
    let Some((bytes, shown_path)) = read else {
        // An imported file that is missing, a directory or unreadable: at its `import`.
        if let Some(importer) = importer_of(includes, shown, roots, file)
            && let Some(at) = import_location(includes, shown, &importer, file, sources)
        {
            return diagnostic.at(Some(at));
        }
        return diagnostic.note(format!("in `{file}`"), None);
    };
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(not_utf8) => {
            return diagnostic.at(Some(not_utf8_location(not_utf8, shown_path, sources)));
        }
    };
    let (line, column, len) = label_position(err, &text);
    sources.insert(shown_path.clone(), text);
    diagnostic = diagnostic.at(Some(SourceLocation {
        file: shown_path,
        line,
        column,
        len: len.max(1),
    }));
    diagnostic
}

/// The message of a protox error, with its cause and its help.
fn message(err: &protox::Error) -> String {
    let mut message = err.to_string();
    // An I/O error's cause (`Is a directory`, `Permission denied`) is only in its source.
    if let Some(cause) = std::error::Error::source(err).map(ToString::to_string)
        && !message.contains(&cause)
    {
        message = format!("{message}: {cause}");
    }
    if let Some(help) = err.help() {
        message = format!("{message} ({help})");
    }
    message
}

/// Where the import that closes the cycle of an import cycle error is: protox names the
/// cycle (`a.proto -> b.proto -> a.proto`) but gives no location.
fn cycle_location(
    err: &protox::Error,
    includes: &[PathBuf],
    shown: &[PathBuf],
    sources: &mut Sources,
) -> Option<SourceLocation> {
    let message = err.to_string();
    let cycle = message.strip_prefix("import cycle detected: ")?;
    let names: Vec<&str> = cycle.split(" -> ").collect();
    let [.., importer, imported] = names.as_slice() else {
        return None;
    };
    import_location(includes, shown, importer, imported, sources)
}

/// The first byte that is not UTF-8 of the file shown as `shown_path` (its valid start
/// added to `sources`).
fn not_utf8_location(
    not_utf8: FromUtf8Error,
    shown_path: PathBuf,
    sources: &mut Sources,
) -> SourceLocation {
    let valid_up_to = not_utf8.utf8_error().valid_up_to();
    let bytes = not_utf8.into_bytes();
    let valid = std::str::from_utf8(&bytes[..valid_up_to])
        .unwrap_or_default()
        .to_owned();
    let (line, column) = line_column(&valid, valid.len());
    sources.insert(shown_path.clone(), valid);
    SourceLocation {
        file: shown_path,
        line,
        column,
        len: 1,
    }
}

/// The line, column and length in characters of the first label of `err` in `text` (the
/// start of the file without one).
fn label_position(err: &protox::Error, text: &str) -> (usize, usize, usize) {
    let offset_len = err
        .labels()
        .and_then(|mut labels| labels.next())
        .map(|label| (label.offset(), label.len()));
    match offset_len {
        Some((offset, len)) => {
            let (line, column) = line_column(text, offset);
            let chars = text
                .get(offset..offset.saturating_add(len))
                .map_or(1, |s| s.chars().count());
            (line, column, chars)
        }
        None => (1, 1, 1),
    }
}

/// The import statements of a `.proto` text: the imported name, the byte offset of the
/// statement and its length in characters. A line-based reading, enough to point at an import
/// that protox could not follow (it reports no location for those).
fn imports(text: &str) -> Vec<(String, usize, usize)> {
    let mut out = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let start = offset + (line.len() - trimmed.len());
        offset += line.len();
        let Some(rest) = trimmed.strip_prefix("import") else {
            continue;
        };
        let Some(open) = rest.find(['"', '\'']) else {
            continue;
        };
        let quote = &rest[open..=open];
        let after = &rest[open + 1..];
        let Some(close) = after.find(quote) else {
            continue;
        };
        let statement = trimmed
            .find(';')
            .map_or_else(|| trimmed.trim_end(), |end| &trimmed[..=end]);
        out.push((after[..close].to_owned(), start, statement.chars().count()));
    }
    out
}

/// Where the proto file `importer` imports `imported`, adding the importer's text to
/// `sources` for the snippet.
fn import_location(
    includes: &[PathBuf],
    shown: &[PathBuf],
    importer: &str,
    imported: &str,
    sources: &mut Sources,
) -> Option<SourceLocation> {
    let (real, shown_path) = resolve_in(includes, shown, importer)?;
    let text = std::fs::read_to_string(real).ok()?;
    let (_, offset, len) = imports(&text)
        .into_iter()
        .find(|(name, ..)| name == imported)?;
    let (line, column) = line_column(&text, offset);
    sources.insert(shown_path.clone(), text);
    Some(SourceLocation {
        file: shown_path,
        line,
        column,
        len: len.max(1),
    })
}

/// The first file reachable from `roots` through imports that imports `target`.
fn importer_of(
    includes: &[PathBuf],
    shown: &[PathBuf],
    roots: &[String],
    target: &str,
) -> Option<String> {
    let mut seen = std::collections::HashSet::new();
    let mut queue: std::collections::VecDeque<String> = roots.iter().cloned().collect();
    while let Some(name) = queue.pop_front() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let Some(text) = resolve_in(includes, shown, &name)
            .and_then(|(real, _)| std::fs::read_to_string(real).ok())
        else {
            continue;
        };
        for (imported, ..) in imports(&text) {
            if imported == target {
                return Some(name);
            }
            queue.push_back(imported);
        }
    }
    None
}
