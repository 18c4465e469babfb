//! Message fields built from a domain value: a nested message field by field, or through a
//! named message mapping's function; once, per element or per map value.

use proc_macro2::TokenStream;
use quote::quote;

use super::{
    Roots, fields_use_payload, inside, items, mapping_fn, message_literal, outer_span, path,
    reference, spanned, wrap,
};
use crate::model::{Field, MessageType, Shape};

/// The nested `message`, its `fields` rooted at the domain value at `path` (each element,
/// each value of a `map`).
pub(super) fn nested_value(
    field: &Field,
    root: &TokenStream,
    roots: &Roots<'_>,
    path: &[String],
    message: &MessageType,
    fields: &[Field],
    map: bool,
) -> TokenStream {
    let proto_name = &field.proto_name;
    let access = reference(root, path);
    let item = quote!(item);
    let nested = inside(roots, path);
    let body = message_literal(message, fields, &item, &nested);
    let binding = if fields_use_payload(fields) {
        quote!(item)
    } else {
        quote!(_item)
    };
    let build = quote! { |#binding| { ::core::result::Result::Ok(#body) } };
    if map {
        let entries = items(access);
        return quote! { ::eventmap::convert::map_values(#entries, #proto_name, #build)? };
    }
    match field.shape {
        Shape::Repeated => {
            let elements = items(access);
            quote! { ::eventmap::convert::map_each(#elements, #proto_name, #build)? }
        }
        // A message that must be present (proto2 `required`, a oneof member): from a domain
        // `T`, or an `Option<T>` whose `None` is an error at run time, as for `mapping:`.
        Shape::Boxed | Shape::Singular => wrap(
            field.shape,
            quote! {
                ::eventmap::convert::map_maybe_required(
                    ::eventmap::convert::Maybe::new(#access).present(),
                    #proto_name,
                    #build,
                )?
            },
        ),
        // An optional message (prost `Option<M>`): built from a domain `T`, or from an
        // `Option<T>` whose `None` leaves it absent (`Maybe` tells them apart).
        Shape::Message | Shape::Optional => maybe(access, proto_name, build),
        Shape::BoxedMessage => {
            let value = maybe(access, proto_name, build);
            quote! { #value.map(::std::boxed::Box::new) }
        }
    }
}

/// The function of the named message mapping `mapping` (from `domain_type`), called with the
/// domain value at `path` (each element, each value of a `map`).
pub(super) fn mapped_value(
    field: &Field,
    root: &TokenStream,
    roots: &Roots<'_>,
    path: &[String],
    mapping: &str,
    domain_type: &str,
    map: bool,
) -> TokenStream {
    let proto_name = &field.proto_name;
    let access = reference(root, path);
    let function = mapping_fn(mapping);
    let ty = self::path(domain_type);
    let value = if map {
        let entries = items(access);
        quote! { ::eventmap::convert::map_values(#entries, #proto_name, #function)? }
    } else {
        match field.shape {
            Shape::Repeated => {
                let elements = items(access);
                quote! { ::eventmap::convert::map_each(#elements, #proto_name, #function)? }
            }
            // `T`, `Box<T>`, `Option<T>` or `Option<Box<T>>`: absent stays absent.
            Shape::Message | Shape::Optional => quote! {
                ::eventmap::convert::map_present::<#ty, _, _>(#access, #proto_name, #function)?
            },
            Shape::BoxedMessage => quote! {
                ::eventmap::convert::map_present::<#ty, _, _>(#access, #proto_name, #function)?
                    .map(::std::boxed::Box::new)
            },
            Shape::Singular | Shape::Boxed => wrap(
                field.shape,
                quote! {
                    ::eventmap::convert::map_required::<#ty, _, _>(#access, #proto_name, #function)?
                },
            ),
        }
    };
    spanned(value, outer_span(roots, path))
}

/// `build` run on the domain value `access` when it is present: a plain value always, an
/// `Option` when `Some` (`eventmap::convert::Maybe`); `Option<M>`.
fn maybe(access: TokenStream, proto_name: &str, build: TokenStream) -> TokenStream {
    quote! {
        ::eventmap::convert::map_maybe(
            ::eventmap::convert::Maybe::new(#access).present(),
            #proto_name,
            #build,
        )?
    }
}
