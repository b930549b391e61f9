// Package sqlite implements store.Store on an embedded SQLite database
// (modernc.org/sqlite, pure Go), for a laptop or a single-host install.
//
// # Concurrency design
//
// SQLite allows one writer at a time per database file. Instead of letting
// goroutines race for the write lock and retry on SQLITE_BUSY, a DB holds two
// connection pools on the same file:
//
//   - the writer, a *sql.DB limited to ONE connection. Every write goes
//     through it, so writers of this process queue in database/sql (in
//     arrival order, honouring their contexts) and never meet SQLITE_BUSY
//     among themselves. Its transactions start with BEGIN IMMEDIATE, which
//     takes the write lock up front, so a transaction never has to upgrade
//     a read lock later (the classic source of SQLITE_BUSY deadlocks when
//     another process, such as `iprs migrate`, shares the file; the 10 s
//     busy_timeout covers those).
//   - the readers, a pool of query_only connections. The database runs in
//     WAL mode, so readers see the last committed state and neither block
//     nor are blocked by the writer.
//
// Consequences:
//
//   - Every write method is one short transaction on the writer, so the
//     store's invariants (idempotent creates, the run and task state
//     machine, lease checks) are checked and applied without races: there
//     is no other writer to race with. A claim is one transaction: the sweep
//     of abandoned tasks, then UPDATE run_task … WHERE task_id = (SELECT …
//     LIMIT 1) RETURNING …, then the run's move to RUNNING.
//   - A position snapshot upload holds the writer for the whole upload
//     (that is how its rows stay invisible until Commit and vanish on
//     Rollback), so other writes wait for it, up to their context's
//     deadline. A caller must not start another write while it holds a
//     PositionSnapshotWriter in the same goroutine: it would wait for
//     itself.
//   - Scans (PositionScan, TaskPositions, ResultScan) hold one read
//     connection and stream rows; their callbacks may write, but should not
//     nest more reads than the read pool (Options.ReadConns) holds.
//   - Several processes may open the same file (say `iprs migrate` beside a
//     running `iprs dev`); SQLite's file lock and the busy timeout then
//     serialize their writers.
//   - There are no row locks, hence no lock order to keep: BEGIN IMMEDIATE
//     takes the database's one write lock before a transaction reads
//     anything, so a claim, a completion and a cancel of the same run
//     simply run one after the other, each seeing the others' commits.
//   - The store's clock (Options.Now) is read inside the write
//     transaction, while this process holds the writer: it judges leases
//     and stamps the task and run state machine. Every process sharing the
//     file runs on the same host, hence reads the same clock.
//
// # Storage
//
// Times are INTEGER microseconds since the Unix epoch (UTC), so they sort
// like the times; text arrays are JSON text; measures and quantities are
// stored as IEEE 754 doubles in columns without type affinity so that every
// float64 (including -0.0) comes back bit for bit. Every connection reads
// the file through a memory map of up to 1 GiB (mmap_size): a large run's
// result inserts are spread over a B-tree bigger than the page cache, and
// mapped pages cost no read system call (a 1,000,000-loan run valued about
// 25% faster). Bulk rows (positions,
// results) go in multi-row INSERTs of 500 rows through a statement prepared
// once per transaction; position and run_result are WITHOUT ROWID tables and
// run_result has no index besides its key. A task finds its positions
// through position_task_idx, which groups each product type's entries by a
// fine bucket (hash mod 64), so a task of a run with a large power-of-two
// hash_mod reads a small part of the index (see TaskPositions). On a shared
// two-core machine, BenchmarkTaskComplete writes 400,000 result rows in
// about 2.5 s, BenchmarkPositionUpload 1,000,000 positions in about 12 s,
// and BenchmarkTaskPositions reads all 192 tasks of a 300,000-position run
// in about 3 s. The schema lives in sql/sqlite and is applied by Migrate.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"time"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/store"
	sqliteschema "github.com/iprs/iprs/sql/sqlite"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Options configures a DB.
type Options struct {
	// Now is the store's clock: it judges leases, stamps the times of the
	// run and task state machine and the times the store sets itself
	// (CreatedAt when the caller leaves it zero, applied_at of
	// migrations). It is read inside write transactions, while this
	// process holds the database's single writer. Default time.Now; tests
	// set their own to move time.
	Now func() time.Time
	// Logger receives migration and maintenance messages. Default: discard.
	Logger *slog.Logger
	// Migrate applies pending migrations during Open (dev mode and
	// `iprs migrate`). Without it Open refuses a database whose schema is
	// older than the code's.
	Migrate bool
	// ReadConns is the size of the read pool. Default 4.
	ReadConns int
	// BusyTimeout is how long a statement waits for a lock held by another
	// process before failing with "database is locked" (see Classify).
	// Default 10 s.
	BusyTimeout time.Duration
}

// DB is a store.Store on one SQLite database file.
type DB struct {
	path   string
	writer *sql.DB
	reader *sql.DB
	now    func() time.Time
	log    *slog.Logger
}

var _ store.Store = (*DB)(nil)

const busyTimeoutMillis = 10000

// Open opens (creating if needed) the database at path. With opts.Migrate it
// applies pending migrations; otherwise a database whose schema is older
// than this code is refused with an error telling to run `iprs migrate`.
func Open(ctx context.Context, path string, opts Options) (*DB, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	if opts.ReadConns < 0 {
		return nil, fmt.Errorf("sqlite: Options.ReadConns must not be negative, got %d", opts.ReadConns)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: resolve path %q: %w", path, err)
	}
	db := &DB{path: abs, now: opts.Now, log: opts.Logger}
	if db.now == nil {
		db.now = time.Now
	}
	if db.log == nil {
		db.log = slog.New(slog.DiscardHandler)
	}
	readConns := opts.ReadConns
	if readConns == 0 {
		readConns = 4
	}

	pragmas := url.Values{}
	busy := int64(busyTimeoutMillis)
	if opts.BusyTimeout > 0 {
		busy = max(opts.BusyTimeout.Milliseconds(), 1)
	}
	pragmas.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy))
	// Takes effect when the file is created (before WAL is switched on).
	pragmas.Add("_pragma", "page_size(16384)")
	pragmas.Add("_pragma", "journal_mode(WAL)")
	pragmas.Add("_pragma", "foreign_keys(1)")
	pragmas.Add("_pragma", "synchronous(NORMAL)")
	// 64 MiB of page cache per connection: a bulk write (a result batch, a
	// position upload) then rarely spills pages to the WAL mid-transaction.
	pragmas.Add("_pragma", "cache_size(-65536)")
	pragmas.Add("_pragma", "temp_store(MEMORY)")
	// After a big upload the WAL is truncated back to 64 MiB once checkpointed.
	pragmas.Add("_pragma", "journal_size_limit(67108864)")
	pragmas.Set("_txlock", "immediate")
	// Pages are read through a memory map of up to 1 GiB of the file
	// instead of a read system call and a copy each. A task's result
	// inserts land all over run_result's B-tree, which outgrows the page
	// cache: a 1,000,000-loan run (4,000,000 result rows) valued in 141 s
	// with the map and 187 s without. The map is address space; the pages
	// are the operating system's file cache, shared by every connection.
	pragmas.Add("_pragma", "mmap_size(1073741824)")
	writerDSN := (&url.URL{Scheme: "file", Path: abs, RawQuery: pragmas.Encode()}).String()
	pragmas.Add("_pragma", "query_only(1)")
	pragmas.Set("_txlock", "deferred")
	readerDSN := (&url.URL{Scheme: "file", Path: abs, RawQuery: pragmas.Encode()}).String()

	db.writer, err = sql.Open("sqlite", writerDSN)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open writer on %s: %w", abs, err)
	}
	db.writer.SetMaxOpenConns(1)
	db.writer.SetMaxIdleConns(1)
	db.writer.SetConnMaxLifetime(0)
	db.writer.SetConnMaxIdleTime(0)

	// The writer connects first: it switches the file to WAL before any
	// reader connection (query_only cannot change the journal mode).
	if err := db.writer.PingContext(ctx); err != nil {
		db.writer.Close()
		return nil, fmt.Errorf("sqlite: connect to %s: %w", abs, err)
	}
	db.reader, err = sql.Open("sqlite", readerDSN)
	if err != nil {
		db.writer.Close()
		return nil, fmt.Errorf("sqlite: open readers on %s: %w", abs, err)
	}
	db.reader.SetMaxOpenConns(readConns)
	db.reader.SetMaxIdleConns(readConns)

	if opts.Migrate {
		if _, err := db.Migrate(ctx); err != nil {
			db.Close()
			return nil, err
		}
	}
	if err := db.checkSchema(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Path is the absolute path of the database file.
func (db *DB) Path() string { return db.path }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	if err := db.reader.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("sqlite: ping %s: %w", db.path, err)
	}
	return nil
}

// Close releases the connections.
func (db *DB) Close() error {
	var errs []error
	if db.reader != nil {
		if err := db.reader.Close(); err != nil {
			errs = append(errs, fmt.Errorf("sqlite: close readers: %w", err))
		}
	}
	if db.writer != nil {
		if err := db.writer.Close(); err != nil {
			errs = append(errs, fmt.Errorf("sqlite: close writer: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Migrate applies the pending migrations of sql/sqlite in version order,
// each in its own transaction that also records it in schema_migration. It
// returns how many it applied.
func (db *DB) Migrate(ctx context.Context) (int, error) {
	migrations, err := sqliteschema.Migrations()
	if err != nil {
		return 0, fmt.Errorf("sqlite: %w", err)
	}
	if _, err := db.writer.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migration (
    version     INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    applied_at  INTEGER NOT NULL,
    revision    INTEGER NOT NULL DEFAULT 0
)`); err != nil {
		return 0, fmt.Errorf("sqlite: create schema_migration: %w", err)
	}
	// A database made before revisions were recorded: add the column
	// (SQLite has no ADD COLUMN IF NOT EXISTS).
	if ok, err := db.hasRevisionColumn(ctx); err != nil {
		return 0, err
	} else if !ok {
		if _, err := db.writer.ExecContext(ctx, `ALTER TABLE schema_migration ADD COLUMN revision INTEGER NOT NULL DEFAULT 0`); err != nil {
			return 0, fmt.Errorf("sqlite: add schema_migration.revision: %w", err)
		}
	}
	applied := 0
	for _, m := range migrations {
		done, err := db.applyMigration(ctx, m)
		if err != nil {
			return applied, err
		}
		if done {
			applied++
			db.log.InfoContext(ctx, "applied migration", slog.Int("version", m.Version), slog.String("name", m.Name), slog.String("database", db.path))
		}
	}
	return applied, nil
}

func (db *DB) applyMigration(ctx context.Context, m sqliteschema.Migration) (applied bool, err error) {
	err = db.write(ctx, func(tx *sql.Tx) error {
		var n, revision int
		if err := tx.QueryRowContext(ctx, `SELECT count(*), coalesce(max(revision), 0) FROM schema_migration WHERE version = ?`, m.Version).Scan(&n, &revision); err != nil {
			return fmt.Errorf("check migration %d: %w", m.Version, err)
		}
		if n > 0 && revision >= m.Revision {
			return nil // applied, and the file has not changed since
		}
		rebuilt := false
		if n > 0 {
			if err := addColumns(ctx, tx); err != nil {
				return err
			}
			if rebuilt, err = setAsideWithoutRowid(ctx, tx); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return fmt.Errorf("apply migration %s: %w", m.Name, err)
		}
		if rebuilt {
			if err := refillResults(ctx, tx); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migration (version, name, applied_at, revision) VALUES (?, ?, ?, ?)
ON CONFLICT (version) DO UPDATE SET revision = excluded.revision, applied_at = excluded.applied_at`,
			m.Version, m.Name, toMicros(db.now()), m.Revision); err != nil {
			return fmt.Errorf("record migration %s: %w", m.Name, err)
		}
		applied = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: %w", err)
	}
	return applied, nil
}

// SchemaVersion returns the highest applied migration, 0 for an empty
// database.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	var exists int
	if err := db.reader.QueryRowContext(ctx,
		`SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migration'`).Scan(&exists); err != nil {
		return 0, fmt.Errorf("sqlite: look for schema_migration: %w", err)
	}
	if exists == 0 {
		return 0, nil
	}
	var v sql.NullInt64
	if err := db.reader.QueryRowContext(ctx, `SELECT max(version) FROM schema_migration`).Scan(&v); err != nil {
		return 0, fmt.Errorf("sqlite: read schema version: %w", err)
	}
	return int(v.Int64), nil
}

// addedColumns are the columns added to tables after they were first
// created. The schema file creates new databases with them; SQLite has no
// ADD COLUMN IF NOT EXISTS, so Migrate adds those a database made by an
// earlier revision lacks before it applies the file again. Keep the
// definitions the same as in sql/sqlite/001_mvp_core.sql.
var addedColumns = []struct{ table, column, definition string }{
	{"run_task", "failures", "INTEGER NOT NULL DEFAULT 0"},
	{"run_task", "lease_expiries", "INTEGER NOT NULL DEFAULT 0"},
	{"run_task", "claim_token", "INTEGER NOT NULL DEFAULT 0"},
	{"run_task", "engine_version", "TEXT NOT NULL DEFAULT ''"},
	{"run", "kind", "TEXT NOT NULL DEFAULT 'VALUATION' CHECK (kind IN ('VALUATION', 'EXPLAIN', 'VERIFY'))"},
	{"position_snapshot", "check_summary", "TEXT"},
}

// addColumns adds the addedColumns a table lacks.
func addColumns(ctx context.Context, tx *sql.Tx) error {
	for _, c := range addedColumns {
		var tables, have int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?`, c.table).Scan(&tables); err != nil {
			return fmt.Errorf("look for table %s: %w", c.table, err)
		}
		if tables == 0 {
			continue // the schema file creates it whole
		}
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM pragma_table_info(?) WHERE name = ?`, c.table, c.column).Scan(&have); err != nil {
			return fmt.Errorf("read the columns of %s: %w", c.table, err)
		}
		if have > 0 {
			continue
		}
		// Names and definitions are the constants above, not input.
		if _, err := tx.ExecContext(ctx, "ALTER TABLE "+c.table+" ADD COLUMN "+c.column+" "+c.definition); err != nil {
			return fmt.Errorf("add column %s.%s: %w", c.table, c.column, err)
		}
	}
	return nil
}

// setAsideWithoutRowid renames position_result out of the way when a
// database made before revision 6 has it as a WITHOUT ROWID table, so that
// the schema file creates it again as a rowid table (rows appended in
// write order, the key a separate index: a task's rows, spread over the
// whole key range, no longer rewrite a page of the table per row); then
// refillResults copies the rows over.
func setAsideWithoutRowid(ctx context.Context, tx *sql.Tx) (bool, error) {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'position_result'
AND upper(sql) LIKE '%WITHOUT ROWID%'`).Scan(&n); err != nil {
		return false, fmt.Errorf("look for a WITHOUT ROWID position_result: %w", err)
	}
	if n == 0 {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, `ALTER TABLE position_result RENAME TO position_result_without_rowid`); err != nil {
		return false, fmt.Errorf("set position_result aside: %w", err)
	}
	return true, nil
}

// refillResults copies the rows set aside by setAsideWithoutRowid into the
// new position_result and drops the old table.
func refillResults(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO position_result (run_id, position_snapshot_id, position_id, task_id,
    instrument_id, product_type, portfolio_node_id, vals)
SELECT run_id, position_snapshot_id, position_id, task_id, instrument_id, product_type, portfolio_node_id, vals
FROM position_result_without_rowid ORDER BY run_id, task_id`); err != nil {
		return fmt.Errorf("copy position_result: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DROP TABLE position_result_without_rowid`); err != nil {
		return fmt.Errorf("drop the old position_result: %w", err)
	}
	return nil
}

// hasRevisionColumn reports whether schema_migration has its revision
// column.
func (db *DB) hasRevisionColumn(ctx context.Context) (bool, error) {
	var n int
	if err := db.writer.QueryRowContext(ctx, `SELECT count(*) FROM pragma_table_info('schema_migration') WHERE name = 'revision'`).Scan(&n); err != nil {
		return false, fmt.Errorf("sqlite: read schema_migration columns: %w", err)
	}
	return n > 0, nil
}

func (db *DB) checkSchema(ctx context.Context) error {
	migrations, err := sqliteschema.Migrations()
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	want := 0
	if len(migrations) > 0 {
		want = migrations[len(migrations)-1].Version
	}
	have, err := db.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	switch {
	case have < want:
		return fmt.Errorf("sqlite: database %s has schema version %d but this binary needs %d: run `iprs migrate`", db.path, have, want)
	case have == want && len(migrations) > 0:
		last := migrations[len(migrations)-1]
		rev := 0
		if ok, err := db.hasRevisionColumn(ctx); err != nil {
			return err
		} else if ok {
			if err := db.reader.QueryRowContext(ctx, `SELECT coalesce(max(revision), 0) FROM schema_migration WHERE version = ?`, want).Scan(&rev); err != nil {
				return fmt.Errorf("sqlite: read schema revision: %w", err)
			}
		}
		if rev < last.Revision {
			return fmt.Errorf("sqlite: database %s has schema version %d at revision %d but this binary needs revision %d: run `iprs migrate`", db.path, want, rev, last.Revision)
		}
	case have > want:
		return fmt.Errorf("sqlite: database %s has schema version %d, newer than this binary's %d: upgrade iprs", db.path, have, want)
	}
	return nil
}

// write runs fn in a write transaction (BEGIN IMMEDIATE on the single writer
// connection) and commits it when fn returns nil.
func (db *DB) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin write: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// read runs fn in a read transaction, so that its queries see one snapshot.
func (db *DB) read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("begin read: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a read-only transaction has nothing to lose
	return fn(tx)
}

// notFound turns sql.ErrNoRows into apperr.ErrNotFound with context.
func notFound(err error, format string, args ...any) error {
	if errors.Is(err, sql.ErrNoRows) {
		e := apperr.Errorf(apperr.NotFound, format+" not found", args...)
		e.Err = err
		return e
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

func conflictf(format string, args ...any) error {
	return apperr.Errorf(apperr.Conflict, format, args...)
}

// toMicros encodes a time as microseconds since the Unix epoch, truncating.
func toMicros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func nullMicros(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: toMicros(*t), Valid: true}
}

func fromNullMicros(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}
