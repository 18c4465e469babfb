//! Shared by `hostile.rs` and `fuzz.rs`: a temporary project with a small valid table, the
//! hostile inputs, and the invariants every analysis must keep.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use eventmap_codegen::{Analysis, Diagnostic, SourceLocation};

/// A valid table over [`PROTO`]: one event with a nested repeated message.
pub const TABLE: &str = "\
version: 1
service: shop
protos:
  include: [proto]
  files: [shop/v1/shop.proto]
rust:
  domain_module: crate::domain
  proto_module: crate::proto
channels:
  orders: { subject: shop.orders, stream: SHOP_ORDERS }
events:
  Placed:
    - name: PlacedEvent
      message: shop.v1.Placed
      channel: orders
      fields:
        id: { envelope: integration_event_id }
        note: default
        lines:
          from: lines
          fields:
            sku: { from: sku }
            quantity: { from: quantity }
";

/// The proto of [`TABLE`] (`proto/shop/v1/shop.proto`). `Tree` nests itself, for nesting
/// tests.
pub const PROTO: &str = "\
syntax = \"proto3\";
package shop.v1;

message Line {
  string sku = 1;
  int32 quantity = 2;
}

message Placed {
  string id = 1;
  string note = 2;
  repeated Line lines = 3;
}

message Tree {
  string id = 1;
  repeated Tree children = 2;
}
";

/// A temporary folder with `proto/shop/v1/shop.proto` ([`PROTO`]); tables are written as
/// `mappings.yaml` beside `proto/`.
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    pub fn new() -> Project {
        let dir = tempfile::tempdir().expect("tempdir");
        let project = Project { dir };
        project.write_proto("shop/v1/shop.proto", PROTO);
        project
    }

    /// The table's path (written or not).
    pub fn table(&self) -> PathBuf {
        self.dir.path().join("mappings.yaml")
    }

    /// Writes `text` under `proto/`.
    pub fn write_proto(&self, name: &str, text: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.path().join("proto").join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, text).expect("write proto");
        path
    }

    /// Analyzes `text` as the table (through the file, as `eventmap check` reads it).
    pub fn analyze(&self, text: impl AsRef<[u8]>) -> Analysis {
        std::fs::write(self.table(), text).expect("write table");
        let analysis = eventmap_codegen::analyze(&self.table()).expect("table readable");
        assert_invariants(&analysis, &self.table());
        analysis
    }
}

/// [`TABLE`] with `files:` naming `file` instead of the shop proto.
pub fn table_with_file(file: &str) -> String {
    TABLE.replace("files: [shop/v1/shop.proto]", &format!("files: [{file}]"))
}

/// The only error of `analysis`; fails with every diagnostic rendered when there is not
/// exactly one.
pub fn single_error(analysis: &Analysis) -> &Diagnostic {
    let errors: Vec<&Diagnostic> = analysis
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .collect();
    assert_eq!(
        errors.len(),
        1,
        "expected one error:\n{}",
        analysis.render()
    );
    errors[0]
}

/// `(file name, line, column)` of a diagnostic, which must have a location.
pub fn at(d: &Diagnostic) -> (String, usize, usize) {
    let loc = d
        .location
        .as_ref()
        .unwrap_or_else(|| panic!("no location: {d}"));
    let name = loc
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    (name, loc.line, loc.column)
}

/// What every analysis must keep, whatever the input: every location (of a diagnostic or of
/// a note) is 1-based and inside its file (the line at most one past the last line: the end
/// of input), rendering works, and when there is no error the module generates and parses.
pub fn invariants(analysis: &Analysis, table: &Path) -> Result<(), String> {
    let table_text = analysis.sources.get(table);
    for d in &analysis.diagnostics {
        let notes = d.notes.iter().filter_map(|(_, loc)| loc.as_ref());
        for loc in d.location.iter().chain(notes) {
            check_location(analysis, table, table_text, loc)
                .map_err(|why| format!("{why} in diagnostic:\n{d}"))?;
        }
        if d.message.is_empty() {
            return Err(format!("empty message: {d:?}"));
        }
    }
    let rendered = analysis.render();
    if !analysis.diagnostics.is_empty() && rendered.is_empty() {
        return Err("diagnostics render to nothing".into());
    }
    if !analysis.has_errors() {
        let code = analysis
            .generate()
            .map_err(|e| format!("no error, but generate failed: {e}"))?;
        syn::parse_file(&code).map_err(|e| format!("generated code does not parse: {e}"))?;
    }
    Ok(())
}

/// [`invariants`], as an assertion.
pub fn assert_invariants(analysis: &Analysis, table: &Path) {
    if let Err(why) = invariants(analysis, table) {
        panic!("{why}\n--- all diagnostics ---\n{}", analysis.render());
    }
}

fn check_location(
    analysis: &Analysis,
    table: &Path,
    table_text: Option<&str>,
    loc: &SourceLocation,
) -> Result<(), String> {
    if loc.line == 0 || loc.column == 0 {
        return Err(format!("location {loc} is not 1-based"));
    }
    let text = if loc.file == table {
        Some(table_text.ok_or("the table's text is not in `sources`")?)
    } else {
        analysis.sources.get(&loc.file)
    };
    if let Some(text) = text {
        let lines = text.lines().count();
        if loc.line > lines + 1 {
            return Err(format!("location {loc} is past the end ({lines} lines)"));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The hostile input classes, as table texts (over [`Project`]'s proto).
// ---------------------------------------------------------------------------------------

/// Several YAML documents: the table, then a second one.
pub fn several_documents() -> String {
    format!("{TABLE}---\n{TABLE}")
}

/// A tab where block indentation is expected (line 4, `\tinclude`).
pub fn tab_indented() -> String {
    TABLE.replace("  include: [proto]", "\tinclude: [proto]")
}

/// `service` twice (the second at line 21) and a duplicated field key.
pub fn duplicate_key() -> String {
    format!("{TABLE}service: shop\n")
}

/// Nine keys per level, each aliasing the level below: 9^8 (43 million) nested field maps,
/// every one valid for the table's types, so only the expansion limit stops it.
pub fn alias_bomb() -> String {
    let mut fields = String::new();
    for level in 0..8 {
        let inner = if level == 0 {
            "{}".to_owned()
        } else {
            format!("*f{}", level - 1)
        };
        let keys: Vec<String> = (0..9)
            .map(|k| format!("k{k}: {{from: x, fields: {inner}}}"))
            .collect();
        let _ = writeln!(
            fields,
            "        l{level}: {{from: x, fields: &f{level} {{{}}}}}",
            keys.join(", ")
        );
    }
    format!("{}{fields}", table_head("shop.v1.Placed"))
}

/// The classic "billion laughs": sequences of aliases of sequences, under `events:`.
pub fn classic_alias_bomb() -> String {
    let mut text = TABLE.replace(
        "events:\n",
        "events:\n  A: &a [x, x, x, x, x, x, x, x, x]\n",
    );
    let mut last = "a".to_owned();
    let mut extra = String::new();
    for name in ["b", "c", "d", "e", "f", "g", "h"] {
        let _ = writeln!(
            extra,
            "  {}: &{name} [{}]",
            name.to_uppercase(),
            vec![format!("*{last}"); 9].join(", ")
        );
        last = name.to_owned();
    }
    text = text.replace("  Placed:\n", &format!("{extra}  Placed:\n"));
    text
}

/// `levels` levels of nested field maps (`{from: x, fields: {children: ...}}`) on the
/// self-nesting `Tree` message: 2 YAML levels each.
pub fn nested_fields(levels: usize) -> String {
    let value = format!(
        "{}default{}",
        "{from: x, fields: {id: default, children: ".repeat(levels),
        "}}".repeat(levels)
    );
    format!(
        "{}        id: default\n        children: {value}\n",
        table_head("shop.v1.Tree")
    )
}

/// `levels` levels of flow sequences (`[[[...]]]`) where an event's list is expected.
pub fn nested_sequences(levels: usize) -> String {
    TABLE.replace(
        "  Placed:\n",
        &format!(
            "  Deep: {}{}\n  Placed:\n",
            "[".repeat(levels),
            "]".repeat(levels)
        ),
    )
}

/// The table up to the `fields:` of one event of `message` (fields follow, 8 spaces in).
pub fn table_head(message: &str) -> String {
    let end = TABLE.find("        id:").expect("fields");
    TABLE[..end].replace("shop.v1.Placed", message)
}

/// A name of `n` characters.
pub fn long_name(c: char, n: usize) -> String {
    std::iter::repeat_n(c, n).collect()
}
