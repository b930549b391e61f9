-- IPRS core schema for PostgreSQL (15+).
-- Rerunnable: every statement is idempotent, so
--   psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f sql/001_mvp_core.sql
-- may be run any number of times. `iprs migrate` applies the same file in
-- its own transaction (it drops the top-level BEGIN; and COMMIT; lines below)
-- and records it in schema_migration.
--
-- revision: 7
-- The revision goes up with every change to this file once it has been
-- applied anywhere; the last statement records it, and `iprs migrate`
-- applies the file again to a database that recorded a lower one.
--
-- Conventions:
--   * Identifiers and grouping keys are text COLLATE "C", so every ordering
--     (lists, cursors, result pages) is plain byte order whatever the
--     database's default collation, the same as Go and SQLite.
--   * JSON documents the client submitted are stored as `json`, which keeps
--     the text exactly as written (jsonb would re-space and re-order it);
--     reads return the bytes that were stored.
--   * Times are timestamptz with microsecond precision.

BEGIN;

CREATE TABLE IF NOT EXISTS schema_migration (
    version     integer     PRIMARY KEY,
    name        text        NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now(),
    revision    integer     NOT NULL DEFAULT 0
);
ALTER TABLE schema_migration ADD COLUMN IF NOT EXISTS revision integer NOT NULL DEFAULT 0;

-- Immutable market data snapshots: the canonical JSON as submitted plus the
-- server's data-quality verdict.
CREATE TABLE IF NOT EXISTS market_snapshot (
    snapshot_id   text COLLATE "C" PRIMARY KEY,
    as_of_time    timestamptz NOT NULL,
    vendor        text        NOT NULL DEFAULT '',
    universe_id   text        NOT NULL DEFAULT '',
    payload       bytea       NOT NULL,
    payload_hash  text        NOT NULL,
    dq_status     text        NOT NULL CHECK (dq_status IN ('PASS', 'WARN', 'FAIL')),
    issues        json        NOT NULL DEFAULT '[]',
    created_at    timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS market_snapshot_as_of_idx ON market_snapshot (as_of_time DESC, snapshot_id DESC);

-- Immutable analytic documents that runs name by id: scenario sets (SPEC
-- §4.3) and model sets (§4.1), one table for every kind. payload is the
-- canonical JSON of the document (as submitted, or as the server built it);
-- description and item_count (scenarios, rules) serve lists without it.
CREATE TABLE IF NOT EXISTS analytic_set (
    kind          text COLLATE "C" NOT NULL CHECK (kind IN ('scenario_set', 'model_set')),
    set_id        text COLLATE "C" NOT NULL,
    description   text        NOT NULL DEFAULT '',
    item_count    integer     NOT NULL CHECK (item_count >= 0),
    payload       bytea       NOT NULL,
    payload_hash  text        NOT NULL,
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (kind, set_id)
);
CREATE INDEX IF NOT EXISTS analytic_set_created_idx ON analytic_set (kind, created_at DESC, set_id DESC);

-- Immutable position snapshots: a header and one row per position.
CREATE TABLE IF NOT EXISTS position_snapshot (
    position_snapshot_id  text COLLATE "C" PRIMARY KEY,
    as_of_time            timestamptz NOT NULL,
    portfolio_node_id     text COLLATE "C" NOT NULL,
    payload_hash          text        NOT NULL,
    position_count        bigint      NOT NULL,
    product_types         text[]      NOT NULL,
    created_at            timestamptz NOT NULL
);
-- check_summary (added in revision 6; NULL before): what the pre-run check
-- needs of the snapshot's positions, recorded at upload by the
-- orchestrator (the curves and FX pairs they need, the first run as-of
-- date at which none has a problem of its own), so that a run can be
-- checked without reading every position again.
ALTER TABLE position_snapshot ADD COLUMN IF NOT EXISTS check_summary json;
CREATE INDEX IF NOT EXISTS position_snapshot_node_idx ON position_snapshot (portfolio_node_id, as_of_time DESC, created_at DESC);
CREATE INDEX IF NOT EXISTS position_snapshot_hash_idx ON position_snapshot (payload_hash);

-- Rows are written before their header inside one transaction, so there is
-- no foreign key to the header; the header's commit makes them visible.
-- Rows are bulk-loaded with COPY and never updated, so the table is tuned to
-- be vacuumed after large inserts (setting the visibility map lets the
-- task queries use index-only filtering on position_hash).
CREATE TABLE IF NOT EXISTS position (
    position_snapshot_id  text COLLATE "C" NOT NULL,
    seq                   bigint  NOT NULL,
    position_id           text COLLATE "C" NOT NULL,
    instrument_id         text COLLATE "C" NOT NULL DEFAULT '',
    product_type          text COLLATE "C" NOT NULL,
    quantity              double precision,
    attributes            json    NOT NULL,
    position_hash         bigint  NOT NULL CHECK (position_hash >= 0),
    PRIMARY KEY (position_snapshot_id, seq)
);
CREATE UNIQUE INDEX IF NOT EXISTS position_id_idx ON position (position_snapshot_id, position_id);
-- Serves PositionBuckets and TaskPositions. A task of a run reads the
-- positions of one product type whose position_hash % hash_mod is its
-- bucket; keying on (snapshot, product type) alone made every task scan its
-- whole product type and filter on the hash (with hash_mod 256, a
-- 1,000,000-loan run read 256 million index entries). This index also keys
-- on a fine bucket, position_hash % 4096: whenever hash_mod divides 4096
-- (the server's default hash_mod is a power of two up to 256) a task's
-- positions are exactly the fine buckets b, b + hash_mod, b + 2·hash_mod, …
-- and the task reads those entries only; for any other hash_mod it reads
-- the fine buckets congruent to its bucket modulo gcd(hash_mod, 4096) and
-- filters on the hash. position_hash and seq are INCLUDE columns for
-- PositionBuckets' index-only scan and the bucket test. 4,096 insertion
-- points per product type keep an upload's index writes within a few
-- thousand pages (a key on the full hash made uploads about twice as slow).
-- The expression must stay exactly (position_hash % 4096) for the planner
-- to match TaskPositions' condition to it.
CREATE INDEX IF NOT EXISTS position_task_fine_idx
    ON position (position_snapshot_id, product_type, (position_hash % 4096)) INCLUDE (position_hash, seq);
DROP INDEX IF EXISTS position_task_idx;
DROP INDEX IF EXISTS position_type_idx;
DROP INDEX IF EXISTS position_type_hash_idx;
ALTER TABLE position SET (autovacuum_vacuum_insert_threshold = 200000, autovacuum_vacuum_insert_scale_factor = 0.0);
-- attributes are compressed with lz4 where the server has it (revision 7).
-- A loan given with its explicit schedule carries about 3 kB of
-- attributes, over the TOAST threshold: pglz, the default, took a third of
-- the database's CPU in a 1,000,000-loan upload with schedules, and its
-- decompression is slower for the workers too. Rows written before keep
-- their compression; a server built without lz4 keeps pglz.
DO $$
BEGIN
    ALTER TABLE position ALTER COLUMN attributes SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    NULL;
END
$$;

CREATE TABLE IF NOT EXISTS run (
    run_id              text COLLATE "C" PRIMARY KEY,
    run_type            text        NOT NULL CHECK (run_type IN ('EOD_OFFICIAL', 'INTRADAY', 'SANDBOX')),
    status              text        NOT NULL CHECK (status IN ('QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLING', 'CANCELLED', 'PUBLISHED')),
    as_of_time          timestamptz NOT NULL,
    market_snapshot_id  text COLLATE "C" NOT NULL REFERENCES market_snapshot (snapshot_id),
    portfolio_node_ids  text[]      NOT NULL DEFAULT '{}',
    model_set_id        text        NOT NULL DEFAULT '',
    measures            text[]      NOT NULL,
    scenarios           text[]      NOT NULL,
    hash_mod            integer     NOT NULL CHECK (hash_mod > 0),
    max_attempts        integer     NOT NULL CHECK (max_attempts > 0),
    request_hash        text        NOT NULL,
    request             json        NOT NULL,
    engine_version      text        NOT NULL,
    positions_total     bigint      NOT NULL,
    requested_at        timestamptz NOT NULL,
    started_at          timestamptz,
    completed_at        timestamptz,
    error               text        NOT NULL DEFAULT '',
    published_at        timestamptz,
    publish_hash        text        NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS run_requested_idx ON run (requested_at DESC, run_id DESC);
CREATE INDEX IF NOT EXISTS run_status_idx ON run (status, requested_at DESC, run_id DESC);
-- The principal that submitted the run (four-eyes publishing, SPEC §5).
ALTER TABLE run ADD COLUMN IF NOT EXISTS submitted_by text NOT NULL DEFAULT '';
-- What the run computes (package store, Kind*): a VALUATION of positions
-- under scenarios (what /orch/runs lists), the EXPLAIN of the P&L between
-- two valuations, or the VERIFY replay of a valuation. Explains and
-- replays are valued by the same queue and stored in the same result
-- tables as valuations.
ALTER TABLE run ADD COLUMN IF NOT EXISTS kind text NOT NULL DEFAULT 'VALUATION'
    CHECK (kind IN ('VALUATION', 'EXPLAIN', 'VERIFY'));
CREATE INDEX IF NOT EXISTS run_kind_requested_idx ON run (kind, requested_at DESC, run_id DESC);

CREATE TABLE IF NOT EXISTS run_position_snapshot (
    run_id                text COLLATE "C" NOT NULL REFERENCES run (run_id),
    position_snapshot_id  text COLLATE "C" NOT NULL REFERENCES position_snapshot (position_snapshot_id),
    PRIMARY KEY (run_id, position_snapshot_id)
);

-- The task queue. Claimed with FOR UPDATE SKIP LOCKED, earliest
-- available_at first, then task_id.
CREATE TABLE IF NOT EXISTS run_task (
    task_id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id            text COLLATE "C" NOT NULL REFERENCES run (run_id),
    product_type      text COLLATE "C" NOT NULL,
    bucket            integer     NOT NULL CHECK (bucket >= 0),
    hash_mod          integer     NOT NULL CHECK (hash_mod > 0),
    status            text        NOT NULL CHECK (status IN ('QUEUED', 'RUNNING', 'SUCCEEDED', 'DEAD', 'CANCELLED')),
    attempts          integer     NOT NULL DEFAULT 0,
    max_attempts      integer     NOT NULL CHECK (max_attempts > 0),
    position_count    bigint      NOT NULL,
    failures          integer     NOT NULL DEFAULT 0,
    lease_expiries    integer     NOT NULL DEFAULT 0,
    claim_token       bigint      NOT NULL DEFAULT 0,
    lease_owner       text        NOT NULL DEFAULT '',
    lease_expires_at  timestamptz,
    available_at      timestamptz NOT NULL,
    last_error        text        NOT NULL DEFAULT '',
    started_at        timestamptz,
    finished_at       timestamptz,
    engine_version    text        NOT NULL DEFAULT '',
    UNIQUE (run_id, product_type, bucket)
);
-- Columns added since run_task was first created; ADD COLUMN IF NOT EXISTS
-- gives them to a database made by an earlier version of this file.
-- claim_token: the number of times the task was claimed, the fencing token
-- a worker presents with every call about its claim.
-- failures: failures reported by workers, bounded by max_attempts.
-- lease_expiries: claims whose lease expired (a worker that died), bounded
-- apart (store.MaxLeaseExpiries), so crashes never use up max_attempts.
ALTER TABLE run_task ADD COLUMN IF NOT EXISTS claim_token bigint NOT NULL DEFAULT 0;
ALTER TABLE run_task ADD COLUMN IF NOT EXISTS failures integer NOT NULL DEFAULT 0;
ALTER TABLE run_task ADD COLUMN IF NOT EXISTS lease_expiries integer NOT NULL DEFAULT 0;
-- engine_version: the pricing code (worker build) that computed the task's
-- results, set when it completes.
ALTER TABLE run_task ADD COLUMN IF NOT EXISTS engine_version text NOT NULL DEFAULT '';
DROP INDEX IF EXISTS run_task_claim_idx;
DROP INDEX IF EXISTS run_task_open_idx;
-- Open tasks in claim order; small because finished tasks leave it.
CREATE INDEX IF NOT EXISTS run_task_queue_idx ON run_task (available_at, task_id) WHERE status IN ('QUEUED', 'RUNNING');
-- Running tasks by lease expiry, for reclaiming and reaping.
CREATE INDEX IF NOT EXISTS run_task_lease_idx ON run_task (lease_expires_at) WHERE status = 'RUNNING';

-- Results: one row per (run, position) holding the position's measures
-- under every scenario of the run, encoded (package resultcodec) in the
-- order of run.scenarios. One row per position rather than per (position,
-- scenario) keeps a run's rows, index entries and COPY time proportional to
-- its positions: a 1,000,000-loan run under 4 scenarios writes 1,000,000
-- rows, and under 251 historical scenarios still 1,000,000. Written with
-- COPY by the transaction that completes the task. Only the primary key is
-- indexed: every extra index slows that COPY. vals is stored without
-- compression (pglz costs CPU and float bits barely compress) and inline up
-- to toast_tuple_target, so a run of a few hundred scenarios reads no TOAST.
CREATE TABLE IF NOT EXISTS position_result (
    run_id                text COLLATE "C" NOT NULL,
    position_snapshot_id  text COLLATE "C" NOT NULL,
    position_id           text COLLATE "C" NOT NULL,
    task_id               bigint  NOT NULL,
    instrument_id         text COLLATE "C" NOT NULL,
    product_type          text COLLATE "C" NOT NULL,
    portfolio_node_id     text COLLATE "C" NOT NULL,
    vals                  bytea   NOT NULL,
    PRIMARY KEY (run_id, position_snapshot_id, position_id)
);
ALTER TABLE position_result ALTER COLUMN vals SET STORAGE EXTERNAL;
ALTER TABLE position_result SET (toast_tuple_target = 8160,
    autovacuum_vacuum_insert_threshold = 200000, autovacuum_vacuum_insert_scale_factor = 0.0);
-- The first schema's one row per (run, position, scenario); nothing that
-- was deployed wrote it.
DROP TABLE IF EXISTS run_result;

-- Partial aggregates of each task (package agg), written in the same
-- transaction as its results: exact sums merge, so a run's summary and its
-- cubes by product type and node merge a few hundred small payloads
-- instead of rescanning the results.
CREATE TABLE IF NOT EXISTS task_aggregate (
    run_id   text COLLATE "C" NOT NULL,
    key_by   text COLLATE "C" NOT NULL,
    task_id  bigint NOT NULL,
    payload  bytea  NOT NULL,
    PRIMARY KEY (run_id, key_by, task_id)
);

-- Aggregates of finished runs computed once (a finished run's results never
-- change): cubes by instrument or attribute, VaR vectors.
CREATE TABLE IF NOT EXISTS run_aggregate (
    run_id      text COLLATE "C" NOT NULL REFERENCES run (run_id),
    name        text COLLATE "C" NOT NULL,
    payload     bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, name)
);

-- The audit trail (SPEC §5): one row per accepted change, inserted by the
-- transaction that makes the change. Newest first, optionally by object,
-- principal or action, hence one index per filter ending in the list
-- order. Append-only: the trigger refuses UPDATE, DELETE and TRUNCATE
-- (deleting a run leaves its audit rows).
CREATE TABLE IF NOT EXISTS audit_log (
    audit_id     bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recorded_at  timestamptz NOT NULL,
    principal    text COLLATE "C" NOT NULL,
    action       text COLLATE "C" NOT NULL,
    object_id    text COLLATE "C" NOT NULL,
    request_id   text COLLATE "C" NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS audit_log_time_idx ON audit_log (recorded_at DESC, audit_id DESC);
CREATE INDEX IF NOT EXISTS audit_log_object_idx ON audit_log (object_id, recorded_at DESC, audit_id DESC);
CREATE INDEX IF NOT EXISTS audit_log_principal_idx ON audit_log (principal, recorded_at DESC, audit_id DESC);
CREATE INDEX IF NOT EXISTS audit_log_action_idx ON audit_log (action, recorded_at DESC, audit_id DESC);
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP;
END
$$;
CREATE OR REPLACE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE OR REPLACE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- Webhooks (SPEC §5): subscriptions, the outbox of deliveries (written in
-- the transaction of the event) and the log of every delivery attempt.
CREATE TABLE IF NOT EXISTS webhook (
    webhook_id   text COLLATE "C" PRIMARY KEY,
    url          text        NOT NULL,
    events       text[]      NOT NULL,
    description  text        NOT NULL DEFAULT '',
    secret       text        NOT NULL,
    created_at   timestamptz NOT NULL,
    deleted_at   timestamptz
);
CREATE TABLE IF NOT EXISTS webhook_delivery (
    delivery_id      bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id       text COLLATE "C" NOT NULL REFERENCES webhook (webhook_id),
    event_type       text COLLATE "C" NOT NULL,
    run_id           text COLLATE "C" NOT NULL,
    payload          text        NOT NULL,
    message_id       text COLLATE "C" NOT NULL UNIQUE,
    status           text COLLATE "C" NOT NULL CHECK (status IN ('PENDING', 'DELIVERED', 'FAILED')),
    attempts         integer     NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL,
    last_status_code integer     NOT NULL DEFAULT 0,
    last_error       text        NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL,
    delivered_at     timestamptz
);
CREATE INDEX IF NOT EXISTS webhook_delivery_due_idx ON webhook_delivery (next_attempt_at, delivery_id) WHERE status = 'PENDING';
CREATE INDEX IF NOT EXISTS webhook_delivery_run_idx ON webhook_delivery (webhook_id, run_id, delivery_id) WHERE status = 'PENDING';
CREATE INDEX IF NOT EXISTS webhook_delivery_webhook_idx ON webhook_delivery (webhook_id, delivery_id DESC);
CREATE TABLE IF NOT EXISTS webhook_attempt (
    delivery_id  bigint      NOT NULL REFERENCES webhook_delivery (delivery_id),
    attempt      integer     NOT NULL,
    attempted_at timestamptz NOT NULL,
    status_code  integer     NOT NULL DEFAULT 0,
    error        text        NOT NULL DEFAULT '',
    PRIMARY KEY (delivery_id, attempt)
);

-- Databases created by the first draft of this file stored client JSON as
-- jsonb; convert those columns so reads return the bytes as submitted.
DO $$
DECLARE
    c record;
BEGIN
    FOR c IN
        SELECT table_name, column_name
        FROM information_schema.columns
        WHERE table_schema = current_schema()
          AND data_type = 'jsonb'
          AND (table_name, column_name) IN (('market_snapshot', 'issues'), ('position', 'attributes'), ('run', 'request'))
    LOOP
        EXECUTE format('ALTER TABLE %I ALTER COLUMN %I DROP DEFAULT', c.table_name, c.column_name);
        EXECUTE format('ALTER TABLE %I ALTER COLUMN %I TYPE json USING %I::json', c.table_name, c.column_name, c.column_name);
        IF c.column_name = 'issues' THEN
            ALTER TABLE market_snapshot ALTER COLUMN issues SET DEFAULT '[]';
        END IF;
    END LOOP;
END
$$;

INSERT INTO schema_migration (version, name, revision) VALUES (1, '001_mvp_core', 7)
ON CONFLICT (version) DO UPDATE SET revision = EXCLUDED.revision, applied_at = now()
    WHERE schema_migration.revision < EXCLUDED.revision;

COMMIT;
