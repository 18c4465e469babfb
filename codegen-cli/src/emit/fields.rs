//! The expressions that fill a proto message from a domain value, field by field: domain
//! paths, conversions, envelope values, constants, nested messages, named message mappings,
//! and oneofs set from domain enums.

use proc_macro2::TokenStream;
use quote::quote;

use super::{Roots, path, raw_ident, respan};
use crate::model::{Conversion, Field, MessageType, Shape, Value};

mod constants;
mod domain;
mod envelope;
mod messages;
mod oneof;

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

/// The expression for one field, by where its value comes from.
fn field_value(field: &Field, root: &TokenStream, roots: &Roots<'_>) -> TokenStream {
    match &field.value {
        Value::Default => quote! { ::core::default::Default::default() },
        Value::Domain {
            path,
            with,
            conversion,
        } => domain::domain_value(field, root, roots, path, with.as_deref(), conversion),
        Value::Envelope(envelope) => envelope::envelope_value(field, roots, envelope),
        Value::Const(literal) => constants::const_value(field, literal),
        Value::Nested {
            path,
            message,
            fields,
            map,
        } => messages::nested_value(field, root, roots, path, message, fields, *map),
        Value::Mapped {
            path,
            mapping,
            domain_type,
            map,
        } => messages::mapped_value(field, root, roots, path, mapping, domain_type, *map),
        Value::Oneof {
            path,
            rust_type,
            enum_path,
            arms,
            ..
        } => oneof::oneof_value(field, root, roots, path, rust_type, enum_path, arms),
    }
}

/// The field's prost type, when it is known and parses.
fn prost_type(field: &Field) -> Option<syn::Type> {
    field
        .prost_type
        .as_deref()
        .and_then(|t| syn::parse_str::<syn::Type>(t).ok())
}

/// `expr` converted through `IntoProto` into the field's prost type, wrapped as prost
/// represents the field. A message field with a known prost type (`Timestamp`, `Duration`:
/// `Option<M>`) is converted into that `Option` as a whole, not wrapped, so that a domain
/// `Option<SystemTime>` converts as well as a `SystemTime`.
fn converted(field: &Field, expr: TokenStream) -> TokenStream {
    let proto_name = &field.proto_name;
    match prost_type(field) {
        Some(ty) if field.shape == Shape::Message => {
            quote! { ::eventmap::convert::field::<_, #ty>(#expr, #proto_name)? }
        }
        // A `Timestamp`/`Duration` that must be present: from a value or an `Option` of one,
        // `None` an error at run time.
        Some(ty)
            if field.shape == Shape::Singular
                && field
                    .prost_type
                    .as_deref()
                    .is_some_and(|t| t.starts_with("::prost_types::")) =>
        {
            quote! { ::eventmap::convert::required::<_, #ty>(#expr, #proto_name)? }
        }
        Some(ty) => wrap(
            field.shape,
            quote! { ::eventmap::convert::field::<_, #ty>(#expr, #proto_name)? },
        ),
        None => wrap(
            field.shape,
            quote! { ::eventmap::convert::field(#expr, #proto_name)? },
        ),
    }
}

/// The elements (entries) of the domain collection `access`, a collection or an `Option` of
/// one (`None`: none), as `eventmap::convert::Collection` tells them apart.
pub(super) fn items(access: TokenStream) -> TokenStream {
    quote! { ::eventmap::convert::Collection::new(#access).items() }
}

/// `value` with every span set to `span`, when there is one (derive).
fn spanned(value: TokenStream, span: Option<proc_macro2::Span>) -> TokenStream {
    match span {
        Some(span) => respan(value, span),
        None => value,
    }
}

/// The roots of the values built inside the domain value at `path` (a nested message's
/// fields, a oneof's members): the spans of the payload's fields no longer apply, the span of
/// the payload field they are built from does.
fn inside<'a>(roots: &Roots<'a>, path: &[String]) -> Roots<'a> {
    Roots {
        spans: None,
        outer: outer_span(roots, path),
        ..*roots
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
