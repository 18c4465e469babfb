//! Tables checked together (`eventmap_codegen::system`): the example's three tables pass; the
//! fixture system of `tests/system/` (two producers, proto3 and proto2, and two consumers with
//! copies of their protos) passes, and each cross-table problem, made by patching a copy of
//! it, is reported with its rule in the consumer's table, at the row at fault, with notes at
//! the producer's row and the `.proto` definitions. Diagnostics are pinned in text and JSON.

use std::path::{Path, PathBuf};

use eventmap_codegen::system::{self, CrossCheck};
use eventmap_codegen::{Analysis, Diagnostic, analyze, report};

const FIXTURE: &str = "tests/system";

/// Copies `from` into `to`, recursively.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read fixture") {
        let path = entry.expect("entry").path();
        let target = to.join(path.file_name().expect("name"));
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).expect("copy");
        }
    }
}

/// A copy of the fixture system with `patches` applied: (file, text, replacement), each text
/// present once at least.
fn system(patches: &[(&str, &str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(Path::new(FIXTURE), dir.path());
    for (file, from, to) in patches {
        let path = dir.path().join(file);
        let text = std::fs::read_to_string(&path).expect("fixture file");
        assert!(text.contains(from), "`{from}` is not in {file}");
        std::fs::write(&path, text.replacen(from, to, 1)).expect("write");
    }
    dir
}

/// Every table under `dir`, analyzed and checked together.
fn check(dir: &Path) -> (Vec<Analysis>, CrossCheck) {
    let tables = system::find_tables(&[dir.to_path_buf()]).expect("tables");
    let mut analyses: Vec<Analysis> = tables
        .iter()
        .map(|t| analyze(t).expect("readable"))
        .collect();
    let cross = system::check(&mut analyses);
    (analyses, cross)
}

/// The diagnostics of every table, `dir` written `[system]`.
fn rendered(dir: &Path, analyses: &[Analysis]) -> String {
    let text: Vec<String> = analyses
        .iter()
        .filter(|a| !a.diagnostics.is_empty())
        .map(Analysis::render)
        .collect();
    text.join("\n")
        .replace(&format!("{}/", dir.display()), "[system]/")
}

fn all(analyses: &[Analysis]) -> Vec<Diagnostic> {
    analyses
        .iter()
        .flat_map(|a| a.diagnostics.iter().cloned())
        .collect()
}

/// The 1-based line and column of the first `needle` in `file` of `dir`.
fn position(dir: &Path, file: &str, needle: &str) -> (PathBuf, usize, usize) {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).expect("file");
    let offset = text
        .find(needle)
        .unwrap_or_else(|| panic!("`{needle}` in {file}"));
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before[before.rfind('\n').map_or(0, |i| i + 1)..]
        .chars()
        .count()
        + 1;
    (path, line, column)
}

/// The diagnostics of `rule` located in `file` (the consumer's table), asserting there is one
/// at least and every one is at `needle`.
fn reported<'a>(
    dir: &Path,
    analyses: &'a [Analysis],
    rule: &str,
    file: &str,
    needle: &str,
) -> Vec<&'a Diagnostic> {
    let (path, line, column) = position(dir, file, needle);
    let found: Vec<&Diagnostic> = analyses
        .iter()
        .flat_map(|a| &a.diagnostics)
        .filter(|d| d.rule == rule && d.location.as_ref().is_some_and(|l| l.file == path))
        .collect();
    assert!(
        !found.is_empty(),
        "no {rule} in {file}:\n{}",
        rendered(dir, analyses)
    );
    for d in &found {
        let at = d.location.as_ref().expect("located");
        assert_eq!(
            (&at.file, at.line, at.column),
            (&path, line, column),
            "{rule} at {file}:{line}:{column}:\n{}",
            rendered(dir, analyses)
        );
    }
    found
}

/// Whether a note of `d` points into `file` of `dir` at `needle`'s line.
fn has_note_at(d: &Diagnostic, dir: &Path, file: &str, needle: &str) -> bool {
    let (path, line, _) = position(dir, file, needle);
    d.notes.iter().any(|(_, at)| {
        at.as_ref()
            .is_some_and(|l| l.file == path && l.line == line)
    })
}

#[test]
fn the_examples_three_tables_pass_together() {
    let tables = system::find_tables(&[
        PathBuf::from("../mappings.yaml"),
        PathBuf::from("../examples"),
    ])
    .expect("tables");
    assert_eq!(
        tables,
        [
            "../mappings.yaml",
            "../examples/notifications/mappings.yaml",
            "../examples/search/mappings.yaml"
        ]
        .map(PathBuf::from)
    );
    let mut analyses: Vec<Analysis> = tables.iter().map(|t| analyze(t).expect("read")).collect();
    assert_eq!(
        system::check(&mut analyses),
        CrossCheck::Checked { diagnostics: 0 },
        "{}",
        analyses.iter().map(Analysis::render).collect::<String>()
    );
    // The producer's channel is consumed by both services.
    let wiring = system::wiring(&analyses);
    let consumers: Vec<(&str, &str, Vec<&str>)> = wiring
        .consumers_of(0, "order")
        .map(|c| {
            (
                c.service.as_str(),
                c.durable.as_str(),
                c.events.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        consumers,
        [
            (
                "notifications",
                "notifications-orders",
                vec![
                    "OrderCreatedEvent",
                    "OrderReadiedEvent",
                    "OrderCanceledEvent"
                ]
            ),
            (
                "search",
                "search-orders",
                vec![
                    "OrderCreatedEvent",
                    "OrderReadiedEvent",
                    "OrderCanceledEvent",
                    "OrderCompletedEvent"
                ]
            ),
        ]
    );
}

#[test]
fn the_fixture_system_passes_though_consumers_know_fewer_fields() {
    let dir = system(&[]);
    let (analyses, cross) = check(dir.path());
    assert_eq!(
        cross,
        CrossCheck::Checked { diagnostics: 0 },
        "{}",
        rendered(dir.path(), &analyses)
    );
}

#[test]
fn one_table_alone_is_not_cross_checked() {
    let mut analyses =
        vec![analyze(Path::new("tests/system/shipping/mappings.yaml")).expect("read")];
    assert_eq!(system::check(&mut analyses), CrossCheck::Single);
}

#[test]
fn a_table_with_errors_of_its_own_stops_the_cross_checks() {
    let dir = system(&[("orders/mappings.yaml", "carrier: { from: carrier }", "")]);
    let (analyses, cross) = check(dir.path());
    assert_eq!(
        cross,
        CrossCheck::Skipped {
            tables: vec![dir.path().join("orders/mappings.yaml")]
        }
    );
    assert!(all(&analyses).iter().all(|d| d.rule == "unmapped-field"));
}

#[test]
fn a_typo_in_the_channel_subject_is_not_published() {
    let dir = system(&[(
        "shipping/mappings.yaml",
        "subject: shop.orders,",
        "subject: shop.order,",
    )]);
    let (analyses, _) = check(dir.path());
    let found = reported(
        dir.path(),
        &analyses,
        "channel-not-published",
        "shipping/mappings.yaml",
        "shop.order,",
    );
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].hint.as_deref(),
        Some("did you mean `shop.orders`?")
    );
    assert!(has_note_at(
        found[0],
        dir.path(),
        "orders/mappings.yaml",
        "subject: shop.orders"
    ));
    assert!(has_note_at(
        found[0],
        dir.path(),
        "shipping/mappings.yaml",
        "  orders:\n    channel"
    ));
    insta::assert_snapshot!("channel_subject_typo", rendered(dir.path(), &analyses));
    let json = report::render_json(&all(&analyses))
        .replace(&format!("{}/", dir.path().display()), "[system]/");
    insta::assert_snapshot!("channel_subject_typo_json", json);
}

#[test]
fn a_channel_in_another_stream_is_reported_at_the_stream() {
    let dir = system(&[(
        "audit/mappings.yaml",
        "stream: SHOP_ORDERS",
        "stream: SHOP_ORDER_LOG",
    )]);
    let (analyses, _) = check(dir.path());
    let found = reported(
        dir.path(),
        &analyses,
        "channel-stream-mismatch",
        "audit/mappings.yaml",
        "SHOP_ORDER_LOG",
    );
    assert_eq!(
        found[0].hint.as_deref(),
        Some("write `stream: SHOP_ORDERS`")
    );
    assert!(has_note_at(
        found[0],
        dir.path(),
        "orders/mappings.yaml",
        "stream: SHOP_ORDERS"
    ));
}

#[test]
fn an_event_nobody_publishes_is_reported_at_the_subscribed_event() {
    let dir = system(&[(
        "shipping/mappings.yaml",
        "OrderShippedEvent: OrderShipped",
        "OrderShipedEvent: OrderShipped",
    )]);
    let (analyses, _) = check(dir.path());
    let found = reported(
        dir.path(),
        &analyses,
        "event-not-published",
        "shipping/mappings.yaml",
        "OrderShipedEvent",
    );
    assert_eq!(
        found[0].hint.as_deref(),
        Some(
            "did you mean `OrderShippedEvent`? (the channel carries `shop.v1.OrderShipped` under that name)"
        )
    );
    // No name is close to `ParcelLeftEvent`: the channel carries its message under another.
    let renamed = system(&[(
        "shipping/mappings.yaml",
        "OrderShippedEvent: OrderShipped",
        "ParcelLeftEvent: OrderShipped",
    )]);
    let (renamed_analyses, _) = check(renamed.path());
    let renamed_found = reported(
        renamed.path(),
        &renamed_analyses,
        "event-not-published",
        "shipping/mappings.yaml",
        "ParcelLeftEvent",
    );
    assert_eq!(renamed_found[0].hint, found[0].hint);
    assert!(has_note_at(
        found[0],
        dir.path(),
        "orders/mappings.yaml",
        "subject: shop.orders"
    ));
    insta::assert_snapshot!("event_not_published", rendered(dir.path(), &analyses));
}

#[test]
fn an_event_published_on_another_channel_says_where() {
    let dir = system(&[
        (
            "audit/mappings.yaml",
            "OrderPlacedEvent: OrderPlaced",
            "OrderPlacedEvent: shop.v1.OrderPlaced\n      InvoiceIssuedEvent: billing.v1.InvoiceIssued",
        ),
        ("audit/mappings.yaml", "    package: shop.v1\n", ""),
        (
            "audit/mappings.yaml",
            "files: [shop/v1/orders.proto]",
            "files: [shop/v1/orders.proto, billing/v1/invoices.proto]",
        ),
    ]);
    std::fs::create_dir_all(dir.path().join("audit/proto/billing/v1")).expect("mkdir");
    std::fs::copy(
        "tests/system/billing/proto/billing/v1/invoices.proto",
        dir.path().join("audit/proto/billing/v1/invoices.proto"),
    )
    .expect("copy");
    let (analyses, _) = check(dir.path());
    let found = reported(
        dir.path(),
        &analyses,
        "event-not-published",
        "audit/mappings.yaml",
        "InvoiceIssuedEvent",
    );
    assert!(
        found[0].notes.iter().any(|(text, _)| text
            .contains("on another channel, `invoices` (subject `billing.invoices`)")),
        "{:?}",
        found[0].notes
    );
    assert!(has_note_at(
        found[0],
        dir.path(),
        "billing/mappings.yaml",
        "name: InvoiceIssuedEvent"
    ));
}

#[test]
fn an_event_published_as_another_message_is_reported_at_the_message() {
    let dir = system(&[(
        "shipping/mappings.yaml",
        "OrderShippedEvent: OrderShipped",
        "OrderShippedEvent: OrderPlaced",
    )]);
    let (analyses, _) = check(dir.path());
    let found = reported(
        dir.path(),
        &analyses,
        "event-message-mismatch",
        "shipping/mappings.yaml",
        "OrderPlaced\n    delivery",
    );
    assert_eq!(
        found[0].hint.as_deref(),
        Some("write `shop.v1.OrderShipped`")
    );
    assert!(has_note_at(
        found[0],
        dir.path(),
        "orders/mappings.yaml",
        "message: shop.v1.OrderShipped"
    ));
}

#[test]
fn an_event_published_with_its_own_ce_type_needs_it_in_the_subscription() {
    let dir = system(&[(
        "orders/mappings.yaml",
        "- name: OrderShippedEvent\n",
        "- name: OrderShippedEvent\n      ce_type: com.example.shop.OrderShipped\n",
    )]);
    let (analyses, _) = check(dir.path());
    let found = reported(
        dir.path(),
        &analyses,
        "event-ce-type-mismatch",
        "shipping/mappings.yaml",
        "OrderShippedEvent",
    );
    assert_eq!(
        found[0].hint.as_deref(),
        Some(
            "write `OrderShippedEvent: { message: shop.v1.OrderShipped, ce_type: com.example.shop.OrderShipped }`"
        )
    );
}

#[test]
fn an_incompatible_proto3_copy_with_a_nested_repeated_field_is_reported() {
    let dir = system(&[
        // The nested repeated message's field changed type in the consumer's copy, and a
        // field was renumbered.
        (
            "shipping/proto/shop/v1/orders.proto",
            "int32 quantity = 2;",
            "string quantity = 2;",
        ),
        (
            "shipping/proto/shop/v1/orders.proto",
            "int64 total_cents = 4;",
            "int64 total_cents = 7;",
        ),
        (
            "shipping/proto/shop/v1/orders.proto",
            "STATUS_PAID = 2;",
            "STATUS_PAID = 2;\n  STATUS_REFUNDED = 3;",
        ),
    ]);
    let (analyses, _) = check(dir.path());
    let found = reported(
        dir.path(),
        &analyses,
        "incompatible-message-copy",
        "shipping/mappings.yaml",
        "OrderPlacedEvent",
    );
    let messages: Vec<&str> = found.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(found.len(), 3, "{messages:#?}");
    let has = |text: &str| messages.iter().any(|m| m.contains(text));
    assert!(
        has(
            "field `total_cents` of `shop.v1.OrderPlaced` changed its number from 7 to 4 (integration event `OrderPlacedEvent`) [breaking-field-number-changed]"
        ),
        "{messages:#?}"
    );
    assert!(
        has(
            "field `quantity` of `shop.v1.OrderPlaced.Line` (integration event `OrderPlacedEvent`) changed its type from `string` to `int32` [breaking-field-type-changed]"
        ),
        "{messages:#?}"
    );
    // An enum value only the consumer knows: the producer never sends it.
    assert!(
        has("value `STATUS_REFUNDED` = 3 of enum `shop.v1.Status` was removed"),
        "{messages:#?}"
    );
    let quantity = found
        .iter()
        .find(|d| d.message.contains("`quantity`"))
        .expect("the nested field's break");
    // The producer's and the consumer's `.proto` definitions are both in the notes.
    assert!(has_note_at(
        quantity,
        dir.path(),
        "orders/proto/shop/v1/orders.proto",
        "int32 quantity"
    ));
    assert!(has_note_at(
        quantity,
        dir.path(),
        "shipping/proto/shop/v1/orders.proto",
        "string quantity"
    ));
    assert!(has_note_at(
        quantity,
        dir.path(),
        "orders/mappings.yaml",
        "name: OrderPlacedEvent"
    ));
    // The second consumer's copy is fine.
    assert!(
        analyses
            .iter()
            .filter(|a| a.file.ends_with("audit/mappings.yaml"))
            .all(|a| a.diagnostics.is_empty())
    );
    insta::assert_snapshot!("incompatible_proto3_copy", rendered(dir.path(), &analyses));
    let json = report::render_json(&all(&analyses))
        .replace(&format!("{}/", dir.path().display()), "[system]/");
    insta::assert_snapshot!("incompatible_proto3_copy_json", json);
}

#[test]
fn an_incompatible_copy_of_a_map_and_a_keyword_named_field_is_reported() {
    let dir = system(&[
        (
            "shipping/proto/shop/v1/orders.proto",
            "string type = 3;",
            "int32 type = 3;",
        ),
        (
            "shipping/proto/shop/v1/orders.proto",
            "map<string, int64> weights_grams = 4;",
            "map<string, int32> weights_grams = 4;",
        ),
    ]);
    let (analyses, _) = check(dir.path());
    let found = reported(
        dir.path(),
        &analyses,
        "incompatible-message-copy",
        "shipping/mappings.yaml",
        "OrderShippedEvent",
    );
    let messages: Vec<&str> = found.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(found.len(), 2, "{messages:#?}");
    assert!(messages[0].contains("field `type` of `shop.v1.OrderShipped` (integration event `OrderShippedEvent`) changed its type from `int32` to `string`"), "{messages:#?}");
    assert!(messages[1].contains("field `weights_grams` of `shop.v1.OrderShipped` (integration event `OrderShippedEvent`) changed its type from `map<string, int32>` to `map<string, int64>`"), "{messages:#?}");
}

#[test]
fn an_incompatible_proto2_copy_is_reported() {
    let dir = system(&[
        (
            "shipping/proto/billing/v1/invoices.proto",
            "required Amount amount = 3;",
            "optional Amount amount = 3;",
        ),
        (
            "shipping/proto/billing/v1/invoices.proto",
            "required int64 cents = 1;",
            "required int32 cents = 1;",
        ),
        (
            "shipping/proto/billing/v1/invoices.proto",
            "KIND_SHIPPING = 2;",
            "KIND_SHIPPING = 3;",
        ),
        // Reserved numbers of the consumer's copy say nothing of what the producer sends.
        (
            "shipping/proto/billing/v1/invoices.proto",
            "repeated Kind kinds = 5;",
            "repeated Kind kinds = 5;\n  reserved 9;",
        ),
    ]);
    let (analyses, _) = check(dir.path());
    let found = reported(
        dir.path(),
        &analyses,
        "incompatible-message-copy",
        "shipping/mappings.yaml",
        "InvoiceIssuedEvent",
    );
    let messages: Vec<&str> = found.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(found.len(), 3, "{messages:#?}");
    assert!(messages.iter().any(|m| m.contains("field `amount` of `billing.v1.InvoiceIssued` (integration event `InvoiceIssuedEvent`) changed from `optional` to `required`")), "{messages:#?}");
    assert!(messages.iter().any(|m| m.contains("field `cents` of `billing.v1.Amount` (integration event `InvoiceIssuedEvent`) changed its type from `int32` to `int64`")), "{messages:#?}");
    assert!(
        messages.iter().any(|m| m.contains(
            "value `KIND_SHIPPING` of enum `billing.v1.Kind` changed its number from 3 to 2"
        )),
        "{messages:#?}"
    );
    insta::assert_snapshot!("incompatible_proto2_copy", rendered(dir.path(), &analyses));
}

#[test]
fn a_copy_with_another_proto2_default_is_reported() {
    let copy = "shipping/proto/billing/v1/invoices.proto";
    let dir = system(&[
        (copy, "[default = \"EUR\"]", "[default = \"USD\"]"),
        (
            copy,
            "optional string note = 4;",
            "optional string note = 4 [default = \"none\"];",
        ),
    ]);
    let (analyses, _) = check(dir.path());
    let found = reported(
        dir.path(),
        &analyses,
        "incompatible-message-copy",
        "shipping/mappings.yaml",
        "InvoiceIssuedEvent",
    );
    let messages: Vec<&str> = found.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(found.len(), 2, "{messages:#?}");
    // A value difference, not a wire one.
    assert!(
        messages
            .iter()
            .all(|m| m
                .contains("reads an absent field as another value than this table's copy: field")),
        "{messages:#?}"
    );
    assert!(messages.iter().any(|m| m.ends_with("field `currency` of `billing.v1.Amount` (integration event `InvoiceIssuedEvent`) changed its default from `[default = \"USD\"]` to `[default = \"EUR\"]`: a message that leaves the field absent reads `\"EUR\"` instead of `\"USD\"` [breaking-field-default-changed]")), "{messages:#?}");
    assert!(messages.iter().any(|m| m.ends_with("field `note` of `billing.v1.InvoiceIssued` (integration event `InvoiceIssuedEvent`) changed its default from `[default = \"none\"]` to no `[default]`: a message that leaves the field absent reads `\"\"` instead of `\"none\"` [breaking-field-default-changed]")), "{messages:#?}");
    for d in &found {
        assert!(
            has_note_at(d, dir.path(), copy, "string currency")
                || has_note_at(d, dir.path(), copy, "string note"),
            "{d}"
        );
        assert!(
            has_note_at(
                d,
                dir.path(),
                "billing/proto/billing/v1/invoices.proto",
                "string currency"
            ) || has_note_at(
                d,
                dir.path(),
                "billing/proto/billing/v1/invoices.proto",
                "string note"
            ),
            "{d}"
        );
    }
}

#[test]
fn a_consumer_may_know_fewer_fields_but_not_more() {
    // The producer drops `carrier` without reserving it: the consumer's copy still has it.
    let dir = system(&[
        (
            "orders/proto/shop/v1/orders.proto",
            "string carrier = 2;",
            "",
        ),
        ("orders/mappings.yaml", "carrier: { from: carrier }", ""),
    ]);
    let (analyses, _) = check(dir.path());
    let found = reported(
        dir.path(),
        &analyses,
        "incompatible-message-copy",
        "shipping/mappings.yaml",
        "OrderShippedEvent",
    );
    assert!(
        found[0]
            .message
            .contains("field `carrier` = 2 of `shop.v1.OrderShipped`"),
        "{}",
        found[0].message
    );
    assert!(
        found[0]
            .message
            .contains("was removed without reserving its number and name"),
        "{}",
        found[0].message
    );
}

#[test]
fn two_services_sharing_a_durable_are_reported_in_both_tables() {
    let dir = system(&[(
        "audit/mappings.yaml",
        "durable: audit-orders",
        "durable: shipping-orders",
    )]);
    let (analyses, _) = check(dir.path());
    let shared: Vec<&Diagnostic> = all_refs(&analyses)
        .into_iter()
        .filter(|d| d.rule == "shared-durable")
        .collect();
    assert_eq!(shared.len(), 2, "{}", rendered(dir.path(), &analyses));
    let (audit, _, _) = position(dir.path(), "audit/mappings.yaml", "shipping-orders");
    let (shipping, _, _) = position(dir.path(), "shipping/mappings.yaml", "shipping-orders");
    let files: Vec<&PathBuf> = shared
        .iter()
        .map(|d| &d.location.as_ref().expect("at").file)
        .collect();
    assert_eq!(files, [&audit, &shipping]);
    assert!(has_note_at(
        shared[0],
        dir.path(),
        "shipping/mappings.yaml",
        "durable: shipping-orders"
    ));
    assert_eq!(
        shared[0].hint.as_deref(),
        Some("give each service a durable of its own, e.g. `audit-orders`")
    );
    insta::assert_snapshot!("shared_durable", rendered(dir.path(), &analyses));
}

fn all_refs(analyses: &[Analysis]) -> Vec<&Diagnostic> {
    analyses.iter().flat_map(|a| &a.diagnostics).collect()
}

#[test]
fn a_dead_letter_subject_overlapping_another_tables_channel_is_reported() {
    let dir = system(&[(
        "audit/mappings.yaml",
        "subject: audit.dead-letter",
        "subject: billing.invoices.dead",
    )]);
    let (analyses, _) = check(dir.path());
    let found = reported(
        dir.path(),
        &analyses,
        "dead-letter-overlap",
        "audit/mappings.yaml",
        "billing.invoices.dead",
    );
    assert_eq!(found.len(), 1);
    assert!(has_note_at(
        found[0],
        dir.path(),
        "billing/mappings.yaml",
        "subject: billing.invoices"
    ));
    // Two services' dead letters on one subject mix too.
    let dir = system(&[(
        "audit/mappings.yaml",
        "subject: audit.dead-letter",
        "subject: shipping.dead-letter",
    )]);
    let (analyses, _) = check(dir.path());
    let found = reported(
        dir.path(),
        &analyses,
        "dead-letter-overlap",
        "audit/mappings.yaml",
        "shipping.dead-letter",
    )
    .len()
        + reported(
            dir.path(),
            &analyses,
            "dead-letter-overlap",
            "shipping/mappings.yaml",
            "shipping.dead-letter",
        )
        .len();
    assert_eq!(found, 2);
}

/// The `break-reaches-consumer` errors of the producer `orders` changed by `patches` (against
/// the fixture as the baseline): (consumer's table, subscribed event, the break's rule).
fn impacts(patches: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    let base = system(&[]);
    let current = system(patches);
    let (analyses, _) = check(current.path());
    let producer = analyses
        .iter()
        .position(|a| a.file.ends_with("orders/mappings.yaml"))
        .expect("orders");
    let baseline = analyze(&base.path().join("orders/mappings.yaml")).expect("baseline");
    let breaks = eventmap_codegen::breaking::breaks(&baseline, &analyses[producer]);
    assert!(!breaks.is_empty(), "the patches break nothing");
    let mut found: Vec<(String, String, String)> =
        system::consumer_impacts(&analyses, producer, &baseline, &breaks)
            .into_iter()
            .map(|(index, d)| {
                assert_eq!(d.rule, "break-reaches-consumer");
                let table = analyses[index]
                    .file
                    .strip_prefix(current.path())
                    .expect("in");
                let at = d.location.as_ref().expect("located");
                let text = std::fs::read_to_string(&at.file).expect("table");
                let line = text.lines().nth(at.line - 1).expect("line");
                let event = line.trim().split(':').next().expect("key").to_owned();
                let rule = d
                    .message
                    .rsplit('[')
                    .next()
                    .expect("rule")
                    .trim_end_matches(']')
                    .to_owned();
                (table.display().to_string(), event, rule)
            })
            .collect();
    found.sort();
    found
}

fn row(table: &str, event: &str, rule: &str) -> (String, String, String) {
    (table.to_owned(), event.to_owned(), rule.to_owned())
}

#[test]
fn a_producers_break_reaches_exactly_the_consumers_of_the_events_it_touches() {
    // A field of a nested message: the consumers of `OrderPlacedEvent` only.
    assert_eq!(
        impacts(&[(
            "orders/proto/shop/v1/orders.proto",
            "int32 quantity = 2;",
            "int64 quantity = 2;"
        )]),
        [
            row(
                "audit/mappings.yaml",
                "OrderPlacedEvent",
                "breaking-field-type-changed"
            ),
            row(
                "shipping/mappings.yaml",
                "OrderPlacedEvent",
                "breaking-field-type-changed"
            ),
        ]
    );
    // An enum value the event's message uses.
    assert_eq!(
        impacts(&[("orders/proto/shop/v1/orders.proto", "STATUS_PAID = 2;", "")]),
        [
            row(
                "audit/mappings.yaml",
                "OrderPlacedEvent",
                "breaking-enum-value-removed"
            ),
            row(
                "shipping/mappings.yaml",
                "OrderPlacedEvent",
                "breaking-enum-value-removed"
            ),
        ]
    );
    // A field of `OrderShipped`: shipping only (audit does not take it).
    assert_eq!(
        impacts(&[(
            "orders/proto/shop/v1/orders.proto",
            "string carrier = 2;",
            "string carrier = 5;"
        )]),
        [row(
            "shipping/mappings.yaml",
            "OrderShippedEvent",
            "breaking-field-number-changed"
        )]
    );
    // The channel's stream: every event of it that a consumer receives.
    assert_eq!(
        impacts(&[(
            "orders/mappings.yaml",
            "stream: SHOP_ORDERS",
            "stream: SHOP_ORDERS_V2"
        )]),
        [
            row(
                "audit/mappings.yaml",
                "OrderPlacedEvent",
                "breaking-stream-changed"
            ),
            row(
                "shipping/mappings.yaml",
                "OrderPlacedEvent",
                "breaking-stream-changed"
            ),
            row(
                "shipping/mappings.yaml",
                "OrderShippedEvent",
                "breaking-stream-changed"
            ),
        ]
    );
    // A mapped field now left at its default: that event's consumers.
    assert_eq!(
        impacts(&[(
            "orders/mappings.yaml",
            "carrier: { from: carrier }",
            "carrier: default"
        )]),
        [row(
            "shipping/mappings.yaml",
            "OrderShippedEvent",
            "breaking-field-defaulted"
        )]
    );
}
