-- eventmap inbox. `{schema}` is replaced by the quoted schema name.

-- The integration messages a consumer has processed, by CloudEvents id (`ce-id`). A handler
-- running through the inbox inserts its row in the transaction of its own writes; a
-- redelivered message finds the row (or waits for the transaction holding it) and is skipped.
CREATE TABLE {schema}.eventmap_inbox (
    consumer text NOT NULL,
    message_id text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
);

-- For purging old entries (`Inbox::purge`).
CREATE INDEX eventmap_inbox_processed_at ON {schema}.eventmap_inbox (processed_at);
