-- IPRS schema step 2 for PostgreSQL: task reads through a fine bucket.
-- Rerunnable, like every file here: apply the files in version order,
--   psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f sql/001_mvp_core.sql -f sql/002_task_fine_bucket.sql
-- (`iprs migrate` does this for you).
--
-- A task of a run reads the positions of one product type whose
-- position_hash % hash_mod is its bucket. position_task_idx (001) keys on
-- (snapshot, product type) only, so every task of a run scanned its whole
-- product type and filtered on the hash: with hash_mod 256 a 1,000,000-loan
-- run read 256 million index entries. The replacement keys on a fine
-- bucket, position_hash % 4096, as well. Whenever hash_mod divides 4096 (the
-- server's default hash_mod is a power of two up to 256) a task's positions
-- are exactly the fine buckets b, b + hash_mod, b + 2·hash_mod, … and the
-- task reads those entries only; for any other hash_mod it reads the fine
-- buckets congruent to its bucket modulo gcd(hash_mod, 4096) and filters on
-- the hash, which is never worse than before. position_hash and seq stay
-- INCLUDE columns for PositionBuckets' index-only scan and the bucket test.
-- 4,096 insertion points per product type keep an upload's index writes
-- within a few thousand pages (a key on the full hash made uploads about
-- twice as slow).
--
-- The fine bucket is an index expression rather than a stored column: the
-- rows do not change, and CREATE INDEX computes it for the rows already
-- stored. The expression must stay exactly (position_hash % 4096) for the
-- planner to match TaskPositions' condition to it.

BEGIN;

CREATE INDEX IF NOT EXISTS position_task_fine_idx
    ON position (position_snapshot_id, product_type, (position_hash % 4096)) INCLUDE (position_hash, seq);
DROP INDEX IF EXISTS position_task_idx;

INSERT INTO schema_migration (version, name) VALUES (2, '002_task_fine_bucket')
ON CONFLICT (version) DO NOTHING;

COMMIT;
