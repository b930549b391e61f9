package results

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/agg"
	"github.com/iprs/iprs/internal/store"
)

// TestTableMemoBudget: the memo keeps tables within its budget of encoded
// bytes, dropping the least recently used first, and never keeps a table
// larger than an eighth of the budget.
func TestTableMemoBudget(t *testing.T) {
	m := newTableMemo(800)
	tables := map[string]*agg.Table{}
	for _, k := range []string{"a", "b", "c", "d"} {
		tables[k] = agg.New([]string{"BASE"}, nil, false)
	}
	m.put("a", tables["a"], 100)
	m.put("b", tables["b"], 100)
	m.put("big", agg.New(nil, nil, false), 101) // > 800/8
	if m.get("big") != nil {
		t.Error("a table over an eighth of the budget was kept")
	}
	if m.get("a") != tables["a"] { // a is now the most recently used
		t.Fatal("a is not kept")
	}
	for i := range 7 {
		m.put(string(rune('e'+i)), agg.New(nil, nil, false), 100)
	}
	// a, b and e…k are 9 tables of 100 bytes against a budget of 800: one
	// goes, and a was used after b, so b goes.
	if m.used > 800 {
		t.Errorf("%d bytes kept, budget 800", m.used)
	}
	if m.get("b") != nil || m.get("a") != tables["a"] {
		t.Errorf("b should have gone before a: b %v, a %v", m.get("b") != nil, m.get("a") != nil)
	}
}

// taskAggCounter counts the TaskAggregates reads of a store.
type taskAggCounter struct {
	store.Store
	reads atomic.Int64
}

func (s *taskAggCounter) TaskAggregates(ctx context.Context, runID, keyBy string, fn func(int64, []byte) error) error {
	s.reads.Add(1)
	return s.Store.TaskAggregates(ctx, runID, keyBy, fn)
}

// TestFinishedRunTablesMergedOnce: the summary and the cubes by product
// type of a finished run merge the tasks' partials once; the next requests
// read the memo, with the same answers.
func TestFinishedRunTablesMergedOnce(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st store.Store) {
		MustRunWithResults(t, st, "MEMO", handMeasures, handScenarios, handBook(), 3, true, nil)
		tc := &taskAggCounter{Store: st}
		srv := MustServer(t, tc)
		var s1, s2 Summary
		getJSON(t, srv, "/results/runs/MEMO/summary", 200, &s1)
		getJSON(t, srv, "/results/runs/MEMO/summary", 200, &s2)
		var c1, c2 []CubeCell
		getJSON(t, srv, "/results/runs/MEMO/cube?measure=PV&by=product_type", 200, &c1)
		getJSON(t, srv, "/results/runs/MEMO/cube?measure=DV01&by=product_type&scenario=RATES_PARALLEL_1BP", 200, &c2)
		if n := tc.reads.Load(); n != 2 {
			t.Errorf("%d reads of the task aggregates, want 2 (the whole run, by product type)", n)
		}
		// The book under BASE: 1e16 + 1 − 1e16 + 0.75 + 0.25 = 2 exactly;
		// the loans' DV01 under the shift: −2.5 − 0.25 − 1.
		if got := s2.Scenarios["BASE"].Measures["PV"]; got != 2.0 || s2.Scenarios["BASE"].PositionCount != 5 {
			t.Errorf("summary from the memo: PV %v, %d positions", got, s2.Scenarios["BASE"].PositionCount)
		}
		if len(c2) != 2 || c2[0].Key != "AMORT_LOAN" || c2[0].Value != -3.75 {
			t.Errorf("cube from the memo: %v", c2)
		}
	})
}

// concurrentScans records the most ResultScan calls of a store in flight
// at once; each scan waits a little so that overlapping ones would meet.
type concurrentScans struct {
	store.Store
	now, most atomic.Int64
}

func (s *concurrentScans) ResultScan(ctx context.Context, p store.ResultScanParams, fn func(*store.PositionResult) error) error {
	n := s.now.Add(1)
	defer s.now.Add(-1)
	for {
		m := s.most.Load()
		if n <= m || s.most.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(20 * time.Millisecond)
	return s.Store.ResultScan(ctx, p, fn)
}

// TestScansOneAtATime: cubes by three scanned groupings asked at once are
// computed one scan after another (Options.MaxScans 1), and each answer is
// right.
func TestScansOneAtATime(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st store.Store) {
		MustRunWithResults(t, st, "SCANS", handMeasures, handScenarios, handBook(), 3, true, nil)
		cs := &concurrentScans{Store: st}
		srv := MustServer(t, cs)
		// The answers of TestCube.
		cases := map[string]string{
			"measure=PV&by=attr:desk":     fmt.Sprint([]CubeCell{{"CREDIT", 1e16 + 2, 3}, {"FX", 0.75, 1}, {"RATES", -1e16, 1}}),
			"measure=PV&by=attr:rating":   fmt.Sprint([]CubeCell{{"1", -1e16, 1}, {"3", 1e16, 1}, {"n/a", 2, 3}}),
			"measure=PV&by=instrument_id": fmt.Sprint([]CubeCell{{"INS-B1", -1e16, 1}, {"INS-F1", 0.75, 1}, {"INS-L1", 1e16, 1}, {"INS-L2", 1, 1}, {"INS-L3", 0.25, 1}}),
		}
		var wg sync.WaitGroup
		for q, want := range cases {
			for range 3 {
				wg.Go(func() {
					var got []CubeCell
					getJSON(t, srv, "/results/runs/SCANS/cube?"+q, 200, &got)
					if fmt.Sprint(got) != want {
						t.Errorf("cube %s: got %v, want %s", q, got, want)
					}
				})
			}
		}
		wg.Wait()
		if m := cs.most.Load(); m != 1 {
			t.Errorf("%d scans at once, want 1", m)
		}
	})
}
