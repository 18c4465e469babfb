//! Emits the consuming side of a table, one set of items per declared subscription:
//! the subscription's constants and `ConsumerSpec` (module `subscriptions::<name>`), the enum
//! of the events it receives, a handler trait with one method per event, and the router that
//! hands each delivery to the method of its event.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::{SetMember, channel_spec, event_set_enum, ident, name_consts, path};
use crate::model::{ContractPolicy, DeliveryPolicy, Model, SubscribedEvent, Subscription};
use crate::rust_names;

/// Every item of the table's subscriptions; nothing when it declares none.
pub(super) fn items(model: &Model) -> TokenStream {
    if model.subscriptions.is_empty() {
        return TokenStream::new();
    }
    let modules = model.subscriptions.iter().map(subscription_module);
    let per_subscription = model.subscriptions.iter().map(subscription_items);
    quote! {
        /// The table's subscriptions: for each, its durable consumer name, the integration
        /// events it receives and its delivery policy.
        pub mod subscriptions {
            #(#modules)*
        }

        #(#per_subscription)*
    }
}

/// `subscriptions::<name>`: the constants and the `ConsumerSpec` of one subscription.
fn subscription_module(subscription: &Subscription) -> TokenStream {
    let module = ident(&rust_names::fn_ident(&subscription.name));
    let durable = &subscription.durable;
    let doc = format!(
        " Subscription `{}`: durable consumer `{}` on channel `{}`.",
        subscription.name, durable, subscription.channel
    );
    // EVENTS lists the `ce-type`s, which the consumer decodes by.
    let consts: Vec<_> = subscription
        .events
        .iter()
        .map(|event| {
            if event.ce_type == event.name {
                ident(&rust_names::const_ident(&event.name))
            } else {
                ident(&rust_names::ce_type_const(&event.name))
            }
        })
        .collect();
    let const_items = subscription
        .events
        .iter()
        .map(|event| name_consts(&event.name, &event.ce_type, &event.message.full_name));
    let policy = policy(&subscription.delivery);
    quote! {
        #[doc = #doc]
        pub mod #module {
            /// The durable JetStream consumer that every instance of the service shares.
            pub const DURABLE: &str = #durable;

            #(#const_items)*

            /// Every integration event received, by `ce-type` (the consumer filters on the
            /// server on their subjects).
            pub const EVENTS: &[&str] = &[#(#consts),*];

            /// The declared subscription: [`DURABLE`], [`EVENTS`] and the delivery policy
            /// of the table, for `eventmap::nats::Consumer::start`.
            pub fn spec() -> ::eventmap::nats::ConsumerSpec {
                ::eventmap::nats::ConsumerSpec::new(DURABLE, EVENTS).policy(#policy)
            }
        }
    }
}

/// The `DeliveryPolicy` expression of `delivery`: the runtime's defaults, then what the table
/// sets.
fn policy(delivery: &DeliveryPolicy) -> TokenStream {
    let mut policy = quote! { ::eventmap::nats::DeliveryPolicy::default() };
    if delivery.deliver_new {
        policy = quote! { #policy.start_at(::eventmap::nats::DeliverPolicy::New) };
    }
    if let Some(ms) = delivery.ack_wait_ms {
        policy = quote! { #policy.ack_wait(::core::time::Duration::from_millis(#ms)) };
    }
    if let Some(max) = delivery.max_deliver {
        policy = quote! { #policy.max_deliver(#max) };
    }
    if let Some(steps) = &delivery.backoff_ms {
        policy = quote! {
            #policy.backoff([#(::core::time::Duration::from_millis(#steps)),*])
        };
    }
    if let Some(channel) = &delivery.dead_letter {
        let spec = channel_spec(channel);
        policy = quote! { #policy.dead_letter(#spec) };
    }
    if let Some(on_incompatible) = delivery.on_incompatible {
        let variant = match on_incompatible {
            ContractPolicy::Refuse => quote!(Refuse),
            ContractPolicy::DeadLetter => quote!(DeadLetter),
            ContractPolicy::Warn => quote!(Warn),
        };
        policy = quote! {
            #policy.on_incompatible(::eventmap::nats::ContractPolicy::#variant)
        };
    }
    policy
}

/// The enum, the handler trait and the router of one subscription.
fn subscription_items(subscription: &Subscription) -> TokenStream {
    let camel = rust_names::type_prefix(&subscription.name);
    let enum_name = format_ident!("{}Event", camel);
    let handler = format_ident!("{}Handler", camel);
    let router = format_ident!("{}Router", camel);
    let event_set = event_set(subscription, &enum_name);
    let handler_trait = handler_trait(subscription, &enum_name, &handler, &router);
    let router_items = router_items(subscription, &enum_name, &handler, &router);
    quote! {
        #event_set

        #handler_trait

        #router_items
    }
}

/// The enum `enum_name` of the events a subscription receives, decoded by `ce-type`.
fn event_set(subscription: &Subscription, enum_name: &Ident) -> TokenStream {
    let module = ident(&rust_names::fn_ident(&subscription.name));
    let name = &subscription.name;
    let members: Vec<SetMember<'_>> = subscription
        .events
        .iter()
        .map(|event| {
            SetMember::new(
                &event.name,
                &event.ce_type,
                &event.message,
                &quote!(subscriptions::#module),
            )
        })
        .collect();
    let enum_doc = format!(
        " The integration events that subscription `{name}` receives, decoded from a message's `ce-type` and payload."
    );
    event_set_enum(enum_name, &enum_doc, &subscription.channel, &members)
}

/// The method of the handler trait that handles `event`.
fn method(event: &SubscribedEvent) -> Ident {
    ident(&rust_names::fn_ident(&event.name))
}

/// The trait `handler`: one method per event of the subscription.
fn handler_trait(
    subscription: &Subscription,
    enum_name: &Ident,
    handler: &Ident,
    router: &Ident,
) -> TokenStream {
    let name = &subscription.name;
    let signatures = subscription.events.iter().map(|event| {
        let method = method(event);
        let message = path(&event.message.rust_path);
        let doc = format!(
            " Handles `{}` (proto `{}`). `Ok` acknowledges the message; an error has it redelivered after the subscription's backoff, and dead-lettered after its last delivery.",
            event.name, event.message.full_name
        );
        quote! {
            #[doc = #doc]
            fn #method(
                &self,
                event: &#message,
                delivery: &::eventmap::nats::Delivery<#enum_name>,
            ) -> impl ::core::future::Future<
                Output = ::core::result::Result<(), ::eventmap::BoxError>,
            > + ::core::marker::Send;
        }
    });
    let handler_doc = format!(
        " What the service does with each event of subscription `{name}`: one method per event, so that an event added to the subscription does not compile until it is handled. Run it with [`{router}`]."
    );
    quote! {
        #[doc = #handler_doc]
        pub trait #handler: ::core::marker::Send + ::core::marker::Sync {
            #(#signatures)*
        }
    }
}

/// The struct `router` and its `ConsumerHandler` impl, which hands each delivery to the
/// method of `handler` for its event.
fn router_items(
    subscription: &Subscription,
    enum_name: &Ident,
    handler: &Ident,
    router: &Ident,
) -> TokenStream {
    let name = &subscription.name;
    let variants = subscription
        .events
        .iter()
        .map(|event| ident(&rust_names::upper_camel(&event.name)));
    let methods = subscription.events.iter().map(method);
    let router_doc = format!(
        " Hands each delivery of subscription `{name}` to the method of [`{handler}`] for its event: the `eventmap::nats::ConsumerHandler` that `eventmap::nats::Consumer::run` takes."
    );
    quote! {
        #[doc = #router_doc]
        #[derive(Debug, Clone, Default)]
        pub struct #router<H>(pub H);

        impl<H: #handler> ::eventmap::nats::ConsumerHandler<#enum_name> for #router<H> {
            // The trait's signature, spelled out: the future is `Send` by contract.
            #[allow(clippy::manual_async_fn)]
            fn handle(
                &self,
                delivery: &::eventmap::nats::Delivery<#enum_name>,
            ) -> impl ::core::future::Future<
                Output = ::core::result::Result<(), ::eventmap::BoxError>,
            > + ::core::marker::Send {
                async move {
                    match &delivery.event {
                        #( #enum_name::#variants(event) => self.0.#methods(event, delivery).await, )*
                    }
                }
            }
        }
    }
}
