//! `analyze` on real files: the example table passes, and each kind of mistake is reported
//! with its rule, file, line and column.

use std::path::{Path, PathBuf};

use eventmap_codegen::{Analysis, Diagnostic, analyze};

const PROTO: &str = r#"syntax = "proto3";
package shop.v1;
import "google/protobuf/timestamp.proto";

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
  string type = 2;
  Status status = 3;
  Money total = 4;
  repeated Line lines = 5;
  google.protobuf.Timestamp at = 6;
  uint64 version = 7;
  optional string note = 8;
  bytes raw = 9;
  map<string, string> labels = 10;
}
"#;

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
events:
  Placed:
    - name: PlacedEvent
      message: shop.v1.Placed
      channel: orders
      fields:
        id: { envelope: integration_event_id }
        type: { from: type }
        status: { const: STATUS_READY }
        total:
          from: total
          fields:
            cents: { from: cents }
            currency: { const: EUR }
        lines:
          from: lines
          fields:
            sku: { from: sku }
            quantity: { from: qty }
        at: { envelope: occurred_at }
        version: { envelope: aggregate_version }
        note: default
        raw: { const: "NO" }
        labels: default
"#;

/// A temporary project with the proto above and `table` as `mappings.yaml`.
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new(table: &str) -> Project {
        let dir = tempfile::tempdir().expect("tempdir");
        let proto_dir = dir.path().join("proto/shop/v1");
        std::fs::create_dir_all(&proto_dir).expect("mkdir");
        std::fs::write(proto_dir.join("shop.proto"), PROTO).expect("write proto");
        std::fs::write(dir.path().join("mappings.yaml"), table).expect("write table");
        Project { dir }
    }

    fn with_proto(self, text: &str) -> Project {
        std::fs::write(self.dir.path().join("proto/shop/v1/shop.proto"), text).expect("write");
        self
    }

    fn table(&self) -> PathBuf {
        self.dir.path().join("mappings.yaml")
    }

    fn analyze(&self) -> Analysis {
        analyze(&self.table()).expect("readable")
    }
}

fn errors(analysis: &Analysis) -> Vec<&Diagnostic> {
    analysis
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .collect()
}

fn find<'a>(analysis: &'a Analysis, rule: &str) -> &'a Diagnostic {
    analysis
        .diagnostics
        .iter()
        .find(|d| d.rule == rule)
        .unwrap_or_else(|| panic!("no `{rule}` diagnostic in:\n{}", analysis.render()))
}

fn line_col(d: &Diagnostic) -> (usize, usize) {
    let loc = d.location.as_ref().expect("location");
    (loc.line, loc.column)
}

#[test]
fn the_example_table_is_valid() {
    let analysis = analyze(Path::new("../mappings.yaml")).expect("readable");
    assert!(analysis.diagnostics.is_empty(), "{}", analysis.render());
    let model = analysis.model.as_ref().expect("model");
    let names: Vec<&str> = model
        .events
        .iter()
        .flat_map(|e| &e.integrations)
        .map(|i| i.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "OrderCreatedEvent",
            "OrderReadiedEvent",
            "OrderCanceledEvent",
            "OrderCompletedEvent"
        ]
    );
}

#[test]
fn the_example_table_with_a_misspelled_field_fails_at_its_line_and_column() {
    let text = std::fs::read_to_string("../mappings.yaml").expect("example table");
    let line = text
        .lines()
        .position(|l| l.contains("customer_id: { from: customer_id }"))
        .expect("customer_id line")
        + 1;
    let bad = text.replacen(
        "        customer_id: { from: customer_id }",
        "        custmer_id: { from: customer_id }",
        1,
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let table = dir.path().join("mappings.yaml");
    std::fs::write(&table, bad).expect("write");
    copy_dir(Path::new("../proto"), &dir.path().join("proto"));
    let analysis = analyze(&table).expect("readable");
    let d = find(&analysis, "unknown-proto-field");
    assert_eq!(line_col(d), (line, 9));
    assert_eq!(d.hint.as_deref(), Some("did you mean `customer_id`?"));
    let rendered = analysis.render();
    assert!(
        rendered.contains(&format!(
            "mappings.yaml:{line}:9: error[unknown-proto-field]"
        )),
        "{rendered}"
    );
    // The note points at the message's name: `message OrderCreated {`.
    assert!(rendered.contains("events.proto:20:9"), "{rendered}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

#[test]
fn a_table_using_every_field_form_is_valid() {
    let project = Project::new(TABLE);
    let analysis = project.analyze();
    assert!(errors(&analysis).is_empty(), "{}", analysis.render());
    let code = analysis.generate().expect("generate");
    assert!(
        squash(&code).contains(&squash(
            "r#type: ::eventmap::convert::field::<_, ::std::string::String>(&payload.r#type, \"type\")?"
        )),
        "{code}"
    );
    // Enum constants are written as the proto number of the value named in the table.
    assert!(code.contains("status: 1i32"), "{code}");
    // A field mapped `default` is left to the message's own `Default` (struct update), so a
    // deprecated one is never named and a proto2 `[default = ..]` holds.
    assert!(!code.contains("note:"), "{code}");
    assert!(
        code.contains("..::core::default::Default::default()"),
        "{code}"
    );
    assert!(
        code.contains("raw: ::std::vec::Vec::from(&b\"NO\"[..])"),
        "{code}"
    );
    // A nested message built field by field, from a domain value or an `Option` of one.
    assert!(
        code.contains("::eventmap::convert::map_maybe(")
            && code.contains("::eventmap::convert::Maybe::new(&payload."),
        "{code}"
    );
}

/// What docs/mappings.md says of a `bytes` constant: the UTF-8 bytes of the YAML string, so
/// a double-quoted escape writes a byte up to `\x7F` and not beyond.
#[test]
fn a_bytes_constant_is_the_utf8_of_its_yaml_string() {
    let bytes_of = |yaml: &str| {
        let table = TABLE.replace(
            r#"raw: { const: "NO" }"#,
            &format!("raw: {{ const: {yaml} }}"),
        );
        let analysis = Project::new(&table).analyze();
        assert!(errors(&analysis).is_empty(), "{}", analysis.render());
        let code = analysis.generate().expect("generate");
        let literal = "raw: ::std::vec::Vec::from(&b\"";
        let start = code.find(literal).expect("raw") + literal.len();
        let end = start + code[start..].find("\"[..])").expect("end of the literal");
        code[start..end].to_owned()
    };
    assert_eq!(bytes_of(r#""\x00\x01\x7F""#), r"\0\x01\x7F");
    // `\xFF` is the character U+00FF, two bytes in UTF-8, not the byte 0xFF.
    assert_eq!(bytes_of(r#""\xFF""#), r"\xC3\xBF");
    assert_eq!(bytes_of("é"), r"\xC3\xA9");
}

#[test]
fn all_problems_are_reported_in_one_run() {
    let table = TABLE
        .replace("channel: orders", "channel: order")
        .replace("sku: { from: sku }", "skew: { from: sku }")
        .replace("{ const: STATUS_READY }", "{ const: READY }")
        .replace(
            "{ envelope: aggregate_version }",
            "{ envelope: occurred_at }",
        )
        .replace("subject: shop.orders", "subject: shop.*");
    let project = Project::new(&table);
    let analysis = project.analyze();
    let rules: Vec<&str> = errors(&analysis).iter().map(|d| d.rule).collect();
    for rule in [
        "invalid-subject",
        "unknown-channel",
        "unknown-proto-field",
        "invalid-const",
        "envelope-type",
        "unused-channel",
    ] {
        assert!(
            rules.contains(&rule),
            "missing {rule} in {rules:?}\n{}",
            analysis.render()
        );
    }
    assert_eq!(line_col(find(&analysis, "invalid-subject")), (11, 22));
    assert_eq!(line_col(find(&analysis, "unknown-channel")), (16, 16));
    assert_eq!(line_col(find(&analysis, "unknown-proto-field")), (29, 13));
    let d = find(&analysis, "unknown-channel");
    assert_eq!(d.hint.as_deref(), Some("did you mean `orders`?"));
    // `skew` is probably `sku`: no second error says that `sku` is not mapped.
    assert!(!rules.contains(&"unmapped-field"), "{rules:?}");
    let d = find(&analysis, "invalid-const");
    assert!(
        d.message.contains("`STATUS_UNSPECIFIED`, `STATUS_READY`"),
        "{}",
        d.message
    );
    // The hint names no value of its own: the message lists this enum's (it said
    // `STATUS_READY`, the ordering example's, whatever the enum).
    assert_eq!(
        d.hint.as_deref(),
        Some(
            "write one of these values by its proto name (as in the .proto, not prost's Rust variant name)"
        )
    );
    let d = find(&analysis, "envelope-type");
    let note = d.notes[0].1.as_ref().expect("proto location");
    // `  uint64 version = 7;`: the field's name.
    assert_eq!((note.line, note.column, note.len), (27, 10, 7));
    assert!(analysis.generate().is_err());
}

#[test]
fn replicas_out_of_range_not_integer_or_disagreeing_are_located() {
    for (written, column, why) in [
        ("0", 66, "out of range"),
        ("6", 66, "out of range"),
        ("three", 66, "not an integer"),
        ("2.5", 66, "not an integer"),
        ("-1", 66, "not an integer"),
    ] {
        let table = TABLE.replace(
            "stream: SHOP_ORDERS }",
            &format!("stream: SHOP_ORDERS, replicas: {written} }}"),
        );
        let analysis = Project::new(&table).analyze();
        let d = find(&analysis, "invalid-replicas");
        assert_eq!(line_col(d), (11, column), "{written}");
        assert!(d.message.contains(why), "{written}: {}", d.message);
        assert_eq!(errors(&analysis).len(), 1, "{}", analysis.render());
    }
    let ok = Project::new(&TABLE.replace(
        "stream: SHOP_ORDERS }",
        "stream: SHOP_ORDERS, replicas: 3 }",
    ));
    let analysis = ok.analyze();
    assert!(errors(&analysis).is_empty(), "{}", analysis.render());
    let generated = analysis.generate().expect("generates");
    assert!(
        generated.contains(".with_replicas(3)"),
        "R3 channel emitted with its replicas:\n{generated}"
    );
    let docs = eventmap_codegen::docs::render(&analysis).expect("docs");
    assert!(
        docs.asyncapi_yaml.contains("x-jetstream-replicas: 3"),
        "{}",
        docs.asyncapi_yaml
    );
    assert!(
        docs.events_md.contains("(3 replicas)"),
        "{}",
        docs.events_md
    );
    let plain = Project::new(TABLE).analyze().generate().expect("generates");
    assert!(
        !plain.contains("with_replicas"),
        "R1 is the default and not written"
    );

    // Two channels of one stream must agree.
    let table = TABLE.replace(
        "  orders: { subject: shop.orders, stream: SHOP_ORDERS }",
        "  orders: { subject: shop.orders, stream: SHOP_ORDERS, replicas: 3 }\n  audit: { subject: shop.audit, stream: SHOP_ORDERS }",
    );
    let analysis = Project::new(&table).analyze();
    let d = find(&analysis, "invalid-replicas");
    assert_eq!(line_col(d), (12, 41), "at the second channel's stream");
    assert!(
        d.message.contains(
            "channel `audit` gives stream `SHOP_ORDERS` 1 replica(s), channel `orders` gives it 3"
        ),
        "{}",
        d.message
    );
}

#[test]
fn unknown_message_gets_a_suggestion() {
    let project = Project::new(&TABLE.replace("message: shop.v1.Placed", "message: shop.v1.Placd"));
    let analysis = project.analyze();
    let d = find(&analysis, "unknown-proto-message");
    assert_eq!(line_col(d), (15, 16));
    assert_eq!(d.hint.as_deref(), Some("did you mean `shop.v1.Placed`?"));
}

/// A shipping service's own protos after a rename: `ParcelPacked` is now `ParcelPackedV2`,
/// next to `ParcelPicked`, one letter away from the old name.
const SHIPPING_PROTO: &str = r#"syntax = "proto3";
package shipping.v1;

message Parcel {
  string id = 1;
  uint32 weight_grams = 2;
}

message ParcelPicked {
  string shipment_id = 1;
  Parcel parcel = 2;
}

message ParcelPackedV2 {
  string shipment_id = 1;
  Parcel parcel = 2;
}
"#;

/// A shipping table written before the rename: only the `ParcelPacked` row uses the named
/// mapping `parcel`.
const SHIPPING_TABLE: &str = r#"version: 1
service: shipping
protos:
  include: [proto]
  files: [shop/v1/shop.proto]
rust:
  domain_module: crate::domain
  proto_module: crate::proto
channels:
  parcels: { subject: shipping.parcels, stream: SHIPPING_PARCELS }
mappings:
  parcel:
    message: shipping.v1.Parcel
    type: crate::domain::Parcel
    fields:
      id: { from: id }
      weight_grams: { from: grams }
events:
  ParcelPicked:
    - name: ParcelPickedEvent
      message: shipping.v1.ParcelPicked
      channel: parcels
      fields:
        shipment_id: { envelope: aggregate_id }
        parcel: { from: parcel }
  ParcelPacked:
    - name: ParcelPackedEvent
      message: shipping.v1.ParcelPacked
      channel: parcels
      fields:
        shipment_id: { envelope: aggregate_id }
        parcel: { from: parcel, mapping: parcel }
"#;

#[test]
fn a_renamed_message_is_suggested_and_its_row_mappings_are_not_reported_unused() {
    let rules_of = |analysis: &Analysis| -> Vec<&str> {
        analysis.diagnostics.iter().map(|d| d.rule).collect()
    };
    let analysis = Project::new(SHIPPING_TABLE)
        .with_proto(SHIPPING_PROTO)
        .analyze();
    // One mistake, one diagnostic: no `unused-mapping` for `parcel`, which only the broken
    // row uses.
    assert_eq!(
        rules_of(&analysis),
        ["unknown-proto-message"],
        "{}",
        analysis.render()
    );
    let d = find(&analysis, "unknown-proto-message");
    assert_eq!(line_col(d), (28, 16));
    // The renamed message, not `ParcelPicked`, which is closer by spelling.
    assert_eq!(
        d.hint.as_deref(),
        Some("did you mean `shipping.v1.ParcelPackedV2`?")
    );

    // Renamed in the table too: valid, so the fixture is sound.
    let fixed = SHIPPING_TABLE.replace(
        "message: shipping.v1.ParcelPacked\n",
        "message: shipping.v1.ParcelPackedV2\n",
    );
    let analysis = Project::new(&fixed).with_proto(SHIPPING_PROTO).analyze();
    assert!(analysis.diagnostics.is_empty(), "{}", analysis.render());

    // A misspelled key that uses the mapping: the same, one diagnostic.
    let misspelled = fixed.replace(
        "parcel: { from: parcel, mapping: parcel }",
        "parcl: { from: parcel, mapping: parcel }",
    );
    let analysis = Project::new(&misspelled)
        .with_proto(SHIPPING_PROTO)
        .analyze();
    assert_eq!(
        rules_of(&analysis),
        ["unknown-proto-field"],
        "{}",
        analysis.render()
    );

    // Used by no row at all, it is still reported.
    let unused = fixed.replace(
        "parcel: { from: parcel, mapping: parcel }",
        "parcel: { from: parcel }",
    );
    let analysis = Project::new(&unused).with_proto(SHIPPING_PROTO).analyze();
    assert_eq!(
        rules_of(&analysis),
        ["unused-mapping"],
        "{}",
        analysis.render()
    );
}

#[test]
fn map_fields_convert_as_a_whole() {
    let project = Project::new(&TABLE.replace("labels: default", "labels: { from: labels }"));
    let analysis = project.analyze();
    assert!(errors(&analysis).is_empty(), "{}", analysis.render());
    let code = analysis.generate().expect("generate");
    assert!(
        squash(&code).contains(&squash(
            "labels: ::eventmap::convert::field(&payload.labels, \"labels\")?"
        )),
        "{code}"
    );
    let project = Project::new(&TABLE.replace(
        "labels: default",
        "labels: { from: labels, fields: { key: default } }",
    ));
    let d = find(&project.analyze(), "nested-not-message").clone();
    assert_eq!(line_col(&d).0, 35);
    assert!(
        d.message.contains("values of map field `labels`"),
        "{}",
        d.message
    );
    let project = Project::new(&TABLE.replace(
        "labels: default",
        "labels: { from: labels, enum: crate::domain::Label, values: { A: B } }",
    ));
    let d = find(&project.analyze(), "unsupported-field").clone();
    assert_eq!(line_col(&d).0, 35);
}

#[test]
fn a_broken_proto_is_reported_in_the_proto_file() {
    let project =
        Project::new(TABLE).with_proto(&PROTO.replace("int64 cents = 1;", "int64 cents = ;"));
    let analysis = project.analyze();
    let d = find(&analysis, "proto");
    let loc = d.location.as_ref().expect("location");
    assert!(
        loc.file.ends_with("proto/shop/v1/shop.proto"),
        "{}",
        loc.file.display()
    );
    assert_eq!(loc.line, 11);
}

#[test]
fn a_missing_proto_file_is_a_diagnostic() {
    let project =
        Project::new(&TABLE.replace("files: [shop/v1/shop.proto]", "files: [shop/v1/nope.proto]"));
    let analysis = project.analyze();
    let d = find(&analysis, "proto");
    assert!(d.message.contains("nope.proto"), "{}", d.message);
}

#[test]
fn a_message_named_without_its_package_gets_the_full_names_that_exist() {
    let hint = |message: &str, proto: &str| {
        let table = TABLE.replace("message: shop.v1.Placed", &format!("message: {message}"));
        let analysis = Project::new(&table).with_proto(proto).analyze();
        let d = find(&analysis, "unknown-proto-message");
        assert_eq!(line_col(d), (15, 16));
        d.hint.clone().expect("hint")
    };
    for written in ["Placed", "v1.Placed"] {
        assert_eq!(
            hint(written, PROTO),
            "did you mean `shop.v1.Placed`? (write the full name, with the package)",
            "{written}"
        );
    }
    let nested = format!("{PROTO}\nmessage Archive {{ message Placed {{ string id = 1; }} }}\n");
    assert_eq!(
        hint("Placed", &nested),
        "did you mean one of `shop.v1.Archive.Placed`, `shop.v1.Placed`? (write the full name, with the package)"
    );
    // Only whole name components: `laced` is not `Placed`.
    for written in ["laced", "Nowhere"] {
        assert_eq!(
            hint(written, PROTO),
            "write the full name: `package.Message`",
            "{written}"
        );
    }
}

#[test]
fn an_unclosed_flow_mapping_is_reported_at_its_brace() {
    let table = TABLE.replace(
        "        type: { from: type }\n",
        "        type: { from: type\n",
    );
    let analysis = Project::new(&table).analyze();
    assert_eq!(errors(&analysis).len(), 1, "{}", analysis.render());
    let d = find(&analysis, "yaml");
    // `        type: { from: type`: the `{` is line 19, column 15.
    assert_eq!(line_col(d), (19, 15));
    assert_eq!(d.location.as_ref().map(|l| l.len), Some(1));
    assert!(
        d.message
            .starts_with("`{` is not closed: the flow mapping opened here has no `}`"),
        "{}",
        d.message
    );
    let noticed = d.notes[0].1.as_ref().expect("where the parser noticed");
    assert_eq!(noticed.line, 20);
    assert!(
        d.hint
            .as_deref()
            .is_some_and(|h| h.contains("close it with `}`"))
    );
    // A flow sequence, and a brace left open at the end of the file.
    let table = TABLE.replace("files: [shop/v1/shop.proto]", "files: [shop/v1/shop.proto");
    let d = find(&Project::new(&table).analyze(), "yaml").clone();
    assert_eq!(line_col(&d), (5, 10), "{d}");
    assert!(d.message.starts_with("`[` is not closed"), "{d}");
    let table = TABLE.replace("        labels: default\n", "        labels: {\n");
    let d = find(&Project::new(&table).analyze(), "yaml").clone();
    assert_eq!(line_col(&d), (35, 17), "{d}");
    // A mistake inside a one-line mapping stays where it is.
    let table = TABLE.replace("type: { from: type }", "type: { from: type with: x }");
    let d = find(&Project::new(&table).analyze(), "yaml").clone();
    assert_eq!(line_col(&d).0, 19, "{d}");
    assert!(!d.message.contains("is not closed"), "{d}");
}

#[test]
fn a_yaml_error_has_file_line_and_column() {
    let project = Project::new(&TABLE.replace("  orders: { subject", "  orders: { subjct"));
    let analysis = project.analyze();
    let d = find(&analysis, "yaml");
    assert_eq!(line_col(d).0, 11);
    assert!(
        analysis.render().contains("mappings.yaml:11:"),
        "{}",
        analysis.render()
    );
}

#[test]
fn an_alias_before_its_anchor_says_where_the_anchor_is() {
    // `*currency` (line 25) is used before `&currency` (line 33): YAML reads top-down.
    let table = TABLE
        .replace(
            "            currency: { const: EUR }\n",
            "            currency: *currency\n",
        )
        .replace(
            "        note: default\n",
            "        note: &currency default\n",
        );
    let analysis = Project::new(&table).analyze();
    assert_eq!(errors(&analysis).len(), 1, "{}", analysis.render());
    let d = find(&analysis, "yaml");
    assert_eq!(line_col(d), (25, 23), "at the alias: {d}");
    assert_eq!(
        d.location.as_ref().map(|l| l.len),
        Some(9),
        "`*currency`: {d}"
    );
    assert_eq!(
        d.message,
        "alias `*currency` is used before its anchor `&currency`, which is defined later, at 33:15: YAML anchors must come before their aliases"
    );
    let (note, at) = &d.notes[0];
    assert_eq!(
        note,
        "the anchor `&currency` is defined here, after the alias"
    );
    let at = at.as_ref().expect("the anchor's location");
    assert_eq!((at.line, at.column, at.len), (33, 15, 9));
    assert!(
        d.hint
            .as_deref()
            .is_some_and(|h| h.contains("above this alias")),
        "{d}"
    );
    assert!(
        analysis.render().contains(
            "mappings.yaml:25:23: error[yaml]: alias `*currency` is used before its anchor"
        ),
        "{}",
        analysis.render()
    );

    // An anchor defined nowhere: said so, at the alias.
    let table = TABLE.replace(
        "            currency: { const: EUR }\n",
        "            currency: *currency\n",
    );
    let analysis = Project::new(&table).analyze();
    let d = find(&analysis, "yaml");
    assert_eq!(line_col(d), (25, 23), "{d}");
    assert_eq!(
        d.message,
        "alias `*currency` refers to an anchor that is not defined: the file has no `&currency`"
    );
    assert!(d.notes.is_empty(), "{d}");
}

#[test]
fn an_unreadable_table_is_an_error_not_a_diagnostic() {
    assert!(analyze(Path::new("/nonexistent/mappings.yaml")).is_err());
}

#[test]
fn names_that_collide_after_case_conversion_are_reported_with_both_locations() {
    let table = TABLE.replace(
        "        labels: default\n",
        "        labels: default\n    - name: placed_event\n      message: shop.v1.Money\n      channel: orders\n      fields:\n        cents: default\n        currency: default\n",
    );
    let analysis = Project::new(&table).analyze();
    let collisions: Vec<&Diagnostic> = analysis
        .diagnostics
        .iter()
        .filter(|d| d.rule == "name-collision")
        .collect();
    assert!(!collisions.is_empty(), "{}", analysis.render());
    let d = collisions[0];
    assert_eq!(line_col(d), (36, 13));
    assert!(
        d.message.contains("`placed_event`") && d.message.contains("`PlacedEvent`"),
        "{}",
        d.message
    );
    let note = d.notes[0].1.as_ref().expect("first location");
    assert_eq!((note.line, note.column), (14, 13));
}

#[test]
fn a_channel_named_all_is_refused() {
    let table = TABLE
        .replace("  orders: { subject", "  all: { subject")
        .replace("channel: orders", "channel: all");
    let analysis = Project::new(&table).analyze();
    let d = find(&analysis, "name-collision");
    assert_eq!(line_col(d), (11, 3));
}

/// A subscription `domain_event` would generate `DomainEventRouter`, the name of the router the
/// module generates from the table's rows.
#[test]
fn a_subscription_named_like_the_generated_router_is_refused() {
    let subscription = "subscriptions:\n  domain_event:\n    channel: orders\n    durable: shop-mine\n    events:\n      MoneyEvent: shop.v1.Money\n";
    let analysis = Project::new(&format!("{TABLE}{subscription}")).analyze();
    let d = find(&analysis, "name-collision");
    assert!(
        d.message.contains("`DomainEventRouter`") && d.message.contains("uses itself"),
        "{}",
        d.message
    );
    assert_eq!(line_col(d), (37, 3), "the subscription key");
}

/// A subscription named `self` (on a channel named `self`): the generated types are
/// `SelfEvent`, `SelfHandler` and `SelfRouter`, not `Self_Event` (which rustc warns about, an
/// error under `deny(warnings)`; a channel's `<Channel>IntegrationEvent` is built the same
/// way).
#[test]
fn a_subscription_and_a_channel_named_self_give_camel_case_type_names() {
    let table = TABLE
        .replace(
            "  orders: { subject: shop.orders, stream: SHOP_ORDERS }",
            "  orders: { subject: shop.orders, stream: SHOP_ORDERS }\n  self: { subject: shop.own, stream: SHOP_OWN }",
        );
    let subscription = "subscriptions:\n  self:\n    channel: self\n    durable: shop-self\n    events:\n      MoneyEvent: shop.v1.Money\n";
    let analysis = Project::new(&format!("{table}{subscription}")).analyze();
    assert!(
        analysis
            .diagnostics
            .iter()
            .all(|d| d.rule != "name-collision"),
        "{}",
        analysis.render()
    );
    let code = analysis.generate().expect("generate");
    for name in ["enum SelfEvent", "trait SelfHandler", "struct SelfRouter"] {
        assert!(code.contains(name), "{name}:\n{code}");
    }
    assert!(!code.contains("Self_"), "{code}");
}

#[test]
fn proto_names_that_collide_in_rust_are_reported_with_both_proto_locations() {
    let proto = format!(
        "{PROTO}\nmessage foo_bar {{ string a = 1; }}\nmessage FooBar {{ string foo_bar = 1; }}\nenum Color {{ COLOR_RED = 0; RED = 1; }}\nmessage Outer {{ message Inner {{ string x = 1; }} }}\nenum Shade {{ option allow_alias = true; SHADE_DARK = 0; DARK = 0; }}\n"
    );
    let project = Project::new(TABLE).with_proto(&proto);
    let sub = project.dir.path().join("proto/shop/v1/outer");
    std::fs::create_dir_all(&sub).expect("mkdir");
    std::fs::write(
        sub.join("more.proto"),
        "syntax = \"proto3\";\npackage shop.v1.outer;\nmessage More { string y = 1; }\n",
    )
    .expect("write");
    std::fs::write(
        project.table(),
        TABLE.replace(
            "files: [shop/v1/shop.proto]",
            "files: [shop/v1/shop.proto, shop/v1/outer/more.proto]",
        ),
    )
    .expect("write table");
    let analysis = project.analyze();
    let collisions: Vec<&Diagnostic> = analysis
        .diagnostics
        .iter()
        .filter(|d| d.rule == "proto-name-collision")
        .collect();
    let messages: Vec<&str> = collisions.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(collisions.len(), 3, "{messages:#?}\n{}", analysis.render());
    let types = collisions
        .iter()
        .find(|d| {
            d.message
                .contains("message `shop.v1.FooBar` and message `shop.v1.foo_bar`")
        })
        .expect("type collision");
    let here = types.location.as_ref().expect("proto location");
    assert!(here.file.ends_with("proto/shop/v1/shop.proto"));
    assert_eq!(here.line, 34);
    let there = types.notes[0].1.as_ref().expect("first location");
    assert_eq!(there.line, 33);
    assert!(
        messages
            .iter()
            .any(|m| m.contains("enum value `RED` and enum value `COLOR_RED`")),
        "{messages:#?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("package `shop.v1.outer`") && m.contains("`outer`")),
        "{messages:#?}"
    );
    // An alias (`allow_alias`) is no variant: prost-build keeps the first name of a number.
    assert!(
        !messages.iter().any(|m| m.contains("DARK")),
        "{messages:#?}"
    );
    assert!(analysis.generate().is_err(), "no code is generated");

    // Fields whose names collide (`foo_bar` / `FOO_BAR`) are already refused by protox, at the
    // second field, as protoc does (their JSON names collide too).
    let proto = format!("{PROTO}\nmessage FooBar {{ string foo_bar = 1; string FOO_BAR = 2; }}\n");
    let analysis = Project::new(TABLE).with_proto(&proto).analyze();
    let d = find(&analysis, "proto");
    assert!(
        d.message.contains("conflicts with field 'FOO_BAR'"),
        "{}",
        d.message
    );
    assert_eq!(line_col(d), (33, 25));
}

/// `text` without whitespace, to compare generated code whatever its line breaks.
fn squash(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

/// A proto with names in every kind of declaration, some after a tab or a non-ASCII comment.
const NAMES_PROTO: &str = "syntax = \"proto3\";\npackage shop.v1;\n\nenum Kind { KIND_UNSPECIFIED = 0; KIND_BIG = 1; }\n\nmessage Order {\n  message Line {\n    repeated string store_id = 2;\n  \toptional int64 a = 1;\n  }\n  map<string, int32> counts = 3;\n  /* é */ Kind kind = 4;\n  oneof payment {\n    string card = 5;\n  }\n  Line line = 6;\n}\n";

/// The text at `loc` in `text`: its line, from its column, `len` characters.
fn text_at(text: &str, loc: &eventmap_codegen::SourceLocation) -> String {
    let line = text.lines().nth(loc.line - 1).expect("line");
    line.chars().skip(loc.column - 1).take(loc.len).collect()
}

#[test]
fn proto_locations_are_the_names_of_their_declarations() {
    let project = Project::new(TABLE).with_proto(NAMES_PROTO);
    let analysis = project.analyze();
    let protos = analysis.protos.as_ref().expect("compiled");
    let order = protos.message("shop.v1.Order").expect("Order");
    let line = protos.message("shop.v1.Order.Line").expect("Line");
    let kind = protos
        .pool()
        .get_enum_by_name("shop.v1.Kind")
        .expect("Kind");
    let mut found = vec![
        (protos.message_location(&order), "Order".to_owned()),
        (protos.message_location(&line), "Line".to_owned()),
        (protos.enum_location(&kind), "Kind".to_owned()),
    ];
    for value in kind.values() {
        found.push((protos.enum_value_location(&value), value.name().to_owned()));
    }
    for field in order.fields().chain(line.fields()) {
        found.push((protos.field_location(&field), field.name().to_owned()));
    }
    let oneof = order.oneofs().next().expect("oneof");
    found.push((
        protos.element_location(&order.parent_file(), oneof.path(), oneof.name()),
        "payment".to_owned(),
    ));
    found.push((
        protos.element_location(&order.parent_file(), &[2], "shop.v1"),
        "shop.v1".to_owned(),
    ));
    assert_eq!(found.len(), 13);
    for (loc, name) in found {
        let loc = loc.unwrap_or_else(|| panic!("no location for {name}"));
        assert_eq!(text_at(NAMES_PROTO, &loc), name, "{loc}");
        assert_eq!(loc.len, name.len());
    }
}

#[test]
fn a_proto_snippet_and_its_json_span_underline_the_name() {
    let proto = format!(
        "{PROTO}\nmessage Order_Line {{ string a = 1; }}\n  message OrderLine {{ string a = 1; }}\n"
    );
    let analysis = Project::new(TABLE).with_proto(&proto).analyze();
    let d = find(&analysis, "proto-name-collision");
    let loc = d.location.as_ref().expect("proto location");
    assert_eq!((loc.line, loc.column, loc.len), (34, 11, 9));
    // The text rendering: the caret line under the source line.
    let rendered = d.render(&analysis.sources);
    let lines: Vec<&str> = rendered.lines().collect();
    let carets = lines.iter().position(|l| l.contains('^')).expect("carets");
    let source = lines[carets - 1].split_once(" | ").expect("source line").1;
    let marks = lines[carets].split_once(" | ").expect("caret line").1;
    assert_eq!(source, "  message OrderLine { string a = 1; }");
    let start = marks.find('^').expect("caret");
    let width = marks.matches('^').count();
    let underlined: String = source.chars().skip(start).take(width).collect();
    assert_eq!(underlined, "OrderLine");
    // The JSON span: the same columns (1-based, end exclusive).
    let json = eventmap_codegen::report::to_json(d);
    assert_eq!(json.start_line, Some(34));
    assert_eq!(json.start_column, Some(start + 1));
    assert_eq!(json.end_column, Some(start + 1 + width));
    let first = d.notes[0].1.as_ref().expect("the other declaration");
    assert_eq!((first.line, first.column, first.len), (33, 9, 10));
}

#[test]
fn an_internal_event_may_name_its_type_and_every_mistake_in_it_is_located() {
    let with = |entry: &str| Project::new(&format!("{TABLE}  Held: {entry}\n"));

    let typed = with("{ internal: true, type: crate::domain::Placed }").analyze();
    assert!(typed.diagnostics.is_empty(), "{}", typed.render());
    let model = typed.model.as_ref().expect("model");
    let held = model
        .events
        .iter()
        .find(|e| e.name == "Held")
        .expect("Held");
    assert_eq!(held.internal_type.as_deref(), Some("crate::domain::Placed"));
    let plain = with("internal").analyze();
    let model = plain.model.as_ref().expect("model");
    let held = model
        .events
        .iter()
        .find(|e| e.name == "Held")
        .expect("Held");
    assert_eq!(held.internal_type.as_deref(), Some("crate::domain::Held"));

    let cases = [
        (
            "{ internal: true, type: \"not a path!\" }",
            "invalid-rust-path",
            33,
        ),
        ("{ internal: false, type: x::Y }", "yaml", 9),
        ("{ internal: true }", "yaml", 11),
        ("{ internal: true, type: x::Y, extra: 1 }", "yaml", 39),
    ];
    for (entry, rule, column) in cases {
        let analysis = with(entry).analyze();
        let error = find(&analysis, rule);
        assert_eq!(
            line_col(error),
            (36, column),
            "{entry}: {}",
            analysis.render()
        );
    }
}

/// 1-based line and column of the first occurrence of `needle` in `text`.
fn position(text: &str, needle: &str) -> (usize, usize) {
    let offset = text
        .find(needle)
        .unwrap_or_else(|| panic!("`{needle}` in the table"));
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[start..].chars().count() + 1)
}

#[test]
fn a_dotted_ce_type_is_written_apart_from_the_name() {
    let table = TABLE.replace(
        "    - name: PlacedEvent\n",
        "    - name: PlacedEvent\n      ce_type: com.example.shop.OrderPlaced\n",
    );
    let analysis = Project::new(&table).analyze();
    assert!(analysis.diagnostics.is_empty(), "{}", analysis.render());
    let model = analysis.model.as_ref().expect("model");
    let row = &model.events[0].integrations[0];
    assert_eq!(
        (row.name.as_str(), row.ce_type.as_str()),
        ("PlacedEvent", "com.example.shop.OrderPlaced")
    );
    let code = analysis.generate().expect("generates");
    assert!(
        code.contains("pub const PLACED_EVENT_CE_TYPE: &str = \"com.example.shop.OrderPlaced\";"),
        "{code}"
    );
    assert!(
        code.contains(".with_ce_type(integration_event_names::PLACED_EVENT_CE_TYPE)"),
        "{code}"
    );
}

#[test]
fn a_dotted_name_is_refused_with_a_hint_to_write_it_as_ce_type() {
    let table = TABLE.replace("name: PlacedEvent", "name: com.example.shop.PlacedEvent");
    let analysis = Project::new(&table).analyze();
    let d = find(&analysis, "invalid-name");
    assert_eq!(
        line_col(d),
        position(&table, "com.example.shop.PlacedEvent")
    );
    assert_eq!(line_col(d), (14, 13));
    let hint = d.hint.as_deref().expect("hint");
    assert!(
        hint.contains("ce_type: com.example.shop.PlacedEvent"),
        "{hint}"
    );
}

#[test]
fn invalid_ce_types_are_reported_at_their_value() {
    for (value, why) in [
        ("\"\"", "it is empty"),
        ("\"com.example\\tPlaced\"", "U+0009"),
        ("\"com.example.Placed \"", "whitespace"),
        ("\"com.example.\\uFFFF\"", "noncharacter U+FFFF"),
    ] {
        let table = TABLE.replace(
            "    - name: PlacedEvent\n",
            &format!("    - name: PlacedEvent\n      ce_type: {value}\n"),
        );
        let analysis = Project::new(&table).analyze();
        let d = find(&analysis, "invalid-ce-type");
        assert_eq!(line_col(d), (15, 16), "{value}");
        assert_eq!(line_col(d), position(&table, value), "{value}");
        assert!(d.message.contains(why), "{value}: {}", d.message);
        assert!(analysis.model.is_none());
    }
}

#[test]
fn two_rows_of_one_channel_with_one_ce_type_are_refused() {
    // The second row's type is the first row's name: a consumer decodes both as `PlacedEvent`.
    let table = TABLE.replace(
        "        labels: default\n",
        "        labels: default\n    - name: PlacedAgainEvent\n      ce_type: PlacedEvent\n      message: shop.v1.Money\n      channel: orders\n      fields:\n        cents: default\n        currency: default\n",
    );
    let analysis = Project::new(&table).analyze();
    let d = find(&analysis, "duplicate-ce-type");
    let (line, column) = position(&table, "ce_type: PlacedEvent");
    assert_eq!(line_col(d), (line, column + "ce_type: ".len()));
    assert_eq!(line_col(d), (37, 16));
    let note = d.notes[0].1.as_ref().expect("first location");
    assert_eq!((note.line, note.column), (14, 13));
    assert!(
        d.message.contains("`PlacedEvent` and `PlacedAgainEvent`")
            && d.message.contains("channel `orders`"),
        "{}",
        d.message
    );
}

#[test]
fn a_subscription_receives_a_dotted_ce_type_in_the_long_form_and_refuses_duplicates() {
    let subscription = "subscriptions:\n  mine:\n    channel: orders\n    durable: shop-mine\n    events:\n      OtherPlacedEvent: { message: shop.v1.Placed, ce_type: com.example.shop.Placed }\n      MoneyEvent: shop.v1.Money\n";
    let table = format!("{TABLE}{subscription}");
    let analysis = Project::new(&table).analyze();
    assert!(analysis.diagnostics.is_empty(), "{}", analysis.render());
    let model = analysis.model.as_ref().expect("model");
    let events: Vec<(&str, &str, &str)> = model.subscriptions[0]
        .events
        .iter()
        .map(|e| {
            (
                e.name.as_str(),
                e.ce_type.as_str(),
                e.message.full_name.as_str(),
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            (
                "OtherPlacedEvent",
                "com.example.shop.Placed",
                "shop.v1.Placed"
            ),
            ("MoneyEvent", "MoneyEvent", "shop.v1.Money"),
        ]
    );

    let duplicate = table.replace(
        "MoneyEvent: shop.v1.Money",
        "MoneyEvent: { message: shop.v1.Money, ce_type: com.example.shop.Placed }",
    );
    let analysis = Project::new(&duplicate).analyze();
    let d = find(&analysis, "duplicate-ce-type");
    let second = duplicate.rfind("com.example.shop.Placed").expect("second");
    let (line, _) = position(&duplicate[..=second], "MoneyEvent");
    assert_eq!(d.location.as_ref().map(|l| l.line), Some(line));
    assert_eq!(
        line_col(d).1,
        duplicate
            .lines()
            .nth(line - 1)
            .expect("line")
            .find("com.example")
            .expect("col")
            + 1
    );
    assert!(d.message.contains("subscription `mine`"), "{}", d.message);

    // The table publishes `PlacedEvent` on the channel itself, with its name as type.
    let own = table.replace("OtherPlacedEvent:", "PlacedEvent:");
    let analysis = Project::new(&own).analyze();
    let d = find(&analysis, "ce-type-mismatch");
    assert_eq!(line_col(d), position(&own, "com.example.shop.Placed"));
    let note = d.notes[0].1.as_ref().expect("the row");
    assert_eq!((note.line, note.column), (14, 13));
    let own_plain = own.replace(
        "PlacedEvent: { message: shop.v1.Placed, ce_type: com.example.shop.Placed }",
        "PlacedEvent: shop.v1.Placed",
    );
    let analysis = Project::new(&own_plain).analyze();
    assert!(analysis.diagnostics.is_empty(), "{}", analysis.render());

    let unknown_key = table.replace("ce_type: com.example", "type: com.example");
    let analysis = Project::new(&unknown_key).analyze();
    let d = find(&analysis, "yaml");
    assert!(d.message.contains("type"), "{}", d.message);
}

#[test]
fn a_domain_event_whose_name_cannot_end_a_rust_path_needs_a_type() {
    // `Self` (and `self`, `super`, `crate`, or a dotted name) cannot follow
    // `rust.domain_module`: refused at the key, where rustc would have failed on the generated
    // `crate::domain::Self`.
    let table = TABLE.replacen("  Placed:\n", "  Self:\n", 1);
    let analysis = Project::new(&table).analyze();
    let d = find(&analysis, "invalid-rust-path");
    assert_eq!(line_col(d), (13, 3), "{}", analysis.render());
    assert!(d.message.contains("`crate::domain::Self`"), "{}", d.message);
    assert_eq!(
        d.hint.as_deref(),
        Some("name the domain event's type on each of its rows: `type: crate::domain::YourType`")
    );
    // With a `type`, the same key is fine.
    let typed = table.replacen(
        "      channel: orders\n",
        "      channel: orders\n      type: crate::domain::SelfEvent\n",
        1,
    );
    let analysis = Project::new(&typed).analyze();
    assert!(errors(&analysis).is_empty(), "{}", analysis.render());
    assert!(
        analysis
            .generate()
            .expect("generate")
            .contains("crate::domain::SelfEvent"),
        "the row's type is used"
    );
    // A keyword is written raw: `crate::domain::r#type`.
    let keyword = TABLE.replacen("  Placed:\n", "  type:\n", 1);
    let analysis = Project::new(&keyword).analyze();
    assert!(errors(&analysis).is_empty(), "{}", analysis.render());
    let code = analysis.generate().expect("generate");
    assert!(code.contains("crate::domain::r#type"), "{code}");
}

#[test]
fn a_proto2_message_with_a_proto3_enum_field_is_reported_at_the_field() {
    let project = Project::new(&TABLE.replace(
        "files: [shop/v1/shop.proto]",
        "files: [shop/v1/shop.proto, shop/v1/legacy.proto]",
    ));
    let legacy = "syntax = \"proto2\";\npackage shop.v1;\nimport \"shop/v1/shop.proto\";\n\nmessage Legacy {\n  optional string id = 1;\n  optional Status status = 2;\n}\n";
    std::fs::write(
        project.dir.path().join("proto/shop/v1/legacy.proto"),
        legacy,
    )
    .expect("write");
    let analysis = project.analyze();
    let found: Vec<&Diagnostic> = errors(&analysis);
    assert_eq!(found.len(), 1, "{}", analysis.render());
    let d = find(&analysis, "proto2-open-enum");
    assert_eq!(
        d.message,
        "field `status` of proto2 message `shop.v1.Legacy` has the type `shop.v1.Status`, an open enum of a proto3 file (`shop/v1/shop.proto`): protoc refuses a proto3 enum in a proto2 message"
    );
    let at = d.location.as_ref().expect("proto location");
    assert!(at.file.ends_with("proto/shop/v1/legacy.proto"), "{at}");
    assert_eq!(line_col(d), (7, 19));
    let enum_at = d.notes[0].1.as_ref().expect("the enum");
    assert!(
        enum_at.file.ends_with("proto/shop/v1/shop.proto"),
        "{enum_at}"
    );
    assert_eq!(enum_at.line, 5);
}

#[test]
fn an_indentation_slip_gets_a_hint_comparing_the_line_with_the_ones_above() {
    let right = Project::new(&TABLE.replace(
        "        type: { from: type }",
        "          type: { from: type }",
    ))
    .analyze();
    let d = find(&right, "yaml");
    assert_eq!(line_col(d), (19, 11), "{}", right.render());
    assert_eq!(
        d.hint.as_deref(),
        Some(
            "line 19 is indented 10 spaces, more than line 18 above it (8): only a key without a value on its line (`key:`) takes a more indented block; to add a key to line 18's mapping, indent it 8 spaces"
        )
    );
    let left = Project::new(&TABLE.replace(
        "        type: { from: type }",
        "       type: { from: type }",
    ))
    .analyze();
    let d = find(&left, "yaml");
    assert_eq!(line_col(d).0, 19, "{}", left.render());
    assert_eq!(
        d.hint.as_deref(),
        Some(
            "line 19 is indented 7 spaces, between line 17 (6) and line 18 (8) above it: keys of one mapping start in the same column; indent it 8 spaces to continue line 18's mapping, or 6 to continue line 17's"
        )
    );
}

#[test]
fn a_row_without_its_channel_is_reported_at_its_name_with_the_declared_channels() {
    let analysis = Project::new(&TABLE.replace("      channel: orders\n", "")).analyze();
    let d = find(&analysis, "yaml");
    assert_eq!(d.message, "missing field `channel`");
    assert_eq!(line_col(d), (14, 7), "{}", analysis.render());
    assert_eq!(d.location.as_ref().map(|l| l.len), Some(4));
    assert_eq!(
        d.hint.as_deref(),
        Some("add `channel:` to the row, one of the channels the table declares: `orders`")
    );
}
