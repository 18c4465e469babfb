//! Named mappings (`mappings:`).

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::Key;
use super::fields::FieldSource;
use super::fields::VariantTarget;

/// One named mapping (`mappings.<name>`). Which keys it has says what it is:
/// - `enum` + `values`: a domain enum onto a proto enum, used on enum fields;
/// - `enum` + `variants`: a domain enum onto a proto `oneof`, used on the oneof's name;
/// - `message` + `type` + `fields`: a domain type onto a proto message, used on message
///   fields (singular, `optional`, `repeated`, map values, oneof members).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NamedMapping {
    /// Rust path of the domain enum (an enum mapping with `values`, a oneof mapping with
    /// `variants`).
    #[serde(default, rename = "enum")]
    #[schemars(with = "Option<String>")]
    pub enum_type: Option<Spanned<String>>,
    /// Domain enum variant -> proto enum value name.
    #[serde(default)]
    #[schemars(with = "Option<IndexMap<Key, String>>")]
    pub values: Option<IndexMap<Key, Spanned<String>>>,
    /// Domain enum variant -> the oneof member it fills (or `none`).
    #[serde(default)]
    #[schemars(with = "Option<IndexMap<Key, VariantTarget>>")]
    pub variants: Option<IndexMap<Key, Spanned<VariantTarget>>>,
    /// Full name of the proto message that a message mapping builds.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub message: Option<Spanned<String>>,
    /// Rust path of the domain type that a message mapping builds it from.
    #[serde(default, rename = "type")]
    #[schemars(with = "Option<String>")]
    pub rust_type: Option<Spanned<String>>,
    /// Proto field name -> where its value comes from, in the domain type.
    #[serde(default)]
    #[schemars(with = "Option<IndexMap<Key, FieldSource>>")]
    pub fields: Option<IndexMap<Key, Spanned<FieldSource>>>,
}
