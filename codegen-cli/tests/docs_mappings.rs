//! docs/mappings.md stays in step with the code: every key the table format accepts (as the
//! parser itself lists them) is documented, and every YAML excerpt that names a fixture
//! (`# tests/fixtures/...` on its first line) is a verbatim excerpt of that fixture, which
//! other tests check, generate, compile and run (`tests/tests/history.rs` for
//! `tests/fixtures/history/`).

use std::path::{Path, PathBuf};

use eventmap_codegen::__private::parse_table;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn docs() -> String {
    std::fs::read_to_string(repo().join("docs/mappings.md")).expect("docs/mappings.md")
}

/// The fenced blocks of `text` in language `lang`, each as its lines.
fn blocks(text: &str, lang: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for line in text.lines() {
        match &mut current {
            None if line.trim() == format!("```{lang}") => current = Some(Vec::new()),
            Some(lines) if line.trim() == "```" => {
                out.push(std::mem::take(lines));
                current = None;
            }
            Some(lines) => lines.push(line.to_owned()),
            None => {}
        }
    }
    out
}

/// The keys the parser accepts where `zzz_unknown` stands in `table`, from its
/// unknown-field error (`expected one of a, b, c`).
fn accepted_keys(table_text: &str) -> Vec<String> {
    let err = parse_table(Path::new("keys.yaml"), table_text).expect_err("unknown key refused");
    let message = err.message.clone();
    let listed = message
        .split_once("expected one of ")
        .or_else(|| message.split_once("expected "))
        .unwrap_or_else(|| panic!("no expected keys in: {message}"))
        .1;
    listed
        .split(',')
        .map(|k| k.trim().trim_matches('`').to_owned())
        .filter(|k| !k.is_empty())
        .collect()
}

const BASE: &str = r#"version: 1
service: shop
protos: { include: [proto], files: [shop.proto] }
rust: { domain_module: crate::domain, proto_module: crate::proto }
channels:
  orders: { subject: shop.orders, stream: SHOP_ORDERS }
mappings:
  named: { enum: crate::domain::Kind, values: { A: B } }
events:
  Placed:
    - name: PlacedEvent
      message: shop.Placed
      channel: orders
      fields:
        id: { from: id }
subscriptions:
  orders:
    channel: orders
    events: { PlacedEvent: shop.Placed }
    delivery: { deliver: all }
"#;

#[test]
fn every_key_of_the_format_is_documented() {
    let contexts = [
        ("the table", "version: 1\n", "zzz_unknown: 1\nversion: 1\n"),
        (
            "`protos:`",
            "protos: { include",
            "protos: { zzz_unknown: 1, include",
        ),
        (
            "`rust:`",
            "rust: { domain_module",
            "rust: { zzz_unknown: 1, domain_module",
        ),
        (
            "a channel",
            "{ subject: shop.orders,",
            "{ zzz_unknown: 1, subject: shop.orders,",
        ),
        (
            "a named mapping",
            "named: { enum",
            "named: { zzz_unknown: 1, enum",
        ),
        (
            "a row",
            "    - name: PlacedEvent",
            "    - zzz_unknown: 1\n      name: PlacedEvent",
        ),
        (
            "a field source",
            "id: { from: id }",
            "id: { zzz_unknown: 1, from: id }",
        ),
        (
            "a subscription",
            "    channel: orders\n",
            "    zzz_unknown: 1\n    channel: orders\n",
        ),
        (
            "`delivery:`",
            "delivery: { deliver",
            "delivery: { zzz_unknown: 1, deliver",
        ),
    ];
    let docs = docs();
    let mut missing = Vec::new();
    let mut seen = 0;
    for (context, from, to) in contexts {
        assert!(BASE.contains(from), "{context}: {from}");
        let keys = accepted_keys(&BASE.replacen(from, to, 1));
        assert!(keys.len() >= 2, "{context}: {keys:?}");
        seen += keys.len();
        for key in keys {
            let documented = docs.contains(&format!("`{key}`"))
                || docs.contains(&format!("{key}:"))
                || docs.contains(&format!("`{key}:"));
            if !documented {
                missing.push(format!("{key} ({context})"));
            }
        }
    }
    assert!(seen > 40, "{seen} keys");
    assert!(
        missing.is_empty(),
        "keys not documented in docs/mappings.md: {missing:?}"
    );
}

#[test]
fn the_field_source_keys_are_the_ones_the_docs_table_lists() {
    // The field-source table's first column names every key of a field source.
    let keys = accepted_keys(&BASE.replacen("id: { from: id }", "id: { zzz_unknown: 1 }", 1));
    let docs = docs();
    let section = &docs[docs
        .find("## Field sources")
        .expect("Field sources section")..];
    let rows: Vec<&str> = section
        .lines()
        .skip_while(|l| !l.starts_with("| form"))
        .take_while(|l| l.starts_with('|'))
        .collect();
    assert!(rows.len() > 5, "{rows:?}");
    for key in keys {
        assert!(
            rows.iter().any(|row| {
                row.split('|').nth(1).is_some_and(|c| {
                    c.contains(&format!("{key}:")) || c.contains(&format!("`{key}`"))
                })
            }),
            "field-source key `{key}` has no row in the docs' table of field sources"
        );
    }
}

#[test]
fn yaml_excerpts_that_name_a_fixture_are_verbatim() {
    let docs = docs();
    let mut checked = 0;
    for block in blocks(&docs, "yaml") {
        let Some(source) = block
            .first()
            .and_then(|l| l.trim().strip_prefix("# tests/fixtures/"))
        else {
            continue;
        };
        let path = repo().join("tests/fixtures").join(source.trim());
        let fixture =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let lines: Vec<&str> = fixture.lines().map(str::trim_end).collect();
        let excerpt: Vec<&str> = block[1..].iter().map(|l| l.trim_end()).collect();
        let found = (0..lines.len()).any(|start| {
            excerpt.len() <= lines.len() - start
                && excerpt.iter().zip(&lines[start..]).all(|(a, b)| a == b)
        });
        assert!(
            found,
            "this excerpt of docs/mappings.md is not in {}:\n{}",
            path.display(),
            excerpt.join("\n")
        );
        checked += 1;
    }
    assert!(checked >= 4, "{checked} excerpts checked");
}

#[test]
fn the_docs_no_longer_say_the_format_cannot_map_oneofs_or_maps_of_messages() {
    let docs = docs();
    for stale in [
        "left at `None`",
        "maps must be `default`",
        "`fields:` on a map",
        "needs `from`",
    ] {
        assert!(
            !docs.contains(stale),
            "docs/mappings.md still says {stale:?}"
        );
    }
}

/// A table whose nested messages are built without `from:` (a `Money` filled from two fields
/// of the value in scope, as docs/mappings.md describes), on the row and inside the elements
/// of a collection, with its proto.
const NESTED_WITHOUT_FROM: &str = r#"version: 1
service: shop
protos: { include: [proto], files: [shop.proto] }
rust: { domain_module: crate::domain, proto_module: crate::proto }
channels:
  orders: { subject: shop.orders, stream: SHOP_ORDERS }
events:
  Placed:
    - name: PlacedEvent
      message: shop.Placed
      channel: orders
      fields:
        id: { from: id }
        total:
          fields:
            amount: { from: total_cents }
            currency: { from: currency }
        lines:
          from: lines
          fields:
            sku: { from: sku }
            price:
              fields:
                amount: { from: price_cents }
                currency: { from: currency }
"#;

const NESTED_PROTO: &str = r#"syntax = "proto3";
package shop;

message Money {
  int64 amount = 1;
  string currency = 2;
}

message Line {
  string sku = 1;
  Money price = 2;
}

message Placed {
  string id = 1;
  Money total = 2;
  repeated Line lines = 3;
}
"#;

/// `eventmap docs` on a nested message without `from:`: its fields are taken from the value
/// in scope (the event, or the element of `lines`), not from a path with an empty segment.
#[test]
fn the_catalog_of_a_nested_mapping_without_from_names_the_fields_of_the_value_in_scope() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("proto")).expect("mkdir");
    std::fs::write(dir.path().join("proto/shop.proto"), NESTED_PROTO).expect("write proto");
    let table = dir.path().join("mappings.yaml");
    std::fs::write(&table, NESTED_WITHOUT_FROM).expect("write table");
    let analysis = eventmap_codegen::analyze(&table).expect("analyze");
    assert!(!analysis.has_errors(), "{}", analysis.render());
    let output = eventmap_codegen::docs::render(&analysis).expect("render docs");
    let md = &output.events_md;
    let fields: Vec<&str> = md
        .lines()
        .filter(|l| l.starts_with("| `total") || l.starts_with("| `lines"))
        .collect();
    insta::assert_snapshot!("nested_without_from_fields", fields.join("\n"));
}
