//! Decodable sets of integration events: the enum of each channel (and of each subscription),
//! decoded by `ce-type`.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::{ident, path};
use crate::model::{IntegrationEvent, MessageType, Model};
use crate::rust_names;

/// The enum of every integration event published on one channel, decoded by `ce-type`.
pub(super) fn channel_enum(model: &Model, channel: &str) -> Option<TokenStream> {
    let events: Vec<&IntegrationEvent> = model
        .events
        .iter()
        .flat_map(|e| &e.integrations)
        .filter(|ie| ie.channel == channel)
        .collect();
    if events.is_empty() {
        return None;
    }
    let enum_name = format_ident!("{}IntegrationEvent", rust_names::type_prefix(channel));
    let members: Vec<SetMember<'_>> = events
        .iter()
        .map(|ie| {
            SetMember::new(
                &ie.name,
                &ie.ce_type,
                &ie.message,
                &quote!(integration_event_names),
            )
        })
        .collect();
    let doc = format!(
        " Every integration event published on channel `{channel}`, decoded from a message's `ce-type` and payload."
    );
    Some(event_set_enum(&enum_name, &doc, channel, &members))
}

/// One integration event of a decodable set: its name (the variant's), the path of the
/// constant of its `ce-type` (what the set decodes by), the path of its name constant when that
/// is another (its subject token), its message.
pub(crate) struct SetMember<'a> {
    pub(crate) name: &'a str,
    pub(crate) type_const: TokenStream,
    pub(crate) token_const: Option<TokenStream>,
    pub(crate) message: &'a MessageType,
    /// The path of its contract constant (`contracts::<NAME>`).
    pub(crate) contract: TokenStream,
}

impl<'a> SetMember<'a> {
    /// The member for the integration event `name` with CloudEvents type `ce_type`, whose
    /// constants ([`name_consts`]) are in the module `consts`.
    pub(crate) fn new(
        name: &'a str,
        ce_type: &str,
        message: &'a MessageType,
        consts: &TokenStream,
    ) -> Self {
        let name_ident = ident(&rust_names::const_ident(name));
        let name_const = quote!(#consts::#name_ident);
        let contract = super::contracts::contract_const(name);
        if ce_type == name {
            return Self {
                name,
                type_const: name_const,
                token_const: None,
                message,
                contract,
            };
        }
        let type_ident = ident(&rust_names::ce_type_const(name));
        Self {
            name,
            type_const: quote!(#consts::#type_ident),
            token_const: Some(name_const),
            message,
            contract,
        }
    }
}

/// An enum with one variant per member, implementing `eventmap::IntegrationEventSet` on
/// `channel`.
pub(crate) fn event_set_enum(
    enum_name: &Ident,
    doc: &str,
    channel: &str,
    members: &[SetMember<'_>],
) -> TokenStream {
    let channel_const = ident(&rust_names::const_ident(channel));
    let variants: Vec<Ident> = members
        .iter()
        .map(|m| ident(&rust_names::upper_camel(m.name)))
        .collect();
    let consts: Vec<&TokenStream> = members.iter().map(|m| &m.type_const).collect();
    // Only a set with a `ce-type` that is not its subject token says its tokens.
    let subject_tokens = members.iter().any(|m| m.token_const.is_some()).then(|| {
        let tokens = members
            .iter()
            .map(|m| m.token_const.as_ref().unwrap_or(&m.type_const));
        quote! { const SUBJECT_TOKENS: &'static [&'static str] = &[#(#tokens),*]; }
    });
    let messages: Vec<syn::Path> = members.iter().map(|m| path(&m.message.rust_path)).collect();
    let contracts = members.iter().map(|m| &m.contract);
    let variant_docs = members
        .iter()
        .map(|m| format!(" `{}`, encoded as proto `{}`.", m.name, m.message.full_name));
    quote! {
        #[doc = #doc]
        #[derive(Clone, PartialEq, Debug)]
        #[allow(clippy::large_enum_variant)]
        pub enum #enum_name {
            #( #[doc = #variant_docs] #variants(#messages), )*
        }

        impl ::eventmap::IntegrationEventSet for #enum_name {
            const CHANNEL: ::eventmap::ChannelSpec = channels::#channel_const;
            const NAMES: &'static [&'static str] = &[#(#consts),*];
            #subject_tokens
            const CONTRACTS: &'static [::eventmap::Contract] = &[#(#contracts),*];

            fn decode(
                name: &str,
                payload: &[u8],
            ) -> ::core::result::Result<Self, ::eventmap::DecodeError> {
                match name {
                    #(
                        #consts => {
                            ::eventmap::decode_payload::<#messages>(name, payload).map(Self::#variants)
                        }
                    )*
                    _ => ::core::result::Result::Err(::eventmap::DecodeError::UnknownEvent {
                        name: ::std::string::String::from(name),
                    }),
                }
            }

            fn name(&self) -> &'static str {
                match self {
                    #( Self::#variants(_) => #consts, )*
                }
            }
        }
    }
}
