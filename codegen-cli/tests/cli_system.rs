//! The `eventmap` binary over several tables: `--mappings` repeated, a folder, a glob pattern;
//! the cross-checks in every output format; `--against` reporting a producer's break in each
//! consumer's table.

use std::path::Path;
use std::process::{Command, Output};

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

fn both(out: &Output) -> String {
    format!("{}{}", text(&out.stdout), text(&out.stderr))
}

/// Copies `from` into `to`, recursively.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read") {
        let path = entry.expect("entry").path();
        let target = to.join(path.file_name().expect("name"));
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).expect("copy");
        }
    }
}

/// Replaces `from` by `to` in `file`, which must hold it.
fn patch(file: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).expect("read");
    assert!(text.contains(from), "`{from}` in {}", file.display());
    std::fs::write(file, text.replacen(from, to, 1)).expect("write");
}

#[test]
fn check_takes_the_examples_three_tables_in_one_invocation() {
    let out = eventmap(
        Path::new(".."),
        &[
            "--mappings",
            "mappings.yaml",
            "--mappings",
            "examples/",
            "check",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(
        text(&out.stdout),
        "eventmap: 3 tables (mappings.yaml, examples/notifications/mappings.yaml, examples/search/mappings.yaml) are consistent with their protos and with each other\n"
    );
    // The same tables named one by one, and by a glob pattern eventmap expands.
    for args in [
        &[
            "--mappings",
            "mappings.yaml",
            "--mappings",
            "examples/search/mappings.yaml",
            "--mappings",
            "examples/notifications/mappings.yaml",
            "check",
        ][..],
        &[
            "--mappings",
            "mappings.yaml",
            "--mappings",
            "examples/*/mappings.yaml",
            "check",
        ][..],
    ] {
        let out = eventmap(Path::new(".."), args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", both(&out));
        assert!(
            text(&out.stdout).starts_with("eventmap: 3 tables"),
            "{}",
            both(&out)
        );
    }
}

#[test]
fn a_folder_without_tables_or_a_pattern_matching_nothing_cannot_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = eventmap(dir.path(), &["--mappings", ".", "check"]);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert!(
        text(&out.stderr).contains("there is no `mappings.yaml` under the folder `.`"),
        "{}",
        both(&out)
    );
    let out = eventmap(
        dir.path(),
        &[
            "--mappings",
            "x/*/mappings.yaml",
            "--format",
            "json",
            "check",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let items: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(items[0]["rule"], "could-not-run");
    assert_eq!(items[0]["message"], "no file matches `x/*/mappings.yaml`");
}

#[test]
fn generate_takes_one_table() {
    let out = eventmap(
        Path::new(".."),
        &[
            "--mappings",
            "mappings.yaml",
            "--mappings",
            "examples/",
            "generate",
            "--check",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert!(
        text(&out.stderr).contains("this command takes one table, 3 were given"),
        "{}",
        both(&out)
    );
}

/// The fixture system of `tests/system/` in a temporary folder, the shipping service's
/// channel subject misspelled and the audit service sharing its durable.
fn broken_system() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(Path::new("tests/system"), dir.path());
    patch(
        &dir.path().join("shipping/mappings.yaml"),
        "subject: shop.orders,",
        "subject: shop.order,",
    );
    patch(
        &dir.path().join("audit/mappings.yaml"),
        "durable: audit-orders",
        "durable: shipping-orders",
    );
    dir
}

#[test]
fn cross_table_problems_in_every_format() {
    let dir = broken_system();
    let out = eventmap(dir.path(), &["--mappings", ".", "check"]);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("shipping/mappings.yaml:13:22: error[channel-not-published]: channel `orders` (subject `shop.order`"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "  = note: orders/mappings.yaml:15:14: `orders` publishes on subject `shop.orders`"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("audit/mappings.yaml:19:14: error[shared-durable]"),
        "{stderr}"
    );
    assert!(
        stderr.contains("eventmap: shipping/mappings.yaml has 2 errors"),
        "{stderr}"
    );
    assert!(
        stderr.contains("eventmap: audit/mappings.yaml has 1 error"),
        "{stderr}"
    );

    let out = eventmap(
        dir.path(),
        &["--mappings", ".", "--format", "json", "check"],
    );
    assert_eq!(out.status.code(), Some(1));
    let items: Vec<serde_json::Value> =
        serde_json::from_slice(&out.stdout).expect("one JSON array");
    let rules: Vec<(&str, &str)> = items
        .iter()
        .map(|i| {
            (
                i["path"].as_str().unwrap_or(""),
                i["rule"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        rules,
        [
            ("audit/mappings.yaml", "durable-not-owned"),
            ("audit/mappings.yaml", "shared-durable"),
            ("shipping/mappings.yaml", "channel-not-published"),
            ("shipping/mappings.yaml", "shared-durable"),
        ]
    );
    let channel = &items[2];
    assert_eq!(
        (
            channel["start_line"].as_u64(),
            channel["start_column"].as_u64()
        ),
        (Some(13), Some(22))
    );
    assert_eq!(channel["notes"][1]["path"], "orders/mappings.yaml");
    assert_eq!(channel["notes"][1]["line"], 15);

    let out = eventmap(
        dir.path(),
        &["--mappings", ".", "--format", "github", "check"],
    );
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("::error file=shipping/mappings.yaml,line=13,col=22,endLine=13,endColumn=32,title=channel-not-published::"),
        "{stdout}"
    );
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("::")).count(),
        4,
        "{stdout}"
    );
    // The notes, with the producer's row, are in the annotation too.
    assert!(
        stdout.contains("%0A(note: orders/mappings.yaml:15:14: `orders` publishes on subject `shop.orders` (channel `orders`) here)%0A(help: did you mean `shop.orders`?)"),
        "{stdout}"
    );
}

#[test]
fn against_reports_a_producers_break_in_each_consumers_table() {
    let root = tempfile::tempdir().expect("tempdir");
    let base = root.path().join("base");
    let current = root.path().join("current");
    copy_dir(Path::new("tests/system"), &base);
    copy_dir(Path::new("tests/system"), &current);
    // The producer changes the type of `total_cents`, and both consumers take its new `.proto`
    // (the cross-checks pass): only the comparison with the baseline sees the break.
    for file in [
        "orders/proto/shop/v1/orders.proto",
        "shipping/proto/shop/v1/orders.proto",
        "audit/proto/shop/v1/orders.proto",
    ] {
        patch(
            &current.join(file),
            "int64 total_cents = 4;",
            "string total_cents = 4;",
        );
    }
    let out = eventmap(&current, &["--mappings", ".", "check"]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));

    let out = eventmap(
        &current,
        &["--mappings", ".", "check", "--against", "../base"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("orders/proto/shop/v1/orders.proto:10:10: error[breaking-field-type-changed]: field `total_cents` of `shop.v1.OrderPlaced` (integration event `OrderPlacedEvent`) changed its type from `int64` to `string`"),
        "{stderr}"
    );
    for (table, line) in [("shipping", 22), ("audit", 21)] {
        assert!(
            stderr.contains(&format!(
                "{table}/mappings.yaml:{line}:7: error[break-reaches-consumer]: `{table}` consumes `OrderPlacedEvent` (subscription `orders`), which a change of `orders` breaks: field `total_cents` of `shop.v1.OrderPlaced` (integration event `OrderPlacedEvent`) changed its type from `int64` to `string` [breaking-field-type-changed]"
            )),
            "{table}: {stderr}"
        );
    }
    assert!(
        stderr.contains("  = note: orders/proto/shop/v1/orders.proto:10:10: the break, in `orders`'s table or protos"),
        "{stderr}"
    );
    assert!(
        stderr.contains("  = note: to accept this break, add to `orders/eventmap-accepted-breaks.yaml`: `- { rule: breaking-field-type-changed, target: \"shop.v1.OrderPlaced.total_cents\""),
        "{stderr}"
    );
    // The events the break does not reach (`OrderShippedEvent`, the invoices) are not reported.
    assert_eq!(
        stderr.matches("error[break-reaches-consumer]").count(),
        2,
        "{stderr}"
    );

    // Accepted in the producer's accepted-breaks file: no consumer is told.
    std::fs::write(
        current.join("orders/eventmap-accepted-breaks.yaml"),
        "accepted:\n  - rule: breaking-field-type-changed\n    target: shop.v1.OrderPlaced.total_cents\n    reason: every consumer moved to the string amount\n",
    )
    .expect("write");
    let out = eventmap(
        &current,
        &["--mappings", ".", "check", "--against", "../base"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
}
