//! Table locations as comments in the formatted module: field conversions are set aside as
//! sentinels while emitting, then written back with `// mappings.yaml:L:C` on their line.

use std::cell::RefCell;

use proc_macro2::TokenStream;
use quote::quote;

use super::{EmitError, Roots, ident};
use crate::diagnostic::SourceLocation;
use crate::model::{Conversion, Field, Value};

/// Field conversions set aside while emitting text, each with the table location of its
/// mapping: the tokens hold a sentinel identifier instead (prettyplease drops comments), and
/// [`Locations::write_into`] puts each conversion back into the formatted text with its
/// location as a comment on the line rustc shows for a type error in it.
#[derive(Default)]
pub(super) struct Locations {
    entries: RefCell<Vec<Located>>,
}

/// One field conversion set aside.
pub(super) struct Located {
    /// The conversion expression.
    value: TokenStream,
    /// The comment text (without `// `).
    comment: String,
    /// For a domain enum matched variant by variant: the arguments of its `enum_number!`
    /// (the value, then one `pattern => number` per variant), which `value` holds as a
    /// sentinel. They are written one per line, the comment on the value's line: that is the
    /// line rustc shows when a variant is missing from `values:`.
    enum_args: Option<TokenStream>,
}

/// The sentinel of the `index`-th conversion: an identifier longer than prettyplease's line,
/// so that it always stands on a line of its own and never shares one with another.
pub(super) fn sentinel(index: usize) -> String {
    format!("__eventmap_located_{index:06}_{}", "_".repeat(90))
}

impl Locations {
    /// The sentinel standing for `value` of `field`, or `value` itself when `field` is not
    /// converted from the domain or the envelope, or has no location.
    pub(super) fn set_aside(
        &self,
        field: &Field,
        roots: &Roots<'_>,
        value: TokenStream,
    ) -> TokenStream {
        let Some(location) = &field.location else {
            return value;
        };
        let at = short(location);
        let mut entries = self.entries.borrow_mut();
        let index = entries.len();
        let (value, comment, enum_args) = match &field.value {
            Value::Domain {
                conversion: Conversion::Enum { named, .. },
                ..
            } => {
                let mut args = None;
                let value = replace_enum_args(value, index, &mut args);
                let row = roots.row;
                // A named mapping's variants are added where it is declared, not on the row.
                let comment = match named {
                    Some(named) => format!(
                        "{}: add this variant to `values:` of mapping `{}` (used by row `{row}` at {at})",
                        named.declared.as_ref().map_or_else(|| at.clone(), short),
                        named.name
                    ),
                    None => format!("{at}: add this variant to `values:` of row `{row}`"),
                };
                (value, comment, args)
            }
            Value::Domain { .. } | Value::Envelope(_) => (value, at, None),
            // The `match` of a oneof: its scrutinee is set aside, which is what rustc shows
            // when a variant is missing from `variants:`.
            Value::Oneof { declared, .. } => {
                let at = declared.as_ref().map_or(at, short);
                let comment = format!(
                    "{at}: add this variant to `variants:` of oneof `{}`",
                    field.proto_name
                );
                (value, comment, None)
            }
            Value::Const(_) | Value::Default | Value::Nested { .. } | Value::Mapped { .. } => {
                return value;
            }
        };
        let sentinel = ident(&sentinel(index));
        entries.push(Located {
            value,
            comment,
            enum_args,
        });
        quote!(#sentinel)
    }

    /// `formatted` with every sentinel replaced by its conversion, followed on its line by
    /// `// <location>`.
    pub(super) fn write_into(&self, formatted: &str) -> Result<String, EmitError> {
        let entries = self.entries.borrow();
        let mut out = String::with_capacity(formatted.len() + entries.len() * 40);
        let mut found = 0;
        for line in formatted.lines() {
            let Some((start, end, index)) = sentinel_in(line)? else {
                out.push_str(line);
                out.push('\n');
                continue;
            };
            let entry = entries
                .get(index)
                .ok_or_else(|| EmitError(format!("unknown sentinel in `{line}`")))?;
            found += 1;
            write_located(&mut out, line, (start, end), index, entry)?;
            out.push('\n');
        }
        if found != entries.len() {
            return Err(EmitError(format!(
                "{} of {} field conversions were not found after formatting",
                entries.len() - found,
                entries.len()
            )));
        }
        Ok(out)
    }
}

/// `file:line:column` of `location`, with the file's name only (the generated module's
/// comments are read next to the table).
fn short(location: &SourceLocation) -> String {
    let file = location.file.file_name().map_or_else(
        || location.file.display().to_string(),
        |f| f.to_string_lossy().into_owned(),
    );
    format!("{file}:{}:{}", location.line, location.column)
}

/// Where the sentinel of `line` is (`start`, `end`) and the index of its conversion, when the
/// line has one.
fn sentinel_in(line: &str) -> Result<Option<(usize, usize, usize)>, EmitError> {
    let Some(start) = line.find("__eventmap_located_") else {
        return Ok(None);
    };
    let end = line[start..]
        .find(|c: char| c != '_' && !c.is_ascii_alphanumeric())
        .map_or(line.len(), |n| start + n);
    let index: usize = line[start + "__eventmap_located_".len()..end]
        .trim_end_matches('_')
        .parse()
        .map_err(|_| EmitError(format!("unknown sentinel in `{line}`")))?;
    Ok(Some((start, end, index)))
}

/// Writes `line` with its sentinel (at `start..end`, the `index`-th conversion) replaced by
/// the conversion of `entry`, and the comment at the end of the conversion's line.
fn write_located(
    out: &mut String,
    line: &str,
    (start, end): (usize, usize),
    index: usize,
    entry: &Located,
) -> Result<(), EmitError> {
    let indent = &line[..line.len() - line.trim_start().len()];
    let text = one_line(&expression_lines(&entry.value)?);
    let (before, after) = (&line[..start], &line[end..]);
    out.push_str(before);
    match &entry.enum_args {
        Some(args) => {
            write_enum_number(out, indent, &text, (args, index), &entry.comment)?;
            out.push_str(after);
        }
        None => {
            out.push_str(&text);
            out.push_str(after);
            out.push_str(" // ");
            out.push_str(&entry.comment);
        }
    }
    Ok(())
}

/// Writes the conversion `text` of a domain enum with the arguments of its `enum_number!`
/// (`args`, of the `index`-th conversion) one per line, the comment on the value's line.
fn write_enum_number(
    out: &mut String,
    indent: &str,
    text: &str,
    (args, index): (&TokenStream, usize),
    comment: &str,
) -> Result<(), EmitError> {
    let marker = enum_args_sentinel(index);
    let (head, tail) = text
        .split_once(&marker)
        .ok_or_else(|| EmitError(format!("no `enum_number!` arguments in `{text}`")))?;
    let mut args = split_commas(args).into_iter();
    let value = args.next().unwrap_or_default();
    out.push_str(head);
    out.push('\n');
    let value = one_line(&expression_lines(&value)?);
    out.push_str(&format!("{indent}    {value}, // {comment}\n"));
    for arm in args {
        let lines = expression_lines(&quote! { match value { #arm } })?;
        let arm = one_line(&lines[1..lines.len().saturating_sub(1)]);
        out.push_str(&format!("{indent}    {},\n", arm.trim_end_matches(',')));
    }
    out.push_str(indent);
    out.push_str(tail);
    Ok(())
}

/// The sentinel standing for the arguments of the `index`-th conversion's `enum_number!`.
pub(super) fn enum_args_sentinel(index: usize) -> String {
    format!("__eventmap_enum_args_{index:06}")
}

/// `tokens` with the arguments of `enum_number!(..)` replaced by [`enum_args_sentinel`], and
/// those arguments in `args`.
pub(super) fn replace_enum_args(
    tokens: TokenStream,
    index: usize,
    args: &mut Option<TokenStream>,
) -> TokenStream {
    use proc_macro2::{Group, TokenTree};
    let mut out = Vec::new();
    for tree in tokens {
        let tree = match tree {
            TokenTree::Group(group) => {
                let is_call = matches!(
                    out.as_slice(),
                    [.., TokenTree::Ident(name), TokenTree::Punct(bang)]
                        if name == "enum_number" && bang.as_char() == '!'
                );
                if is_call && args.is_none() {
                    *args = Some(group.stream());
                    let sentinel = ident(&enum_args_sentinel(index));
                    TokenTree::Group(Group::new(group.delimiter(), quote!(#sentinel)))
                } else {
                    let inner = replace_enum_args(group.stream(), index, args);
                    let mut replaced = Group::new(group.delimiter(), inner);
                    replaced.set_span(group.span());
                    TokenTree::Group(replaced)
                }
            }
            other => other,
        };
        out.push(tree);
    }
    out.into_iter().collect()
}

/// `tokens` split at their top-level commas.
pub(super) fn split_commas(tokens: &TokenStream) -> Vec<TokenStream> {
    let mut parts = vec![TokenStream::new()];
    for tree in tokens.clone() {
        match &tree {
            proc_macro2::TokenTree::Punct(p) if p.as_char() == ',' => {
                parts.push(TokenStream::new());
            }
            _ => {
                if let Some(part) = parts.last_mut() {
                    part.extend([tree]);
                }
            }
        }
    }
    parts.retain(|p| !p.is_empty());
    parts
}

/// `expr` formatted by prettyplease, one string per line, indented relative to its first line.
pub(super) fn expression_lines(expr: &TokenStream) -> Result<Vec<String>, EmitError> {
    let file: syn::File =
        syn::parse2(quote! { fn f() { let _x = #expr; } }).map_err(|e| EmitError(e.to_string()))?;
    let text = prettyplease::unparse(&file);
    let (Some(start), Some(end)) = (text.find("let _x = "), text.rfind(';')) else {
        return Err(EmitError(format!("unexpected formatting: {text}")));
    };
    Ok(text[start + "let _x = ".len()..end]
        .lines()
        .enumerate()
        .map(|(n, l)| {
            if n == 0 {
                l.to_owned()
            } else {
                l.strip_prefix("    ").unwrap_or(l).to_owned()
            }
        })
        .collect())
}

/// Lines of an expression joined into one: no space inside brackets (and generic argument
/// lists, the only place prettyplease breaks a line at `<`) or before a method call, no
/// trailing comma before a closing bracket.
pub(super) fn one_line(lines: &[String]) -> String {
    let mut out = String::new();
    for piece in lines.iter().map(|l| l.trim()).filter(|l| !l.is_empty()) {
        // Generic arguments broken over lines (`field::<` ... `>(..)`) are brackets too.
        let closes = piece.starts_with([')', ']', '>']);
        if closes && out.ends_with(',') {
            out.pop();
        }
        // A method chain broken before each `.`.
        let method = piece.starts_with('.') && !piece.starts_with("..");
        if !(out.is_empty() || closes || method || out.ends_with(['(', '[', '<'])) {
            out.push(' ');
        }
        out.push_str(piece);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &[&str]) -> Vec<String> {
        text.iter().map(|l| (*l).to_owned()).collect()
    }

    #[test]
    fn one_line_joins_brackets_generics_and_method_chains() {
        let call = lines(&[
            "::eventmap::convert::field::<",
            "    _,",
            "    ::std::string::String,",
            ">(&payload.customer_id, \"customer_id\")?",
        ]);
        assert_eq!(
            one_line(&call),
            "::eventmap::convert::field::<_, ::std::string::String>(&payload.customer_id, \"customer_id\")?"
        );
        let chain = lines(&[
            "payload",
            "    .history",
            "    .iter()",
            "    .map(|value| {",
            "        f(value, ..)",
            "    })",
            "    .collect()",
        ]);
        assert_eq!(
            one_line(&chain),
            "payload.history.iter().map(|value| { f(value, ..) }).collect()"
        );
    }

    #[test]
    fn enum_arguments_are_set_aside_and_split() {
        let mut args = None;
        let value = quote! { ::core::option::Option::Some(::eventmap::convert::enum_number!(&payload.level, a::Level::Low { .. } => 0i32, a::Level::High { .. } => 1i32,)) };
        let replaced = replace_enum_args(value, 7, &mut args);
        let text = replaced.to_string();
        assert!(
            text.ends_with("enum_number ! (__eventmap_enum_args_000007))"),
            "{text}"
        );
        assert!(!text.contains("payload"), "{text}");
        let parts: Vec<String> = split_commas(&args.expect("the arguments"))
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            parts,
            [
                "& payload . level",
                "a :: Level :: Low { .. } => 0i32",
                "a :: Level :: High { .. } => 1i32"
            ]
        );
    }
}
