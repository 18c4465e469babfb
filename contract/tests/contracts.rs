//! The contract of real `.proto` files compiled with protox, proto2 and proto3: what the
//! canonical form holds, what changes the fingerprint, and which changes a consumer survives.

use eventmap_contract::{Break, Dataschema, Label, Problem, Schema, compatibility};
use prost_reflect::DescriptorPool;

/// Compiles `files` (name, text) with protox and returns the schema of `message`.
fn schema(files: &[(&str, &str)], message: &str) -> Schema {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let mut compiler = protox::Compiler::new([dir.path()]).unwrap();
    compiler.include_imports(true);
    for (name, _) in files {
        compiler.open_file(name).unwrap();
    }
    let pool: DescriptorPool = compiler.descriptor_pool();
    let descriptor = pool.get_message_by_name(message).unwrap();
    Schema::from_message(&descriptor)
}

const SHARED: &str = r#"
syntax = "proto3";
package shared.v1;
message Money { int64 cents = 1; string currency = 2; }
"#;

/// proto3: nested and repeated messages, a map of messages, an enum, a oneof, an optional
/// scalar, a well-known type and a type shared from another file; keyword-like names.
const ORDER_V1: &str = r#"
syntax = "proto3";
package ordering.v1;
import "google/protobuf/timestamp.proto";
import "shared/v1/money.proto";
message OrderPlaced {
  message Line { string sku = 1; uint32 quantity = 2; shared.v1.Money price = 3; }
  enum Status { STATUS_UNSPECIFIED = 0; STATUS_OPEN = 1; }
  string id = 1;
  repeated Line lines = 2;
  map<string, Line> by_sku = 3;
  Status status = 4;
  oneof payer { string customer = 5; string company = 6; }
  optional string note = 7;
  google.protobuf.Timestamp at = 8;
  shared.v1.Money total = 9;
  bool type = 10;
}
"#;

fn order(text: &str) -> Schema {
    schema(
        &[
            ("shared/v1/money.proto", SHARED),
            ("ordering/v1/order.proto", text),
        ],
        "ordering.v1.OrderPlaced",
    )
}

#[test]
fn the_canonical_form_of_a_proto3_message_holds_every_reachable_type() {
    let schema = order(ORDER_V1);
    let form = schema.canonical_form();
    let expected = "\
eventmap-contract 1
root ordering.v1.OrderPlaced
message ordering.v1.OrderPlaced
  field 1 id implicit string
  field 2 lines repeated message ordering.v1.OrderPlaced.Line
  field 3 by_sku repeated message ordering.v1.OrderPlaced.BySkuEntry
  field 4 status implicit enum ordering.v1.OrderPlaced.Status
  field 5 customer optional string oneof payer
  field 6 company optional string oneof payer
  field 7 note optional string
  field 8 at optional message google.protobuf.Timestamp
  field 9 total optional message shared.v1.Money
  field 10 type implicit bool
message google.protobuf.Timestamp
  field 1 seconds implicit int64
  field 2 nanos implicit int32
message ordering.v1.OrderPlaced.BySkuEntry map_entry
  field 1 key implicit string
  field 2 value optional message ordering.v1.OrderPlaced.Line
message ordering.v1.OrderPlaced.Line
  field 1 sku implicit string
  field 2 quantity implicit uint32
  field 3 price optional message shared.v1.Money
message shared.v1.Money
  field 1 cents implicit int64
  field 2 currency implicit string
enum ordering.v1.OrderPlaced.Status open
  value 0 STATUS_UNSPECIFIED
  value 1 STATUS_OPEN
";
    assert_eq!(form, expected);
    // What travels decodes to the same contract.
    let decoded = Schema::from_bytes(&schema.to_bytes()).unwrap();
    assert_eq!(decoded.fingerprint(), schema.fingerprint());
    let dataschema = Dataschema::of(&schema).to_string();
    assert_eq!(
        dataschema,
        format!("eventmap:ordering.v1.OrderPlaced#{}", schema.fingerprint())
    );
    assert_eq!(
        dataschema.len(),
        "eventmap:ordering.v1.OrderPlaced#".len() + 32
    );
}

#[test]
fn comments_and_declaration_order_do_not_change_the_fingerprint_names_do() {
    let base = order(ORDER_V1).fingerprint();
    let reordered = ORDER_V1
        .replace("string id = 1;", "// the order id\n  string id = 1;")
        .replace("  bool type = 10;\n", "")
        .replace("string id = 1;", "bool type = 10;\n  string id = 1;");
    assert_eq!(order(&reordered).fingerprint(), base);
    let renamed = ORDER_V1.replace("string sku = 1;", "string sku_code = 1;");
    assert_ne!(order(&renamed).fingerprint(), base);
    let shared_changed = schema(
        &[
            (
                "shared/v1/money.proto",
                &SHARED.replace("int64 cents", "sint64 cents"),
            ),
            ("ordering/v1/order.proto", ORDER_V1),
        ],
        "ordering.v1.OrderPlaced",
    );
    assert_ne!(
        shared_changed.fingerprint(),
        base,
        "a shared type is in the contract"
    );
}

/// The breaks of a consumer compiled with `ORDER_V1` reading what a producer built from
/// `changed` writes.
fn breaks_reading(changed: &str) -> Vec<Break> {
    compatibility(&order(ORDER_V1), &order(changed))
}

#[test]
fn compatible_changes_pass() {
    for (what, changed) in [
        ("same", ORDER_V1.to_owned()),
        (
            "field added",
            ORDER_V1.replace("bool type = 10;", "bool type = 10; string added = 11;"),
        ),
        (
            "nested field added",
            ORDER_V1.replace(
                "shared.v1.Money price = 3;",
                "shared.v1.Money price = 3; string extra = 4;",
            ),
        ),
        (
            "field renamed",
            ORDER_V1.replace("string id = 1;", "string order_id = 1;"),
        ),
        (
            "enum value removed",
            ORDER_V1.replace(" STATUS_OPEN = 1;", ""),
        ),
        (
            "optional to implicit",
            ORDER_V1.replace("optional string note", "string note"),
        ),
        ("nested type renamed", ORDER_V1.replace("Line", "OrderLine")),
    ] {
        let breaks = breaks_reading(&changed);
        assert!(breaks.is_empty(), "{what}: {breaks:#?}");
    }
}

#[test]
fn incompatible_changes_name_the_field() {
    let case = |changed: String| {
        let breaks = breaks_reading(&changed);
        assert_eq!(breaks.len(), 1, "{breaks:#?}");
        breaks.into_iter().next().unwrap()
    };
    let b = case(ORDER_V1.replace("bool type = 10;", ""));
    assert_eq!(
        (b.message.as_str(), b.field.as_str(), b.number),
        ("ordering.v1.OrderPlaced", "type", 10)
    );
    assert_eq!(b.problem, Problem::NotWritten);

    let shared_retyped = schema(
        &[
            (
                "shared/v1/money.proto",
                &SHARED.replace("int64 cents", "string cents"),
            ),
            ("ordering/v1/order.proto", ORDER_V1),
        ],
        "ordering.v1.OrderPlaced",
    );
    let breaks = compatibility(&order(ORDER_V1), &shared_retyped);
    assert_eq!(
        breaks.len(),
        1,
        "Money is reached twice, reported once: {breaks:#?}"
    );
    let b = breaks.into_iter().next().unwrap();
    assert_eq!(
        (b.message.as_str(), b.field.as_str()),
        ("shared.v1.Money", "cents")
    );
    assert_eq!(
        b.problem,
        Problem::TypeChanged {
            consumer: "int64".into(),
            producer: "string".into()
        }
    );
    assert_eq!(
        b.to_string(),
        "field `cents` (number 1) of `shared.v1.Money`: the consumer reads `int64`, the producer writes `string`"
    );

    let b = case(ORDER_V1.replace("repeated Line lines = 2;", "Line lines = 2;"));
    assert_eq!(b.field, "lines");
    assert_eq!(
        b.problem,
        Problem::LabelChanged {
            consumer: Label::Repeated,
            producer: Label::Optional
        }
    );

    let b = case(ORDER_V1.replace("STATUS_OPEN = 1;", "STATUS_OPEN = 1; STATUS_CLOSED = 2;"));
    assert_eq!(b.field, "status");
    assert_eq!(
        b.problem,
        Problem::UnknownEnumValue {
            enumeration: "ordering.v1.OrderPlaced.Status".into(),
            name: "STATUS_CLOSED".into(),
            number: 2
        }
    );

    let b = case(ORDER_V1.replace("map<string, Line> by_sku = 3;", "repeated Line by_sku = 3;"));
    assert_eq!(b.field, "by_sku");
    assert!(matches!(b.problem, Problem::TypeChanged { .. }), "{b:?}");

    let b = case(ORDER_V1.replace("map<string, Line> by_sku", "map<int32, Line> by_sku"));
    assert_eq!(
        (b.message.as_str(), b.field.as_str()),
        ("ordering.v1.OrderPlaced.BySkuEntry", "key")
    );
}

const PAYMENT_V1: &str = r#"
syntax = "proto2";
package payments.v1;
message PaymentTaken {
  enum Method { CARD = 1; TRANSFER = 2; }
  required string payment_id = 1;
  optional int64 amount = 2 [default = 0];
  repeated string tags = 3;
  optional Method method = 4;
  optional PaymentTaken previous = 5;
  optional group Detail = 6 { optional string text = 7; }
}
"#;

fn payment(text: &str) -> Schema {
    schema(
        &[("payments/v1/payment.proto", text)],
        "payments.v1.PaymentTaken",
    )
}

#[test]
fn proto2_required_closed_enums_recursion_and_groups() {
    let schema = payment(PAYMENT_V1);
    let form = schema.canonical_form();
    for line in [
        "  field 1 payment_id required string\n",
        "  field 2 amount optional int64\n",
        "  field 5 previous optional message payments.v1.PaymentTaken\n",
        "  field 6 detail optional group payments.v1.PaymentTaken.Detail\n",
        "enum payments.v1.PaymentTaken.Method closed\n",
    ] {
        assert!(form.contains(line), "{line:?} in\n{form}");
    }
    assert!(compatibility(&schema, &schema).is_empty());
    // The consumer requires payment_id: a producer that makes it optional breaks it.
    let optional =
        payment(&PAYMENT_V1.replace("required string payment_id", "optional string payment_id"));
    let breaks = compatibility(&schema, &optional);
    assert_eq!(breaks.len(), 1, "{breaks:#?}");
    assert_eq!(
        breaks[0].problem,
        Problem::LabelChanged {
            consumer: Label::Required,
            producer: Label::Optional
        }
    );
    // The other way round is fine: the producer always writes what the consumer may read.
    assert!(compatibility(&optional, &schema).is_empty());
    // A change inside the recursive message is reported once.
    let retyped = payment(&PAYMENT_V1.replace("optional int64 amount", "optional int32 amount"));
    let breaks = compatibility(&schema, &retyped);
    assert_eq!(breaks.len(), 1, "{breaks:#?}");
    assert_eq!(breaks[0].field, "amount");
}
