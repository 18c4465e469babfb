//! `#[derive(IntegrationEvent)]` on a struct whose row the table lacks: the error names the
//! table and says what it has.

use std::path::Path;

fn derive_error(struct_name: &str, manifest_dir: &Path) -> String {
    let input: syn::DeriveInput = syn::parse_str(&format!(
        "pub struct {struct_name} {{ pub customer_id: String }}"
    ))
    .expect("a struct");
    eventmap_codegen::__private::integration_event(&input, manifest_dir).to_string()
}

#[test]
fn a_table_without_rows_says_so() {
    // The search service's table only consumes: no `events:`.
    let search = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/search");
    let error = derive_error("Shipped", &search);
    assert!(
        error.contains(
            "`Shipped` has no row under `events:` in mappings.yaml and no row has `type:` naming it; the table has no rows under `events:`; add one named `Shipped`"
        ),
        "{error}"
    );
}

#[test]
fn a_table_with_rows_lists_them() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let error = derive_error("Shipped", &root);
    assert!(
        error.contains(
            "the rows are `OrderCreated`, `OrderReadied`, `OrderCanceled`, `OrderCompleted`"
        ),
        "{error}"
    );
}

#[test]
fn a_row_with_a_ce_type_registers_its_handler_with_it() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/cetype");
    let input: syn::DeriveInput =
        syn::parse_str("pub struct OrderCreated { pub total_cents: i64 }").expect("a struct");
    let tokens = eventmap_codegen::__private::integration_event(&input, &fixture).to_string();
    assert!(!tokens.contains("compile_error"), "{tokens}");
    assert!(
        tokens.contains(". with_ce_type (\"com.example.ordering.OrderCreated\")"),
        "{tokens}"
    );
    assert!(tokens.contains("\"OrderCreatedEvent\""), "{tokens}");
}
