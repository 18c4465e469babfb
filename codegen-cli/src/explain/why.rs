//! Why each rule matters, and for the breaking rules the target of an accepted break and a
//! change that breaks next to one that does not (from `tests/breaking.rs`).

/// Why the rule `id` matters: what would go wrong if it were not checked.
pub(super) fn why(id: &str) -> &'static str {
    match id {
        "yaml" => {
            "eventmap reads nothing it cannot read exactly: a misspelt or unknown key would otherwise be skipped, and a field meant to be mapped would silently stay empty."
        }
        "proto" => {
            "the protos are the contract; a table checked against protos that do not compile, or are not there, says nothing about what is published."
        }
        "proto2-open-enum" => {
            "protoc refuses a proto3 (open) enum in a proto2 message: the protos would not build with the other tools of the ecosystem, and the two sides would treat an unknown value differently."
        }
        "proto-name-collision" => {
            "prost would generate two items with one Rust name: the generated code would not compile, far from the `.proto` line that causes it."
        }
        "unsupported-version" => {
            "only format 1 exists; a table of another version may mean something this eventmap does not know."
        }
        "invalid-service" => {
            "`service` is the CloudEvents `ce-source` of every message; consumers and tools reject a source with other characters."
        }
        "invalid-rust-path" => {
            "the path is pasted into generated code: rustc would fail on it in the generated file instead of at the table's line."
        }
        "invalid-name" => {
            "names become Rust identifiers and integration event names become NATS subject tokens; a name that is neither fails later, in generated code or on the broker."
        }
        "invalid-subject" => {
            "a subject with empty tokens, whitespace or wildcards cannot be published on; the broker would refuse it at run time."
        }
        "duplicate-subject" => {
            "two channels on one subject deliver each other's events to consumers that filter by subject."
        }
        "invalid-stream" => {
            "JetStream refuses such a stream name when the stream is provisioned, at run time."
        }
        "invalid-replicas" => {
            "JetStream keeps 1 to 5 copies of a stream, and one stream has one count: anything else fails when the stream is provisioned."
        }
        "unknown-channel" => {
            "an event on a channel that does not exist has no subject and no stream to be published on."
        }
        "unused-channel" => {
            "a channel that no event uses is provisioned and granted for nothing, and is often a typo of the one meant."
        }
        "duplicate-integration-event" => {
            "an integration event name is its subject token and its Rust names: two events with one name would be indistinguishable for consumers."
        }
        "invalid-ce-type" => {
            "consumers decode by `ce-type`; a type CloudEvents disallows, or that the NATS header does not keep, is not what arrives."
        }
        "duplicate-ce-type" => {
            "a consumer of the channel decodes by `ce-type` and could not tell the two events apart."
        }
        "ce-type-mismatch" => {
            "the consumer would reject every message of the event, since it expects another `ce-type` than the row publishes."
        }
        "name-collision" => {
            "two table names that give one Rust name make the generated module fail to compile."
        }
        "empty-event" => {
            "an empty list looks like an event forgotten; `internal` says on purpose that the event stays inside the service."
        }
        "unknown-proto-message" => {
            "the row names a message that is not in the contracts: nothing could be encoded."
        }
        "well-known-type" => {
            "prost represents well-known types as plain Rust values, not as messages built field by field; a row or `fields:` on one cannot be generated."
        }
        "unknown-proto-field" => {
            "a key that is not a proto field is a typo whose value would be lost, while the field it meant stays unmapped."
        }
        "unmapped-field" => {
            "a field added to a contract must be decided on (mapped, or `default` on purpose): otherwise consumers receive an empty value nobody chose."
        }
        "invalid-field-source" => {
            "a field source must say one thing: two sources (or none) leave it unclear what is published."
        }
        "invalid-domain-path" => {
            "`from` becomes Rust field accesses in generated code; a path that is not one fails to compile far from the table."
        }
        "nested-not-message" => {
            "`fields:` builds a message field by field; on a scalar, or a map of scalars, there is nothing to build."
        }
        "unknown-envelope-value" => {
            "the envelope has a fixed set of values; any other name has no value to take."
        }
        "envelope-type" => {
            "an envelope value has one type (`occurred_at` is a timestamp, ids are strings); in a field of another type it cannot be encoded."
        }
        "invalid-const" => {
            "a constant is checked once, here, for the field's type and range, instead of failing (or wrapping) at run time."
        }
        "unsupported-field" => {
            "a map converts as a whole or value by value; `enum:` on it has no meaning the generated code could follow."
        }
        "unsupported-proto-feature" => {
            "prost generates no field for groups and extensions, so there is nothing to fill."
        }
        "default-on-required" => {
            "a proto2 `required` field left at its zero value looks set to every consumer, which `required` exists to prevent."
        }
        "oneof-conflict" => {
            "a oneof holds one member; mapping two means one of the values is silently lost."
        }
        "oneof-variant" => {
            "each domain variant must fill exactly one member of the oneof (or none, on purpose), or the generated `match` cannot be written."
        }
        "unknown-mapping" => {
            "`mapping:` names a mapping that does not exist: the field would have no conversion."
        }
        "mapping-mismatch" => {
            "a named mapping converts one type into one proto type; used elsewhere, the generated code would not compile."
        }
        "invalid-mapping" => {
            "a named mapping must be exactly one kind (enum, oneof or message) for its uses to be checked and generated."
        }
        "unused-mapping" => {
            "a mapping nothing uses is dead text, and often a sign that a field meant to use it does not."
        }
        "enum-not-enum" => {
            "`enum:` and `values:` map a domain enum onto a proto enum; on another field type there are no values to map to."
        }
        "enum-value" => {
            "values are matched by proto value names; a name that does not exist would have no number to publish."
        }
        "missing-domain-module" => {
            "without `rust.domain_module` (or a row's `type`), the generated code cannot name the domain event's type."
        }
        "invalid-durable" => {
            "JetStream refuses such a consumer name when the consumer is created, at run time."
        }
        "durable-not-owned" => {
            "two services sharing one durable consumer split each other's events: each sees only part of them."
        }
        "duplicate-durable" => {
            "two subscriptions on one durable consumer split each other's events."
        }
        "empty-subscription" => {
            "a subscription that receives no event creates a consumer for nothing."
        }
        "package-mismatch" => {
            "messages named in the subscription's `package` must be found there, or the consumer decodes with the wrong type."
        }
        "invalid-duration" => {
            "a duration that does not parse would be a delivery policy nobody can predict."
        }
        "invalid-delivery" => {
            "JetStream refuses delivery policies out of range (no deliveries, an unknown start), at run time."
        }
        "unused-backoff" => {
            "backoff steps after the last delivery are never used: the policy says more than it does."
        }
        "dead-letter-in-channel" => {
            "dead letters published under a subject the consumer reads would be consumed again."
        }
        "channel-not-published" | "channel-stream-mismatch" => {
            "a consumer whose channel no producer publishes on starts, binds its durable and then receives nothing, silently."
        }
        "event-not-published" => {
            "an event nobody publishes on the subscription's channel never arrives: the consumer waits for it forever."
        }
        "event-message-mismatch" | "event-ce-type-mismatch" => {
            "the consumer would decode the producer's bytes with another message type, or filter on a type the producer never writes."
        }
        "incompatible-message-copy" => {
            "a consumer's copy of a message that disagrees with the producer's on numbers, types, cardinality or proto2 defaults decodes wrong values without an error."
        }
        "shared-durable" => {
            "two services on one durable consumer split each other's messages: each sees only part of the stream."
        }
        "dead-letter-overlap" => {
            "a dead letter published under a subject another service reads would be consumed again as a live event."
        }
        "break-reaches-consumer" => {
            "a producer's breaking change hurts the services that consume the event: they decode what was deployed before the change."
        }
        "registry-producer-break" => {
            "the consumers running now were compiled with the contract live in the registry: a producer deployed with a contract they cannot read makes their guard stop or dead-letter every message of the event."
        }
        "registry-consumer-incompatible" => {
            "a consumer deployed with a copy that cannot read what producers publish now would stop (or dead-letter) at its first message of the event: the deploy pipeline should stop it first."
        }
        "registry-event-unregistered" => {
            "a consumer refuses to start when producers registered its channel but not one of its events: the event would never arrive."
        }
        "registry-channel-unregistered" => {
            "without the producers' contracts nothing can be compared: the consumer starts unchecked (a warning: the producer may simply not be deployed yet)."
        }
        "registry-invalid" => {
            "a registry entry that cannot be read leaves consumers unable to judge the producer's messages; restarting the producer registers its contract again."
        }
        "could-not-run" => {
            "eventmap could not check the table at all (exit 2): nothing was checked, so nothing may be assumed."
        }
        "breaking-accepted-stale" => {
            "an accepted break that matches no break is stale: removing it keeps the file honest, and a typo in it would otherwise accept nothing."
        }
        "breaking-field-default-changed" => {
            "a default is not on the wire: a message that leaves the field absent reads the reader's default, so producer and consumers read two values for one message, without an error."
        }
        _ if id.starts_with("breaking-") => {
            "consumers depend on the integration contract; a change to it breaks the ones deployed before the change (they decode, filter or subscribe by what changed)."
        }
        _ => "see the rule's documentation.",
    }
}

/// For a breaking rule: the target of its accepted-breaks entry, a change that breaks, and a
/// change nearby that does not.
pub(super) fn breaking(id: &str) -> Option<(&'static str, &'static str, &'static str)> {
    Some(match id {
        "breaking-service-changed" => (
            "service",
            "`service: shop` becomes `service: store`",
            "keep `service:`; a new service name is a new producer",
        ),
        "breaking-event-removed" => (
            "<event name>",
            "the row `- name: OrderShippedEvent` is removed, or its domain event becomes `internal`",
            "add new rows; remove an event only after its consumers have gone",
        ),
        "breaking-event-renamed" => (
            "<old event name>",
            "`name: OrderPlacedEvent` becomes `name: OrderCreatedEvent` (same domain event and message)",
            "publish the new name next to the old one (two rows) until consumers moved",
        ),
        "breaking-ce-type-changed" => (
            "<event name>",
            "`ce_type: com.example.shop.OrderPlaced` is added to, changed on or removed from a published row",
            "a `ce_type:` equal to the name changes nothing",
        ),
        "breaking-event-channel-changed" => (
            "<event name>",
            "`channel: orders` becomes `channel: spare` (another subject or stream)",
            "renaming the channel key while keeping its subject and stream is safe",
        ),
        "breaking-subject-changed" => (
            "<channel name>",
            "`subject: shop.orders` becomes `subject: shop.order`",
            "publish the events on a new channel next to this one until consumers moved",
        ),
        "breaking-stream-changed" => (
            "<channel name>",
            "`stream: SHOP_ORDERS` becomes `stream: SHOP_ORDERS_V2`",
            "the stream written the same way is safe",
        ),
        "breaking-event-message-changed" => (
            "<event name>",
            "`message: shop.v1.OrderPlaced` becomes `message: shop.v1.OrderShipped`",
            "a new message published as a new event, next to the old one",
        ),
        "breaking-field-defaulted" => (
            "<Event>.<field>",
            "`note: { from: note }` becomes `note: default`",
            "mapping a field that was `default` is safe",
        ),
        "breaking-const-changed" => (
            "<Event>.<field>",
            "`source: { const: web }` becomes `source: { const: app }`",
            "`7`, `\"7\"` and `07` for an integer field are the same value",
        ),
        "breaking-enum-mapping-changed" => (
            "<Event>.<field>.<Variant>",
            "`values: { Open: STATUS_OPEN }` becomes `values: { Open: STATUS_CLOSED }`",
            "mapping a new variant is safe",
        ),
        "breaking-message-renamed" => (
            "<old full name>",
            "`message OrderPlaced` becomes `message OrderCreated` in the `.proto`",
            "add the new message and publish it as a new event",
        ),
        "breaking-package-changed" => (
            "<old full name>",
            "`package shop.v1;` becomes `package shop.v2;` for a carried message",
            "a new package's messages published as new events",
        ),
        "breaking-field-removed" => (
            "<pkg.Message.field>",
            "`string note = 6;` is deleted",
            "delete it with `reserved 6; reserved \"note\";`",
        ),
        "breaking-field-renamed" => (
            "<pkg.Message.old_name>",
            "`string note = 6;` becomes `string comment = 6;`",
            "keep the JSON name: `string comment = 6 [json_name = \"note\"];`",
        ),
        "breaking-field-json-name-changed" => (
            "<pkg.Message.field>",
            "`[json_name = \"note\"]` becomes `[json_name = \"memo\"]`",
            "keep the JSON name",
        ),
        "breaking-field-number-changed" => (
            "<pkg.Message.field>",
            "a field inserted in the middle renumbers the ones after it",
            "add new fields with new numbers at the end",
        ),
        "breaking-field-type-changed" => (
            "<pkg.Message.field>",
            "`int64 total_cents = 3;` becomes `sint64 total_cents = 3;`",
            "add a field of the new type with a new number",
        ),
        "breaking-field-cardinality-changed" => (
            "<pkg.Message.field>",
            "`string note = 6;` becomes `repeated string note = 6;` (or gains `optional`)",
            "add a repeated field with a new number",
        ),
        "breaking-field-oneof-changed" => (
            "<pkg.Message.field>",
            "`string card = 10;` moves out of `oneof payment`",
            "renaming the oneof is safe",
        ),
        "breaking-field-default-changed" => (
            "<pkg.Message.field>",
            "`optional string currency = 2 [default = \"EUR\"];` becomes `[default = \"USD\"]`",
            "an explicit default equal to the type's own (`[default = 0]` for an `int32`)",
        ),
        "breaking-enum-value-removed" => (
            "<pkg.Enum.VALUE>",
            "`STATUS_CLOSED = 2;` is deleted",
            "delete it with `reserved 2; reserved \"STATUS_CLOSED\";`",
        ),
        "breaking-enum-value-renamed" => (
            "<pkg.Enum.OLD_VALUE>",
            "`STATUS_CLOSED = 2;` becomes `STATUS_DONE = 2;`",
            "add the new value with a new number",
        ),
        "breaking-enum-value-number-changed" => (
            "<pkg.Enum.VALUE>",
            "`STATUS_CLOSED = 2;` becomes `STATUS_CLOSED = 3;`",
            "add values with new numbers",
        ),
        "breaking-reserved-removed" => (
            "<pkg.Message#reserved:20-22>",
            "`reserved 20 to 22;` becomes `reserved 20, 21;`",
            "`20 to 22` may become `20, 21; 22 to 30` (the same numbers, and more)",
        ),
        _ => return None,
    })
}
