//! Writing the `.proto` text of a payload schema from the descriptors of its types.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use askama::Template;
use prost_reflect::{
    Cardinality, EnumDescriptor, FieldDescriptor, Kind, MessageDescriptor, OneofDescriptor, Syntax,
};

use super::Type;
use crate::docs::proto_source::{ROOT_MARKER, leading_comment};

/// The text of the schema of `root`, which needs `types`, of `packages`, in proto3 syntax or
/// proto2.
pub(super) fn write(
    root: &MessageDescriptor,
    types: &BTreeMap<String, Type>,
    packages: &BTreeSet<String>,
    proto3: bool,
) -> String {
    let mut members: BTreeMap<String, Vec<&Type>> = BTreeMap::new();
    for t in types.values() {
        let scope = match t.parent_message() {
            Some(parent) => parent.full_name().to_owned(),
            None => t.package().to_owned(),
        };
        members.entry(scope).or_default().push(t);
    }
    for list in members.values_mut() {
        list.sort_by(|a, b| (a.file().name(), a.path()).cmp(&(b.file().name(), b.path())));
    }
    let mut w = Writer {
        out: String::new(),
        root: root.full_name(),
        members: &members,
        packages,
        proto3,
    };
    let single = (packages.len() == 1).then(|| packages.first()).flatten();
    w.header(root, single.map(String::as_str));
    w.scope(single.map_or("", String::as_str), 0);
    w.out
}

/// The head of a payload schema (`templates/docs/payload_header.proto`).
#[derive(Template)]
#[template(path = "docs/payload_header.proto", escape = "none")]
struct Header<'a> {
    /// The full name of the payload message.
    root: &'a str,
    /// Its file.
    file: String,
    /// The packages of the types, when there are several.
    packages: Option<String>,
    /// Whether proto3 types are written in proto2.
    mixed: bool,
    syntax: &'static str,
    /// The one package of the types, if not the empty one.
    package: Option<&'a str>,
}

struct Writer<'a> {
    out: String,
    root: &'a str,
    /// Scope (a package, or the full name of a message) -> the types declared directly in
    /// it, in declaration order (file, then place in the file).
    members: &'a BTreeMap<String, Vec<&'a Type>>,
    packages: &'a BTreeSet<String>,
    proto3: bool,
}

impl Writer<'_> {
    fn line(&mut self, depth: usize, text: &str) {
        for _ in 0..depth {
            self.out.push_str("  ");
        }
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn comment(&mut self, depth: usize, comment: Option<String>) {
        if let Some(comment) = comment {
            for l in comment.lines() {
                let text = if l.is_empty() {
                    "//".to_owned()
                } else {
                    format!("// {l}")
                };
                self.line(depth, &text);
            }
        }
    }

    /// The head of the text: what it is, its packages, its syntax and, for one package
    /// (`single`), its `package` line.
    fn header(&mut self, root: &MessageDescriptor, single: Option<&str>) {
        let mixed = !self.proto3
            && self
                .members
                .values()
                .flatten()
                .any(|t| t.file().syntax() == Syntax::Proto3);
        let packages: Vec<String> = self.packages.iter().map(|p| format!("`{p}`")).collect();
        let header = Header {
            root: root.full_name(),
            file: root.parent_file().name().to_owned(),
            packages: (packages.len() > 1).then(|| packages.join(", ")),
            mixed,
            syntax: if self.proto3 { "proto3" } else { "proto2" },
            package: single.filter(|p| !p.is_empty()),
        };
        // Rendering into a `String` fails only when a value's `Display` does: strings do not.
        let _ = header.render_into(&mut self.out);
    }

    /// The types declared in `scope` and, when it is a package or a prefix of one, the
    /// package parts below it as nested messages.
    fn scope(&mut self, scope: &str, depth: usize) {
        let types = self.members.get(scope).cloned().unwrap_or_default();
        for t in types {
            match t {
                Type::Message(m) => self.message(m, depth),
                Type::Enum(e) => self.enumeration(e, depth),
            }
        }
        let prefix = if scope.is_empty() {
            String::new()
        } else {
            format!("{scope}.")
        };
        let parts: BTreeSet<&str> = self
            .packages
            .iter()
            .filter_map(|p| p.strip_prefix(prefix.as_str()))
            .filter(|rest| !rest.is_empty())
            .filter_map(|rest| rest.split('.').next())
            .collect();
        for part in parts {
            // A part of a package, not a message: only in a schema of several packages.
            self.line(depth, &format!("message {part} {{"));
            self.scope(&format!("{prefix}{part}"), depth + 1);
            self.line(depth, "}");
        }
    }

    fn message(&mut self, m: &MessageDescriptor, depth: usize) {
        self.comment(depth, leading_comment(&m.parent_file(), m.path()));
        if m.full_name() == self.root {
            self.line(depth, ROOT_MARKER);
        }
        self.line(depth, &format!("message {} {{", m.name()));
        self.scope(m.full_name(), depth + 1);
        let mut oneofs_written = BTreeSet::new();
        let mut fields: Vec<FieldDescriptor> = m.fields().collect();
        fields.sort_by(|a, b| a.path().cmp(b.path()));
        for field in fields {
            match field.containing_oneof().filter(|o| !o.is_synthetic()) {
                Some(oneof) => {
                    if oneofs_written.insert(oneof.name().to_owned()) {
                        self.oneof(&oneof, depth + 1);
                    }
                }
                None => self.field(&field, depth + 1, false),
            }
        }
        let ranges: Vec<String> = m
            .reserved_ranges()
            .map(|r| range(i64::from(r.start), i64::from(r.end) - 1, 536_870_911))
            .collect();
        self.reserved(depth + 1, ranges, m.reserved_names());
        self.line(depth, "}");
    }

    fn oneof(&mut self, oneof: &OneofDescriptor, depth: usize) {
        let file = oneof.parent_message().parent_file();
        self.comment(depth, leading_comment(&file, oneof.path()));
        self.line(depth, &format!("oneof {} {{", oneof.name()));
        for field in oneof.fields() {
            self.field(&field, depth + 1, true);
        }
        self.line(depth, "}");
    }

    fn field(&mut self, f: &FieldDescriptor, depth: usize, in_oneof: bool) {
        self.comment(depth, leading_comment(&f.parent_file(), f.path()));
        let ty = match f.kind() {
            Kind::Message(entry) if f.is_map() => format!(
                "map<{}, {}>",
                type_name(&entry.map_entry_key_field().kind()),
                type_name(&entry.map_entry_value_field().kind())
            ),
            kind => type_name(&kind),
        };
        let label = self.label(f, in_oneof);
        let mut options = Vec::new();
        let proto = f.field_descriptor_proto();
        if !self.proto3
            && let Some(default) = proto.default_value.as_deref()
        {
            options.push(format!("default = {}", default_literal(&f.kind(), default)));
        }
        if f.is_list() && packable(&f.kind()) {
            let packed = packed(f);
            if packed != self.proto3 {
                options.push(format!("packed = {packed}"));
            }
        }
        if proto.options.as_ref().and_then(|o| o.deprecated) == Some(true) {
            options.push("deprecated = true".to_owned());
        }
        let options = if options.is_empty() {
            String::new()
        } else {
            format!(" [{}]", options.join(", "))
        };
        let group = if f.is_group() {
            " // group encoding in its file"
        } else {
            ""
        };
        self.line(
            depth,
            &format!("{label}{ty} {} = {}{options};{group}", f.name(), f.number()),
        );
    }

    /// The label of `f` in this text: none for map fields and oneof members, `repeated`,
    /// `required`; `optional` for a proto3 `optional` field and, in proto2, for every other
    /// singular field.
    fn label(&self, f: &FieldDescriptor, in_oneof: bool) -> &'static str {
        if f.is_map() || in_oneof {
            return "";
        }
        match f.cardinality() {
            Cardinality::Repeated => "repeated ",
            Cardinality::Required => "required ",
            Cardinality::Optional => {
                let proto3_optional = f.field_descriptor_proto().proto3_optional();
                if !self.proto3 || proto3_optional {
                    "optional "
                } else {
                    ""
                }
            }
        }
    }

    fn enumeration(&mut self, e: &EnumDescriptor, depth: usize) {
        self.comment(depth, leading_comment(&e.parent_file(), e.path()));
        self.line(depth, &format!("enum {} {{", e.name()));
        let proto = e.enum_descriptor_proto();
        if proto.options.as_ref().and_then(|o| o.allow_alias) == Some(true) {
            self.line(depth + 1, "option allow_alias = true;");
        }
        for value in e.values() {
            self.comment(
                depth + 1,
                leading_comment(&value.parent_file(), value.path()),
            );
            let deprecated = value
                .enum_value_descriptor_proto()
                .options
                .as_ref()
                .and_then(|o| o.deprecated)
                == Some(true);
            let options = if deprecated {
                " [deprecated = true]"
            } else {
                ""
            };
            self.line(
                depth + 1,
                &format!("{} = {}{options};", value.name(), value.number()),
            );
        }
        let ranges: Vec<String> = e
            .reserved_ranges()
            .map(|r| {
                range(
                    i64::from(*r.start()),
                    i64::from(*r.end()),
                    i64::from(i32::MAX),
                )
            })
            .collect();
        self.reserved(depth + 1, ranges, e.reserved_names());
        self.line(depth, "}");
    }

    fn reserved<'n>(
        &mut self,
        depth: usize,
        ranges: Vec<String>,
        names: impl Iterator<Item = &'n str>,
    ) {
        if !ranges.is_empty() {
            self.line(depth, &format!("reserved {};", ranges.join(", ")));
        }
        let names: Vec<String> = names.map(|n| format!("\"{n}\"")).collect();
        if !names.is_empty() {
            self.line(depth, &format!("reserved {};", names.join(", ")));
        }
    }
}

/// A reserved range from `start` to `end` (both included), `max` written as `max`.
fn range(start: i64, end: i64, max: i64) -> String {
    if start == end {
        start.to_string()
    } else if end >= max {
        format!("{start} to max")
    } else {
        format!("{start} to {end}")
    }
}

/// The type of a field as this text writes it: the scalar keyword, or the full name of a
/// message or enum with a leading dot.
fn type_name(kind: &Kind) -> String {
    match kind {
        Kind::Message(m) => format!(".{}", m.full_name()),
        Kind::Enum(e) => format!(".{}", e.full_name()),
        scalar => super::super::kind_name(scalar),
    }
}

/// Whether the repeated field `f` is packed: its `packed` option, else its file's default
/// (proto3 packs, proto2 does not). Read from the descriptor's options, which protox fills
/// (prost-reflect's `is_packed` misses an explicit `[packed = true]` of a proto2 file).
fn packed(f: &FieldDescriptor) -> bool {
    f.field_descriptor_proto()
        .options
        .as_ref()
        .and_then(|o| o.packed)
        .unwrap_or(f.parent_file().syntax() == Syntax::Proto3)
}

/// Whether repeated fields of `kind` can be packed (numbers, bools, enums).
fn packable(kind: &Kind) -> bool {
    !matches!(kind, Kind::String | Kind::Bytes | Kind::Message(_))
}

/// The `[default = ...]` literal of a proto2 default as the descriptor holds it: strings
/// quoted and escaped, bytes quoted (the descriptor holds them C-escaped already), the rest
/// (numbers, `true`, `inf`, enum value names) as they are.
fn default_literal(kind: &Kind, value: &str) -> String {
    match kind {
        Kind::String => {
            let mut out = String::from("\"");
            for c in value.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    c if c.is_control() => {
                        let _ = write!(out, "\\{:03o}", u32::from(c));
                    }
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        }
        Kind::Bytes => format!("\"{value}\""),
        _ => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_written_like_protoc_reads_them() {
        assert_eq!(range(5, 5, 100), "5");
        assert_eq!(range(5, 9, 100), "5 to 9");
        assert_eq!(range(5, 100, 100), "5 to max");
    }

    #[test]
    fn string_defaults_are_quoted_and_escaped() {
        assert_eq!(
            default_literal(&Kind::String, "a\"b\\c\n"),
            "\"a\\\"b\\\\c\\n\""
        );
        assert_eq!(default_literal(&Kind::Int32, "-3"), "-3");
        assert_eq!(default_literal(&Kind::Bytes, "\\001x"), "\"\\001x\"");
    }
}
