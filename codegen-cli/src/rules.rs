//! The registry of rules: every rule id `eventmap check` reports, with its default severity, a
//! one-line summary and the section of `docs/checks.md` that documents it. Diagnostics are
//! created from a [`Rule`] ([`Diagnostic::new`](crate::Diagnostic::new)), never from a bare id,
//! and a test keeps `docs/checks.md` equal to [`ALL`].

use std::fmt;

use crate::diagnostic::Severity;

/// The documentation page of every rule, relative to the root of eventmap's repository.
pub const DOCS_PAGE: &str = "docs/checks.md";

/// [`DOCS_PAGE`] in eventmap's repository (the `repository` of this crate's manifest), so that
/// the links in diagnostics work from any project that runs `eventmap check`.
pub const DOCS_URL: &str = concat!(env!("CARGO_PKG_REPOSITORY"), "/blob/main/docs/checks.md");

/// The part of `eventmap check` a rule belongs to, and the section of [`DOCS_PAGE`] that
/// documents it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Section {
    /// eventmap could not run at all (exit 2).
    Run,
    /// The mapping table and its protos (`## Mapping rules`).
    Mapping,
    /// Breaking changes against a baseline (`## Breaking changes`).
    Breaking,
    /// Several tables checked together: consumers against producers
    /// (`## Tables checked together`).
    System,
    /// The tables against the contracts live in a contract registry
    /// (`eventmap check --against-registry`, `## Against the live registry`).
    Registry,
}

impl Section {
    /// The anchor of the section's heading in [`DOCS_PAGE`].
    pub const fn anchor(self) -> &'static str {
        match self {
            Section::Run => "checks",
            Section::Mapping => "mapping-rules",
            Section::Breaking => "breaking-changes",
            Section::System => "tables-checked-together",
            Section::Registry => "against-the-live-registry",
        }
    }
}

/// One rule: a stable id, the severity of its diagnostics, and where it is documented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rule {
    /// The stable id, e.g. `unknown-proto-field`.
    pub id: &'static str,
    /// The severity of the rule's diagnostics.
    pub severity: Severity,
    /// Where the rule belongs and is documented.
    pub section: Section,
    /// What the rule reports, in one line: the start of its entry in [`DOCS_PAGE`].
    pub summary: &'static str,
}

impl Rule {
    /// The link to the rule's documentation: [`DOCS_URL`] and the rule's anchor there (an
    /// `<a id="<rule id>">` in its row, which the docs test requires).
    pub fn docs_link(&self) -> String {
        format!("{DOCS_URL}#{}", self.id)
    }

    /// Whether the rule is a breaking change (an entry of `eventmap-accepted-breaks.yaml` may
    /// name it): every rule of [`Section::Breaking`] but [`BREAKING_ACCEPTED_STALE`].
    pub fn is_break(&self) -> bool {
        self.section == Section::Breaking && self.id != BREAKING_ACCEPTED_STALE.id
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id)
    }
}

/// The rule with the id `id`, when there is one.
pub fn find(id: &str) -> Option<&'static Rule> {
    ALL.iter().find(|rule| rule.id == id)
}

/// Every breaking-change rule ([`Rule::is_break`]), in documentation order.
pub fn breaks() -> impl Iterator<Item = &'static Rule> {
    ALL.iter().filter(|rule| rule.is_break())
}

/// Declares one const per rule, documented by its summary, and [`ALL`] in the same order.
macro_rules! rules {
    ($($name:ident = $id:literal, $severity:ident, $section:ident, $summary:literal;)*) => {
        $(
            #[doc = concat!("`", $id, "`: ", $summary, ".")]
            pub const $name: Rule = Rule {
                id: $id,
                severity: Severity::$severity,
                section: Section::$section,
                summary: $summary,
            };
        )*
        /// Every rule, in documentation order.
        pub const ALL: &[Rule] = &[$($name),*];
    };
}

rules! {
    YAML = "yaml", Error, Mapping,
        "the file is not valid YAML";
    PROTO = "proto", Error, Mapping,
        "an include directory or `.proto` file is missing";
    PROTO_NAME_COLLISION = "proto-name-collision", Error, Mapping,
        "two proto names that become one Rust name in prost's output";
    PROTO2_OPEN_ENUM = "proto2-open-enum", Error, Mapping,
        "a field of a proto2 message whose type is an enum of a proto3 file (open), which protoc refuses";
    UNSUPPORTED_VERSION = "unsupported-version", Error, Mapping,
        "`version` is not 1";
    INVALID_SERVICE = "invalid-service", Error, Mapping,
        "`service` is not a valid CloudEvents source";
    INVALID_RUST_PATH = "invalid-rust-path", Error, Mapping,
        "a module, type or function path is not a Rust path";
    INVALID_NAME = "invalid-name", Error, Mapping,
        "a channel, domain event, integration event, enum variant or `mappings:` name is not an identifier";
    INVALID_SUBJECT = "invalid-subject", Error, Mapping,
        "a subject prefix is not a valid NATS subject";
    DUPLICATE_SUBJECT = "duplicate-subject", Error, Mapping,
        "two channels share a subject";
    INVALID_STREAM = "invalid-stream", Error, Mapping,
        "a JetStream stream name with whitespace, `.`, `*`, `>`, `/` or `\\`";
    INVALID_REPLICAS = "invalid-replicas", Error, Mapping,
        "`replicas` that is not an integer from 1 to 5, or channels of one stream with different `replicas`";
    UNKNOWN_CHANNEL = "unknown-channel", Error, Mapping,
        "an integration event names a channel that does not exist";
    UNUSED_CHANNEL = "unused-channel", Error, Mapping,
        "a channel that no integration event uses";
    DUPLICATE_INTEGRATION_EVENT = "duplicate-integration-event", Error, Mapping,
        "one integration event name used twice";
    INVALID_CE_TYPE = "invalid-ce-type", Error, Mapping,
        "a `ce_type:` (of a row, or of an event a subscription receives) that is not a CloudEvents type";
    DUPLICATE_CE_TYPE = "duplicate-ce-type", Error, Mapping,
        "two integration events of one channel, or two events of one subscription, with the same CloudEvents type";
    CE_TYPE_MISMATCH = "ce-type-mismatch", Error, Mapping,
        "a subscription to a channel the table publishes on receives one of the table's own events";
    NAME_COLLISION = "name-collision", Error, Mapping,
        "two table names that give one Rust name";
    EMPTY_EVENT = "empty-event", Error, Mapping,
        "a domain event mapped to `[]`";
    UNKNOWN_PROTO_MESSAGE = "unknown-proto-message", Error, Mapping,
        "the proto message does not exist";
    WELL_KNOWN_TYPE = "well-known-type", Error, Mapping,
        "a well-known type as an integration event";
    UNKNOWN_PROTO_FIELD = "unknown-proto-field", Error, Mapping,
        "the proto message has no such field";
    UNMAPPED_FIELD = "unmapped-field", Error, Mapping,
        "a proto field that is neither mapped nor `default`";
    INVALID_FIELD_SOURCE = "invalid-field-source", Error, Mapping,
        "not exactly one of `from`/`envelope`/`const`/`default`";
    INVALID_DOMAIN_PATH = "invalid-domain-path", Error, Mapping,
        "`from` is not a path of Rust field names";
    NESTED_NOT_MESSAGE = "nested-not-message", Error, Mapping,
        "`fields:` on a field that is not a message, or on a `map` whose values are not messages";
    UNKNOWN_ENVELOPE_VALUE = "unknown-envelope-value", Error, Mapping,
        "an envelope value that does not exist";
    ENVELOPE_TYPE = "envelope-type", Error, Mapping,
        "an envelope value into a field of the wrong proto type";
    INVALID_CONST = "invalid-const", Error, Mapping,
        "a constant that does not parse for the field's type or range";
    UNSUPPORTED_FIELD = "unsupported-field", Error, Mapping,
        "`enum:` on a `map` field";
    UNSUPPORTED_PROTO_FEATURE = "unsupported-proto-feature", Error, Mapping,
        "a proto2 `group` field mapped otherwise than `default`, or a key naming an extension of the message";
    DEFAULT_ON_REQUIRED = "default-on-required", Warning, Mapping,
        "a proto2 `required` field without a `[default = ...]` left `default`";
    ONEOF_CONFLICT = "oneof-conflict", Error, Mapping,
        "two members of one oneof mapped";
    ONEOF_VARIANT = "oneof-variant", Error, Mapping,
        "a `variants:` entry that fills no member or several";
    UNKNOWN_MAPPING = "unknown-mapping", Error, Mapping,
        "`mapping:` names no entry of `mappings:`";
    MAPPING_MISMATCH = "mapping-mismatch", Error, Mapping,
        "a named mapping used where it does not fit";
    INVALID_MAPPING = "invalid-mapping", Error, Mapping,
        "a `mappings:` entry that is not exactly one of: enum mapping (`enum` + `values`), oneof mapping (`enum` + `variants`), message mapping (`message` + `type` + `fields`)";
    UNUSED_MAPPING = "unused-mapping", Warning, Mapping,
        "a `mappings:` entry that no row uses, directly or through the message mappings it uses";
    ENUM_NOT_ENUM = "enum-not-enum", Error, Mapping,
        "`enum:`/`values:` on a field that is not a proto enum";
    ENUM_VALUE = "enum-value", Error, Mapping,
        "a `values:` entry naming a proto value that does not exist";
    MISSING_DOMAIN_MODULE = "missing-domain-module", Error, Mapping,
        "a domain event row without `type` in a table without `rust.domain_module`";
    INVALID_DURABLE = "invalid-durable", Error, Mapping,
        "a subscription's `durable` is not a JetStream consumer name";
    DURABLE_NOT_OWNED = "durable-not-owned", Warning, Mapping,
        "a subscription's `durable` does not start with the table's `service`";
    DUPLICATE_DURABLE = "duplicate-durable", Error, Mapping,
        "two subscriptions of the table with one durable consumer name";
    EMPTY_SUBSCRIPTION = "empty-subscription", Error, Mapping,
        "a subscription with no event under `events:`";
    PACKAGE_MISMATCH = "package-mismatch", Error, Mapping,
        "a subscribed message outside the subscription's `package`";
    INVALID_DURATION = "invalid-duration", Error, Mapping,
        "`ack_wait` or a `backoff` step that is not a duration";
    INVALID_DELIVERY = "invalid-delivery", Error, Mapping,
        "`deliver` other than `all`/`new`, or `max_deliver` below 1";
    UNUSED_BACKOFF = "unused-backoff", Warning, Mapping,
        "as many `backoff` steps as `max_deliver` or more";
    DEAD_LETTER_IN_CHANNEL = "dead-letter-in-channel", Error, Mapping,
        "the dead-letter subject overlaps the consumed channel's subject, so dead letters would be consumed again";
    BREAKING_SERVICE_CHANGED = "breaking-service-changed", Error, Breaking,
        "`service` (`ce-source`) changed";
    BREAKING_EVENT_REMOVED = "breaking-event-removed", Error, Breaking,
        "an integration event is no longer published";
    BREAKING_EVENT_RENAMED = "breaking-event-renamed", Error, Breaking,
        "an integration event is gone and a new one has the same domain event and proto message";
    BREAKING_CE_TYPE_CHANGED = "breaking-ce-type-changed", Error, Breaking,
        "an integration event kept its name (subject token) but its CloudEvents type changed";
    BREAKING_EVENT_CHANNEL_CHANGED = "breaking-event-channel-changed", Error, Breaking,
        "an integration event moved to a channel with another subject or stream";
    BREAKING_SUBJECT_CHANGED = "breaking-subject-changed", Error, Breaking,
        "a channel carrying integration events changed its subject prefix";
    BREAKING_STREAM_CHANGED = "breaking-stream-changed", Error, Breaking,
        "a channel carrying integration events changed its stream";
    BREAKING_EVENT_MESSAGE_CHANGED = "breaking-event-message-changed", Error, Breaking,
        "an integration event now carries another proto message, and the baseline's message still exists";
    BREAKING_FIELD_DEFAULTED = "breaking-field-defaulted", Error, Breaking,
        "a field that was mapped (`from`, `envelope`, `const`, nested `fields`) is now `default`";
    BREAKING_CONST_CHANGED = "breaking-const-changed", Error, Breaking,
        "a `const` value changed";
    BREAKING_ENUM_MAPPING_CHANGED = "breaking-enum-mapping-changed", Error, Breaking,
        "a domain enum variant (`enum:` + `values:`) maps to another proto value";
    BREAKING_MESSAGE_RENAMED = "breaking-message-renamed", Error, Breaking,
        "a carried message (the event's, or a field's type) was renamed in its package";
    BREAKING_PACKAGE_CHANGED = "breaking-package-changed", Error, Breaking,
        "a carried message moved to another package";
    BREAKING_FIELD_REMOVED = "breaking-field-removed", Error, Breaking,
        "a field was removed without `reserved` for both its number and its name";
    BREAKING_FIELD_RENAMED = "breaking-field-renamed", Error, Breaking,
        "a field number has another name and another JSON name, the new name being new to the message";
    BREAKING_FIELD_JSON_NAME_CHANGED = "breaking-field-json-name-changed", Error, Breaking,
        "a field kept its name but its `json_name` changed";
    BREAKING_FIELD_NUMBER_CHANGED = "breaking-field-number-changed", Error, Breaking,
        "a field name has another number";
    BREAKING_FIELD_TYPE_CHANGED = "breaking-field-type-changed", Error, Breaking,
        "a field's type changed";
    BREAKING_FIELD_CARDINALITY_CHANGED = "breaking-field-cardinality-changed", Error, Breaking,
        "singular to `repeated` or back, explicit presence gained or lost";
    BREAKING_FIELD_ONEOF_CHANGED = "breaking-field-oneof-changed", Error, Breaking,
        "a field moved into, out of, or between oneofs";
    BREAKING_FIELD_DEFAULT_CHANGED = "breaking-field-default-changed", Error, Breaking,
        "a proto2 field's explicit `[default = ...]` changed, was added or was removed";
    BREAKING_ENUM_VALUE_REMOVED = "breaking-enum-value-removed", Error, Breaking,
        "an enum value was removed without `reserved` for both its number and name";
    BREAKING_ENUM_VALUE_RENAMED = "breaking-enum-value-renamed", Error, Breaking,
        "an enum number has another name";
    BREAKING_ENUM_VALUE_NUMBER_CHANGED = "breaking-enum-value-number-changed", Error, Breaking,
        "an enum value name has another number";
    BREAKING_RESERVED_REMOVED = "breaking-reserved-removed", Error, Breaking,
        "reserved numbers or names of a carried message or enum are no longer reserved";
    BREAKING_ACCEPTED_STALE = "breaking-accepted-stale", Warning, Breaking,
        "an accepted-breaks entry matches no break";
    CHANNEL_NOT_PUBLISHED = "channel-not-published", Error, System,
        "a subscription's channel subject is published by none of the tables checked together";
    CHANNEL_STREAM_MISMATCH = "channel-stream-mismatch", Error, System,
        "a subscription's channel has a producer's subject but another stream";
    EVENT_NOT_PUBLISHED = "event-not-published", Error, System,
        "a subscribed event is published on the subscription's channel by none of the tables";
    EVENT_MESSAGE_MISMATCH = "event-message-mismatch", Error, System,
        "a subscribed event is published with another proto message (full name)";
    EVENT_CE_TYPE_MISMATCH = "event-ce-type-mismatch", Error, System,
        "a subscribed event is published with another CloudEvents type";
    INCOMPATIBLE_MESSAGE_COPY = "incompatible-message-copy", Error, System,
        "the consumer's copy of a subscribed message is not wire-compatible with the producer's";
    SHARED_DURABLE = "shared-durable", Error, System,
        "subscriptions of two tables with one durable consumer name";
    DEAD_LETTER_OVERLAP = "dead-letter-overlap", Error, System,
        "a dead-letter subject overlaps a channel another table publishes on, or another table's dead-letter subject";
    BREAK_REACHES_CONSUMER = "break-reaches-consumer", Error, System,
        "a breaking change of a producer (`--against`) reaches an event that a consumer subscribes to";
    REGISTRY_PRODUCER_BREAK = "registry-producer-break", Error, Registry,
        "a table would publish an event with a contract that consumers of the live contract cannot read";
    REGISTRY_CONSUMER_INCOMPATIBLE = "registry-consumer-incompatible", Error, Registry,
        "a subscription's copy of a message cannot read the contract producers registered for it";
    REGISTRY_EVENT_UNREGISTERED = "registry-event-unregistered", Error, Registry,
        "producers registered the subscription's channel, but not one of its events";
    REGISTRY_CHANNEL_UNREGISTERED = "registry-channel-unregistered", Warning, Registry,
        "no producer registered contracts on a subscription's channel";
    REGISTRY_INVALID = "registry-invalid", Error, Registry,
        "the registry names a contract it does not hold, or one that does not decode to its fingerprint";
    COULD_NOT_RUN = "could-not-run", Error, Run,
        "eventmap cannot run at all";
}
