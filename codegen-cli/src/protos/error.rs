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
    if let Some(hint) = undefined_name_hint(&err.to_string(), includes) {
        diagnostic = diagnostic.hint(hint);
    }
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

/// The well-known types' files (protobuf's `google/protobuf/*.proto`), by message name.
const WELL_KNOWN_FILES: [(&str, &str); 19] = [
    ("Any", "any"),
    ("Api", "api"),
    ("BoolValue", "wrappers"),
    ("BytesValue", "wrappers"),
    ("DoubleValue", "wrappers"),
    ("Duration", "duration"),
    ("Empty", "empty"),
    ("FieldMask", "field_mask"),
    ("FloatValue", "wrappers"),
    ("Int32Value", "wrappers"),
    ("Int64Value", "wrappers"),
    ("ListValue", "struct"),
    ("NullValue", "struct"),
    ("StringValue", "wrappers"),
    ("Struct", "struct"),
    ("Timestamp", "timestamp"),
    ("UInt32Value", "wrappers"),
    ("UInt64Value", "wrappers"),
    ("Value", "struct"),
];

/// Files read at most when looking for where an undefined name is defined.
const SEARCHED_FILES: usize = 2_000;

/// For protox's "name 'X' is not defined": the `import` that would define it, when a
/// well-known type has that name or a `.proto` under the include folders declares a message
/// or enum of that name (the usual cause: the file that defines it is not imported).
fn undefined_name_hint(message: &str, includes: &[PathBuf]) -> Option<String> {
    let name = message
        .split_once("name '")?
        .1
        .split_once("' is not defined")?
        .0;
    let simple = name.rsplit('.').next().unwrap_or(name);
    if name.starts_with("google.protobuf.")
        && let Some((_, file)) = WELL_KNOWN_FILES.iter().find(|(known, _)| *known == simple)
    {
        return Some(format!(
            "`{name}` is a well-known type: add `import \"google/protobuf/{file}.proto\";`"
        ));
    }
    let mut found = Vec::new();
    let mut budget = SEARCHED_FILES;
    for include in includes {
        let mut pending = vec![include.clone()];
        while let Some(dir) = pending.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    pending.push(path);
                } else if path.extension().is_some_and(|e| e == "proto") && budget > 0 {
                    budget -= 1;
                    let Ok(text) = std::fs::read_to_string(&path) else {
                        continue;
                    };
                    if declares(&text, simple)
                        && let Ok(relative) = path.strip_prefix(include)
                    {
                        let relative = relative.to_string_lossy().replace('\\', "/");
                        if !found.contains(&relative) {
                            found.push(relative);
                        }
                    }
                }
            }
        }
    }
    found.sort();
    let first = found.first()?;
    let also = if found.len() > 1 {
        format!(
            " (also declared in {})",
            found[1..]
                .iter()
                .map(|f| format!("`{f}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else {
        String::new()
    };
    Some(format!(
        "`{simple}` is declared in `{first}`{also}: add `import \"{first}\";` to the file that uses it, and name it by its package if the packages differ"
    ))
}

/// Whether `text` declares a message or enum named `name` (`message Name {`, `enum Name{`).
fn declares(text: &str, name: &str) -> bool {
    ["message", "enum"].iter().any(|keyword| {
        text.match_indices(keyword).any(|(at, _)| {
            let before_ok = text[..at]
                .chars()
                .next_back()
                .is_none_or(|c| c.is_whitespace() || c == '{' || c == '}' || c == ';');
            let rest = &text[at + keyword.len()..];
            let trimmed = rest.trim_start();
            before_ok
                && trimmed.len() < rest.len()
                && trimmed.strip_prefix(name).is_some_and(|after| {
                    after
                        .chars()
                        .next()
                        .is_none_or(|c| c.is_whitespace() || c == '{')
                })
        })
    })
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

#[cfg(test)]
mod tests {
    use super::{declares, undefined_name_hint};

    #[test]
    fn a_declaration_is_a_message_or_enum_of_that_exact_name() {
        let text = "syntax = \"proto3\";\nmessage Bin{ string code = 1; }\nenum Kind {\n  KIND_UNSPECIFIED = 0;\n}\nmessage BinSet {}\n";
        assert!(declares(text, "Bin"));
        assert!(declares(text, "Kind"));
        assert!(declares(text, "BinSet"));
        assert!(!declares(text, "Bi"));
        assert!(!declares(text, "code"));
        assert!(!declares("// a message Bin in a comment\n", "Bi"));
    }

    #[test]
    fn an_undefined_name_gets_the_import_that_defines_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let package = dir.path().join("p/v1");
        std::fs::create_dir_all(&package).expect("mkdir");
        std::fs::write(
            package.join("b.proto"),
            "syntax = \"proto3\";\npackage p.v1;\nmessage B {}\n",
        )
        .expect("write");
        std::fs::write(
            package.join("a.proto"),
            "syntax = \"proto3\";\npackage p.v1;\nmessage A { B b = 1; }\n",
        )
        .expect("write");
        let includes = [dir.path().to_path_buf()];
        assert_eq!(
            undefined_name_hint("name 'B' is not defined", &includes).as_deref(),
            Some(
                "`B` is declared in `p/v1/b.proto`: add `import \"p/v1/b.proto\";` to the file that uses it, and name it by its package if the packages differ"
            )
        );
        assert_eq!(
            undefined_name_hint("name 'google.protobuf.Timestamp' is not defined", &includes)
                .as_deref(),
            Some(
                "`google.protobuf.Timestamp` is a well-known type: add `import \"google/protobuf/timestamp.proto\";`"
            )
        );
        assert_eq!(
            undefined_name_hint("name 'Nowhere' is not defined", &includes),
            None
        );
        assert_eq!(undefined_name_hint("syntax error", &includes), None);
    }
}
