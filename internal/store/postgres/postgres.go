package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/store"
	schema "github.com/iprs/iprs/sql"
)

// Options configures Open.
type Options struct {
	// Now replaces the store's clock, for tests that move time. By default
	// (nil) leases and the times of the run and task state machine are
	// judged and stamped by the database's statement_timestamp(), and the
	// times the driver stamps itself (a CreatedAt, RequestedAt or
	// PublishedAt left zero by the caller) come from time.Now.
	Now func() time.Time
	// Logger receives migration progress and warnings. Default: discard.
	Logger *slog.Logger
	// MaxConns bounds the pool (at least 2); 0 keeps pgxpool's default, or
	// pool_max_conns from the URL.
	MaxConns int32
	// Migrate applies pending migrations at Open (dev mode). Without it Open
	// refuses a database whose schema is older than this build's.
	Migrate bool
	// QueryTimeout bounds each short statement whose context carries no
	// earlier deadline. Bulk writes and streaming reads are bounded only by
	// the caller's context. Default 30s; negative disables it.
	QueryTimeout time.Duration
}

// DB is the PostgreSQL implementation of store.Store.
type DB struct {
	pool         *pgxpool.Pool
	now          func() time.Time // stamps made in Go
	testNow      func() time.Time // Options.Now: replaces the database's clock
	log          *slog.Logger
	queryTimeout time.Duration
}

var _ store.Store = (*DB)(nil)

const defaultQueryTimeout = 30 * time.Second

// Open connects to the database at url (a postgres:// URL or a key=value
// DSN) and checks its schema version; see Options.Migrate.
func Open(ctx context.Context, url string, opts Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse database URL: %w", err)
	}
	// Named prepared statements are session state that pins an RDS Proxy
	// connection. Unless the URL chooses a mode (default_query_exec_mode),
	// cache only statement descriptions on the client and send each query
	// as an unnamed statement.
	if !strings.Contains(url, "default_query_exec_mode") {
		cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeCacheDescribe
	}
	// A context deadline cancels the running statement on the server,
	// then closes the connection if the server has not answered in time.
	cfg.ConnConfig.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, CancelRequestDelay: 0, DeadlineDelay: 5 * time.Second}
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	if cfg.MaxConns < 2 {
		// A streaming read holds a connection while its callback may
		// query the store again.
		cfg.MaxConns = 2
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: create pool: %w", err)
	}
	db := &DB{pool: pool, now: opts.Now, testNow: opts.Now, log: opts.Logger, queryTimeout: opts.QueryTimeout}
	if db.now == nil {
		db.now = time.Now
	}
	if db.log == nil {
		db.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if db.queryTimeout == 0 {
		db.queryTimeout = defaultQueryTimeout
	}
	if err := db.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	if opts.Migrate {
		if err := db.Migrate(ctx); err != nil {
			pool.Close()
			return nil, err
		}
	}
	v, err := db.SchemaVersion(ctx)
	if err != nil {
		pool.Close()
		return nil, err
	}
	latest := schema.Latest()
	if v < latest {
		pool.Close()
		return nil, fmt.Errorf("postgres: database schema is at version %d, this build needs %d: run `iprs migrate`", v, latest)
	}
	if rev, want, err := db.schemaRevision(ctx, latest); err != nil {
		pool.Close()
		return nil, err
	} else if rev < want {
		pool.Close()
		return nil, fmt.Errorf("postgres: database schema version %d is at revision %d, this build needs revision %d: run `iprs migrate`", latest, rev, want)
	}
	if v > latest {
		db.log.Warn("database schema is newer than this build", "schema_version", v, "build_version", latest)
	}
	return db, nil
}

// Pool exposes the connection pool for health checks and tests.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	if err := db.pool.Ping(ctx); err != nil {
		return &apperr.Error{Code: apperr.Unavailable, Message: "database unavailable", Err: err}
	}
	return nil
}

// Close releases the connections.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// bound applies the query timeout to a short operation.
func (db *DB) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if db.queryTimeout < 0 {
		return ctx, func() {}
	}
	if d, ok := ctx.Deadline(); ok && time.Until(d) <= db.queryTimeout {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, db.queryTimeout)
}

// stamp is the form every time takes on its way in: UTC, microseconds.
func stamp(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// stampOr stamps t, or the store's clock when t is zero.
func (db *DB) stampOr(t time.Time) time.Time {
	if t.IsZero() {
		return stamp(db.now())
	}
	return stamp(t)
}

// clock is the first parameter of the statements that read the store's
// clock (nowSQL): nil, for the database's own, unless a test clock is set.
func (db *DB) clock() *time.Time {
	if db.testNow == nil {
		return nil
	}
	t := stamp(db.testNow())
	return &t
}

// utcPtr converts a scanned nullable time to UTC.
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// PostgreSQL error codes the driver reacts to.
const (
	codeUniqueViolation     = "23505"
	codeForeignKeyViolation = "23503"
	codeDeadlockDetected    = "40P01"
	codeUndefinedTable      = "42P01"
)

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// notFound is the error for a missing row.
func notFound(format string, args ...any) error {
	return &apperr.Error{Code: apperr.NotFound, Message: fmt.Sprintf(format, args...) + " not found"}
}

func conflict(format string, args ...any) error {
	return apperr.Errorf(apperr.Conflict, format, args...)
}

// noRows turns pgx.ErrNoRows into a not-found error naming what (e.g.
// `run "r1"`), and wraps anything else with context.
func noRows(err error, what string) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return &apperr.Error{Code: apperr.NotFound, Message: what + " not found", Err: err}
	}
	return fmt.Errorf("postgres: read %s: %w", what, err)
}

// inTx runs fn in a READ COMMITTED transaction and commits it. There is
// no retry: at READ COMMITTED PostgreSQL reports no serialization
// failures, and every path takes its row locks in one order (see the
// package doc), so a deadlock would be a bug to see, not to hide.
func (db *DB) inTx(ctx context.Context, name string, fn func(pgx.Tx) error) error {
	if err := db.tryTx(ctx, fn); err != nil {
		if pgCode(err) == codeDeadlockDetected {
			db.log.Error("deadlock: the lock order was broken", "op", name, "error", err)
		}
		return err
	}
	return nil
}

func (db *DB) tryTx(ctx context.Context, fn func(pgx.Tx) error) (err error) {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	if err = tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit: %w", err)
	}
	return nil
}

// Advisory lock namespaces (the first key of pg_advisory_xact_lock(int,int)).
// Only transaction-scoped advisory locks are used: a session lock would pin
// an RDS Proxy connection.
const (
	lockMigrate             = 0x49505253 // "IPRS"
	lockPositionSnapshotID  = 0x49505301
	lockPositionPayloadHash = 0x49505302
)

// Migrate applies the pending migrations in version order. Each runs in
// its own transaction under a transaction-scoped advisory lock, so
// concurrent `iprs migrate` runs apply each file once. The files wrap
// themselves in BEGIN; … COMMIT; for psql; those top-level lines are
// dropped and the body runs through the simple protocol inside Migrate's
// transaction.
func (db *DB) Migrate(ctx context.Context) error {
	for _, m := range schema.Migrations() {
		applied := false
		err := db.inTx(ctx, "migrate", func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, 0)", lockMigrate); err != nil {
				return fmt.Errorf("postgres: migration lock: %w", err)
			}
			if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migration (
    version     integer     PRIMARY KEY,
    name        text        NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now(),
    revision    integer     NOT NULL DEFAULT 0
);
ALTER TABLE schema_migration ADD COLUMN IF NOT EXISTS revision integer NOT NULL DEFAULT 0`, pgx.QueryExecModeSimpleProtocol); err != nil {
				return fmt.Errorf("postgres: create schema_migration: %w", err)
			}
			var revision int
			err := tx.QueryRow(ctx, "SELECT revision FROM schema_migration WHERE version = $1", m.Version).Scan(&revision)
			switch {
			case err == nil && revision >= m.Revision:
				return nil // applied, and the file has not changed since
			case err != nil && !errors.Is(err, pgx.ErrNoRows):
				return fmt.Errorf("postgres: read schema_migration: %w", err)
			}
			if _, err := tx.Exec(ctx, migrationBody(m.SQL), pgx.QueryExecModeSimpleProtocol); err != nil {
				return fmt.Errorf("postgres: apply migration %s: %w", m.Name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migration (version, name, revision) VALUES ($1, $2, $3)
ON CONFLICT (version) DO UPDATE SET revision = EXCLUDED.revision WHERE schema_migration.revision < EXCLUDED.revision`,
				m.Version, m.Name, m.Revision); err != nil {
				return fmt.Errorf("postgres: record migration %s: %w", m.Name, err)
			}
			applied = true
			return nil
		})
		if err != nil {
			return err
		}
		if applied {
			db.log.Info("applied migration", "version", m.Version, "name", m.Name, "revision", m.Revision)
		}
	}
	return nil
}

// schemaRevision returns the revision recorded for a migration version and
// the revision this build's file has.
func (db *DB) schemaRevision(ctx context.Context, version int) (have, want int, err error) {
	for _, m := range schema.Migrations() {
		if m.Version == version {
			want = m.Revision
		}
	}
	ctx, cancel := db.bound(ctx)
	defer cancel()
	var exists bool
	if err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.columns
WHERE table_schema = current_schema() AND table_name = 'schema_migration' AND column_name = 'revision')`).Scan(&exists); err != nil {
		return 0, want, fmt.Errorf("postgres: read schema revision: %w", err)
	}
	if !exists {
		return 0, want, nil
	}
	if err := db.pool.QueryRow(ctx, "SELECT coalesce(max(revision), 0) FROM schema_migration WHERE version = $1", version).Scan(&have); err != nil {
		return 0, want, fmt.Errorf("postgres: read schema revision: %w", err)
	}
	return have, want, nil
}

// migrationBody drops the file's own top-level transaction control lines.
func migrationBody(sql string) string {
	lines := strings.Split(sql, "\n")
	out := lines[:0]
	for _, l := range lines {
		switch strings.ToUpper(strings.TrimSpace(l)) {
		case "BEGIN;", "COMMIT;", "START TRANSACTION;", "BEGIN TRANSACTION;":
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// SchemaVersion returns the highest applied migration, 0 for an empty
// database.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	var v int
	err := db.pool.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migration").Scan(&v)
	if pgCode(err) == codeUndefinedTable {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("postgres: read schema version: %w", err)
	}
	return v, nil
}
