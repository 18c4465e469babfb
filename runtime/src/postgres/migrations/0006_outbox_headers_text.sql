-- eventmap outbox: the headers as JSON text, no longer `jsonb`. `{schema}` is replaced by the
-- quoted schema name.

-- The relay reads the headers of every row it sends, once, as text, and nothing queries inside
-- them. A `jsonb` column is stored parsed and turned back into text by the server on every read:
-- measured (BENCHMARKS.md, "Outbox relay", 2026-12-07) as about 15% of the server's time for a
-- relay round of 500 rows. The writers store the JSON the runtime encodes (`[[name, value],
-- ...]`); a row whose text is not that is refused by the relay and parked, as before.
--
-- The `ALTER` rewrites the table under an ACCESS EXCLUSIVE lock for the time of the copy: an
-- outbox whose relay keeps up holds few rows (published rows are deleted, or purged after the
-- retention).
ALTER TABLE {schema}.eventmap_outbox ALTER COLUMN headers TYPE text USING headers::text;
