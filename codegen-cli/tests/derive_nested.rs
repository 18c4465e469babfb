//! `#[derive(IntegrationEvent)]` on a struct that lacks a payload field named by a NESTED
//! entry (a field of a nested message built from the payload itself, `fields:` without
//! `from:`): the error names the table's file, line and column of that nested entry, as it
//! does for a top-level field (`tests/derive_nested/`).

use std::path::Path;

/// The derive's output for `struct Placed { <fields> }` against `tests/derive_nested/`.
fn derive(fields: &str) -> String {
    let input: syn::DeriveInput =
        syn::parse_str(&format!("pub struct Placed {{ {fields} }}")).expect("a struct");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/derive_nested");
    eventmap_codegen::__private::integration_event(&input, &fixture).to_string()
}

#[test]
fn the_struct_with_every_payload_field_derives() {
    let tokens = derive("pub total_cents: i64, pub currency: String");
    assert!(!tokens.contains("compile_error"), "{tokens}");
}

#[test]
fn a_nested_entry_naming_a_missing_field_is_located_in_the_table() {
    let tokens = derive("pub total_cent: i64, pub currency: String");
    assert!(
        tokens.contains(
            "mappings.yaml:22:13: `PlacedEvent` maps proto field `cents` of `shop.v1.Money` (in `total`) from `total_cents`, but `Placed` has no field `total_cents`; did you mean `total_cent`?"
        ),
        "{tokens}"
    );
    // The other nested field is there: one error only.
    assert_eq!(tokens.matches("compile_error").count(), 1, "{tokens}");
}
