package worker

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/agg"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/store/teststore"
)

// TestWorkerAggregatesByConfiguredAttrs: a run that declares no
// aggregate_attrs is aggregated by the worker's Options.AggregateAttrs.
// Each task's partial by coupon_rate has one group per value of the
// attribute among its positions (its JSON text, read here with
// encoding/json) with its count of positions, and n/a for those without
// it. (The figures are checked against the scan in package results.)
func TestWorkerAggregatesByConfiguredAttrs(t *testing.T) {
	t.Parallel()
	for _, o := range teststore.Backends() {
		t.Run(o.Name, func(t *testing.T) {
			t.Parallel()
			st := o.Open(t)
			f := MustFixture(t, st, "RUN-AGG", mixedBook(t, "P", 120), 2, 3)
			opts := fastOptions("w")
			opts.AggregateAttrs = []string{"coupon_rate"}
			started(t, New(st, testLogger(t), opts))
			if run := waitRun(t, st, f.run.ID, 60*time.Second, store.RunCompleted, store.RunFailed); run.Status != store.RunCompleted {
				t.Fatalf("run %s (%s)", run.Status, run.Error)
			}
			ctx := context.Background()
			keyOf := map[string]string{} // position id → expected key
			for _, p := range f.positions {
				var attrs map[string]json.RawMessage
				if err := json.Unmarshal(p.Attributes, &attrs); err != nil {
					t.Fatal(err)
				}
				keyOf[p.PositionID] = agg.NA
				if raw, ok := attrs["coupon_rate"]; ok {
					keyOf[p.PositionID] = string(raw)
				}
			}
			n := 0
			err := st.TaskAggregates(ctx, f.run.ID, "attr:coupon_rate", func(id int64, p []byte) error {
				n++
				byAttr, err := agg.Decode(p)
				if err != nil {
					return err
				}
				task := f.tasks[slices.IndexFunc(f.tasks, func(tk *store.Task) bool { return tk.ID == id })]
				want := map[string]int64{}
				if err := st.TaskPositions(ctx, task, func(p *store.Position) error {
					want[keyOf[p.PositionID]]++
					return nil
				}); err != nil {
					return err
				}
				got := map[string]int64{}
				for _, k := range byAttr.Keys() {
					got[k] = byAttr.Group(k).Positions
				}
				if !maps.Equal(got, want) {
					t.Errorf("task %d: groups %v, want %v", id, got, want)
				}
				return nil
			})
			if err != nil || n != len(f.tasks) {
				t.Fatalf("%d partials by coupon_rate for %d tasks (%v)", n, len(f.tasks), err)
			}
		})
	}
}
