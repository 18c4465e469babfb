//! The property test: every proto field kind (each scalar, enum, message, `repeated`, proto3
//! `optional`, proto2 `required`/`optional`/`[default]`, oneof members, Timestamp, Duration,
//! wrappers, Empty, maps, deprecated) x every source form of the table (`from`, `with`,
//! `checked`, `enum`, `fields`, each `envelope` value, `const`, `default`) is checked by the
//! build script (`build/property.rs`); every combination `check` accepts, with each domain type
//! the docs allow for it, is in one generated module that this crate compiles under
//! `#![deny(warnings)]`, and is run here: converted, encoded, decoded, compared.

use eventmap_tests::property::{self, ACCEPTED, ACCEPTED_PAIRS, CASES, REJECTED};

#[test]
fn every_combination_check_accepts_compiles_and_converts_to_the_expected_value() {
    // (kind, form) pairs: 1,666 in all (119 kinds x 14 forms).
    assert_eq!(ACCEPTED_PAIRS + REJECTED.len(), 1_666);
    assert_eq!(ACCEPTED_PAIRS, 617);
    // 1,434 cases; 16 of them a domain `Option` (`Some` and `None`) into a singular message
    // field: `Option<SystemTime>`/`Option<Duration>` by `from` and `with` into a
    // `Timestamp`/`Duration`, and an `Option<Struct>` built field by field (`fields:`); 150
    // a domain `Option<Vec<T>>` (`Some` and `None`, which is an empty field) into a
    // `repeated` field by `from`, `checked`, `enum` and `fields`; 4 an `Option` of a map
    // (`None` is an empty map) by `from` and `fields`.
    assert_eq!(ACCEPTED, 1_434);
    assert_eq!(CASES.len(), ACCEPTED);
    let failures: Vec<String> = CASES
        .iter()
        .filter_map(|(what, run)| run().err().map(|e| format!("{what}: {e}")))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} combinations fail:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

#[test]
fn every_combination_check_rejects_is_reported_at_the_field() {
    assert_eq!(REJECTED.len(), 1_049);
    for (what, rule, line, expected_line) in REJECTED {
        assert_eq!(
            line, expected_line,
            "`{what}` is rejected ({rule}) at line {line}, not at its field (line {expected_line})"
        );
    }
    let count = |rule: &str| REJECTED.iter().filter(|r| r.1 == rule).count();
    // Envelope values into fields of another type, `enum:` on non-enums, `fields:` on
    // non-messages (and maps whose values are not messages), `checked` on non-integers,
    // constants on messages and lists, `fields:` on wrappers, `enum:` on maps.
    assert_eq!(count("envelope-type"), 739);
    assert_eq!(count("enum-not-enum"), 110);
    assert_eq!(count("nested-not-message"), 101);
    assert_eq!(count("invalid-field-source"), 57);
    assert_eq!(count("invalid-const"), 35);
    assert_eq!(count("well-known-type"), 5);
    assert_eq!(count("unsupported-field"), 2);
    // Rejections that must stay rejections.
    for (what, rule) in [
        ("float <- checked", "invalid-field-source"),
        ("repeated int64 <- const", "invalid-const"),
        ("int32 <- envelope occurred_at", "envelope-type"),
        ("google.protobuf.StringValue <- fields", "well-known-type"),
        ("map<string, int64> <- fields", "nested-not-message"),
        (
            "repeated uint64 <- envelope aggregate_version",
            "envelope-type",
        ),
    ] {
        assert!(
            REJECTED.iter().any(|r| r.0 == what && r.1 == rule),
            "`{what}` is not rejected with {rule}"
        );
    }
}

#[test]
fn accepted_combinations_cover_the_classes_of_the_issue() {
    let accepted = |prefix: &str| CASES.iter().filter(|c| c.0.starts_with(prefix)).count();
    for prefix in [
        "proto2 required int32 <- from",
        "proto2 required Inner <- fields",
        "proto2 optional Color <- enum",
        "optional int64 <- from from `i64`",
        "optional int64 <- from from `Option<i64>`",
        "optional string <- from from `String`",
        "optional Color <- enum from `Option<crate::property::Color>`",
        "optional Color <- enum from `crate::property::Color`",
        "int64 <- envelope aggregate_version",
        "int32 <- envelope aggregate_version",
        "optional int32 <- envelope aggregate_version",
        "google.protobuf.Empty <- fields",
        "google.protobuf.Empty <- from",
        "Inner <- with from `crate::property_proto::prop::v3::Inner`",
        "Inner <- with from `Option<crate::property_proto::prop::v3::Inner>`",
        "repeated Inner <- with",
        "map<string, Inner> <- with",
        "int64 [deprecated = true] <- from",
        "int64 [deprecated = true] <- default",
        "proto2 required int32 [default = 5] <- default",
        "google.protobuf.StringValue <- from from `Option<String>`",
    ] {
        assert!(accepted(prefix) > 0, "no accepted combination `{prefix}`");
    }
}

#[test]
fn a_proto2_default_holds_when_the_field_is_mapped_default() {
    // `required int32 value = 1 [default = 5]`, mapped `default`: prost's `Default` of the
    // message (struct update in the generated literal), so 5 is encoded, not 0.
    assert_eq!(property::required_default(), Ok(5));
}

#[test]
fn aggregate_version_into_int32_is_range_checked_naming_the_field() {
    assert_eq!(property::version_into_int32(7), Ok(7));
    assert_eq!(property::version_into_int32(i32::MAX as u64), Ok(i32::MAX));
    let err = property::version_into_int32(1 << 31).expect_err("2^31 does not fit in int32");
    assert_eq!(err.field(), "value");
    assert_eq!(err.message(), "value 2147483648 does not fit in i32");
}
