package store

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// TestScanAhead: every row once, in order, from chunks read by keyset; the
// chunk being handed out is never overwritten by the one read ahead; at
// most one chunk is read ahead; an error from either side ends the scan
// with no fetch left running.
func TestScanAhead(t *testing.T) {
	t.Parallel()
	const n, size = 103, 10
	id := func(i int) string { return fmt.Sprintf("P%03d", i) }
	var fetches, handled atomic.Int64
	var running atomic.Int64
	fetch := func(failAt int) func(ctx context.Context, afterSnap, afterPos string, buf []PositionResult) ([]PositionResult, error) {
		return func(ctx context.Context, afterSnap, afterPos string, buf []PositionResult) ([]PositionResult, error) {
			running.Add(1)
			defer running.Add(-1)
			k := fetches.Add(1)
			if ahead := k - 1 - handled.Load()/size; ahead > 1 {
				t.Errorf("fetch %d while %d rows were handled: %d chunks ahead", k, handled.Load(), ahead)
			}
			if int(k) == failAt {
				return nil, errors.New("fetch failed")
			}
			start := 0
			if afterPos != "" {
				fmt.Sscanf(afterPos, "P%03d", &start)
				start++
			}
			if afterSnap != "S" && afterPos != "" {
				t.Errorf("cursor snapshot %q", afterSnap)
			}
			for i := start; i < min(start+size, n); i++ {
				buf = append(buf, PositionResult{PositionSnapshotID: "S", PositionID: id(i)})
			}
			time.Sleep(time.Millisecond) // let the reader run meanwhile
			return buf, nil
		}
	}
	next := 0
	err := ScanAhead(t.Context(), size, fetch(0), func(r *PositionResult) error {
		if r.PositionID != id(next) {
			t.Fatalf("row %d is %s", next, r.PositionID)
		}
		time.Sleep(100 * time.Microsecond)
		if r.PositionID != id(next) { // not overwritten by the read ahead
			t.Fatalf("row %d became %s while handled", next, r.PositionID)
		}
		next++
		handled.Add(1)
		return nil
	})
	if err != nil || next != n || fetches.Load() != n/size+1 {
		t.Fatalf("scan: %v, %d rows, %d fetches; want %d rows in %d fetches", err, next, fetches.Load(), n, n/size+1)
	}

	// The caller stops: the error comes back and no fetch is left running.
	fetches.Store(0)
	handled.Store(0)
	stop := errors.New("stop")
	err = ScanAhead(t.Context(), size, fetch(0), func(r *PositionResult) error {
		if handled.Add(1) == 25 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || running.Load() != 0 {
		t.Errorf("caller's error: %v, %d fetches still running", err, running.Load())
	}
	// A fetch fails: its error comes back after the rows before it.
	fetches.Store(0)
	handled.Store(0)
	err = ScanAhead(t.Context(), size, fetch(3), func(r *PositionResult) error { handled.Add(1); return nil })
	if err == nil || err.Error() != "fetch failed" || handled.Load() != 2*size {
		t.Errorf("fetch error: %v after %d rows, want it after %d", err, handled.Load(), 2*size)
	}
}
