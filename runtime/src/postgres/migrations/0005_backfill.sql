-- eventmap backfills: the checkpoint of each named backfill (`eventmap::postgres::Backfill`).
-- `{schema}` is replaced by the quoted schema name.

-- A backfill re-derives integration events from `eventmap_events`, in position order, up to
-- `until_position` (the highest position when it started), and records here, after each
-- published batch, the position it reached and what it did. A backfill run again under the
-- same name resumes after `position`; `selection` (the selection and the target, as JSON)
-- must be the same.
CREATE TABLE {schema}.eventmap_backfills (
    name text PRIMARY KEY,
    selection jsonb NOT NULL,
    until_position bigint NOT NULL,
    position bigint NOT NULL DEFAULT 0,
    events bigint NOT NULL DEFAULT 0,
    messages bigint NOT NULL DEFAULT 0,
    published bigint NOT NULL DEFAULT 0,
    duplicates bigint NOT NULL DEFAULT 0,
    started_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
