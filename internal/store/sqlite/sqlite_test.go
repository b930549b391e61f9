package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/store/sqlite"
	"github.com/iprs/iprs/internal/store/storetest"
)

func openTestDB(t testing.TB) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "iprs.db"), sqlite.Options{Migrate: true})
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
	storetest.Exercise(t, func(t *testing.T) store.Store { return openTestDB(t) })
}
