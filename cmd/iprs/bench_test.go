package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iprs/iprs/internal/store/teststore"
	"github.com/jackc/pgx/v5"
)

// TestBenchNeverWritesIntoAnExistingDatabase: bench refuses an existing
// SQLite file and leaves it as it was, and runs on a new path, which it
// removes afterwards.
func TestBenchNeverWritesIntoAnExistingDatabase(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	existing := filepath.Join(dir, "mine.db")
	if err := os.WriteFile(existing, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runIPRS(context.Background(), nil, "bench", "--loans", "50", "--database", "sqlite:"+existing)
	if code == 0 || !strings.Contains(stderr, "exists already") {
		t.Errorf("bench on an existing database: exit %d, stderr %q", code, stderr)
	}
	if b, err := os.ReadFile(existing); err != nil || string(b) != "precious" {
		t.Errorf("the existing file changed: %q, %v", b, err)
	}

	fresh := filepath.Join(dir, "bench.db")
	code, stdout, stderr := runIPRS(context.Background(), nil, "bench", "--loans", "60", "--database", "sqlite:"+fresh, "--scenarios", "BASE", "--measures", "PV")
	if code != 0 || !strings.Contains(stdout, "upload → COMPLETED") {
		t.Fatalf("bench on a new path: exit %d\n%s%s", code, stdout, stderr)
	}
	left, _ := filepath.Glob(fresh + "*")
	if len(left) != 0 {
		t.Errorf("bench left %v behind", left)
	}
}

// TestBenchPostgresUsesAFreshSchema: on PostgreSQL, bench works in a
// schema of its own and drops it; the tables of the database it was given
// are untouched.
func TestBenchPostgresUsesAFreshSchema(t *testing.T) {
	t.Parallel()
	dsn := teststore.PostgresURL(t) // a database (schema) other tests do not use
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	count := func(q string) int {
		t.Helper()
		var n int
		if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE precious (x int); INSERT INTO precious VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	benchSchemas := `SELECT count(*) FROM information_schema.schemata WHERE schema_name LIKE 'iprs\_bench\_%'`
	before := count(benchSchemas)
	code, stdout, stderr := runIPRS(ctx, nil, "bench", "--loans", "60", "--database", dsn, "--scenarios", "BASE", "--measures", "PV")
	if code != 0 || !strings.Contains(stdout, "on postgres") {
		t.Fatalf("bench: exit %d\n%s%s", code, stdout, stderr)
	}
	if after := count(benchSchemas); after != before {
		t.Errorf("bench schemas: %d before, %d after: the bench schema was not dropped", before, after)
	}
	if n := count(`SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()`); n != 1 {
		t.Errorf("the given schema has %d tables after bench, want only the test's own", n)
	}
	if n := count(`SELECT count(*) FROM precious`); n != 1 {
		t.Errorf("precious has %d rows", n)
	}
}

// TestBenchWithModelSetAndHistory: bench values the book with the demo model
// set and adds a historical scenario set when asked.
func TestBenchWithModelSetAndHistory(t *testing.T) {
	t.Parallel()
	fresh := filepath.Join(t.TempDir(), "bench.db")
	code, stdout, stderr := runIPRS(context.Background(), nil, "bench", "--loans", "40", "--database", "sqlite:"+fresh,
		"--scenarios", "BASE", "--measures", "PV,WAL,EXPECTED_LOSS", "--model-set", "--historical-days", "12")
	if code != 0 || !strings.Contains(stdout, "market history and historical set") || !strings.Contains(stdout, "upload → COMPLETED") {
		t.Fatalf("bench --model-set --historical-days: exit %d\n%s%s", code, stdout, stderr)
	}
}
