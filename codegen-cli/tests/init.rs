//! `eventmap init`: a starter table from existing protos, on the example's contracts
//! (`proto/`) and on a proto set with nested, repeated, enum, map, oneof, well-known-type,
//! recursive and proto2 fields (`tests/init_fixture/proto`). The written table is
//! snapshotted, passes `eventmap check`, is valid against the JSON Schema, marks every
//! `default` with its reason, and an existing table is never overwritten.

use std::path::Path;
use std::process::{Command, Output};

fn eventmap(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eventmap"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run eventmap")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Copies the folder `from` into `to`.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// A temporary project with `protos` copied to `proto/`.
fn project(protos: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join(protos),
        &dir.path().join("proto"),
    );
    dir
}

/// Runs `eventmap init` with `args` in `dir`, expects success, returns the table.
fn init(dir: &Path, table: &str, args: &[&str]) -> String {
    let mut all = vec!["--mappings", table, "init"];
    all.extend_from_slice(args);
    let out = eventmap(dir, &all);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("it passes `eventmap check`"),
        "{}",
        stderr(&out)
    );
    std::fs::read_to_string(dir.join(table)).expect("the table")
}

/// `eventmap check` passes on the table, and the JSON Schema accepts it.
fn assert_valid(dir: &Path, table: &str, text: &str) {
    let out = eventmap(dir, &["--mappings", table, "check"]);
    assert_eq!(out.status.code(), Some(0), "{}\n{text}", stderr(&out));
    let schema_text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(eventmap_codegen::schema::PATH),
    )
    .expect("the committed schema");
    let schema: serde_json::Value = serde_json::from_str(&schema_text).expect("JSON");
    let validator = jsonschema::draft7::new(&schema).expect("schema");
    let value: serde_json::Value = serde_saphyr::from_str(text).expect("YAML");
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // `default` nowhere silently: each one says why.
    for line in text.lines().filter(|l| l.contains(": default")) {
        assert!(
            line.contains("   # "),
            "a `default` without its reason: {line}"
        );
    }
}

#[test]
fn starter_table_of_the_example_protos() {
    let dir = project("../proto");
    let text = init(dir.path(), "mappings.yaml", &["--protos", "proto"]);
    assert_valid(dir.path(), "mappings.yaml", &text);
    insta::assert_snapshot!("init_example", text);
    // Envelope values where the example's own table has them.
    for line in [
        "        id: { envelope: integration_event_id }",
        "        order_id: { envelope: aggregate_id }",
        "        created_at: { envelope: occurred_at }",
        "        order_version: { envelope: aggregate_version }",
        "        customer_id: { from: customer_id }",
        "  #   ordering.v1.CreateOrderRequest: the request or response of an rpc",
        "  #   ordering.v1.OrderItem: a field type of other messages",
    ] {
        assert!(
            text.contains(&format!("{line}\n")),
            "`{line}` missing:\n{text}"
        );
    }
}

#[test]
fn starter_table_of_nested_repeated_enum_and_well_known_fields() {
    let dir = project("tests/init_fixture/proto");
    let text = init(dir.path(), "mappings.yaml", &["--protos", "proto"]);
    assert_valid(dir.path(), "mappings.yaml", &text);
    insta::assert_snapshot!("init_fixture", text);
    for expected in [
        // Nested and repeated messages, field by field; a map of messages value by value.
        "        lines:\n          from: lines\n          fields:\n            sku: { from: sku }\n            price:\n              from: price\n              fields:\n                cents: { from: cents }",
        "        totals:\n          from: totals\n          fields:\n            cents: { from: cents }",
        // An enum, with how to map it.
        "        status: { from: status }   # proto enum `shop.v1.Status`",
        // A oneof by its own name, a recursive message and Empty: `default` with the reason.
        "        payment: default   # oneof `payment` (card_token, voucher)",
        "            children: default   # recursive message `shop.v1.Category`",
        "        nothing: default   # google.protobuf.Empty",
        // Well-known types: a timestamp that is the event's time, wrappers and others.
        "        checked_out_at: { envelope: occurred_at }",
        "            deliver_by: { from: deliver_by }   # a domain time",
        "        coupon: { from: coupon }\n",
        "        metadata: { from: metadata }   # google.protobuf.Struct",
        // A keyword as a field name.
        "        type: { from: type }\n",
        // proto2, and a second version of an event beside the first.
        "  InvoicePaid:\n    - name: InvoicePaidEvent\n      message: billing.v1.InvoicePaid",
        "    - name: InvoicePaidEventV2\n      message: billing.v2.InvoicePaidEvent",
        "        event_name: { envelope: event_name }",
        "  billing: { subject: billing, stream: BILLING }   # packages billing.v1, billing.v2",
        "  #   shop.v1.Heartbeat: its name is not an event's",
    ] {
        assert!(text.contains(expected), "`{expected}` missing:\n{text}");
    }
}

#[test]
fn files_service_and_a_channel_per_file() {
    let dir = project("tests/init_fixture/proto");
    std::fs::create_dir_all(dir.path().join("svc")).expect("mkdir");
    let text = init(
        dir.path(),
        "svc/events.yaml",
        &[
            "--protos",
            "proto",
            "--files",
            "shop/v1/shop.proto",
            "billing/v2/invoice.proto",
            "--service",
            "shop-floor",
            "--channel-per",
            "file",
        ],
    );
    assert_valid(dir.path(), "svc/events.yaml", &text);
    for expected in [
        "service: shop-floor ",
        "  include: [../proto]\n  files: [shop/v1/shop.proto, billing/v2/invoice.proto]\n",
        "  shop: { subject: shop.shop, stream: SHOP_SHOP }   # file shop/v1/shop.proto",
        "  invoice: { subject: billing.invoice, stream: BILLING_INVOICE }   # file billing/v2/invoice.proto",
        "    - name: InvoicePaidEvent\n      message: billing.v2.InvoicePaidEvent\n      channel: invoice",
    ] {
        assert!(text.contains(expected), "`{expected}` missing:\n{text}");
    }
    assert!(!text.contains("billing.v1"), "{text}");
}

#[test]
fn never_overwrites_a_table() {
    let dir = project("../proto");
    let table = dir.path().join("mappings.yaml");
    std::fs::write(&table, "# mine\n").expect("write");
    let out = eventmap(dir.path(), &["init", "--protos", "proto"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("`mappings.yaml` exists already"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(&table).expect("read"), "# mine\n");
}

#[test]
fn protos_that_do_not_compile_write_nothing() {
    let dir = project("../proto");
    std::fs::write(
        dir.path().join("proto/broken.proto"),
        "syntax = \"proto3\";\nmessage Broken {\n  strin x = 1;\n}\n",
    )
    .expect("write");
    let out = eventmap(dir.path(), &["init", "--protos", "proto"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("broken.proto:3:"), "{}", stderr(&out));
    assert!(!dir.path().join("mappings.yaml").exists());

    let empty = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(empty.path().join("proto")).expect("mkdir");
    let out = eventmap(empty.path(), &["init", "--protos", "proto"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no `.proto` file under `proto`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn no_event_in_the_protos_is_said() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("proto")).expect("mkdir");
    std::fs::write(
        dir.path().join("proto/values.proto"),
        "syntax = \"proto3\";\npackage values;\nmessage Money { int64 cents = 1; }\n",
    )
    .expect("write");
    let out = eventmap(dir.path(), &["init", "--protos", "proto"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no message under `proto` looks like an event (left out: values.Money: its name is not an event's"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.path().join("mappings.yaml").exists());
}

/// A proto2 group in an event: the starter table leaves it `default` with the reason (it
/// wrote a `from:` that its own check then refused, so `init` wrote nothing).
#[test]
fn a_proto2_group_is_left_default_and_the_table_checks() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("proto")).expect("mkdir");
    std::fs::write(
        dir.path().join("proto/legacy.proto"),
        "syntax = \"proto2\";\npackage legacy.v1;\n\
         message ParcelScanned {\n  required string parcel_id = 1;\n\
           optional group Broker = 2 {\n    optional string name = 3;\n  }\n}\n",
    )
    .expect("write");
    let text = init(dir.path(), "mappings.yaml", &["--protos", "proto"]);
    assert_valid(dir.path(), "mappings.yaml", &text);
    assert!(
        text.contains(
            "        broker: default   # `broker` is a proto2 group: eventmap maps no group fields"
        ),
        "{text}"
    );
}
