package worker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/pricing"
	"github.com/iprs/iprs/internal/resultcodec"
	"github.com/iprs/iprs/internal/runengine"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/store/storetest"
)

// lengthValuer writes, for every position of a task, one row whose only
// value is PV = the length of the position id: a result no pricing code
// computes, so finding it stored proves the task went through the valuer.
type lengthValuer struct {
	st    store.Store
	run   *store.Run
	calls *atomic.Int32
	fail  error
}

func (v *lengthValuer) ValueTask(ctx context.Context, t *store.Task) ([]*store.PositionResult, []store.TaskAggregate, error) {
	v.calls.Add(1)
	if v.fail != nil {
		return nil, nil, v.fail
	}
	var rows []*store.PositionResult
	err := v.st.TaskPositions(ctx, t, func(p *store.Position) error {
		var vals [1]pricing.Values
		vals[0].Set(pricing.PV, float64(len(p.PositionID)))
		rows = append(rows, &store.PositionResult{RunID: t.RunID, PositionSnapshotID: p.SnapshotID, PositionID: p.PositionID,
			InstrumentID: p.InstrumentID, ProductType: p.ProductType, PortfolioNodeID: p.PortfolioNodeID, TaskID: t.ID,
			Values: resultcodec.Append(nil, vals[:])})
		return nil
	})
	return rows, nil, err
}

func TestRunsOfOtherKindsGoThroughTheirValuer(t *testing.T) {
	t.Parallel()
	st := MustOpen(t)
	ctx := context.Background()
	f := MustFixture(t, st, "RUN-KINDS", mixedBook(t, "K", 16), 2, 3)
	// Runs of other kinds over the same positions, valued by the hooks
	// below instead of the pricing engine.
	kindRun := func(id, kind string) *store.Run {
		r, _ := storetest.MustRun(t, ctx, st, storetest.RunOpts{
			Run: &store.Run{ID: id, Kind: kind, AsOfTime: asOf, MarketSnapshotID: f.run.MarketSnapshotID,
				PositionSnapshotIDs: f.run.PositionSnapshotIDs, Measures: []string{"PV"}, Scenarios: []string{"X"},
				HashMod: 2, MaxAttempts: 3},
			AvailableAt: asOf.Add(-time.Hour),
		})
		return r
	}
	explain := kindRun("EXPLAIN-KINDS", store.KindExplain)
	verify := kindRun("VERIFY-KINDS", store.KindVerify)
	var calls, badCalls atomic.Int32
	opts := fastOptions("w")
	opts.Kinds = map[string]ValuerBuilder{
		store.KindExplain: func(_ context.Context, st store.Store, run *store.Run) (TaskValuer, error) {
			return &lengthValuer{st: st, run: run, calls: &calls}, nil
		},
		// A verify's stored input is unusable: no retry can help.
		store.KindVerify: func(_ context.Context, st store.Store, run *store.Run) (TaskValuer, error) {
			return &lengthValuer{st: st, run: run, calls: &badCalls,
				fail: &runengine.InputError{Err: errors.New("the verified run's results are gone")}}, nil
		},
	}
	started(t, New(st, testLogger(t), opts))

	for _, id := range []string{f.run.ID, explain.ID} {
		if run := waitRun(t, st, id, 60*time.Second, store.RunCompleted, store.RunFailed); run.Status != store.RunCompleted {
			t.Fatalf("run %s: %s (%s), want COMPLETED", id, run.Status, run.Error)
		}
	}
	f.checkResults(t)
	rows := allResults(t, st, explain.ID)
	if len(rows) != len(f.positions) {
		t.Errorf("explain rows: %d, want %d", len(rows), len(f.positions))
	}
	for _, r := range rows {
		var vals [1]pricing.Values
		if err := resultcodec.Decode(r.Values, vals[:]); err != nil {
			t.Fatal(err)
		}
		if pv, ok := vals[0].Get(pricing.PV); !ok || pv != float64(len(r.PositionID)) {
			t.Errorf("explain row %s: PV %v, want %d", r.PositionID, pv, len(r.PositionID))
		}
	}

	run := waitRun(t, st, verify.ID, 60*time.Second, store.RunCompleted, store.RunFailed)
	if run.Status != store.RunFailed || !strings.Contains(run.Error, "results are gone") {
		t.Errorf("verify run: %s (%q), want FAILED by its input error", run.Status, run.Error)
	}
	tasks := storetestTasks(t, st, verify.ID)
	for _, task := range tasks {
		if task.Status != store.TaskDead || task.Attempts != 1 {
			t.Errorf("verify task %d: %s after %d attempts, want DEAD after 1 (an input error is permanent)", task.ID, task.Status, task.Attempts)
		}
	}
	if n := badCalls.Load(); int(n) != len(tasks) || n == 0 {
		t.Errorf("the failing valuer was called %d times, want once per task (%d)", n, len(tasks))
	}
	if n := calls.Load(); int(n) != len(storetestTasks(t, st, explain.ID)) {
		t.Errorf("the explain valuer was called %d times, want once per task", n)
	}
}

func TestARunOfAKindWithoutValuerFails(t *testing.T) {
	t.Parallel()
	st := MustOpen(t)
	f := MustFixture(t, st, "RUN-NOKIND", mixedBook(t, "N", 4), 1, 3)
	r, _ := storetest.MustRun(t, context.Background(), st, storetest.RunOpts{
		Run: &store.Run{ID: "EXPLAIN-NOKIND", Kind: store.KindExplain, AsOfTime: asOf, MarketSnapshotID: f.run.MarketSnapshotID,
			PositionSnapshotIDs: f.run.PositionSnapshotIDs, HashMod: 1, MaxAttempts: 3},
		AvailableAt: asOf.Add(-time.Hour),
	})
	started(t, New(st, testLogger(t), fastOptions("w")))
	run := waitRun(t, st, r.ID, 60*time.Second, store.RunCompleted, store.RunFailed)
	if want := fmt.Sprintf("cannot value a run of kind %s", store.KindExplain); run.Status != store.RunFailed || !strings.Contains(run.Error, want) {
		t.Errorf("run %s (%q), want FAILED saying %q", run.Status, run.Error, want)
	}
}
