//! The producer-side router generated per table (`DomainEventRouter`): one integration handler
//! per row held in a field, and `eventmap::Route` as a `match` on the payload type, then on the
//! domain event name where the table gives a type several names, so that dispatching costs
//! what a hand-written `match` costs. It publishes what `register_integration_event_handlers`
//! on an `EventDispatcher` publishes, in the same order, with the same errors.

use proc_macro2::TokenStream;
use quote::quote;

use super::registration::{
    Rows, domain_name, internal_names, new_handler, rows_by_type, type_names,
};
use super::{ident, path};
use crate::model::Model;
use crate::rust_names;

/// `pub struct DomainEventRouter`, its constructor and `publish`, and its `eventmap::Route`.
pub(super) fn router(model: &Model) -> TokenStream {
    let publisher = quote!(&publisher);
    let groups = rows_by_type(model);
    let rows: Vec<_> = groups
        .iter()
        .flat_map(|(ty, rows)| rows.iter().map(move |row| (*ty, row)))
        .collect();
    let fields = rows.iter().map(|(ty, (event, ie))| {
        let field = ident(&rust_names::fn_ident(&ie.name));
        let domain = path(ty);
        let message = path(&ie.message.rust_path);
        let doc = format!(
            " The row `{}` -> `{}` (proto `{}`).",
            event.name, ie.name, ie.message.full_name
        );
        quote! {
            #[doc = #doc]
            #field: ::eventmap::IntegrationEventHandler<#domain, #message>
        }
    });
    let inits = rows.iter().map(|(ty, (_, ie))| {
        let field = ident(&rust_names::fn_ident(&ie.name));
        let domain = path(ty);
        let handler = new_handler(model, ie, &quote!(#domain), &publisher, true);
        quote!(#field: #handler)
    });
    // A table whose rows are all `internal` holds no handler.
    let unused = rows.is_empty().then(|| quote! { let _ = &publisher; });
    let payload_type =
        (!groups.is_empty()).then(|| quote! { let payload_type = event.payload_type_id(); });
    let types = groups.iter().map(|(ty, rows)| type_route(model, ty, rows));
    // The table's `internal` names, whatever their type: nothing to publish.
    let internal_names = internal_names(model);
    let internal = (!internal_names.is_empty()).then(|| {
        quote! {
            if ::core::matches!(event.name(), #(#internal_names)|*) {
                return ::core::result::Result::Ok(true);
            }
        }
    });
    quote! {
        /// Publishes the integration events of the table's rows, routed by code generated from
        /// the table: a `match` on the payload type of each domain event, then on its name. It
        /// publishes what an `EventDispatcher` with `register_integration_event_handlers`
        /// publishes, in the same order, with the same errors (a name without a row of its type
        /// fails with `UnmappedEventName`), logs and spans, without the dispatcher's lookups
        /// and dynamic calls; handlers registered at run time need the `EventDispatcher`.
        ///
        /// Give it to a store as its dispatcher (`DispatchingStore::new(store, Arc::new(router))`,
        /// `PostgresStoreBuilder::outbox(router)`: it implements `eventmap::Dispatch`).
        #[derive(Clone, Debug)]
        pub struct DomainEventRouter {
            #(#fields,)*
        }

        impl DomainEventRouter {
            /// A router publishing every row through `publisher`: an `Arc<JetStreamPublisher>`,
            /// an `Arc<dyn Publisher>` or a reference to either
            /// ([`IntoSharedPublisher`](::eventmap::IntoSharedPublisher)).
            pub fn new(publisher: impl ::eventmap::IntoSharedPublisher) -> Self {
                let publisher = ::eventmap::IntoSharedPublisher::into_shared(publisher);
                #unused
                Self {
                    #(#inits,)*
                }
            }

            /// Converts and publishes every event through the rows of its name, events in
            /// order and each event's rows in table order.
            ///
            /// # Errors
            /// Stops at the first failing row (`DispatchError` with its `IntegrationError`), at
            /// an event of a mapped type whose name the table does not give that type
            /// (`DispatchError` with `UnmappedEventName`), before any of its rows runs, or at
            /// an event of a type the table does not map (`UnmappedEventType`).
            pub async fn publish(
                &self,
                events: &[::eventmap::AggregateEvent],
            ) -> ::core::result::Result<(), ::eventmap::DispatchError> {
                ::eventmap::dispatcher::publish_routed(self, events).await
            }
        }

        impl ::eventmap::Route for DomainEventRouter {
            async fn route(
                &self,
                event: &::eventmap::AggregateEvent,
            ) -> ::core::result::Result<bool, ::eventmap::DispatchError> {
                #payload_type
                #(#types)*
                #internal
                ::core::result::Result::Ok(false)
            }
        }
    }
}

/// The route of one domain type: when the payload is of that type, a `match` on the event's
/// name with an arm per name the table gives the type (publishing its rows, in table order, in
/// the `dispatch` span; none for an `internal` name), and the unmapped-name error otherwise.
fn type_route(model: &Model, ty: &str, rows: &Rows<'_>) -> TokenStream {
    let domain = path(ty);
    let names = type_names(model, ty, rows);
    let arms = names.iter().map(|name| {
        let pattern = domain_name(name, true);
        let publishes: Vec<TokenStream> = rows
            .iter()
            .filter(|(event, _)| event.name == *name)
            .enumerate()
            .map(|(index, (_, ie))| {
                // The field and the converter share the name.
                let field = ident(&rust_names::fn_ident(&ie.name));
                let index = proc_macro2::Literal::usize_unsuffixed(index);
                quote! {
                    self.#field
                        .publish_converted(#field, event, &dispatch)
                        .await
                        .map_err(|error| {
                            ::eventmap::dispatcher::row_failed(event, &dispatch, #index, error)
                        })?;
                }
            })
            .collect();
        // An `internal` name has no row; the dispatcher opens (and closes) its span too.
        let dispatch = if publishes.is_empty() {
            quote!(_dispatch)
        } else {
            quote!(dispatch)
        };
        quote! {
            #pattern => {
                let #dispatch = ::eventmap::dispatcher::dispatch_span(event);
                #(#publishes)*
            }
        }
    });
    let expected = names.iter().map(|name| domain_name(name, true));
    quote! {
        if payload_type == ::core::any::TypeId::of::<#domain>() {
            match event.name() {
                #(#arms)*
                _ => {
                    return ::core::result::Result::Err(
                        ::eventmap::dispatcher::unmapped_event_name::<#domain>(
                            event,
                            &[#(#expected),*],
                        ),
                    );
                }
            }
            return ::core::result::Result::Ok(true);
        }
    }
}
