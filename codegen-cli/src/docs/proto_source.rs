//! What the documentation takes from the `.proto` sources: the comments written above
//! messages, fields and enums (from the compiled files' source info).

use prost_reflect::{FileDescriptor, MessageDescriptor};

/// The marker line a payload schema puts above its message ([`super::payload_schema`]):
/// AsyncAPI's protobuf schema parser (`@asyncapi/protobuf-schema-parser`) takes the message
/// whose comment holds `@RootNode` as the payload when a text has several top-level
/// messages, and strips the annotation from the description it makes of that comment.
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
