//! The guesses of `eventmap init`: which message is an event, and where each proto field's
//! value comes from.

use heck::ToSnakeCase;
use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};

/// Where a field's value comes from, as the starter table writes it.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Source {
    /// `{ envelope: NAME }`.
    Envelope(&'static str),
    /// `{ from: PATH }`, with a comment when the guess is weak.
    From {
        /// The domain field's name.
        path: String,
        /// What to check or change.
        note: Option<String>,
    },
    /// `{ from: PATH, fields: {...} }`: a message built field by field.
    Nested {
        /// The domain field's name.
        path: String,
        /// The message's fields.
        fields: Vec<(String, Source)>,
    },
    /// `default`, always with the reason (a oneof, a recursive message, `Empty`).
    Default {
        /// What to do instead.
        note: String,
    },
}

/// Past participles that do not end in `-ed`, for event names such as `OrderPaid`.
const IRREGULAR: &[&str] = &[
    "Begun",
    "Bought",
    "Brought",
    "Built",
    "Caught",
    "Chosen",
    "Done",
    "Drawn",
    "Driven",
    "Found",
    "Given",
    "Gone",
    "Grown",
    "Held",
    "Hidden",
    "Kept",
    "Known",
    "Laid",
    "Left",
    "Lost",
    "Made",
    "Met",
    "Paid",
    "Put",
    "Read",
    "Reset",
    "Run",
    "Said",
    "Seen",
    "Sent",
    "Set",
    "Shown",
    "Shut",
    "Sold",
    "Spent",
    "Split",
    "Taken",
    "Told",
    "Thrown",
    "Undone",
    "Upset",
    "Withdrawn",
    "Won",
    "Written",
];

/// Words that end in `-ed` without being past participles.
const NOT_PAST: &[&str] = &[
    "Bed", "Bleed", "Breed", "Deed", "Embed", "Feed", "Greed", "Need", "Seed", "Shed", "Speed",
    "Steed", "Weed",
];

/// Whether a message name looks like an event's: its last or second-to-last word (for
/// `SignedUp`, `CheckedOut`) is in the past tense, or it ends in `Event`.
pub fn looks_like_event(name: &str) -> bool {
    let words = camel_words(name);
    let Some(last) = words.last() else {
        return false;
    };
    if *last == "Event" || *last == "Events" {
        return true;
    }
    let past = |word: &str| {
        (word.len() > 3 && word.ends_with("ed") && !NOT_PAST.contains(&word))
            || IRREGULAR.contains(&word)
    };
    words.iter().rev().take(2).any(|word| past(word))
}

/// `OrderCreated` -> `["Order", "Created"]`; acronyms stay one word (`HTTPRequestSent` ->
/// `["HTTP", "Request", "Sent"]`).
fn camel_words(name: &str) -> Vec<&str> {
    let chars: Vec<(usize, char)> = name.char_indices().collect();
    let mut words = Vec::new();
    let mut start = 0;
    for i in 1..chars.len() {
        let (at, c) = chars[i];
        let prev = chars[i - 1].1;
        let next_lower = chars.get(i + 1).is_some_and(|(_, n)| n.is_lowercase());
        let boundary = (c.is_uppercase() && (prev.is_lowercase() || prev.is_ascii_digit()))
            || (c.is_uppercase() && prev.is_uppercase() && next_lower)
            || c == '_';
        if boundary {
            if at > start {
                words.push(name[start..at].trim_matches('_'));
            }
            start = at;
        }
    }
    words.push(name[start..].trim_matches('_'));
    words.retain(|w| !w.is_empty());
    words
}

/// What the envelope guesses of one event row look at: the snake-case aggregate names its
/// name may start with (`order` for `OrderCreated`, longest first) and the verb it ends with
/// (`created`).
#[derive(Debug)]
pub(super) struct EventNames {
    aggregates: Vec<String>,
    /// The last word, and the last two (`checked_out` of `CartCheckedOut`).
    verbs: Vec<String>,
}

impl EventNames {
    /// The names of the message `name` (without package).
    pub(super) fn of(name: &str) -> EventNames {
        let mut words = camel_words(name);
        if words.len() > 1 && words.last().is_some_and(|w| *w == "Event") {
            words.pop();
        }
        let verbs = (1..=2.min(words.len().saturating_sub(1)))
            .map(|n| words[words.len() - n..].concat().to_snake_case())
            .collect();
        let aggregates = (1..words.len())
            .rev()
            .map(|n| words[..n].concat().to_snake_case())
            .collect();
        EventNames { aggregates, verbs }
    }
}

/// The sources of every field of `message` (oneofs by their own name), in declaration order.
/// `event` is `Some` for the row's own message (envelope values are guessed only there);
/// `stack` holds the messages being built, for recursion.
pub(super) fn fields(
    message: &MessageDescriptor,
    event: Option<&EventNames>,
    stack: &mut Vec<String>,
) -> Vec<(String, Source)> {
    stack.push(message.full_name().to_owned());
    let mut out = Vec::new();
    let mut oneofs_seen = Vec::new();
    for field in message.fields() {
        if let Some(oneof) = field.containing_oneof().filter(|o| !o.is_synthetic()) {
            if !oneofs_seen.contains(&oneof.name().to_owned()) {
                oneofs_seen.push(oneof.name().to_owned());
                let members: Vec<String> = oneof.fields().map(|f| f.name().to_owned()).collect();
                out.push((
                    oneof.name().to_owned(),
                    Source::Default {
                        note: format!(
                            "oneof `{}` ({}): set it from a domain enum (`from`, `enum`, `variants`) or map one member by its name (the others `default`)",
                            oneof.name(),
                            members.join(", ")
                        ),
                    },
                ));
            }
            continue;
        }
        let source = event
            .and_then(|names| envelope(&field, names))
            .map(Source::Envelope)
            .unwrap_or_else(|| from(&field, stack));
        out.push((field.name().to_owned(), source));
    }
    stack.pop();
    out
}

/// The domain path of a field: its name (`self` alone is the whole value, so not that).
fn domain_path(field: &FieldDescriptor) -> (String, Option<String>) {
    if field.name() == "self" {
        (
            "self_".to_owned(),
            Some("`from: self` is the whole domain value: name the domain field".to_owned()),
        )
    } else {
        (field.name().to_owned(), None)
    }
}

/// The `from:` (or nested `fields:`) source of a field that is not an envelope value.
fn from(field: &FieldDescriptor, stack: &mut Vec<String>) -> Source {
    if field.is_group() {
        // `eventmap check` refuses any mapping of a group field but `default`.
        return Source::Default {
            note: format!(
                "`{}` is a proto2 group: eventmap maps no group fields (make it a message field to map it)",
                field.name()
            ),
        };
    }
    let (path, note) = domain_path(field);
    let plain = |note: Option<String>| Source::From {
        path: path.clone(),
        note,
    };
    match field.kind() {
        Kind::Message(entry) if entry.is_map_entry() => match entry.map_entry_value_field().kind() {
            Kind::Message(value) if !is_well_known(&value) => {
                nested_or_recursive(&path, &value, stack, "map value")
            }
            Kind::Enum(e) => plain(Some(format!(
                "a map whose values are proto enum `{}`: domain values that convert into i32",
                e.full_name()
            ))),
            _ => plain(note),
        },
        Kind::Message(inner) if is_well_known(&inner) => match inner.full_name() {
            "google.protobuf.Timestamp" => plain(Some(
                "a domain time that converts into google.protobuf.Timestamp, or `envelope: occurred_at`"
                    .to_owned(),
            )),
            "google.protobuf.Duration" => plain(note),
            "google.protobuf.Empty" => Source::Default {
                note: "google.protobuf.Empty: set it with a `with:` function returning `Option<()>`, or leave it absent"
                    .to_owned(),
            },
            name if name.ends_with("Value") && !matches!(name, "google.protobuf.Value") => {
                plain(note)
            }
            name => plain(Some(format!(
                "{name}: a domain value that converts into it (IntoProto), or a `with:` function"
            ))),
        },
        Kind::Message(inner) => nested_or_recursive(&path, &inner, stack, "message"),
        Kind::Enum(e) => plain(Some(format!(
            "proto enum `{}`: map a domain enum with `enum: crate::path::Enum` and `values: {{ Variant: {} }}`",
            e.full_name(),
            e.values()
                .nth(1)
                .or_else(|| e.values().next())
                .map(|v| v.name().to_owned())
                .unwrap_or_default()
        ))),
        _ => plain(note),
    }
}

/// A message field built field by field, or `default` with a note at a recursive message.
fn nested_or_recursive(
    path: &str,
    message: &MessageDescriptor,
    stack: &mut Vec<String>,
    what: &str,
) -> Source {
    if stack.iter().any(|m| m == message.full_name()) {
        return Source::Default {
            note: format!(
                "recursive {what} `{}`: map it to any depth with a named mapping (`mappings:` with `message`, `type`, `fields`; docs/mappings.md)",
                message.full_name()
            ),
        };
    }
    Source::Nested {
        path: path.to_owned(),
        fields: fields(message, None, stack),
    }
}

/// Whether `message` is a well-known type (`google.protobuf.*`), converted as a whole.
fn is_well_known(message: &MessageDescriptor) -> bool {
    message.package_name() == "google.protobuf"
}

/// The envelope value a field of the event's own message looks like, by its name and type.
fn envelope(field: &FieldDescriptor, names: &EventNames) -> Option<&'static str> {
    if field.is_list() || field.is_map() || field.containing_oneof().is_some() {
        return None;
    }
    let name = field.name();
    let text = matches!(field.kind(), Kind::String);
    let id = text || matches!(field.kind(), Kind::Bytes);
    let integer = matches!(
        field.kind(),
        Kind::Int32
            | Kind::Int64
            | Kind::Uint32
            | Kind::Uint64
            | Kind::Sint32
            | Kind::Sint64
            | Kind::Fixed32
            | Kind::Fixed64
            | Kind::Sfixed32
            | Kind::Sfixed64
    );
    let timestamp =
        matches!(field.kind(), Kind::Message(m) if m.full_name() == "google.protobuf.Timestamp");
    let aggregate = |suffix: &str| {
        name == format!("aggregate_{suffix}")
            || names
                .aggregates
                .iter()
                .any(|a| name == format!("{a}_{suffix}"))
    };
    match () {
        _ if id && matches!(name, "id" | "integration_event_id" | "message_id" | "ce_id") => {
            Some("integration_event_id")
        }
        _ if id && matches!(name, "event_id" | "domain_event_id") => Some("event_id"),
        _ if text && aggregate("id") => Some("aggregate_id"),
        _ if integer && (name == "version" || aggregate("version")) => Some("aggregate_version"),
        _ if timestamp
            && (matches!(
                name,
                "occurred_at" | "occurred_on" | "event_time" | "timestamp"
            ) || names.verbs.iter().any(|verb| name == format!("{verb}_at"))) =>
        {
            Some("occurred_at")
        }
        _ if text && matches!(name, "event_name" | "event_type") => Some("event_name"),
        _ if text && matches!(name, "aggregate_name" | "aggregate_type") => Some("aggregate_name"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names() {
        for name in [
            "OrderCreated",
            "OrderPaid",
            "UserSignedUp",
            "CartCheckedOut",
            "OrderCreatedEvent",
            "HTTPRequestSent",
            "PaymentRefunded",
        ] {
            assert!(looks_like_event(name), "{name}");
        }
        for name in [
            "OrderItem",
            "Money",
            "Order",
            "CreateOrderRequest",
            "Feed",
            "Seed",
            "Speed",
        ] {
            assert!(!looks_like_event(name), "{name}");
        }
    }

    #[test]
    fn words_and_aggregates() {
        assert_eq!(camel_words("HTTPRequestSent"), ["HTTP", "Request", "Sent"]);
        assert_eq!(camel_words("Order2Created"), ["Order2", "Created"]);
        let names = EventNames::of("ShoppingCartItemAddedEvent");
        assert_eq!(names.verbs, ["added", "item_added"]);
        assert_eq!(
            EventNames::of("CartCheckedOut").verbs,
            ["out", "checked_out"]
        );
        assert_eq!(
            names.aggregates,
            ["shopping_cart_item", "shopping_cart", "shopping"]
        );
    }
}
