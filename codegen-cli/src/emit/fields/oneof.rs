//! Oneofs set from a domain enum, variant by variant.

use proc_macro2::TokenStream;
use quote::quote;

use super::{Roots, field_value, fields_use_payload, inside, located, path, raw_ident, reference};
use crate::model::{Field, OneofArm, Value};

/// A `match` on the domain enum (`rust_type`) at `path` that sets prost's oneof enum
/// (`enum_path`) from each variant, one of `arms` each.
pub(super) fn oneof_value(
    field: &Field,
    root: &TokenStream,
    roots: &Roots<'_>,
    path: &[String],
    rust_type: &str,
    enum_path: &str,
    arms: &[OneofArm],
) -> TokenStream {
    let access = reference(root, path);
    let ty = self::path(rust_type);
    let oneof = self::path(enum_path);
    let inner = inside(roots, path);
    let arms = arms.iter().map(|arm| oneof_arm(arm, &ty, &oneof, &inner));
    // Without a wildcard arm, so that a variant missing from `variants:` does not
    // compile: E0004 on the scrutinee, a short line of its own (`match variant {`) that
    // ends with the table location of the `enum:`.
    let scrutinee = located(field, roots, quote! { variant });
    quote! {
        {
            let variant = ::eventmap::convert::present::<#ty, _>(#access);
            match #scrutinee {
                ::core::option::Option::None => ::core::option::Option::None,
                #(#arms,)*
            }
        }
    }
}

/// The arm of one variant of the domain enum `ty`: the oneof unset, or set to the member the
/// variant fills (a variant of `oneof`).
fn oneof_arm(arm: &OneofArm, ty: &syn::Path, oneof: &syn::Path, inner: &Roots<'_>) -> TokenStream {
    let variant = raw_ident(&arm.variant);
    match arm.member.as_deref() {
        None => quote! {
            ::core::option::Option::Some(#ty::#variant { .. }) => ::core::option::Option::None
        },
        Some(member) => {
            let value = member_value(member, inner);
            let member_variant =
                raw_ident(member.oneof.as_ref().map_or("", |m| m.variant.as_str()));
            let pattern = if fields_use_payload([member]) {
                quote! { #ty::#variant(item) }
            } else {
                quote! { #ty::#variant { .. } }
            };
            quote! {
                ::core::option::Option::Some(#pattern) =>
                    ::core::option::Option::Some(#oneof::#member_variant(#value))
            }
        }
    }
}

/// The value of the oneof member a variant fills, rooted at the variant's content (`item`).
fn member_value(member: &Field, inner: &Roots<'_>) -> TokenStream {
    let item = quote!(item);
    if member.value == Value::Default && member.prost_type.as_deref() == Some("()") {
        // `google.protobuf.Empty`, which prost-build maps to `()`.
        quote! { () }
    } else if member.value == Value::Default {
        quote! { ::core::default::Default::default() }
    } else {
        located(member, inner, field_value(member, &item, inner))
    }
}
