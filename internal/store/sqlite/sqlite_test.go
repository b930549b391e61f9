package sqlite_test

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/store/sqlite"
	"github.com/iprs/iprs/internal/store/storetest"
)

func openTestDB(t testing.TB, now func() time.Time) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "iprs.db"), sqlite.Options{Migrate: true, Now: now})
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close sqlite: %v", err)
		}
	})
	return db
}

func TestStore(t *testing.T) {
	storetest.Exercise(t, func(t *testing.T, now func() time.Time) store.Store { return openTestDB(t, now) })
}

// TestWritersNeverBusy writes from many goroutines through two DB handles
// on one file (as two processes would): the single writer connection of
// each handle and the busy timeout between them keep SQLITE_BUSY away.
func TestWritersNeverBusy(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "shared.db")
	var dbs []*sqlite.DB
	for range 2 {
		db, err := sqlite.Open(ctx, path, sqlite.Options{Migrate: true})
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		t.Cleanup(func() { db.Close() })
		dbs = append(dbs, db)
	}
	const goroutines, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*each)
	for g := range goroutines {
		db := dbs[g%2]
		wg.Go(func() {
			for i := range each {
				id := fmt.Sprintf("m-%d-%d", g, i)
				if _, _, err := db.MarketSnapshotCreate(ctx, &store.MarketSnapshot{ID: id, AsOfTime: storetest.T0,
					Payload: []byte("{}"), PayloadHash: id, DQStatus: "PASS", Issues: []byte("[]")}); err != nil {
					errs <- err
				}
				if _, err := db.MarketSnapshotList(ctx, store.ListParams{Limit: 5}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent write: %v", err)
	}
	list, err := dbs[0].MarketSnapshotList(ctx, store.ListParams{Limit: 1000})
	if err != nil || len(list) != goroutines*each {
		t.Errorf("listed %d snapshots, %v; want %d", len(list), err, goroutines*each)
	}
}
