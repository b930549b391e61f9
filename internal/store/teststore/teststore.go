// Package teststore opens the stores that tests run on: an embedded SQLite
// database in the test's temporary directory, always, and PostgreSQL when
// IPRS_TEST_DATABASE_URL names a database the tests may write to.
//
// A PostgreSQL test gets a database of its own: a fresh schema in that
// database, dropped when the test ends. Every package's PostgreSQL tests run
// at the same time against the one database (go test runs packages in
// parallel), and the task queue is global to a schema, so each test needs
// its own schema never to claim, or be claimed by, another test's tasks.
package teststore

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/store/postgres"
	"github.com/iprs/iprs/internal/store/sqlite"
	"github.com/jackc/pgx/v5"
)

// EnvURL names the environment variable with the test database's URL.
const EnvURL = "IPRS_TEST_DATABASE_URL"

// URL returns the test database's URL, or skips the test when EnvURL is
// unset.
func URL(tb testing.TB) string {
	tb.Helper()
	raw := os.Getenv(EnvURL)
	if raw == "" {
		tb.Skipf("%s is not set: skipping the PostgreSQL variant (set it to a database the tests may write to)", EnvURL)
	}
	return raw
}

// seq keeps the schemas of one test process apart.
var seq atomic.Int64

// PostgresURL creates an empty schema, dropped at cleanup, and returns the
// test database's URL with its search_path set to it.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	raw := URL(tb)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, raw)
	if err != nil {
		tb.Fatalf("connect to %s: %v", EnvURL, err)
	}
	name := fmt.Sprintf("iprs_test_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9, seq.Add(1))
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		admin.Close(ctx)
		tb.Fatalf("create schema %s: %v", name, err)
	}
	tb.Cleanup(func() {
		defer admin.Close(ctx)
		if _, err := admin.Exec(ctx, "DROP SCHEMA "+name+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", name, err)
		}
	})
	u, err := url.Parse(raw)
	if err != nil {
		tb.Fatalf("parse %s: %v", EnvURL, err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// Postgres opens a store on a fresh, migrated schema and closes it at
// cleanup. It skips the test when EnvURL is unset.
func Postgres(tb testing.TB, opts postgres.Options) *postgres.DB {
	tb.Helper()
	opts.Migrate = true
	db, err := postgres.Open(context.Background(), PostgresURL(tb), opts)
	if err != nil {
		tb.Fatalf("open PostgreSQL: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// SQLite opens a migrated store on a new file in the test's temporary
// directory and closes it at cleanup.
func SQLite(tb testing.TB) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "iprs.db"), sqlite.Options{Migrate: true})
	if err != nil {
		tb.Fatalf("open SQLite: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// Backend is a store implementation tests run on.
type Backend struct {
	Name string
	Open func(tb testing.TB) store.Store
}

// Backends returns SQLite, always, and PostgreSQL when EnvURL is set.
func Backends() []Backend {
	bs := []Backend{{"sqlite", func(tb testing.TB) store.Store { return SQLite(tb) }}}
	if os.Getenv(EnvURL) != "" {
		bs = append(bs, Backend{"postgres", func(tb testing.TB) store.Store { return Postgres(tb, postgres.Options{MaxConns: 8}) }})
	}
	return bs
}

// placeholder matches a PostgreSQL parameter ($1, $2, …).
var placeholder = regexp.MustCompile(`\$[0-9]+`)

// Tamper runs one SQL statement on st's database behind the store's back,
// as someone with access to the database could: a change no store method
// makes, for tests that must see it found (a replay finding an altered
// result). The statement is written for PostgreSQL, its parameters
// numbered in order ($1, $2, …, rewritten to ? for SQLite). It returns the
// number of rows changed. st may be wrapped by store.Watch.
func Tamper(tb testing.TB, st store.Store, query string, args ...any) int64 {
	tb.Helper()
	ctx := context.Background()
	if w, ok := st.(*store.Watched); ok {
		st = w.Store
	}
	switch db := st.(type) {
	case *postgres.DB:
		tag, err := db.Pool().Exec(ctx, query, args...)
		if err != nil {
			tb.Fatalf("tamper with PostgreSQL (%s): %v", query, err)
		}
		return tag.RowsAffected()
	case *sqlite.DB:
		conn, err := sql.Open("sqlite", "file:"+db.Path()+"?_pragma=busy_timeout(10000)")
		if err != nil {
			tb.Fatalf("open %s: %v", db.Path(), err)
		}
		defer conn.Close()
		res, err := conn.ExecContext(ctx, placeholder.ReplaceAllString(query, "?"), args...)
		if err != nil {
			tb.Fatalf("tamper with SQLite (%s): %v", query, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			tb.Fatalf("tamper with SQLite: %v", err)
		}
		return n
	}
	tb.Fatalf("Tamper: a store of type %T has no database to reach", st)
	return 0
}
