// Package schema holds the PostgreSQL schema of IPRS as numbered migration
// files, NNN_name.sql, embedded in the binary. Each file is rerunnable with
// `psql -v ON_ERROR_STOP=1 -f` and wraps itself in BEGIN; … COMMIT; for that
// use; `iprs migrate` (store/postgres.DB.Migrate) applies the pending ones in
// version order, each in its own transaction, and records them in
// schema_migration.
package schema

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

//go:embed *.sql
var files embed.FS

// Migration is one numbered schema file.
type Migration struct {
	Version int    // the NNN prefix of the file name
	Name    string // the file name without ".sql", e.g. "001_mvp_core"
	SQL     string // the file's text as psql would run it
	// Revision is the file's "-- revision: N" line (0 without one). A
	// file is rerunnable, so it may change after it was first applied: it
	// then gets a higher revision, which it records in schema_migration
	// itself (so psql -f records it too), and Migrate applies it again to
	// a database that recorded a lower one. A test in this package keeps
	// the revision and the file's content in step.
	Revision int
}

// Migrations returns the embedded migrations in version order. It panics
// if the embedded files are misnamed, which a test of this package catches
// at build time.
func Migrations() []Migration {
	ms, err := Load(files)
	if err != nil {
		panic(err)
	}
	return ms
}

// Latest is the highest migration version this build knows.
func Latest() int {
	ms := Migrations()
	return ms[len(ms)-1].Version
}

// Load reads the migrations NNN_name.sql at the top of fsys, in version
// order. It fails when a name has no positive numeric prefix or two files
// share a version. The SQLite twin in sql/sqlite loads its files with it.
func Load(fsys fs.FS) ([]Migration, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, fmt.Errorf("schema: list migrations: %w", err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("schema: no migration files")
	}
	ms := make([]Migration, 0, len(names))
	seen := make(map[int]string, len(names))
	for _, file := range names {
		name := strings.TrimSuffix(file, ".sql")
		prefix, _, ok := strings.Cut(name, "_")
		if !ok {
			return nil, fmt.Errorf("schema: migration file %q is not named NNN_name.sql", file)
		}
		v, err := strconv.Atoi(prefix)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("schema: migration file %q does not start with a positive version number", file)
		}
		if other, dup := seen[v]; dup {
			return nil, fmt.Errorf("schema: migration files %q and %q share version %d", other, file, v)
		}
		seen[v] = file
		b, err := fs.ReadFile(fsys, file)
		if err != nil {
			return nil, fmt.Errorf("schema: read %s: %w", file, err)
		}
		rev, err := revisionOf(string(b))
		if err != nil {
			return nil, fmt.Errorf("schema: %s: %w", file, err)
		}
		ms = append(ms, Migration{Version: v, Name: name, SQL: string(b), Revision: rev})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	return ms, nil
}

// revisionOf reads the "-- revision: N" line of a migration file.
func revisionOf(sql string) (int, error) {
	for _, line := range strings.Split(sql, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "-- revision:")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(rest))
		if err != nil || n < 0 {
			return 0, fmt.Errorf("bad revision line %q", line)
		}
		return n, nil
	}
	return 0, nil
}
