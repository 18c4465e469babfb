//! Finds what the event store cannot write as JSON in a domain event, before it writes it: a
//! non-finite float (NaN, +inf, -inf), and an integer beyond 64 bits. JSON has no such
//! floats (RFC 8259, section 6) and serde_json writes them as `null`, which reads back as
//! `None` for an `Option` field (the value silently lost) and fails for a plain float field
//! (the aggregate could no longer be loaded); serde_json's `Value` holds integers of
//! `i64::MIN..=u64::MAX` only, and fails on an `i128`/`u128` beyond, without naming the field.
//! The store refuses the append instead
//! ([`RegistryError::NonFinite`](super::RegistryError::NonFinite),
//! [`RegistryError::IntegerOutOfRange`](super::RegistryError::IntegerOutOfRange)), naming the
//! field.

use std::fmt;

use serde::Serialize;
use serde::ser;

/// A value the store cannot write as JSON.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Unwritable {
    /// A NaN or infinite float.
    NonFinite(f64),
    /// An `i128`/`u128` outside `i64::MIN..=u64::MAX`, in decimal.
    WideInteger(String),
}

/// The path (`legs[2].fuel_used_litres`, `weights["gross"]`) and the value of the first
/// value in `value`, in serialization order, that JSON as the store writes it cannot hold;
/// `None` when there is none. A `Serialize` implementation that fails is not reported here
/// (serde_json reports it).
pub(super) fn first_unwritable<T: Serialize + ?Sized>(value: &T) -> Option<(String, Unwritable)> {
    let mut probe = Probe::default();
    match value.serialize(&mut probe) {
        Err(Stop::Found { path, value }) => Some((path, value)),
        Ok(()) | Err(Stop::Custom) => None,
    }
}

/// Why the walk stopped.
#[derive(Debug)]
enum Stop {
    /// A value JSON cannot hold, at this path.
    Found { path: String, value: Unwritable },
    /// The value's own `Serialize` failed.
    Custom,
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Found { path, value } => write!(f, "{path} is {value:?}"),
            Self::Custom => f.write_str("the value's Serialize failed"),
        }
    }
}

impl std::error::Error for Stop {}

impl ser::Error for Stop {
    fn custom<M: fmt::Display>(_: M) -> Self {
        Self::Custom
    }
}

/// One step of the path to the value being walked.
#[derive(Debug)]
enum Segment {
    Field(&'static str),
    Index(usize),
    Key(String),
}

/// A serializer that writes nothing and stops at the first non-finite float.
#[derive(Debug, Default)]
struct Probe {
    path: Vec<Segment>,
}

impl Probe {
    fn float(&self, value: f64) -> Result<(), Stop> {
        if value.is_finite() {
            return Ok(());
        }
        Err(self.found(Unwritable::NonFinite(value)))
    }

    /// An integer that serde_json's `Value` holds: `i64::MIN..=u64::MAX`.
    fn integer(&self, value: i128) -> Result<(), Stop> {
        if i64::try_from(value).is_ok() || u64::try_from(value).is_ok() {
            return Ok(());
        }
        Err(self.found(Unwritable::WideInteger(value.to_string())))
    }

    /// `value` found at the current path.
    fn found(&self, value: Unwritable) -> Stop {
        let mut path = String::new();
        for segment in &self.path {
            match segment {
                Segment::Field(name) if path.is_empty() => path.push_str(name),
                Segment::Field(name) => {
                    path.push('.');
                    path.push_str(name);
                }
                Segment::Index(index) => path.push_str(&format!("[{index}]")),
                Segment::Key(key) => path.push_str(&format!("[{key}]")),
            }
        }
        if path.is_empty() {
            path.push_str("the payload");
        }
        Stop::Found { path, value }
    }

    fn nested<T: Serialize + ?Sized>(&mut self, segment: Segment, value: &T) -> Result<(), Stop> {
        self.path.push(segment);
        let result = value.serialize(&mut *self);
        self.path.pop();
        result
    }

    /// The next element of the sequence whose index is the last path segment.
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Stop> {
        value.serialize(&mut *self)?;
        if let Some(Segment::Index(index)) = self.path.last_mut() {
            *index += 1;
        }
        Ok(())
    }
}

impl ser::Serializer for &mut Probe {
    type Ok = ();
    type Error = Stop;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    fn serialize_bool(self, _: bool) -> Result<(), Stop> {
        Ok(())
    }
    fn serialize_i8(self, _: i8) -> Result<(), Stop> {
        Ok(())
    }
    fn serialize_i16(self, _: i16) -> Result<(), Stop> {
        Ok(())
    }
    fn serialize_i32(self, _: i32) -> Result<(), Stop> {
        Ok(())
    }
    fn serialize_i64(self, _: i64) -> Result<(), Stop> {
        Ok(())
    }
    fn serialize_i128(self, value: i128) -> Result<(), Stop> {
        self.integer(value)
    }
    fn serialize_u8(self, _: u8) -> Result<(), Stop> {
        Ok(())
    }
    fn serialize_u16(self, _: u16) -> Result<(), Stop> {
        Ok(())
    }
    fn serialize_u32(self, _: u32) -> Result<(), Stop> {
        Ok(())
    }
    fn serialize_u64(self, _: u64) -> Result<(), Stop> {
        Ok(())
    }
    fn serialize_u128(self, value: u128) -> Result<(), Stop> {
        match i128::try_from(value) {
            Ok(value) => self.integer(value),
            Err(_) => Err(self.found(Unwritable::WideInteger(value.to_string()))),
        }
    }
    fn serialize_f32(self, value: f32) -> Result<(), Stop> {
        self.float(f64::from(value))
    }
    fn serialize_f64(self, value: f64) -> Result<(), Stop> {
        self.float(value)
    }
    fn serialize_char(self, _: char) -> Result<(), Stop> {
        Ok(())
    }
    fn serialize_str(self, _: &str) -> Result<(), Stop> {
        Ok(())
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<(), Stop> {
        Ok(())
    }
    fn serialize_none(self) -> Result<(), Stop> {
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Stop> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Stop> {
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Stop> {
        Ok(())
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Result<(), Stop> {
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Stop> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Stop> {
        self.nested(Segment::Field(variant), value)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self, Stop> {
        self.path.push(Segment::Index(0));
        Ok(self)
    }
    fn serialize_tuple(self, len: usize) -> Result<Self, Stop> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Self, Stop> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Self, Stop> {
        self.path.push(Segment::Field(variant));
        self.path.push(Segment::Index(0));
        Ok(self)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self, Stop> {
        // The key of the entry being walked, replaced by each `serialize_key`.
        self.path.push(Segment::Key(String::new()));
        Ok(self)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, Stop> {
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Self, Stop> {
        self.path.push(Segment::Field(variant));
        Ok(self)
    }
}

/// The sequence-like compound serializers: each element in turn; at the end, the segments
/// that `serialize_seq`/`_tuple_variant` pushed (index, and the variant's name) are popped.
macro_rules! sequence {
    ($($trait:ident :: $method:ident, pops $pops:literal);* $(;)?) => {$(
        impl ser::$trait for &mut Probe {
            type Ok = ();
            type Error = Stop;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Stop> {
                self.element(value)
            }
            fn end(self) -> Result<(), Stop> {
                self.path.truncate(self.path.len().saturating_sub($pops));
                Ok(())
            }
        }
    )*};
}

sequence!(
    SerializeSeq::serialize_element, pops 1;
    SerializeTuple::serialize_element, pops 1;
    SerializeTupleStruct::serialize_field, pops 1;
    SerializeTupleVariant::serialize_field, pops 2;
);

impl ser::SerializeMap for &mut Probe {
    type Ok = ();
    type Error = Stop;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Stop> {
        // A float key is walked too; the path shows the key as JSON would (quoted string,
        // number), or `?` for a key JSON cannot hold.
        key.serialize(&mut **self)?;
        let shown = serde_json::to_string(key).unwrap_or_else(|_| "?".to_owned());
        if let Some(Segment::Key(current)) = self.path.last_mut() {
            *current = shown;
        }
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Stop> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<(), Stop> {
        self.path.pop();
        Ok(())
    }
}

/// The struct serializers: each field nested under its name; at the end, the variant's name
/// that `serialize_struct_variant` pushed is popped.
macro_rules! fields {
    ($($trait:ident, pops $pops:literal);* $(;)?) => {$(
        impl ser::$trait for &mut Probe {
            type Ok = ();
            type Error = Stop;
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<(), Stop> {
                self.nested(Segment::Field(key), value)
            }
            fn end(self) -> Result<(), Stop> {
                self.path.truncate(self.path.len().saturating_sub($pops));
                Ok(())
            }
        }
    )*};
}

fields!(
    SerializeStruct, pops 0;
    SerializeStructVariant, pops 1;
);

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::{Unwritable, first_unwritable};

    fn first_non_finite<T: serde::Serialize>(value: &T) -> Option<(String, f64)> {
        match first_unwritable(value) {
            Some((path, Unwritable::NonFinite(value))) => Some((path, value)),
            _ => None,
        }
    }

    #[derive(serde::Serialize)]
    struct Stock {
        sku: String,
        serials: Vec<u128>,
        delta: Option<i128>,
    }

    #[test]
    fn an_integer_beyond_64_bits_is_named_by_its_path() {
        let mut stock = Stock {
            sku: "s".into(),
            serials: vec![1, u128::from(u64::MAX)],
            delta: Some(i128::from(i64::MIN)),
        };
        assert_eq!(first_unwritable(&stock), None);
        stock.serials.push(u128::from(u64::MAX) + 1);
        assert_eq!(
            first_unwritable(&stock),
            Some((
                "serials[2]".to_owned(),
                Unwritable::WideInteger("18446744073709551616".into())
            ))
        );
        stock.serials.pop();
        stock.delta = Some(i128::from(i64::MIN) - 1);
        assert_eq!(
            first_unwritable(&stock),
            Some((
                "delta".to_owned(),
                Unwritable::WideInteger("-9223372036854775809".into())
            ))
        );
        assert!(
            serde_json::to_value(&stock).is_err(),
            "what serde_json refuses"
        );
    }

    #[derive(serde::Serialize)]
    struct Leg {
        fuel_litres: f32,
        weights: BTreeMap<String, f64>,
    }

    #[derive(serde::Serialize)]
    enum Reading {
        Weight { kg: Option<f64> },
        Pair(f64, f64),
    }

    #[derive(serde::Serialize)]
    struct Shipment {
        id: String,
        legs: Vec<Leg>,
        reading: Option<Reading>,
    }

    fn shipment() -> Shipment {
        Shipment {
            id: "s-1".into(),
            legs: vec![
                Leg {
                    fuel_litres: 1.5,
                    weights: BTreeMap::from([("gross".into(), 2.0)]),
                },
                Leg {
                    fuel_litres: -0.0,
                    weights: BTreeMap::from([("gross".into(), 3.0), ("net".into(), 1.0)]),
                },
            ],
            reading: Some(Reading::Weight { kg: Some(f64::MAX) }),
        }
    }

    #[test]
    fn finite_values_pass() {
        assert_eq!(first_non_finite(&shipment()), None);
        assert_eq!(first_non_finite(&f64::MIN_POSITIVE), None);
    }

    #[test]
    fn the_first_non_finite_float_is_named_by_its_path() {
        let mut nan = shipment();
        nan.legs[1].fuel_litres = f32::NAN;
        let (path, value) = first_non_finite(&nan).expect("found");
        assert_eq!(path, "legs[1].fuel_litres");
        assert!(value.is_nan());

        let mut inf = shipment();
        inf.legs[1].weights.insert("net".into(), f64::INFINITY);
        assert_eq!(
            first_non_finite(&inf),
            Some((r#"legs[1].weights["net"]"#.to_owned(), f64::INFINITY))
        );

        let mut variant = shipment();
        variant.reading = Some(Reading::Weight {
            kg: Some(f64::NEG_INFINITY),
        });
        assert_eq!(
            first_non_finite(&variant),
            Some(("reading.Weight.kg".to_owned(), f64::NEG_INFINITY))
        );

        let mut pair = shipment();
        pair.reading = Some(Reading::Pair(1.0, f64::INFINITY));
        assert_eq!(
            first_non_finite(&pair),
            Some(("reading.Pair[1]".to_owned(), f64::INFINITY))
        );

        assert_eq!(
            first_non_finite(&f32::INFINITY),
            Some(("the payload".to_owned(), f64::INFINITY))
        );
    }
}
