//! `eventmap docs` on a real-sized multi-file proto set (`tests/scale_fixture`: 3 packages,
//! imports between them, proto2 and proto3, well-known types, keywords as names), without
//! npm: every payload schema is self-contained (no `import`; it compiles alone with protox
//! and declares every type under its original full name, field for field), the documents
//! grow linearly with the number of events, and every Mermaid block is under Mermaid's
//! `maxTextSize`. `tests/docs-tools/run.sh` runs the real tools on the same set.

mod scale_fixture;

use std::collections::BTreeSet;
use std::path::Path;

use eventmap_codegen::docs::{self, DocsOutput};
use eventmap_codegen::docs::{MAX_DIAGRAM_CHARS, MERMAID_MAX_TEXT_SIZE};
use prost_reflect::{DescriptorPool, Kind, MessageDescriptor};

/// The fixture of `events` events in a temporary folder, checked, and its documents.
fn fixture(events: usize) -> (tempfile::TempDir, eventmap_codegen::Analysis, DocsOutput) {
    let dir = tempfile::tempdir().expect("tempdir");
    scale_fixture::write(dir.path(), events).expect("write the fixture");
    let analysis = eventmap_codegen::analyze(&dir.path().join("mappings.yaml")).expect("analyze");
    assert!(!analysis.has_errors(), "{}", analysis.render());
    let output = docs::render(&analysis).expect("render docs");
    (dir, analysis, output)
}

/// The AsyncAPI document as JSON.
fn document(output: &DocsOutput) -> serde_json::Value {
    serde_saphyr::from_str(&output.asyncapi_yaml).expect("asyncapi.yaml is YAML")
}

/// `text` compiled alone (as `payload.proto`, with no other file to import) by protox.
fn compile_alone(text: &str) -> Result<DescriptorPool, String> {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("payload.proto"), text).expect("write");
    let mut compiler = protox::Compiler::new([dir.path()]).map_err(|e| e.to_string())?;
    compiler.include_imports(true);
    compiler
        .open_file("payload.proto")
        .map_err(|e| e.to_string())?;
    Ok(compiler.descriptor_pool())
}

/// The type of a field as a comparable text: cardinality, kind by full name, map key/value.
fn field_shape(field: &prost_reflect::FieldDescriptor) -> String {
    let kind = |k: &Kind| match k {
        Kind::Message(m) => m.full_name().to_owned(),
        Kind::Enum(e) => e.full_name().to_owned(),
        scalar => format!("{scalar:?}"),
    };
    if let Kind::Message(entry) = field.kind()
        && field.is_map()
    {
        return format!(
            "map<{}, {}>",
            kind(&entry.map_entry_key_field().kind()),
            kind(&entry.map_entry_value_field().kind())
        );
    }
    let oneof = field
        .containing_oneof()
        .filter(|o| !o.is_synthetic())
        .map(|o| o.name().to_owned());
    format!(
        "{:?} {} {:?} presence={}",
        field.cardinality(),
        kind(&field.kind()),
        oneof,
        field.supports_presence() || field.field_descriptor_proto().proto3_optional()
    )
}

/// Every message of `original`'s closure declared in `compiled` under the same full name,
/// with the same fields (name, number, shape), and every enum with the same values.
fn assert_same_types(original: &MessageDescriptor, compiled: &DescriptorPool, declared: &[String]) {
    let pool = original.parent_pool();
    for name in declared {
        if let Some(message) = pool.get_message_by_name(name) {
            let copy = compiled
                .get_message_by_name(name)
                .unwrap_or_else(|| panic!("{}: `{name}` is not declared", original.full_name()));
            let fields = |m: &MessageDescriptor| -> Vec<(String, u32)> {
                m.fields()
                    .map(|f| (f.name().to_owned(), f.number()))
                    .collect()
            };
            assert_eq!(fields(&copy), fields(&message), "{name}: fields");
            for field in message.fields() {
                let twin = copy.get_field(field.number()).expect("same numbers");
                if field.parent_file().syntax() == twin.parent_file().syntax() {
                    assert_eq!(
                        field_shape(&twin),
                        field_shape(&field),
                        "{name}.{}",
                        field.name()
                    );
                } else {
                    // A proto3 field written in a proto2 text: same type and number, and an
                    // `optional` label (explicit presence) for the singular ones.
                    assert_eq!(
                        twin.cardinality() == prost_reflect::Cardinality::Repeated,
                        field.cardinality() == prost_reflect::Cardinality::Repeated
                    );
                    assert_eq!(twin.is_map(), field.is_map(), "{name}.{}", field.name());
                }
            }
        } else {
            let original_enum = pool
                .get_enum_by_name(name)
                .unwrap_or_else(|| panic!("`{name}` is neither a message nor an enum"));
            let copy = compiled.get_enum_by_name(name).unwrap_or_else(|| {
                panic!("{}: enum `{name}` is not declared", original.full_name())
            });
            let values = |e: &prost_reflect::EnumDescriptor| -> Vec<(String, i32)> {
                e.values()
                    .map(|v| (v.name().to_owned(), v.number()))
                    .collect()
            };
            assert_eq!(values(&copy), values(&original_enum), "{name}: values");
        }
    }
}

#[test]
fn every_payload_schema_is_self_contained_and_keeps_the_full_names() {
    let (_dir, analysis, output) = fixture(100);
    let protos = analysis.protos.as_ref().expect("protos");
    let doc = document(&output);
    let messages = doc["components"]["messages"].as_object().expect("messages");
    assert_eq!(
        messages.len(),
        96,
        "100 events, every 25th internal; the received ones reuse the published messages"
    );
    let receives = doc["operations"]
        .as_object()
        .expect("operations")
        .values()
        .filter(|o| o["action"] == "receive")
        .count();
    assert_eq!(receives, 20, "the subscription `audit`");
    let mut packages_seen = BTreeSet::new();
    let mut proto2 = 0;
    for (key, message) in messages {
        let schema = message["payload"]["schema"].as_str().expect("schema text");
        assert!(
            !schema
                .lines()
                .any(|l| l.trim_start().starts_with("import ")),
            "{key}: the payload imports a file\n{schema}"
        );
        assert_eq!(schema.matches("// @RootNode\n").count(), 1, "{key}");
        let full_name = message["x-protobuf-message"].as_str().expect("name");
        let original = protos.message(full_name).expect("the original message");
        let payload = eventmap_codegen::__private::payload_schema(&original);
        assert_eq!(
            payload.text, schema,
            "{key}: the document carries the payload schema"
        );
        assert_eq!(message["payload"]["schemaFormat"], payload.schema_format());
        let compiled = compile_alone(schema)
            .unwrap_or_else(|e| panic!("{key}: the schema does not compile alone: {e}\n{schema}"));
        assert_same_types(&original, &compiled, &payload.types);
        assert!(
            !payload.types.iter().any(|t| t == "common.v1.Unused"),
            "{key}: only what the message uses"
        );
        assert!(
            payload
                .types
                .iter()
                .any(|t| t == "google.protobuf.Timestamp")
        );
        packages_seen.extend(payload.packages.iter().cloned());
        if !payload.proto3 {
            proto2 += 1;
            assert!(schema.contains("syntax = \"proto2\";"), "{key}");
        }
    }
    assert_eq!(
        packages_seen.into_iter().collect::<Vec<_>>(),
        [
            "common.v1",
            "google.protobuf",
            "ledger.v1",
            "shop.billing.v1",
            "shop.orders.v1"
        ]
    );
    // The billing events (they use ledger.v1.Posting) and the ledger events are proto2 texts.
    assert_eq!(proto2, 48, "billing and ledger events");
}

/// (asyncapi.yaml, events.md) sizes in bytes for `events` events, all the events of a
/// package in one file (which grows with them: inlining whole files would make the document
/// grow as events x events).
fn sizes(events: usize) -> (usize, usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    scale_fixture::write_with(dir.path(), events, usize::MAX).expect("write the fixture");
    let analysis = eventmap_codegen::analyze(&dir.path().join("mappings.yaml")).expect("analyze");
    assert!(!analysis.has_errors(), "{}", analysis.render());
    let output = docs::render(&analysis).expect("render docs");
    (output.asyncapi_yaml.len(), output.events_md.len())
}

#[test]
fn documents_grow_linearly_with_the_number_of_events() {
    let (yaml_1, md_1) = sizes(120);
    let (yaml_2, md_2) = sizes(240);
    let (yaml_4, md_4) = sizes(480);
    for (what, small, double, quadruple) in [
        ("asyncapi.yaml", yaml_1, yaml_2, yaml_4),
        ("events.md", md_1, md_2, md_4),
    ] {
        let ratio = double as f64 / small as f64;
        let ratio_4 = quadruple as f64 / double as f64;
        assert!(
            (1.7..2.3).contains(&ratio) && (1.7..2.3).contains(&ratio_4),
            "{what}: {small} bytes for 120 events, {double} for 240, {quadruple} for 480: \
             ratios {ratio:.2} and {ratio_4:.2}"
        );
    }
    // Per event: the message and what it uses (about 8 KB here), not its file.
    assert!(yaml_4 / 480 < 10_000, "{yaml_4} bytes for 480 events");
}

/// The Mermaid blocks of a catalog.
fn mermaid_blocks(md: &str) -> Vec<&str> {
    md.split("```mermaid\n")
        .skip(1)
        .map(|rest| rest.split("\n```").next().expect("block"))
        .collect()
}

#[test]
fn every_mermaid_block_is_under_the_limit_and_the_flow_is_split() {
    let (_dir, _analysis, output) = fixture(480);
    let blocks = mermaid_blocks(&output.events_md);
    for (index, block) in blocks.iter().enumerate() {
        assert!(
            block.len() <= MAX_DIAGRAM_CHARS && MAX_DIAGRAM_CHARS < MERMAID_MAX_TEXT_SIZE,
            "block {index}: {} characters",
            block.len()
        );
    }
    // 461 published events: orders 240 -> 5 parts, billing 120 -> 3, ledger 120 -> 3 (less
    // the internal ones), an overview, one sequence diagram per channel.
    let md = &output.events_md;
    assert!(
        md.contains("### Flow: Overview: the channels\n"),
        "overview"
    );
    assert!(md.contains("### Flow: Channel `orders`, part 5 of 5\n"));
    assert!(md.contains("### Flow: Channel `ledger`, part 3 of 3\n"));
    assert!(!md.contains("### Flow: Channel `orders`, part 6"));
    assert_eq!(
        blocks.len(),
        1 + 5 + 3 + 3 + 3 + 1,
        "overview, parts, per-channel sequences, the subscription's delivery"
    );
    let overview = blocks
        .iter()
        .find(|b| b.starts_with("flowchart LR\n"))
        .expect("the overview: the first flowchart");
    assert!(
        overview.contains("-- \"20 events of ledger.entries.#gt;\" --> c0"),
        "the audit subscription's 20 subjects summed up: {overview}"
    );
    assert!(
        md.contains("Stream->>Consumer: deliver one of the 20 events of ledger.entries.#gt;"),
        "the delivery sequence sums its subjects up too"
    );
    for channel in ["orders", "billing", "ledger"] {
        assert!(md.contains(&format!("### One event on channel {channel}\n")));
    }
    assert!(md.contains("([sequence](#one-event-on-channel-orders))"));
    // Every published event is drawn in exactly one part of its channel.
    let handlers: usize = blocks
        .iter()
        .map(|b| b.matches(" handler<br/>to ").count())
        .sum();
    assert_eq!(handlers, 461);
    assert!(
        overview.contains("g0[\"channel orders<br/>231 integration handlers\"]"),
        "{overview}"
    );
}

#[test]
fn the_example_keeps_one_flowchart_and_a_sequence_per_event() {
    let analysis = eventmap_codegen::analyze(Path::new("../mappings.yaml")).expect("analyze");
    let output = docs::render(&analysis).expect("render");
    let blocks = mermaid_blocks(&output.events_md);
    assert_eq!(
        blocks.len(),
        5,
        "one flowchart and one sequence diagram per event"
    );
    assert!(blocks[0].starts_with("flowchart LR\n"));
    assert!(!output.events_md.contains("### Flow:"));
}
