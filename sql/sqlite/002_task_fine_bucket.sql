-- IPRS schema step 2 for SQLite: the twin of sql/002_task_fine_bucket.sql.
-- `iprs migrate` (or dev mode) applies it in a transaction and records it in
-- schema_migration.
--
-- On PostgreSQL this step makes a task read only its fine buckets
-- (position_hash % 4096) instead of its whole product type. SQLite has read
-- tasks that way since 001: position_task_idx keys each product type's
-- entries by position_hash % 64 (see sql/sqlite/001_mvp_core.sql and
-- store/sqlite TaskPositions), which keeps its uploads nearly sequential.
-- This step asserts that index, so both databases reach version 2 with a
-- fine-bucket task index; on a database made by 001 it changes nothing.

CREATE INDEX IF NOT EXISTS position_task_idx ON position (position_snapshot_id, product_type, (position_hash % 64), seq, position_hash);
