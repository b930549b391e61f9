package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/store"
)

func testRetention(t *testing.T, open Opener) {
	t.Run("DeleteRemovesAFinishedRunAndEverythingOfIt", func(t *testing.T) {
		f := setup(t, open)
		positions := manyPositions(f.prefix, 4)
		MustPositionSnapshot(t, f.ctx, f.s, &store.PositionSnapshot{ID: f.id("ps")}, positions, 0)
		runID := f.completeWith(t, "run", []string{f.id("ps")}, func(runID string) []*store.PositionResult {
			return resultRowsFor(runID, "N", []string{"BASE"}, positions, f.id("ps"))
		}, store.TaskAggregate{KeyBy: "", Payload: []byte("agg")})
		if err := f.s.RunAggregatePut(f.ctx, runID, "cube", []byte("x")); err != nil {
			t.Fatal(err)
		}
		checkRunStatus(t, f, runID, store.RunCompleted)
		if err := f.s.RunDelete(f.ctx, runID); err != nil {
			t.Fatalf("RunDelete: %v", err)
		}
		if _, err := f.s.RunGet(f.ctx, runID); !errors.Is(err, apperr.ErrNotFound) {
			t.Errorf("RunGet after delete: %v, want ErrNotFound", err)
		}
		if rows, err := f.s.ResultList(f.ctx, store.ResultListParams{RunID: runID, Limit: 10}); err != nil || len(rows) != 0 {
			t.Errorf("results after delete: %d, %v", len(rows), err)
		}
		n := 0
		if err := f.s.TaskAggregates(f.ctx, runID, "", func(int64, []byte) error { n++; return nil }); err != nil || n != 0 {
			t.Errorf("aggregates after delete: %d, %v", n, err)
		}
		if _, err := f.s.RunAggregateGet(f.ctx, runID, "cube"); !errors.Is(err, apperr.ErrNotFound) {
			t.Errorf("cached aggregate after delete: %v", err)
		}
		if tasks, err := f.s.RunTasks(f.ctx, runID); !errors.Is(err, apperr.ErrNotFound) || len(tasks) != 0 {
			t.Errorf("tasks after delete: %d, %v; want none, ErrNotFound", len(tasks), err)
		}
		// The snapshot stays.
		if _, err := f.s.PositionSnapshotGet(f.ctx, f.id("ps")); err != nil {
			t.Errorf("snapshot after delete: %v", err)
		}
		if err := f.s.RunDelete(f.ctx, runID); !errors.Is(err, apperr.ErrNotFound) {
			t.Errorf("second RunDelete: %v, want ErrNotFound", err)
		}
	})

	t.Run("DeleteRefusesRunsThatAreNotFinishedOrArePublished", func(t *testing.T) {
		f := setup(t, open)
		queued, _ := f.simpleRun(t, "queued", 1, 3)
		if err := f.s.RunDelete(f.ctx, queued.ID); !errors.Is(err, apperr.ErrConflict) {
			t.Errorf("RunDelete(QUEUED): %v, want Conflict", err)
		}
		f.mustClaim(t, "w", T0)
		if err := f.s.RunDelete(f.ctx, queued.ID); !errors.Is(err, apperr.ErrConflict) {
			t.Errorf("RunDelete(RUNNING): %v, want Conflict", err)
		}
		checkRunStatus(t, f, queued.ID, store.RunRunning)
		if _, err := f.cancel(queued.ID, T0.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		if err := f.s.RunDelete(f.ctx, queued.ID); !errors.Is(err, apperr.ErrConflict) {
			t.Errorf("RunDelete(CANCELLING): %v, want Conflict", err)
		}
		positions := manyPositions(f.prefix, 1)
		MustPositionSnapshot(t, f.ctx, f.s, &store.PositionSnapshot{ID: f.id("ps")}, positions, 0)
		pub := f.completeWith(t, "pub", []string{f.id("ps")}, func(runID string) []*store.PositionResult {
			return resultRowsFor(runID, "N", []string{"BASE"}, positions, f.id("ps"))
		})
		if _, err := f.s.RunPublish(f.ctx, store.RunPublishParams{RunID: pub, PublishHash: "h", PublishedAt: T0}); err != nil {
			t.Fatal(err)
		}
		if err := f.s.RunDelete(f.ctx, pub); !errors.Is(err, apperr.ErrConflict) {
			t.Errorf("RunDelete(PUBLISHED): %v, want Conflict", err)
		}
		checkRunStatus(t, f, pub, store.RunPublished)
		if rows, _ := f.s.ResultList(f.ctx, store.ResultListParams{RunID: pub, Limit: 10}); len(rows) != 1 {
			t.Errorf("a refused delete removed results: %d left", len(rows))
		}
	})
}
