package postgres_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/store/postgres"
	"github.com/iprs/iprs/internal/store/storetest"
	"github.com/iprs/iprs/internal/store/teststore"
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

// isolatedURL creates a schema of its own, dropped at cleanup, and returns
// the test URL pointing at it (search_path). The task queue is global to a
// schema, so tests that claim tasks use one never to claim, or be claimed
// by, the tasks of tests running at the same time in other packages.
func isolatedURL(tb testing.TB) string {
	tb.Helper()
	u := teststore.PostgresURL(tb)
	db, err := postgres.Open(context.Background(), u, postgres.Options{Migrate: true})
	if err != nil {
		tb.Fatalf("migrate an isolated schema: %v", err)
	}
	db.Close()
	return u
}

// MustOpenIsolated opens a store on a fresh schema of its own.
func MustOpenIsolated(tb testing.TB, opts postgres.Options) *postgres.DB {
	tb.Helper()
	u := isolatedURL(tb)
	if opts.MaxConns == 0 {
		opts.MaxConns = 8
	}
	db, err := postgres.Open(context.Background(), u, opts)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// TestConformance runs the shared suite on a schema dedicated to it (the
// suite wants every claimable task in the database to be its own); its
// subtests share that schema, each opening its own store.
func TestConformance(t *testing.T) {
	u := isolatedURL(t)
	storetest.Exercise(t, func(t *testing.T, now func() time.Time) store.Store {
		db, err := postgres.Open(context.Background(), u, postgres.Options{MaxConns: 4, Now: now})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}

// uid returns an id unique to this test run.
func uid(tb testing.TB, name string) string {
	return fmt.Sprintf("pgt-%s-%d-%s", tb.Name(), time.Now().UnixNano(), name)
}
