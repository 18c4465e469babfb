//! One emitter, two front doors: for every event of the ordering example, what
//! `#[derive(IntegrationEvent)]` emits for the struct and what `eventmap generate` wrote for it
//! (the committed module) are the same converters and `TryFrom` impls, compared as formatted
//! code (the derive names the struct, the module names its full path).

use std::path::Path;

use quote::ToTokens;

/// The items of `file` that belong to the domain event `event`: its converter functions
/// (documented as converting it) and the `TryFrom` impls that name it.
fn items_of(file: &syn::File, event: &str, path: &str) -> Vec<String> {
    let needle = format!("Converts the domain event `{event}`");
    let mut out = Vec::new();
    for item in &file.items {
        let keep = match item {
            syn::Item::Fn(f) => f
                .attrs
                .iter()
                .any(|a| a.to_token_stream().to_string().contains(&needle)),
            syn::Item::Impl(i) => {
                let text = i.to_token_stream().to_string().replace(' ', "");
                text.contains("TryFrom") && text.contains(&format!("AggregateEvent<{path}>"))
            }
            syn::Item::Const(c) => {
                // The derive wraps its items in `const _: () = { .. };`.
                if let syn::Expr::Block(block) = &*c.expr {
                    let inner = syn::File {
                        shebang: None,
                        attrs: Vec::new(),
                        items: block
                            .block
                            .stmts
                            .iter()
                            .filter_map(|s| match s {
                                syn::Stmt::Item(item) => Some(item.clone()),
                                _ => None,
                            })
                            .collect(),
                    };
                    out.extend(items_of(&inner, event, path));
                }
                false
            }
            _ => false,
        };
        if keep {
            out.push(format_item(item));
        }
    }
    out
}

fn format_item(item: &syn::Item) -> String {
    prettyplease::unparse(&syn::File {
        shebang: None,
        attrs: Vec::new(),
        items: vec![item.clone()],
    })
}

#[test]
fn derive_and_cli_emit_the_same_converters_for_every_example_event() {
    let module =
        std::fs::read_to_string("../examples/ordering/src/generated/integration_events.rs")
            .expect("module");
    let module: syn::File = syn::parse_file(&module).expect("module parses");
    let events =
        std::fs::read_to_string("../examples/ordering/src/domain/events.rs").expect("events");
    let events: syn::File = syn::parse_file(&events).expect("events parse");
    let manifest_dir = Path::new("../examples/ordering");
    let mut compared = 0;
    for name in [
        "OrderCreated",
        "OrderReadied",
        "OrderCanceled",
        "OrderCompleted",
    ] {
        let strukt = events
            .items
            .iter()
            .find_map(|i| match i {
                syn::Item::Struct(s) if s.ident == name => Some(s.clone()),
                _ => None,
            })
            .expect("struct in the example");
        // What the example's `cfg_attr(feature = "derive", ..)` gives the derive.
        let mut input: syn::DeriveInput =
            syn::parse2(strukt.to_token_stream()).expect("derive input");
        input.attrs.retain(|a| !a.path().is_ident("cfg_attr"));
        input
            .attrs
            .push(syn::parse_quote!(#[integration(mappings = "../../mappings.yaml")]));
        let derived = eventmap_codegen::__private::integration_event(&input, manifest_dir);
        let derived: syn::File = syn::parse2(derived).expect("derive output parses");

        let from_derive = items_of(&derived, name, name);
        let full_path = format!("crate::domain::events::{name}");
        // Name the struct as the derive does, then format the same way.
        let spaced = full_path.replace("::", " :: ");
        let from_cli: Vec<String> = items_of(&module, name, &full_path)
            .into_iter()
            .map(|text| {
                let item: syn::Item = syn::parse_str(&text).expect("item parses");
                let renamed = item.to_token_stream().to_string().replace(&spaced, name);
                format_item(&syn::parse_str(&renamed).expect("renamed item parses"))
            })
            .collect();
        assert!(
            !from_cli.is_empty(),
            "no items for {name} in the generated module"
        );
        assert_eq!(from_derive, from_cli, "derive and CLI differ for {name}");
        compared += from_cli.len();
    }
    // Four converters and four `TryFrom` impls.
    assert_eq!(compared, 8);
}
