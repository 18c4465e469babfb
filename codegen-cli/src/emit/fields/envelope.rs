//! Fields taken from the event envelope: the event's id, name, aggregate and time.

use proc_macro2::TokenStream;
use quote::quote;

use super::{Roots, converted, prost_type};
use crate::model::{Envelope, Field, Shape};

/// A reference to the `envelope` value, converted into the field; the aggregate version (a
/// `u64`) into any other integer type, range-checked.
pub(super) fn envelope_value(field: &Field, roots: &Roots<'_>, envelope: &Envelope) -> TokenStream {
    let proto_name = &field.proto_name;
    let expr = envelope_expr(envelope, roots);
    let expr = quote! { &#expr };
    // The version is a `u64`: into any other integer type, range-checked.
    let narrowed = *envelope == Envelope::AggregateVersion
        && !matches!(
            field.prost_type.as_deref(),
            Some("u64" | "::core::option::Option<u64>")
        );
    match (narrowed, field.shape, &prost_type(field)) {
        (true, Shape::Optional, Some(ty)) => quote! {
            ::eventmap::convert::checked_optional::<_, #ty>(#expr, #proto_name)?
        },
        (true, _, Some(ty)) => quote! {
            ::eventmap::convert::checked::<_, #ty>(#expr, #proto_name)?
        },
        _ => converted(field, expr),
    }
}

/// The `envelope` value of the event being converted (`event`).
fn envelope_expr(envelope: &Envelope, roots: &Roots<'_>) -> TokenStream {
    match envelope {
        Envelope::EventId => quote! { event.id() },
        Envelope::IntegrationEventId => {
            let name = roots.name;
            quote! { ::eventmap::integration_event_id(event.id(), #name) }
        }
        Envelope::EventName => quote! { event.name() },
        Envelope::AggregateId => quote! { event.aggregate_id() },
        Envelope::AggregateName => quote! { event.aggregate_name() },
        Envelope::AggregateVersion => quote! { event.aggregate_version() },
        Envelope::OccurredAt => quote! { event.occurred_at() },
    }
}
