-- eventmap event store on SQLite (the same tables as the Postgres store's 0001; times are
-- ISO 8601 UTC text, JSON is text checked with json_valid, UUIDs are hyphenated text).

-- One row per aggregate: its current version. The optimistic-concurrency check is an
-- UPDATE ... WHERE version = <expected> (or an INSERT for a new aggregate) on this row, in the
-- transaction that appends the events; SQLite has one writer at a time (BEGIN IMMEDIATE), so
-- a concurrent append of the same aggregate runs after this one and finds the version moved.
CREATE TABLE eventmap_aggregates (
    aggregate_type TEXT NOT NULL,
    aggregate_id TEXT NOT NULL,
    version INTEGER NOT NULL CHECK (version >= 0),
    PRIMARY KEY (aggregate_type, aggregate_id)
) STRICT;

-- The events, in append order (`position`; AUTOINCREMENT: a position is never reused). The
-- payload is the JSON of the domain event type registered under `event_name` at
-- `schema_version`.
CREATE TABLE eventmap_events (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    aggregate_type TEXT NOT NULL,
    aggregate_id TEXT NOT NULL,
    version INTEGER NOT NULL CHECK (version > 0),
    event_name TEXT NOT NULL,
    schema_version INTEGER NOT NULL CHECK (schema_version > 0),
    payload TEXT NOT NULL CHECK (json_valid(payload)),
    metadata TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    -- Nanoseconds since the Unix epoch (exact round trip of the event's SystemTime).
    occurred_at_ns INTEGER NOT NULL,
    recorded_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (aggregate_type, aggregate_id, version)
) STRICT;
