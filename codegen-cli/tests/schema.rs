//! The JSON Schema of the mapping table (`schema/mappings.schema.json`): committed and
//! current, a description on every key, and every table of the repository valid against it
//! by an independent validator (the `jsonschema` crate), while broken tables are not.

use std::path::{Path, PathBuf};

use eventmap_codegen::schema;
use serde::Deserialize;
use serde_json::Value;

/// The repository's root (this crate is `codegen-cli/`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

fn committed_schema() -> Value {
    let path = root().join(schema::PATH);
    let text = std::fs::read_to_string(&path).expect("the committed schema");
    serde_json::from_str(&text).expect("the committed schema is JSON")
}

fn validator() -> jsonschema::Validator {
    jsonschema::draft7::new(&committed_schema())
        .expect("the committed schema is a valid draft-7 schema")
}

/// A YAML table as the JSON value an editor's language server validates.
fn yaml_to_json(text: &str) -> Result<Value, serde_saphyr::Error> {
    serde_saphyr::from_str::<Value>(text)
}

/// The schema errors of `text`, as `<instance path>: <message>`.
fn schema_errors(validator: &jsonschema::Validator, text: &str) -> Vec<String> {
    let value = yaml_to_json(text).expect("the table is YAML");
    validator
        .iter_errors(&value)
        .map(|err| format!("{}: {err}", err.instance_path()))
        .collect()
}

#[test]
fn committed_schema_is_current() {
    let path = root().join(schema::PATH);
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == schema::mapping_table_json(),
        "{} is not current: run `cargo run -p eventmap-codegen -- schema --output {}`",
        path.display(),
        schema::PATH
    );
}

/// Every key an editor completes has a hover text: each property, at every level, has a
/// description, and so has every definition.
#[test]
fn every_key_is_described() {
    fn walk(value: &Value, at: &str, missing: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::Object(properties)) = map.get("properties") {
                    for (key, property) in properties {
                        if property.get("description").is_none() {
                            missing.push(format!("{at}/properties/{key}"));
                        }
                    }
                }
                for (key, child) in map {
                    walk(child, &format!("{at}/{key}"), missing);
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    walk(child, &format!("{at}/{i}"), missing);
                }
            }
            _ => {}
        }
    }
    let schema = committed_schema();
    let mut missing = Vec::new();
    walk(&schema, "#", &mut missing);
    let definitions = schema["definitions"].as_object().expect("definitions");
    assert!(definitions.len() >= 10, "{definitions:?}");
    for (name, definition) in definitions {
        if definition.get("description").is_none() {
            missing.push(format!("#/definitions/{name}"));
        }
    }
    assert!(
        missing.is_empty(),
        "keys without a description: {missing:#?}"
    );
    // Every key the schema offers is one docs/mappings.md documents.
    let docs = std::fs::read_to_string(root().join("docs/mappings.md")).expect("docs/mappings.md");
    let mut keys = std::collections::BTreeSet::new();
    fn property_names(value: &Value, into: &mut std::collections::BTreeSet<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::Object(properties)) = map.get("properties") {
                    into.extend(properties.keys().cloned());
                }
                map.values().for_each(|child| property_names(child, into));
            }
            Value::Array(items) => items.iter().for_each(|child| property_names(child, into)),
            _ => {}
        }
    }
    property_names(&schema, &mut keys);
    assert!(keys.len() >= 30, "{keys:?}");
    let undocumented: Vec<&String> = keys
        .iter()
        .filter(|key| !docs.contains(&format!("{key}:")) && !docs.contains(&format!("`{key}`")))
        .collect();
    assert!(
        undocumented.is_empty(),
        "keys docs/mappings.md does not name: {undocumented:?}"
    );
    // The words of docs/mappings.md, not rustdoc's links.
    let text = serde_json::to_string(&schema).expect("JSON");
    assert!(!text.contains("[`"), "a rustdoc link in a description");
    assert!(text.contains("the CloudEvents `ce-source` of its integration events"));
}

/// Every `.yaml` file of the repository that is a mapping table (a top-level `version` and
/// `service`), found by walking the tree.
fn repository_tables() -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if path.is_dir() {
                if !name.starts_with('.') && name != "target" && name != "node_modules" {
                    walk(&path, found);
                }
            } else if name.ends_with(".yaml") || name.ends_with(".yml") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                let top_level = |key: &str| text.lines().any(|line| line.starts_with(key));
                if top_level("version:") && top_level("service:") {
                    found.push(path);
                }
            }
        }
    }
    let mut found = Vec::new();
    walk(&root(), &mut found);
    found.sort();
    found
}

/// Every table the parser accepts is valid against the committed schema; the example tables
/// name the schema in their first line, by a path that leads to it.
#[test]
fn every_table_in_the_repository_is_valid() {
    let validator = validator();
    let tables = repository_tables();
    let relative: Vec<String> = tables
        .iter()
        .map(|path| {
            path.strip_prefix(root())
                .expect("inside")
                .display()
                .to_string()
        })
        .collect();
    for expected in [
        "mappings.yaml",
        "examples/search/mappings.yaml",
        "examples/notifications/mappings.yaml",
        "tests/fixtures/kitchen/mappings.yaml",
        "tests/fixtures/history/mappings.yaml",
        "codegen-cli/tests/rules/base.yaml",
    ] {
        assert!(
            relative.iter().any(|r| r == expected),
            "{expected} not found in {relative:#?}"
        );
    }
    let mut checked = 0;
    let mut failures = Vec::new();
    for (path, name) in tables.iter().zip(&relative) {
        let text = std::fs::read_to_string(path).expect("read");
        if eventmap_codegen::__private::parse_table(path, &text).is_err() {
            // A table that does not follow the format on purpose (a fixture of an error).
            assert!(
                !validator.is_valid(&yaml_to_json(&text).expect("YAML")),
                "{name}: the parser refuses it, the schema accepts it"
            );
            continue;
        }
        checked += 1;
        let errors = schema_errors(&validator, &text);
        if !errors.is_empty() {
            failures.push(format!("{name}: {errors:#?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        checked >= 20,
        "only {checked} tables checked: {relative:#?}"
    );

    for (table, schema_path) in [
        ("mappings.yaml", "schema/mappings.schema.json"),
        (
            "examples/search/mappings.yaml",
            "../../schema/mappings.schema.json",
        ),
        (
            "examples/notifications/mappings.yaml",
            "../../schema/mappings.schema.json",
        ),
    ] {
        let text = std::fs::read_to_string(root().join(table)).expect("read");
        let first = text.lines().next().unwrap_or_default();
        assert_eq!(
            first,
            format!("# yaml-language-server: $schema={schema_path}"),
            "{table}"
        );
        let target = root()
            .join(table)
            .parent()
            .expect("folder")
            .join(schema_path);
        assert!(
            target.is_file(),
            "{table}: {} does not exist",
            target.display()
        );
    }
}

#[derive(Debug, Deserialize)]
struct Case {
    rule: String,
    #[serde(default)]
    fail: Vec<(String, String)>,
    #[serde(default)]
    pass: Option<Vec<(String, String)>>,
}

fn patched(base: &str, patches: &[(String, String)]) -> String {
    let mut text = base.to_owned();
    for (from, to) in patches {
        assert!(text.contains(from.as_str()), "`{from}` is not in base.yaml");
        text = text.replacen(from.as_str(), to, 1);
    }
    text
}

/// The rule fixtures: every passing table is valid, the failing table of the `yaml` rule (a
/// misspelt key) is not; and the failing tables of the rules the schema can see on its own
/// are refused too, at the key at fault.
#[test]
fn rule_fixtures_pass_and_fail_the_schema() {
    let validator = validator();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rules");
    let base = std::fs::read_to_string(dir.join("base.yaml")).expect("base.yaml");
    let cases: Vec<Case> = serde_saphyr::from_str(
        &std::fs::read_to_string(dir.join("cases.yaml")).expect("cases.yaml"),
    )
    .expect("cases.yaml");
    assert!(schema_errors(&validator, &base).is_empty());
    let mut seen_yaml = false;
    for case in &cases {
        if let Some(pass) = &case.pass {
            let text = patched(&base, pass);
            let errors = schema_errors(&validator, &text);
            assert!(
                errors.is_empty(),
                "{}: the passing table is refused: {errors:#?}",
                case.rule
            );
        }
        let expected_at = match case.rule.as_str() {
            "yaml" => Some("/channels/orders"),
            "unsupported-version" => Some("/version"),
            "invalid-replicas" => Some("/channels/orders/replicas"),
            "empty-event" => Some("/events/"),
            // Inside a row: reported at the row (the `anyOf` of a domain event's entry).
            "unknown-envelope-value" => Some("/events/Shipped"),
            _ => None,
        };
        if let Some(at) = expected_at {
            seen_yaml |= case.rule == "yaml";
            let text = patched(&base, &case.fail);
            let errors = schema_errors(&validator, &text);
            assert!(
                errors.iter().any(|e| e.contains(at)),
                "{}: no schema error at {at}: {errors:#?}",
                case.rule
            );
        }
    }
    assert!(seen_yaml, "cases.yaml has no `yaml` case");
}

/// Broken tables, one fault each, refused with the path of the key at fault.
#[test]
fn broken_tables_fail() {
    let validator = validator();
    let base = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rules/base.yaml"),
    )
    .expect("base.yaml");
    let cases: &[(&str, &str, &str)] = &[
        // An unknown top-level key.
        ("version: 1", "version: 1\nservce: shop", ""),
        // A required section missing.
        ("protos:", "protoz:", ""),
        // A channel without its stream.
        ("stream: SHOP_ORDERS }", "}", "/channels/orders"),
        // A field source with a misspelt key.
        ("{ from: ", "{ form: ", "/fields/"),
        // `internal` misspelt.
        (
            "Archived: internal",
            "Archived: interal",
            "/events/Archived",
        ),
        // A delivery policy that does not exist.
        (
            "deliver: all",
            "deliver: sometimes",
            "/subscriptions/partner/delivery",
        ),
    ];
    for (from, to, at) in cases {
        assert!(base.contains(from), "`{from}` is not in base.yaml");
        let text = base.replacen(from, to, 1);
        let errors = schema_errors(&validator, &text);
        assert!(
            errors.iter().any(|e| e.contains(at)) && !errors.is_empty(),
            "`{to}`: expected an error at `{at}`, got {errors:#?}"
        );
    }
}

/// `eventmap schema` prints the committed file; `--output F --check` exits 1 with a diff when
/// F is stale, and `--output F` brings it up to date.
#[test]
fn schema_command_prints_writes_and_checks() {
    let bin = env!("CARGO_BIN_EXE_eventmap");
    let out = std::process::Command::new(bin)
        .arg("schema")
        .output()
        .expect("run eventmap");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(out.stdout).expect("UTF-8"),
        std::fs::read_to_string(root().join(schema::PATH)).expect("committed")
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("mappings.schema.json");
    std::fs::write(&file, "{}\n").expect("write");
    let run = |args: &[&str]| {
        std::process::Command::new(bin)
            .arg("schema")
            .arg("--output")
            .arg(&file)
            .args(args)
            .output()
            .expect("run eventmap")
    };
    let stale = run(&["--check"]);
    assert_eq!(stale.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&stale.stdout).contains("+  \"$schema\""));
    assert!(String::from_utf8_lossy(&stale.stderr).contains("is stale"));
    assert_eq!(run(&[]).status.code(), Some(0));
    assert_eq!(run(&["--check"]).status.code(), Some(0));
    assert_eq!(
        std::fs::read_to_string(&file).expect("read"),
        schema::mapping_table_json()
    );
}
