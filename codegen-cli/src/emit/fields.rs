//! The expressions that fill a proto message from a domain value, field by field: domain
//! paths, conversions, envelope values, constants, nested messages, named message mappings,
//! and oneofs set from domain enums.

use proc_macro2::{Literal as TokenLiteral, TokenStream};
use quote::quote;

use super::{Roots, path, raw_ident, respan};
use crate::model::{Conversion, Envelope, Field, Literal, MessageType, Shape, Value};

/// The fields a field's value is built from, one level down: a nested message's fields and
/// the members of a oneof's arms (a named mapping's fields are its own function's).
fn inner_fields(field: &Field) -> Vec<&Field> {
    match &field.value {
        Value::Nested { fields, .. } => fields.iter().collect(),
        Value::Oneof { arms, .. } => arms.iter().filter_map(|a| a.member.as_deref()).collect(),
        _ => Vec::new(),
    }
}

/// Whether a field, at any depth, matches a domain enum onto proto enum numbers.
/// (A oneof set from a domain enum matches its variants the same way.)
pub(super) fn matches_enums<'f>(fields: impl IntoIterator<Item = &'f Field>) -> bool {
    fields.into_iter().any(|field| match &field.value {
        Value::Domain {
            conversion: Conversion::Enum { .. },
            ..
        }
        | Value::Oneof { .. } => true,
        _ => matches_enums(inner_fields(field)),
    })
}

/// Whether a field, at any depth, takes a value of the event envelope.
pub(super) fn fields_use_envelope<'f>(fields: impl IntoIterator<Item = &'f Field>) -> bool {
    fields.into_iter().any(|field| match &field.value {
        Value::Envelope(_) => true,
        _ => fields_use_envelope(inner_fields(field)),
    })
}

/// Whether a field reads the domain value in scope (the payload, an element, a variant's
/// content).
pub(super) fn fields_use_payload<'f>(fields: impl IntoIterator<Item = &'f Field>) -> bool {
    fields.into_iter().any(|f| {
        matches!(
            f.value,
            Value::Domain { .. }
                | Value::Nested { .. }
                | Value::Mapped { .. }
                | Value::Oneof { .. }
        )
    })
}

/// The named message mappings that `fields` use, at any depth (not through other mappings).
pub(super) fn used_mappings<'f>(
    fields: impl IntoIterator<Item = &'f Field>,
    out: &mut Vec<String>,
) {
    for field in fields {
        if let Value::Mapped { mapping, .. } = &field.value
            && !out.contains(mapping)
        {
            out.push(mapping.clone());
        }
        used_mappings(inner_fields(field), out);
    }
}

/// The identifier of the function a named message mapping becomes.
pub(super) fn mapping_fn(name: &str) -> proc_macro2::Ident {
    quote::format_ident!("__eventmap_mapping_{}", name.trim_start_matches("r#"))
}

/// `Message { field: value, ... }` where domain paths start at `root`.
pub(super) fn message_literal(
    message: &MessageType,
    fields: &[Field],
    root: &TokenStream,
    roots: &Roots<'_>,
) -> TokenStream {
    if message.rust_path == "()" {
        // `google.protobuf.Empty`, which prost-build maps to `()`.
        return quote! { () };
    }
    let rust_path = path(&message.rust_path);
    // Fields left at their default are not named: the message's own `Default` gives them
    // (with a proto2 `[default = ..]` where declared), and a deprecated one is not used.
    let inits = fields
        .iter()
        .filter(|f| f.oneof.is_none() && f.value != Value::Default)
        .map(|f| {
            let name = raw_ident(&f.rust_name);
            let value = located(f, roots, field_value(f, root, roots));
            quote! { #name: #value }
        });
    let rest = fields
        .iter()
        .any(|f| f.oneof.is_none() && f.value == Value::Default)
        .then(|| quote! { ..::core::default::Default::default() });
    let oneofs = message.oneofs.iter().map(|o| {
        let name = raw_ident(o);
        let member = fields
            .iter()
            .find_map(|f| f.oneof.as_ref().filter(|m| &m.oneof == o).map(|m| (f, m)));
        match member {
            Some((field, _)) if matches!(field.value, Value::Oneof { .. }) => {
                let value = field_value(field, root, roots);
                quote! { #name: #value }
            }
            Some((field, member)) => {
                let enum_path = path(&member.enum_path);
                let variant = raw_ident(&member.variant);
                let value = located(field, roots, field_value(field, root, roots));
                quote! { #name: ::core::option::Option::Some(#enum_path::#variant(#value)) }
            }
            None => quote! { #name: ::core::option::Option::None },
        }
    });
    quote! { #rust_path { #(#inits,)* #(#oneofs,)* #rest } }
}

/// `value` of `field`, or its sentinel when emitting text ([`Locations`]).
fn located(field: &Field, roots: &Roots<'_>, value: TokenStream) -> TokenStream {
    match roots.located {
        Some(located) => located.set_aside(field, roots, value),
        None => value,
    }
}

/// The expression for one field.
fn field_value(field: &Field, root: &TokenStream, roots: &Roots<'_>) -> TokenStream {
    let proto_name = &field.proto_name;
    let prost_ty = field
        .prost_type
        .as_deref()
        .and_then(|t| syn::parse_str::<syn::Type>(t).ok());
    let converted = |expr: TokenStream| {
        let value = match field
            .prost_type
            .as_deref()
            .and_then(|t| syn::parse_str::<syn::Type>(t).ok())
        {
            Some(ty) => quote! { ::eventmap::convert::field::<_, #ty>(#expr, #proto_name)? },
            None => quote! { ::eventmap::convert::field(#expr, #proto_name)? },
        };
        wrap(field.shape, value)
    };
    match &field.value {
        Value::Default => quote! { ::core::default::Default::default() },
        Value::Domain {
            path,
            with,
            conversion,
        } => {
            let access = reference(root, path);
            // A payload field gets the span of the user's field (derive), so that rustc's type
            // errors point there rather than into generated code.
            let span = outer_span(roots, path);
            let converted = |expr: TokenStream| match span {
                Some(span) => respan(converted(expr), span),
                None => converted(expr),
            };
            // `plain` is the value as a place or call (`payload.a`, `f(&payload.a)`), `expr` a
            // reference to it.
            let (plain, expr) = match with {
                Some(function) => {
                    let function = self::path(function);
                    let call = quote! { #function(#access) };
                    (call.clone(), quote! { &#call })
                }
                None if path.is_empty() => (access.clone(), access),
                None => (self::access(root, path), access),
            };
            let value = match conversion {
                Conversion::Into => converted(expr),
                Conversion::Checked => match field.shape {
                    Shape::Repeated => quote! {
                        ::eventmap::convert::map_each(#expr, #proto_name, |value| {
                            ::eventmap::convert::checked(value, "")
                        })?
                    },
                    Shape::Optional => match &prost_ty {
                        Some(ty) => quote! {
                            ::eventmap::convert::checked_optional::<_, #ty>(#expr, #proto_name)?
                        },
                        None => quote! {
                            ::eventmap::convert::checked_optional(#expr, #proto_name)?
                        },
                    },
                    _ => wrap(
                        field.shape,
                        quote! { ::eventmap::convert::checked(#expr, #proto_name)? },
                    ),
                },
                Conversion::Identity { message, map } => {
                    let message = self::path(message);
                    if *map {
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
                Conversion::Enum { rust_type, arms } => {
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
                        Shape::Repeated => quote! {
                            #plain.iter().map(|value| #number(value, #(#arms,)*)).collect()
                        },
                        // A domain `Enum` or `Option<Enum>`, either way.
                        Shape::Optional => quote! {
                            ::eventmap::convert::present::<#ty, _>(#expr)
                                .map(|value| #number(value, #(#arms,)*))
                        },
                        _ => quote! { #number(#expr, #(#arms,)*) },
                    }
                }
            };
            match span {
                Some(span) => respan(value, span),
                None => value,
            }
        }
        Value::Envelope(envelope) => {
            let expr = match envelope {
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
            };
            let expr = quote! { &#expr };
            // The version is a `u64`: into any other integer type, range-checked.
            let narrowed = *envelope == Envelope::AggregateVersion
                && !matches!(
                    field.prost_type.as_deref(),
                    Some("u64" | "::core::option::Option<u64>")
                );
            match (narrowed, field.shape, &prost_ty) {
                (true, Shape::Optional, Some(ty)) => quote! {
                    ::eventmap::convert::checked_optional::<_, #ty>(#expr, #proto_name)?
                },
                (true, _, Some(ty)) => quote! {
                    ::eventmap::convert::checked::<_, #ty>(#expr, #proto_name)?
                },
                _ => converted(expr),
            }
        }
        Value::Const(literal) => {
            let lit = const_tokens(literal);
            match field.shape {
                Shape::Optional => quote! { ::core::option::Option::Some(#lit) },
                _ => wrap(field.shape, lit),
            }
        }
        Value::Nested {
            path,
            message,
            fields,
            map,
        } => {
            let access = reference(root, path);
            let item = quote!(item);
            let nested = Roots {
                spans: None,
                outer: outer_span(roots, path),
                ..*roots
            };
            let body = message_literal(message, fields, &item, &nested);
            let binding = if fields_use_payload(fields) {
                quote!(item)
            } else {
                quote!(_item)
            };
            let build = quote! { |#binding| { ::core::result::Result::Ok(#body) } };
            if *map {
                return quote! { ::eventmap::convert::map_values(#access, #proto_name, #build)? };
            }
            match field.shape {
                Shape::Repeated => quote! {
                    ::eventmap::convert::map_each(#access, #proto_name, #build)?
                },
                Shape::BoxedMessage | Shape::Boxed | Shape::Singular => wrap(
                    field.shape,
                    quote! { ::eventmap::convert::map_one(#access, #proto_name, #build)? },
                ),
                Shape::Message | Shape::Optional => wrap(
                    Shape::Message,
                    quote! { ::eventmap::convert::map_one(#access, #proto_name, #build)? },
                ),
            }
        }
        Value::Mapped {
            path,
            mapping,
            domain_type,
            map,
        } => {
            let access = reference(root, path);
            let function = mapping_fn(mapping);
            let ty = self::path(domain_type);
            let value = if *map {
                quote! { ::eventmap::convert::map_values(#access, #proto_name, #function)? }
            } else {
                match field.shape {
                    Shape::Repeated => quote! {
                        ::eventmap::convert::map_each(#access, #proto_name, #function)?
                    },
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
            match outer_span(roots, path) {
                Some(span) => respan(value, span),
                None => value,
            }
        }
        Value::Oneof {
            path,
            rust_type,
            enum_path,
            arms,
            ..
        } => {
            let access = reference(root, path);
            let ty = self::path(rust_type);
            let oneof = self::path(enum_path);
            let inner = Roots {
                spans: None,
                outer: outer_span(roots, path),
                ..*roots
            };
            let arms = arms.iter().map(|arm| {
                let variant = raw_ident(&arm.variant);
                match arm.member.as_deref() {
                    None => quote! {
                        ::core::option::Option::Some(#ty::#variant { .. }) => ::core::option::Option::None
                    },
                    Some(member) => {
                        let item = quote!(item);
                        let value = if member.value == Value::Default
                            && member.prost_type.as_deref() == Some("()")
                        {
                            // `google.protobuf.Empty`, which prost-build maps to `()`.
                            quote! { () }
                        } else if member.value == Value::Default {
                            quote! { ::core::default::Default::default() }
                        } else {
                            located(member, &inner, field_value(member, &item, &inner))
                        };
                        let member_variant = raw_ident(
                            member.oneof.as_ref().map_or("", |m| m.variant.as_str()),
                        );
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
            });
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
    }
}

/// The span of the payload field a nested value is built from (derive), for the conversions
/// inside it (their paths start at the element, not the payload).
fn outer_span(roots: &Roots<'_>, path: &[String]) -> Option<proc_macro2::Span> {
    match (roots.spans, path.first()) {
        (Some(spans), Some(first)) => spans.get(first.trim_start_matches("r#")).copied(),
        _ => roots.outer,
    }
}

/// Wraps a converted value as prost represents the field: `Some(..)` for message fields,
/// `Some(Box::new(..))` for boxed (recursive) ones, as is otherwise.
fn wrap(shape: Shape, value: TokenStream) -> TokenStream {
    match shape {
        Shape::Message => quote! { ::core::option::Option::Some(#value) },
        Shape::BoxedMessage => {
            quote! { ::core::option::Option::Some(::std::boxed::Box::new(#value)) }
        }
        Shape::Boxed => quote! { ::std::boxed::Box::new(#value) },
        Shape::Singular | Shape::Optional | Shape::Repeated => value,
    }
}

/// `root.a.b.c`; `root` itself for the empty path (`from: self`, or `with`/`fields`/`mapping`
/// without `from`).
fn access(root: &TokenStream, path: &[String]) -> TokenStream {
    let segments = path.iter().map(|segment| {
        if segment.chars().all(|c| c.is_ascii_digit()) {
            let index = syn::Index::from(segment.parse::<usize>().unwrap_or(0));
            quote!(#index)
        } else {
            let id = raw_ident(segment);
            quote!(#id)
        }
    });
    quote! { #root #(.#segments)* }
}

/// A reference to the domain value at `path`: `&root.a.b`, or `root` itself for the empty
/// path (the root is always a reference: the payload, an element, a variant's content).
fn reference(root: &TokenStream, path: &[String]) -> TokenStream {
    let access = access(root, path);
    if path.is_empty() {
        access
    } else {
        quote! { &#access }
    }
}

fn const_tokens(literal: &Literal) -> TokenStream {
    match literal {
        Literal::String(s) => quote! { ::std::string::String::from(#s) },
        Literal::Bytes(s) => {
            let bytes = TokenLiteral::byte_string(s.as_bytes());
            quote! { ::std::vec::Vec::from(&#bytes[..]) }
        }
        Literal::Bool(b) => quote! { #b },
        Literal::Int { value, ty } => {
            let lit = match *ty {
                "i32" => TokenLiteral::i32_suffixed(*value as i32),
                "i64" => TokenLiteral::i64_suffixed(*value as i64),
                "u32" => TokenLiteral::u32_suffixed(*value as u32),
                _ => TokenLiteral::u64_suffixed(*value as u64),
            };
            quote! { #lit }
        }
        Literal::Float { value, ty } => {
            let lit = if *ty == "f32" {
                TokenLiteral::f32_suffixed(*value as f32)
            } else {
                TokenLiteral::f64_suffixed(*value)
            };
            quote! { #lit }
        }
        Literal::Enum { name, number } => {
            // prost stores enum fields as `i32`; the value is chosen by its proto name in the
            // table and written as its number, never through prost's Rust variant names.
            let _ = name;
            let lit = TokenLiteral::i32_suffixed(*number);
            quote! { #lit }
        }
    }
}
