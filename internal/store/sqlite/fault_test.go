package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/store/sqlite"
)

// codeErr is an error with a SQLite result code, as modernc.org/sqlite's.
type codeErr int

func (c codeErr) Error() string { return "sqlite error" }
func (c codeErr) Code() int     { return int(c) }

func TestClassifyCodes(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		code int
		want store.Fault
	}{
		{5, store.FaultBusy},                // SQLITE_BUSY
		{5 | 2<<8, store.FaultBusy},         // SQLITE_BUSY_SNAPSHOT
		{6, store.FaultBusy},                // SQLITE_LOCKED
		{10, store.FaultUnreachable},        // SQLITE_IOERR
		{10 | 3<<8, store.FaultUnreachable}, // SQLITE_IOERR_WRITE
		{13, store.FaultUnreachable},        // SQLITE_FULL
		{14, store.FaultUnreachable},        // SQLITE_CANTOPEN
		{26, store.FaultUnreachable},        // SQLITE_NOTADB
		{19, store.FaultNone},               // SQLITE_CONSTRAINT
		{11, store.FaultNone},               // SQLITE_CORRUPT
		{8, store.FaultNone},                // SQLITE_READONLY
		{1, store.FaultNone},                // SQLITE_ERROR
	} {
		err := errors.Join(errors.New("sqlite: write"), codeErr(c.code))
		if got := sqlite.Classify(ctx, err); got != c.want {
			t.Errorf("Classify(code %d) = %v, want %v", c.code, got, c.want)
		}
	}
	gone, cancel := context.WithCancel(ctx)
	cancel()
	if got := sqlite.Classify(gone, codeErr(10)); got != store.FaultNone {
		t.Errorf("after the caller left: %v", got)
	}
	if got := sqlite.Classify(ctx, errors.New("plain")); got != store.FaultNone {
		t.Errorf("plain error: %v", got)
	}
}

// TestLockedBeyondBusyTimeout holds the file's write lock from another
// connection (as another process would) for longer than the busy
// timeout: a write then fails with "database is locked", which the
// watcher answers as a busy database (503), not an outage.
func TestLockedBeyondBusyTimeout(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "locked.db")
	db, err := sqlite.Open(ctx, path, sqlite.Options{Migrate: true, BusyTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(50)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Close() })
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatalf("take the write lock: %v", err)
	}
	var logs bytes.Buffer
	w := store.Watch(db, sqlite.Classify, slog.New(slog.NewTextHandler(&logs, nil)))
	_, err = w.RunCancel(ctx, "R")
	e, ok := apperr.As(err)
	if !ok || e.Code != apperr.Unavailable || e.Message != store.BusyMessage {
		t.Fatalf("write under another's lock: %v, want apperr.Unavailable (busy)", err)
	}
	if w.Down() || !strings.Contains(logs.String(), `msg="database busy"`) || strings.Contains(logs.String(), "unreachable") {
		t.Fatalf("down %v, log:\n%s", w.Down(), logs.String())
	}
	// Reads go on (WAL), and writes once the lock is let go.
	if err := w.Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.RunCancel(ctx, "R"); apperr.CodeOf(err) != apperr.NotFound {
		t.Fatalf("write after the lock: %v", err)
	}
}
