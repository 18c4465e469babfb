//! The expansion of `eventmap::subscriptions!("mappings.yaml")`: the consuming side of a
//! table (its channels and, per subscription, the spec, event enum, handler trait and router),
//! the same items as `eventmap generate` writes for it, checked at compile time.

use std::path::Path;

use proc_macro2::TokenStream;
use quote::quote;

use super::{cached_analysis, one_line, shown, tracked_files};
use crate::emit;

/// Expands `subscriptions!(input)`: `input` is the table's path as a string literal,
/// relative to `manifest_dir` (the `CARGO_MANIFEST_DIR` of the crate being compiled).
/// Problems are compile errors at the literal: one per diagnostic of the table.
pub fn subscriptions(input: TokenStream, manifest_dir: &Path) -> TokenStream {
    match expand(input, manifest_dir) {
        Ok(tokens) => tokens,
        Err(errors) => errors.to_compile_error(),
    }
}

fn expand(input: TokenStream, manifest_dir: &Path) -> Result<TokenStream, syn::Error> {
    let literal: syn::LitStr = syn::parse2(input).map_err(|err| {
        syn::Error::new(
            err.span(),
            "expected the mapping table's path, e.g. `eventmap::subscriptions!(\"mappings.yaml\")`",
        )
    })?;
    let span = literal.span();
    let table = manifest_dir.join(literal.value());
    let analysis = cached_analysis(&table).map_err(|e| syn::Error::new(span, e))?;
    let Some(model) = &analysis.model else {
        let mut errors = analysis
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| syn::Error::new(span, one_line(d, manifest_dir)));
        let first = errors.next().unwrap_or_else(|| {
            syn::Error::new(
                span,
                format!("eventmap: {} has errors", shown(&table, manifest_dir)),
            )
        });
        return Err(errors.fold(first, |mut all, error| {
            all.combine(error);
            all
        }));
    };
    if model.subscriptions.is_empty() {
        return Err(syn::Error::new(
            span,
            format!(
                "{} declares no subscription (`subscriptions:`)",
                shown(&table, manifest_dir)
            ),
        ));
    }
    let tracked = tracked_files(&analysis, &table);
    let items = emit::subscription_tokens(model);
    Ok(quote! {
        const _: () = { #tracked };
        #items
    })
}
