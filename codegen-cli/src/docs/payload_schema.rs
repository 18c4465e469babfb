//! The payload schema of a message in the AsyncAPI document: one self-contained `.proto`
//! text with the message and every type it uses, transitively (messages, enums, the
//! messages they are nested in, well-known types such as `google.protobuf.Timestamp`), and
//! no `import`.
//!
//! Why: AsyncAPI's protobuf schema parser (`@asyncapi/protobuf-schema-parser`) compiles the
//! payload text with protobufjs and loads no imported file but its bundled copies of
//! `google/protobuf/*` and `google/type/*` ("Imports are currently not implemented"), so a
//! payload that imports a file of its own set fails; inlining the message's whole file also
//! made the document grow as events x file size. Each payload now carries only what its
//! message needs, so the document grows linearly with the number of events.
//!
//! Full names are kept, so that a consumer reading the schema sees the real contract
//! (`.common.v1.Money`, `.google.protobuf.Timestamp`):
//! - when every type is in one package, the text is an ordinary `.proto` file:
//!   `package <that package>;` and the types at the top level;
//! - when the types span several packages, the text has no `package` (protobufjs, like
//!   protoc, takes one `package` per file, before any type) and each package is written as
//!   nested messages named after its parts (`message common { message v1 { message Money
//!   ... } } }`): protobufjs resolves `.common.v1.Money` to it, and the wire encoding does not
//!   depend on where a type is declared. A header comment says so.
//!
//! Every type is referred to by its full name (a leading dot), so no reference can resolve
//! to another type than in the original files. One syntax per text: `proto3` when every type
//! comes from a proto3 file, else `proto2` (proto3 can say neither `required` nor defaults),
//! with the singular fields of proto3 files written `optional` and the packed encoding of
//! their repeated scalars said explicitly (protobufjs and protox read such a text; protoc
//! would refuse a proto3 enum used in a proto2 message there, which only an `edition` text
//! could say). The comments of the types and fields are kept
//! (the parser turns them into descriptions); the root message gets the `// @RootNode` marker
//! ([`ROOT_MARKER`](super::proto_source::ROOT_MARKER)) the parser uses to pick the payload
//! among several top-level messages.

mod text;

use std::collections::{BTreeMap, BTreeSet};

use prost_reflect::{EnumDescriptor, FileDescriptor, Kind, MessageDescriptor, Syntax};

/// The schema format of a payload written in proto3 syntax.
pub const PROTO3_SCHEMA_FORMAT: &str = "application/vnd.google.protobuf;version=3";
/// The schema format of a payload written in proto2 syntax.
pub const PROTO2_SCHEMA_FORMAT: &str = "application/vnd.google.protobuf;version=2";

/// The payload schema of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadSchema {
    /// The `.proto` text.
    pub text: String,
    /// Whether it is written in proto3 syntax (else proto2).
    pub proto3: bool,
    /// The full names of the messages and enums it declares (not the package wrappers),
    /// sorted.
    pub types: Vec<String>,
    /// The packages of those types, sorted.
    pub packages: Vec<String>,
}

impl PayloadSchema {
    /// The AsyncAPI `schemaFormat` of the text ([`PROTO3_SCHEMA_FORMAT`] or
    /// [`PROTO2_SCHEMA_FORMAT`]).
    pub fn schema_format(&self) -> &'static str {
        if self.proto3 {
            PROTO3_SCHEMA_FORMAT
        } else {
            PROTO2_SCHEMA_FORMAT
        }
    }
}

/// The self-contained payload schema of `root` (see the module documentation).
pub fn payload_schema(root: &MessageDescriptor) -> PayloadSchema {
    let types = closure(root);
    let proto3 = types.values().all(|t| t.file().syntax() == Syntax::Proto3);
    let packages: BTreeSet<String> = types.values().map(|t| t.package().to_owned()).collect();
    let text = text::write(root, &types, &packages, proto3);
    PayloadSchema {
        text,
        proto3,
        types: types.keys().cloned().collect(),
        packages: packages.into_iter().collect(),
    }
}

/// A message or enum declared in a payload schema.
#[derive(Debug, Clone)]
pub(crate) enum Type {
    /// A message (never a map entry: those are written as `map<K, V>`).
    Message(MessageDescriptor),
    /// An enum.
    Enum(EnumDescriptor),
}

impl Type {
    pub(crate) fn full_name(&self) -> &str {
        match self {
            Type::Message(m) => m.full_name(),
            Type::Enum(e) => e.full_name(),
        }
    }

    pub(crate) fn package(&self) -> &str {
        match self {
            Type::Message(m) => m.package_name(),
            Type::Enum(e) => e.package_name(),
        }
    }

    pub(crate) fn file(&self) -> FileDescriptor {
        match self {
            Type::Message(m) => m.parent_file(),
            Type::Enum(e) => e.parent_file(),
        }
    }

    pub(crate) fn parent_message(&self) -> Option<MessageDescriptor> {
        match self {
            Type::Message(m) => m.parent_message(),
            Type::Enum(e) => e.parent_message(),
        }
    }

    pub(crate) fn path(&self) -> &[i32] {
        match self {
            Type::Message(m) => m.path(),
            Type::Enum(e) => e.path(),
        }
    }
}

/// Every type `root` needs, by full name: `root`, the types of its fields (of map keys and
/// values too), the messages a needed type is nested in, and theirs, transitively. Map entry
/// messages are not listed.
pub(crate) fn closure(root: &MessageDescriptor) -> BTreeMap<String, Type> {
    let mut out = BTreeMap::new();
    let mut todo = vec![Type::Message(root.clone())];
    while let Some(next) = todo.pop() {
        if out.contains_key(next.full_name()) {
            continue;
        }
        if let Some(parent) = next.parent_message() {
            todo.push(Type::Message(parent));
        }
        if let Type::Message(message) = &next {
            for field in message.fields() {
                used(&field.kind(), &mut todo);
            }
        }
        out.insert(next.full_name().to_owned(), next);
    }
    out
}

/// Pushes onto `todo` the type `kind` names, or for a map entry the types of its key and
/// value.
fn used(kind: &Kind, todo: &mut Vec<Type>) {
    match kind {
        Kind::Message(m) if m.is_map_entry() => {
            for field in m.fields() {
                used(&field.kind(), todo);
            }
        }
        Kind::Message(m) => todo.push(Type::Message(m.clone())),
        Kind::Enum(e) => todo.push(Type::Enum(e.clone())),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pool of `files` (name, text), compiled by protox with source info.
    fn pool(files: &[(&str, &str)]) -> prost_reflect::DescriptorPool {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        }
        let mut compiler = protox::Compiler::new([dir.path()]).expect("compiler");
        compiler.include_source_info(true).include_imports(true);
        let names: Vec<&str> = files.iter().map(|(n, _)| *n).collect();
        compiler.open_files(names).expect("compile");
        compiler.descriptor_pool()
    }

    const LEDGER: &str = "syntax = \"proto2\";\npackage ledger.v1;\n\
        enum Side { SIDE_DEBIT = 1; SIDE_CREDIT = 2; }\n\
        message Posting {\n  message Memo { optional string text = 1; }\n  required string account = 1;\n  \
        optional string currency = 3 [default = \"E\\\"R\"];\n  optional Side side = 4 [default = SIDE_CREDIT];\n  \
        repeated int64 tags = 5 [packed = true];\n  repeated int32 plain = 7;\n  optional Memo memo = 6;\n  \
        reserved 8, 10 to 12;\n}\nmessage Unused { optional int32 x = 1; }\n";

    const SHOP: &str = "syntax = \"proto3\";\npackage shop.v1;\nimport \"ledger.proto\";\n\
        import \"google/protobuf/timestamp.proto\";\n\
        // An order.\nmessage Order {\n  oneof choice { string a = 1; int32 b = 2; }\n  \
        optional string note = 3;\n  repeated int32 numbers = 4;\n  map<string, ledger.v1.Posting.Memo> memos = 5;\n  \
        google.protobuf.Timestamp at = 6;\n  Order parent = 7;\n}\nmessage Other { string x = 1; }\n";

    #[test]
    fn the_closure_has_what_the_message_uses_and_no_more() {
        let pool = pool(&[("ledger.proto", LEDGER), ("shop.proto", SHOP)]);
        let order = pool.get_message_by_name("shop.v1.Order").expect("Order");
        let schema = payload_schema(&order);
        assert_eq!(
            schema.types,
            [
                "google.protobuf.Timestamp",
                "ledger.v1.Posting",
                "ledger.v1.Posting.Memo",
                "ledger.v1.Side",
                "shop.v1.Order",
            ],
            "the parent of a nested type used, and its own types; not Other, not Unused"
        );
        assert_eq!(schema.packages, ["google.protobuf", "ledger.v1", "shop.v1"]);
        assert!(!schema.proto3, "a proto2 type makes the text proto2");
        assert_eq!(schema.schema_format(), PROTO2_SCHEMA_FORMAT);
    }

    #[test]
    fn several_packages_are_nested_messages_and_proto3_fields_keep_their_encoding() {
        let pool = pool(&[("ledger.proto", LEDGER), ("shop.proto", SHOP)]);
        let order = pool.get_message_by_name("shop.v1.Order").expect("Order");
        let text = payload_schema(&order).text;
        assert!(!text.contains("import "), "{text}");
        assert!(!text.contains("package "), "{text}");
        for part in [
            "syntax = \"proto2\";\n",
            "message ledger {\n  message v1 {\n",
            "    message Posting {\n      message Memo {\n        optional string text = 1;\n      }\n",
            "      required string account = 1;\n",
            "      optional string currency = 3 [default = \"E\\\"R\"];\n",
            "      optional .ledger.v1.Side side = 4 [default = SIDE_CREDIT];\n",
            "      repeated int64 tags = 5 [packed = true];\n",
            "      repeated int32 plain = 7;\n",
            "      reserved 8, 10 to 12;\n",
            "message shop {\n  message v1 {\n    // An order.\n    // @RootNode\n    message Order {\n",
            "      oneof choice {\n        string a = 1;\n        int32 b = 2;\n      }\n",
            "      optional string note = 3;\n",
            "      repeated int32 numbers = 4 [packed = true];\n",
            "      map<string, .ledger.v1.Posting.Memo> memos = 5;\n",
            "      optional .google.protobuf.Timestamp at = 6;\n",
            "      optional .shop.v1.Order parent = 7;\n",
        ] {
            assert!(text.contains(part), "missing {part:?} in\n{text}");
        }
    }

    #[test]
    fn one_package_is_an_ordinary_file() {
        let pool = pool(&[("ledger.proto", LEDGER)]);
        let posting = pool
            .get_message_by_name("ledger.v1.Posting")
            .expect("Posting");
        let schema = payload_schema(&posting);
        assert_eq!(schema.packages, ["ledger.v1"]);
        assert!(
            schema.text.contains(
                "syntax = \"proto2\";\n\npackage ledger.v1;\n\n// @RootNode\nmessage Posting {\n"
            ),
            "{}",
            schema.text
        );
        assert!(
            schema.text.contains("\nenum Side {\n  SIDE_DEBIT = 1;\n"),
            "{}",
            schema.text
        );
    }
}
