//! The expansion of `#[derive(IntegrationEvent)]` and `#[derive(DomainEvent)]` (crate
//! `eventmap-macros` is a thin front door onto these functions): the struct's row is found in
//! the mapping table, the table is checked against its protos like `eventmap check` does, and
//! the same converters and `TryFrom` impls as `eventmap generate` are emitted, with
//! `eventmap::DomainEvent` and `eventmap::MappedEvent` impls. Problems are compile errors with
//! the span of the offending struct, field or attribute; nothing panics.
//!
//! Each table (and its protos) is read once per compiler process and kept while the files'
//! modification times do not change; cargo is made to rebuild when they change by an
//! `include_bytes!` of every file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::SystemTime;

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned as _;

use crate::emit::{self, DomainTarget};
use crate::model::{DomainEvent, Field, Value};
use crate::{Analysis, analyze};

mod subscriptions;

pub use subscriptions::subscriptions;

/// `#[integration(...)]` options.
#[derive(Debug, Default)]
struct Options {
    /// The table, relative to `CARGO_MANIFEST_DIR`.
    mappings: Option<(String, Span)>,
    /// The rows (domain event names), when they are not found from the struct's name.
    events: Vec<(String, Span)>,
}

/// Expands `#[derive(IntegrationEvent)]` for `input`, reading the table relative to
/// `manifest_dir` (the `CARGO_MANIFEST_DIR` of the crate being compiled).
pub fn integration_event(input: &syn::DeriveInput, manifest_dir: &Path) -> TokenStream {
    let name = unraw(&input.ident);
    match expand(input, manifest_dir) {
        Ok(tokens) => tokens,
        Err(errors) => {
            // One mistake gives its errors, not a cascade of "trait not implemented".
            let fallback = fallback(input, &name);
            let errors = errors.to_compile_error();
            quote! { #errors #fallback }
        }
    }
}

/// Expands `#[derive(DomainEvent)]`: `eventmap::DomainEvent` with the struct's name (or
/// `#[domain_event(name = "...")]`) as the event name.
pub fn domain_event(input: &syn::DeriveInput) -> TokenStream {
    let mut name = unraw(&input.ident);
    for attr in input
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("domain_event"))
    {
        let parsed = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("name") {
                let value: syn::LitStr = meta.value()?.parse()?;
                name = value.value();
                Ok(())
            } else {
                Err(meta.error("expected `name = \"...\"`"))
            }
        });
        if let Err(err) = parsed {
            return err.to_compile_error();
        }
    }
    domain_event_impl(input, &name)
}

fn domain_event_impl(input: &syn::DeriveInput, name: &str) -> TokenStream {
    let (impl_generics, ty, where_clause) = static_instance(input);
    quote! {
        #[automatically_derived]
        impl #impl_generics ::eventmap::DomainEvent for #ty #where_clause {
            fn event_name(&self) -> &'static str {
                #name
            }
        }
    }
}

/// See [`DomainTarget::static_instance`].
fn static_instance(input: &syn::DeriveInput) -> (TokenStream, TokenStream, TokenStream) {
    DomainTarget {
        ty: input.ident.to_token_stream(),
        generics: input.generics.clone(),
        field_spans: HashMap::new(),
    }
    .static_instance()
}

fn fallback(input: &syn::DeriveInput, name: &str) -> TokenStream {
    let (impl_generics, ty, where_clause) = static_instance(input);
    let domain_event = domain_event_impl(input, name);
    quote! {
        #domain_event
        #[automatically_derived]
        impl #impl_generics ::eventmap::MappedEvent for #ty #where_clause {
            const DOMAIN_EVENTS: &'static [&'static str] = &[#name];
            const INTEGRATION_EVENTS: &'static [&'static str] = &[];
            fn register_integration_handlers(
                _: &mut ::eventmap::EventDispatcher,
                _: &::std::sync::Arc<dyn ::eventmap::Publisher>,
            ) {
            }
        }
    }
}

fn expand(input: &syn::DeriveInput, manifest_dir: &Path) -> Result<TokenStream, syn::Error> {
    let options = options(input)?;
    let fields = struct_fields(input)?;
    let (table, table_span) = match &options.mappings {
        Some((path, span)) => (manifest_dir.join(path), *span),
        None => (manifest_dir.join("mappings.yaml"), input.ident.span()),
    };
    let analysis = cached_analysis(&table).map_err(|e| syn::Error::new(table_span, e))?;
    let struct_name = unraw(&input.ident);
    let (row, row_span) = match options.events.first() {
        Some((name, span)) => (name.clone(), *span),
        None => (struct_name.clone(), input.ident.span()),
    };
    let Some(model) = &analysis.model else {
        return Err(table_errors(&analysis, &row, row_span, manifest_dir));
    };
    let events = rows_of(model, &options.events, &struct_name)
        .map_err(|missing| no_row(model, &missing, input.ident.span(), &table, manifest_dir))?;
    let mut errors: Option<syn::Error> = None;
    for event in &events {
        if let Err(error) = check_fields(event, &fields, input, manifest_dir) {
            match &mut errors {
                Some(all) => all.combine(error),
                None => errors = Some(error),
            }
        }
    }
    if let Some(errors) = errors {
        return Err(errors);
    }

    let target = DomainTarget {
        ty: input.ident.to_token_stream(),
        generics: input.generics.clone(),
        field_spans: fields
            .iter()
            .map(|(name, span)| (name.clone(), *span))
            .collect(),
    };
    let items = events
        .iter()
        .map(|event| emit::event_items(model, event, &target));
    let mapped = emit::mapped_event_impl(model, &events, &target);
    // One name: the derive names the event. Several rows share the type (`PriceChanged`
    // recorded as `PriceIncreased` or `PriceDecreased`): each instance names itself, through
    // the user's own `impl DomainEvent`.
    let domain_event = match events.as_slice() {
        [event] => domain_event_impl(input, &event.name),
        _ => TokenStream::new(),
    };
    let tracked = tracked_files(&analysis, &table);
    Ok(quote! {
        #domain_event
        const _: () = {
            #tracked
            #(#items)*
            #mapped
        };
    })
}

/// The rows of the struct `struct_name`: the domain events named by `#[integration(event =
/// ..)]` when there are some, else the domain event named like the struct and every domain
/// event with a row (or an `internal` entry) whose Rust type (`type:`, or
/// `<domain_module>::<event>`) is named like the struct, in table order.
///
/// # Errors
/// The name (and span) of an `event = ..` without a row, or the struct's name when nothing
/// matches.
fn rows_of<'m>(
    model: &'m crate::model::Model,
    named: &[(String, Span)],
    struct_name: &str,
) -> Result<Vec<&'m DomainEvent>, (String, Option<Span>)> {
    if !named.is_empty() {
        return named
            .iter()
            .map(|(name, span)| {
                model
                    .events
                    .iter()
                    .find(|e| &e.name == name)
                    .ok_or_else(|| (name.clone(), Some(*span)))
            })
            .collect();
    }
    let named_like = |ty: &str| ty.rsplit("::").next().map(str::trim) == Some(struct_name);
    let of_type = |e: &&DomainEvent| {
        e.name == struct_name
            || e.integrations.iter().any(|ie| named_like(&ie.domain_type))
            || e.internal_type.as_deref().is_some_and(named_like)
    };
    let events: Vec<&DomainEvent> = model.events.iter().filter(of_type).collect();
    if events.is_empty() {
        return Err((struct_name.to_owned(), None));
    }
    Ok(events)
}

/// The error of a struct (or an `event = ..`) without a row in the table.
fn no_row(
    model: &crate::model::Model,
    (row, span): &(String, Option<Span>),
    struct_span: Span,
    table: &Path,
    manifest_dir: &Path,
) -> syn::Error {
    let rows: Vec<String> = model
        .events
        .iter()
        .map(|e| format!("`{}`", e.name))
        .collect();
    let rows = if rows.is_empty() {
        format!("the table has no rows under `events:`; add one named `{row}`")
    } else {
        format!("the rows are {}", rows.join(", "))
    };
    syn::Error::new(
        span.unwrap_or(struct_span),
        format!(
            "`{row}` has no row under `events:` in {} and no row has `type:` naming it; {rows}",
            shown(table, manifest_dir),
        ),
    )
}

/// `#[integration(mappings = "...", event = "...")]`.
fn options(input: &syn::DeriveInput) -> Result<Options, syn::Error> {
    let mut options = Options::default();
    for attr in input
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("integration"))
    {
        attr.parse_nested_meta(|meta| {
            let value: syn::LitStr = meta.value()?.parse()?;
            if meta.path.is_ident("mappings") {
                options.mappings = Some((value.value(), value.span()));
            } else if meta.path.is_ident("event") {
                options.events.push((value.value(), value.span()));
            } else {
                return Err(meta.error(
                    "expected `mappings = \"path/to/mappings.yaml\"` or `event = \"RowName\"`",
                ));
            }
            Ok(())
        })?;
    }
    Ok(options)
}

/// The struct's named fields (raw identifiers normalised: `r#type` is `type`), `#[cfg]`-gated
/// ones included, with their spans.
fn struct_fields(input: &syn::DeriveInput) -> Result<Vec<(String, Span)>, syn::Error> {
    let syn::Data::Struct(data) = &input.data else {
        return Err(syn::Error::new(
            input.ident.span(),
            "`#[derive(IntegrationEvent)]` is for structs (a domain event is a struct)",
        ));
    };
    Ok(data
        .fields
        .iter()
        .enumerate()
        .map(|(index, field)| match &field.ident {
            Some(ident) => (unraw(ident), ident.span()),
            None => (index.to_string(), field.ty.span()),
        })
        .collect())
}

/// Every domain field the row maps (first path segment) must be a field of the struct.
fn check_fields(
    event: &DomainEvent,
    fields: &[(String, Span)],
    input: &syn::DeriveInput,
    manifest_dir: &Path,
) -> Result<(), syn::Error> {
    let mut errors: Option<syn::Error> = None;
    for integration in &event.integrations {
        let mut fields_of_payload = Vec::new();
        rooted_at_payload(&integration.fields, None, &mut fields_of_payload);
        for (field, within) in fields_of_payload {
            let Some(first) = domain_root(field) else {
                continue;
            };
            let first = first.trim_start_matches("r#");
            if fields.iter().any(|(name, _)| name == first) {
                continue;
            }
            let at = field
                .location
                .as_ref()
                .map(|l| format!("{}: ", located(l, manifest_dir)))
                .unwrap_or_default();
            let close = fields
                .iter()
                .map(|(name, span)| (strsim::damerau_levenshtein(first, name), name, *span))
                .filter(|(d, name, _)| *d <= (name.chars().count() / 3).max(2))
                .min_by_key(|(d, _, _)| *d);
            let suggestion = close
                .map(|(_, name, _)| format!("; did you mean `{name}`?"))
                .unwrap_or_default();
            // On the field it probably is (a renamed field), else on the struct's name.
            let span = close.map_or(input.ident.span(), |(_, _, span)| span);
            let (message, inside) = match &within {
                Some(nested) => (nested.message, format!(" (in `{}`)", nested.proto_path)),
                None => (integration.message.full_name.as_str(), String::new()),
            };
            let error = syn::Error::new(
                span,
                format!(
                    "{at}`{}` maps proto field `{}` of `{message}`{inside} from `{first}`, but `{}` has no field `{first}`{suggestion}",
                    integration.name, field.proto_name, input.ident
                ),
            );
            match &mut errors {
                Some(all) => all.combine(error),
                None => errors = Some(error),
            }
        }
    }
    errors.map_or(Ok(()), Err)
}

/// A nested message built from the payload itself (`fields:` without `from:`): its fields'
/// paths start at the payload too.
#[derive(Clone)]
struct NestedInPayload<'m> {
    /// The proto fields holding it, dotted from the integration event (`total`, `a.b`).
    proto_path: String,
    /// Its full proto name.
    message: &'m str,
}

/// Collects into `out` the fields of `fields` whose domain paths start at the payload, each
/// with the nested message it is in (`within`, `None` at the top): the fields of nested
/// messages built from the payload itself are entered, at any depth.
fn rooted_at_payload<'m>(
    fields: &'m [Field],
    within: Option<&NestedInPayload<'m>>,
    out: &mut Vec<(&'m Field, Option<NestedInPayload<'m>>)>,
) {
    for field in fields {
        out.push((field, within.cloned()));
        if let Value::Nested {
            path,
            message,
            fields: inner,
            ..
        } = &field.value
            && path.is_empty()
        {
            let nested = NestedInPayload {
                proto_path: match within {
                    Some(w) => format!("{}.{}", w.proto_path, field.proto_name),
                    None => field.proto_name.clone(),
                },
                message: &message.full_name,
            };
            rooted_at_payload(inner, Some(&nested), out);
        }
    }
}

fn domain_root(field: &Field) -> Option<&str> {
    match &field.value {
        Value::Domain { path, .. } | Value::Nested { path, .. } => path.first().map(String::as_str),
        _ => None,
    }
}

/// The table's errors as compile errors at `span`: those of the row `row` when there are
/// some, else a summary, each naming the file, line and column.
fn table_errors(analysis: &Analysis, row: &str, span: Span, manifest_dir: &Path) -> syn::Error {
    let errors: Vec<_> = analysis
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .collect();
    let of_row: Vec<_> = errors
        .iter()
        .filter(|d| {
            let text = d.message.as_str();
            text.contains(&format!("`{row}`")) || row_lines(analysis, row, d.location.as_ref())
        })
        .collect();
    let shown: Vec<String> = if of_row.is_empty() {
        vec![format!(
            "{} has {} error(s) (run `eventmap check`); the first: {}",
            shown(&analysis.file, manifest_dir),
            errors.len(),
            errors
                .first()
                .map(|d| one_line(d, manifest_dir))
                .unwrap_or_default()
        )]
    } else {
        of_row.iter().map(|d| one_line(d, manifest_dir)).collect()
    };
    let mut all = syn::Error::new(span, &shown[0]);
    for message in &shown[1..] {
        all.combine(syn::Error::new(span, message));
    }
    all
}

/// Whether `location` is in the table, inside the row `row` (between its key and the next
/// domain event key at the same indentation).
fn row_lines(analysis: &Analysis, row: &str, location: Option<&crate::SourceLocation>) -> bool {
    let (Some(location), Some(text)) = (location, analysis.sources.get(&analysis.file)) else {
        return false;
    };
    if location.file != analysis.file {
        return false;
    }
    let lines: Vec<&str> = text.lines().collect();
    let Some(start) = lines
        .iter()
        .position(|l| l.trim_end() == format!("  {row}:") || l.starts_with(&format!("  {row}: ")))
    else {
        return false;
    };
    let end = lines
        .iter()
        .enumerate()
        .skip(start + 1)
        .find(|(_, l)| {
            l.starts_with("  ")
                && !l.starts_with("   ")
                && !l.trim().is_empty()
                && !l.trim_start().starts_with('#')
        })
        .map_or(lines.len(), |(i, _)| i);
    (start + 1..=end).contains(&location.line)
}

/// A path as the crate's author wrote it (relative to `CARGO_MANIFEST_DIR` when inside it).
fn shown(path: &Path, manifest_dir: &Path) -> String {
    path.strip_prefix(manifest_dir)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// `file:line:col` with the file [`shown`] as the author wrote it.
fn located(location: &crate::SourceLocation, manifest_dir: &Path) -> String {
    format!(
        "{}:{}:{}",
        shown(&location.file, manifest_dir),
        location.line,
        location.column
    )
}

fn one_line(d: &crate::Diagnostic, manifest_dir: &Path) -> String {
    let mut text = match &d.location {
        Some(l) => format!(
            "{}: error[{}]: {}",
            located(l, manifest_dir),
            d.rule,
            d.message
        ),
        None => format!("error[{}]: {}", d.rule, d.message),
    };
    if let Some(hint) = &d.hint {
        text.push_str(&format!(" (help: {hint})"));
    }
    text
}

/// `const _: &[u8] = include_bytes!(..)` for the table and every proto: cargo then rebuilds
/// the crate when one of them changes.
fn tracked_files(analysis: &Analysis, table: &Path) -> TokenStream {
    let mut files: Vec<PathBuf> = vec![table.to_path_buf()];
    if let Some(protos) = &analysis.protos {
        files.extend(protos.source_files());
    }
    let includes = files.iter().filter_map(|f| {
        let path = f.canonicalize().ok()?;
        let path = path.to_str()?.to_owned();
        Some(
            quote_spanned! { Span::call_site() => const _: &[u8] = ::core::include_bytes!(#path); },
        )
    });
    quote! { #(#includes)* }
}

/// `r#type` is the name `type`.
fn unraw(ident: &syn::Ident) -> String {
    let text = ident.to_string();
    text.strip_prefix("r#").map_or(text.clone(), str::to_owned)
}

type Cache = HashMap<PathBuf, (Vec<(PathBuf, Option<SystemTime>)>, Arc<Analysis>)>;

/// The analysis of `table`, read once per compiler process and reused while the table and its
/// protos keep their modification times.
fn cached_analysis(table: &Path) -> Result<Arc<Analysis>, String> {
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let mut cache = cache.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((stamps, analysis)) = cache.get(table)
        && stamps.iter().all(|(path, stamp)| modified(path) == *stamp)
    {
        return Ok(Arc::clone(analysis));
    }
    let analysis = analyze(table).map_err(|e| format!("eventmap: {e}"))?;
    let mut files = vec![table.to_path_buf()];
    if let Some(protos) = &analysis.protos {
        files.extend(protos.source_files());
    }
    let stamps = files.into_iter().map(|f| {
        let stamp = modified(&f);
        (f, stamp)
    });
    let analysis = Arc::new(analysis);
    cache.insert(
        table.to_path_buf(),
        (stamps.collect(), Arc::clone(&analysis)),
    );
    Ok(analysis)
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}
