//! The producer-side registration of the integration event handlers on the dispatcher
//! (`register_integration_event_handlers`, and `MappedEvent` for the derive): one handler per
//! row, by domain type.

use proc_macro2::TokenStream;
use quote::quote;

use super::converters::DomainTarget;
use super::{channel_spec, ident, path};
use crate::model::{DomainEvent, IntegrationEvent, Model};
use crate::rust_names;

/// The rows of one domain type: every (domain event, integration event) pair of the table
/// whose Rust type it is, in table order.
pub(crate) type Rows<'a> = Vec<(&'a DomainEvent, &'a IntegrationEvent)>;

/// The rows of `model` grouped by domain type, in order of first appearance.
pub(super) fn rows_by_type(model: &Model) -> Vec<(&str, Rows<'_>)> {
    let mut groups: Vec<(&str, Rows<'_>)> = Vec::new();
    for event in &model.events {
        for ie in &event.integrations {
            match groups.iter_mut().find(|(ty, _)| *ty == ie.domain_type) {
                Some((_, rows)) => rows.push((event, ie)),
                None => groups.push((&ie.domain_type, vec![(event, ie)])),
            }
        }
    }
    groups
}

/// The registration of one domain type: `map_type::<Domain>(names)` with `names` (the domain
/// event names the table gives the type: its rows' and its `internal` events'), then, when
/// that is the first registration of the type, one
/// `subscribe_to_named::<Domain>(name, IntegrationEventHandler)` per row, publishing through
/// the `Arc<dyn Publisher>` expression `publisher`.
pub(super) fn type_registration(
    model: &Model,
    rows: &[(&DomainEvent, &IntegrationEvent)],
    names: &[&str],
    domain: &TokenStream,
    publisher: &TokenStream,
    in_module: bool,
) -> TokenStream {
    let names = names.iter().map(|n| domain_name(n, in_module));
    let handlers = rows
        .iter()
        .map(|(event, ie)| handler(model, event, ie, domain, publisher, in_module));
    // The registration's key: this module (or the derive's) and the type, so that the same
    // registration twice is a no-op while two tables mapping one type both register.
    let key = format!(
        "::register_integration_event_handlers({})",
        domain.to_string().replace(' ', "")
    );
    quote! {
        if dispatcher.map_type::<#domain>(
            ::core::concat!(::core::module_path!(), #key),
            &[#(#names),*],
        ) {
            #(#handlers)*
        }
    }
}

/// A domain event name: in the generated module, its constant; elsewhere (the derive), written
/// out.
pub(super) fn domain_name(name: &str, in_module: bool) -> TokenStream {
    if in_module {
        let ident = ident(&rust_names::const_ident(name));
        quote!(domain_event_names::#ident)
    } else {
        quote!(#name)
    }
}

/// `subscribe_to_named::<Domain>(name, IntegrationEventHandler)` for one row.
fn handler(
    model: &Model,
    event: &DomainEvent,
    ie: &IntegrationEvent,
    domain: &TokenStream,
    publisher: &TokenStream,
    in_module: bool,
) -> TokenStream {
    let domain_event = domain_name(&event.name, in_module);
    let handler = new_handler(model, ie, domain, publisher, in_module);
    quote! {
        dispatcher.subscribe_to_named::<#domain>(#domain_event, #handler);
    }
}

/// `IntegrationEventHandler::new(..)` of one row (with its `ce_type` when the row gives one),
/// publishing through the `Arc<dyn Publisher>` expression `publisher`: what the registration
/// subscribes and what the generated router holds.
pub(super) fn new_handler(
    model: &Model,
    ie: &IntegrationEvent,
    domain: &TokenStream,
    publisher: &TokenStream,
    in_module: bool,
) -> TokenStream {
    let with_ce_type = (ie.ce_type != ie.name).then(|| {
        let ce_type = if in_module {
            let ident = ident(&rust_names::ce_type_const(&ie.name));
            quote!(integration_event_names::#ident)
        } else {
            let ce_type = &ie.ce_type;
            quote!(#ce_type)
        };
        quote!(.with_ce_type(#ce_type))
    });
    // Every message names its contract (`ce-dataschema`), computed at build time.
    let with_dataschema = model.contract(&ie.message.full_name).map(|contract| {
        if in_module {
            let contract = super::contracts::contract_const(&ie.name);
            quote!(.with_dataschema(#contract.dataschema))
        } else {
            let dataschema = &contract.dataschema;
            quote!(.with_dataschema(#dataschema))
        }
    });
    let (channel, name, service) = row_names(model, ie, in_module);
    let converter = ident(&rust_names::fn_ident(&ie.name));
    let message = path(&ie.message.rust_path);
    let handler = if in_module {
        quote!(::eventmap::IntegrationEventHandler)
    } else {
        quote!(::eventmap::IntegrationEventHandler::<#domain, #message>)
    };
    quote! {
        #handler::new(
            ::std::sync::Arc::clone(#publisher),
            #channel,
            #name,
            #service,
            #converter,
        )#with_ce_type #with_dataschema
    }
}

/// The channel, the integration event name and the service (`ce-source`) of a row's handler:
/// in the generated module, its constants; elsewhere (the derive), written out.
fn row_names(
    model: &Model,
    ie: &IntegrationEvent,
    in_module: bool,
) -> (TokenStream, TokenStream, TokenStream) {
    if in_module {
        let channel = ident(&rust_names::const_ident(&ie.channel));
        let name = ident(&rust_names::const_ident(&ie.name));
        (
            quote!(channels::#channel),
            quote!(integration_event_names::#name),
            quote!(SOURCE),
        )
    } else {
        let channel = model
            .channels
            .iter()
            .find(|c| c.name == ie.channel)
            .map(channel_spec)
            .unwrap_or_else(|| quote! { ::core::compile_error!("eventmap: unknown channel") });
        let name = &ie.name;
        let service = &model.service;
        (channel, quote!(#name), quote!(#service))
    }
}

/// The domain event names the table gives the type `ty`: those of its `rows` (each once), then
/// those of the `internal` events of that type.
pub(super) fn type_names<'m>(
    model: &'m Model,
    ty: &str,
    rows: &[(&'m DomainEvent, &IntegrationEvent)],
) -> Vec<&'m str> {
    let mut names: Vec<&str> = Vec::new();
    for (event, _) in rows {
        if !names.contains(&event.name.as_str()) {
            names.push(&event.name);
        }
    }
    names.extend(
        model
            .events
            .iter()
            .filter(|e| e.internal_type.as_deref() == Some(ty))
            .map(|e| e.name.as_str()),
    );
    names
}

/// `impl ::eventmap::MappedEvent for Domain`: the names and the registration of the rows of
/// one domain type (what `#[derive(IntegrationEvent)]` adds next to the converters).
pub fn mapped_event_impl(
    model: &Model,
    events: &[&DomainEvent],
    target: &DomainTarget,
) -> TokenStream {
    let (impl_generics, domain, where_clause) = target.static_instance();
    let rows: Rows<'_> = events
        .iter()
        .flat_map(|event| event.integrations.iter().map(move |ie| (*event, ie)))
        .collect();
    let names = rows.iter().map(|(_, ie)| &ie.name);
    let publisher = quote!(publisher);
    let domain_names: Vec<&str> = events.iter().map(|e| e.name.as_str()).collect();
    let registration = type_registration(
        model,
        &rows,
        &domain_names,
        &quote!(Self),
        &publisher,
        false,
    );
    let domain_names = domain_names.iter();
    quote! {
        #[automatically_derived]
        impl #impl_generics ::eventmap::MappedEvent for #domain #where_clause {
            const DOMAIN_EVENTS: &'static [&'static str] = &[#(#domain_names),*];
            const INTEGRATION_EVENTS: &'static [&'static str] = &[#(#names),*];

            fn register_integration_handlers(
                dispatcher: &mut ::eventmap::EventDispatcher,
                publisher: &::std::sync::Arc<dyn ::eventmap::Publisher>,
            ) {
                let _ = &publisher;
                #registration
            }
        }
    }
}

/// `register_integration_event_handlers`: with the converters, the registration of every
/// domain type of the table ([`type_registration`]); without (the converters come from
/// `#[derive(IntegrationEvent)]`), `register_mapped::<T>` for every domain type, so that a
/// type without the derive does not compile and no row can be forgotten.
pub(super) fn registration(model: &Model, with_converters: bool) -> TokenStream {
    let publisher = quote!(&publisher);
    let groups = rows_by_type(model);
    let registrations = groups.iter().map(|(ty, rows)| {
        let domain = path(ty);
        let domain = quote!(#domain);
        if with_converters {
            let names = type_names(model, ty, rows);
            type_registration(model, rows, &names, &domain, &publisher, true)
        } else {
            quote! { dispatcher.register_mapped::<#domain>(&publisher); }
        }
    });
    let internal = internal_names(model);
    let declare_internal = (!internal.is_empty()).then(|| {
        quote! { dispatcher.declare_internal(&[#(#internal),*]); }
    });
    let unused = groups
        .is_empty()
        .then(|| quote! { let _ = (&mut *dispatcher, publisher); });
    let doc: &[&str] = if with_converters {
        &[
            " Registers, on `dispatcher`, the integration handlers of every row of the table: per",
            " domain type, the names the table gives it (`EventDispatcher::map_type`) and one handler",
            " per row, by type and name, converting with the converter above and publishing the",
            " encoded proto message on its channel through `publisher`. An event is published only by",
            " the rows of its own name; a name without a row fails the dispatch. Registering twice is",
            " a no-op.",
        ]
    } else {
        &[
            " Registers, on `dispatcher`, the integration handlers of every domain type of the table,",
            " through their `#[derive(IntegrationEvent)]` (`EventDispatcher::register_mapped`): a",
            " domain type of the table without the derive does not compile, and no row can be",
            " forgotten. Registering twice is a no-op.",
        ]
    };
    quote! {
        #(#[doc = #doc])*
        ///
        /// `publisher` is an `Arc<JetStreamPublisher>`, an `Arc<dyn Publisher>` or a reference
        /// to either ([`IntoSharedPublisher`](::eventmap::IntoSharedPublisher)).
        pub fn register_integration_event_handlers(
            dispatcher: &mut ::eventmap::EventDispatcher,
            publisher: impl ::eventmap::IntoSharedPublisher,
        ) {
            let publisher = ::eventmap::IntoSharedPublisher::into_shared(publisher);
            #unused
            #declare_internal
            #(#registrations)*
        }
    }
}

/// The names of the table's `internal` domain events, in table order: declared on the
/// dispatcher (`EventDispatcher::declare_internal`) and matched by the router, so that an
/// event the table keeps inside is skipped, not refused as of an unmapped type.
pub(super) fn internal_names(model: &Model) -> Vec<&str> {
    model
        .events
        .iter()
        .filter(|event| event.integrations.is_empty())
        .map(|event| event.name.as_str())
        .collect()
}
