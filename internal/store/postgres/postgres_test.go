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
