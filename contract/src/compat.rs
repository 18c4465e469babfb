//! Whether a consumer compiled with one contract reads correctly what a producer writes with
//! another: [`compatibility`] and the [`Break`]s it finds.
//!
//! The rules are the wire rules of `eventmap check --against` (docs/checks.md) seen from the
//! reading side. For every field the consumer's message has, by number, the producer's
//! message must have a field with that number, of the same type (the same scalar; for a
//! message, map entry or group, the same rules recursively, whatever the type's name; for an
//! enum, no value the consumer does not know), and the same cardinality (repeated or not; a
//! field the consumer requires must be required by the producer too). A field the producer
//! writes and the consumer does not know is fine (the consumer skips it), and so are a
//! renamed field or type with the same number and type, and presence changes between
//! `optional` and implicit.

use std::collections::HashSet;
use std::fmt;

use crate::schema::{FieldSchema, Label, MessageSchema, Schema};

/// One reason why a consumer's contract cannot read what a producer's writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    /// Full name of the consumer's message that has the field.
    pub message: String,
    /// The consumer's name of the field (empty when the problem is the message itself).
    pub field: String,
    /// The field number (0 when the problem is the message itself).
    pub number: i32,
    /// What is wrong.
    pub problem: Problem,
}

/// What is wrong with one field; see [`Break`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// The producer's message has no field with this number: the consumer would always read
    /// the default.
    NotWritten,
    /// The field has another type in the producer's contract.
    TypeChanged {
        /// The consumer's type (`int64`, `message a.B`, ...).
        consumer: String,
        /// The producer's type.
        producer: String,
    },
    /// The field is repeated on one side only, or the consumer requires it and the producer
    /// does not.
    LabelChanged {
        /// The consumer's label.
        consumer: Label,
        /// The producer's label.
        producer: Label,
    },
    /// The producer's enum has a value the consumer's does not know.
    UnknownEnumValue {
        /// Full name of the producer's enum.
        enumeration: String,
        /// The value's name.
        name: String,
        /// The value's number.
        number: i32,
    },
    /// A schema names a type it does not contain (a schema not made by this crate).
    MissingType {
        /// `consumer` or `producer`.
        side: &'static str,
        /// The type's full name.
        name: String,
    },
}

impl fmt::Display for Break {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "`{}`: ", self.message)?;
        } else {
            write!(
                f,
                "field `{}` (number {}) of `{}`: ",
                self.field, self.number, self.message
            )?;
        }
        match &self.problem {
            Problem::NotWritten => {
                write!(f, "the producer's contract has no field {}", self.number)
            }
            Problem::TypeChanged { consumer, producer } => write!(
                f,
                "the consumer reads `{consumer}`, the producer writes `{producer}`"
            ),
            Problem::LabelChanged { consumer, producer } => write!(
                f,
                "the consumer reads it `{}`, the producer writes it `{}`",
                consumer.as_str(),
                producer.as_str()
            ),
            Problem::UnknownEnumValue {
                enumeration,
                name,
                number,
            } => write!(
                f,
                "the producer's enum `{enumeration}` has the value `{name}` = {number}, which the consumer does not know"
            ),
            Problem::MissingType { side, name } => {
                write!(
                    f,
                    "the {side}'s contract names `{name}` but does not contain it"
                )
            }
        }
    }
}

/// The breaks between what a consumer compiled with `consumer` reads and what a producer
/// publishing with `producer` writes, in the order found (the root message's fields by
/// number, then the types they reach, depth first). Empty: the consumer reads every message
/// of the producer correctly.
pub fn compatibility(consumer: &Schema, producer: &Schema) -> Vec<Break> {
    let mut walk = Walk {
        consumer,
        producer,
        seen: HashSet::new(),
        breaks: Vec::new(),
    };
    walk.messages(&consumer.root, &producer.root);
    walk.breaks
}

struct Walk<'a> {
    consumer: &'a Schema,
    producer: &'a Schema,
    /// Pairs of (consumer type, producer type) already compared (messages and enums).
    seen: HashSet<(&'a str, &'a str)>,
    breaks: Vec<Break>,
}

impl<'a> Walk<'a> {
    fn messages(&mut self, consumer: &'a str, producer: &'a str) {
        if !self.seen.insert((consumer, producer)) {
            return;
        }
        let Some(ours) = self.consumer.message(consumer) else {
            self.missing("consumer", consumer);
            return;
        };
        let Some(theirs) = self.producer.message(producer) else {
            self.missing("producer", producer);
            return;
        };
        let mut fields: Vec<&FieldSchema> = ours.fields.iter().collect();
        fields.sort_by_key(|field| field.number);
        for field in fields {
            self.field(ours, field, theirs.field(field.number));
        }
    }

    fn field(
        &mut self,
        message: &'a MessageSchema,
        ours: &'a FieldSchema,
        theirs: Option<&'a FieldSchema>,
    ) {
        let at = |problem| Break {
            message: message.name.clone(),
            field: ours.name.clone(),
            number: ours.number,
            problem,
        };
        let Some(theirs) = theirs else {
            self.breaks.push(at(Problem::NotWritten));
            return;
        };
        let (our_label, their_label) = (ours.label(), theirs.label());
        let repeated_differs = (our_label == Label::Repeated) != (their_label == Label::Repeated);
        let required_lost = our_label == Label::Required && their_label != Label::Required;
        if repeated_differs || required_lost {
            self.breaks.push(at(Problem::LabelChanged {
                consumer: our_label,
                producer: their_label,
            }));
        }
        let map_differs = self.is_map_entry(self.consumer, &ours.type_name)
            != self.is_map_entry(self.producer, &theirs.type_name);
        if ours.kind != theirs.kind || map_differs {
            self.breaks.push(at(Problem::TypeChanged {
                consumer: ours.type_text(),
                producer: theirs.type_text(),
            }));
            return;
        }
        match ours.kind.as_str() {
            "message" | "group" => self.messages(&ours.type_name, &theirs.type_name),
            "enum" => {
                if let Some(problem) = self.enums(&ours.type_name, &theirs.type_name) {
                    self.breaks.push(at(problem));
                }
            }
            _ => {}
        }
    }

    /// The first value of the producer's enum the consumer's does not know, compared once
    /// per pair of enums.
    fn enums(&mut self, consumer: &'a str, producer: &'a str) -> Option<Problem> {
        if !self.seen.insert((consumer, producer)) {
            return None;
        }
        let Some(ours) = self.consumer.enumeration(consumer) else {
            return Some(Problem::MissingType {
                side: "consumer",
                name: consumer.to_owned(),
            });
        };
        let Some(theirs) = self.producer.enumeration(producer) else {
            return Some(Problem::MissingType {
                side: "producer",
                name: producer.to_owned(),
            });
        };
        let mut values: Vec<_> = theirs.values.iter().collect();
        values.sort_by_key(|value| value.number);
        values
            .into_iter()
            .find(|value| !ours.values.iter().any(|known| known.number == value.number))
            .map(|value| Problem::UnknownEnumValue {
                enumeration: theirs.name.clone(),
                name: value.name.clone(),
                number: value.number,
            })
    }

    fn is_map_entry(&self, schema: &Schema, type_name: &str) -> bool {
        !type_name.is_empty() && schema.message(type_name).is_some_and(|m| m.map_entry)
    }

    fn missing(&mut self, side: &'static str, name: &str) {
        self.breaks.push(Break {
            message: name.to_owned(),
            field: String::new(),
            number: 0,
            problem: Problem::MissingType {
                side,
                name: name.to_owned(),
            },
        });
    }
}
