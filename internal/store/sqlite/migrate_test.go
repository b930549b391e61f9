package sqlite

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iprs/iprs/internal/store"
	sqliteschema "github.com/iprs/iprs/sql/sqlite"
)

func TestOpenRefusesOldSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	_, err := Open(t.Context(), path, Options{})
	if err == nil || !strings.Contains(err.Error(), "iprs migrate") {
		t.Fatalf("Open(empty database) err = %v, want a refusal telling to run iprs migrate", err)
	}
}

func TestMigrateIsIdempotent(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "m.db")
	db, err := Open(ctx, path, Options{Migrate: true})
	if err != nil {
		t.Fatalf("Open(Migrate): %v", err)
	}
	migrations, err := sqliteschema.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(migrations) == 0 || migrations[0].Version != 1 || migrations[0].Name != "001_mvp_core" {
		t.Fatalf("migrations = %+v, want 001_mvp_core first", migrations)
	}
	v, err := db.SchemaVersion(ctx)
	if err != nil || v != migrations[len(migrations)-1].Version {
		t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, migrations[len(migrations)-1].Version)
	}
	n, err := db.Migrate(ctx)
	if err != nil || n != 0 {
		t.Fatalf("second Migrate applied %d, err %v; want 0, nil", n, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopening a migrated database without Migrate works.
	db, err = Open(ctx, path, Options{})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	if err := db.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	var mode string
	if err := db.writer.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	var fk int
	if err := db.reader.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign_keys = %d, %v; want 1", fk, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestMigrateAppliesANewerRevision: a database migrated by an earlier
// revision of the schema file (here one without run_aggregate and without
// the revision column) is refused until Migrate applies the file again.
func TestMigrateAppliesANewerRevision(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "r.db")
	db, err := Open(ctx, path, Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.writer.ExecContext(ctx, `DROP TABLE run_aggregate; ALTER TABLE run_task DROP COLUMN engine_version`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.writer.ExecContext(ctx, `ALTER TABLE schema_migration DROP COLUMN revision`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(ctx, path, Options{}); err == nil || !strings.Contains(err.Error(), "iprs migrate") {
		t.Fatalf("Open(an earlier revision) = %v, want a refusal telling to run iprs migrate", err)
	}
	db, err = Open(ctx, path, Options{Migrate: true})
	if err != nil {
		t.Fatalf("Open(Migrate) of an earlier revision: %v", err)
	}
	defer db.Close()
	migrations, err := sqliteschema.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	var rev int
	if err := db.reader.QueryRowContext(ctx, `SELECT revision FROM schema_migration WHERE version = 1`).Scan(&rev); err != nil || rev != migrations[0].Revision || rev < 2 {
		t.Fatalf("recorded revision = %d, %v; want %d", rev, err, migrations[0].Revision)
	}
	if _, err := db.reader.ExecContext(ctx, `SELECT 1 FROM run_aggregate LIMIT 1`); err != nil {
		t.Fatalf("run_aggregate after the migration: %v", err)
	}
	if _, err := db.reader.ExecContext(ctx, `SELECT engine_version FROM run_task LIMIT 1`); err != nil {
		t.Fatalf("run_task.engine_version after the migration: %v", err)
	}
}

func TestOpenPathWithURIMetacharacters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a dir?with#odd%20chars")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "iprs.db")
	db, err := Open(t.Context(), path, Options{Migrate: true})
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	defer db.Close()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database file not at %q: %v", path, err)
	}
	if db.Path() != path {
		t.Errorf("Path() = %q, want %q", db.Path(), path)
	}
}

// TestAuditLogAppendOnly: the schema refuses to change or remove audit rows.
func TestAuditLogAppendOnly(t *testing.T) {
	ctx := t.Context()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "a.db"), Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	actx := store.WithAudit(ctx, store.AuditEntry{Principal: "alice", Action: "market_snapshot.create", RequestID: "r1"})
	if _, _, err := db.MarketSnapshotCreate(actx, &store.MarketSnapshot{ID: "M1", Payload: []byte(`{}`), PayloadHash: "h", DQStatus: "PASS"}); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{"UPDATE audit_log SET principal = 'mallory'", "DELETE FROM audit_log"} {
		if _, err := db.writer.ExecContext(ctx, stmt); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v, want refused as append-only", stmt, err)
		}
	}
	entries, err := db.AuditList(ctx, store.AuditListParams{ObjectID: "M1"})
	if err != nil || len(entries) != 1 || entries[0].Principal != "alice" {
		t.Errorf("AuditList = %v, %v; want alice's entry untouched", entries, err)
	}
}

// TestMigrateRebuildsWithoutRowidResults: a database whose position_result
// is the WITHOUT ROWID table of revision 4 gets the rowid table, with its
// rows and its key.
func TestMigrateRebuildsWithoutRowidResults(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "r.db")
	db, err := Open(ctx, path, Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.writer.ExecContext(ctx, `DROP TABLE position_result;
CREATE TABLE position_result (run_id TEXT NOT NULL, position_snapshot_id TEXT NOT NULL, position_id TEXT NOT NULL,
    task_id INTEGER NOT NULL, instrument_id TEXT NOT NULL, product_type TEXT NOT NULL, portfolio_node_id TEXT NOT NULL,
    vals BLOB NOT NULL, PRIMARY KEY (run_id, position_snapshot_id, position_id)) WITHOUT ROWID;
INSERT INTO position_result VALUES ('R', 'S', 'P2', 2, 'I2', 'AMORT_LOAN', 'N', x'0102'), ('R', 'S', 'P1', 1, 'I1', 'AMORT_LOAN', 'N', x'03');
UPDATE schema_migration SET revision = 4`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = Open(ctx, path, Options{Migrate: true})
	if err != nil {
		t.Fatalf("Open(Migrate) of revision 4: %v", err)
	}
	defer db.Close()
	var ddl string
	if err := db.reader.QueryRowContext(ctx, `SELECT sql FROM sqlite_schema WHERE name = 'position_result'`).Scan(&ddl); err != nil ||
		strings.Contains(strings.ToUpper(ddl), "WITHOUT ROWID") {
		t.Fatalf("position_result after the migration: %q, %v", ddl, err)
	}
	var got []string
	rows, err := db.reader.QueryContext(ctx, `SELECT position_id || ':' || task_id || ':' || hex(vals) FROM position_result ORDER BY run_id, position_snapshot_id, position_id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		got = append(got, s)
	}
	rows.Close()
	if strings.Join(got, " ") != "P1:1:03 P2:2:0102" {
		t.Errorf("rows after the migration: %v", got)
	}
	if _, err := db.writer.ExecContext(ctx, `INSERT INTO position_result VALUES ('R', 'S', 'P1', 3, 'I', 'AMORT_LOAN', 'N', x'00')`); err == nil {
		t.Error("a repeated key was accepted after the migration")
	}
	var old int
	if err := db.reader.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE name = 'position_result_without_rowid'`).Scan(&old); err != nil || old != 0 {
		t.Errorf("the old table is still there: %d, %v", old, err)
	}
}
