//! The rule ids of breaking-change detection (documented in `docs/checks.md`). Every break is
//! an error; [`ACCEPTED_STALE`] is a warning.

/// The table's `service` (CloudEvents `ce-source`) changed.
pub const SERVICE_CHANGED: &str = "breaking-service-changed";
/// An integration event is no longer published.
pub const EVENT_REMOVED: &str = "breaking-event-removed";
/// An integration event was renamed: gone, and a new one has the same domain event and
/// proto message.
pub const EVENT_RENAMED: &str = "breaking-event-renamed";
/// An integration event kept its name but has another CloudEvents type (`ce_type:` added,
/// changed or removed): consumers decode by the `ce-type`.
pub const CE_TYPE_CHANGED: &str = "breaking-ce-type-changed";
/// An integration event moved to a channel with another subject prefix or stream.
pub const EVENT_CHANNEL_CHANGED: &str = "breaking-event-channel-changed";
/// A channel that carries integration events changed its subject prefix.
pub const SUBJECT_CHANGED: &str = "breaking-subject-changed";
/// A channel that carries integration events changed its JetStream stream.
pub const STREAM_CHANGED: &str = "breaking-stream-changed";
/// An integration event is now encoded as another proto message (the baseline's message
/// still exists).
pub const EVENT_MESSAGE_CHANGED: &str = "breaking-event-message-changed";
/// A field that was mapped (`from`, `envelope`, `const`, nested `fields`) is now `default`.
pub const FIELD_DEFAULTED: &str = "breaking-field-defaulted";
/// A `const` value changed.
pub const CONST_CHANGED: &str = "breaking-const-changed";
/// A domain enum variant maps to another proto enum value than before, or is no longer mapped
/// (`enum:` + `values:`).
pub const ENUM_MAPPING_CHANGED: &str = "breaking-enum-mapping-changed";
/// A proto message carried by an integration event was renamed (same package).
pub const MESSAGE_RENAMED: &str = "breaking-message-renamed";
/// A proto message carried by an integration event moved to another package.
pub const PACKAGE_CHANGED: &str = "breaking-package-changed";
/// A field was removed without reserving its number and name.
pub const FIELD_REMOVED: &str = "breaking-field-removed";
/// A field number has another name, and another JSON name.
pub const FIELD_RENAMED: &str = "breaking-field-renamed";
/// A field kept its name but its JSON name (`json_name`) changed.
pub const FIELD_JSON_NAME_CHANGED: &str = "breaking-field-json-name-changed";
/// A field name has another number.
pub const FIELD_NUMBER_CHANGED: &str = "breaking-field-number-changed";
/// A field's type changed (scalar kind, message type, enum type, map key or value).
pub const FIELD_TYPE_CHANGED: &str = "breaking-field-type-changed";
/// A field changed between singular and `repeated`, or gained or lost explicit presence
/// (`optional`), or between proto2 `required` and `optional`.
pub const FIELD_CARDINALITY_CHANGED: &str = "breaking-field-cardinality-changed";
/// A field moved into, out of, or between `oneof`s.
pub const FIELD_ONEOF_CHANGED: &str = "breaking-field-oneof-changed";
/// An enum value was removed without reserving its number and name.
pub const ENUM_VALUE_REMOVED: &str = "breaking-enum-value-removed";
/// An enum number has another name (JSON uses the names).
pub const ENUM_VALUE_RENAMED: &str = "breaking-enum-value-renamed";
/// An enum value name has another number.
pub const ENUM_VALUE_NUMBER_CHANGED: &str = "breaking-enum-value-number-changed";
/// A reserved number range or name of a message or enum is no longer reserved.
pub const RESERVED_REMOVED: &str = "breaking-reserved-removed";
/// An entry of `eventmap-accepted-breaks.yaml` matches no break (warning).
pub const ACCEPTED_STALE: &str = "breaking-accepted-stale";

/// Every break rule id (not [`ACCEPTED_STALE`]), in documentation order.
pub const ALL: &[&str] = &[
    SERVICE_CHANGED,
    EVENT_REMOVED,
    EVENT_RENAMED,
    CE_TYPE_CHANGED,
    EVENT_CHANNEL_CHANGED,
    SUBJECT_CHANGED,
    STREAM_CHANGED,
    EVENT_MESSAGE_CHANGED,
    FIELD_DEFAULTED,
    CONST_CHANGED,
    ENUM_MAPPING_CHANGED,
    MESSAGE_RENAMED,
    PACKAGE_CHANGED,
    FIELD_REMOVED,
    FIELD_RENAMED,
    FIELD_JSON_NAME_CHANGED,
    FIELD_NUMBER_CHANGED,
    FIELD_TYPE_CHANGED,
    FIELD_CARDINALITY_CHANGED,
    FIELD_ONEOF_CHANGED,
    ENUM_VALUE_REMOVED,
    ENUM_VALUE_RENAMED,
    ENUM_VALUE_NUMBER_CHANGED,
    RESERVED_REMOVED,
];
