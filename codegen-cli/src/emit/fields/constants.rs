//! Fields set to a constant of the table.

use proc_macro2::{Literal as TokenLiteral, TokenStream};
use quote::quote;

use super::wrap;
use crate::model::{Field, Literal, Shape};

/// The constant `literal`, as prost represents the field.
pub(super) fn const_value(field: &Field, literal: &Literal) -> TokenStream {
    let lit = const_tokens(literal);
    match field.shape {
        Shape::Optional => quote! { ::core::option::Option::Some(#lit) },
        _ => wrap(field.shape, lit),
    }
}

fn const_tokens(literal: &Literal) -> TokenStream {
    match literal {
        Literal::String(s) => quote! { ::std::string::String::from(#s) },
        Literal::Bytes(s) => {
            let bytes = TokenLiteral::byte_string(s.as_bytes());
            quote! { ::std::vec::Vec::from(&#bytes[..]) }
        }
        Literal::Bool(b) => quote! { #b },
        Literal::Int { value, ty } => {
            let lit = match *ty {
                "i32" => TokenLiteral::i32_suffixed(*value as i32),
                "i64" => TokenLiteral::i64_suffixed(*value as i64),
                "u32" => TokenLiteral::u32_suffixed(*value as u32),
                _ => TokenLiteral::u64_suffixed(*value as u64),
            };
            quote! { #lit }
        }
        Literal::Float { value, ty } => {
            let lit = if *ty == "f32" {
                TokenLiteral::f32_suffixed(*value as f32)
            } else {
                TokenLiteral::f64_suffixed(*value)
            };
            quote! { #lit }
        }
        Literal::Enum { name, number } => {
            // prost stores enum fields as `i32`; the value is chosen by its proto name in the
            // table and written as its number, never through prost's Rust variant names.
            let _ = name;
            let lit = TokenLiteral::i32_suffixed(*number);
            quote! { #lit }
        }
    }
}
