//! `eventmap explain RULE`, and the pointer to it in every diagnostic: the text format's help
//! line, the JSON format's link to the rule's documentation.

use std::path::Path;
use std::process::{Command, Output};

use eventmap_codegen::rules;

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

#[test]
fn explains_a_mapping_rule_with_its_fixtures() {
    let out = eventmap(Path::new("."), &["explain", "unknown-proto-field"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for expected in [
        "unknown-proto-field (error, mapping rules)\n",
        "The proto message has no such field.",
        "Why it matters:\n  a key that is not a proto field is a typo",
        // The failing fixture of tests/rules/cases.yaml, and the passing base.yaml.
        "Failing (mappings.yaml, reported at `skew`):\n",
        "  > 37 |             skew: { from: sku }\n",
        "Passing (mappings.yaml):\n",
        "  > 37 |             sku: { from: sku }\n",
        "Documentation: ",
        "/docs/checks.md#unknown-proto-field\n",
    ] {
        assert!(stdout.contains(expected), "`{expected}` missing:\n{stdout}");
    }
    assert!(!stdout.contains("Accepting it"), "{stdout}");
}

#[test]
fn explains_a_breaking_rule_with_how_to_accept_it() {
    let out = eventmap(Path::new("."), &["explain", "breaking-field-removed"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for expected in [
        "breaking-field-removed (error, breaking changes)",
        "Failing (against a baseline: `eventmap check --against REV`):\n  `string note = 6;` is deleted",
        "Passing:\n  delete it with `reserved 6; reserved \"note\";`",
        "Accepting it, when the break is intended:",
        "    - { rule: breaking-field-removed, target: \"<pkg.Message.field>\", reason: \"...\" }",
    ] {
        assert!(stdout.contains(expected), "`{expected}` missing:\n{stdout}");
    }
}

#[test]
fn an_unknown_rule_gets_the_closest_id() {
    let out = eventmap(Path::new("."), &["explain", "unknown-proto-feild"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr)
            .contains("no rule `unknown-proto-feild` (did you mean `unknown-proto-field`?)"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn every_rule_explains() {
    for rule in rules::ALL {
        let out = eventmap(Path::new("."), &["explain", rule.id]);
        assert_eq!(out.status.code(), Some(0), "{}", rule.id);
        assert!(text(&out.stdout).starts_with(&format!("{} (", rule.id)));
    }
}

/// A table with three problems, each reported with the help line that names
/// `eventmap explain <rule>`; in JSON, each has the link to its rule's anchor.
#[test]
fn every_diagnostic_points_at_its_explanation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let table = std::fs::read_to_string("../mappings.yaml").expect("table");
    let broken = table
        .replace("examples/ordering/src/generated/", "out/")
        .replacen(
            "customer_id: { from: customer_id }",
            "custmer_id: { from: customer_id }",
            1,
        )
        .replacen("{ envelope: occurred_at }", "{ envelope: ocurred_at }", 1)
        .replacen("stream: ORDERING_ORDERS", "stream: ORDERING.ORDERS", 1);
    std::fs::write(dir.path().join("mappings.yaml"), broken).expect("write");
    let proto = dir.path().join("proto/ordering/v1");
    std::fs::create_dir_all(&proto).expect("mkdir");
    std::fs::copy(
        "../proto/ordering/v1/events.proto",
        proto.join("events.proto"),
    )
    .expect("copy");

    let out = eventmap(dir.path(), &["check"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let headers: Vec<&str> = stderr.lines().filter(|l| l.contains(": error[")).collect();
    assert!(headers.len() >= 3, "{stderr}");
    for header in &headers {
        let rule = header
            .split("error[")
            .nth(1)
            .and_then(|r| r.split(']').next())
            .expect("rule");
        let block = stderr.split(header).nth(1).expect("block");
        let block = block.split(": error[").next().unwrap_or(block);
        assert!(
            block.contains(&format!("  = help: more with `eventmap explain {rule}`\n")),
            "{header}: no help line naming `eventmap explain {rule}`:\n{stderr}"
        );
    }

    let out = eventmap(dir.path(), &["check", "--format", "json"]);
    let items: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("JSON array");
    assert!(items.len() >= 3);
    let checks = std::fs::read_to_string("../docs/checks.md").expect("checks.md");
    for item in &items {
        let rule = item["rule"].as_str().expect("rule");
        let docs = item["docs"].as_str().expect("docs");
        assert!(docs.ends_with(&format!("docs/checks.md#{rule}")), "{docs}");
        assert!(
            checks.contains(&format!("<a id=\"{rule}\"></a>")),
            "{rule}: no anchor"
        );
    }
}
