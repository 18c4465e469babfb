//! A real-sized, multi-file proto set with its mapping table, for the documents at scale
//! (a few hundred events over many files): written by `tests/docs_scale.rs` (the Rust checks) and by the example
//! `scale_fixture` (`tests/docs-tools/run.sh` runs the real tools on it).
//!
//! Deterministic for a given number of events. Three channels, each its own package and
//! folder, with imports between the packages:
//! - `common.v1` (proto3): shared types in two files: `Money`, `Actor` (with a nested enum),
//!   `Address` (repeated and map fields), `Failure` (recursive), the enum `State`, and in
//!   `keywords.proto` names that are keywords in proto or Rust (a message `message`, fields
//!   `type`, `enum`, `match`, `async`, `package`, an enum `Type`);
//! - `shop.orders.v1` (proto3, half the events: a channel too big for one diagram) and
//!   `shop.billing.v1` (proto3, a quarter, using the proto2 `ledger.v1.Posting`): event
//!   messages with a nested repeated `Line`, well-known types (`Timestamp`, `Duration`), maps,
//!   `optional`, enums of another package;
//! - `ledger.v1` (proto2, a quarter): `required` fields, `[default = ..]`, a closed enum
//!   starting at 1, packed repeated numbers, a nested message used from another message.
//!
//! [`EVENTS_PER_FILE`] events per `.proto` file; every 25th domain event is `internal`. The
//! service also subscribes to the first 20 events of its own `ledger` channel (`audit`, with
//! a dead-letter channel): the consuming side at scale.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::io;
use std::path::Path;

/// Event messages per `.proto` file.
pub const EVENTS_PER_FILE: usize = 40;

/// The size the docs-tools check runs on.
pub const DOCS_TOOLS_EVENTS: usize = 480;

const TYPES_PROTO: &str = r#"// Types shared by every service of the shop.
syntax = "proto3";

package common.v1;

import "google/protobuf/timestamp.proto";

// An amount of money: whole units and nanos of the currency.
message Money {
  int64 units = 1;
  // Billionths of a unit, with the sign of `units`.
  int32 nanos = 2;
  // ISO 4217 currency code.
  string currency_code = 3;
}

// Who did something.
message Actor {
  // What kind of actor.
  enum Kind {
    KIND_UNSPECIFIED = 0;
    KIND_USER = 1;
    KIND_SYSTEM = 2;
  }
  string id = 1;
  Kind kind = 2;
  google.protobuf.Timestamp since = 3;
}

// A postal address.
message Address {
  repeated string lines = 1;
  string city = 2;
  string country = 3;
  map<string, string> attributes = 4;
  reserved 5, 8 to 10;
  reserved "zip";
}

// Why something failed; a failure may have a cause, which may have one.
message Failure {
  string message = 1;
  Failure cause = 2;
}

// Lifecycle state of an order.
enum State {
  STATE_UNSPECIFIED = 0;
  STATE_OPEN = 1;
  STATE_CLOSED = 2;
  STATE_ARCHIVED = 3 [deprecated = true];
}

// Never used by an event: must not appear in a payload schema.
message Unused {
  string nothing = 1;
}
"#;

const KEYWORDS_PROTO: &str = r#"// Names that are keywords in proto, in Rust or in both.
syntax = "proto3";

package common.v1;

// A kind of thing.
enum Type {
  TYPE_UNSPECIFIED = 0;
  TYPE_MESSAGE = 1;
  TYPE_ENUM = 2;
}

// A message named `message`.
message message {
  string type = 1;
  string enum = 2;
  int32 match = 3;
  bool async = 4;
  string package = 5;
  Type kind = 6;
}
"#;

const LEDGER_PROTO: &str = r#"// The ledger: a contract that predates proto3.
syntax = "proto2";

package ledger.v1;

// Which side of the ledger (a closed proto2 enum, starting at 1).
enum Side {
  SIDE_DEBIT = 1;
  SIDE_CREDIT = 2;
}

// A posting to one account.
message Posting {
  // A note on a posting.
  message Memo {
    optional string text = 1;
    optional int32 line = 2 [default = -1];
  }
  required string account = 1;
  required int64 amount_minor = 2;
  optional string currency = 3 [default = "EUR"];
  optional Side side = 4 [default = SIDE_DEBIT];
  repeated int64 tags = 5 [packed = true];
  optional Memo memo = 6;
}
"#;

/// What a package of events is.
struct Package {
    /// Proto package.
    name: &'static str,
    /// Folder under `proto/`.
    dir: &'static str,
    /// Channel name, subject, stream.
    channel: (&'static str, &'static str, &'static str),
    /// Share of the events, in quarters.
    quarters: usize,
    proto2: bool,
}

const PACKAGES: [Package; 3] = [
    Package {
        name: "shop.orders.v1",
        dir: "shop/orders/v1",
        channel: ("orders", "shop.orders", "SHOP_ORDERS"),
        quarters: 2,
        proto2: false,
    },
    Package {
        name: "shop.billing.v1",
        dir: "shop/billing/v1",
        channel: ("billing", "shop.billing", "SHOP_BILLING"),
        quarters: 1,
        proto2: false,
    },
    Package {
        name: "ledger.v1",
        dir: "ledger/v1",
        channel: ("ledger", "ledger.entries", "LEDGER_ENTRIES"),
        quarters: 1,
        proto2: true,
    },
];

/// Writes the fixture for `events` events into `dir`: `mappings.yaml` and `proto/`, with
/// [`EVENTS_PER_FILE`] events per `.proto` file.
pub fn write(dir: &Path, events: usize) -> io::Result<()> {
    write_with(dir, events, EVENTS_PER_FILE)
}

/// [`write`] with `per_file` events per `.proto` file (`usize::MAX`: one file per package,
/// which grows with the number of events).
pub fn write_with(dir: &Path, events: usize, per_file: usize) -> io::Result<()> {
    let proto = dir.join("proto");
    for (path, text) in [
        ("common/v1/types.proto", TYPES_PROTO),
        ("common/v1/keywords.proto", KEYWORDS_PROTO),
        ("ledger/v1/ledger.proto", LEDGER_PROTO),
    ] {
        write_file(&proto.join(path), text)?;
    }
    let mut files = vec![
        "common/v1/types.proto".to_owned(),
        "common/v1/keywords.proto".to_owned(),
        "ledger/v1/ledger.proto".to_owned(),
    ];
    let mut rows = String::new();
    let mut audited = Vec::new();
    let mut first = 0;
    for (index, package) in PACKAGES.iter().enumerate() {
        let count = if index + 1 == PACKAGES.len() {
            events - first
        } else {
            events * package.quarters / 4
        };
        let numbers: Vec<usize> = (first..first + count).collect();
        for (chunk, ids) in numbers.chunks(per_file.max(1)).enumerate() {
            let file = format!("{}/events_{chunk:02}.proto", package.dir);
            write_file(&proto.join(&file), &events_proto(package, ids))?;
            files.push(file);
            for &e in ids {
                rows.push_str(&row(package, e));
                if package.proto2 && !internal(e) && audited.len() < AUDITED {
                    audited.push(message_name(package, e));
                }
            }
        }
        first += count;
    }
    let mut table = String::from(
        "# Generated by codegen-cli/tests/scale_fixture (deterministic): a multi-file proto set\n\
         # of several packages for the documents at scale.\n\
         version: 1\nservice: shop\nprotos:\n  include: [proto]\n  files:\n",
    );
    for file in &files {
        let _ = writeln!(table, "    - {file}");
    }
    table.push_str(
        "rust:\n  domain_module: crate::domain\n  proto_module: crate::proto\n  output: generated.rs\nchannels:\n",
    );
    for package in &PACKAGES {
        let (name, subject, stream) = package.channel;
        let _ = writeln!(
            table,
            "  {name}: {{ subject: {subject}, stream: {stream} }}"
        );
    }
    table.push_str("events:\n");
    table.push_str(&rows);
    if !audited.is_empty() {
        table.push_str(
            "subscriptions:\n  audit:\n    channel: ledger\n    package: ledger.v1\n    events:\n",
        );
        for message in &audited {
            let _ = writeln!(table, "      {message}Event: {message}");
        }
        table.push_str(
            "    delivery:\n      max_deliver: 3\n      dead_letter: { subject: shop.dead-letter, stream: SHOP_DEAD_LETTERS }\n",
        );
    }
    write_file(&dir.join("mappings.yaml"), &table)
}

fn write_file(path: &Path, text: &str) -> io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, text)
}

/// Whether domain event `e` stays inside the service (`internal`): every 25th.
fn internal(e: usize) -> bool {
    e % 25 == 24
}

/// How many ledger events the subscription `audit` receives (the service reads its own
/// ledger channel, as a projection would): more than a diagram label lists.
const AUDITED: usize = 20;

/// The name of event `e`'s proto message.
fn message_name(package: &Package, e: usize) -> String {
    match package.name {
        "shop.orders.v1" => format!("Order{e}Changed"),
        "shop.billing.v1" => format!("Invoice{e}Changed"),
        _ => format!("Entry{e}Posted"),
    }
}

fn events_proto(package: &Package, ids: &[usize]) -> String {
    let mut out = String::new();
    if package.proto2 {
        let _ = write!(
            out,
            "// Ledger events.\nsyntax = \"proto2\";\n\npackage {};\n\nimport \"ledger/v1/ledger.proto\";\nimport \"google/protobuf/timestamp.proto\";\n",
            package.name
        );
        for &e in ids {
            let _ = write!(
                out,
                "\n// Entry {e} was posted.\nmessage {} {{\n  required string id = 1;\n  required string aggregate_id = 2;\n  optional uint64 version = 3;\n  optional Posting posting = 4;\n  optional string note = 5 [default = \"n/a\"];\n  repeated Posting.Memo memos = 6;\n  optional google.protobuf.Timestamp at = 7;\n}}\n",
                message_name(package, e)
            );
        }
        return out;
    }
    let billing = package.name == "shop.billing.v1";
    let _ = write!(
        out,
        "// Events of {}.\nsyntax = \"proto3\";\n\npackage {};\n\nimport \"google/protobuf/timestamp.proto\";\nimport \"google/protobuf/duration.proto\";\nimport \"common/v1/types.proto\";\nimport \"common/v1/keywords.proto\";\n{}",
        package.name,
        package.name,
        if billing {
            "import \"ledger/v1/ledger.proto\";\n"
        } else {
            ""
        }
    );
    for &e in ids {
        let extra = match e % 4 {
            0 => "common.v1.Address shipping_to = 12;",
            1 => "common.v1.Failure failure = 12;",
            2 => "common.v1.message keywords = 12;",
            _ => "google.protobuf.Duration took = 12;",
        };
        let posting = if billing {
            "\n  ledger.v1.Posting posting = 13;"
        } else {
            ""
        };
        let _ = write!(
            out,
            "\n// {} changed (event {e}).\nmessage {} {{\n  // One line.\n  message Line {{\n    string sku = 1;\n    int32 quantity = 2;\n    common.v1.Money price = 3;\n  }}\n  string id = 1;\n  string order_id = 2;\n  uint64 version = 3;\n  google.protobuf.Timestamp occurred_at = 4;\n  common.v1.Money total = 5;\n  repeated Line lines = 6;\n  common.v1.Actor actor = 7;\n  common.v1.State state = 8;\n  // A keyword as a field name.\n  string type = 9;\n  optional string note = 10;\n  map<string, string> labels = 11;\n  {extra}{posting}\n}}\n",
            if billing { "An invoice" } else { "An order" },
            message_name(package, e)
        );
    }
    out
}

/// The table row of event `e`.
fn row(package: &Package, e: usize) -> String {
    let message = message_name(package, e);
    let domain = message
        .trim_end_matches("Changed")
        .trim_end_matches("Posted");
    let domain = format!("{domain}Happened");
    if internal(e) {
        return format!("  {domain}: internal\n");
    }
    let head = format!(
        "  {domain}:\n    - name: {message}Event\n      message: {}.{message}\n      channel: {}\n      fields:\n",
        package.name, package.channel.0
    );
    if package.proto2 {
        return format!(
            "{head}        id: {{ envelope: integration_event_id }}\n        aggregate_id: {{ envelope: aggregate_id }}\n        version: {{ envelope: aggregate_version }}\n        posting:\n          from: posting\n          fields:\n            account: {{ from: account }}\n            amount_minor: {{ from: amount }}\n            currency: default\n            side: {{ const: SIDE_CREDIT }}\n            tags: {{ from: tags }}\n            memo: default\n        note: default\n        memos:\n          from: memos\n          fields:\n            text: {{ from: text }}\n            line: default\n        at: {{ envelope: occurred_at }}\n"
        );
    }
    let extra = match e % 4 {
        0 => "        shipping_to:\n          from: address\n          fields:\n            lines: { from: lines }\n            city: { from: city }\n            country: { const: \"NO\" }\n            attributes: default\n".to_owned(),
        1 => "        failure: default\n".to_owned(),
        2 => "        keywords:\n          from: keywords\n          fields:\n            type: { from: type }\n            enum: { from: enum_name }\n            match: { from: match }\n            async: { const: \"true\" }\n            package: default\n            kind: { const: TYPE_MESSAGE }\n".to_owned(),
        _ => "        took: default\n".to_owned(),
    };
    let posting = if package.name == "shop.billing.v1" {
        "        posting:\n          from: posting\n          fields:\n            account: { from: account }\n            amount_minor: { from: amount }\n            currency: { from: currency }\n            side: default\n            tags: default\n            memo: default\n"
    } else {
        ""
    };
    format!(
        "{head}        id: {{ envelope: integration_event_id }}\n        order_id: {{ envelope: aggregate_id }}\n        version: {{ envelope: aggregate_version }}\n        occurred_at: {{ envelope: occurred_at }}\n        total:\n          from: total\n          fields:\n            units: {{ from: units }}\n            nanos: default\n            currency_code: {{ from: currency }}\n        lines:\n          from: lines\n          fields:\n            sku: {{ from: sku }}\n            quantity: {{ from: quantity }}\n            price: default\n        actor:\n          from: actor\n          fields:\n            id: {{ from: id }}\n            kind:\n              from: kind\n              enum: crate::domain::ActorKind\n              values: {{ User: KIND_USER, System: KIND_SYSTEM }}\n            since: default\n        state: {{ const: STATE_OPEN }}\n        type: {{ from: kind_name }}\n        note: {{ from: note }}\n        labels: {{ from: labels }}\n{extra}{posting}"
    )
}
