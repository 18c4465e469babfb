//! Derive macros of eventmap, re-exported by the `eventmap` crate (feature `derive`, on by
//! default): `#[derive(IntegrationEvent)]`, `#[derive(DomainEvent)]` and `subscriptions!`.
//!
//! The expansion lives in eventmap-codegen (its `derive` module, reached through the
//! `#[doc(hidden)]` `__private` door), which shares the mapping model, the checks and the emitter with the `eventmap` CLI and the `Builder`: one set of rules, three
//! front doors.

use proc_macro::TokenStream;

/// Implements `eventmap::DomainEvent`, `eventmap::MappedEvent` and the conversions of a domain
/// event struct from its row in `mappings.yaml`: the same converters and `TryFrom` impls as
/// `eventmap generate` writes for it, and the registration of its integration handlers
/// (`dispatcher.register_mapped::<MyEvent>(&publisher)`).
///
/// The table is `mappings.yaml` in the crate's folder (`CARGO_MANIFEST_DIR`) unless
/// `#[integration(mappings = "path/relative/to/the/crate")]` names another; the row is the
/// struct's name unless `#[integration(event = "RowName")]` names another. The table is checked
/// against its protos as `eventmap check` does, and cargo rebuilds the crate when the table or
/// a proto changes. A mapped field the struct does not have, a struct without a row, a row
/// with errors, or a field whose type cannot convert is a compile error at the struct or field.
#[proc_macro_derive(IntegrationEvent, attributes(integration))]
pub fn derive_integration_event(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_default();
    eventmap_codegen::__private::integration_event(&input, &manifest_dir).into()
}

/// Implements `eventmap::DomainEvent` with the struct's name as the event name, or
/// `#[domain_event(name = "...")]`: for domain events that are not mapped (an
/// `#[derive(IntegrationEvent)]` already implements `DomainEvent`).
#[proc_macro_derive(DomainEvent, attributes(domain_event))]
pub fn derive_domain_event(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    eventmap_codegen::__private::domain_event(&input).into()
}

/// The consuming side of a mapping table, generated in place: `mod channels`, and for each
/// declared subscription its `subscriptions::<name>` module (durable name, events,
/// `spec()`), the enum of the events it receives, its handler trait (one method per event)
/// and router; the same items as `eventmap generate` writes for a table's `subscriptions:`.
///
/// The argument is the table's path relative to the crate's folder (`CARGO_MANIFEST_DIR`):
/// `eventmap::subscriptions!("mappings.yaml");`. The table is checked against its protos as
/// `eventmap check` does (its errors are compile errors) and cargo rebuilds the crate when
/// the table or a proto changes. The prost types come from the crate's own build, at the
/// table's `rust.proto_module` (e.g. prost-build, or `eventmap_codegen::Builder`, whose
/// module file the crate then need not include).
#[proc_macro]
pub fn subscriptions(input: TokenStream) -> TokenStream {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_default();
    eventmap_codegen::__private::subscriptions(input.into(), &manifest_dir).into()
}
