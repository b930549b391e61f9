package storetest

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/store"
)

// completeWith makes a one-task run of the snapshots, claims its task and
// completes it with the rows (which must be of those snapshots). It returns
// the run id.
func (f *fixture) completeWith(t *testing.T, name string, snapshotIDs []string, rows func(runID string) []*store.ResultRow) string {
	t.Helper()
	r, _ := MustRun(t, f.ctx, f.s, RunOpts{
		Run:   &store.Run{ID: f.id(name), HashMod: 1, PositionSnapshotIDs: snapshotIDs},
		Tasks: taskSpec(1, "FIXED_BOND", T0, 3),
	})
	task := f.mustClaim(t, "w-"+name, T0)
	if err := f.complete(task, T0.Add(time.Second), rows(r.ID)); err != nil {
		t.Fatalf("TaskComplete: %v", err)
	}
	return r.ID
}

func compareResults(a, b *store.ResultRow) int {
	return cmp.Or(cmp.Compare(a.PositionSnapshotID, b.PositionSnapshotID), cmp.Compare(a.PositionID, b.PositionID),
		cmp.Compare(a.ScenarioID, b.ScenarioID))
}

func checkResult(t testing.TB, got, want *store.ResultRow) {
	t.Helper()
	if got.RunID != want.RunID || got.ScenarioID != want.ScenarioID || got.PositionSnapshotID != want.PositionSnapshotID ||
		got.PositionID != want.PositionID || got.InstrumentID != want.InstrumentID || got.ProductType != want.ProductType ||
		got.PortfolioNodeID != want.PortfolioNodeID || got.Present != want.Present {
		t.Errorf("result = %+v, want %+v", got, want)
		return
	}
	for i := range store.NumMeasures {
		want := want.Values[i]
		if !got.Has(i) {
			want = 0
		}
		if !sameFloat(got.Values[i], want) {
			t.Errorf("result %s/%s/%s measure %s = %v (bits %016x), want %v (bits %016x)", got.PositionSnapshotID, got.PositionID,
				got.ScenarioID, store.MeasureColumns()[i], got.Values[i], math.Float64bits(got.Values[i]), want, math.Float64bits(want))
		}
	}
}

// resultFixture stores two snapshots whose positions share some ids, and a
// completed run with results for every position under three scenarios.
type resultFixture struct {
	runID string
	rows  []*store.ResultRow // as written, sorted by the test in ResultList order
	attrs map[[2]string]map[string]string
}

func newResultFixture(t *testing.T, f *fixture) *resultFixture {
	t.Helper()
	attrs := []string{
		`{"desk":"RATES","rank":7,"coupon_rate":0.045,"flag":true,"nullish":null}`,
		`{"desk":"CREDIT","rank":-2,"coupon_rate":0.5,"flag":false}`,
		`{"desk":"","rank":1000000,"nested":{"a":1}}`,
		`{"rank":7,"desk":"RATES"}`,
		`{}`,
	}
	// What a driver must return for each attribute of each position:
	// strings unquoted, other values as JSON text, "" when absent or null.
	keys := []map[string]string{
		{"desk": "RATES", "rank": "7", "coupon_rate": "0.045", "flag": "true", "nullish": "", "missing": ""},
		{"desk": "CREDIT", "rank": "-2", "coupon_rate": "0.5", "flag": "false", "nullish": "", "missing": ""},
		{"desk": "", "rank": "1000000", "coupon_rate": "", "flag": "", "nullish": "", "missing": ""},
		{"desk": "RATES", "rank": "7", "coupon_rate": "", "flag": "", "nullish": "", "missing": ""},
		{"desk": "", "rank": "", "coupon_rate": "", "flag": "", "nullish": "", "missing": ""},
	}
	types := []string{"AMORT_LOAN", "FIXED_BOND", "FX_FWD"}
	mk := func(snap string, ids []string) []*store.Position {
		var out []*store.Position
		for i, id := range ids {
			p := Pos(id, types[i%3], PositionHash(id), attrs[i%len(attrs)])
			p.InstrumentID = fmt.Sprintf("INS-%d", i%4)
			out = append(out, p)
		}
		return out
	}
	snapA, snapB := f.id("ps-a"), f.id("ps-b")
	posA := mk(snapA, []string{"P-03", "P-01", "P-10", "P-02", "P-07", "P-05", "P-04"})
	posB := mk(snapB, []string{"P-02", "P-09", "P-01", "P-11", "P-06"}) // P-01, P-02 in both
	MustPositionSnapshot(t, f.ctx, f.s, &store.PositionSnapshot{ID: snapB, PortfolioNodeID: "BOOK-B"}, posB, 0)
	MustPositionSnapshot(t, f.ctx, f.s, &store.PositionSnapshot{ID: snapA, PortfolioNodeID: "BOOK-A"}, posA, 0)
	rf := &resultFixture{attrs: map[[2]string]map[string]string{}}
	for i, p := range posA {
		rf.attrs[[2]string{snapA, p.PositionID}] = keys[i%len(keys)]
	}
	for i, p := range posB {
		rf.attrs[[2]string{snapB, p.PositionID}] = keys[i%len(keys)]
	}
	scenarios := []string{"SPREAD_25BP", "BASE", "RATES_PARALLEL_1BP"}
	rf.runID = f.completeWith(t, "run", []string{snapA, snapB}, func(runID string) []*store.ResultRow {
		var rows []*store.ResultRow
		n := 0
		for _, s := range []struct {
			id, node string
			ps       []*store.Position
		}{{snapA, "BOOK-A", posA}, {snapB, "BOOK-B", posB}} {
			for _, p := range s.ps {
				for _, sc := range scenarios {
					r := &store.ResultRow{RunID: runID, ScenarioID: sc, PositionSnapshotID: s.id, PositionID: p.PositionID,
						InstrumentID: p.InstrumentID, ProductType: p.ProductType, PortfolioNodeID: s.node}
					for i := range store.NumMeasures {
						if (n+i)%3 != 0 {
							r.Present |= 1 << i
							r.Values[i] = trickyFloats[(n*store.NumMeasures+i)%len(trickyFloats)]
						}
					}
					n++
					rows = append(rows, r)
				}
			}
		}
		rf.rows = slices.Clone(rows)
		return rows
	})
	slices.SortFunc(rf.rows, compareResults)
	return rf
}

func rowsOf(t *testing.T, f *fixture, runID string) []*store.ResultRow {
	t.Helper()
	rows, err := f.s.ResultList(f.ctx, store.ResultListParams{RunID: runID, Limit: 10000})
	if err != nil {
		t.Fatalf("ResultList: %v", err)
	}
	return rows
}

func testResult(t *testing.T, open Opener) {
	t.Run("ExactFloatRoundTripAndAbsentMeasures", func(t *testing.T) {
		f := setup(t, open)
		values := append(slices.Clone(trickyFloats), math.Nextafter(0, -1), -math.MaxFloat64, 1e300, -1e-300, 0.1+0.2)
		var positions []*store.Position
		for i := 0; i < len(values); i += 2 {
			positions = append(positions, Pos(fmt.Sprintf("P-%03d", i), "FIXED_BOND", int64(i), ""))
		}
		MustPositionSnapshot(t, f.ctx, f.s, &store.PositionSnapshot{ID: f.id("ps")}, positions, 0)
		var want []*store.ResultRow
		runID := f.completeWith(t, "run", []string{f.id("ps")}, func(runID string) []*store.ResultRow {
			for i := 0; i < len(values); i += 2 {
				r := &store.ResultRow{RunID: runID, ScenarioID: "BASE", PositionSnapshotID: f.id("ps"),
					PositionID: fmt.Sprintf("P-%03d", i), InstrumentID: "I", ProductType: "FIXED_BOND", PortfolioNodeID: "N"}
				// Measures alternate between absent and tricky values.
				r.Present = uint8(0b10101 >> (i / 2 % 2))
				for m := range store.NumMeasures {
					if r.Has(m) {
						r.Values[m] = values[(i+m)%len(values)]
					}
				}
				want = append(want, r)
			}
			return want
		})
		got := rowsOf(t, f, runID)
		if len(got) != len(want) {
			t.Fatalf("%d rows, want %d", len(got), len(want))
		}
		for i := range got {
			checkResult(t, got[i], want[i])
		}
		i := 0
		if err := f.s.ResultScan(f.ctx, store.ResultScanParams{RunID: runID}, func(r *store.ResultRow, key string) error {
			if i < len(want) {
				checkResult(t, r, want[i])
			}
			if key != "" {
				t.Errorf("ResultScan without KeyBy gave key %q", key)
			}
			i++
			return nil
		}); err != nil || i != len(want) {
			t.Errorf("ResultScan = %d rows, %v; want %d", i, err, len(want))
		}
		one, err := f.s.ResultsForPosition(f.ctx, runID, "P-002")
		if err != nil || len(one) != 1 {
			t.Fatalf("ResultsForPosition = %d, %v", len(one), err)
		}
		checkResult(t, one[0], want[1])
		// checkResult compares bits, so -0.0 must keep its sign; make sure
		// the fixture really stored one.
		negZero := false
		for _, r := range want {
			for m := range store.NumMeasures {
				negZero = negZero || (r.Has(m) && r.Values[m] == 0 && math.Signbit(r.Values[m]))
			}
		}
		if !negZero {
			t.Error("fixture stores no -0.0")
		}
	})

	t.Run("ListOrderAndPagination", func(t *testing.T) {
		f := setup(t, open)
		rf := newResultFixture(t, f)
		if len(rf.rows) != 36 {
			t.Fatalf("fixture has %d rows, want 36", len(rf.rows))
		}
		want := rf.rows // sorted by the test
		for _, scenario := range []string{"", "BASE", "RATES_PARALLEL_1BP", "NONE"} {
			var expect []*store.ResultRow
			for _, r := range want {
				if scenario == "" || r.ScenarioID == scenario {
					expect = append(expect, r)
				}
			}
			for _, limit := range []int{1, 4, 7, 1000} {
				var got []*store.ResultRow
				p := store.ResultListParams{RunID: rf.runID, ScenarioID: scenario, Limit: limit}
				for pages := 0; ; pages++ {
					if pages > 100 {
						t.Fatal("pagination does not end")
					}
					page, err := f.s.ResultList(f.ctx, p)
					if err != nil {
						t.Fatalf("ResultList(%+v): %v", p, err)
					}
					if len(page) > limit {
						t.Fatalf("page of %d rows, limit %d", len(page), limit)
					}
					got = append(got, page...)
					if len(page) < limit {
						break
					}
					last := page[len(page)-1]
					p.AfterSnapshotID, p.AfterPositionID, p.AfterScenarioID = last.PositionSnapshotID, last.PositionID, last.ScenarioID
				}
				if len(got) != len(expect) {
					t.Errorf("scenario %q limit %d: %d rows, want %d", scenario, limit, len(got), len(expect))
					continue
				}
				for i := range got {
					checkResult(t, got[i], expect[i])
				}
			}
		}
		if rows, err := f.s.ResultList(f.ctx, store.ResultListParams{RunID: f.id("no-such-run"), Limit: 10}); err != nil || len(rows) != 0 {
			t.Errorf("ResultList(unknown run) = %d rows, %v; want none", len(rows), err)
		}
	})

	t.Run("ResultsForPosition", func(t *testing.T) {
		f := setup(t, open)
		rf := newResultFixture(t, f)
		got, err := f.s.ResultsForPosition(f.ctx, rf.runID, "P-01")
		if err != nil {
			t.Fatalf("ResultsForPosition: %v", err)
		}
		var want []*store.ResultRow
		for _, r := range rf.rows {
			if r.PositionID == "P-01" {
				want = append(want, r)
			}
		}
		slices.SortFunc(want, compareResults)
		if len(got) != 6 || len(want) != 6 {
			t.Fatalf("ResultsForPosition(P-01) = %d rows (expected %d), want 2 snapshots × 3 scenarios", len(got), len(want))
		}
		for i := range got {
			checkResult(t, got[i], want[i])
		}
		if got, err := f.s.ResultsForPosition(f.ctx, rf.runID, "P-99"); err != nil || len(got) != 0 {
			t.Errorf("ResultsForPosition(unknown) = %d rows, %v; want none", len(got), err)
		}
	})

	t.Run("ScanKeys", func(t *testing.T) {
		f := setup(t, open)
		rf := newResultFixture(t, f)
		keyOf := map[string]func(r *store.ResultRow) string{
			"":                  func(*store.ResultRow) string { return "" },
			"portfolio_node_id": func(r *store.ResultRow) string { return r.PortfolioNodeID },
			"product_type":      func(r *store.ResultRow) string { return r.ProductType },
			"instrument_id":     func(r *store.ResultRow) string { return r.InstrumentID },
		}
		for _, name := range []string{"desk", "rank", "coupon_rate", "flag", "nullish", "missing"} {
			keyOf["attr:"+name] = func(r *store.ResultRow) string {
				return rf.attrs[[2]string{r.PositionSnapshotID, r.PositionID}][name]
			}
		}
		for keyBy, key := range keyOf {
			for _, scenario := range []string{"", "BASE"} {
				var want []*store.ResultRow
				for _, r := range rf.rows {
					if scenario == "" || r.ScenarioID == scenario {
						want = append(want, r)
					}
				}
				i := 0
				err := f.s.ResultScan(f.ctx, store.ResultScanParams{RunID: rf.runID, ScenarioID: scenario, KeyBy: keyBy},
					func(r *store.ResultRow, k string) error {
						if i >= len(want) {
							return fmt.Errorf("row %d beyond the %d expected", i, len(want))
						}
						checkResult(t, r, want[i])
						if w := key(want[i]); k != w {
							t.Errorf("KeyBy %q: row %s/%s key %q, want %q", keyBy, r.PositionSnapshotID, r.PositionID, k, w)
						}
						i++
						return nil
					})
				if err != nil || i != len(want) {
					t.Errorf("ResultScan(KeyBy %q, scenario %q) = %d rows, %v; want %d", keyBy, scenario, i, err, len(want))
				}
			}
		}
		// Totals: the same rows with the same keys, in any order, with
		// the scenario and the measures filled.
		totalsOf := func(r *store.ResultRow, key string) string {
			var b strings.Builder
			fmt.Fprintf(&b, "%s|%d|%s", r.ScenarioID, r.Present, key)
			for m := range store.NumMeasures {
				if r.Has(m) {
					fmt.Fprintf(&b, "|%x", math.Float64bits(r.Values[m]))
				}
			}
			return b.String()
		}
		for keyBy, key := range keyOf {
			for _, scenario := range []string{"", "BASE"} {
				want := map[string]int{}
				for _, r := range rf.rows {
					if scenario == "" || r.ScenarioID == scenario {
						want[totalsOf(r, key(r))]++
					}
				}
				got := map[string]int{}
				err := f.s.ResultScan(f.ctx, store.ResultScanParams{RunID: rf.runID, ScenarioID: scenario, KeyBy: keyBy, Totals: true},
					func(r *store.ResultRow, k string) error {
						got[totalsOf(r, k)]++
						return nil
					})
				if err != nil || !maps.Equal(got, want) {
					t.Errorf("ResultScan(KeyBy %q, scenario %q, Totals) = %v, %v; want %v", keyBy, scenario, got, err, want)
				}
			}
		}
		for _, bad := range []string{"attr:", "attr:bad-name", `attr:a"b`, "attr:1abc", "attr:a.b", "desk", "PV", "attr:a b"} {
			err := f.s.ResultScan(f.ctx, store.ResultScanParams{RunID: rf.runID, KeyBy: bad}, func(*store.ResultRow, string) error { return nil })
			if !errors.Is(err, &apperr.Error{Code: apperr.Invalid}) {
				t.Errorf("ResultScan(KeyBy %q): %v, want an Invalid error", bad, err)
			}
		}
		stop := errors.New("stop")
		n := 0
		err := f.s.ResultScan(f.ctx, store.ResultScanParams{RunID: rf.runID, KeyBy: "product_type"}, func(*store.ResultRow, string) error {
			n++
			if n == 5 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || n != 5 {
			t.Errorf("ResultScan with a failing fn: %v after %d rows; want the fn's error after 5", err, n)
		}
		n = 0
		if err := f.s.ResultScan(f.ctx, store.ResultScanParams{RunID: f.id("no-such-run")}, func(*store.ResultRow, string) error { n++; return nil }); err != nil || n != 0 {
			t.Errorf("ResultScan(unknown run) = %d rows, %v; want none", n, err)
		}
	})
}
