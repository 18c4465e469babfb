//! Field sources: where one proto field's value comes from, and oneof variants.

use std::fmt;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_saphyr::Spanned;

use super::Key;

/// Where one proto field's value comes from.
#[derive(Debug)]
pub enum FieldSource {
    /// `default`: the field is left at its proto default, on purpose.
    Default,
    /// A mapping with exactly one of `from`, `envelope`, `const`, `default`.
    Spec(Box<FieldSpec>),
}

/// The mapping form of a field source.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    /// A dotted path into the domain value in scope (the domain event's payload, a collection
    /// element, a map value, an enum variant's content), e.g. `total.currency`; `self` is that
    /// value itself, which is also what a spec with `with`, `fields` or `mapping` and no
    /// `from` takes.
    #[serde(default)]
    #[schemars(schema_with = "super::schema::domain_path")]
    pub from: Option<Spanned<String>>,
    /// A conversion function applied to the `from` value (by reference), e.g.
    /// `crate::money::to_cents`; without `from`, to the whole domain value in scope.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub with: Option<Spanned<String>>,
    /// An envelope value: `event_id`, `integration_event_id`, `event_name`, `aggregate_id`,
    /// `aggregate_name`, `aggregate_version`, `occurred_at`.
    #[serde(default)]
    #[schemars(schema_with = "super::schema::envelope_value")]
    pub envelope: Option<Spanned<String>>,
    /// A constant, typed by the proto field: strings and bytes as written (bytes as the
    /// text's UTF-8; others through a `with:` function), integers and floats parsed and
    /// range-checked, `true`/`false`, enum values by their proto name.
    #[serde(default, rename = "const")]
    #[schemars(schema_with = "super::schema::scalar")]
    pub constant: Option<Spanned<String>>,
    /// `default: true`, the long form of `default`: the field is left at its proto default,
    /// on purpose.
    #[serde(default)]
    #[schemars(with = "Option<bool>")]
    pub default: Option<Spanned<bool>>,
    /// A nested message, proto field name -> field source: for a `repeated` message field,
    /// one message per element of the domain collection; for a `map` field, one message per
    /// value of the domain map; for a singular message field, one message.
    #[serde(default)]
    #[schemars(with = "Option<IndexMap<Key, FieldSource>>")]
    pub fields: Option<IndexMap<Key, Spanned<FieldSource>>>,
    /// `checked: true`: convert with a range check (`TryFrom`), for narrowings such as
    /// `u32` into `int32` that `IntoProto` does not offer.
    #[serde(default)]
    #[schemars(with = "Option<bool>")]
    pub checked: Option<Spanned<bool>>,
    /// Rust path of the domain enum mapped onto a proto enum field with `values`.
    #[serde(default, rename = "enum")]
    #[schemars(with = "Option<String>")]
    pub enum_type: Option<Spanned<String>>,
    /// Domain enum variant -> proto enum value name (as written in the `.proto`, never
    /// prost's Rust name).
    #[serde(default)]
    #[schemars(with = "Option<IndexMap<Key, String>>")]
    pub values: Option<IndexMap<Key, Spanned<String>>>,
    /// On a oneof's name: domain enum variant -> the oneof member it fills, with the member's
    /// value taken from the variant's content (or `none`: the oneof is left unset).
    #[serde(default)]
    #[schemars(with = "Option<IndexMap<Key, VariantTarget>>")]
    pub variants: Option<IndexMap<Key, Spanned<VariantTarget>>>,
    /// The name of a mapping declared under `mappings:`, used for this field (or each of its
    /// elements or map values).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub mapping: Option<Spanned<String>>,
}

/// What one domain enum variant becomes in a oneof (`variants:`).
#[derive(Debug)]
pub enum VariantTarget {
    /// `none`: the oneof is left unset for this variant.
    Unset,
    /// `{ member: <field source> }`: the member it fills (exactly one entry, checked by the
    /// validator) and where the member's value comes from, in the variant's content.
    Member(IndexMap<Key, Spanned<FieldSource>>),
}

impl<'de> Deserialize<'de> for VariantTarget {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(KeywordOrMap {
            keyword: "none",
            keyword_value: VariantTarget::Unset,
            expecting: "`none` or `{ <oneof member>: <field source> }`",
            from_map: VariantTarget::Member,
            map: std::marker::PhantomData,
        })
    }
}

impl<'de> Deserialize<'de> for FieldSource {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(KeywordOrMap {
            keyword: "default",
            keyword_value: FieldSource::Default,
            expecting: "`default` or a mapping with one of `from`, `envelope`, `const`, `default`",
            from_map: |spec: FieldSpec| FieldSource::Spec(Box::new(spec)),
            map: std::marker::PhantomData,
        })
    }
}

/// A value written either as one keyword (`default`, `none`) or as a mapping read as `M`.
struct KeywordOrMap<M, T> {
    /// The keyword.
    keyword: &'static str,
    /// The value the keyword stands for.
    keyword_value: T,
    /// What the value may be, for serde's error.
    expecting: &'static str,
    /// The value of a mapping.
    from_map: fn(M) -> T,
    map: std::marker::PhantomData<M>,
}

impl<'de, M: Deserialize<'de>, T> Visitor<'de> for KeywordOrMap<M, T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<T, E> {
        if value == self.keyword {
            Ok(self.keyword_value)
        } else {
            Err(E::invalid_value(de::Unexpected::Str(value), &self))
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        M::deserialize(de::value::MapAccessDeserializer::new(map)).map(self.from_map)
    }
}
