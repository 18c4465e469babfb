//! `eventmap docs` over several tables: each producer's documents name the services that
//! consume its channels (catalog, flowchart, sequence diagrams, AsyncAPI), each consumer's
//! the producers, and the system catalog (`system.md`) says who publishes and consumes what,
//! with the durables; on the example and on the fixture system of `tests/system/`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use eventmap_codegen::docs::{self, SystemDocs};
use eventmap_codegen::{Analysis, analyze, system};

fn eventmap(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eventmap"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run eventmap")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn analyses(paths: &[PathBuf]) -> Vec<Analysis> {
    system::find_tables(paths)
        .expect("tables")
        .iter()
        .map(|t| analyze(t).expect("readable"))
        .collect()
}

fn example() -> SystemDocs {
    docs::render_system(&analyses(&[
        "../mappings.yaml".into(),
        "../examples".into(),
    ]))
    .expect("render")
}

/// The documents of `service`.
fn of<'d>(docs: &'d SystemDocs, service: &str) -> &'d docs::DocsOutput {
    &docs
        .tables
        .iter()
        .find(|(_, s, _)| s == service)
        .expect("service")
        .2
}

#[test]
fn the_producers_catalog_names_the_consumers_of_each_event() {
    let docs = example();
    let md = &of(&docs, "ordering").events_md;
    assert!(!md.contains("none declared yet"), "{md}");
    assert!(
        md.contains("| `search` | `orders` | `search-orders` | `order` | `OrderCreatedEvent`, `OrderReadiedEvent`, `OrderCanceledEvent`, `OrderCompletedEvent` |"),
        "{md}"
    );
    // Each event's section names its own consumers: notifications does not take completions.
    let completed = md.split("## OrderCompletedEvent").nth(1).expect("section");
    assert!(
        completed.contains("- consumers: `search` (durable consumer `search-orders`)\n"),
        "{completed}"
    );
    assert!(
        completed.contains("participant Consumers as consumers (search)"),
        "{completed}"
    );
    let created = md.split("## OrderCreatedEvent").nth(1).expect("section");
    assert!(
        created.contains("- consumers: `notifications` (durable consumer `notifications-orders`), `search` (durable consumer `search-orders`)\n"),
        "{created}"
    );
    // The flowchart ends in the consuming services, not in "consumers".
    let flow = md
        .split("```mermaid\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("flowchart");
    assert!(
        flow.contains(
            "  x0[\"service notifications<br/>durable consumer notifications-orders\"]\n"
        ),
        "{flow}"
    );
    assert!(
        flow.contains("  x1[\"service search<br/>durable consumer search-orders\"]\n"),
        "{flow}"
    );
    assert!(flow.contains("  s0 -.-> x0\n  s0 -.-> x1\n"), "{flow}");
    assert!(!flow.contains("consumers"), "{flow}");
}

#[test]
fn each_asyncapi_document_names_its_peers() {
    let docs = example();
    let ordering: serde_json::Value =
        serde_saphyr::from_str(&of(&docs, "ordering").asyncapi_yaml).expect("YAML");
    let consumers = &ordering["operations"]["sendOrderCompletedEvent"]["x-eventmap-consumers"];
    assert_eq!(
        consumers,
        &serde_json::json!([{ "service": "search", "subscription": "orders", "durable": "search-orders" }])
    );
    let description = ordering["info"]["description"].as_str().expect("text");
    assert!(
        description.ends_with(
            "Among the tables documented together, `notifications`, `search` consume its events."
        ),
        "{description}"
    );
    let search: serde_json::Value =
        serde_saphyr::from_str(&of(&docs, "search").asyncapi_yaml).expect("YAML");
    assert_eq!(
        search["operations"]["receiveOrderReadiedEvent"]["x-eventmap-producers"],
        serde_json::json!(["ordering"])
    );
    let receive = search["operations"]["receiveOrderReadiedEvent"]["description"]
        .as_str()
        .expect("text");
    assert!(receive.ends_with("Published by `ordering`."), "{receive}");
    let search_md = &of(&docs, "search").events_md;
    assert!(
        search_md.contains("- published by: `ordering`\n"),
        "{search_md}"
    );
    // Its flowchart draws the producer feeding the stream it reads.
    assert!(
        search_md.contains("  y0[\"service ordering\"]\n  y0 --> k0\n"),
        "{search_md}"
    );
}

#[test]
fn a_table_documented_alone_keeps_saying_the_consumers_are_not_declared() {
    let alone =
        docs::render(&analyze(Path::new("../mappings.yaml")).expect("read")).expect("render");
    assert!(alone.events_md.contains("Consumers: none declared yet"));
    assert!(
        alone
            .events_md
            .contains("  consumers[\"consumers<br/>none declared yet\"]\n")
    );
    assert!(!alone.asyncapi_yaml.contains("x-eventmap-consumers"));
    assert!(
        !alone
            .asyncapi_yaml
            .contains("Among the tables documented together")
    );
}

#[test]
fn the_system_catalog_of_the_example() {
    let docs = example();
    insta::assert_snapshot!("example_system_md", docs.system_md);
}

#[test]
fn a_channel_nobody_consumes_among_the_tables_says_so() {
    // The fixture system: `orders` is consumed by shipping and audit, `billing` by shipping;
    // without shipping, nobody consumes the invoices.
    let paths: Vec<PathBuf> = ["audit", "billing", "orders"]
        .iter()
        .map(|t| PathBuf::from(format!("tests/system/{t}/mappings.yaml")))
        .collect();
    let docs = docs::render_system(&analyses(&paths)).expect("render");
    let billing = &of(&docs, "billing").events_md;
    assert!(
        billing.contains("Consumers: none among the tables documented together."),
        "{billing}"
    );
    assert!(
        billing.contains("- consumers: none among the tables documented together\n"),
        "{billing}"
    );
    assert!(
        billing.contains("consumers[\"consumers<br/>none among the tables documented together\"]"),
        "{billing}"
    );
    assert!(
        docs.system_md.contains("| `billing` | `invoices` | `billing.invoices.>` | `BILLING_INVOICES` | `InvoiceIssuedEvent` | none |"),
        "{}",
        docs.system_md
    );
    let orders = &of(&docs, "orders").events_md;
    assert!(
        orders.contains("| `audit` | `orders` | `audit-orders` | `orders` | `OrderPlacedEvent` |"),
        "{orders}"
    );
    insta::assert_snapshot!("fixture_system_md", docs.system_md);
}

#[test]
fn files_go_next_to_each_table_or_under_out_by_service() {
    let docs = example();
    let paths = |out: Option<&Path>| -> Vec<String> {
        docs.files(out)
            .into_iter()
            .map(|(p, _)| p.display().to_string())
            .collect()
    };
    assert_eq!(
        paths(None),
        [
            "../docs/generated/asyncapi.yaml",
            "../docs/generated/events.md",
            "../examples/notifications/docs/generated/asyncapi.yaml",
            "../examples/notifications/docs/generated/events.md",
            "../examples/search/docs/generated/asyncapi.yaml",
            "../examples/search/docs/generated/events.md",
            "../docs/generated/system.md",
        ]
    );
    assert_eq!(
        paths(Some(Path::new("out"))),
        [
            "out/ordering/asyncapi.yaml",
            "out/ordering/events.md",
            "out/notifications/asyncapi.yaml",
            "out/notifications/events.md",
            "out/search/asyncapi.yaml",
            "out/search/events.md",
            "out/system.md",
        ]
    );
}

#[test]
fn the_cli_writes_then_checks_several_tables() {
    let out_dir = tempfile::tempdir().expect("tempdir");
    let out = out_dir.path().to_str().expect("utf-8");
    let args = ["--mappings", "tests/system/", "docs", "--out", out];
    let run = eventmap(Path::new("."), &args);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    for file in [
        "system.md",
        "orders/events.md",
        "billing/asyncapi.yaml",
        "shipping/events.md",
        "audit/asyncapi.yaml",
    ] {
        assert!(out_dir.path().join(file).is_file(), "{file}");
    }
    let check = [&args[..], &["--check"]].concat();
    let run = eventmap(Path::new("."), &check);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    std::fs::write(out_dir.path().join("system.md"), "stale").expect("write");
    let run = eventmap(Path::new("."), &check);
    assert_eq!(run.status.code(), Some(1));
    assert!(
        text(&run.stderr).contains("system.md is stale; run `eventmap --mappings tests/system/audit/mappings.yaml --mappings tests/system/billing/mappings.yaml --mappings tests/system/orders/mappings.yaml --mappings tests/system/shipping/mappings.yaml docs`"),
        "{}",
        text(&run.stderr)
    );
}
