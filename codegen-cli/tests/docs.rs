//! `eventmap docs`: the committed documentation of the example is current (`docs --check`),
//! output is deterministic and independent of where the table is read from, `--check`
//! reports a stale file with a diff, and the kitchen-sink table (every field form) gives
//! valid YAML, valid JSON examples and a self-contained payload schema with its root marker.
//! `docs_scale.rs` has the documents of a multi-file proto set of hundreds of events.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use eventmap_codegen::docs::{self, DocsOutput};

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

fn render(table: &Path) -> DocsOutput {
    let analysis = eventmap_codegen::analyze(table).expect("analyze");
    assert!(!analysis.has_errors(), "{}", analysis.render());
    docs::render(&analysis).expect("render docs")
}

/// A copy of the example table and protos in a temporary folder.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy("../mappings.yaml", dir.path().join("mappings.yaml")).expect("copy table");
    let proto = dir.path().join("proto/ordering/v1");
    std::fs::create_dir_all(&proto).expect("mkdir");
    std::fs::copy(
        "../proto/ordering/v1/events.proto",
        proto.join("events.proto"),
    )
    .expect("copy proto");
    dir
}

/// The example's three tables, as `eventmap docs` documents them together.
const EXAMPLE_TABLES: [&str; 4] = ["--mappings", "mappings.yaml", "--mappings", "examples/"];

#[test]
fn docs_check_passes_on_the_example() {
    let args = [&EXAMPLE_TABLES[..], &["docs", "--check"]].concat();
    let out = eventmap(Path::new(".."), &args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "run `cargo run -p eventmap-codegen -- --mappings mappings.yaml --mappings examples/ docs`: the committed docs are stale\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let stdout = text(&out.stdout);
    for file in [
        "docs/generated/events.md",
        "docs/generated/asyncapi.yaml",
        "docs/generated/system.md",
        "examples/search/docs/generated/events.md",
        "examples/search/docs/generated/asyncapi.yaml",
        "examples/notifications/docs/generated/events.md",
        "examples/notifications/docs/generated/asyncapi.yaml",
    ] {
        assert!(
            stdout.contains(&format!("{file} is current")),
            "{file}: {stdout}"
        );
    }
    // The ordering table alone does not know its consumers: its documents differ.
    let out = eventmap(Path::new(".."), &["docs", "--check"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("+Consumers: none declared yet"),
        "{}",
        text(&out.stdout)
    );
}

/// The example's three tables documented together, read from `root`.
fn render_example(root: &Path) -> docs::SystemDocs {
    let analyses: Vec<_> = [
        "mappings.yaml",
        "examples/notifications/mappings.yaml",
        "examples/search/mappings.yaml",
    ]
    .iter()
    .map(|t| eventmap_codegen::analyze(&root.join(t)).expect("readable"))
    .collect();
    docs::render_system(&analyses).expect("render docs")
}

#[test]
fn output_is_deterministic_and_independent_of_the_table_path() {
    let first = render(Path::new("../mappings.yaml"));
    let second = render(Path::new("../mappings.yaml"));
    assert_eq!(first, second);
    let copy = project();
    let elsewhere = render(&copy.path().join("mappings.yaml"));
    assert_eq!(first, elsewhere, "output depends on where the table is");

    // Documented together, as committed.
    let together = render_example(Path::new(".."));
    assert_eq!(together, render_example(Path::new("..")));
    let committed =
        |path: &str| std::fs::read_to_string(Path::new("..").join(path)).expect("committed");
    let files: Vec<(String, String)> = together
        .files(None)
        .into_iter()
        .map(|(path, text)| (path.display().to_string(), text.to_owned()))
        .collect();
    assert_eq!(files.len(), 7);
    for (path, text) in &files {
        let relative = path.strip_prefix("../").expect("under ..");
        assert_eq!(text, &committed(relative), "{relative}");
    }
    // And from a copy elsewhere: the same texts.
    for table in ["search", "notifications"] {
        let dir = copy.path().join("examples").join(table);
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::copy(
            format!("../examples/{table}/mappings.yaml"),
            dir.join("mappings.yaml"),
        )
        .expect("copy table");
    }
    let moved = render_example(copy.path());
    assert_eq!(moved.system_md, together.system_md);
    let texts = |d: &docs::SystemDocs| {
        d.tables
            .iter()
            .map(|(_, _, t)| t.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(texts(&moved), texts(&together));
}

#[test]
fn docs_writes_next_to_the_table_then_check_reports_staleness_with_a_diff() {
    let dir = project();
    let out = eventmap(dir.path(), &["docs", "--check"]);
    assert_eq!(out.status.code(), Some(1), "missing docs are stale");
    assert!(text(&out.stderr).contains("is missing; run `eventmap docs`"));

    let out = eventmap(dir.path(), &["docs"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let catalog = dir.path().join("docs/generated/events.md");
    let written = std::fs::read_to_string(&catalog).expect("events.md");
    assert!(dir.path().join("docs/generated/asyncapi.yaml").is_file());
    let out = eventmap(dir.path(), &["docs", "--check"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let edited = written.replacen("## OrderCreatedEvent", "## OrderPlacedEvent", 1);
    std::fs::write(&catalog, edited).expect("edit");
    let out = eventmap(dir.path(), &["docs", "--check"]);
    assert_eq!(out.status.code(), Some(1));
    let diff = text(&out.stdout);
    assert!(diff.contains("--- a/docs/generated/events.md"), "{diff}");
    assert!(diff.contains("-## OrderPlacedEvent"), "{diff}");
    assert!(diff.contains("+## OrderCreatedEvent"), "{diff}");
    assert!(text(&out.stderr).contains("events.md is stale"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("docs/generated/asyncapi.yaml")).ok(),
        Some(render(&dir.path().join("mappings.yaml")).asyncapi_yaml),
        "--check writes nothing"
    );

    // --out DIR, and a table given by path from another folder.
    let out = eventmap(
        Path::new("/"),
        &[
            "--mappings",
            &dir.path().join("mappings.yaml").display().to_string(),
            "docs",
            "--out",
            &dir.path().join("elsewhere").display().to_string(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(dir.path().join("elsewhere/events.md").is_file());
}

#[test]
fn a_table_with_errors_gets_no_docs() {
    let dir = project();
    let table = dir.path().join("mappings.yaml");
    let before = std::fs::read_to_string(&table).expect("read");
    std::fs::write(
        &table,
        before.replacen("channel: order", "channel: ordr", 1),
    )
    .expect("write");
    let out = eventmap(dir.path(), &["docs"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("error[unknown-channel]"));
    assert!(!dir.path().join("docs/generated").exists());
}

fn kitchen() -> (DocsOutput, PathBuf) {
    let table = PathBuf::from("../tests/fixtures/kitchen/mappings.yaml");
    (render(&table), table)
}

#[test]
fn kitchen_sink_catalog_has_every_field_and_valid_json_examples() {
    let (output, _) = kitchen();
    let md = &output.events_md;
    // Every field form, and the oneof member the mapping leaves at its default.
    for row in [
        "| `a` | `string (oneof choice)` | 19 | default: left at the proto default |",
        "| `b` | `int32 (oneof choice)` | 20 | domain `small` |",
        "| `labels` | `map<string, string>` | 18 | domain `labels` |",
        "| `nickname` | `optional string` | 15 | domain `nickname` |",
        "| `previous.city` | `string` | 2 | constant `\"NO\"` |",
        "| `node.children.label` | `string` | 1 | domain `node.children[].this` |",
        "| `narrowed` | `int32` | 6 | domain `narrowed`, range-checked |",
        "| `computed` | `int64` | 26 | domain `wide` through `crate::kitchen::double` |",
    ] {
        assert!(md.contains(row), "missing row {row}\n{md}");
    }
    assert!(md.contains("(`internal`): `SinkDrained`"), "{md}");
    assert!(md.contains("-. internal .-> dispatcher"), "{md}");
    let examples: Vec<serde_json::Value> = md
        .split("```json\n")
        .skip(1)
        .map(|rest| {
            let json = rest.split("\n```").next().expect("block");
            serde_json::from_str(json).expect("example payload is JSON")
        })
        .collect();
    assert_eq!(examples.len(), 2);
    let sink = &examples[0];
    assert_eq!(sink["priority"], "PRIORITY_HIGH", "enum constants by name");
    assert_eq!(
        sink["level"], "PRIORITY_HIGH",
        "domain enums: first non-zero value"
    );
    assert_eq!(sink["wide"], "1", "64-bit integers are strings");
    assert_eq!(sink["at"], "2024-01-01T12:00:00Z");
    assert_eq!(sink["previous"][0]["city"], "NO");
    assert_eq!(sink["labels"]["example"], "example");
    assert_eq!(sink["name"], "SinkFilled", "event_name is the domain event");
    assert!(sink.get("a").is_none(), "one member per oneof: {sink}");
    assert_eq!(
        sink["node"]["parent"]["parent"],
        serde_json::Value::Null,
        "recursive `default` left unset"
    );
}

#[test]
fn kitchen_sink_asyncapi_is_yaml_with_a_self_contained_payload_schema() {
    let (output, table) = kitchen();
    let doc: serde_json::Value =
        serde_saphyr::from_str(&output.asyncapi_yaml).expect("asyncapi.yaml is YAML");
    assert_eq!(doc["asyncapi"], "3.0.0");
    let proto = std::fs::read_to_string(
        table
            .parent()
            .expect("dir")
            .join("proto/kitchen/v1/kitchen.proto"),
    )
    .expect("proto");
    assert!(
        proto.contains("import "),
        "the kitchen sink imports well-known types"
    );
    let message = &doc["components"]["messages"]["SinkFilledEventV2"];
    assert_eq!(message["x-protobuf-message"], "kitchen.v1.SinkV2");
    assert_eq!(
        message["payload"]["schemaFormat"],
        "application/vnd.google.protobuf;version=3"
    );
    let schema = message["payload"]["schema"].as_str().expect("schema");
    assert!(!schema.contains("import "), "{schema}");
    assert!(
        schema.contains("syntax = \"proto3\";\n\npackage kitchen.v1;\n"),
        "one package: an ordinary file: {schema}"
    );
    assert!(
        schema.contains("// @RootNode\nmessage SinkV2 {"),
        "{schema}"
    );
    assert!(
        !schema.contains("message Sink {"),
        "only what SinkV2 uses: {schema}"
    );
    let headers = &message["headers"]["properties"];
    assert_eq!(headers["ce-type"]["const"], "SinkFilledEventV2");
    assert_eq!(headers["ce-source"]["const"], "kitchen-tests");
    assert_eq!(
        doc["channels"]["SinkFilledEventV2"]["address"],
        "kitchen.sinks.SinkFilledEventV2"
    );
    assert_eq!(
        doc["operations"]["sendSinkFilledEventV2"]["messages"][0]["$ref"],
        "#/channels/SinkFilledEventV2/messages/SinkFilledEventV2"
    );
}

/// The search example: a table that only consumes (`subscriptions:`, no `events:`).
fn search() -> DocsOutput {
    render(Path::new("../examples/search/mappings.yaml"))
}

#[test]
fn consuming_table_catalog_and_asyncapi_snapshots() {
    let output = search();
    insta::assert_snapshot!("search_events_md", output.events_md);
    insta::assert_snapshot!("search_asyncapi_yaml", output.asyncapi_yaml);
}

/// The `$ref` of `value`, which must be a JSON pointer into the document.
fn pointer(value: &serde_json::Value) -> String {
    let reference = value["$ref"].as_str().expect("a $ref");
    reference
        .strip_prefix('#')
        .unwrap_or_else(|| panic!("{reference} is not local"))
        .to_owned()
}

/// Every `receive` operation of `doc` references a channel of the document, one of that
/// channel's messages, which references a message of `components.messages`; returns
/// (operation, channel address, message) of each.
fn receive_operations(doc: &serde_json::Value) -> Vec<(String, String, serde_json::Value)> {
    let operations = doc["operations"].as_object().expect("operations");
    let mut out = Vec::new();
    for (key, operation) in operations {
        if operation["action"] != "receive" {
            continue;
        }
        let channel_pointer = pointer(&operation["channel"]);
        let channel = doc
            .pointer(&channel_pointer)
            .unwrap_or_else(|| panic!("{key}: no channel at {channel_pointer}"));
        let messages = operation["messages"].as_array().expect("messages");
        assert_eq!(messages.len(), 1, "{key}");
        let in_channel = pointer(&messages[0]);
        assert!(
            in_channel.starts_with(&format!("{channel_pointer}/messages/")),
            "{key}: message {in_channel} is not one of its channel's"
        );
        let channel_message = doc
            .pointer(&in_channel)
            .unwrap_or_else(|| panic!("{key}: no message at {in_channel}"));
        let component_pointer = pointer(channel_message);
        assert!(component_pointer.starts_with("/components/messages/"));
        let message = doc
            .pointer(&component_pointer)
            .unwrap_or_else(|| panic!("{key}: no message at {component_pointer}"));
        out.push((
            key.clone(),
            channel["address"].as_str().expect("address").to_owned(),
            message.clone(),
        ));
    }
    out
}

#[test]
fn consuming_table_has_a_receive_operation_per_subscribed_event() {
    let analysis =
        eventmap_codegen::analyze(Path::new("../examples/search/mappings.yaml")).expect("read");
    let model = analysis.model().expect("valid");
    let output = docs::render(&analysis).expect("render");
    let doc: serde_json::Value = serde_saphyr::from_str(&output.asyncapi_yaml).expect("YAML");
    assert_eq!(doc["asyncapi"], "3.0.0");
    let receives = receive_operations(&doc);
    let subscription = &model.subscriptions[0];
    assert_eq!(subscription.durable, "search-orders");
    let mut expected: Vec<String> = subscription
        .events
        .iter()
        .map(|e| format!("receive{}", e.name))
        .collect();
    expected.sort();
    let keys: Vec<String> = receives.iter().map(|(k, _, _)| k.clone()).collect();
    assert_eq!(
        keys, expected,
        "one receive operation per event (keys sorted)"
    );
    assert_eq!(
        doc["operations"].as_object().expect("operations").len(),
        4,
        "no send operation: the table publishes nothing"
    );
    for (key, address, message) in &receives {
        let event = subscription
            .events
            .iter()
            .find(|e| *key == format!("receive{}", e.name))
            .expect("an event of the subscription");
        assert_eq!(address, &format!("ordering.order.{}", event.name), "{key}");
        assert_eq!(
            message["x-protobuf-message"],
            event.message.full_name.as_str()
        );
        let headers = &message["headers"]["properties"];
        assert_eq!(headers["ce-type"]["const"], event.name.as_str());
        assert!(
            headers["ce-source"].get("const").is_none(),
            "{key}: ce-source is the producer's, not fixed: {}",
            headers["ce-source"]
        );
        let operation = &doc["operations"][key];
        assert_eq!(operation["x-jetstream-durable"], "search-orders");
        assert_eq!(operation["x-eventmap-subscription"], "orders");
        assert_eq!(
            operation["x-eventmap-delivery"],
            serde_json::json!({
                "deliver": "all",
                "ack_wait_ms": 30000,
                "max_deliver": 5,
                "backoff_ms": [1000, 5000, 30000, 60000],
            })
        );
        assert_eq!(
            operation["x-dead-letter-subject"],
            format!("search.dead-letter.{}", event.name)
        );
        assert_eq!(operation["x-dead-letter-stream"], "SEARCH_DEAD_LETTERS");
        let text = operation["description"].as_str().expect("description");
        for part in ["`search-orders`", "`30s`", "5, the first included", "`1m`"] {
            assert!(text.contains(part), "{key}: {part} missing from {text}");
        }
    }
    let md = &output.events_md;
    assert!(md.contains("## Consumed\n"), "{md}");
    assert!(md.contains("- durable consumer: `search-orders`"), "{md}");
    assert!(
        md.contains(
            "| `OrderCreatedEvent` | `ordering.order.OrderCreatedEvent` | `ordering.v1.OrderCreated` (`ordering/v1/events.proto`) | `order_created_event` |"
        ),
        "{md}"
    );
    assert!(
        md.contains("k0 -- \"ordering.order.OrderCreatedEvent<br/>"),
        "{md}"
    );
    assert!(
        !md.contains("JetStreamPublisher"),
        "nothing published: {md}"
    );
}

/// What `both_sides` appends to the example table: a subscription to the service's own
/// channel (its own events, as a read model would), and a second one receiving one of them
/// too, with default durable and no dead letters.
const OWN_SUBSCRIPTIONS: &str = "
subscriptions:
  projection:
    channel: order
    durable: ordering-projection
    events:
      OrderCreatedEvent: ordering.v1.OrderCreated
      OrderCompletedEvent: ordering.v1.OrderCompleted
    delivery: { deliver: new, max_deliver: 1, backoff: [] }
  audit:
    channel: order
    events:
      OrderCreatedEvent: ordering.v1.OrderCreated
";

#[test]
fn a_table_that_publishes_and_consumes_shares_channels_and_messages() {
    let dir = project();
    let table = dir.path().join("mappings.yaml");
    let mut text = std::fs::read_to_string(&table).expect("read");
    text.push_str(OWN_SUBSCRIPTIONS);
    std::fs::write(&table, text).expect("write");
    let output = render(&table);
    let published = render(Path::new("../mappings.yaml"));
    let doc: serde_json::Value = serde_saphyr::from_str(&output.asyncapi_yaml).expect("YAML");
    let before: serde_json::Value = serde_saphyr::from_str(&published.asyncapi_yaml).expect("YAML");
    assert_eq!(
        doc["channels"], before["channels"],
        "the received events reuse the channels of the published ones"
    );
    assert_eq!(
        doc["components"], before["components"],
        "own events: the published messages (ce-source is the service)"
    );
    let receives = receive_operations(&doc);
    let keys: Vec<&str> = receives.iter().map(|(k, _, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "receiveOrderCompletedEvent",
            "receiveOrderCreatedEvent",
            "receiveOrderCreatedEvent_audit"
        ]
    );
    let audit = &doc["operations"]["receiveOrderCreatedEvent_audit"];
    assert_eq!(audit["x-jetstream-durable"], "ordering-audit");
    assert_eq!(
        audit["x-eventmap-delivery"],
        serde_json::json!({"deliver": "all"})
    );
    assert!(audit.get("x-dead-letter-subject").is_none());
    assert!(
        audit["description"]
            .as_str()
            .expect("text")
            .contains("ack wait: the runtime's default")
    );
    let projection = &doc["operations"]["receiveOrderCompletedEvent"];
    assert_eq!(
        projection["x-eventmap-delivery"],
        serde_json::json!({"deliver": "new", "max_deliver": 1, "backoff_ms": []})
    );
    assert_eq!(
        doc["operations"]["sendOrderCreatedEvent"],
        before["operations"]["sendOrderCreatedEvent"]
    );
    let md = &output.events_md;
    assert!(md.contains("### Subscription `audit`"), "{md}");
    assert!(md.contains("  - dead letters: none declared"), "{md}");
    assert!(
        md.contains("  - max deliveries: 1: a failed delivery is not retried"),
        "{md}"
    );
    assert!(
        md.contains("  s0 -- \"ordering.order.OrderCreatedEvent\" --> c1"),
        "the consumed stream is the published one: {md}"
    );
    assert!(md.contains("JetStreamPublisher"), "{md}");
    assert!(
        md.contains(
            "`ordering` for the events it publishes, another service for those it consumes"
        ),
        "{md}"
    );
}

/// A row with `ce_type:` (`tests/fixtures/cetype/`): the AsyncAPI message is named by its
/// `ce-type` and pins it in its headers, at the subject of the name; the catalog shows it.
#[test]
fn a_ce_type_of_its_own_is_the_message_name_and_header() {
    let output = render(Path::new("../tests/fixtures/cetype/mappings.yaml"));
    let doc: serde_json::Value = serde_saphyr::from_str(&output.asyncapi_yaml).expect("YAML");
    let created = &doc["components"]["messages"]["OrderCreatedEvent"];
    assert_eq!(created["name"], "com.example.ordering.OrderCreated");
    assert_eq!(created["title"], "OrderCreatedEvent");
    assert_eq!(
        created["headers"]["properties"]["ce-type"]["const"],
        "com.example.ordering.OrderCreated"
    );
    assert_eq!(
        doc["channels"]["OrderCreatedEvent"]["address"],
        "shop.order.OrderCreatedEvent"
    );
    // Without a `ce_type`, the name is the type.
    let shipped = &doc["components"]["messages"]["OrderShippedEvent"];
    assert_eq!(shipped["name"], "OrderShippedEvent");
    assert_eq!(
        shipped["headers"]["properties"]["ce-type"]["const"],
        "OrderShippedEvent"
    );
    // The subscription receives the published message, on the same channel.
    let receives = receive_operations(&doc);
    let received: Vec<(&str, &str, &serde_json::Value)> = receives
        .iter()
        .map(|(key, address, message)| (key.as_str(), address.as_str(), &message["name"]))
        .collect();
    assert_eq!(
        received,
        [
            (
                "receiveOrderCreatedEvent",
                "shop.order.OrderCreatedEvent",
                &serde_json::json!("com.example.ordering.OrderCreated")
            ),
            (
                "receiveOrderShippedEvent",
                "shop.order.OrderShippedEvent",
                &serde_json::json!("OrderShippedEvent")
            ),
        ]
    );

    let md = &output.events_md;
    assert!(
        md.contains(
            "| [OrderCreatedEvent](#ordercreatedevent) (`ce-type` `com.example.ordering.OrderCreated`) | `shop.order.OrderCreatedEvent` |"
        ),
        "{md}"
    );
    assert!(
        md.contains(
            "- subject: `shop.order.OrderCreatedEvent` (`ce-type` `com.example.ordering.OrderCreated`, `ce-source` `shop`)"
        ),
        "{md}"
    );
    assert!(
        md.contains("| `OrderCreatedEvent` (`ce-type` `com.example.ordering.OrderCreated`) |"),
        "{md}"
    );
    assert!(
        md.contains(
            "IntegrationMessage (ce-type com.example.ordering.OrderCreated, ce-source shop)"
        ),
        "{md}"
    );
}
