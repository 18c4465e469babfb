-- eventmap outbox: rows that can never be published are parked. `{schema}` is replaced by the
-- quoted schema name.

-- `attempts`, `first_attempt_at` and `last_error` (0002) count and describe every failed
-- attempt, transient ones included. `refusals` counts only the attempts the broker refused
-- for a reason retrying does not fix (a message over max_payload, an invalid message, no
-- stream for the subject); `first_refused_at` is the first of them. The relay parks a row
-- (`parked_at`) after `RelayConfig::park_after` refusals: it is no longer sent, and the
-- later rows of its aggregate wait behind it until an operator retries or skips it.
ALTER TABLE {schema}.eventmap_outbox
    ADD COLUMN refusals integer NOT NULL DEFAULT 0,
    ADD COLUMN first_refused_at timestamptz,
    ADD COLUMN parked_at timestamptz;

-- The relay's batch query skips every row behind a parked row of its aggregate; the operators'
-- list reads the parked rows.
CREATE INDEX eventmap_outbox_parked
    ON {schema}.eventmap_outbox (aggregate_type, aggregate_id, id) WHERE parked_at IS NOT NULL;
