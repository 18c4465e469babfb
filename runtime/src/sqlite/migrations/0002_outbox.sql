-- eventmap transactional outbox on SQLite (the Postgres store's 0002 and 0004 in one).

-- Integration messages, converted and encoded, written in the transaction that appended the
-- domain events they come from. SQLite serialises write transactions, so ids are drawn in
-- commit order: the relay publishes unpublished rows in `id` order, which per aggregate is
-- version order, and no row can commit later with a lower id. `published_at` is set (or the
-- row deleted) only after JetStream acknowledged the message.
CREATE TABLE eventmap_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL UNIQUE,
    aggregate_type TEXT NOT NULL,
    aggregate_id TEXT NOT NULL,
    aggregate_version INTEGER NOT NULL,
    subject TEXT NOT NULL,
    name TEXT NOT NULL,
    -- [[name, value], ...] in order (CloudEvents headers; Nats-Msg-Id is message_id).
    headers TEXT NOT NULL,
    payload BLOB NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    -- Every failed attempt, transient ones included.
    attempts INTEGER NOT NULL DEFAULT 0,
    first_attempt_at TEXT,
    last_error TEXT,
    -- Attempts the broker refused for a reason retrying does not fix; after
    -- RelayConfig::park_after of them the row is parked: no longer sent, and the later rows
    -- of its aggregate wait behind it.
    refusals INTEGER NOT NULL DEFAULT 0,
    first_refused_at TEXT,
    parked_at TEXT,
    published_at TEXT,
    stream TEXT,
    stream_sequence INTEGER
) STRICT;

CREATE INDEX eventmap_outbox_unpublished
    ON eventmap_outbox (id) WHERE published_at IS NULL;
CREATE INDEX eventmap_outbox_parked
    ON eventmap_outbox (aggregate_type, aggregate_id, id) WHERE parked_at IS NOT NULL;
