//! [`Schema`]: the self-contained description of a contract, as a protobuf message of its own
//! (prost) so that it can be embedded, registered and read back.

use prost::Message;

use crate::fingerprint::Fingerprint;

/// The contract of one proto message: the message (the root) and every message and enum it
/// reaches through its fields, recursively.
///
/// Encoded with prost ([`Schema::to_bytes`], [`Schema::from_bytes`]): field 1 `root`, field 2
/// `messages`, field 3 `enums`. Two schemas are the same contract when their
/// [`canonical_form`](Self::canonical_form)s are equal, whatever the order of their entries.
#[derive(Clone, PartialEq, Eq, Message)]
pub struct Schema {
    /// Full name of the root message, e.g. `ordering.v1.OrderReadied`.
    #[prost(string, tag = "1")]
    pub root: String,
    /// The root message and every message it reaches (nested types, map entries, well-known
    /// types such as `google.protobuf.Timestamp`).
    #[prost(message, repeated, tag = "2")]
    pub messages: Vec<MessageSchema>,
    /// Every enum the messages use.
    #[prost(message, repeated, tag = "3")]
    pub enums: Vec<EnumSchema>,
}

/// One message of a [`Schema`].
#[derive(Clone, PartialEq, Eq, Message)]
pub struct MessageSchema {
    /// Full name, e.g. `ordering.v1.OrderItem` (`ordering.v1.Order.LabelsEntry` for the entry
    /// of a map field).
    #[prost(string, tag = "1")]
    pub name: String,
    /// The fields, by number.
    #[prost(message, repeated, tag = "2")]
    pub fields: Vec<FieldSchema>,
    /// Whether the message is the synthetic entry of a map field (fields `key` = 1 and
    /// `value` = 2).
    #[prost(bool, tag = "3")]
    pub map_entry: bool,
}

/// One field of a [`MessageSchema`].
#[derive(Clone, PartialEq, Eq, Message)]
pub struct FieldSchema {
    /// Field name as in the `.proto`.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Field number.
    #[prost(int32, tag = "2")]
    pub number: i32,
    /// Cardinality and presence, a [`Label`] (read it with `label()`, which gives
    /// [`Label::Implicit`] for an unknown number).
    #[prost(enumeration = "Label", tag = "3")]
    pub label: i32,
    /// The type: a scalar's proto name (`int64`, `string`, `bytes`, ...), `message`, `group`
    /// or `enum`.
    #[prost(string, tag = "4")]
    pub kind: String,
    /// Full name of the message or enum type, for `message`, `group` and `enum`; empty
    /// otherwise.
    #[prost(string, tag = "5")]
    pub type_name: String,
    /// Name of the (non-synthetic) oneof the field belongs to; empty when none.
    #[prost(string, tag = "6")]
    pub oneof: String,
}

/// How many values a field holds and whether its presence is tracked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum Label {
    /// A singular field without presence (a proto3 scalar, enum, string or bytes).
    Implicit = 0,
    /// A singular field with presence (proto2 `optional`, proto3 `optional`, a message
    /// field, a oneof member).
    Optional = 1,
    /// A proto2 `required` field.
    Required = 2,
    /// A `repeated` field (maps included: repeated map entries).
    Repeated = 3,
}

impl Label {
    /// The label's word in the canonical form: `implicit`, `optional`, `required` or
    /// `repeated`.
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Implicit => "implicit",
            Label::Optional => "optional",
            Label::Required => "required",
            Label::Repeated => "repeated",
        }
    }
}

/// One enum of a [`Schema`].
#[derive(Clone, PartialEq, Eq, Message)]
pub struct EnumSchema {
    /// Full name, e.g. `ordering.v1.Status`.
    #[prost(string, tag = "1")]
    pub name: String,
    /// The values (aliases included), by number.
    #[prost(message, repeated, tag = "2")]
    pub values: Vec<EnumValueSchema>,
    /// Whether the enum is closed (proto2: an unknown number is not stored in the field but
    /// kept as an unknown field).
    #[prost(bool, tag = "3")]
    pub closed: bool,
}

/// One value of an [`EnumSchema`].
#[derive(Clone, PartialEq, Eq, Message)]
pub struct EnumValueSchema {
    /// Value name as in the `.proto`.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Its number.
    #[prost(int32, tag = "2")]
    pub number: i32,
}

impl Schema {
    /// The prost encoding of the schema, what the generator embeds and the registry stores.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.encode_to_vec()
    }

    /// Decodes a schema written by [`to_bytes`](Self::to_bytes).
    ///
    /// # Errors
    ///
    /// prost's error when `bytes` are not an encoded schema.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, prost::DecodeError> {
        Self::decode(bytes)
    }

    /// The SHA-256 of the [`canonical_form`](Self::canonical_form), first 16 bytes.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of_canonical_form(&self.canonical_form())
    }

    /// The message called `name`, if the schema has it.
    pub fn message(&self, name: &str) -> Option<&MessageSchema> {
        self.messages.iter().find(|message| message.name == name)
    }

    /// The enum called `name`, if the schema has it.
    pub fn enumeration(&self, name: &str) -> Option<&EnumSchema> {
        self.enums.iter().find(|e| e.name == name)
    }
}

impl MessageSchema {
    /// The field numbered `number`, if any.
    pub fn field(&self, number: i32) -> Option<&FieldSchema> {
        self.fields.iter().find(|field| field.number == number)
    }
}

impl FieldSchema {
    /// The field's type as written in the canonical form and in errors: the scalar's name,
    /// or `message <full name>`, `group <full name>`, `enum <full name>`.
    pub fn type_text(&self) -> String {
        if self.type_name.is_empty() {
            self.kind.clone()
        } else {
            format!("{} {}", self.kind, self.type_name)
        }
    }
}
