//! `mod contracts`: the contract of each integration event of the table (published or
//! received), computed at build time: its CloudEvents `dataschema` and the encoded
//! description of its proto message (crate `eventmap-contract`).

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use super::ident;
use crate::model::Model;
use crate::rust_names;

/// One integration event with a contract: its name, channel and proto message.
struct Entry<'a> {
    name: &'a str,
    channel: &'a str,
    message: &'a str,
    published: bool,
}

/// The table's integration events, published ones first, each name once.
fn entries(model: &Model) -> Vec<Entry<'_>> {
    let published = model
        .events
        .iter()
        .flat_map(|event| &event.integrations)
        .map(|ie| Entry {
            name: &ie.name,
            channel: &ie.channel,
            message: &ie.message.full_name,
            published: true,
        });
    let received = model.subscriptions.iter().flat_map(|subscription| {
        subscription.events.iter().map(|event| Entry {
            name: &event.name,
            channel: &subscription.channel,
            message: &event.message.full_name,
            published: false,
        })
    });
    let mut entries: Vec<Entry<'_>> = Vec::new();
    for entry in published.chain(received) {
        if !entries.iter().any(|known| known.name == entry.name) {
            entries.push(entry);
        }
    }
    entries
}

/// The path of the contract constant of the integration event `name`, from the module's
/// top level.
pub(crate) fn contract_const(name: &str) -> TokenStream {
    let ident = ident(&rust_names::const_ident(name));
    quote!(contracts::#ident)
}

/// `mod contracts`, with `PUBLISHED` when the table publishes; nothing when the table has no
/// integration event.
pub(super) fn contracts_module(model: &Model) -> TokenStream {
    let entries = entries(model);
    if entries.is_empty() {
        return TokenStream::new();
    }
    let consts = entries.iter().filter_map(|entry| {
        let contract = model.contract(entry.message)?;
        let ident = ident(&rust_names::const_ident(entry.name));
        let channel = ident_of_channel(entry.channel);
        let name = entry.name;
        let dataschema = &contract.dataschema;
        let schema = Literal::byte_string(&contract.schema);
        let side = if entry.published {
            "published"
        } else {
            "received"
        };
        let doc = format!(
            " The contract of the integration event `{name}` ({side}): proto `{}` and every type it reaches, `ce-dataschema` `{dataschema}`.",
            entry.message
        );
        Some(quote! {
            #[doc = #doc]
            pub const #ident: ::eventmap::Contract = ::eventmap::Contract::new(
                super::channels::#channel,
                #name,
                #dataschema,
                #schema,
            );
        })
    });
    let published: Vec<_> = entries
        .iter()
        .filter(|entry| entry.published && model.contract(entry.message).is_some())
        .map(|entry| ident(&rust_names::const_ident(entry.name)))
        .collect();
    let published = (!published.is_empty()).then(|| {
        quote! {
            /// The contracts of every integration event the table publishes: what the
            /// producer registers at start (`eventmap::nats::ContractRegistry::register`,
            /// runtime feature `contracts`).
            pub const PUBLISHED: &[::eventmap::Contract] = &[#(#published),*];
        }
    });
    quote! {
        /// The contracts of the table's integration events, computed from the protos when
        /// the module was generated: each event's CloudEvents `dataschema`
        /// (`eventmap:<proto message>#<fingerprint>`, written in `ce-dataschema`) and the
        /// description of its proto message that consumers compare.
        pub mod contracts {
            #(#consts)*
            #published
        }
    }
}

fn ident_of_channel(channel: &str) -> proc_macro2::Ident {
    ident(&rust_names::const_ident(channel))
}
