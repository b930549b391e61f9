package postgres_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/store/postgres"
	"github.com/iprs/iprs/internal/store/storetest"
)

// The tests need a PostgreSQL database they may write to; they create rows
// with ids unique to each test and never delete or truncate anything, so
// many test runs can share one database.
const envURL = "IPRS_TEST_DATABASE_URL"

var migrateOnce struct {
	sync.Once
	err error
}

// testURL returns the test database URL, migrating it once per process, or
// skips the test.
func testURL(tb testing.TB) string {
	tb.Helper()
	url := os.Getenv(envURL)
	if url == "" {
		tb.Skipf("%s is not set: skipping PostgreSQL tests (e.g. %s=postgres://postgres@127.0.0.1:5432/iprs_test?sslmode=disable)", envURL, envURL)
	}
	migrateOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		db, err := postgres.Open(ctx, url, postgres.Options{Migrate: true})
		if err != nil {
			migrateOnce.err = err
			return
		}
		db.Close()
	})
	if migrateOnce.err != nil {
		tb.Fatalf("migrate test database: %v", migrateOnce.err)
	}
	return url
}

// MustOpen opens a store on the test database, closed at cleanup.
func MustOpen(tb testing.TB, opts postgres.Options) *postgres.DB {
	tb.Helper()
	url := testURL(tb)
	if opts.MaxConns == 0 {
		opts.MaxConns = 8
	}
	db, err := postgres.Open(context.Background(), url, opts)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// MustOpenIsolated opens a store on a schema of its own, migrated, and
// drops the schema at cleanup. The task queue is global to a schema, so
// tests that claim tasks use one to never claim (or be claimed by) the
// tasks of tests running at the same time.
func MustOpenIsolated(tb testing.TB, opts postgres.Options) *postgres.DB {
	tb.Helper()
	base := testURL(tb)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	name := fmt.Sprintf("iprs_test_%d_%d", os.Getpid(), schemaSeq.Add(1))
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		admin.Close(ctx)
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		defer admin.Close(ctx)
		if _, err := admin.Exec(ctx, "DROP SCHEMA "+name+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", name, err)
		}
	})
	opts.Migrate = true
	if opts.MaxConns == 0 {
		opts.MaxConns = 8
	}
	db, err := postgres.Open(ctx, withSearchPath(tb, base, name), opts)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

var schemaSeq atomic.Int64

func TestConformance(t *testing.T) {
	testURL(t)
	storetest.Exercise(t, func(t *testing.T) store.Store {
		return MustOpen(t, postgres.Options{MaxConns: 4})
	})
}

// uid returns an id unique to this test run.
func uid(tb testing.TB, name string) string {
	return fmt.Sprintf("pgt-%s-%d-%s", tb.Name(), time.Now().UnixNano(), name)
}
