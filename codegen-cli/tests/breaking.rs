//! Breaking-change detection: for every rule, a change that breaks the contract (reported
//! with its rule id, file and line) and a nearby change that is safe (nothing reported),
//! compared against `HEAD~1` of a git repository made by the test; the folder baseline;
//! accepted breaks.

use std::path::{Path, PathBuf};
use std::process::Command;

use eventmap_codegen::breaking::{self, Baseline, BaselineProblem, Break};
use eventmap_codegen::{Analysis, Error, Severity, analyze, rules};

const TABLE: &str = "mappings.yaml";
const PROTO: &str = "proto/shop/v1/events.proto";

const BASE_PROTO: &str = r#"syntax = "proto3";
package shop.v1;

import "google/protobuf/timestamp.proto";

enum Status {
  STATUS_UNSPECIFIED = 0;
  STATUS_OPEN = 1;
  STATUS_CLOSED = 2;
  reserved 9;
  reserved "STATUS_OLD";
}

message Item {
  string sku = 1;
  uint32 quantity = 2;
}

message OrderPlaced {
  string id = 1;
  string order_id = 2;
  int64 total_cents = 3;
  repeated Item items = 4;
  Status status = 5;
  string note = 6;
  string source = 7;
  optional string coupon = 8;
  repeated int32 tags = 9;
  oneof payment {
    string card = 10;
    string invoice = 11;
  }
  google.protobuf.Timestamp created_at = 12;
  map<string, int32> counts = 13;
  reserved 20 to 22;
  reserved "legacy";
}

message OrderShipped {
  string order_id = 1;
  string carrier = 2;
}

message OrderNoted {
  string text = 1;
}

message Unused {
  string x = 1;
}
"#;

const BASE_TABLE: &str = r#"version: 1
service: shop
protos:
  include: [proto]
  files: [shop/v1/events.proto]
rust:
  domain_module: crate::domain
  proto_module: crate::proto
channels:
  orders:
    subject: shop.orders
    stream: SHOP_ORDERS
  spare:
    subject: shop.spare
    stream: SHOP_SPARE
events:
  OrderPlaced:
    - name: OrderPlacedEvent
      message: shop.v1.OrderPlaced
      channel: orders
      fields:
        id: { envelope: integration_event_id }
        order_id: { envelope: aggregate_id }
        total_cents: { from: total }
        items:
          from: items
          fields:
            sku: { from: sku }
            quantity: { from: qty }
        status: { const: STATUS_OPEN }
        note: { from: note }
        source: { const: web }
        coupon: default
        tags: { from: tags }
        card: default
        invoice: default
        created_at: { envelope: occurred_at }
        counts: default
  OrderShipped:
    - name: OrderShippedEvent
      message: shop.v1.OrderShipped
      channel: orders
      fields:
        order_id: { envelope: aggregate_id }
        carrier: { from: carrier }
  OrderNoted:
    - name: OrderNotedEvent
      message: shop.v1.OrderNoted
      channel: spare # the notes channel
      fields:
        text: { from: text }
"#;

/// The `OrderShipped` entry of the base table, for edits that touch it as a whole.
const SHIPPED: &str = r#"  OrderShipped:
    - name: OrderShippedEvent
      message: shop.v1.OrderShipped
      channel: orders
      fields:
        order_id: { envelope: aggregate_id }
        carrier: { from: carrier }
"#;

/// A git repository made by the test, with the base table and proto committed.
struct Repo {
    dir: tempfile::TempDir,
}

impl Repo {
    fn new() -> Repo {
        let repo = Repo {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo.write(PROTO, BASE_PROTO);
        repo.write(TABLE, BASE_TABLE);
        repo.commit("base");
        repo
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn git(&self, args: &[&str]) {
        let status = Command::new("git")
            .arg("-C")
            .arg(self.root())
            .args([
                "-c",
                "user.name=eventmap test",
                "-c",
                "user.email=test@example.invalid",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .env_remove("GIT_INDEX_FILE")
            .status()
            .expect("git runs");
        assert!(status.success(), "git {args:?} failed");
    }

    fn write(&self, path: &str, text: &str) {
        let path = self.root().join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }

    fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.root().join(path)).expect("read")
    }

    /// Replaces `from`, which must occur exactly once in `path`, by `to`.
    fn edit(&self, path: &str, from: &str, to: &str) -> &Self {
        let text = self.read(path);
        assert_eq!(text.matches(from).count(), 1, "`{from}` in {path}:\n{text}");
        self.write(path, &text.replacen(from, to, 1));
        self
    }

    fn commit(&self, message: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
    }

    /// The 1-based line of the only line of `path` that is `needle` (trimmed), or else
    /// that contains it.
    fn line(&self, path: &str, needle: &str) -> usize {
        let text = self.read(path);
        let find = |exact: bool| -> Vec<usize> {
            text.lines()
                .enumerate()
                .filter(|(_, l)| {
                    if exact {
                        l.trim() == needle
                    } else {
                        l.contains(needle)
                    }
                })
                .map(|(i, _)| i + 1)
                .collect()
        };
        let mut lines = find(true);
        if lines.is_empty() {
            lines = find(false);
        }
        assert_eq!(lines.len(), 1, "`{needle}` in {path}:\n{text}");
        lines[0]
    }

    fn current(&self) -> Analysis {
        let analysis = analyze(&self.root().join(TABLE)).expect("readable");
        assert!(!analysis.has_errors(), "{}", analysis.render());
        analysis
    }

    fn baseline(&self, rev: &str) -> Analysis {
        let baseline = Baseline::GitRef {
            repo_dir: self.root().to_path_buf(),
            rev: rev.to_owned(),
        };
        breaking::load_baseline(&baseline, Path::new(TABLE)).expect("baseline loads")
    }

    /// Commits the edits made so far and compares the new commit with its parent.
    fn breaks(&self) -> Vec<Break> {
        self.commit("change");
        breaking::breaks(&self.baseline("HEAD~1"), &self.current())
    }

    /// Commits, compares, and checks that exactly the given breaks are reported: each as
    /// (rule, file, text of its line in the current file).
    fn expect(&self, expected: &[(&str, &str, &str)]) -> Vec<Break> {
        let found = self.breaks();
        let mut got: Vec<(String, String, usize)> = found.iter().map(|b| self.summary(b)).collect();
        let mut want: Vec<(String, String, usize)> = expected
            .iter()
            .map(|(rule, file, needle)| {
                (
                    (*rule).to_owned(),
                    (*file).to_owned(),
                    self.line(file, needle),
                )
            })
            .collect();
        got.sort();
        want.sort();
        assert_eq!(got, want, "{}", render(&found));
        for b in &found {
            let d = &b.diagnostic;
            assert_eq!(d.severity, Severity::Error);
            assert!(d.hint.is_some(), "{d}");
            assert!(
                d.notes.iter().any(|(text, _)| text.contains(&b.target)),
                "the note names the target: {d}"
            );
        }
        found
    }

    fn expect_none(&self) {
        let found = self.breaks();
        assert!(found.is_empty(), "{}", render(&found));
    }

    /// (rule, file relative to the repository, line).
    fn summary(&self, b: &Break) -> (String, String, usize) {
        let loc = b.diagnostic.location.as_ref().expect("located");
        let file = loc.file.strip_prefix(self.root()).unwrap_or(&loc.file);
        (
            b.diagnostic.rule.to_owned(),
            file.to_string_lossy().into_owned(),
            loc.line,
        )
    }
}

fn render(breaks: &[Break]) -> String {
    breaks
        .iter()
        .map(|b| format!("[{}] {}", b.target, b.diagnostic))
        .collect::<Vec<_>>()
        .join("\n")
}

fn targets(breaks: &[Break]) -> Vec<&str> {
    let mut t: Vec<&str> = breaks.iter().map(|b| b.target.as_str()).collect();
    t.sort_unstable();
    t
}

/// The note of `b` that points into the baseline.
fn baseline_note(b: &Break) -> (String, PathBuf, usize) {
    let (text, loc) = b
        .diagnostic
        .notes
        .iter()
        .find(|(text, loc)| text.contains("in the baseline") && loc.is_some())
        .unwrap_or_else(|| panic!("no baseline note: {}", b.diagnostic));
    let loc = loc.as_ref().expect("location");
    (text.clone(), loc.file.clone(), loc.line)
}

fn base_line(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .expect("needle")
        + 1
}

// ----- unchanged -----

#[test]
fn an_unchanged_contract_has_no_breaks() {
    let repo = Repo::new();
    repo.expect_none();
}

// ----- service -----

#[test]
fn service_changed_breaks() {
    let repo = Repo::new();
    repo.edit(TABLE, "service: shop", "service: shop-v2");
    let found = repo.expect(&[(
        rules::BREAKING_SERVICE_CHANGED.id,
        TABLE,
        "service: shop-v2",
    )]);
    assert_eq!(targets(&found), ["service"]);
}

#[test]
fn rust_paths_are_not_part_of_the_contract() {
    let repo = Repo::new();
    repo.edit(
        TABLE,
        "domain_module: crate::domain",
        "domain_module: crate::orders::domain",
    );
    repo.expect_none();
}

// ----- events -----

#[test]
fn event_removed_is_located_at_its_domain_event() {
    let repo = Repo::new();
    repo.edit(TABLE, SHIPPED, "  OrderShipped: internal\n");
    let found = repo.expect(&[(
        rules::BREAKING_EVENT_REMOVED.id,
        TABLE,
        "OrderShipped: internal",
    )]);
    assert_eq!(targets(&found), ["OrderShippedEvent"]);
    let (text, file, line) = baseline_note(&found[0]);
    assert!(text.contains("was defined here"), "{text}");
    assert_eq!(file, Path::new("HEAD~1:mappings.yaml"));
    assert_eq!(line, base_line(BASE_TABLE, "name: OrderShippedEvent"));
}

#[test]
fn event_removed_with_its_domain_event_is_located_at_events() {
    let repo = Repo::new();
    repo.edit(TABLE, SHIPPED, "");
    repo.expect(&[(rules::BREAKING_EVENT_REMOVED.id, TABLE, "events:")]);
}

#[test]
fn new_events_and_channels_are_safe() {
    let repo = Repo::new();
    repo.edit(
        TABLE,
        "channels:\n",
        "channels:\n  returns:\n    subject: shop.returns\n    stream: SHOP_RETURNS\n",
    );
    repo.edit(
        TABLE,
        SHIPPED,
        &format!(
            "{SHIPPED}  OrderReturned:
    - name: OrderReturnedEvent
      message: shop.v1.OrderShipped
      channel: returns
      fields:
        order_id: {{ envelope: aggregate_id }}
        carrier: {{ from: carrier }}
"
        ),
    );
    repo.expect_none();
}

#[test]
fn event_renamed_breaks() {
    let repo = Repo::new();
    repo.edit(
        TABLE,
        "name: OrderShippedEvent",
        "name: OrderDispatchedEvent",
    );
    let found = repo.expect(&[(
        rules::BREAKING_EVENT_RENAMED.id,
        TABLE,
        "name: OrderDispatchedEvent",
    )]);
    assert_eq!(targets(&found), ["OrderShippedEvent"]);
    assert!(
        found[0]
            .diagnostic
            .message
            .contains("`OrderDispatchedEvent`"),
        "{}",
        found[0].diagnostic
    );
}

#[test]
fn ce_type_added_to_an_existing_event_breaks() {
    let repo = Repo::new();
    repo.edit(
        TABLE,
        "name: OrderShippedEvent\n",
        "name: OrderShippedEvent\n      ce_type: com.example.shop.OrderShipped\n",
    );
    let found = repo.expect(&[(
        rules::BREAKING_CE_TYPE_CHANGED.id,
        TABLE,
        "ce_type: com.example.shop.OrderShipped",
    )]);
    assert_eq!(targets(&found), ["OrderShippedEvent"]);
    let d = &found[0].diagnostic;
    assert!(
        d.message
            .contains("from `OrderShippedEvent` to `com.example.shop.OrderShipped`"),
        "{d}"
    );
    let (note, _, line) = baseline_note(&found[0]);
    assert!(note.contains("no `ce_type`"), "{note}");
    assert_eq!(line, base_line(BASE_TABLE, "name: OrderShippedEvent"));
}

#[test]
fn ce_type_changed_or_removed_breaks() {
    let repo = Repo::new();
    repo.edit(
        TABLE,
        "name: OrderShippedEvent\n",
        "name: OrderShippedEvent\n      ce_type: com.example.shop.OrderShipped\n",
    );
    repo.commit("typed");
    repo.edit(
        TABLE,
        "ce_type: com.example.shop.OrderShipped",
        "ce_type: com.example.shop.v2.OrderShipped",
    );
    let found = repo.expect(&[(
        rules::BREAKING_CE_TYPE_CHANGED.id,
        TABLE,
        "ce_type: com.example.shop.v2.OrderShipped",
    )]);
    assert!(
        found[0]
            .diagnostic
            .hint
            .as_deref()
            .is_some_and(|h| h.contains("keep `ce_type: com.example.shop.OrderShipped`"))
    );
    repo.edit(
        TABLE,
        "      ce_type: com.example.shop.v2.OrderShipped\n",
        "",
    );
    let found = repo.expect(&[(
        rules::BREAKING_CE_TYPE_CHANGED.id,
        TABLE,
        "name: OrderShippedEvent",
    )]);
    assert!(
        found[0]
            .diagnostic
            .message
            .contains("from `com.example.shop.v2.OrderShipped` to `OrderShippedEvent`"),
        "{}",
        found[0].diagnostic
    );
}

#[test]
fn ce_type_written_as_the_name_is_safe() {
    let repo = Repo::new();
    repo.edit(
        TABLE,
        "name: OrderShippedEvent\n",
        "name: OrderShippedEvent\n      ce_type: OrderShippedEvent\n",
    );
    repo.expect_none();
}

#[test]
fn event_renamed_keeping_its_ce_type_is_reported_as_renamed_only() {
    let repo = Repo::new();
    repo.edit(
        TABLE,
        "name: OrderShippedEvent\n",
        "name: OrderShippedEvent\n      ce_type: com.example.shop.OrderShipped\n",
    );
    repo.commit("typed");
    repo.edit(
        TABLE,
        "name: OrderShippedEvent",
        "name: OrderDispatchedEvent",
    );
    repo.expect(&[(
        rules::BREAKING_EVENT_RENAMED.id,
        TABLE,
        "name: OrderDispatchedEvent",
    )]);
}

#[test]
fn event_published_under_a_new_name_next_to_the_old_one_is_safe() {
    let repo = Repo::new();
    let both = SHIPPED.to_owned()
        + &SHIPPED
            .lines()
            .skip(1)
            .map(|l| l.replace("OrderShippedEvent", "OrderDispatchedEvent") + "\n")
            .collect::<String>();
    repo.edit(TABLE, SHIPPED, &both);
    repo.expect_none();
}

#[test]
fn event_moved_to_another_channel_breaks() {
    let repo = Repo::new();
    repo.edit(
        TABLE,
        "message: shop.v1.OrderShipped\n      channel: orders",
        "message: shop.v1.OrderShipped\n      channel: spare",
    );
    let found = repo.expect(&[(
        rules::BREAKING_EVENT_CHANNEL_CHANGED.id,
        TABLE,
        "channel: spare",
    )]);
    assert_eq!(targets(&found), ["OrderShippedEvent"]);
}

#[test]
fn channel_renamed_with_the_same_subject_and_stream_is_safe() {
    let repo = Repo::new();
    let text = repo
        .read(TABLE)
        .replace("  orders:\n", "  shop_orders:\n")
        .replace("channel: orders", "channel: shop_orders");
    repo.write(TABLE, &text);
    repo.expect_none();
}

#[test]
fn subject_changed_breaks() {
    let repo = Repo::new();
    repo.edit(TABLE, "subject: shop.orders", "subject: shop.order");
    let found = repo.expect(&[(
        rules::BREAKING_SUBJECT_CHANGED.id,
        TABLE,
        "subject: shop.order",
    )]);
    assert_eq!(targets(&found), ["orders"]);
}

#[test]
fn events_published_on_a_new_subject_next_to_the_old_one_are_safe() {
    let repo = Repo::new();
    repo.edit(
        TABLE,
        "channels:\n",
        "channels:\n  orders_v2:\n    subject: shop.orders.v2\n    stream: SHOP_ORDERS_V2\n",
    );
    repo.edit(
        TABLE,
        SHIPPED,
        &format!(
            "{SHIPPED}    - name: OrderShippedEventV2
      message: shop.v1.OrderShipped
      channel: orders_v2
      fields:
        order_id: {{ envelope: aggregate_id }}
        carrier: {{ from: carrier }}
"
        ),
    );
    repo.expect_none();
}

#[test]
fn stream_changed_breaks() {
    let repo = Repo::new();
    repo.edit(TABLE, "stream: SHOP_ORDERS", "stream: SHOP_ORDERS_V2");
    let found = repo.expect(&[(
        rules::BREAKING_STREAM_CHANGED.id,
        TABLE,
        "stream: SHOP_ORDERS_V2",
    )]);
    assert_eq!(targets(&found), ["orders"]);
}

#[test]
fn stream_written_differently_is_safe() {
    let repo = Repo::new();
    repo.edit(TABLE, "stream: SHOP_ORDERS", "stream: 'SHOP_ORDERS'");
    repo.edit(TABLE, "subject: shop.spare", "subject: \"shop.spare\"");
    repo.expect_none();
}

const SHIPPED_V2: &str = "\nmessage OrderShippedV2 {\n  string order_id = 1;\n  string carrier = 2;\n  string tracking = 3;\n}\n";

#[test]
fn event_message_changed_breaks() {
    let repo = Repo::new();
    repo.write(PROTO, &(BASE_PROTO.to_owned() + SHIPPED_V2));
    repo.edit(
        TABLE,
        "message: shop.v1.OrderShipped\n",
        "message: shop.v1.OrderShippedV2\n",
    );
    repo.edit(
        TABLE,
        "carrier: { from: carrier }\n",
        "carrier: { from: carrier }\n        tracking: default\n",
    );
    let found = repo.expect(&[(
        rules::BREAKING_EVENT_MESSAGE_CHANGED.id,
        TABLE,
        "message: shop.v1.OrderShippedV2",
    )]);
    assert_eq!(targets(&found), ["OrderShippedEvent"]);
}

#[test]
fn new_message_published_as_a_new_event_is_safe() {
    let repo = Repo::new();
    repo.write(PROTO, &(BASE_PROTO.to_owned() + SHIPPED_V2));
    repo.edit(
        TABLE,
        SHIPPED,
        &format!(
            "{SHIPPED}    - name: OrderShippedEventV2
      message: shop.v1.OrderShippedV2
      channel: orders
      fields:
        order_id: {{ envelope: aggregate_id }}
        carrier: {{ from: carrier }}
        tracking: {{ from: tracking }}
"
        ),
    );
    repo.expect_none();
}

// ----- mapped fields -----

#[test]
fn field_mapped_then_defaulted_breaks() {
    let repo = Repo::new();
    repo.edit(TABLE, "note: { from: note }", "note: default");
    repo.edit(TABLE, "quantity: { from: qty }", "quantity: default");
    let found = repo.expect(&[
        (rules::BREAKING_FIELD_DEFAULTED.id, TABLE, "note: default"),
        (
            rules::BREAKING_FIELD_DEFAULTED.id,
            TABLE,
            "quantity: default",
        ),
    ]);
    assert_eq!(
        targets(&found),
        ["OrderPlacedEvent.items.quantity", "OrderPlacedEvent.note"]
    );
}

#[test]
fn field_defaulted_then_mapped_is_safe() {
    let repo = Repo::new();
    repo.edit(TABLE, "coupon: default", "coupon: { from: coupon }");
    repo.expect_none();
}

#[test]
fn const_changed_breaks() {
    let repo = Repo::new();
    repo.edit(TABLE, "source: { const: web }", "source: { const: app }");
    repo.edit(TABLE, "const: STATUS_OPEN", "const: STATUS_CLOSED");
    let found = repo.expect(&[
        (
            rules::BREAKING_CONST_CHANGED.id,
            TABLE,
            "source: { const: app }",
        ),
        (
            rules::BREAKING_CONST_CHANGED.id,
            TABLE,
            "const: STATUS_CLOSED",
        ),
    ]);
    assert_eq!(
        targets(&found),
        ["OrderPlacedEvent.source", "OrderPlacedEvent.status"]
    );
}

/// The base table with the oneof `payment` set from a domain enum and `note` computed from
/// the whole event, committed as the baseline.
fn repo_with_oneof_mapping() -> Repo {
    let repo = Repo::new();
    repo.edit(
        TABLE,
        "        card: default\n        invoice: default\n",
        "        payment:\n          from: payment\n          enum: crate::domain::Payment\n          variants: { Card: { card: { from: self } }, Invoice: { invoice: { from: self } }, Cash: none }\n",
    );
    repo.edit(
        TABLE,
        "note: { from: note }",
        "note: { with: crate::domain::note }",
    );
    repo.commit("oneof mapping");
    repo
}

#[test]
fn oneof_variant_filling_another_member_breaks() {
    let repo = repo_with_oneof_mapping();
    repo.edit(
        TABLE,
        "Invoice: { invoice: { from: self } }, Cash: none",
        "Invoice: { card: { from: self } }",
    );
    let found = repo.expect(&[
        (
            rules::BREAKING_ENUM_MAPPING_CHANGED.id,
            TABLE,
            "Invoice: { card: { from: self } }",
        ),
        (
            rules::BREAKING_ENUM_MAPPING_CHANGED.id,
            TABLE,
            "from: payment",
        ),
    ]);
    assert_eq!(
        targets(&found),
        [
            "OrderPlacedEvent.payment.Cash",
            "OrderPlacedEvent.payment.Invoice"
        ]
    );
    assert!(
        found.iter().any(|b| b
            .diagnostic
            .message
            .contains("fills `card` instead of `invoice`")),
        "{}",
        render(&found)
    );
}

#[test]
fn a_whole_event_value_and_a_oneof_then_defaulted_break() {
    let repo = repo_with_oneof_mapping();
    repo.edit(
        TABLE,
        "note: { with: crate::domain::note }",
        "note: default",
    );
    repo.edit(
        TABLE,
        "        payment:\n          from: payment\n          enum: crate::domain::Payment\n          variants: { Card: { card: { from: self } }, Invoice: { invoice: { from: self } }, Cash: none }\n",
        "        payment: default\n",
    );
    let found = repo.expect(&[
        (rules::BREAKING_FIELD_DEFAULTED.id, TABLE, "note: default"),
        (
            rules::BREAKING_FIELD_DEFAULTED.id,
            TABLE,
            "payment: default",
        ),
    ]);
    assert!(
        found
            .iter()
            .any(|b| b.diagnostic.message.contains("with: crate::domain::note")),
        "{}",
        render(&found)
    );
}

/// The base table with `status` mapped from a domain enum, committed as the baseline.
fn repo_with_enum_mapping() -> Repo {
    let repo = Repo::new();
    repo.edit(
        TABLE,
        "status: { const: STATUS_OPEN }",
        "status: { from: status, enum: crate::domain::Status, values: { Open: STATUS_OPEN, Done: STATUS_CLOSED } }",
    );
    repo.commit("enum mapping");
    repo
}

#[test]
fn enum_mapping_changed_breaks() {
    let repo = repo_with_enum_mapping();
    repo.edit(
        TABLE,
        "values: { Open: STATUS_OPEN, Done: STATUS_CLOSED }",
        "values: { Open: STATUS_CLOSED, Later: STATUS_OPEN }",
    );
    let found = repo.expect(&[
        (
            rules::BREAKING_ENUM_MAPPING_CHANGED.id,
            TABLE,
            "values: { Open: STATUS_CLOSED",
        ),
        (
            rules::BREAKING_ENUM_MAPPING_CHANGED.id,
            TABLE,
            "values: { Open: STATUS_CLOSED",
        ),
    ]);
    assert_eq!(
        targets(&found),
        [
            "OrderPlacedEvent.status.Done",
            "OrderPlacedEvent.status.Open"
        ]
    );
}

#[test]
fn enum_mapping_with_a_new_variant_is_safe() {
    let repo = repo_with_enum_mapping();
    repo.edit(
        TABLE,
        "values: { Open: STATUS_OPEN, Done: STATUS_CLOSED }",
        "values: { Open: STATUS_OPEN, Done: STATUS_CLOSED, Lost: STATUS_UNSPECIFIED }",
    );
    repo.expect_none();
}

/// `repo_with_enum_mapping` with `Status` allowing aliases (`CLOSED = 2` next to
/// `STATUS_CLOSED = 2`, `OPEN = 1` next to `STATUS_OPEN = 1`), committed as the baseline.
fn repo_with_aliased_enum_mapping() -> Repo {
    let repo = repo_with_enum_mapping();
    repo.edit(
        PROTO,
        "enum Status {\n",
        "enum Status {\n  option allow_alias = true;\n",
    );
    repo.edit(
        PROTO,
        "  STATUS_CLOSED = 2;\n",
        "  STATUS_CLOSED = 2;\n  CLOSED = 2;\n  OPEN = 1;\n",
    );
    repo.commit("aliased enum");
    repo
}

#[test]
fn enum_mapping_switched_to_an_alias_of_the_same_number_is_safe() {
    let repo = repo_with_aliased_enum_mapping();
    repo.edit(
        TABLE,
        "values: { Open: STATUS_OPEN, Done: STATUS_CLOSED }",
        "values: { Open: STATUS_OPEN, Done: CLOSED }",
    );
    repo.expect_none();
}

#[test]
fn enum_mapping_switched_to_an_alias_of_another_number_breaks() {
    let repo = repo_with_aliased_enum_mapping();
    repo.edit(
        TABLE,
        "values: { Open: STATUS_OPEN, Done: STATUS_CLOSED }",
        "values: { Open: STATUS_OPEN, Done: OPEN }",
    );
    let found = repo.expect(&[(rules::BREAKING_ENUM_MAPPING_CHANGED.id, TABLE, "Done: OPEN")]);
    assert_eq!(targets(&found), ["OrderPlacedEvent.status.Done"]);
}

#[test]
fn const_written_differently_is_safe() {
    let repo = Repo::new();
    repo.edit(
        TABLE,
        "source: { const: web }",
        "source: { const: \"web\" }",
    );
    repo.expect_none();
}

// ----- messages -----

#[test]
fn nested_message_renamed_breaks() {
    let repo = Repo::new();
    repo.edit(PROTO, "message Item {", "message LineItem {");
    repo.edit(
        PROTO,
        "repeated Item items = 4;",
        "repeated LineItem items = 4;",
    );
    let found = repo.expect(&[(
        rules::BREAKING_MESSAGE_RENAMED.id,
        PROTO,
        "message LineItem {",
    )]);
    assert_eq!(targets(&found), ["shop.v1.Item"]);
    let (_, file, line) = baseline_note(&found[0]);
    assert_eq!(file, Path::new("HEAD~1:proto/shop/v1/events.proto"));
    assert_eq!(line, base_line(BASE_PROTO, "message Item {"));
}

#[test]
fn event_message_renamed_breaks_as_a_rename() {
    let repo = Repo::new();
    repo.edit(PROTO, "message OrderShipped {", "message ShipmentSent {");
    repo.edit(
        TABLE,
        "message: shop.v1.OrderShipped",
        "message: shop.v1.ShipmentSent",
    );
    let found = repo.expect(&[(
        rules::BREAKING_MESSAGE_RENAMED.id,
        PROTO,
        "message ShipmentSent {",
    )]);
    assert_eq!(targets(&found), ["shop.v1.OrderShipped"]);
}

#[test]
fn message_no_event_carries_may_be_renamed() {
    let repo = Repo::new();
    repo.edit(PROTO, "message Unused {", "message NotUsed {");
    repo.expect_none();
}

const SHIPPED_IN_V2: &str = "syntax = \"proto3\";\npackage shop.v2;\n\nmessage OrderShipped {\n  string order_id = 1;\n  string carrier = 2;\n}\n";

#[test]
fn package_changed_breaks() {
    let repo = Repo::new();
    repo.edit(
        PROTO,
        "message OrderShipped {\n  string order_id = 1;\n  string carrier = 2;\n}\n",
        "",
    );
    repo.write("proto/shop/v2/shipping.proto", SHIPPED_IN_V2);
    repo.edit(
        TABLE,
        "files: [shop/v1/events.proto]",
        "files: [shop/v1/events.proto, shop/v2/shipping.proto]",
    );
    repo.edit(
        TABLE,
        "message: shop.v1.OrderShipped",
        "message: shop.v2.OrderShipped",
    );
    let found = repo.expect(&[(
        rules::BREAKING_PACKAGE_CHANGED.id,
        "proto/shop/v2/shipping.proto",
        "message OrderShipped {",
    )]);
    assert_eq!(targets(&found), ["shop.v1.OrderShipped"]);
}

#[test]
fn new_package_published_next_to_the_old_one_is_safe() {
    let repo = Repo::new();
    repo.write("proto/shop/v2/shipping.proto", SHIPPED_IN_V2);
    repo.edit(
        TABLE,
        "files: [shop/v1/events.proto]",
        "files: [shop/v1/events.proto, shop/v2/shipping.proto]",
    );
    repo.edit(
        TABLE,
        SHIPPED,
        &format!(
            "{SHIPPED}    - name: OrderShippedEventV2
      message: shop.v2.OrderShipped
      channel: orders
      fields:
        order_id: {{ envelope: aggregate_id }}
        carrier: {{ from: carrier }}
"
        ),
    );
    repo.expect_none();
}

// ----- fields -----

#[test]
fn field_removed_without_reserving_breaks() {
    let repo = Repo::new();
    repo.edit(PROTO, "  string note = 6;\n", "");
    repo.edit(TABLE, "        note: { from: note }\n", "");
    let found = repo.expect(&[(
        rules::BREAKING_FIELD_REMOVED.id,
        PROTO,
        "message OrderPlaced {",
    )]);
    assert_eq!(targets(&found), ["shop.v1.OrderPlaced.note"]);
    let d = &found[0].diagnostic;
    assert_eq!(
        d.hint.as_deref(),
        Some("add `reserved 6; reserved \"note\";` to message `OrderPlaced`")
    );
    let (_, file, line) = baseline_note(&found[0]);
    assert_eq!(file, Path::new("HEAD~1:proto/shop/v1/events.proto"));
    assert_eq!(line, base_line(BASE_PROTO, "string note = 6;"));
}

#[test]
fn field_removed_with_only_its_number_reserved_breaks_json() {
    let repo = Repo::new();
    repo.edit(PROTO, "  string note = 6;\n", "  reserved 6;\n");
    repo.edit(TABLE, "        note: { from: note }\n", "");
    let found = repo.expect(&[(
        rules::BREAKING_FIELD_REMOVED.id,
        PROTO,
        "message OrderPlaced {",
    )]);
    assert!(found[0].diagnostic.message.contains("its name"));
}

#[test]
fn field_removed_with_its_number_and_name_reserved_is_safe() {
    let repo = Repo::new();
    repo.edit(
        PROTO,
        "  string note = 6;\n",
        "  reserved 6;\n  reserved \"note\";\n",
    );
    repo.edit(TABLE, "        note: { from: note }\n", "");
    repo.expect_none();
}

#[test]
fn new_optional_field_is_safe() {
    let repo = Repo::new();
    repo.edit(
        PROTO,
        "  google.protobuf.Timestamp created_at = 12;\n",
        "  google.protobuf.Timestamp created_at = 12;\n  optional string gift_message = 16;\n",
    );
    repo.edit(
        TABLE,
        "        created_at: { envelope: occurred_at }\n",
        "        created_at: { envelope: occurred_at }\n        gift_message: default\n",
    );
    repo.expect_none();
}

#[test]
fn field_renamed_breaks() {
    let repo = Repo::new();
    repo.edit(PROTO, "string note = 6;", "string remark = 6;");
    repo.edit(TABLE, "note: { from: note }", "remark: { from: note }");
    let found = repo.expect(&[(
        rules::BREAKING_FIELD_RENAMED.id,
        PROTO,
        "string remark = 6;",
    )]);
    assert_eq!(targets(&found), ["shop.v1.OrderPlaced.note"]);
}

#[test]
fn field_renamed_keeping_its_json_name_is_safe() {
    let repo = Repo::new();
    repo.edit(
        PROTO,
        "string note = 6;",
        "string remark = 6 [json_name = \"note\"];",
    );
    repo.edit(TABLE, "note: { from: note }", "remark: { from: note }");
    repo.expect_none();
}

#[test]
fn field_json_name_changed_breaks() {
    let repo = Repo::new();
    repo.edit(
        PROTO,
        "string note = 6;",
        "string note = 6 [json_name = \"memo\"];",
    );
    repo.expect(&[(
        rules::BREAKING_FIELD_JSON_NAME_CHANGED.id,
        PROTO,
        "string note = 6",
    )]);
}

#[test]
fn field_json_name_written_out_unchanged_is_safe() {
    let repo = Repo::new();
    repo.edit(
        PROTO,
        "int64 total_cents = 3;",
        "int64 total_cents = 3 [json_name = \"totalCents\"];",
    );
    repo.expect_none();
}

#[test]
fn field_number_changed_breaks() {
    let repo = Repo::new();
    repo.edit(PROTO, "string note = 6;", "string note = 14;");
    let found = repo.expect(&[(
        rules::BREAKING_FIELD_NUMBER_CHANGED.id,
        PROTO,
        "string note = 14;",
    )]);
    assert_eq!(targets(&found), ["shop.v1.OrderPlaced.note"]);
}

#[test]
fn fields_reordered_with_their_numbers_are_safe() {
    let repo = Repo::new();
    repo.edit(
        PROTO,
        "  string note = 6;\n  string source = 7;\n",
        "  string source = 7;\n  string note = 6;\n",
    );
    repo.expect_none();
}

#[test]
fn a_field_inserted_in_the_middle_of_a_nested_message_renumbers_the_fields_after_it() {
    let repo = Repo::new();
    repo.edit(
        PROTO,
        "  uint32 quantity = 2;\n}",
        "  uint32 quantity = 2;\n  int64 price_cents = 3;\n}",
    );
    repo.edit(
        TABLE,
        "            quantity: { from: qty }\n",
        "            quantity: { from: qty }\n            price_cents: { from: price }\n",
    );
    repo.commit("items have a price");
    // `label` inserted after `sku`, the fields after it shifted by one: the old number 2
    // (`quantity`, uint32) is now `label` (string), 3 (`price_cents`, int64) is `quantity`.
    repo.edit(
        PROTO,
        "  uint32 quantity = 2;\n  int64 price_cents = 3;\n",
        "  string label = 2;\n  uint32 quantity = 3;\n  int64 price_cents = 4;\n",
    );
    repo.edit(
        TABLE,
        "            sku: { from: sku }\n",
        "            sku: { from: sku }\n            label: { from: label }\n",
    );
    let found = repo.expect(&[
        (
            rules::BREAKING_FIELD_NUMBER_CHANGED.id,
            PROTO,
            "uint32 quantity = 3;",
        ),
        (
            rules::BREAKING_FIELD_NUMBER_CHANGED.id,
            PROTO,
            "int64 price_cents = 4;",
        ),
    ]);
    assert_eq!(
        targets(&found),
        ["shop.v1.Item.price_cents", "shop.v1.Item.quantity"]
    );
    let mut messages: Vec<&str> = found
        .iter()
        .map(|b| b.diagnostic.message.as_str())
        .collect();
    messages.sort_unstable();
    assert_eq!(
        messages,
        [
            "field `price_cents` of `shop.v1.Item` changed its number from 3 to 4 (integration event `OrderPlacedEvent`)",
            "field `quantity` of `shop.v1.Item` changed its number from 2 to 3 (integration event `OrderPlacedEvent`)",
        ]
    );
    let quantity = found
        .iter()
        .find(|b| b.target == "shop.v1.Item.quantity")
        .expect("quantity");
    assert_eq!(
        quantity.diagnostic.hint.as_deref(),
        Some("give `quantity` back its number 2; a new number is a new field")
    );
    let (_, _, line) = baseline_note(quantity);
    assert_eq!(line, base_line(BASE_PROTO, "uint32 quantity = 2;"));
}

#[test]
fn fields_that_swap_numbers_are_two_renumberings_not_two_renames() {
    let repo = Repo::new();
    repo.edit(
        PROTO,
        "  string note = 6;\n  string source = 7;\n",
        "  string note = 7;\n  string source = 6;\n",
    );
    let found = repo.expect(&[
        (
            rules::BREAKING_FIELD_NUMBER_CHANGED.id,
            PROTO,
            "string note = 7;",
        ),
        (
            rules::BREAKING_FIELD_NUMBER_CHANGED.id,
            PROTO,
            "string source = 6;",
        ),
    ]);
    assert_eq!(
        targets(&found),
        ["shop.v1.OrderPlaced.note", "shop.v1.OrderPlaced.source"]
    );
}

#[test]
fn a_field_moved_onto_the_number_of_a_removed_field_is_a_renumbering_and_a_removal() {
    let repo = Repo::new();
    repo.edit(
        PROTO,
        "  string sku = 1;\n  uint32 quantity = 2;\n",
        "  uint32 quantity = 1;\n",
    );
    repo.edit(TABLE, "            sku: { from: sku }\n", "");
    let found = repo.expect(&[
        (
            rules::BREAKING_FIELD_NUMBER_CHANGED.id,
            PROTO,
            "uint32 quantity = 1;",
        ),
        (rules::BREAKING_FIELD_REMOVED.id, PROTO, "message Item {"),
    ]);
    let removed = found
        .iter()
        .find(|b| b.diagnostic.rule == rules::BREAKING_FIELD_REMOVED.id)
        .expect("removed");
    assert_eq!(removed.target, "shop.v1.Item.sku");
    assert_eq!(
        removed.diagnostic.message,
        "field `sku` = 1 of `shop.v1.Item` was removed and its number is now used by field `quantity` (integration event `OrderPlacedEvent`)"
    );
    assert_eq!(
        removed.diagnostic.hint.as_deref(),
        Some(
            "give `quantity` back its number and add `reserved 1; reserved \"sku\";` to message `Item`"
        )
    );
}

#[test]
fn field_type_changed_breaks() {
    let repo = Repo::new();
    repo.edit(PROTO, "int64 total_cents = 3;", "sint64 total_cents = 3;");
    repo.edit(
        PROTO,
        "repeated Item items = 4;",
        "repeated Unused items = 4;",
    );
    repo.edit(
        TABLE,
        "            sku: { from: sku }\n            quantity: { from: qty }\n",
        "            x: { from: sku }\n",
    );
    let found = repo.expect(&[
        (
            rules::BREAKING_FIELD_TYPE_CHANGED.id,
            PROTO,
            "sint64 total_cents = 3;",
        ),
        (
            rules::BREAKING_FIELD_TYPE_CHANGED.id,
            PROTO,
            "repeated Unused items = 4;",
        ),
    ]);
    assert_eq!(
        targets(&found),
        [
            "shop.v1.OrderPlaced.items",
            "shop.v1.OrderPlaced.total_cents"
        ]
    );
    assert!(
        found
            .iter()
            .any(|b| b.diagnostic.message.contains("from `int64` to `sint64`")),
        "{}",
        render(&found)
    );
}

#[test]
fn map_value_type_changed_breaks() {
    let repo = Repo::new();
    repo.edit(
        PROTO,
        "map<string, int32> counts = 13;",
        "map<string, int64> counts = 13;",
    );
    let found = repo.expect(&[(
        rules::BREAKING_FIELD_TYPE_CHANGED.id,
        PROTO,
        "map<string, int64> counts = 13;",
    )]);
    assert!(
        found[0]
            .diagnostic
            .message
            .contains("from `map<string, int32>` to `map<string, int64>`"),
        "{}",
        render(&found)
    );
}

#[test]
fn map_field_renamed_is_one_break_not_a_renamed_entry_message() {
    let repo = Repo::new();
    repo.edit(
        PROTO,
        "map<string, int32> counts = 13;",
        "map<string, int32> tallies = 13;",
    );
    repo.edit(TABLE, "counts: default", "tallies: default");
    repo.expect(&[(
        rules::BREAKING_FIELD_RENAMED.id,
        PROTO,
        "map<string, int32> tallies = 13;",
    )]);
}

#[test]
fn field_type_written_fully_qualified_is_safe() {
    let repo = Repo::new();
    repo.edit(
        PROTO,
        "repeated Item items = 4;",
        "repeated shop.v1.Item items = 4;",
    );
    repo.expect_none();
}

#[test]
fn field_cardinality_changed_breaks() {
    let repo = Repo::new();
    repo.edit(PROTO, "repeated int32 tags = 9;", "int32 tags = 9;");
    repo.edit(PROTO, "optional string coupon = 8;", "string coupon = 8;");
    let found = repo.expect(&[
        (
            rules::BREAKING_FIELD_CARDINALITY_CHANGED.id,
            PROTO,
            "int32 tags = 9;",
        ),
        (
            rules::BREAKING_FIELD_CARDINALITY_CHANGED.id,
            PROTO,
            "string coupon = 8;",
        ),
    ]);
    assert_eq!(
        targets(&found),
        ["shop.v1.OrderPlaced.coupon", "shop.v1.OrderPlaced.tags"]
    );
}

#[test]
fn packed_option_of_a_repeated_field_is_safe() {
    let repo = Repo::new();
    repo.edit(
        PROTO,
        "repeated int32 tags = 9;",
        "repeated int32 tags = 9 [packed = false];",
    );
    repo.expect_none();
}

/// A proto2 file of the base table's package: fields with and without `[default = ...]`.
const LEGACY: &str = "proto/shop/v1/legacy.proto";

const LEGACY_PROTO: &str = r#"syntax = "proto2";
package shop.v1;

enum Tier {
  TIER_BASIC = 1;
  TIER_GOLD = 2;
}

message Legacy {
  optional string channel = 1 [default = "web"];
  optional Tier tier = 2 [default = TIER_BASIC];
  optional int32 retries = 3;
  optional int32 limit = 4 [default = 0];
}
"#;

/// The base table whose `OrderPlaced` also carries the proto2 message `Legacy`, committed
/// as the baseline.
fn repo_with_proto2_defaults() -> Repo {
    let repo = Repo::new();
    repo.write(LEGACY, LEGACY_PROTO);
    repo.edit(
        PROTO,
        "import \"google/protobuf/timestamp.proto\";\n",
        "import \"google/protobuf/timestamp.proto\";\nimport \"shop/v1/legacy.proto\";\n",
    );
    repo.edit(
        PROTO,
        "  map<string, int32> counts = 13;\n",
        "  map<string, int32> counts = 13;\n  Legacy legacy = 14;\n",
    );
    repo.edit(
        TABLE,
        "        counts: default\n",
        "        counts: default\n        legacy: default\n",
    );
    repo.commit("proto2 legacy");
    repo
}

#[test]
fn proto2_default_changed_added_or_removed_breaks() {
    let repo = repo_with_proto2_defaults();
    repo.edit(LEGACY, "[default = \"web\"]", "[default = \"app\"]");
    repo.edit(LEGACY, "[default = TIER_BASIC]", "[default = TIER_GOLD]");
    repo.edit(
        LEGACY,
        "optional int32 retries = 3;",
        "optional int32 retries = 3 [default = 5];",
    );
    let found = repo.expect(&[
        (
            rules::BREAKING_FIELD_DEFAULT_CHANGED.id,
            LEGACY,
            "channel = 1",
        ),
        (rules::BREAKING_FIELD_DEFAULT_CHANGED.id, LEGACY, "tier = 2"),
        (
            rules::BREAKING_FIELD_DEFAULT_CHANGED.id,
            LEGACY,
            "retries = 3",
        ),
    ]);
    assert_eq!(
        targets(&found),
        [
            "shop.v1.Legacy.channel",
            "shop.v1.Legacy.retries",
            "shop.v1.Legacy.tier"
        ]
    );
    let said: Vec<(&str, Option<&str>)> = found
        .iter()
        .map(|b| (b.diagnostic.message.as_str(), b.diagnostic.hint.as_deref()))
        .collect();
    assert!(said.contains(&(
        "field `channel` of `shop.v1.Legacy` (integration event `OrderPlacedEvent`) changed its default from `[default = \"web\"]` to `[default = \"app\"]`: a message that leaves the field absent reads `\"app\"` instead of `\"web\"`",
        Some("keep `[default = \"web\"]`"),
    )), "{said:#?}");
    assert!(said.contains(&(
        "field `tier` of `shop.v1.Legacy` (integration event `OrderPlacedEvent`) changed its default from `[default = TIER_BASIC]` to `[default = TIER_GOLD]`: a message that leaves the field absent reads `TIER_GOLD` instead of `TIER_BASIC`",
        Some("keep `[default = TIER_BASIC]`"),
    )), "{said:#?}");
    assert!(said.contains(&(
        "field `retries` of `shop.v1.Legacy` (integration event `OrderPlacedEvent`) changed its default from no `[default]` to `[default = 5]`: a message that leaves the field absent reads `5` instead of `0`",
        Some("keep the field without `[default = ...]` (absent, it reads `0`)"),
    )), "{said:#?}");
}

#[test]
fn proto2_default_removed_breaks() {
    let repo = repo_with_proto2_defaults();
    repo.edit(
        LEGACY,
        "optional string channel = 1 [default = \"web\"];",
        "optional string channel = 1;",
    );
    let found = repo.expect(&[(
        rules::BREAKING_FIELD_DEFAULT_CHANGED.id,
        LEGACY,
        "channel = 1",
    )]);
    assert!(
        found[0]
            .diagnostic
            .message
            .ends_with("changed its default from `[default = \"web\"]` to no `[default]`: a message that leaves the field absent reads `\"\"` instead of `\"web\"`"),
        "{}",
        render(&found)
    );
}

#[test]
fn proto2_default_written_out_or_dropped_with_the_same_value_is_safe() {
    let repo = repo_with_proto2_defaults();
    // An enum's own default is its first value; an `int32`'s is 0.
    repo.edit(LEGACY, " [default = TIER_BASIC]", "");
    repo.edit(LEGACY, " [default = 0]", "");
    repo.edit(
        LEGACY,
        "optional int32 retries = 3;",
        "optional int32 retries = 3 [default = 0];",
    );
    repo.expect_none();
}

#[test]
fn field_moved_out_of_a_oneof_breaks() {
    let repo = Repo::new();
    repo.edit(
        PROTO,
        "    string invoice = 11;\n  }\n",
        "  }\n  string invoice = 11;\n",
    );
    let found = repo.expect(&[(
        rules::BREAKING_FIELD_ONEOF_CHANGED.id,
        PROTO,
        "string invoice = 11;",
    )]);
    assert_eq!(targets(&found), ["shop.v1.OrderPlaced.invoice"]);
}

#[test]
fn oneof_renamed_with_a_new_member_is_safe() {
    let repo = Repo::new();
    repo.edit(PROTO, "oneof payment {", "oneof payment_method {");
    repo.edit(
        PROTO,
        "    string invoice = 11;\n",
        "    string invoice = 11;\n    string voucher = 15;\n",
    );
    repo.edit(
        TABLE,
        "        invoice: default\n",
        "        invoice: default\n        voucher: default\n",
    );
    repo.expect_none();
}

// ----- enums -----

#[test]
fn enum_value_removed_breaks() {
    let repo = Repo::new();
    repo.edit(PROTO, "  STATUS_CLOSED = 2;\n", "");
    let found = repo.expect(&[(
        rules::BREAKING_ENUM_VALUE_REMOVED.id,
        PROTO,
        "enum Status {",
    )]);
    assert_eq!(targets(&found), ["shop.v1.Status.STATUS_CLOSED"]);
}

#[test]
fn enum_value_removed_with_its_number_and_name_reserved_is_safe() {
    let repo = Repo::new();
    repo.edit(
        PROTO,
        "  STATUS_CLOSED = 2;\n",
        "  reserved 2;\n  reserved \"STATUS_CLOSED\";\n",
    );
    repo.expect_none();
}

#[test]
fn enum_value_renamed_breaks() {
    let repo = Repo::new();
    repo.edit(PROTO, "STATUS_CLOSED = 2;", "STATUS_DONE = 2;");
    let found = repo.expect(&[(
        rules::BREAKING_ENUM_VALUE_RENAMED.id,
        PROTO,
        "STATUS_DONE = 2;",
    )]);
    assert_eq!(targets(&found), ["shop.v1.Status.STATUS_CLOSED"]);
}

#[test]
fn new_enum_value_is_safe() {
    let repo = Repo::new();
    repo.edit(
        PROTO,
        "  STATUS_CLOSED = 2;\n",
        "  STATUS_CLOSED = 2;\n  STATUS_CANCELED = 3;\n",
    );
    repo.expect_none();
}

#[test]
fn enum_value_number_changed_breaks() {
    let repo = Repo::new();
    repo.edit(PROTO, "STATUS_CLOSED = 2;", "STATUS_CLOSED = 3;");
    let found = repo.expect(&[(
        rules::BREAKING_ENUM_VALUE_NUMBER_CHANGED.id,
        PROTO,
        "STATUS_CLOSED = 3;",
    )]);
    assert_eq!(targets(&found), ["shop.v1.Status.STATUS_CLOSED"]);
}

#[test]
fn a_change_to_an_enum_or_message_two_events_share_is_one_break_naming_both() {
    let repo = Repo::new();
    // The baseline: `OrderShipped` carries `Status` and `Item` too.
    repo.edit(
        PROTO,
        "  string carrier = 2;\n",
        "  string carrier = 2;\n  Status status = 3;\n  repeated Item items = 4;\n",
    );
    repo.edit(
        TABLE,
        "        carrier: { from: carrier }\n",
        "        carrier: { from: carrier }\n        status: { const: STATUS_OPEN }\n        items:\n          from: items\n          fields:\n            sku: { from: sku }\n            quantity: { from: qty }\n",
    );
    repo.commit("shipped carries the status and items");
    repo.edit(PROTO, "STATUS_CLOSED = 2;", "STATUS_CLOSED = 3;");
    repo.edit(PROTO, "uint32 quantity = 2;", "uint32 quantity = 3;");
    let found = repo.expect(&[
        (
            rules::BREAKING_ENUM_VALUE_NUMBER_CHANGED.id,
            PROTO,
            "STATUS_CLOSED = 3;",
        ),
        (
            rules::BREAKING_FIELD_NUMBER_CHANGED.id,
            PROTO,
            "uint32 quantity = 3;",
        ),
    ]);
    let messages: Vec<&str> = found
        .iter()
        .map(|b| b.diagnostic.message.as_str())
        .collect();
    assert_eq!(
        messages,
        [
            "field `quantity` of `shop.v1.Item` changed its number from 2 to 3 (integration events `OrderPlacedEvent`, `OrderShippedEvent`)",
            "value `STATUS_CLOSED` of enum `shop.v1.Status` changed its number from 2 to 3 (integration events `OrderPlacedEvent`, `OrderShippedEvent`)",
        ]
    );

    // Through `check --against`: one diagnostic per change too.
    let mut current = repo.current();
    breaking::check_against(&repo.baseline("HEAD~1"), &mut current).expect("compared");
    let rules: Vec<&str> = current.diagnostics.iter().map(|d| d.rule).collect();
    assert_eq!(
        rules,
        [
            rules::BREAKING_FIELD_NUMBER_CHANGED.id,
            rules::BREAKING_ENUM_VALUE_NUMBER_CHANGED.id
        ],
        "{}",
        current.render()
    );
}

#[test]
fn enum_values_reordered_with_their_numbers_are_safe() {
    let repo = Repo::new();
    repo.edit(
        PROTO,
        "  STATUS_OPEN = 1;\n  STATUS_CLOSED = 2;\n",
        "  STATUS_CLOSED = 2;\n  STATUS_OPEN = 1;\n",
    );
    repo.expect_none();
}

// ----- reserved -----

#[test]
fn reserved_numbers_and_names_removed_break() {
    let repo = Repo::new();
    repo.edit(PROTO, "reserved 20 to 22;", "reserved 20 to 21;");
    repo.edit(PROTO, "  reserved \"legacy\";\n", "");
    repo.edit(PROTO, "  reserved 9;\n", "");
    let found = repo.expect(&[
        (
            rules::BREAKING_RESERVED_REMOVED.id,
            PROTO,
            "message OrderPlaced {",
        ),
        (
            rules::BREAKING_RESERVED_REMOVED.id,
            PROTO,
            "message OrderPlaced {",
        ),
        (rules::BREAKING_RESERVED_REMOVED.id, PROTO, "enum Status {"),
    ]);
    assert_eq!(
        targets(&found),
        [
            "shop.v1.OrderPlaced#reserved:20-22",
            "shop.v1.OrderPlaced#reserved:legacy",
            "shop.v1.Status#reserved:9",
        ]
    );
}

#[test]
fn reserved_ranges_rewritten_to_cover_the_same_numbers_are_safe() {
    let repo = Repo::new();
    repo.edit(
        PROTO,
        "reserved 20 to 22;",
        "reserved 20, 21;\n  reserved 22 to 30;",
    );
    repo.expect_none();
}

// ----- baselines -----

#[test]
fn git_baseline_reads_committed_files_and_leaves_the_working_tree_alone() {
    let repo = Repo::new();
    // Uncommitted: the baseline `HEAD` still has the field, the working tree does not.
    repo.edit(TABLE, "note: { from: note }", "note: default");
    let before = repo.read(TABLE);
    let found = breaking::breaks(&repo.baseline("HEAD"), &repo.current());
    assert_eq!(targets(&found), ["OrderPlacedEvent.note"]);
    assert_eq!(repo.read(TABLE), before);
    let status = Command::new("git")
        .arg("-C")
        .arg(repo.root())
        .args(["status", "--porcelain"])
        .output()
        .expect("git status");
    assert_eq!(
        String::from_utf8_lossy(&status.stdout),
        " M mappings.yaml\n"
    );
}

#[test]
fn git_baseline_names_its_files_by_revision_and_path() {
    let repo = Repo::new();
    repo.commit("second");
    let baseline = repo.baseline("HEAD~1");
    assert_eq!(baseline.file, Path::new("HEAD~1:mappings.yaml"));
    assert!(!baseline.has_errors(), "{}", baseline.render());
    let protos = baseline.protos.as_ref().expect("protos");
    let message = protos.message("shop.v1.OrderPlaced").expect("message");
    let loc = protos.message_location(&message).expect("location");
    assert_eq!(loc.file, Path::new("HEAD~1:proto/shop/v1/events.proto"));
    assert_eq!(loc.line, base_line(BASE_PROTO, "message OrderPlaced {"));
    assert!(
        baseline
            .sources
            .get(Path::new("HEAD~1:proto/shop/v1/events.proto"))
            .is_some()
    );
}

#[test]
fn git_baseline_of_a_table_in_a_subfolder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = Repo { dir };
    repo.git(&["init", "-q", "-b", "main"]);
    repo.write(&format!("svc/{PROTO}"), BASE_PROTO);
    repo.write("svc/mappings.yaml", BASE_TABLE);
    repo.commit("base");
    repo.edit(
        "svc/mappings.yaml",
        "stream: SHOP_ORDERS",
        "stream: SHOP_ORDERS_V2",
    );
    repo.commit("change");
    let current = analyze(&repo.root().join("svc/mappings.yaml")).expect("readable");
    for (repo_dir, table) in [
        (
            repo.root().to_path_buf(),
            PathBuf::from("svc/mappings.yaml"),
        ),
        (repo.root().join("svc"), PathBuf::from("mappings.yaml")),
        (
            repo.root().join("svc"),
            repo.root().join("svc/mappings.yaml"),
        ),
    ] {
        let baseline = breaking::load_baseline(
            &Baseline::GitRef {
                repo_dir,
                rev: "HEAD~1".into(),
            },
            &table,
        )
        .expect("baseline");
        assert_eq!(baseline.file, Path::new("HEAD~1:svc/mappings.yaml"));
        let rules: Vec<&str> = breaking::compare(&baseline, &current)
            .iter()
            .map(|d| d.rule)
            .collect();
        assert_eq!(rules, [rules::BREAKING_STREAM_CHANGED.id]);
    }
}

#[test]
fn folder_baseline() {
    let repo = Repo::new();
    let base = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(base.path().join("proto/shop/v1")).expect("mkdir");
    std::fs::write(base.path().join(PROTO), BASE_PROTO).expect("write");
    std::fs::write(base.path().join(TABLE), BASE_TABLE).expect("write");
    repo.edit(PROTO, "  string note = 6;\n", "");
    repo.edit(TABLE, "        note: { from: note }\n", "");
    let baseline =
        breaking::load_baseline(&Baseline::Dir(base.path().to_path_buf()), Path::new(TABLE))
            .expect("baseline");
    let found = breaking::breaks(&baseline, &repo.current());
    assert_eq!(targets(&found), ["shop.v1.OrderPlaced.note"]);
    let (_, file, line) = baseline_note(&found[0]);
    assert_eq!(file, base.path().join(PROTO));
    assert_eq!(line, base_line(BASE_PROTO, "string note = 6;"));
}

#[test]
fn baselines_that_cannot_be_loaded_are_errors() {
    let repo = Repo::new();
    let load = |rev: &str, table: &str| {
        breaking::load_baseline(
            &Baseline::GitRef {
                repo_dir: repo.root().to_path_buf(),
                rev: rev.to_owned(),
            },
            Path::new(table),
        )
    };
    assert!(matches!(
        load("no-such-branch", TABLE),
        Err(Error::Baseline {
            problem: BaselineProblem::UnknownRevision(_),
            ..
        })
    ));
    assert!(matches!(
        load("--output=x", TABLE),
        Err(Error::Baseline {
            problem: BaselineProblem::UnknownRevision(_),
            ..
        })
    ));
    assert!(matches!(
        load("HEAD", "other/mappings.yaml"),
        Err(Error::Baseline {
            problem: BaselineProblem::TableNotFound(_),
            ..
        })
    ));
    assert!(matches!(
        load("HEAD", "../mappings.yaml"),
        Err(Error::Baseline {
            problem: BaselineProblem::OutsideRepository(_),
            ..
        })
    ));
    repo.write(TABLE, "version: 1\nservice: [oops\n");
    repo.commit("broken");
    let err = load("HEAD", TABLE).expect_err("broken table");
    assert!(
        matches!(
            &err,
            Error::Baseline {
                problem: BaselineProblem::Unusable { .. },
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("HEAD:mappings.yaml:"), "{err}");
    let not_a_repo = tempfile::tempdir().expect("tempdir");
    let err = breaking::load_baseline(
        &Baseline::GitRef {
            repo_dir: not_a_repo.path().to_path_buf(),
            rev: "HEAD".into(),
        },
        Path::new(TABLE),
    )
    .expect_err("not a repository");
    assert!(
        matches!(
            &err,
            Error::Baseline {
                problem: BaselineProblem::Git { .. },
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn baseline_proto_that_does_not_compile_is_an_error_in_the_baseline_file() {
    let repo = Repo::new();
    repo.edit(PROTO, "string carrier = 2;", "string carrier = ;");
    repo.commit("broken proto");
    let err = breaking::load_baseline(
        &Baseline::GitRef {
            repo_dir: repo.root().to_path_buf(),
            rev: "HEAD".into(),
        },
        Path::new(TABLE),
    )
    .expect_err("broken proto");
    let line = repo.line(PROTO, "string carrier = ;");
    assert!(
        err.to_string()
            .contains(&format!("HEAD:proto/shop/v1/events.proto:{line}:")),
        "{err}"
    );
}

// ----- accepted breaks -----

#[test]
fn accepted_breaks_suppress_exactly_their_entry_and_stale_entries_warn() {
    let repo = Repo::new();
    repo.edit(TABLE, "note: { from: note }", "note: default");
    repo.edit(TABLE, "source: { const: web }", "source: { const: app }");
    repo.write(
        breaking::ACCEPTED_BREAKS_FILE,
        r#"# Breaks of the integration contract accepted on purpose.
accepted:
  - rule: breaking-const-changed
    target: OrderPlacedEvent.source
    reason: consumers treat `source` as free text (agreed with search, PR 12)
  - rule: breaking-field-defaulted
    target: OrderPlacedEvent.notes
    reason: typo in the target
  - rule: breaking-event-remove
    target: OrderShippedEvent
    reason: typo in the rule
"#,
    );
    repo.commit("change");
    let baseline = repo.baseline("HEAD~1");
    let mut current = repo.current();
    breaking::check_against(&baseline, &mut current).expect("check");
    let got: Vec<(&str, Severity, usize)> = current
        .diagnostics
        .iter()
        .filter(|d| d.rule.starts_with("breaking-"))
        .map(|d| {
            (
                d.rule,
                d.severity,
                d.location.as_ref().expect("located").line,
            )
        })
        .collect();
    let accepted = breaking::ACCEPTED_BREAKS_FILE;
    assert_eq!(
        got,
        [
            (
                rules::BREAKING_FIELD_DEFAULTED.id,
                Severity::Error,
                repo.line(TABLE, "note: default")
            ),
            (
                rules::BREAKING_ACCEPTED_STALE.id,
                Severity::Warning,
                repo.line(accepted, "target: OrderPlacedEvent.notes")
            ),
            (
                rules::BREAKING_ACCEPTED_STALE.id,
                Severity::Warning,
                repo.line(accepted, "rule: breaking-event-remove")
            ),
        ],
        "{}",
        current.render()
    );
    let hints: Vec<&str> = current
        .diagnostics
        .iter()
        .filter(|d| d.rule == rules::BREAKING_ACCEPTED_STALE.id)
        .filter_map(|d| d.hint.as_deref())
        .collect();
    assert_eq!(
        hints,
        [
            "did you mean target `OrderPlacedEvent.note`?",
            "`breaking-event-remove` is not a breaking rule id; did you mean `breaking-event-removed`?",
        ]
    );
    let rendered = current.render();
    assert!(
        rendered.contains("eventmap-accepted-breaks.yaml:"),
        "{rendered}"
    );
}

#[test]
fn accepted_breaks_file_that_does_not_follow_the_format_is_a_yaml_error() {
    let repo = Repo::new();
    repo.edit(TABLE, "source: { const: web }", "source: { const: app }");
    repo.write(
        breaking::ACCEPTED_BREAKS_FILE,
        "accepted:\n  - rule: breaking-const-changed\n    target: OrderPlacedEvent.source\n    reason: ok\n    expires: never\n",
    );
    repo.commit("change");
    let mut current = repo.current();
    breaking::check_against(&repo.baseline("HEAD~1"), &mut current).expect("check");
    let rules_found: Vec<&str> = current.diagnostics.iter().map(|d| d.rule).collect();
    assert_eq!(rules_found, ["yaml", rules::BREAKING_CONST_CHANGED.id]);
    let yaml = &current.diagnostics[0];
    assert_eq!(
        yaml.location.as_ref().map(|l| l.line),
        Some(repo.line(breaking::ACCEPTED_BREAKS_FILE, "expires: never"))
    );
}

#[test]
fn accepted_break_needs_a_reason() {
    let file = Path::new("eventmap-accepted-breaks.yaml");
    let err = breaking::AcceptedBreaks::parse(
        file,
        "accepted:\n  - rule: breaking-const-changed\n    target: X.y\n    reason: \"  \"\n",
    )
    .expect_err("empty reason");
    assert_eq!(err.rule, "yaml");
    assert_eq!(err.location.as_ref().map(|l| l.line), Some(4));
    let ok = breaking::AcceptedBreaks::parse(file, "# nothing accepted\n").expect("comments only");
    assert!(ok.is_empty());
}

#[test]
fn every_rule_is_documented() {
    let docs = std::fs::read_to_string("../docs/checks.md").expect("docs/checks.md");
    let breaking = rules::ALL
        .iter()
        .filter(|r| r.section == rules::Section::Breaking);
    for rule in breaking {
        assert!(
            docs.contains(&format!("`{rule}`")),
            "{rule} in docs/checks.md"
        );
    }
}

#[test]
fn nothing_is_compared_when_the_current_protos_do_not_compile() {
    let repo = Repo::new();
    repo.write(
        breaking::ACCEPTED_BREAKS_FILE,
        "accepted:\n  - rule: breaking-field-removed\n    target: shop.v1.OrderPlaced.note\n    reason: planned\n",
    );
    repo.edit(PROTO, "string note = 6;", "string note = ;");
    repo.commit("broken");
    let mut current = analyze(&repo.root().join(TABLE)).expect("readable");
    let before = current.diagnostics.len();
    breaking::check_against(&repo.baseline("HEAD~1"), &mut current).expect("check");
    assert_eq!(current.diagnostics.len(), before, "{}", current.render());
}
