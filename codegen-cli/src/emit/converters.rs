//! Converters: for each integration event of a domain event, the function that builds its proto
//! message, and the `TryFrom` impl when the pair is mapped once; the named mappings they call.

use std::collections::HashMap;

use proc_macro2::{Span, TokenStream};
use quote::quote;

use super::fields::{
    fields_use_envelope, fields_use_payload, mapping_fn, matches_enums, message_literal,
    used_mappings,
};
use super::locations::Locations;
use super::{Roots, ident, path};
use crate::model::{DomainEvent, Field, IntegrationEvent, Model};
use crate::rust_names;

/// The Rust side of a domain event type, as the emitted items name it.
#[derive(Clone)]
pub struct DomainTarget {
    /// The type without its generics: a path from the table (`crate::domain::OrderCreated`)
    /// or, in a derive, the struct's name.
    pub ty: TokenStream,
    /// The type's generics (empty for the CLI and the `Builder`).
    pub generics: syn::Generics,
    /// Spans of the type's fields by name, so that a type error in a converted field lands on
    /// the user's field (derive only; empty otherwise).
    pub field_spans: HashMap<String, Span>,
}

impl DomainTarget {
    /// The type at `path` (checked by the validator), without generics or spans.
    pub fn from_path(path: &str) -> Self {
        let path = self::path(path);
        DomainTarget {
            ty: quote!(#path),
            generics: syn::Generics::default(),
            field_spans: HashMap::new(),
        }
    }

    /// `Type<'a, T>`.
    pub(super) fn with_generics(&self) -> TokenStream {
        let ty = &self.ty;
        let (_, ty_generics, _) = self.generics.split_for_impl();
        quote!(#ty #ty_generics)
    }

    /// The generics and type of the `'static` instance (`impl<T> .. for Type<'static, T>`):
    /// a domain event is `Any`, so only its `'static` instance implements `DomainEvent` and
    /// `MappedEvent`; converters stay generic over lifetimes.
    pub fn static_instance(&self) -> (TokenStream, TokenStream, TokenStream) {
        let mut generics = self.generics.clone();
        generics.params = generics
            .params
            .into_iter()
            .filter(|p| !matches!(p, syn::GenericParam::Lifetime(_)))
            .collect();
        let args = self.generics.params.iter().map(|p| match p {
            syn::GenericParam::Lifetime(_) => quote!('static),
            syn::GenericParam::Type(t) => {
                let ident = &t.ident;
                quote!(#ident)
            }
            syn::GenericParam::Const(c) => {
                let ident = &c.ident;
                quote!(#ident)
            }
        });
        let ty = &self.ty;
        let self_ty = if self.generics.params.is_empty() {
            quote!(#ty)
        } else {
            quote!(#ty < #(#args),* >)
        };
        let (impl_generics, _, where_clause) = generics.split_for_impl();
        (quote!(#impl_generics), self_ty, quote!(#where_clause))
    }
}

/// The items of one domain event: for each of its integration events, the converter function
/// and, when that pair of domain type and proto message is mapped only once, a `TryFrom` impl.
/// The same tokens for the CLI, the `Builder` and the derive (with their `target`).
pub fn event_items(model: &Model, event: &DomainEvent, target: &DomainTarget) -> TokenStream {
    event_items_located(model, event, target, None)
}

pub(super) fn event_items_located(
    model: &Model,
    event: &DomainEvent,
    target: &DomainTarget,
    located: Option<&Locations>,
) -> TokenStream {
    let items = event
        .integrations
        .iter()
        .map(|ie| converter(model, event, ie, target, located));
    quote! { #(#items)* }
}

pub(super) fn converter(
    model: &Model,
    event: &DomainEvent,
    ie: &IntegrationEvent,
    target: &DomainTarget,
    located: Option<&Locations>,
) -> TokenStream {
    let fn_name = ident(&rust_names::fn_ident(&ie.name));
    let domain = target.with_generics();
    let (impl_generics, _, where_clause) = target.generics.split_for_impl();
    let message = path(&ie.message.rust_path);
    let roots = Roots {
        name: &ie.name,
        spans: Some(&target.field_spans),
        outer: None,
        row: &event.name,
        located,
    };
    let body = message_literal(&ie.message, &ie.fields, &quote!(payload), &roots);
    let mappings = mapping_fns(model, &ie.fields, &roots);
    let uses_payload = fields_use_payload(&ie.fields);
    // Enum arms are written `Variant { .. }`, which matches unit, tuple and struct variants
    // alike (the domain enum's shape is not known here).
    let allow_struct_patterns =
        matches_enums(&ie.fields).then(|| quote! { #[allow(clippy::unneeded_struct_pattern)] });
    let payload_binding = if uses_payload {
        quote! { let payload = event.payload(); }
    } else if fields_use_envelope(&ie.fields) {
        quote! {}
    } else {
        // An empty message, or one whose fields are all constants or defaults.
        quote! { let _ = event; }
    };
    let doc = format!(
        " Converts the domain event `{}` into the integration event `{}` (proto `{}`).",
        event.name, ie.name, ie.message.full_name
    );
    let try_from = try_from_impl(model, ie, target);
    quote! {
        #[doc = #doc]
        ///
        /// # Errors
        /// A [`ConversionError`](::eventmap::convert::ConversionError) naming the proto field
        /// whose value could not be converted.
        #allow_struct_patterns
        // A deprecated proto field or message is still part of the contract it fills.
        #[allow(deprecated)]
        pub fn #fn_name #impl_generics (
            event: &::eventmap::AggregateEvent<#domain>,
        ) -> ::core::result::Result<#message, ::eventmap::convert::ConversionError> #where_clause {
            #(#mappings)*
            #payload_binding
            ::core::result::Result::Ok(#body)
        }

        #try_from
    }
}

/// `impl TryFrom<&AggregateEvent<Domain>> for Message` through the converter, when that pair of
/// domain type and proto message is mapped only once.
fn try_from_impl(
    model: &Model,
    ie: &IntegrationEvent,
    target: &DomainTarget,
) -> Option<TokenStream> {
    let fn_name = ident(&rust_names::fn_ident(&ie.name));
    let domain = target.with_generics();
    let (impl_generics, _, where_clause) = target.generics.split_for_impl();
    let message = path(&ie.message.rust_path);
    let unique_pair = model
        .events
        .iter()
        .flat_map(|e| &e.integrations)
        .filter(|o| o.domain_type == ie.domain_type && o.message.full_name == ie.message.full_name)
        .count()
        == 1;
    unique_pair.then(|| {
        let doc = format!(" Converts through [`{}`].", rust_names::fn_ident(&ie.name));
        quote! {
            #[doc = #doc]
            #[automatically_derived]
            #[allow(deprecated)]
            impl #impl_generics ::core::convert::TryFrom<&::eventmap::AggregateEvent<#domain>> for #message #where_clause {
                type Error = ::eventmap::convert::ConversionError;

                fn try_from(
                    event: &::eventmap::AggregateEvent<#domain>,
                ) -> ::core::result::Result<Self, Self::Error> {
                    #fn_name(event)
                }
            }
        }
    })
}

/// The functions of the named message mappings that `fields` use, directly or through
/// each other, declared inside the converter that calls them (so that neither two converters
/// nor two derives in one module clash).
pub(super) fn mapping_fns(model: &Model, fields: &[Field], roots: &Roots<'_>) -> Vec<TokenStream> {
    let mut used = Vec::new();
    used_mappings(fields, &mut used);
    let mut index = 0;
    while index < used.len() {
        if let Some(mapping) = model.mappings.iter().find(|m| m.name == used[index]) {
            used_mappings(&mapping.fields, &mut used);
        }
        index += 1;
    }
    model
        .mappings
        .iter()
        .filter(|m| used.contains(&m.name))
        .map(|mapping| {
            let function = mapping_fn(&mapping.name);
            let domain = path(&mapping.domain_type);
            let message = path(&mapping.message.rust_path);
            let inner = Roots {
                spans: None,
                outer: None,
                row: &mapping.name,
                ..*roots
            };
            let body = message_literal(&mapping.message, &mapping.fields, &quote!(item), &inner);
            let binding = if fields_use_payload(&mapping.fields) {
                quote!(item)
            } else {
                quote!(_item)
            };
            let allow_struct_patterns = matches_enums(&mapping.fields)
                .then(|| quote! { #[allow(clippy::unneeded_struct_pattern)] });
            let doc = format!(
                " The named mapping `{}`: `{}` into `{}`.",
                mapping.name, mapping.domain_type, mapping.message.full_name
            );
            quote! {
                #[doc = #doc]
                #allow_struct_patterns
                #[allow(deprecated)]
                fn #function(
                    #binding: &#domain,
                ) -> ::core::result::Result<#message, ::eventmap::convert::ConversionError> {
                    ::core::result::Result::Ok(#body)
                }
            }
        })
        .collect()
}
