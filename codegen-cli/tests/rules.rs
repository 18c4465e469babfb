//! One failing and one passing fixture per rule of `eventmap check` (`tests/rules/cases.yaml`
//! patches `tests/rules/base.yaml`), the rule list of `docs/checks.md` kept equal to the
//! rules these fixtures cover, and `docs/checks.md` kept equal to the rule registry.

use std::path::{Path, PathBuf};

use eventmap_codegen::rules::{self, Rule, Section};
use eventmap_codegen::{Analysis, Severity, analyze};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    rule: String,
    #[serde(default)]
    fail: Vec<(String, String)>,
    #[serde(default)]
    proto_fail: Vec<(String, String)>,
    at: String,
    #[serde(default)]
    mark: Option<String>,
    #[serde(default)]
    in_proto: bool,
    #[serde(default)]
    line_only: bool,
    /// Another fixture proto (`open_enum.proto`) in which `at` is found and reported.
    #[serde(default)]
    in_proto_file: Option<String>,
    #[serde(default)]
    pass: Option<Vec<(String, String)>>,
}

const FIXTURES: &str = "tests/rules";
const PROTO: &str = "proto/rules/v1/rules.proto";

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(Path::new(FIXTURES).join("cases.yaml")).expect("cases.yaml");
    serde_saphyr::from_str(&text).expect("cases.yaml parses")
}

fn patch(text: &str, patches: &[(String, String)], rule: &str) -> String {
    let mut text = text.to_owned();
    for (from, to) in patches {
        assert!(
            text.contains(from.as_str()),
            "{rule}: `{from}` is not in the fixture"
        );
        text = text.replacen(from.as_str(), to, 1);
    }
    text
}

/// Writes the fixture (table and proto, patched) into a temporary folder and analyzes it.
fn run(table: &str, proto: &str) -> (tempfile::TempDir, Analysis) {
    let dir = tempfile::tempdir().expect("tempdir");
    let proto_path = dir.path().join(PROTO);
    std::fs::create_dir_all(proto_path.parent().expect("parent")).expect("mkdir");
    std::fs::write(&proto_path, proto).expect("write proto");
    // The other fixture protos (the proto2 `legacy.proto`), as committed.
    let fixtures = Path::new(FIXTURES).join(PROTO);
    for entry in std::fs::read_dir(fixtures.parent().expect("parent")).expect("fixture protos") {
        let path = entry.expect("entry").path();
        if path.file_name() != fixtures.file_name() {
            let target = proto_path.with_file_name(path.file_name().expect("file name"));
            std::fs::copy(&path, target).expect("copy proto");
        }
    }
    std::fs::write(dir.path().join("mappings.yaml"), table).expect("write table");
    let analysis = analyze(&dir.path().join("mappings.yaml")).expect("readable");
    (dir, analysis)
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[start..].chars().count() + 1)
}

#[test]
fn every_rule_fails_and_passes_where_its_fixture_says() {
    let base = std::fs::read_to_string(Path::new(FIXTURES).join("base.yaml")).expect("base");
    let proto = std::fs::read_to_string(Path::new(FIXTURES).join(PROTO)).expect("proto");
    let (_dir, analysis) = run(&base, &proto);
    assert!(
        analysis.diagnostics.is_empty(),
        "base.yaml must pass:\n{}",
        analysis.render()
    );

    for case in cases() {
        let rule = case.rule.as_str();
        let table = patch(&base, &case.fail, rule);
        let proto_text = patch(&proto, &case.proto_fail, rule);
        let (dir, analysis) = run(&table, &proto_text);
        let other_proto = case.in_proto_file.as_ref().map(|name| {
            let text =
                std::fs::read_to_string(Path::new(FIXTURES).join(PROTO).with_file_name(name))
                    .expect("fixture proto");
            (dir.path().join(PROTO).with_file_name(name), text)
        });
        let searched = match &other_proto {
            Some((_, text)) => text,
            None if case.in_proto => &proto_text,
            None => &table,
        };
        let start = searched
            .find(case.at.as_str())
            .unwrap_or_else(|| panic!("{rule}: `{}` is not in the failing fixture", case.at));
        let offset = start
            + case
                .mark
                .as_deref()
                .and_then(|m| case.at.find(m))
                .unwrap_or(0);
        let expected = line_col(searched, offset);
        let expected_file: PathBuf = if let Some((path, _)) = other_proto {
            path
        } else if case.in_proto {
            dir.path().join("proto").join("rules/v1/rules.proto")
        } else {
            dir.path().join("mappings.yaml")
        };
        let found = analysis.diagnostics.iter().find(|d| {
            d.rule == rule
                && d.location.as_ref().is_some_and(|l| {
                    l.file == expected_file
                        && l.line == expected.0
                        && (case.line_only || l.column == expected.1)
                })
        });
        assert!(
            found.is_some(),
            "{rule}: expected at {}:{}:{}, got:\n{}",
            expected_file.display(),
            expected.0,
            expected.1,
            analysis.render()
        );

        let pass_table = patch(&base, case.pass.as_deref().unwrap_or_default(), rule);
        let (_dir, analysis) = run(&pass_table, &proto);
        assert!(
            analysis.diagnostics.is_empty(),
            "{rule}: the passing fixture reports:\n{}",
            analysis.render()
        );
    }
}

#[test]
fn docs_list_exactly_the_rules_with_fixtures() {
    let docs = std::fs::read_to_string("../docs/checks.md").expect("docs/checks.md");
    let section = docs
        .split("## Mapping rules")
        .nth(1)
        .and_then(|s| s.split("\n#").next())
        .expect("a `## Mapping rules` section");
    let mut documented: Vec<String> = section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_owned)
        .collect();
    documented.sort();
    let mut covered: Vec<String> = cases().into_iter().map(|c| c.rule).collect();
    covered.sort();
    assert_eq!(documented, covered);
}

/// The rows of the rule table of a `## ` section of `docs/checks.md`: (rule id, the rest of
/// the id's cell, the other cells).
fn doc_rows<'d>(docs: &'d str, heading: &str) -> Vec<(&'d str, &'d str, Vec<&'d str>)> {
    let section = docs
        .split(heading)
        .nth(1)
        .and_then(|s| s.split("\n#").next())
        .unwrap_or_else(|| panic!("a `{heading}` section"));
    section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| {
            let (id, rest) = l.split_once('`')?;
            // The rule's anchor follows its id: `<a id="<id>"></a>`.
            let rest = rest
                .strip_prefix(&format!("<a id=\"{id}\"></a>"))
                .unwrap_or(rest);
            let mut cells = rest.split(" | ");
            let marker = cells.next()?.trim();
            Some((id, marker, cells.collect()))
        })
        .collect()
}

/// The severity and summary a rule's row documents.
fn documented(rule: &Rule, docs: &str) -> Option<(Severity, String)> {
    let warning = |w: bool| {
        if w {
            Severity::Warning
        } else {
            Severity::Error
        }
    };
    match rule.section {
        Section::Run => {
            let text = docs.split_whitespace().collect::<Vec<_>>().join(" ");
            let error = format!("one error with the rule id `{}`", rule.id);
            text.contains(&error).then(|| {
                let start = text.find(rule.summary).map_or("", |i| &text[i..]);
                (Severity::Error, start.to_owned())
            })
        }
        Section::Mapping => doc_rows(docs, "## Mapping rules")
            .into_iter()
            .find(|(id, ..)| *id == rule.id)
            .and_then(|(_, _, cells)| {
                let severity = warning(*cells.first()? == "warning");
                Some((severity, (*cells.get(1)?).to_owned()))
            }),
        Section::System | Section::Registry => doc_rows(
            docs,
            if rule.section == Section::System {
                "## Tables checked together"
            } else {
                "## Against the live registry"
            },
        )
        .into_iter()
        .find(|(id, ..)| *id == rule.id)
        .and_then(|(_, _, cells)| {
            let severity = warning(*cells.first()? == "warning");
            Some((severity, (*cells.get(1)?).to_owned()))
        }),
        Section::Breaking => doc_rows(docs, "## Breaking changes")
            .into_iter()
            .find(|(id, ..)| *id == rule.id)
            .and_then(|(_, marker, cells)| {
                let severity = warning(marker == "(warning)");
                Some((severity, (*cells.first()?).to_owned()))
            }),
    }
}

#[test]
fn docs_document_every_rule_of_the_registry() {
    let docs = std::fs::read_to_string("../docs/checks.md").expect("docs/checks.md");
    for rule in rules::ALL {
        let (severity, text) =
            documented(rule, &docs).unwrap_or_else(|| panic!("{rule} in docs/checks.md"));
        assert_eq!(
            severity, rule.severity,
            "{rule}: severity in docs/checks.md"
        );
        assert!(
            text.starts_with(rule.summary),
            "{rule}: docs/checks.md says `{text}`, the registry `{}`",
            rule.summary
        );
        let anchor = format!("<a id=\"{}\"></a>", rule.id);
        assert_eq!(
            docs.matches(&anchor).count(),
            1,
            "{rule}: one anchor `{anchor}` in docs/checks.md, the target of its link {}",
            rule.docs_link()
        );
        assert_eq!(rule.docs_link(), format!("{}#{}", rules::DOCS_URL, rule.id));
        assert!(rules::DOCS_URL.ends_with(rules::DOCS_PAGE));
    }
    let headings = [
        "## Mapping rules",
        "## Breaking changes",
        "## Tables checked together",
    ];
    for (id, ..) in headings.iter().flat_map(|h| doc_rows(&docs, h)) {
        assert!(
            rules::find(id).is_some(),
            "docs/checks.md documents `{id}`, which is not in the registry"
        );
    }
}

/// `on_incompatible:` of a subscription's delivery (the contract guard's policy): the three
/// words pass; another word, or `dead-letter` without a dead-letter channel, is an
/// `invalid-delivery` error at the value.
#[test]
fn on_incompatible_takes_three_words_and_dead_letter_needs_a_channel() {
    let base = std::fs::read_to_string(Path::new(FIXTURES).join("base.yaml")).expect("base");
    let proto = std::fs::read_to_string(Path::new(FIXTURES).join(PROTO)).expect("proto");
    let with = |policy: &str| {
        patch(
            &base,
            &[(
                "max_deliver: 5".to_owned(),
                format!("max_deliver: 5\n      on_incompatible: {policy}"),
            )],
            "invalid-delivery",
        )
    };
    for policy in ["refuse", "dead-letter", "warn"] {
        let (_dir, analysis) = run(&with(policy), &proto);
        assert!(
            analysis.diagnostics.is_empty(),
            "{policy}: {}",
            analysis.render()
        );
    }
    let errors = |table: &str| {
        let (_dir, analysis) = run(table, &proto);
        analysis
            .diagnostics
            .iter()
            .map(|d| (d.rule.to_owned(), d.message.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        errors(&with("ignore")),
        [(
            "invalid-delivery".to_owned(),
            "`on_incompatible: ignore` is not a contract policy".to_owned()
        )]
    );
    let without_channel = patch(
        &with("dead-letter"),
        &[(
            "      dead_letter: { subject: shop.dead-letter, stream: SHOP_DEAD_LETTERS }\n"
                .to_owned(),
            String::new(),
        )],
        "invalid-delivery",
    );
    let found = errors(&without_channel);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "invalid-delivery");
    assert!(
        found[0].1.contains("without a `dead_letter:` channel"),
        "{found:?}"
    );
}
