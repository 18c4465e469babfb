-- eventmap inbox (SQLite).

-- The integration messages a consumer has processed, by CloudEvents id (`ce-id`). A handler
-- running through the inbox inserts its row in the transaction of its own writes (an
-- immediate transaction: writers queue on the database's write lock); a redelivered message
-- finds the row and is skipped.
CREATE TABLE eventmap_inbox (
    consumer TEXT NOT NULL,
    message_id TEXT NOT NULL,
    -- UTC, ISO 8601 with milliseconds: compares as text in time order.
    processed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (consumer, message_id)
) WITHOUT ROWID;

-- For purging old entries (`Inbox::purge`).
CREATE INDEX eventmap_inbox_processed_at ON eventmap_inbox (processed_at);
