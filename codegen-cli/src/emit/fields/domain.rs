//! Fields taken from the domain value: converted through `IntoProto`, range-checked, a prost
//! message cloned, or a domain enum matched onto proto enum numbers.

use proc_macro2::{Literal as TokenLiteral, TokenStream};
use quote::quote;

use super::{
    Roots, converted, items, outer_span, path, prost_type, raw_ident, reference, spanned, wrap,
};
use crate::model::{Conversion, Field, Shape};

/// The domain value at `path`, through the function `with` when there is one, converted as
/// `conversion` says.
pub(super) fn domain_value(
    field: &Field,
    root: &TokenStream,
    roots: &Roots<'_>,
    path: &[String],
    with: Option<&str>,
    conversion: &Conversion,
) -> TokenStream {
    let access = reference(root, path);
    // A payload field gets the span of the user's field (derive), so that rustc's type
    // errors point there rather than into generated code.
    let span = outer_span(roots, path);
    // A reference to the value, or to what `with` returns for it.
    let expr = match with {
        Some(function) => {
            let function = self::path(function);
            quote! { &#function(#access) }
        }
        None => access,
    };
    let value = match conversion {
        Conversion::Into => converted(field, expr),
        Conversion::Checked => checked(field, expr),
        Conversion::Identity { message, map } => cloned_message(field, expr, message, *map),
        Conversion::Enum {
            rust_type, arms, ..
        } => enum_number(field, expr, rust_type, arms),
    };
    spanned(value, span)
}

/// Through `TryFrom`, range-checked at run time (element by element when repeated).
fn checked(field: &Field, expr: TokenStream) -> TokenStream {
    let proto_name = &field.proto_name;
    match field.shape {
        Shape::Repeated => {
            let elements = items(expr);
            quote! {
                ::eventmap::convert::map_each(#elements, #proto_name, |value| {
                    ::eventmap::convert::checked(value, "")
                })?
            }
        }
        Shape::Optional => match &prost_type(field) {
            Some(ty) => quote! {
                ::eventmap::convert::checked_optional::<_, #ty>(#expr, #proto_name)?
            },
            None => quote! {
                ::eventmap::convert::checked_optional(#expr, #proto_name)?
            },
        },
        // The prost type named, so that rustc reports a value `checked` cannot take against
        // the field's type (not against an `Option` it inferred from an `Option` value).
        _ => wrap(
            field.shape,
            match &prost_type(field) {
                Some(ty) => quote! { ::eventmap::convert::checked::<_, #ty>(#expr, #proto_name)? },
                None => quote! { ::eventmap::convert::checked(#expr, #proto_name)? },
            },
        ),
    }
}

/// The prost `message` that a `with:` function returns (or an `Option`, a collection or a
/// `map` of it), cloned, never converted.
fn cloned_message(field: &Field, expr: TokenStream, message: &str, map: bool) -> TokenStream {
    let proto_name = &field.proto_name;
    let message = self::path(message);
    if map {
        quote! { ::eventmap::convert::message_map(#expr, #proto_name)? }
    } else {
        match field.shape {
            Shape::Repeated => {
                quote! { ::eventmap::convert::messages::<_, #message>(#expr) }
            }
            Shape::Message => quote! {
                ::eventmap::convert::present::<#message, _>(#expr).cloned()
            },
            Shape::BoxedMessage => quote! {
                ::eventmap::convert::present::<#message, _>(#expr)
                    .cloned()
                    .map(::std::boxed::Box::new)
            },
            Shape::Boxed => quote! {
                ::std::boxed::Box::new(<#message as ::core::clone::Clone>::clone(#expr))
            },
            Shape::Singular | Shape::Optional => {
                quote! { <#message as ::core::clone::Clone>::clone(#expr) }
            }
        }
    }
}

/// The domain enum of type `rust_type` matched variant by variant onto proto enum numbers
/// (`arms`: domain variant, proto value name, number).
fn enum_number(
    field: &Field,
    expr: TokenStream,
    rust_type: &str,
    arms: &[(String, String, i32)],
) -> TokenStream {
    let ty = self::path(rust_type);
    let arms: Vec<TokenStream> = arms
        .iter()
        .map(|(variant, _, number)| {
            let variant = raw_ident(variant);
            let number = TokenLiteral::i32_suffixed(*number);
            quote! { #ty::#variant { .. } => #number }
        })
        .collect();
    // `enum_number!` is a `match` whose missing variants rustc reports
    // without suggesting an arm for generated code.
    let number = quote!(::eventmap::convert::enum_number!);
    match field.shape {
        Shape::Repeated => {
            let elements = items(expr);
            quote! {
                ::core::iter::IntoIterator::into_iter(#elements)
                    .map(|value| #number(value, #(#arms,)*))
                    .collect()
            }
        }
        // A domain `Enum` or `Option<Enum>`, either way.
        Shape::Optional => quote! {
            ::eventmap::convert::present::<#ty, _>(#expr)
                .map(|value| #number(value, #(#arms,)*))
        },
        _ => quote! { #number(#expr, #(#arms,)*) },
    }
}
