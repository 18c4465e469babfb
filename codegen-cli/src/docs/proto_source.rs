//! What the documentation takes from the `.proto` sources: the comments written above
//! messages and fields, and the text of the file that defines a message, inlined in the
//! AsyncAPI document.

use prost_reflect::{FileDescriptor, MessageDescriptor};

use super::DocsError;
use crate::Sources;
use crate::protos::ProtoSet;

/// The marker line [`inline_schema`] puts above the carried message: AsyncAPI's protobuf
/// schema parser (`@asyncapi/protobuf-schema-parser`) takes the message whose comment holds
/// `@RootNode` as the payload when a file has several top-level messages, and strips the
/// annotation from the description it makes of that comment.
pub const ROOT_MARKER: &str = "// @RootNode";

/// The comment written directly above the element at `path` (a `SourceCodeInfo` path) of
/// `file`, one line per comment line, without the comment markers and the one space after
/// them; `None` when there is none or the file was compiled without source info.
pub fn leading_comment(file: &FileDescriptor, path: &[i32]) -> Option<String> {
    let info = file.file_descriptor_proto().source_code_info.as_ref()?;
    let location = info.location.iter().find(|l| l.path == path)?;
    let text = location.leading_comments.as_deref()?;
    let lines: Vec<&str> = text
        .lines()
        .map(|l| l.strip_prefix(' ').unwrap_or(l).trim_end())
        .collect();
    let joined = lines.join("\n");
    let trimmed = joined.trim_matches('\n');
    (!trimmed.trim().is_empty()).then(|| trimmed.to_owned())
}

/// The leading comment of `message` as one line (its lines joined by spaces), for summaries
/// and table cells.
pub fn message_summary(message: &MessageDescriptor) -> Option<String> {
    leading_comment(&message.parent_file(), message.path()).map(|c| one_line(&c))
}

/// `text` with its lines joined by single spaces.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The text of the `.proto` file that defines `message`, as the AsyncAPI payload schema: the
/// whole file as written, with one line added, [`ROOT_MARKER`] directly above the message's
/// declaration (joining the comment already there), so that AsyncAPI tools know which of the
/// file's messages the payload is.
///
/// # Errors
/// [`DocsError::ProtoSource`] when the file's text is not known (it is for every file the
/// analysis read from disk).
pub fn inline_schema(
    protos: &ProtoSet,
    sources: &Sources,
    message: &MessageDescriptor,
) -> Result<String, DocsError> {
    let file = message.parent_file();
    let text =
        super::proto_text(protos, sources, message).ok_or_else(|| DocsError::ProtoSource {
            file: file.name().to_owned(),
            message: message.full_name().to_owned(),
        })?;
    let Some(line) = declaration_line(&file, message) else {
        return Ok(text.to_owned());
    };
    Ok(insert_marker(text, line, message.name()))
}

/// The 0-based line of `message`'s declaration, from the source info.
fn declaration_line(file: &FileDescriptor, message: &MessageDescriptor) -> Option<usize> {
    let info = file.file_descriptor_proto().source_code_info.as_ref()?;
    let location = info.location.iter().find(|l| l.path == message.path())?;
    usize::try_from(*location.span.first()?).ok()
}

/// `text` with [`ROOT_MARKER`] inserted before the declaration `message <name>` on line
/// `line` (0-based): on a line of its own, indented like the declaration, when the declaration
/// starts its line; otherwise the line is broken before the declaration. When the declaration
/// is not found on that line, the marker goes above the line.
fn insert_marker(text: &str, line: usize, name: &str) -> String {
    let mut offset = 0;
    let mut found = None;
    for (index, l) in text.split_inclusive('\n').enumerate() {
        if index == line {
            found = Some((offset, l));
            break;
        }
        offset += l.len();
    }
    let Some((start, line_text)) = found else {
        return text.to_owned();
    };
    let indent_len = line_text.len() - line_text.trim_start().len();
    let indent = &line_text[..indent_len];
    let at = declaration_offset(line_text, name).unwrap_or(indent_len);
    let mut out = String::with_capacity(text.len() + ROOT_MARKER.len() + indent.len() + 2);
    out.push_str(&text[..start]);
    if line_text[..at].trim().is_empty() {
        out.push_str(indent);
        out.push_str(ROOT_MARKER);
        out.push('\n');
        out.push_str(line_text);
    } else {
        out.push_str(line_text[..at].trim_end());
        out.push('\n');
        out.push_str(indent);
        out.push_str(ROOT_MARKER);
        out.push('\n');
        out.push_str(indent);
        out.push_str(&line_text[at..]);
    }
    out.push_str(&text[start + line_text.len()..]);
    out
}

/// The byte offset in `line` of a declaration `message <name>` (the keyword, whitespace, the
/// name, then a character that cannot continue a name).
fn declaration_offset(line: &str, name: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(found) = line[from..].find("message") {
        let at = from + found;
        from = at + "message".len();
        let before_ok = line[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        let rest = &line[from..];
        let after_keyword = rest.trim_start();
        if !before_ok || after_keyword.len() == rest.len() {
            continue;
        }
        if let Some(after_name) = after_keyword.strip_prefix(name)
            && after_name
                .chars()
                .next()
                .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
        {
            return Some(at);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_goes_on_its_own_line_above_the_declaration() {
        let text = "syntax = \"proto3\";\n// A.\nmessage A {}\n  message B { int32 x = 1; }\n";
        assert_eq!(
            insert_marker(text, 2, "A"),
            "syntax = \"proto3\";\n// A.\n// @RootNode\nmessage A {}\n  message B { int32 x = 1; }\n"
        );
        assert_eq!(
            insert_marker(text, 3, "B"),
            "syntax = \"proto3\";\n// A.\nmessage A {}\n  // @RootNode\n  message B { int32 x = 1; }\n"
        );
    }

    #[test]
    fn a_declaration_after_another_on_its_line_is_moved_to_a_line_of_its_own() {
        let text = "message A {} message AB {} message B {}\n";
        assert_eq!(
            insert_marker(text, 0, "B"),
            "message A {} message AB {}\n// @RootNode\nmessage B {}\n"
        );
    }

    #[test]
    fn a_line_out_of_range_leaves_the_text_alone() {
        assert_eq!(insert_marker("message A {}", 5, "A"), "message A {}");
    }

    #[test]
    fn declarations_are_matched_on_whole_words() {
        assert_eq!(
            declaration_offset("message_x message Ab message A{", "A"),
            Some(21)
        );
        assert_eq!(declaration_offset("messageA {}", "A"), None);
    }
}
