-- eventmap transactional outbox. `{schema}` is replaced by the quoted schema name.

-- Integration messages, converted and encoded, written in the transaction that appended the
-- domain events they come from. The relay publishes unpublished rows in `id` order (per
-- aggregate, `id` order is version order: appends to one aggregate are serialised by its row
-- in eventmap_aggregates and draw their ids after taking that lock) and sets `published_at`
-- only after JetStream acknowledged the message.
CREATE TABLE {schema}.eventmap_outbox (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id uuid NOT NULL UNIQUE,
    aggregate_type text NOT NULL,
    aggregate_id text NOT NULL,
    aggregate_version bigint NOT NULL,
    subject text NOT NULL,
    name text NOT NULL,
    -- [[name, value], ...] in order (CloudEvents headers; Nats-Msg-Id is message_id).
    headers jsonb NOT NULL,
    payload bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    attempts integer NOT NULL DEFAULT 0,
    first_attempt_at timestamptz,
    last_error text,
    published_at timestamptz,
    stream text,
    stream_sequence bigint
);

CREATE INDEX eventmap_outbox_unpublished
    ON {schema}.eventmap_outbox (id) WHERE published_at IS NULL;
CREATE INDEX eventmap_outbox_unpublished_by_aggregate
    ON {schema}.eventmap_outbox (aggregate_type, aggregate_id, id) WHERE published_at IS NULL;
