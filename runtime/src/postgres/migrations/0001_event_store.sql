-- eventmap event store. `{schema}` is replaced by the quoted schema name.

-- One row per aggregate: its current version. The optimistic-concurrency check is an
-- UPDATE ... WHERE version = <expected> (or an INSERT for a new aggregate) on this row, in the
-- transaction that appends the events; the row lock serialises concurrent appends.
CREATE TABLE {schema}.eventmap_aggregates (
    aggregate_type text NOT NULL,
    aggregate_id text NOT NULL,
    version bigint NOT NULL CHECK (version >= 0),
    PRIMARY KEY (aggregate_type, aggregate_id)
);

-- The events, in append order (`position`). The payload is the JSON of the domain event type
-- registered under `event_name` at `schema_version`.
CREATE TABLE {schema}.eventmap_events (
    position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id uuid NOT NULL UNIQUE,
    aggregate_type text NOT NULL,
    aggregate_id text NOT NULL,
    version bigint NOT NULL CHECK (version > 0),
    event_name text NOT NULL,
    schema_version integer NOT NULL CHECK (schema_version > 0),
    payload jsonb NOT NULL,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- Nanoseconds since the Unix epoch (exact round trip of the event's SystemTime);
    -- `occurred_at` is the same instant for people reading the table.
    occurred_at_ns bigint NOT NULL,
    occurred_at timestamptz GENERATED ALWAYS AS (to_timestamp(occurred_at_ns / 1e9)) STORED,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (aggregate_type, aggregate_id, version)
);
