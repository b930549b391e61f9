-- IPRS core schema for SQLite: the twin of sql/001_mvp_core.sql (same tables,
-- columns and constraints) in SQLite types. `iprs migrate` (or dev mode)
-- applies it in a transaction and records it in schema_migration.
-- revision: 7
-- (The revision goes up with every change to this file; `iprs migrate`
-- applies the file again to a database that recorded a lower one.)
--
-- Type mapping:
--   timestamptz       INTEGER, microseconds since the Unix epoch (UTC); sorts
--                     like the time it encodes.
--   text[]            TEXT holding a JSON array of strings.
--   jsonb             TEXT holding JSON, checked with json_valid (except the
--                     bulk position.attributes, see there).
--   bytea             BLOB.
--   double precision  declared BLOB, i.e. without type affinity: a
--                     REAL-affinity column stores integral values as integers,
--                     which loses the sign of -0.0. Without affinity the IEEE
--                     754 value the driver binds (always a float64) comes back
--                     bit for bit. (No typeof CHECK: it costs 15% of a bulk
--                     result write.)
--   identity          INTEGER PRIMARY KEY AUTOINCREMENT (never reused).

CREATE TABLE IF NOT EXISTS schema_migration (
    version     INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    applied_at  INTEGER NOT NULL,
    revision    INTEGER NOT NULL DEFAULT 0
);

-- Immutable market data snapshots: the canonical JSON as submitted plus the
-- server's data-quality verdict.
CREATE TABLE IF NOT EXISTS market_snapshot (
    snapshot_id   TEXT    PRIMARY KEY NOT NULL,
    as_of_time    INTEGER NOT NULL,
    vendor        TEXT    NOT NULL DEFAULT '',
    universe_id   TEXT    NOT NULL DEFAULT '',
    payload       BLOB    NOT NULL,
    payload_hash  TEXT    NOT NULL,
    dq_status     TEXT    NOT NULL CHECK (dq_status IN ('PASS', 'WARN', 'FAIL')),
    issues        TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(issues)),
    created_at    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS market_snapshot_as_of_idx ON market_snapshot (as_of_time DESC, snapshot_id DESC);

-- Immutable analytic documents that runs name by id: scenario sets (SPEC
-- §4.3) and model sets (§4.1), one table for every kind. payload is the
-- canonical JSON of the document (as submitted, or as the server built it);
-- description and item_count (scenarios, rules) serve lists without it.
CREATE TABLE IF NOT EXISTS analytic_set (
    kind          TEXT    NOT NULL CHECK (kind IN ('scenario_set', 'model_set')),
    set_id        TEXT    NOT NULL,
    description   TEXT    NOT NULL DEFAULT '',
    item_count    INTEGER NOT NULL CHECK (item_count >= 0),
    payload       BLOB    NOT NULL,
    payload_hash  TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (kind, set_id)
);
CREATE INDEX IF NOT EXISTS analytic_set_created_idx ON analytic_set (kind, created_at DESC, set_id DESC);

-- Immutable position snapshots: a header and one row per position.
CREATE TABLE IF NOT EXISTS position_snapshot (
    position_snapshot_id  TEXT    PRIMARY KEY NOT NULL,
    as_of_time            INTEGER NOT NULL,
    portfolio_node_id     TEXT    NOT NULL,
    payload_hash          TEXT    NOT NULL,
    position_count        INTEGER NOT NULL,
    product_types         TEXT    NOT NULL CHECK (json_valid(product_types)),
    created_at            INTEGER NOT NULL,
    -- What the pre-run check needs of the positions, recorded at upload
    -- (revision 7; NULL before): see sql/001_mvp_core.sql.
    check_summary         TEXT
);
CREATE INDEX IF NOT EXISTS position_snapshot_node_idx ON position_snapshot (portfolio_node_id, as_of_time DESC, created_at DESC);
CREATE INDEX IF NOT EXISTS position_snapshot_hash_idx ON position_snapshot (payload_hash);

-- Rows are written before their header inside one transaction, so there is
-- no foreign key to the header; the header's commit makes them visible.
-- WITHOUT ROWID: the primary key is the table, one B-tree fewer per row of
-- a million-position upload. attributes is canonical JSON made by the
-- server; it is not re-validated here (json_valid costs 15% of an upload).
CREATE TABLE IF NOT EXISTS position (
    position_snapshot_id  TEXT    NOT NULL,
    seq                   INTEGER NOT NULL,
    position_id           TEXT    NOT NULL,
    instrument_id         TEXT    NOT NULL DEFAULT '',
    product_type          TEXT    NOT NULL,
    quantity              BLOB,
    attributes            TEXT    NOT NULL,
    position_hash         INTEGER NOT NULL CHECK (position_hash >= 0),
    PRIMARY KEY (position_snapshot_id, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS position_id_idx ON position (position_snapshot_id, position_id);
-- Serves PositionBuckets (index only) and TaskPositions. Entries are grouped
-- by a fine bucket, position_hash % 64, so that a task of a run whose
-- hash_mod shares factors with 64 (the default hash_mod is a power of two)
-- reads only the fine buckets its bucket can be in: with hash_mod 256 a task
-- reads 1/64 of its product type instead of all of it. 64 insertion points
-- per product type keep uploads nearly sequential (a key on the full hash
-- made them 2.5x slower). position_hash is there for the bucket test
-- without reading the row.
CREATE INDEX IF NOT EXISTS position_task_idx ON position (position_snapshot_id, product_type, (position_hash % 64), seq, position_hash);

CREATE TABLE IF NOT EXISTS run (
    run_id              TEXT    PRIMARY KEY NOT NULL,
    run_type            TEXT    NOT NULL CHECK (run_type IN ('EOD_OFFICIAL', 'INTRADAY', 'SANDBOX')),
    status              TEXT    NOT NULL CHECK (status IN ('QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLING', 'CANCELLED', 'PUBLISHED')),
    as_of_time          INTEGER NOT NULL,
    market_snapshot_id  TEXT    NOT NULL REFERENCES market_snapshot (snapshot_id),
    portfolio_node_ids  TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(portfolio_node_ids)),
    model_set_id        TEXT    NOT NULL DEFAULT '',
    measures            TEXT    NOT NULL CHECK (json_valid(measures)),
    scenarios           TEXT    NOT NULL CHECK (json_valid(scenarios)),
    hash_mod            INTEGER NOT NULL CHECK (hash_mod > 0),
    max_attempts        INTEGER NOT NULL CHECK (max_attempts > 0),
    request_hash        TEXT    NOT NULL,
    request             TEXT    NOT NULL CHECK (json_valid(request)),
    engine_version      TEXT    NOT NULL,
    positions_total     INTEGER NOT NULL,
    requested_at        INTEGER NOT NULL,
    started_at          INTEGER,
    completed_at        INTEGER,
    error               TEXT    NOT NULL DEFAULT '',
    published_at        INTEGER,
    publish_hash        TEXT    NOT NULL DEFAULT '',
    submitted_by        TEXT    NOT NULL DEFAULT '',
    kind                TEXT    NOT NULL DEFAULT 'VALUATION' CHECK (kind IN ('VALUATION', 'EXPLAIN', 'VERIFY'))
);
CREATE INDEX IF NOT EXISTS run_requested_idx ON run (requested_at DESC, run_id DESC);
CREATE INDEX IF NOT EXISTS run_kind_requested_idx ON run (kind, requested_at DESC, run_id DESC);
CREATE INDEX IF NOT EXISTS run_status_idx ON run (status, requested_at DESC, run_id DESC);

CREATE TABLE IF NOT EXISTS run_position_snapshot (
    run_id                TEXT NOT NULL REFERENCES run (run_id),
    position_snapshot_id  TEXT NOT NULL REFERENCES position_snapshot (position_snapshot_id),
    PRIMARY KEY (run_id, position_snapshot_id)
) WITHOUT ROWID;

-- The task queue. Claimed by one UPDATE … WHERE task_id = (SELECT … LIMIT 1)
-- RETURNING on the single writer connection.
CREATE TABLE IF NOT EXISTS run_task (
    task_id           INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id            TEXT    NOT NULL REFERENCES run (run_id),
    product_type      TEXT    NOT NULL,
    bucket            INTEGER NOT NULL CHECK (bucket >= 0),
    hash_mod          INTEGER NOT NULL CHECK (hash_mod > 0),
    status            TEXT    NOT NULL CHECK (status IN ('QUEUED', 'RUNNING', 'SUCCEEDED', 'DEAD', 'CANCELLED')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    max_attempts      INTEGER NOT NULL CHECK (max_attempts > 0),
    position_count    INTEGER NOT NULL,
    failures          INTEGER NOT NULL DEFAULT 0,
    lease_expiries    INTEGER NOT NULL DEFAULT 0,
    claim_token       INTEGER NOT NULL DEFAULT 0,
    lease_owner       TEXT    NOT NULL DEFAULT '',
    lease_expires_at  INTEGER,
    available_at      INTEGER NOT NULL,
    last_error        TEXT    NOT NULL DEFAULT '',
    started_at        INTEGER,
    finished_at       INTEGER,
    engine_version    TEXT    NOT NULL DEFAULT '',
    UNIQUE (run_id, product_type, bucket)
);
CREATE INDEX IF NOT EXISTS run_task_claim_idx ON run_task (status, available_at) WHERE status IN ('QUEUED', 'RUNNING');

-- One row per (run, position): its measures under every scenario of the run,
-- encoded (package resultcodec) in the order of the run's scenarios.
-- A rowid table: rows are appended in the order tasks write them, and the
-- primary key is a separate index of small entries. (Before revision 6 it was
-- WITHOUT ROWID: rows of a few kB under hundreds of scenarios then lived in
-- the key's own B-tree, and a task's rows, a hash bucket spread over the
-- whole key range, rewrote a 16 kB page each; Migrate rebuilds such a
-- table.) One position's results are found through the key, by the run's
-- snapshot ids (run_position_snapshot) as its second column.
CREATE TABLE IF NOT EXISTS position_result (
    run_id                TEXT    NOT NULL,
    position_snapshot_id  TEXT    NOT NULL,
    position_id           TEXT    NOT NULL,
    task_id               INTEGER NOT NULL,
    instrument_id         TEXT    NOT NULL,
    product_type          TEXT    NOT NULL,
    portfolio_node_id     TEXT    NOT NULL,
    vals                  BLOB    NOT NULL,
    PRIMARY KEY (run_id, position_snapshot_id, position_id)
);
DROP TABLE IF EXISTS run_result;

-- Partial aggregates of each task, written with its results, and aggregates
-- of finished runs computed once (see the PostgreSQL schema).
CREATE TABLE IF NOT EXISTS task_aggregate (
    run_id   TEXT    NOT NULL,
    key_by   TEXT    NOT NULL,
    task_id  INTEGER NOT NULL,
    payload  BLOB    NOT NULL,
    PRIMARY KEY (run_id, key_by, task_id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS run_aggregate (
    run_id      TEXT NOT NULL REFERENCES run (run_id),
    name        TEXT NOT NULL,
    payload     BLOB NOT NULL,
    PRIMARY KEY (run_id, name)
) WITHOUT ROWID;

-- The audit trail, append-only (see the PostgreSQL schema).
CREATE TABLE IF NOT EXISTS audit_log (
    audit_id     INTEGER PRIMARY KEY AUTOINCREMENT,
    recorded_at  INTEGER NOT NULL,
    principal    TEXT    NOT NULL,
    action       TEXT    NOT NULL,
    object_id    TEXT    NOT NULL,
    request_id   TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS audit_log_time_idx ON audit_log (recorded_at DESC, audit_id DESC);
CREATE INDEX IF NOT EXISTS audit_log_object_idx ON audit_log (object_id, recorded_at DESC, audit_id DESC);
CREATE INDEX IF NOT EXISTS audit_log_principal_idx ON audit_log (principal, recorded_at DESC, audit_id DESC);
CREATE INDEX IF NOT EXISTS audit_log_action_idx ON audit_log (action, recorded_at DESC, audit_id DESC);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused');
END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused');
END;

-- Webhooks (SPEC §5): subscriptions, the outbox of deliveries (written in
-- the transaction of the event) and the log of every delivery attempt.
CREATE TABLE IF NOT EXISTS webhook (
    webhook_id   TEXT    PRIMARY KEY,
    url          TEXT    NOT NULL,
    events       TEXT    NOT NULL,
    description  TEXT    NOT NULL DEFAULT '',
    secret       TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    deleted_at   INTEGER
);
CREATE TABLE IF NOT EXISTS webhook_delivery (
    delivery_id      INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id       TEXT    NOT NULL REFERENCES webhook (webhook_id),
    event_type       TEXT    NOT NULL,
    run_id           TEXT    NOT NULL,
    payload          TEXT    NOT NULL,
    message_id       TEXT    NOT NULL UNIQUE,
    status           TEXT    NOT NULL CHECK (status IN ('PENDING', 'DELIVERED', 'FAILED')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    last_status_code INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT    NOT NULL DEFAULT '',
    created_at       INTEGER NOT NULL,
    delivered_at     INTEGER
);
CREATE INDEX IF NOT EXISTS webhook_delivery_due_idx ON webhook_delivery (next_attempt_at, delivery_id) WHERE status = 'PENDING';
CREATE INDEX IF NOT EXISTS webhook_delivery_run_idx ON webhook_delivery (webhook_id, run_id, delivery_id) WHERE status = 'PENDING';
CREATE INDEX IF NOT EXISTS webhook_delivery_webhook_idx ON webhook_delivery (webhook_id, delivery_id DESC);
CREATE TABLE IF NOT EXISTS webhook_attempt (
    delivery_id  INTEGER NOT NULL REFERENCES webhook_delivery (delivery_id),
    attempt      INTEGER NOT NULL,
    attempted_at INTEGER NOT NULL,
    status_code  INTEGER NOT NULL DEFAULT 0,
    error        TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (delivery_id, attempt)
);
