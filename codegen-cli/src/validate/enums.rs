//! Enum conversions: `enum:` + `values:` onto a proto enum field.

use indexmap::IndexMap;
use prost_reflect::{EnumDescriptor, FieldDescriptor, Kind};
use serde_saphyr::Spanned;

use super::Validator;
use super::proto_types::describe;
use super::suggest::{list, suggest};
use crate::model::{Conversion, NamedEnum};
use crate::rules;
use crate::rust_names;
use crate::table::Key;

impl Validator<'_> {
    /// `enum:` + `values:`: every variant maps to a proto value that exists, by its proto name.
    /// `named` is the named mapping (`mappings.<name>`) they are written in, when they are
    /// not written on the row.
    pub(super) fn enum_conversion(
        &mut self,
        field: &FieldDescriptor,
        rust_type: &Spanned<String>,
        values: &IndexMap<Key, Spanned<String>>,
        named: Option<&Key>,
    ) -> Option<Conversion> {
        let Kind::Enum(proto_enum) = field.kind() else {
            self.cx.error(
                rules::ENUM_NOT_ENUM,
                rust_type.referenced,
                format!(
                    "`enum` maps onto proto enum fields; `{}` is {}",
                    field.name(),
                    describe(field)
                ),
            );
            return None;
        };
        if !self.rust_path(rust_type, "domain enum") {
            return None;
        }
        if values.is_empty() {
            self.cx
                .error(
                    rules::ENUM_VALUE,
                    rust_type.referenced,
                    "`values` maps no variant",
                )
                .hint =
                Some("map every variant of the domain enum: `Variant: PROTO_VALUE_NAME`".into());
            return None;
        }
        let mut arms = Vec::new();
        let mut ok = true;
        for (variant, value) in values {
            match self.enum_arm(&proto_enum, variant, value) {
                Some(arm) => arms.push(arm),
                None => ok = false,
            }
        }
        let named = named.map(|key| NamedEnum {
            name: key.as_str().to_owned(),
            declared: self.cx.loc(rust_type.referenced),
        });
        ok.then(|| Conversion::Enum {
            rust_type: rust_type.value.clone(),
            arms,
            named,
        })
    }

    /// Whether `variant`, a key of `values:` or `variants:`, can name a variant of the domain
    /// enum (a Rust identifier); `invalid-name` at the key when not.
    pub(super) fn variant_name(&mut self, variant: &Key) -> bool {
        let valid = rust_names::is_identifier(variant.as_str());
        if !valid {
            self.cx.error(
                rules::INVALID_NAME,
                variant.location(),
                format!("`{}` is not a Rust enum variant name", variant.as_str()),
            );
        }
        valid
    }

    /// One arm of `values:`: the domain `variant`, the proto value name and its number.
    fn enum_arm(
        &mut self,
        proto_enum: &EnumDescriptor,
        variant: &Key,
        value: &Spanned<String>,
    ) -> Option<(String, String, i32)> {
        if !self.variant_name(variant) {
            return None;
        }
        match proto_enum.get_value_by_name(&value.value) {
            Some(v) => Some((variant.as_str().to_owned(), v.name().to_owned(), v.number())),
            None => {
                self.unknown_enum_value(proto_enum, value);
                None
            }
        }
    }

    /// The error for `value`, which is no value name of `proto_enum`.
    fn unknown_enum_value(&mut self, proto_enum: &EnumDescriptor, value: &Spanned<String>) {
        let names: Vec<String> = proto_enum.values().map(|v| v.name().to_owned()).collect();
        let hint = suggest(&value.value, names.iter().map(String::as_str))
            .map(|s| format!("did you mean `{s}`?"))
            .unwrap_or_else(|| format!("values of `{}`: {}", proto_enum.full_name(), list(&names)));
        self.cx.error(
            rules::ENUM_VALUE,
            value.referenced,
            format!(
                "proto enum `{}` has no value `{}` (values are matched by their proto names, not prost's Rust names)",
                proto_enum.full_name(),
                value.value
            ),
        )
        .hint = Some(hint);
    }
}
