//! The property fixture: every proto field kind x every source form of the table, checked one
//! by one with `eventmap_codegen::analyze_str`; every (kind, form) that `check` accepts gets
//! each domain type the docs allow for it, and all of those go into ONE table that the
//! `Builder` generates (compiled by this crate under `deny(warnings)`). Written into
//! `OUT_DIR/property/`: `prop3.proto`, `prop2.proto`, `mappings.yaml`, and `cases.rs` (the
//! domain types, one runner per accepted case with its expected proto value, and the
//! rejections with their diagnostics), included by `src/lib.rs`.

use std::fmt::Write as _;
use std::path::Path;

/// How the field under test is declared.
#[derive(Clone, Copy, PartialEq)]
enum Label {
    /// proto3 singular.
    Plain,
    /// proto3 `optional`.
    Optional,
    /// `repeated` (proto3).
    Repeated,
    /// A member of `oneof pick` (proto3), next to `string other`.
    Oneof,
    /// proto2 `required`.
    Required,
    /// proto2 `optional`.
    Optional2,
}

/// What the field holds.
#[derive(Clone, Copy, PartialEq)]
enum Base {
    /// A scalar by its proto name.
    Scalar(&'static str),
    /// The enum `Color`.
    Enum,
    /// The message `Inner { string name = 1; int32 n = 2; }`.
    Msg,
    /// `google.protobuf.Timestamp`.
    Timestamp,
    /// `google.protobuf.Duration`.
    Duration,
    /// A wrapper by name (`StringValue`) and its scalar.
    Wrapper(&'static str, &'static str),
    /// `google.protobuf.Empty`.
    Empty,
    /// `map<string, int64>`.
    MapScalar,
    /// `map<string, Inner>`.
    MapMsg,
}

struct Kind {
    base: Base,
    label: Label,
    /// Field options (`[deprecated = true]`).
    options: &'static str,
}

const SCALARS: &[&str] = &[
    "int32", "sint32", "sfixed32", "int64", "sint64", "sfixed64", "uint32", "fixed32", "uint64",
    "fixed64", "float", "double", "bool", "string", "bytes",
];

const ENVELOPES: &[&str] = &[
    "event_id",
    "integration_event_id",
    "event_name",
    "aggregate_id",
    "aggregate_name",
    "aggregate_version",
    "occurred_at",
];

fn kinds() -> Vec<Kind> {
    let mut out = Vec::new();
    let labels = [
        Label::Plain,
        Label::Optional,
        Label::Repeated,
        Label::Oneof,
        Label::Required,
        Label::Optional2,
    ];
    for base in SCALARS
        .iter()
        .map(|s| Base::Scalar(s))
        .chain([Base::Enum, Base::Msg])
    {
        for label in labels {
            if base == Base::Msg && label == Label::Optional {
                continue; // proto3 `optional` on a message means nothing more than singular
            }
            out.push(Kind {
                base,
                label,
                options: "",
            });
        }
    }
    for base in [Base::Timestamp, Base::Duration] {
        for label in [Label::Plain, Label::Repeated, Label::Oneof] {
            out.push(Kind {
                base,
                label,
                options: "",
            });
        }
    }
    for (name, scalar) in [
        ("StringValue", "string"),
        ("Int64Value", "int64"),
        ("BoolValue", "bool"),
        ("UInt32Value", "uint32"),
        ("BytesValue", "bytes"),
    ] {
        out.push(Kind {
            base: Base::Wrapper(name, scalar),
            label: Label::Plain,
            options: "",
        });
    }
    for base in [Base::Empty, Base::MapScalar, Base::MapMsg] {
        out.push(Kind {
            base,
            label: Label::Plain,
            options: "",
        });
    }
    out.push(Kind {
        base: Base::Scalar("int64"),
        label: Label::Plain,
        options: " [deprecated = true]",
    });
    out.push(Kind {
        base: Base::Scalar("int32"),
        label: Label::Required,
        options: " [default = 5]",
    });
    out.push(Kind {
        base: Base::Scalar("string"),
        label: Label::Optional2,
        options: " [default = \"dflt\"]",
    });
    out.push(Kind {
        base: Base::Enum,
        label: Label::Optional2,
        options: " [default = COLOR_GREEN]",
    });
    out
}

impl Kind {
    fn proto2(&self) -> bool {
        matches!(self.label, Label::Required | Label::Optional2)
    }

    fn package(&self) -> &'static str {
        if self.proto2() { "prop.v2" } else { "prop.v3" }
    }

    fn module(&self) -> &'static str {
        if self.proto2() {
            "crate::property_proto::prop::v2"
        } else {
            "crate::property_proto::prop::v3"
        }
    }

    fn proto_type(&self) -> String {
        match self.base {
            Base::Scalar(s) => s.to_owned(),
            Base::Enum => "Color".into(),
            Base::Msg => "Inner".into(),
            Base::Timestamp => "google.protobuf.Timestamp".into(),
            Base::Duration => "google.protobuf.Duration".into(),
            Base::Wrapper(name, _) => format!("google.protobuf.{name}"),
            Base::Empty => "google.protobuf.Empty".into(),
            Base::MapScalar => "map<string, int64>".into(),
            Base::MapMsg => "map<string, Inner>".into(),
        }
    }

    /// The message declaring the field.
    fn message(&self, index: usize) -> String {
        let ty = self.proto_type();
        let options = self.options;
        let field = match self.label {
            Label::Plain => format!("  {ty} value = 1{options};"),
            Label::Optional => format!("  optional {ty} value = 1{options};"),
            Label::Repeated => format!("  repeated {ty} value = 1{options};"),
            Label::Oneof => format!(
                "  oneof pick {{\n    {ty} value = 1{options};\n    string other = 2;\n  }}"
            ),
            Label::Required => format!("  required {ty} value = 1{options};"),
            Label::Optional2 => format!("  optional {ty} value = 1{options};"),
        };
        format!("message K{index} {{\n{field}\n}}\n\n")
    }

    fn describe(&self) -> String {
        let label = match self.label {
            Label::Plain => "",
            Label::Optional => "optional ",
            Label::Repeated => "repeated ",
            Label::Oneof => "oneof ",
            Label::Required => "proto2 required ",
            Label::Optional2 => "proto2 optional ",
        };
        format!("{label}{}{}", self.proto_type(), self.options)
    }
}

/// The source form of the field under test.
#[derive(Clone, Copy)]
enum Form {
    From,
    With,
    Checked,
    Enum,
    Fields,
    Envelope(&'static str),
    Const,
    Default,
}

fn forms() -> Vec<Form> {
    let mut out = vec![
        Form::From,
        Form::With,
        Form::Checked,
        Form::Enum,
        Form::Fields,
    ];
    out.extend(ENVELOPES.iter().map(|e| Form::Envelope(e)));
    out.extend([Form::Const, Form::Default]);
    out
}

impl Form {
    fn describe(self) -> String {
        match self {
            Form::From => "from".into(),
            Form::With => "with".into(),
            Form::Checked => "checked".into(),
            Form::Enum => "enum".into(),
            Form::Fields => "fields".into(),
            Form::Envelope(e) => format!("envelope {e}"),
            Form::Const => "const".into(),
            Form::Default => "default".into(),
        }
    }

    /// The table's value for field `value`.
    fn source(self, kind: &Kind) -> String {
        match self {
            Form::From => "{ from: v }".into(),
            Form::With => "{ from: v, with: crate::property::clone_it }".into(),
            Form::Checked => "{ from: v, checked: true }".into(),
            Form::Enum => "{ from: v, enum: crate::property::Color, values: { Red: COLOR_RED, Green: COLOR_GREEN } }".into(),
            Form::Fields => match kind.base {
                Base::Msg | Base::MapMsg => {
                    "{ from: v, fields: { name: { from: name }, n: { from: n } } }".into()
                }
                Base::Timestamp | Base::Duration => {
                    "{ from: v, fields: { seconds: { from: secs }, nanos: { const: 5 } } }".into()
                }
                Base::Empty => "{ from: v, fields: {} }".into(),
                Base::Wrapper(..) => "{ from: v, fields: { value: { from: x } } }".into(),
                _ => "{ from: v, fields: { x: { from: x } } }".into(),
            },
            Form::Envelope(e) => format!("{{ envelope: {e} }}"),
            Form::Const => {
                let text = match kind.base {
                    Base::Scalar("float" | "double") => "1.5",
                    Base::Scalar("bool") => "true",
                    Base::Scalar("string" | "bytes") => "ab",
                    Base::Enum => "COLOR_GREEN",
                    _ => "42",
                };
                format!("{{ const: \"{text}\" }}")
            }
            Form::Default => "default".into(),
        }
    }
}

/// A domain type for the field: its Rust type, a value, and the prost value it must become
/// (before the label's wrapping).
struct Domain {
    ty: String,
    value: String,
    expected: String,
}

fn d(ty: &str, value: &str, expected: &str) -> Domain {
    Domain {
        ty: ty.into(),
        value: value.into(),
        expected: expected.into(),
    }
}

/// The prost Rust type of a scalar.
fn rust_scalar(scalar: &str) -> &'static str {
    match scalar {
        "int32" | "sint32" | "sfixed32" => "i32",
        "int64" | "sint64" | "sfixed64" => "i64",
        "uint32" | "fixed32" => "u32",
        "uint64" | "fixed64" => "u64",
        "float" => "f32",
        "double" => "f64",
        "bool" => "bool",
        "string" => "String",
        _ => "Vec<u8>",
    }
}

/// Plain domain values that `from` converts into a scalar (the docs' table).
fn scalar_values(scalar: &str) -> Vec<Domain> {
    match rust_scalar(scalar) {
        "i32" => vec![
            d("i32", "-5i32", "-5i32"),
            d("u16", "65535u16", "65535i32"),
            d("i8", "-3i8", "-3i32"),
        ],
        "i64" => vec![
            d("i64", "-9_000_000_000i64", "-9_000_000_000i64"),
            d("u32", "4_000_000_000u32", "4_000_000_000i64"),
            d("i32", "-7i32", "-7i64"),
        ],
        "u32" => vec![
            d("u32", "4_000_000_000u32", "4_000_000_000u32"),
            d("u8", "200u8", "200u32"),
        ],
        "u64" => vec![d("u64", "u64::MAX", "u64::MAX"), d("u32", "7u32", "7u64")],
        "f32" => vec![d("f32", "1.5f32", "1.5f32")],
        "f64" => vec![
            d("f64", "-2.25f64", "-2.25f64"),
            d("f32", "0.5f32", "0.5f64"),
        ],
        "bool" => vec![d("bool", "true", "true")],
        "String" => vec![
            d("String", "String::from(\"s\")", "String::from(\"s\")"),
            d("&'static str", "\"t\"", "String::from(\"t\")"),
            d("char", "'€'", "String::from(\"€\")"),
            d(
                "uuid::Uuid",
                "uuid::Uuid::from_u128(1)",
                "String::from(\"00000000-0000-0000-0000-000000000001\")",
            ),
            d(
                "std::sync::Arc<str>",
                "std::sync::Arc::from(\"arc\")",
                "String::from(\"arc\")",
            ),
        ],
        _ => vec![
            d("Vec<u8>", "vec![0u8, 255]", "vec![0u8, 255]"),
            d(
                "uuid::Uuid",
                "uuid::Uuid::from_u128(1)",
                "uuid::Uuid::from_u128(1).as_bytes().to_vec()",
            ),
        ],
    }
}

/// The domain values of a (kind, form) that `check` accepted, with the label's wrapping
/// applied; empty when the enumeration knows none (the build then fails: every accepted
/// combination must have a documented domain type).
fn domains(kind: &Kind, form: Form, name: &str) -> Vec<Domain> {
    let m = kind.module();
    let inner = format!("{m}::Inner {{ name: String::from(\"in\"), n: 3 }}");
    let stamp = "prost_types::Timestamp { seconds: 1_700_000_000, nanos: 5 }";
    let base: Vec<Domain> = match (form, kind.base) {
        (Form::From, Base::Scalar(s)) => scalar_values(s),
        (Form::With, Base::Scalar(s)) => scalar_values(s).into_iter().take(1).collect(),
        (Form::Checked, Base::Scalar(s)) => {
            let p = rust_scalar(s);
            vec![
                d("u64", "7u64", &format!("7{p}")),
                d("usize", "9usize", &format!("9{p}")),
                d("i64", "11i64", &format!("11{p}")),
            ]
        }
        (Form::From | Form::With, Base::Enum) => vec![d("i32", "2i32", "2i32")],
        (Form::Enum, Base::Enum) => vec![d(
            "crate::property::Color",
            "crate::property::Color::Green",
            "2i32",
        )],
        (Form::From, Base::Msg) => {
            vec![d("crate::property::Own", "crate::property::Own(3)", &inner)]
        }
        (Form::With, Base::Msg) => vec![d(&format!("{m}::Inner"), &inner, &inner)],
        (Form::Fields, Base::Msg) => vec![d(
            "crate::property::InnerD",
            "crate::property::InnerD { name: String::from(\"in\"), n: 3 }",
            &inner,
        )],
        (Form::From | Form::With, Base::Timestamp) => vec![d(
            "std::time::SystemTime",
            "std::time::UNIX_EPOCH + std::time::Duration::new(1_700_000_000, 5)",
            stamp,
        )],
        (Form::From | Form::With, Base::Duration) => vec![d(
            "std::time::Duration",
            "std::time::Duration::new(90, 5)",
            "prost_types::Duration { seconds: 90, nanos: 5 }",
        )],
        (Form::Fields, Base::Timestamp) => vec![d(
            "crate::property::Stamp",
            "crate::property::Stamp { secs: 1_700_000_000 }",
            stamp,
        )],
        (Form::Fields, Base::Duration) => vec![d(
            "crate::property::Stamp",
            "crate::property::Stamp { secs: 90 }",
            "prost_types::Duration { seconds: 90, nanos: 5 }",
        )],
        (Form::Envelope("occurred_at"), Base::Timestamp) => vec![d("()", "()", stamp)],
        (Form::From | Form::With, Base::Wrapper(_, s)) => {
            scalar_values(s).into_iter().take(1).collect()
        }
        (Form::From | Form::With | Form::Fields, Base::Empty) => vec![d("()", "()", "()")],
        (Form::From, Base::MapScalar) => vec![
            d(
                "std::collections::HashMap<String, i64>",
                "[(String::from(\"k\"), -1i64)].into_iter().collect()",
                "[(String::from(\"k\"), -1i64)].into_iter().collect::<std::collections::HashMap<_, _>>()",
            ),
            d(
                "std::collections::BTreeMap<String, u32>",
                "[(String::from(\"k\"), 4u32)].into_iter().collect()",
                "[(String::from(\"k\"), 4i64)].into_iter().collect::<std::collections::HashMap<_, _>>()",
            ),
            // A domain `Option` of the map: `None` is an empty map.
            d(
                "Option<std::collections::HashMap<String, i64>>",
                "Some([(String::from(\"k\"), -1i64)].into_iter().collect())",
                "[(String::from(\"k\"), -1i64)].into_iter().collect::<std::collections::HashMap<_, _>>()",
            ),
            d(
                "Option<std::collections::HashMap<String, i64>>",
                "None",
                "std::collections::HashMap::<String, i64>::new()",
            ),
        ],
        (Form::With, Base::MapScalar) => vec![d(
            "std::collections::HashMap<String, i64>",
            "[(String::from(\"k\"), -1i64)].into_iter().collect()",
            "[(String::from(\"k\"), -1i64)].into_iter().collect::<std::collections::HashMap<_, _>>()",
        )],
        (Form::From, Base::MapMsg) => vec![d(
            "std::collections::BTreeMap<String, crate::property::Own>",
            "[(String::from(\"k\"), crate::property::Own(3))].into_iter().collect()",
            &format!(
                "[(String::from(\"k\"), {inner})].into_iter().collect::<std::collections::HashMap<_, _>>()"
            ),
        )],
        (Form::Fields, Base::MapMsg) => vec![
            d(
                "std::collections::BTreeMap<String, crate::property::InnerD>",
                "[(String::from(\"k\"), crate::property::InnerD { name: String::from(\"in\"), n: 3 })].into_iter().collect()",
                &format!(
                    "[(String::from(\"k\"), {inner})].into_iter().collect::<std::collections::HashMap<_, _>>()"
                ),
            ),
            // A domain `Option` of the map: `None` is an empty map.
            d(
                "Option<std::collections::BTreeMap<String, crate::property::InnerD>>",
                "Some([(String::from(\"k\"), crate::property::InnerD { name: String::from(\"in\"), n: 3 })].into_iter().collect())",
                &format!(
                    "[(String::from(\"k\"), {inner})].into_iter().collect::<std::collections::HashMap<_, _>>()"
                ),
            ),
            d(
                "Option<std::collections::BTreeMap<String, crate::property::InnerD>>",
                "None",
                &format!(
                    "{{ let mut none = [(String::from(\"k\"), {inner})].into_iter().collect::<std::collections::HashMap<_, _>>(); none.clear(); none }}"
                ),
            ),
        ],
        (Form::With, Base::MapMsg) => vec![d(
            &format!("std::collections::HashMap<String, {m}::Inner>"),
            &format!("[(String::from(\"k\"), {inner})].into_iter().collect()"),
            &format!(
                "[(String::from(\"k\"), {inner})].into_iter().collect::<std::collections::HashMap<_, _>>()"
            ),
        )],
        (Form::Envelope(e), Base::Scalar(s)) => {
            let p = rust_scalar(s);
            let expected = match (e, p) {
                ("event_id", "String") => "event.id().to_string()".to_owned(),
                ("event_id", _) => "event.id().as_bytes().to_vec()".to_owned(),
                ("integration_event_id", "String") => {
                    format!("eventmap::integration_event_id(event.id(), \"{name}\").to_string()")
                }
                ("integration_event_id", _) => format!(
                    "eventmap::integration_event_id(event.id(), \"{name}\").as_bytes().to_vec()"
                ),
                ("event_name", _) => "String::from(\"Prop\")".to_owned(),
                ("aggregate_id", _) => "String::from(\"agg-1\")".to_owned(),
                ("aggregate_name", _) => "String::from(\"Aggregate\")".to_owned(),
                _ => format!("7{p}"),
            };
            vec![d("()", "()", &expected)]
        }
        (Form::Const, Base::Scalar(s)) => {
            let expected = match rust_scalar(s) {
                "f32" => "1.5f32".to_owned(),
                "f64" => "1.5f64".to_owned(),
                "bool" => "true".to_owned(),
                "String" => "String::from(\"ab\")".to_owned(),
                "Vec<u8>" => "b\"ab\".to_vec()".to_owned(),
                p => format!("42{p}"),
            };
            vec![d("()", "()", &expected)]
        }
        (Form::Const, Base::Enum) => vec![d("()", "()", "2i32")],
        (Form::Default, _) => vec![d("()", "()", "DEFAULT")],
        _ => Vec::new(),
    };
    // The label's wrapping; a domain `Option` too where the field is `Option<T>`.
    let plain_only = matches!(form, Form::Envelope(_) | Form::Const | Form::Default)
        || base.iter().any(|b| b.ty == "()");
    let optional = matches!(kind.label, Label::Optional | Label::Optional2)
        || matches!(kind.base, Base::Wrapper(..) | Base::Empty)
        || (matches!(kind.base, Base::Msg | Base::Timestamp | Base::Duration)
            && !matches!(kind.label, Label::Repeated | Label::Oneof | Label::Required));
    let mut out = Vec::new();
    for b in base {
        if b.expected == "DEFAULT" {
            out.push(b);
            continue;
        }
        match kind.label {
            Label::Repeated => {
                // A domain `Option` of the collection: `None` is an empty field.
                if b.ty != "()"
                    && matches!(form, Form::From | Form::Checked | Form::Enum | Form::Fields)
                {
                    out.push(Domain {
                        ty: format!("Option<Vec<{}>>", b.ty),
                        value: format!("Some(vec![{v}, {v}])", v = b.value),
                        expected: format!("vec![{e}, {e}]", e = b.expected),
                    });
                    out.push(Domain {
                        ty: format!("Option<Vec<{}>>", b.ty),
                        value: "None".into(),
                        // Typed by its element, then emptied.
                        expected: format!(
                            "{{ let mut none = vec![{e}]; none.clear(); none }}",
                            e = b.expected
                        ),
                    });
                }
                out.push(Domain {
                    ty: if b.ty == "()" {
                        "()".into()
                    } else {
                        format!("Vec<{}>", b.ty)
                    },
                    value: if b.ty == "()" {
                        "()".into()
                    } else {
                        format!("vec![{v}, {v}]", v = b.value)
                    },
                    expected: format!("vec![{e}, {e}]", e = b.expected),
                })
            }
            Label::Oneof => out.push(Domain {
                expected: format!("Some({m}::k{{index}}::Pick::Value({}))", b.expected),
                ..b
            }),
            _ if optional => {
                // A domain `Option` converts into an `Option<T>` field (optional, wrapper),
                // into a `Timestamp` or `Duration` field (`Option<SystemTime>`, ...), and,
                // through a `with:` function returning it or field by field (`fields:`), into
                // a message field; `from` into an own message field takes the plain value.
                let message = matches!(kind.base, Base::Msg | Base::Timestamp | Base::Duration);
                let with_option_domain = !plain_only
                    && ((!message && matches!(kind.label, Label::Optional | Label::Optional2))
                        || matches!(kind.base, Base::Wrapper(..))
                        || (kind.base == Base::Msg && matches!(form, Form::With | Form::Fields))
                        || matches!(kind.base, Base::Timestamp | Base::Duration))
                    && kind.base != Base::Empty;
                if with_option_domain {
                    out.push(Domain {
                        ty: format!("Option<{}>", b.ty),
                        value: format!("Some({})", b.value),
                        expected: format!("Some({})", b.expected),
                    });
                    out.push(Domain {
                        ty: format!("Option<{}>", b.ty),
                        value: "None".into(),
                        expected: "None".into(),
                    });
                }
                out.push(Domain {
                    expected: format!("Some({})", b.expected),
                    ..b
                });
            }
            _ => out.push(b),
        }
    }
    out
}

/// A rejected (kind, form): the rule and location `check` reported.
struct Rejected {
    what: String,
    rule: String,
    line: usize,
    expected_line: usize,
}

const HEADER: &str = "version: 1
service: property
protos:
  include: [.]
  files: [prop3.proto, prop2.proto]
rust:
  domain_module: crate::property
  proto_module: crate::property_proto
channels:
  props: { subject: property.props, stream: PROPERTY_PROPS }
events:
";

fn row(case: usize, kind_index: usize, kind: &Kind, form: Form) -> String {
    let mut text = format!(
        "  D{case}:\n    - name: E{case}Event\n      message: {}.K{kind_index}\n      channel: props\n      fields:\n        value: {}\n",
        kind.package(),
        form.source(kind)
    );
    if kind.label == Label::Oneof {
        text.push_str("        other: default\n");
    }
    text
}

fn protos(kinds: &[Kind], proto2: bool) -> String {
    let (syntax, package) = if proto2 {
        ("proto2", "prop.v2")
    } else {
        ("proto3", "prop.v3")
    };
    let inner = if proto2 {
        "message Inner {\n  required string name = 1;\n  required int32 n = 2;\n}\n\n"
    } else {
        "message Inner {\n  string name = 1;\n  int32 n = 2;\n}\n\n"
    };
    let mut text = format!(
        "// @generated by tests/build/property.rs\nsyntax = \"{syntax}\";\n\npackage {package};\n\nimport \"google/protobuf/timestamp.proto\";\nimport \"google/protobuf/duration.proto\";\nimport \"google/protobuf/wrappers.proto\";\nimport \"google/protobuf/empty.proto\";\n\nenum Color {{\n  COLOR_UNSPECIFIED = 0;\n  COLOR_RED = 1;\n  COLOR_GREEN = 2;\n}}\n\n{inner}"
    );
    for (index, kind) in kinds.iter().enumerate() {
        if kind.proto2() == proto2 {
            text.push_str(&kind.message(index));
        }
    }
    text
}

/// Writes the fixture into `dir` and returns the path of the combined table.
pub fn write(dir: &Path) -> std::path::PathBuf {
    std::fs::create_dir_all(dir).expect("create the property fixture folder");
    let kinds = kinds();
    std::fs::write(dir.join("prop3.proto"), protos(&kinds, false)).expect("write prop3.proto");
    std::fs::write(dir.join("prop2.proto"), protos(&kinds, true)).expect("write prop2.proto");

    let mut table = HEADER.to_owned();
    let mut domain = String::new();
    let mut runners = String::new();
    let mut names = String::new();
    let mut rejected: Vec<Rejected> = Vec::new();
    let mut accepted_pairs = 0usize;
    let mut case = 0usize;
    let probe_path = dir.join("probe.yaml");
    for (kind_index, kind) in kinds.iter().enumerate() {
        for form in forms() {
            let what = format!("{} <- {}", kind.describe(), form.describe());
            let probe = format!("{HEADER}{}", row(0, kind_index, kind, form));
            let analysis = eventmap_codegen::analyze_str(&probe_path, &probe);
            let errors: Vec<_> = analysis
                .diagnostics
                .iter()
                .filter(|d| d.is_error())
                .collect();
            if let Some(first) = errors.first() {
                let expected_line = probe
                    .lines()
                    .position(|l| l.starts_with("        value:"))
                    .map_or(0, |i| i + 1);
                let line = first
                    .location
                    .as_ref()
                    .filter(|l| l.file == probe_path)
                    .map_or(0, |l| l.line);
                rejected.push(Rejected {
                    what,
                    rule: first.rule.to_string(),
                    line,
                    expected_line,
                });
                continue;
            }
            accepted_pairs += 1;
            let event_name = |case: usize| format!("E{case}Event");
            let candidates = domains(kind, form, &event_name(case));
            assert!(
                !candidates.is_empty(),
                "check accepts `{what}` but the property enumeration has no domain type for it"
            );
            for domain_value in candidates {
                // The expected value names the integration event of this very case.
                table.push_str(&row(case, kind_index, kind, form));
                let describe =
                    format!("{what} from `{}` = {}", domain_value.ty, domain_value.value);
                writeln!(
                    domain,
                    "/// Case {case}: {}.\n#[derive(Debug, Clone)]\npub struct D{case} {{\n    /// The value.\n    pub v: {},\n}}\n\nimpl eventmap::DomainEvent for D{case} {{\n    fn event_name(&self) -> &'static str {{\n        \"D{case}\"\n    }}\n}}\n",
                    describe,
                    domain_value.ty
                )
                .ok();
                let access = if kind.label == Label::Oneof {
                    "pick"
                } else {
                    "value"
                };
                let m = kind.module();
                let expected = if domain_value.expected == "DEFAULT" {
                    format!("<{m}::K{kind_index} as ::core::default::Default>::default().{access}")
                } else {
                    domain_value
                        .expected
                        .replace("{index}", &kind_index.to_string())
                };
                writeln!(
                    runners,
                    "/// Converts, encodes and decodes case {case}, comparing the decoded value.\n#[allow(deprecated, clippy::all)]\npub fn run_{case}() -> Result<(), String> {{\n    let event = eventmap::AggregateEvent::new(\"Aggregate\", \"agg-1\", 7, D{case} {{ v: {} }})\n        .with_occurred_at(std::time::UNIX_EPOCH + std::time::Duration::new(1_700_000_000, 5));\n    let converted = crate::property_integration::e{case}_event(&event).map_err(|e| e.to_string())?;\n    let bytes = prost::Message::encode_to_vec(&converted);\n    let decoded = <{m}::K{kind_index} as prost::Message>::decode(bytes.as_slice()).map_err(|e| e.to_string())?;\n    let expected = {expected};\n    if decoded.{access} != expected || converted != decoded {{\n        return Err(format!(\"decoded {{:?}}, expected {{:?}}\", decoded.{access}, expected));\n    }}\n    Ok(())\n}}\n",
                    domain_value.value
                )
                .ok();
                if kind.base == Base::Scalar("int32")
                    && kind.label == Label::Plain
                    && matches!(form, Form::Envelope("aggregate_version"))
                {
                    writeln!(
                        runners,
                        "/// Case {case}'s converter at aggregate version `version` (an `int32` field).\n///\n/// # Errors\n/// When the version does not fit.\npub fn version_into_int32(version: u64) -> Result<i32, eventmap::ConversionError> {{\n    let event = eventmap::AggregateEvent::new(\"Aggregate\", \"agg-1\", version, D{case} {{ v: () }});\n    crate::property_integration::e{case}_event(&event).map(|m| m.value)\n}}\n"
                    )
                    .ok();
                }
                if kind.options == " [default = 5]" && matches!(form, Form::Default) {
                    writeln!(
                        runners,
                        "/// What case {case} encodes for `required int32 value = 1 [default = 5]` mapped `default`.\n///\n/// # Errors\n/// When it does not convert or decode.\npub fn required_default() -> Result<i32, String> {{\n    let event = eventmap::AggregateEvent::new(\"Aggregate\", \"agg-1\", 7, D{case} {{ v: () }});\n    let converted = crate::property_integration::e{case}_event(&event).map_err(|e| e.to_string())?;\n    let bytes = prost::Message::encode_to_vec(&converted);\n    <{m}::K{kind_index} as prost::Message>::decode(bytes.as_slice()).map(|m| m.value).map_err(|e| e.to_string())\n}}\n"
                    )
                    .ok();
                }
                writeln!(names, "    ({:?}, run_{case} as Runner),", describe).ok();
                case += 1;
            }
        }
    }
    // The event name of the probe row is `D0`: the expected `event_name` value is the
    // case's own domain event name.
    let runners = runners.replace("String::from(\"Prop\")", "String::from(\"__EVENT__\")");
    let runners = fix_event_names(&runners);
    let table_path = dir.join("mappings.yaml");
    std::fs::write(&table_path, &table).expect("write the property table");

    let mut out = String::new();
    out.push_str("// @generated by tests/build/property.rs\n\n");
    writeln!(
        out,
        "/// (kind, form) pairs `check` accepted.\npub const ACCEPTED_PAIRS: usize = {accepted_pairs};\n/// Accepted combinations of (kind, form, domain type), each compiled and run.\npub const ACCEPTED: usize = {case};\n"
    )
    .ok();
    out.push_str("/// Converts, encodes, decodes and compares one combination.\npub type Runner = fn() -> Result<(), String>;\n\n/// Every accepted combination and its runner.\npub const CASES: &[(&str, Runner)] = &[\n");
    out.push_str(&names);
    out.push_str("];\n\n");
    out.push_str("/// Every rejected (kind, form): what, rule, reported line, the line of the field in the probe table.\npub const REJECTED: &[(&str, &str, usize, usize)] = &[\n");
    for r in &rejected {
        writeln!(
            out,
            "    ({:?}, {:?}, {}, {}),",
            r.what, r.rule, r.line, r.expected_line
        )
        .ok();
    }
    out.push_str("];\n\n");
    out.push_str(&domain);
    out.push_str(&runners);
    std::fs::write(dir.join("cases.rs"), out).expect("write cases.rs");
    table_path
}

/// `__EVENT__` in run_N becomes `DN` (the `event_name` envelope value of case N).
fn fix_event_names(runners: &str) -> String {
    let mut out = String::with_capacity(runners.len());
    let mut current = String::new();
    for line in runners.lines() {
        if let Some(rest) = line.strip_prefix("pub fn run_") {
            current = format!("D{}", rest.split('(').next().unwrap_or_default());
        }
        out.push_str(&line.replace("__EVENT__", &current));
        out.push('\n');
    }
    out
}
