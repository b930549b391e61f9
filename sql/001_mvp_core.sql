-- IPRS core schema for PostgreSQL (15+).
-- Rerunnable: every statement is idempotent, so
--   psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f sql/001_mvp_core.sql
-- may be run any number of times. `iprs migrate` applies the same file and
-- records it in schema_migration.

BEGIN;

CREATE TABLE IF NOT EXISTS schema_migration (
    version     integer     PRIMARY KEY,
    name        text        NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);

-- Immutable market data snapshots: the canonical JSON as submitted plus the
-- server's data-quality verdict.
CREATE TABLE IF NOT EXISTS market_snapshot (
    snapshot_id   text        PRIMARY KEY,
    as_of_time    timestamptz NOT NULL,
    vendor        text        NOT NULL DEFAULT '',
    universe_id   text        NOT NULL DEFAULT '',
    payload       bytea       NOT NULL,
    payload_hash  text        NOT NULL,
    dq_status     text        NOT NULL CHECK (dq_status IN ('PASS', 'WARN', 'FAIL')),
    issues        jsonb       NOT NULL DEFAULT '[]',
    created_at    timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS market_snapshot_as_of_idx ON market_snapshot (as_of_time DESC, snapshot_id DESC);

-- Immutable position snapshots: a header and one row per position.
CREATE TABLE IF NOT EXISTS position_snapshot (
    position_snapshot_id  text        PRIMARY KEY,
    as_of_time            timestamptz NOT NULL,
    portfolio_node_id     text        NOT NULL,
    payload_hash          text        NOT NULL,
    position_count        bigint      NOT NULL,
    product_types         text[]      NOT NULL,
    created_at            timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS position_snapshot_node_idx ON position_snapshot (portfolio_node_id, as_of_time DESC, created_at DESC);
CREATE INDEX IF NOT EXISTS position_snapshot_hash_idx ON position_snapshot (payload_hash);

-- Rows are written before their header inside one transaction, so there is
-- no foreign key to the header; the header's commit makes them visible.
CREATE TABLE IF NOT EXISTS position (
    position_snapshot_id  text    NOT NULL,
    seq                   bigint  NOT NULL,
    position_id           text    NOT NULL,
    instrument_id         text    NOT NULL DEFAULT '',
    product_type          text    NOT NULL,
    quantity              double precision,
    attributes            jsonb   NOT NULL,
    position_hash         bigint  NOT NULL CHECK (position_hash >= 0),
    PRIMARY KEY (position_snapshot_id, seq)
);
CREATE UNIQUE INDEX IF NOT EXISTS position_id_idx ON position (position_snapshot_id, position_id);
CREATE INDEX IF NOT EXISTS position_type_idx ON position (position_snapshot_id, product_type);

CREATE TABLE IF NOT EXISTS run (
    run_id              text        PRIMARY KEY,
    run_type            text        NOT NULL CHECK (run_type IN ('EOD_OFFICIAL', 'INTRADAY', 'SANDBOX')),
    status              text        NOT NULL CHECK (status IN ('QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLING', 'CANCELLED', 'PUBLISHED')),
    as_of_time          timestamptz NOT NULL,
    market_snapshot_id  text        NOT NULL REFERENCES market_snapshot (snapshot_id),
    portfolio_node_ids  text[]      NOT NULL DEFAULT '{}',
    model_set_id        text        NOT NULL DEFAULT '',
    measures            text[]      NOT NULL,
    scenarios           text[]      NOT NULL,
    hash_mod            integer     NOT NULL CHECK (hash_mod > 0),
    max_attempts        integer     NOT NULL CHECK (max_attempts > 0),
    request_hash        text        NOT NULL,
    request             jsonb       NOT NULL,
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

CREATE TABLE IF NOT EXISTS run_position_snapshot (
    run_id                text NOT NULL REFERENCES run (run_id),
    position_snapshot_id  text NOT NULL REFERENCES position_snapshot (position_snapshot_id),
    PRIMARY KEY (run_id, position_snapshot_id)
);

-- The task queue. Claimed with FOR UPDATE SKIP LOCKED.
CREATE TABLE IF NOT EXISTS run_task (
    task_id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id            text        NOT NULL REFERENCES run (run_id),
    product_type      text        NOT NULL,
    bucket            integer     NOT NULL CHECK (bucket >= 0),
    hash_mod          integer     NOT NULL CHECK (hash_mod > 0),
    status            text        NOT NULL CHECK (status IN ('QUEUED', 'RUNNING', 'SUCCEEDED', 'DEAD', 'CANCELLED')),
    attempts          integer     NOT NULL DEFAULT 0,
    max_attempts      integer     NOT NULL CHECK (max_attempts > 0),
    position_count    bigint      NOT NULL,
    lease_owner       text        NOT NULL DEFAULT '',
    lease_expires_at  timestamptz,
    available_at      timestamptz NOT NULL,
    last_error        text        NOT NULL DEFAULT '',
    started_at        timestamptz,
    finished_at       timestamptz,
    UNIQUE (run_id, product_type, bucket)
);
CREATE INDEX IF NOT EXISTS run_task_claim_idx ON run_task (status, available_at) WHERE status IN ('QUEUED', 'RUNNING');

-- One row per (run, position, scenario); a NULL measure does not apply.
CREATE TABLE IF NOT EXISTS run_result (
    run_id                text    NOT NULL,
    position_snapshot_id  text    NOT NULL,
    position_id           text    NOT NULL,
    scenario_id           text    NOT NULL,
    task_id               bigint  NOT NULL,
    instrument_id         text    NOT NULL,
    product_type          text    NOT NULL,
    portfolio_node_id     text    NOT NULL,
    pv                    double precision,
    dv01                  double precision,
    cs01                  double precision,
    accrued_interest      double precision,
    fx_delta              double precision,
    PRIMARY KEY (run_id, position_snapshot_id, position_id, scenario_id)
);
CREATE INDEX IF NOT EXISTS run_result_position_idx ON run_result (run_id, position_id);

INSERT INTO schema_migration (version, name) VALUES (1, '001_mvp_core')
ON CONFLICT (version) DO NOTHING;

COMMIT;
