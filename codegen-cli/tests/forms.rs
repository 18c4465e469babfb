//! The expressive table forms against the checker, on real files: oneofs set from a domain
//! enum (`variants:`), named mappings (`mappings:`, used with `mapping:`), maps of messages,
//! `from: self`, and `with`/`fields`/`mapping` without `from`. Each mistake is reported with
//! its rule at the `file:line:col` of the table text at fault (found in the table, not
//! written as numbers, so that the fixture can grow), and what is accepted generates.

use std::path::PathBuf;

use eventmap_codegen::{Analysis, Diagnostic, SourceLocation, analyze};

const PROTO: &str = r#"syntax = "proto3";
package shop.v1;
import "google/protobuf/wrappers.proto";

enum Status {
  STATUS_UNSPECIFIED = 0;
  STATUS_READY = 1;
}

message Money {
  int64 cents = 1;
  string currency = 2;
}

message Line {
  string sku = 1;
  int32 quantity = 2;
}

message Placed {
  string id = 1;
  oneof payment {
    Money card = 2;
    string voucher = 3;
  }
  oneof channel {
    string web = 4;
    string store = 5;
  }
  Line first = 6;
  map<string, Line> lines = 7;
  Status status = 8;
  Status previous = 9;
}

// A recursive message, and a wrapper field, for the cases that need them.
message Node {
  string label = 1;
  Node parent = 2;
  google.protobuf.StringValue nick = 3;
}
"#;

/// A valid table using each form once: a oneof mapping (`payment`), a oneof set inline
/// (`channel`), message mappings on a singular field, per map value and inside a oneof arm,
/// an enum mapping, `from: self`.
const TABLE: &str = r#"version: 1
service: shop
protos:
  include: [proto]
  files: [shop/v1/shop.proto]
rust:
  domain_module: crate::domain
  proto_module: crate::proto
  output: generated.rs
channels:
  orders: { subject: shop.orders, stream: SHOP_ORDERS }
mappings:
  line:
    message: shop.v1.Line
    type: crate::domain::Line
    fields:
      sku: { from: sku }
      quantity: { from: qty }
  money:
    message: shop.v1.Money
    type: crate::domain::Money
    fields:
      cents: { from: cents }
      currency: { from: currency }
  status:
    enum: crate::domain::Status
    values: { Ready: STATUS_READY, Draft: STATUS_UNSPECIFIED }
  payment:
    enum: crate::domain::Payment
    variants:
      Card: { card: { mapping: money } }
      Voucher: { voucher: { from: self } }
      Unpaid: none
events:
  Placed:
    - name: PlacedEvent
      message: shop.v1.Placed
      channel: orders
      fields:
        id: { envelope: event_id }
        payment: { from: payment, mapping: payment }
        channel:
          from: channel
          enum: crate::domain::Channel
          variants:
            Web: { web: { from: self } }
            Store: { store: { from: name } }
        first: { from: first, mapping: line }
        lines: { from: lines, mapping: line }
        status: { from: status, mapping: status }
        previous: { from: previous, mapping: status }
"#;

/// A temporary project with the proto above and a table.
struct Project {
    dir: tempfile::TempDir,
    text: String,
}

impl Project {
    fn new(table: &str) -> Project {
        let dir = tempfile::tempdir().expect("tempdir");
        let proto_dir = dir.path().join("proto/shop/v1");
        std::fs::create_dir_all(&proto_dir).expect("mkdir");
        std::fs::write(proto_dir.join("shop.proto"), PROTO).expect("write proto");
        std::fs::write(dir.path().join("mappings.yaml"), table).expect("write table");
        Project {
            dir,
            text: table.to_owned(),
        }
    }

    /// The table with each `(from, to)` replaced once (each `from` must be in it).
    fn patched(patches: &[(&str, &str)]) -> Project {
        let mut text = TABLE.to_owned();
        for (from, to) in patches {
            assert!(text.contains(from), "`{from}` is not in the table");
            text = text.replacen(from, to, 1);
        }
        Project::new(&text)
    }

    fn table(&self) -> PathBuf {
        self.dir.path().join("mappings.yaml")
    }

    fn analyze(&self) -> Analysis {
        analyze(&self.table()).expect("readable")
    }

    /// Line and column (1-based, in characters) of the first occurrence of `needle` in the
    /// table, moved to `mark` inside it when given.
    fn at(&self, needle: &str, mark: Option<&str>) -> (usize, usize) {
        let start = self
            .text
            .find(needle)
            .unwrap_or_else(|| panic!("`{needle}` is not in the table"));
        let offset = start + mark.and_then(|m| needle.find(m)).unwrap_or(0);
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        (line, before[line_start..].chars().count() + 1)
    }

    /// The diagnostic of `rule` located in the table at `needle` (at `mark` inside it), whose
    /// rendering starts with `mappings.yaml:LINE:COL: <severity>[rule]`.
    fn expect<'a>(
        &self,
        analysis: &'a Analysis,
        rule: &str,
        needle: &str,
        mark: Option<&str>,
    ) -> &'a Diagnostic {
        let (line, column) = self.at(needle, mark);
        let found = analysis.diagnostics.iter().find(|d| {
            d.rule == rule
                && d.location
                    .as_ref()
                    .is_some_and(|l| l.file == self.table() && (l.line, l.column) == (line, column))
        });
        let d = found.unwrap_or_else(|| {
            panic!(
                "no `{rule}` at {line}:{column} (`{needle}`) in:\n{}",
                analysis.render()
            )
        });
        let severity = if d.is_error() { "error" } else { "warning" };
        let rendered = analysis.render();
        assert!(
            rendered.contains(&format!(
                "mappings.yaml:{line}:{column}: {severity}[{rule}]"
            )),
            "{rendered}"
        );
        d
    }
}

fn errors(analysis: &Analysis) -> Vec<&Diagnostic> {
    analysis
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .collect()
}

/// `(line, column)` of a note's location.
fn note_at(d: &Diagnostic, index: usize) -> (usize, usize) {
    let loc: &SourceLocation = d.notes[index].1.as_ref().expect("a located note");
    (loc.line, loc.column)
}

/// `text` without whitespace, to compare generated code regardless of its line breaks.
fn squash(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

#[test]
fn the_table_with_every_new_form_is_valid_and_generates() {
    let project = Project::new(TABLE);
    let analysis = project.analyze();
    assert!(analysis.diagnostics.is_empty(), "{}", analysis.render());
    let code = squash(&analysis.generate().expect("generate"));
    // `from: self` in a variant: the member is the variant's content itself.
    assert!(
        code.contains(&squash("crate::domain::Channel::Web(item)")),
        "{code}"
    );
    // A map of messages, value by value through the named mapping's function.
    assert!(
        code.contains(&squash(
            "::eventmap::convert::map_values(::eventmap::convert::Collection::new(&payload.lines).items(), \"lines\", __eventmap_mapping_line"
        )),
        "{code}"
    );
    // A mapping used on a oneof arm and a field is one function, declared once per converter.
    assert_eq!(
        code.matches("fn__eventmap_mapping_money(").count(),
        1,
        "{code}"
    );
}

#[test]
fn a_variant_naming_a_member_of_another_oneof_is_refused() {
    let project = Project::patched(&[(
        "Voucher: { voucher: { from: self } }",
        "Voucher: { web: { from: self } }",
    )]);
    let analysis = project.analyze();
    let d = project.expect(&analysis, "oneof-variant", "web: { from: self } }", None);
    assert_eq!(d.message, "`web` is not a member of the oneof `payment`");
    assert_eq!(
        d.hint.as_deref(),
        Some("members of `payment`: `card`, `voucher`")
    );
}

#[test]
fn a_variant_naming_a_field_that_is_no_member_gets_a_suggestion() {
    let project = Project::patched(&[(
        "Voucher: { voucher: { from: self } }",
        "Voucher: { vouchr: { from: self } }",
    )]);
    let analysis = project.analyze();
    let d = project.expect(&analysis, "oneof-variant", "vouchr", None);
    assert_eq!(d.hint.as_deref(), Some("did you mean `voucher`?"));

    // A field of the message outside any oneof is not a member either.
    let project = Project::patched(&[(
        "Voucher: { voucher: { from: self } }",
        "Voucher: { id: { from: self } }",
    )]);
    let analysis = project.analyze();
    let d = project.expect(&analysis, "oneof-variant", "id: { from: self }", None);
    assert_eq!(d.message, "`id` is not a member of the oneof `payment`");
}

#[test]
fn a_variant_filling_two_members_or_none_is_refused() {
    let project = Project::patched(&[(
        "Voucher: { voucher: { from: self } }",
        "Voucher: { voucher: { from: self }, card: { mapping: money } }",
    )]);
    let analysis = project.analyze();
    let d = project.expect(
        &analysis,
        "oneof-variant",
        "{ voucher: { from: self }, card",
        None,
    );
    assert_eq!(
        d.message,
        "variant `Voucher` fills several members: a oneof holds exactly one"
    );

    let project = Project::patched(&[("Voucher: { voucher: { from: self } }", "Voucher: {}")]);
    let analysis = project.analyze();
    let d = project.expect(&analysis, "oneof-variant", "{}", None);
    assert_eq!(
        d.message,
        "variant `Voucher` fills no members: a oneof holds exactly one"
    );
}

#[test]
fn a_message_mapping_on_a_field_of_another_message_type_is_refused() {
    let project = Project::patched(&[(
        "first: { from: first, mapping: line }",
        "first: { from: first, mapping: money }",
    )]);
    let analysis = project.analyze();
    let d = project.expect(
        &analysis,
        "mapping-mismatch",
        "first: { from: first, mapping: money }",
        Some("money"),
    );
    assert!(
        d.message.contains("mapping `money` builds `shop.v1.Money`"),
        "{}",
        d.message
    );
    // The note shows where the mapping is declared.
    assert_eq!(note_at(d, 0), project.at("  money:", Some("money")));

    // Per map value too: a map of `Line`s with the mapping of `Money`.
    let project = Project::patched(&[(
        "lines: { from: lines, mapping: line }",
        "lines: { from: lines, mapping: money }",
    )]);
    let analysis = project.analyze();
    project.expect(
        &analysis,
        "mapping-mismatch",
        "lines: { from: lines, mapping: money }",
        Some("money"),
    );
}

/// `checked: true` on a map field (to narrow its keys, say): refused at `checked`, saying it is
/// a map and how to convert one (rustc's note on the narrowing pointed at `checked`).
#[test]
fn checked_on_a_map_says_it_is_a_map_and_to_use_with() {
    let project = Project::patched(&[(
        "lines: { from: lines, mapping: line }",
        "lines: { from: lines, checked: true }",
    )]);
    let analysis = project.analyze();
    let d = project.expect(
        &analysis,
        "invalid-field-source",
        "lines: { from: lines, checked: true }",
        Some("true"),
    );
    assert!(
        d.message.starts_with(
            "`checked` does not apply to a map: `lines` is a `map` (keys `string`, values `shop.v1.Line`)"
        ) && d.message.contains("with:"),
        "{}",
        d.message
    );
}

#[test]
fn an_enum_mapping_on_a_oneof_and_a_oneof_mapping_on_a_field_are_refused() {
    let project = Project::patched(&[(
        "payment: { from: payment, mapping: payment }",
        "payment: { from: payment, mapping: status }",
    )]);
    let analysis = project.analyze();
    let d = project.expect(
        &analysis,
        "mapping-mismatch",
        "payment: { from: payment, mapping: status }",
        Some("status }"),
    );
    assert!(
        d.message
            .contains("`payment` is a oneof; mapping `status` is not a oneof mapping"),
        "{}",
        d.message
    );
    assert_eq!(note_at(d, 0), project.at("  status:", Some("status")));

    let project = Project::patched(&[(
        "status: { from: status, mapping: status }",
        "status: { from: status, mapping: payment }",
    )]);
    let analysis = project.analyze();
    let d = project.expect(
        &analysis,
        "mapping-mismatch",
        "status: { from: status, mapping: payment }",
        Some("payment }"),
    );
    assert!(
        d.message
            .contains("maps a domain enum onto a oneof; `status` is a field"),
        "{}",
        d.message
    );
    assert_eq!(note_at(d, 0), project.at("  payment:\n", Some("payment")));

    // A message mapping on a oneof's name is no oneof mapping either.
    let project = Project::patched(&[(
        "payment: { from: payment, mapping: payment }",
        "payment: { from: payment, mapping: money }",
    )]);
    let analysis = project.analyze();
    project.expect(
        &analysis,
        "mapping-mismatch",
        "payment: { from: payment, mapping: money }",
        Some("money"),
    );
}

#[test]
fn an_envelope_value_inside_a_named_message_mapping_is_refused() {
    let project = Project::patched(&[(
        "currency: { from: currency }",
        "currency: { envelope: event_name }",
    )]);
    let analysis = project.analyze();
    let d = project.expect(&analysis, "invalid-field-source", "event_name", None);
    assert_eq!(
        d.message,
        "a named mapping converts a domain value alone: it has no event envelope"
    );
    assert_eq!(
        d.hint.as_deref(),
        Some("map the envelope value on the row that uses the mapping")
    );
}

#[test]
fn an_unknown_mapping_name_gets_a_suggestion() {
    let project = Project::patched(&[(
        "first: { from: first, mapping: line }",
        "first: { from: first, mapping: lien }",
    )]);
    let analysis = project.analyze();
    let d = project.expect(&analysis, "unknown-mapping", "lien", None);
    assert_eq!(d.message, "no mapping `lien` is declared under `mappings:`");
    assert_eq!(d.hint.as_deref(), Some("did you mean `line`?"));

    // On a oneof's name too.
    let project = Project::patched(&[(
        "payment: { from: payment, mapping: payment }",
        "payment: { from: payment, mapping: paymnt }",
    )]);
    let analysis = project.analyze();
    let d = project.expect(&analysis, "unknown-mapping", "paymnt", None);
    assert_eq!(d.hint.as_deref(), Some("did you mean `payment`?"));
}

#[test]
fn an_unused_mapping_is_a_warning_and_the_table_still_generates() {
    let project = Project::patched(&[(
        "mappings:\n",
        "mappings:\n  spare:\n    enum: crate::domain::Status\n    values: { Ready: STATUS_READY }\n",
    )]);
    let analysis = project.analyze();
    let d = project.expect(&analysis, "unused-mapping", "spare:", Some("spare"));
    assert!(!d.is_error());
    assert_eq!(d.message, "mapping `spare` is not used by any field");
    assert!(errors(&analysis).is_empty(), "{}", analysis.render());
    let code = analysis
        .generate()
        .expect("a warning does not stop generation");
    assert!(code.contains("pub fn placed_event"), "{code}");

    // An unused message mapping: no function is generated for it (it would be dead code).
    let project = Project::patched(&[
        ("first: { from: first, mapping: line }", "first: default"),
        ("lines: { from: lines, mapping: line }", "lines: default"),
    ]);
    let analysis = project.analyze();
    project.expect(&analysis, "unused-mapping", "  line:", Some("line"));
    assert!(errors(&analysis).is_empty(), "{}", analysis.render());
    let code = analysis.generate().expect("generate");
    assert!(!code.contains("__eventmap_mapping_line"), "{code}");
}

#[test]
fn a_member_keyed_while_its_oneof_is_mapped_as_a_whole_conflicts() {
    let project = Project::patched(&[(
        "        first: { from: first, mapping: line }\n",
        "        web: { from: url }\n        first: { from: first, mapping: line }\n",
    )]);
    let analysis = project.analyze();
    let d = project.expect(&analysis, "oneof-conflict", "web: { from: url }", None);
    assert_eq!(
        d.message,
        "`web` is a member of the oneof `channel`, which is mapped as a whole"
    );
    // The note is the oneof's key.
    assert_eq!(
        note_at(d, 0),
        project.at("        channel:\n", Some("channel"))
    );

    // The same with the oneof left unset by name.
    let project = Project::patched(&[(
        "payment: { from: payment, mapping: payment }",
        "payment: default\n        voucher: { from: code }",
    )]);
    let analysis = project.analyze();
    project.expect(&analysis, "oneof-conflict", "voucher: { from: code }", None);
}

#[test]
fn a_oneof_left_default_by_name_needs_no_member_keys() {
    for unset in ["payment: default", "payment: { default: true }"] {
        // The oneof mapping (and `money`, which only its arm uses) are then unused: warnings.
        let project = Project::patched(&[("payment: { from: payment, mapping: payment }", unset)]);
        let analysis = project.analyze();
        assert!(
            errors(&analysis).is_empty(),
            "{unset}:\n{}",
            analysis.render()
        );
        assert!(
            !analysis
                .diagnostics
                .iter()
                .any(|d| d.rule == "unmapped-field"),
            "{}",
            analysis.render()
        );
        let code = squash(&analysis.generate().expect("generate"));
        assert!(
            code.contains(&squash("payment: ::core::option::Option::None")),
            "{code}"
        );
    }
}

#[test]
fn from_self_takes_the_whole_value_in_scope() {
    // On a field of the event (the payload itself, through a `with:` function), in a
    // variant (the variant's content) and in a named mapping (the mapped value).
    let project = Project::patched(&[
        (
            "id: { envelope: event_id }",
            "id: { from: self, with: crate::domain::placed_id }",
        ),
        (
            "sku: { from: sku }",
            "sku: { from: self, with: crate::domain::sku_of }",
        ),
    ]);
    let analysis = project.analyze();
    assert!(analysis.diagnostics.is_empty(), "{}", analysis.render());
    let code = squash(&analysis.generate().expect("generate"));
    assert!(
        code.contains(&squash("crate::domain::placed_id(payload)")),
        "{code}"
    );
    assert!(
        code.contains(&squash("crate::domain::sku_of(item)")),
        "{code}"
    );

    // `self` is the whole value only on its own: `self.x` is no domain path.
    let project = Project::patched(&[(
        "Store: { store: { from: name } }",
        "Store: { store: { from: self.name } }",
    )]);
    let analysis = project.analyze();
    project.expect(&analysis, "invalid-domain-path", "self.name", None);
}

#[test]
fn with_without_from_is_accepted_and_with_a_constant_refused() {
    let project = Project::patched(&[(
        "id: { envelope: event_id }",
        "id: { with: crate::domain::placed_id }",
    )]);
    let analysis = project.analyze();
    assert!(analysis.diagnostics.is_empty(), "{}", analysis.render());
    let code = squash(&analysis.generate().expect("generate"));
    assert!(
        code.contains(&squash("crate::domain::placed_id(payload)")),
        "{code}"
    );

    let project = Project::patched(&[(
        "id: { envelope: event_id }",
        "id: { with: crate::domain::placed_id, const: x }",
    )]);
    let analysis = project.analyze();
    let d = project.expect(
        &analysis,
        "invalid-field-source",
        "{ with: crate::domain::placed_id, const: x }",
        None,
    );
    assert!(
        d.message
            .contains("it cannot take `envelope`, `const` or `default`"),
        "{}",
        d.message
    );

    // `fields` and `mapping` without `from` take the whole value too, and refuse `envelope`.
    let project = Project::patched(&[(
        "first: { from: first, mapping: line }",
        "first: { mapping: line, envelope: event_id }",
    )]);
    let analysis = project.analyze();
    project.expect(
        &analysis,
        "invalid-field-source",
        "{ mapping: line, envelope: event_id }",
        None,
    );
}

#[test]
fn a_mapping_used_only_by_itself_or_by_unused_mappings_is_unused() {
    // `node` uses itself (a recursive message) and `line`; no row uses either.
    let project = Project::patched(&[(
        "mappings:\n",
        "mappings:\n  node:\n    message: shop.v1.Node\n    type: crate::domain::Node\n    fields:\n      label: { from: label }\n      parent: { from: parent, mapping: node }\n      nick: { from: nick }\n",
    )]);
    let analysis = project.analyze();
    project.expect(&analysis, "unused-mapping", "  node:", Some("node"));
    assert!(errors(&analysis).is_empty(), "{}", analysis.render());

    // Used by a row through a mapping that a row uses: not reported.
    let project = Project::patched(&[
        (
            "mappings:\n",
            "mappings:\n  node:\n    message: shop.v1.Node\n    type: crate::domain::Node\n    fields:\n      label: { from: label }\n      parent: { from: parent, mapping: node }\n      nick: { from: nick }\n  wrapped:\n    message: shop.v1.Node\n    type: crate::domain::Node\n    fields:\n      label: default\n      parent: { from: parent, mapping: node }\n      nick: default\n",
        ),
        (
            "  Placed:\n",
            "  Noded:\n    - name: NodedEvent\n      message: shop.v1.Node\n      channel: orders\n      fields:\n        label: { from: label }\n        parent: { from: parent, mapping: wrapped }\n        nick: default\n  Placed:\n",
        ),
    ]);
    let analysis = project.analyze();
    assert!(analysis.diagnostics.is_empty(), "{}", analysis.render());

    // A mapping already refused is not also reported unused.
    let project = Project::patched(&[(
        "mappings:\n",
        "mappings:\n  mixed:\n    enum: crate::domain::Status\n    message: shop.v1.Line\n",
    )]);
    let analysis = project.analyze();
    project.expect(&analysis, "invalid-mapping", "  mixed:", Some("mixed"));
    assert!(
        !analysis
            .diagnostics
            .iter()
            .any(|d| d.rule == "unused-mapping"),
        "{}",
        analysis.render()
    );
}

#[test]
fn with_and_mapping_together_are_refused() {
    // The mapping converts the value itself: the `with:` function would be ignored.
    let project = Project::patched(&[(
        "first: { from: first, mapping: line }",
        "first: { from: first, with: crate::domain::first_line, mapping: line }",
    )]);
    let analysis = project.analyze();
    let d = project.expect(
        &analysis,
        "invalid-field-source",
        "{ from: first, with: crate::domain::first_line, mapping: line }",
        None,
    );
    assert_eq!(d.message, "`with` and `mapping` cannot be used together");
}

#[test]
fn a_message_mapping_onto_a_wrapper_type_is_refused() {
    // prost represents `StringValue` as `Option<String>`: there is no message to build.
    let project = Project::patched(&[
        (
            "mappings:\n",
            "mappings:\n  nick:\n    message: google.protobuf.StringValue\n    type: crate::domain::Nick\n    fields:\n      value: { from: self }\n",
        ),
        (
            "  Placed:\n",
            "  Noded:\n    - name: NodedEvent\n      message: shop.v1.Node\n      channel: orders\n      fields:\n        label: { from: label }\n        parent: default\n        nick: { from: nick, mapping: nick }\n  Placed:\n",
        ),
    ]);
    let analysis = project.analyze();
    let d = project.expect(
        &analysis,
        "well-known-type",
        "google.protobuf.StringValue",
        None,
    );
    assert!(
        d.message
            .contains("mapping `nick` builds `google.protobuf.StringValue`"),
        "{}",
        d.message
    );
    // Its use is not reported again.
    assert_eq!(errors(&analysis).len(), 1, "{}", analysis.render());
}

#[test]
fn a_mistake_in_a_mapping_used_twice_is_reported_once() {
    // The enum mapping `status` is checked where it is used: on `status` and `previous`.
    let project = Project::patched(&[("Draft: STATUS_UNSPECIFIED", "Draft: STATUS_DRAFT")]);
    let analysis = project.analyze();
    project.expect(&analysis, "enum-value", "STATUS_DRAFT", None);
    let reported = analysis
        .diagnostics
        .iter()
        .filter(|d| d.rule == "enum-value")
        .count();
    assert_eq!(reported, 1, "{}", analysis.render());
}

#[test]
fn a_oneof_none_of_whose_members_is_keyed_is_one_error_naming_the_oneof() {
    let project =
        Project::patched(&[("        payment: { from: payment, mapping: payment }\n", "")]);
    let analysis = project.analyze();
    let unmapped: Vec<&Diagnostic> = errors(&analysis)
        .into_iter()
        .filter(|d| d.rule == "unmapped-field")
        .collect();
    assert_eq!(unmapped.len(), 1, "{}", analysis.render());
    assert_eq!(
        unmapped[0].message,
        "oneof `payment` of `shop.v1.Placed` is not mapped (members: `card`, `voucher`)"
    );
    let hint = unmapped[0].hint.as_deref().unwrap_or_default();
    assert!(hint.contains("payment: default"), "{hint}");
    assert!(hint.contains("variants"), "{hint}");
    // One member keyed: the others are reported one by one, as before.
    let project = Project::patched(&[(
        "        payment: { from: payment, mapping: payment }\n",
        "        card: default\n",
    )]);
    let analysis = project.analyze();
    let unmapped: Vec<String> = errors(&analysis)
        .into_iter()
        .filter(|d| d.rule == "unmapped-field")
        .map(|d| d.message.clone())
        .collect();
    assert_eq!(
        unmapped,
        ["proto field `voucher` of `shop.v1.Placed` is not mapped"],
        "{}",
        analysis.render()
    );
}
