package results

import (
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/big"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/pricing"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/store/storetest"
	"github.com/iprs/iprs/internal/store/teststore"
	"github.com/iprs/iprs/internal/taskresult"
	"github.com/iprs/iprs/internal/web"
)

var asOf = time.Date(2026, 1, 23, 17, 0, 0, 0, time.UTC)

// MustOpen opens a migrated SQLite store in a temporary directory.
func MustOpen(tb testing.TB) store.Store {
	tb.Helper()
	return teststore.SQLite(tb)
}

// eachStore runs test on SQLite and, when configured, PostgreSQL.
func eachStore(t *testing.T, test func(t *testing.T, st store.Store)) {
	t.Helper()
	for _, o := range teststore.Backends() {
		t.Run(o.Name, func(t *testing.T) {
			t.Parallel()
			test(t, o.Open(t))
		})
	}
}

// MustServer serves the results routes over st.
func MustServer(tb testing.TB, st store.Store) *httptest.Server {
	tb.Helper()
	m := web.NewMux(web.Config{Service: "results", Prefix: Prefix})
	New(st, nil, Options{FlushRows: 3}).Register(m)
	srv := httptest.NewServer(m.Handler())
	tb.Cleanup(srv.Close)
	return srv
}

// measures of one position under one scenario; NaN marks an absent one.
type vals map[string]float64

// book is hand-made result data: per snapshot, positions with attributes
// and, per scenario, their measures.
type bookPosition struct {
	snapshot string
	id       string
	product  string
	attrs    string
	values   map[string]vals // by scenario
	ccy      string          // FX_DELTA's currency; EUR when empty
}

// MustRunWithResults stores the positions (one snapshot per distinct
// snapshot id, node "BOOK-" + the snapshot's last letter), a run over them
// with hashMod buckets, and writes the given results through the task
// queue: every task is claimed and completed with the rows of its
// positions, in reverse order when reverse is set. When only is not nil
// just the tasks of those product types are completed.
func MustRunWithResults(tb testing.TB, st store.Store, runID string, measures, scenarios []string, book []bookPosition, hashMod int, reverse bool, only []string) *store.Run {
	tb.Helper()
	return mustRunWithRequest(tb, st, runID, nil, measures, scenarios, book, hashMod, reverse, only)
}

// mustRunWithRequest is MustRunWithResults for a run with the given stored
// request (nil for the factory's default).
func mustRunWithRequest(tb testing.TB, st store.Store, runID string, request []byte, measures, scenarios []string, book []bookPosition, hashMod int, reverse bool, only []string) *store.Run {
	tb.Helper()
	return mustRunAggregating(tb, st, runID, request, nil, 0, measures, scenarios, book, hashMod, reverse, only)
}

// mustRunAggregating is mustRunWithRequest whose tasks also aggregate by
// the attributes named, as a worker's do, with at most maxGroups groups
// (0: agg.MaxTaskAttrGroups).
func mustRunAggregating(tb testing.TB, st store.Store, runID string, request []byte, attrs []string, maxGroups int, measures, scenarios []string, book []bookPosition, hashMod int, reverse bool, only []string) *store.Run {
	tb.Helper()
	ctx := context.Background()
	bySnap := map[string][]*store.Position{}
	var snaps []string
	byID := map[[2]string]bookPosition{}
	for _, bp := range book {
		p := storetest.Pos(bp.id, bp.product, storetest.PositionHash(bp.id), bp.attrs)
		if _, ok := bySnap[bp.snapshot]; !ok {
			snaps = append(snaps, bp.snapshot)
		}
		bySnap[bp.snapshot] = append(bySnap[bp.snapshot], p)
		byID[[2]string{bp.snapshot, bp.id}] = bp
	}
	var snapIDs []string
	for _, s := range snaps {
		id := runID + "-" + s
		storetest.MustPositionSnapshot(tb, ctx, st, &store.PositionSnapshot{
			ID: id, AsOfTime: asOf, PortfolioNodeID: "BOOK-" + s[len(s)-1:],
		}, bySnap[s], 0)
		snapIDs = append(snapIDs, id)
	}
	storetest.MustRun(tb, ctx, st, storetest.RunOpts{
		Run: &store.Run{
			ID: runID, AsOfTime: asOf, PositionSnapshotIDs: snapIDs,
			Measures: measures, Scenarios: scenarios, HashMod: hashMod, Request: request,
		},
		AvailableAt: asOf.Add(-time.Hour),
	})
	var ms []pricing.Measure
	for _, name := range measures {
		m, ok := pricing.ParseMeasure(name)
		if !ok {
			tb.Fatalf("measure %s", name)
		}
		ms = append(ms, m)
	}
	for {
		task, err := st.TaskClaim(ctx, store.TaskClaimParams{Owner: "test", Lease: time.Minute})
		if err != nil {
			break
		}
		if task.RunID != runID {
			tb.Fatalf("claimed task of run %s", task.RunID)
		}
		type pos struct {
			id   taskresult.Position
			vals []pricing.Values
		}
		var list []pos
		keyer := taskresult.NewAttrKeyer(attrs)
		err = st.TaskPositions(ctx, task, func(p *store.Position) error {
			bp := byID[[2]string{strings.TrimPrefix(p.SnapshotID, runID+"-"), p.PositionID}]
			vs := make([]pricing.Values, len(scenarios))
			for si, sc := range scenarios {
				for _, m := range ms {
					if x, ok := bp.values[sc][m.String()]; ok {
						if m == pricing.FXDelta {
							ccy := cmp.Or(bp.ccy, "EUR")
							vs[si].SetFXDelta(x, ccy)
						} else {
							vs[si].Set(m, x)
						}
					}
				}
			}
			keys, err := keyer.AppendKeys(nil, p.Attributes)
			if err != nil {
				return err
			}
			list = append(list, pos{taskresult.Position{SnapshotID: p.SnapshotID, PositionID: p.PositionID,
				InstrumentID: p.InstrumentID, ProductType: p.ProductType, PortfolioNodeID: p.PortfolioNodeID, AttrKeys: keys}, vs})
			return nil
		})
		if err != nil {
			tb.Fatalf("TaskPositions: %v", err)
		}
		if only != nil && !slices.Contains(only, task.ProductType) {
			continue // leave it RUNNING
		}
		if reverse {
			slices.Reverse(list)
		}
		b := taskresult.New(runID, task.ID, scenarios, ms, len(list)).WithAttrs(attrs, maxGroups)
		for _, p := range list {
			b.Add(p.id, p.vals)
		}
		rows, aggs := b.Results()
		if err := st.TaskComplete(ctx, store.TaskCompleteParams{ClaimRef: task.Ref(), Results: rows, Aggregates: aggs}); err != nil {
			tb.Fatalf("TaskComplete: %v", err)
		}
	}
	got, err := st.RunGet(ctx, runID)
	if err != nil {
		tb.Fatal(err)
	}
	return got
}

// handBook has values whose exact sums are known and differ from naive
// left-to-right sums: 1e16 + 1 rounds back to 1e16 in float64.
func handBook() []bookPosition {
	return []bookPosition{
		{snapshot: "SA", id: "L1", product: "AMORT_LOAN", attrs: `{"desk":"CREDIT","rating":3}`, values: map[string]vals{
			"BASE":               {"PV": 1e16, "DV01": -2.5},
			"RATES_PARALLEL_1BP": {"PV": 1e16 - 2, "DV01": -2.5},
		}},
		{snapshot: "SA", id: "L2", product: "AMORT_LOAN", attrs: `{"desk":"CREDIT"}`, values: map[string]vals{
			"BASE":               {"PV": 1, "DV01": -0.25},
			"RATES_PARALLEL_1BP": {"PV": 0.5, "DV01": -0.25},
		}},
		{snapshot: "SA", id: "B1", product: "FIXED_BOND", attrs: `{"desk":"RATES","rating":1}`, values: map[string]vals{
			"BASE":               {"PV": -1e16, "DV01": -4},
			"RATES_PARALLEL_1BP": {"PV": -1e16 + 4, "DV01": -4},
		}},
		{snapshot: "SA", id: "F1", product: "FX_FWD", attrs: `{"desk":"FX"}`, values: map[string]vals{
			"BASE":               {"PV": 0.75, "FX_DELTA": 1000},
			"RATES_PARALLEL_1BP": {"PV": 0.75, "FX_DELTA": 1000},
		}},
		{snapshot: "SB", id: "L3", product: "AMORT_LOAN", attrs: `{"desk":"CREDIT","rating":null}`, values: map[string]vals{
			"BASE":               {"PV": 0.25, "DV01": -1},
			"RATES_PARALLEL_1BP": {"PV": 0.125, "DV01": -1},
		}},
	}
}

var (
	handMeasures  = []string{"PV", "DV01", "FX_DELTA"}
	handScenarios = []string{"BASE", "RATES_PARALLEL_1BP"}
)

func getJSON(tb testing.TB, srv *httptest.Server, path string, wantStatus int, out any) {
	tb.Helper()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	if resp.StatusCode != wantStatus {
		tb.Fatalf("GET %s: %d %s, want %d", path, resp.StatusCode, body, wantStatus)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			tb.Fatalf("GET %s: body %s: %v", path, body, err)
		}
	}
}

type problem struct {
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Parameter string `json:"parameter"`
		Detail    string `json:"detail"`
	} `json:"errors"`
}

// wantProblem asserts a problem answer naming the parameter (when not "").
func wantProblem(tb testing.TB, srv *httptest.Server, path string, status int, param string) {
	tb.Helper()
	getProblem(tb, srv, path, status, param)
}

// getProblem asserts a problem answer naming the parameter (when not "")
// and returns its body.
func getProblem(tb testing.TB, srv *httptest.Server, path string, status int, param string) string {
	tb.Helper()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		tb.Fatalf("GET %s: %d %s, want %d", path, resp.StatusCode, body, status)
	}
	if ct := resp.Header.Get("Content-Type"); ct != web.ProblemContentType {
		tb.Errorf("GET %s: Content-Type %q", path, ct)
	}
	var p problem
	if err := json.Unmarshal(body, &p); err != nil {
		tb.Fatalf("GET %s: %s: %v", path, body, err)
	}
	if param == "" {
		return string(body)
	}
	for _, e := range p.Errors {
		if e.Parameter == param {
			return string(body)
		}
	}
	tb.Errorf("GET %s: problem %s does not name parameter %q", path, body, param)
	return string(body)
}

func TestSummaryIsExactWithPnL(t *testing.T) {
	t.Parallel()
	eachStore(t, testSummaryIsExactWithPnL)
}

func testSummaryIsExactWithPnL(t *testing.T, st store.Store) {
	MustRunWithResults(t, st, "RUN1", handMeasures, handScenarios, handBook(), 2, false, nil)
	srv := MustServer(t, st)

	var s Summary
	getJSON(t, srv, "/results/runs/RUN1/summary", 200, &s)
	if s.RunID != "RUN1" || s.Status != store.RunCompleted || s.Partial {
		t.Errorf("run %q status %q partial %v", s.RunID, s.Status, s.Partial)
	}
	pnl := func(x float64) *float64 { return &x }
	want := map[string]*ScenarioSummary{
		// PV: 1e16 + 1 − 1e16 + 0.75 + 0.25 = 2 exactly (left to right
		// in float64 it is 1).
		// FX_DELTA is per base currency, never summed across currencies.
		"BASE": {PositionCount: 5, Measures: map[string]any{"PV": 2.0, "DV01": -7.75, "FX_DELTA": map[string]any{"EUR": 1000.0}}, PnL: pnl(0)},
		// PV: (1e16 − 2) + 0.5 + (−1e16 + 4) + 0.75 + 0.125 = 3.375.
		"RATES_PARALLEL_1BP": {PositionCount: 5, Measures: map[string]any{"PV": 3.375, "DV01": -7.75, "FX_DELTA": map[string]any{"EUR": 1000.0}}, PnL: pnl(1.375)},
	}
	if len(s.Scenarios) != len(want) {
		t.Fatalf("scenarios %v", s.Scenarios)
	}
	for sc, w := range want {
		g := s.Scenarios[sc]
		if g == nil {
			t.Fatalf("scenario %s missing", sc)
		}
		if g.PositionCount != w.PositionCount || fmt.Sprint(g.Measures) != fmt.Sprint(w.Measures) {
			t.Errorf("%s: %d %v, want %d %v", sc, g.PositionCount, g.Measures, w.PositionCount, w.Measures)
		}
		if g.PnL == nil || *g.PnL != *w.PnL {
			t.Errorf("%s: pnl %v, want %v", sc, g.PnL, *w.PnL)
		}
	}
}

func TestSummaryWithoutBaseHasNoPnLAndAbsentMeasuresAreAbsent(t *testing.T) {
	t.Parallel()
	st := MustOpen(t)
	book := handBook()[:3] // loans and a bond: no FX_DELTA anywhere
	for i := range book {
		delete(book[i].values, "BASE")
	}
	MustRunWithResults(t, st, "RUN2", handMeasures, []string{"RATES_PARALLEL_1BP"}, book, 1, false, nil)
	srv := MustServer(t, st)
	var raw map[string]any
	getJSON(t, srv, "/results/runs/RUN2/summary", 200, &raw)
	sc := raw["scenarios"].(map[string]any)["RATES_PARALLEL_1BP"].(map[string]any)
	if _, ok := sc["pnl"]; ok {
		t.Errorf("pnl given without BASE: %v", sc)
	}
	ms := sc["measures"].(map[string]any)
	if _, ok := ms["FX_DELTA"]; ok {
		t.Errorf("FX_DELTA present though no position has it: %v", ms)
	}
	// (1e16 − 2) + 0.5 + (−1e16 + 4) = 2.5.
	if ms["PV"] != 2.5 || ms["DV01"] != -6.75 || sc["position_count"] != 3.0 {
		t.Errorf("summary %v", sc)
	}
}

func TestUnfinishedRunAnswersWhatIsThere(t *testing.T) {
	t.Parallel()
	st := MustOpen(t)
	run := MustRunWithResults(t, st, "RUN3", handMeasures, handScenarios, handBook(), 1, false, []string{"FX_FWD"})
	if run.Status != store.RunRunning {
		t.Fatalf("fixture run is %s, want RUNNING", run.Status)
	}
	srv := MustServer(t, st)
	var s Summary
	getJSON(t, srv, "/results/runs/RUN3/summary", 200, &s)
	if s.Status != store.RunRunning || !s.Partial {
		t.Errorf("status %q partial %v, want RUNNING and partial", s.Status, s.Partial)
	}
	base := s.Scenarios["BASE"]
	if base.PositionCount != 1 || base.Measures["PV"] != 0.75 || fmt.Sprint(base.Measures["FX_DELTA"]) != "map[EUR:1000]" || len(base.Measures) != 2 {
		t.Errorf("BASE so far: %+v", base)
	}
}

func TestSummaryDoesNotDependOnRowOrderOrTasks(t *testing.T) {
	t.Parallel()
	eachStore(t, testSummaryDoesNotDependOnRowOrderOrTasks)
}

func testSummaryDoesNotDependOnRowOrderOrTasks(t *testing.T, st store.Store) {
	rng := rand.New(rand.NewPCG(42, 7))
	var book []bookPosition
	products := []string{"AMORT_LOAN", "FIXED_BOND", "FX_FWD"}
	refs := map[string]*big.Float{}
	for _, sc := range handScenarios {
		refs[sc] = new(big.Float).SetPrec(2200)
	}
	for i := 0; i < 300; i++ {
		v := map[string]vals{}
		for _, sc := range handScenarios {
			x := (rng.Float64() - 0.5) * math.Pow(10, float64(rng.IntN(36)-12))
			v[sc] = vals{"PV": x}
			refs[sc].Add(refs[sc], new(big.Float).SetFloat64(x))
		}
		book = append(book, bookPosition{snapshot: "SA", id: fmt.Sprintf("P%03d", i), product: products[i%3], attrs: `{}`, values: v})
	}
	MustRunWithResults(t, st, "ONE", []string{"PV"}, handScenarios, book, 1, false, nil)
	shuffled := slices.Clone(book)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	MustRunWithResults(t, st, "MANY", []string{"PV"}, handScenarios, shuffled, 7, true, nil)
	srv := MustServer(t, st)
	var one, many Summary
	getJSON(t, srv, "/results/runs/ONE/summary", 200, &one)
	getJSON(t, srv, "/results/runs/MANY/summary", 200, &many)
	for _, sc := range handScenarios {
		want, _ := refs[sc].Float64()
		a, b := one.Scenarios[sc].Measures["PV"].(float64), many.Scenarios[sc].Measures["PV"].(float64)
		if math.Float64bits(a) != math.Float64bits(want) || math.Float64bits(b) != math.Float64bits(want) {
			t.Errorf("%s: sums %v (3 tasks) and %v (up to 21 tasks, reversed), exact %v", sc, a, b, want)
		}
	}
	d := new(big.Float).SetPrec(2200).Sub(refs["RATES_PARALLEL_1BP"], refs["BASE"])
	wantPnL, _ := d.Float64()
	if got := *many.Scenarios["RATES_PARALLEL_1BP"].PnL; math.Float64bits(got) != math.Float64bits(wantPnL) {
		t.Errorf("pnl %v, exact %v", got, wantPnL)
	}
}

func TestCube(t *testing.T) {
	t.Parallel()
	eachStore(t, testCube)
}

func testCube(t *testing.T, st store.Store) {
	MustRunWithResults(t, st, "CUBE", handMeasures, handScenarios, handBook(), 3, true, nil)
	srv := MustServer(t, st)
	cases := []struct {
		query string
		want  []CubeCell
	}{
		// 1e16 + 1 + 0.25 = 10000000000000001.25 rounds to 1e16 + 2.
		{"measure=PV&by=product_type", []CubeCell{{"AMORT_LOAN", 1e16 + 2, 3}, {"FIXED_BOND", -1e16, 1}, {"FX_FWD", 0.75, 1}}},
		{"measure=PV&by=product_type&scenario=BASE", []CubeCell{{"AMORT_LOAN", 1e16 + 2, 3}, {"FIXED_BOND", -1e16, 1}, {"FX_FWD", 0.75, 1}}},
		// 1e16 − 2 + 0.5 + 0.125 = 9999999999999998.625 rounds to 1e16 − 2.
		{"measure=PV&by=product_type&scenario=RATES_PARALLEL_1BP", []CubeCell{{"AMORT_LOAN", 1e16 - 2, 3}, {"FIXED_BOND", -1e16 + 4, 1}, {"FX_FWD", 0.75, 1}}},
		// The FX forward has no DV01: its group is absent.
		{"measure=DV01&by=product_type", []CubeCell{{"AMORT_LOAN", -3.75, 3}, {"FIXED_BOND", -4, 1}}},
		// FX_DELTA is given per base currency.
		{"measure=FX_DELTA&by=product_type", []CubeCell{{"FX_FWD", map[string]any{"EUR": 1000.0}, 1}}},
		{"measure=PV&by=portfolio_node_id", []CubeCell{{"BOOK-A", 1.75, 4}, {"BOOK-B", 0.25, 1}}},
		{"measure=PV&by=instrument_id", []CubeCell{{"INS-B1", -1e16, 1}, {"INS-F1", 0.75, 1}, {"INS-L1", 1e16, 1}, {"INS-L2", 1, 1}, {"INS-L3", 0.25, 1}}},
		{"measure=PV&by=attr:desk", []CubeCell{{"CREDIT", 1e16 + 2, 3}, {"FX", 0.75, 1}, {"RATES", -1e16, 1}}},
		// Absent or null attributes group under n/a (SPEC §4.6): L2 1 +
		// L3 0.25 + F1 0.75.
		{"measure=PV&by=attr:rating", []CubeCell{{"1", -1e16, 1}, {"3", 1e16, 1}, {"n/a", 2, 3}}},
	}
	for _, c := range cases {
		var got []CubeCell
		getJSON(t, srv, "/results/runs/CUBE/cube?"+c.query, 200, &got)
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("cube %s:\n got %v\nwant %v", c.query, got, c.want)
		}
	}
	// An attribute that no position has is a 400 naming those they have.
	body := getProblem(t, srv, "/results/runs/CUBE/cube?measure=DV01&by=attr:no_such_attr", 400, "by")
	if !strings.Contains(body, "no_such_attr") || !strings.Contains(body, "desk, rating") {
		t.Errorf("problem %s does not name the attribute and those that exist", body)
	}
}

// TestCubeScansOncePerGrouping: the first cube by a scanned grouping of a
// finished run keeps every measure under every scenario, so cubes of the
// other measures and scenarios by that grouping read the cache; a grouping
// with more groups than Options.CubeWideGroups is scanned per measure and
// scenario, and the wide scan is not tried again.
func TestCubeScansOncePerGrouping(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st store.Store) {
		// By desk: CREDIT is L1, L2, L3; RATES is B1; FX is F1 (handBook).
		cases := []struct {
			query string
			want  []CubeCell
		}{
			// 1e16 + 1 + 0.25 rounds to 1e16 + 2 (doubles are 2 apart there).
			{"measure=PV&by=attr:desk", []CubeCell{{"CREDIT", 1e16 + 2, 3}, {"FX", 0.75, 1}, {"RATES", -1e16, 1}}},
			// −2.5 − 0.25 − 1; the FX forward has no DV01.
			{"measure=DV01&by=attr:desk&scenario=RATES_PARALLEL_1BP", []CubeCell{{"CREDIT", -3.75, 3}, {"RATES", -4, 1}}},
			// 1e16 − 2 + 0.5 + 0.125 = 1e16 − 1.375 rounds to 1e16 − 2.
			{"measure=PV&by=attr:desk&scenario=RATES_PARALLEL_1BP", []CubeCell{{"CREDIT", 1e16 - 2, 3}, {"FX", 0.75, 1}, {"RATES", -1e16 + 4, 1}}},
			{"measure=PV&by=attr:desk", []CubeCell{{"CREDIT", 1e16 + 2, 3}, {"FX", 0.75, 1}, {"RATES", -1e16, 1}}},
		}
		for _, c := range []struct {
			run       string
			wide      int
			wantScans []int64 // after each case
		}{
			{"WIDE", 0, []int64{1, 1, 1, 1}},
			// Three desks, two allowed: the wide scan ends early once,
			// then each measure and scenario is scanned once.
			{"NARROW", 2, []int64{2, 3, 4, 4}},
		} {
			MustRunWithResults(t, st, c.run, handMeasures, handScenarios, handBook(), 3, true, nil)
			sc := &scanCounter{Store: st}
			m := web.NewMux(web.Config{Service: "results", Prefix: Prefix})
			New(sc, nil, Options{CubeWideGroups: c.wide}).Register(m)
			srv := httptest.NewServer(m.Handler())
			t.Cleanup(srv.Close)
			for i, q := range cases {
				var got []CubeCell
				getJSON(t, srv, "/results/runs/"+c.run+"/cube?"+q.query, 200, &got)
				if fmt.Sprint(got) != fmt.Sprint(q.want) {
					t.Errorf("%s cube %s:\n got %v\nwant %v", c.run, q.query, got, q.want)
				}
				if n := sc.scans.Load(); n != c.wantScans[i] {
					t.Errorf("%s after cube %s: %d scans, want %d", c.run, q.query, n, c.wantScans[i])
				}
			}
		}
	})
}

// listCounter counts the result rows a store's ResultList gives out.
type listCounter struct {
	store.Store
	rows atomic.Int64
}

func (s *listCounter) ResultList(ctx context.Context, p store.ResultListParams) ([]*store.PositionResult, error) {
	rows, err := s.Store.ResultList(ctx, p)
	s.rows.Add(int64(len(rows)))
	return rows, err
}

// TestPositionsPageReadsWhatItShows: a page of every scenario reads about
// one position per scenario-count items, not one per item. 60 positions
// (pagedBook) under 2 scenarios; a page of 10 items and the one more that
// tells whether a next page exists are 11 items, 6 positions, plus the
// cursor's own position, which may have a scenario left: 7 rows. With a
// scenario, 11 items are 11 positions, plus the cursor's: 12 rows.
func TestPositionsPageReadsWhatItShows(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st store.Store) {
		MustRunWithResults(t, st, "RD", []string{"PV"}, handScenarios, pagedBook(60, false), 4, false, nil)
		lc := &listCounter{Store: st}
		srv := MustServer(t, lc)
		var first web.List[PositionResult]
		getJSON(t, srv, "/results/runs/RD/positions?limit=10", 200, &first)
		if n := lc.rows.Load(); n != 7 || len(first.Items) != 10 || first.NextCursor == nil {
			t.Fatalf("first page: %d rows read, %d items, next %v; want 7 rows, 10 items and a next page", n, len(first.Items), first.NextCursor)
		}
		var next web.List[PositionResult]
		getJSON(t, srv, "/results/runs/RD/positions?limit=10&cursor="+url.QueryEscape(*first.NextCursor), 200, &next)
		if n := lc.rows.Load(); n != 14 || len(next.Items) != 10 {
			t.Fatalf("next page: %d rows read in all, %d items; want 14 rows, 10 items", n, len(next.Items))
		}
		// The pages meet: items 0–9 and 10–19 in (snapshot, position, scenario) order.
		if last, nxt := itemKey(first.Items[9]), itemKey(next.Items[0]); compareItemKey(last, nxt) >= 0 {
			t.Errorf("page 1 ends at %v, page 2 starts at %v", last, nxt)
		}
		lc.rows.Store(0)
		var base web.List[PositionResult]
		getJSON(t, srv, "/results/runs/RD/positions?limit=10&scenario=BASE", 200, &base)
		if n := lc.rows.Load(); n != 12 || len(base.Items) != 10 {
			t.Fatalf("page under BASE: %d rows read, %d items; want 12 rows, 10 items", n, len(base.Items))
		}
	})
}

func TestBadRequests(t *testing.T) {
	t.Parallel()
	eachStore(t, testBadRequests)
}

func testBadRequests(t *testing.T, st store.Store) {
	MustRunWithResults(t, st, "R", handMeasures, handScenarios, handBook(), 1, false, nil)
	MustRunWithResults(t, st, "NOBASE", []string{"PV"}, []string{"RATES_PARALLEL_1BP"}, handBook()[:1], 1, false, nil)
	srv := MustServer(t, st)
	badCursor := web.EncodeCursor("only-one")
	cases := []struct {
		path   string
		status int
		param  string
	}{
		{"/results/runs/R/cube?measure=XYZ&by=product_type", 400, "measure"},
		{"/results/runs/R/cube?measure=CS01&by=product_type", 400, "measure"}, // known, not in the run
		{"/results/runs/R/cube?by=product_type", 400, "measure"},
		{"/results/runs/R/cube?measure=PV&by=desk", 400, "by"},
		{"/results/runs/R/cube?measure=PV", 400, "by"},
		{"/results/runs/R/cube?measure=PV&by=attr:", 400, "by"},
		{"/results/runs/R/cube?measure=PV&by=attr:1desk", 400, "by"},
		{"/results/runs/R/cube?measure=PV&by=" + url.QueryEscape("attr:desk'; DROP"), 400, "by"},
		{"/results/runs/R/cube?measure=PV&by=product_type&scenario=FX_SPOT_1PCT", 400, "scenario"},
		{"/results/runs/R/cube?measure=PV&by=product_type&scenario=", 400, "scenario"},
		{"/results/runs/NOBASE/cube?measure=PV&by=product_type", 400, "scenario"},
		{"/results/runs/R/positions?scenario=NOPE", 400, "scenario"},
		{"/results/runs/R/positions?limit=0", 400, "limit"},
		{"/results/runs/R/positions?limit=1001", 400, "limit"},
		{"/results/runs/R/positions?limit=ten", 400, "limit"},
		{"/results/runs/R/positions?cursor=!!!", 400, "cursor"},
		{"/results/runs/R/positions?cursor=" + badCursor, 400, "cursor"},
		{"/results/runs/R/export.csv?scenario=NOPE", 400, "scenario"},
		{"/results/runs/NOPE/summary", 404, ""},
		{"/results/runs/NOPE/cube?measure=PV&by=product_type", 404, ""},
		{"/results/runs/NOPE/positions", 404, ""},
		{"/results/runs/NOPE/positions/L1", 404, ""},
		{"/results/runs/NOPE/export.csv", 404, ""},
		{"/results/runs/R/positions/NO-SUCH-POSITION", 404, ""},
	}
	for _, c := range cases {
		wantProblem(t, srv, c.path, c.status, c.param)
	}
	// Every parameter at fault is named at once.
	var p problem
	getJSON(t, srv, "/results/runs/R/cube?measure=XYZ&by=nope&scenario=NOPE", 400, &p)
	if len(p.Errors) != 3 {
		t.Errorf("problem names %d parameters, want 3: %+v", len(p.Errors), p.Errors)
	}
}

func TestPositionsPagination(t *testing.T) {
	t.Parallel()
	eachStore(t, testPositionsPagination)
}

func testPositionsPagination(t *testing.T, st store.Store) {
	MustRunWithResults(t, st, "PAGES", handMeasures, handScenarios, handBook(), 2, false, nil)
	srv := MustServer(t, st)

	// Expected order: snapshot id, position id, scenario id.
	type key struct{ snap, pos, sc string }
	var want []key
	for _, snap := range []string{"PAGES-SA", "PAGES-SB"} {
		var ids []string
		for _, bp := range handBook() {
			if "PAGES-"+bp.snapshot == snap {
				ids = append(ids, bp.id)
			}
		}
		slices.Sort(ids)
		for _, id := range ids {
			for _, sc := range handScenarios {
				want = append(want, key{snap, id, sc})
			}
		}
	}

	var got []PositionResult
	path := "/results/runs/PAGES/positions?limit=3"
	pages := 0
	for {
		var page web.List[PositionResult]
		getJSON(t, srv, path, 200, &page)
		pages++
		got = append(got, page.Items...)
		if page.NextCursor == nil {
			break
		}
		if len(page.Items) != 3 {
			t.Fatalf("a page before the last has %d items", len(page.Items))
		}
		path = "/results/runs/PAGES/positions?limit=3&cursor=" + url.QueryEscape(*page.NextCursor)
	}
	if pages != 4 || len(got) != len(want) {
		t.Fatalf("%d pages, %d rows; want 4 pages, %d rows", pages, len(got), len(want))
	}
	book := map[string]bookPosition{}
	for _, bp := range handBook() {
		book[bp.id] = bp
	}
	for i, r := range got {
		if (key{r.PositionSnapshotID, r.PositionID, r.ScenarioID}) != want[i] {
			t.Errorf("row %d is %v, want %v", i, key{r.PositionSnapshotID, r.PositionID, r.ScenarioID}, want[i])
		}
		bp := book[r.PositionID]
		var ms map[string]float64
		if err := json.Unmarshal(r.Measures, &ms); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(ms) != fmt.Sprint(map[string]float64(bp.values[r.ScenarioID])) {
			t.Errorf("%s/%s measures %v, want %v", r.PositionID, r.ScenarioID, r.Measures, bp.values[r.ScenarioID])
		}
		wantNode := "BOOK-A"
		if bp.snapshot == "SB" {
			wantNode = "BOOK-B"
		}
		if r.ProductType != bp.product || r.InstrumentID != "INS-"+bp.id || r.PortfolioNodeID != wantNode {
			t.Errorf("row %+v", r)
		}
	}

	// One scenario, default limit: one page.
	var base web.List[PositionResult]
	getJSON(t, srv, "/results/runs/PAGES/positions?scenario=BASE", 200, &base)
	if len(base.Items) != 5 || base.NextCursor != nil {
		t.Fatalf("BASE page: %d items, next %v", len(base.Items), base.NextCursor)
	}
	for _, r := range base.Items {
		if r.ScenarioID != "BASE" {
			t.Errorf("row under %s", r.ScenarioID)
		}
	}
	// Absent measures are absent from the JSON, not zero.
	var raw map[string]any
	getJSON(t, srv, "/results/runs/PAGES/positions?scenario=BASE&limit=1", 200, &raw)
	item := raw["items"].([]any)[0].(map[string]any)
	ms := item["measures"].(map[string]any)
	if item["position_id"] != "B1" || len(ms) != 2 || ms["PV"] != -1e16 || ms["DV01"] != -4.0 {
		t.Errorf("first BASE row %v", item)
	}
	if _, ok := ms["FX_DELTA"]; ok {
		t.Errorf("absent FX_DELTA rendered: %v", ms)
	}
}

func TestPositionUnderEveryScenario(t *testing.T) {
	t.Parallel()
	st := MustOpen(t)
	MustRunWithResults(t, st, "ONEPOS", handMeasures, handScenarios, handBook(), 1, false, nil)
	srv := MustServer(t, st)
	var got web.List[PositionResult]
	getJSON(t, srv, "/results/runs/ONEPOS/positions/F1", 200, &got)
	if len(got.Items) != 2 || got.NextCursor != nil {
		t.Fatalf("F1: %+v", got)
	}
	for i, sc := range handScenarios {
		r := got.Items[i]
		var ms map[string]float64
		if err := json.Unmarshal(r.Measures, &ms); err != nil {
			t.Fatal(err)
		}
		if r.ScenarioID != sc || r.PositionID != "F1" || ms["FX_DELTA"] != 1000 || ms["PV"] != 0.75 || len(ms) != 2 {
			t.Errorf("F1 under %s: %+v", sc, r)
		}
	}
}

func TestExportCSV(t *testing.T) {
	t.Parallel()
	eachStore(t, testExportCSV)
}

func testExportCSV(t *testing.T, st store.Store) {
	book := handBook()
	// A value whose shortest round-trip form has 17 digits (computed at
	// run time: constant arithmetic would be exact).
	tenth, fifth := 0.1, 0.2
	book[1].values["BASE"]["PV"] = tenth + fifth
	MustRunWithResults(t, st, "CSV-1", handMeasures, handScenarios, book, 2, false, nil)
	srv := MustServer(t, st)

	read := func(query string) [][]string {
		t.Helper()
		resp, err := http.Get(srv.URL + "/results/runs/CSV-1/export.csv" + query)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("export: %d %s", resp.StatusCode, b)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
			t.Errorf("Content-Type %q", ct)
		}
		if cd := resp.Header.Get("Content-Disposition"); cd != `attachment; filename=CSV-1.csv` {
			t.Errorf("Content-Disposition %q", cd)
		}
		recs, err := csv.NewReader(resp.Body).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		return recs
	}
	recs := read("")
	header := "run_id,position_snapshot_id,position_id,instrument_id,product_type,portfolio_node_id,scenario_id,PV,DV01,FX_DELTA"
	if strings.Join(recs[0], ",") != header {
		t.Fatalf("header %v", recs[0])
	}
	if len(recs) != 1+len(book)*2 {
		t.Fatalf("%d records, want %d", len(recs), 1+len(book)*2)
	}
	byID := map[string]bookPosition{}
	for _, bp := range book {
		byID[bp.id] = bp
	}
	for _, rec := range recs[1:] {
		bp := byID[rec[2]]
		if rec[0] != "CSV-1" || rec[1] != "CSV-1-"+bp.snapshot || rec[3] != "INS-"+bp.id || rec[4] != bp.product {
			t.Errorf("record %v", rec)
		}
		for i, m := range handMeasures {
			cell := rec[7+i]
			want, ok := bp.values[rec[6]][m]
			if !ok {
				if cell != "" {
					t.Errorf("%s/%s %s: %q for an absent measure", rec[2], rec[6], m, cell)
				}
				continue
			}
			x, err := strconv.ParseFloat(cell, 64)
			if err != nil || math.Float64bits(x) != math.Float64bits(want) {
				t.Errorf("%s/%s %s: %q, want %v exactly", rec[2], rec[6], m, cell, want)
			}
		}
	}
	base := read("?scenario=BASE")
	if len(base) != 1+len(book) {
		t.Fatalf("BASE export: %d records", len(base))
	}
	for _, rec := range base[1:] {
		if rec[6] != "BASE" {
			t.Errorf("BASE export has %v", rec)
		}
		if rec[2] == "L2" && rec[7] != "0.30000000000000004" {
			t.Errorf("L2 PV cell %q", rec[7])
		}
	}
}

func TestExportOfRunWithoutResultsIsJustTheHeader(t *testing.T) {
	t.Parallel()
	st := MustOpen(t)
	MustRunWithResults(t, st, "EMPTY", []string{"PV"}, []string{"BASE"}, handBook(), 1, false, []string{})
	srv := MustServer(t, st)
	resp, err := http.Get(srv.URL + "/results/runs/EMPTY/export.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !bytes.Equal(body, []byte("run_id,position_snapshot_id,position_id,instrument_id,product_type,portfolio_node_id,scenario_id,PV\n")) {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
}

// TestSumBeyondDoubleIs422: two finite PVs whose exact sum is beyond the
// largest double cannot be answered as a finite number (SPEC §1), so the
// summary and the cube refuse with a 422 naming the sum instead of
// failing with a 500; sums that fit are still answered.
func TestSumBeyondDoubleIs422(t *testing.T) {
	t.Parallel()
	st := MustOpen(t)
	book := []bookPosition{
		{snapshot: "SA", id: "B1", product: "FIXED_BOND", attrs: `{}`, values: map[string]vals{"BASE": {"PV": 1e308}}},
		{snapshot: "SA", id: "B2", product: "FIXED_BOND", attrs: `{}`, values: map[string]vals{"BASE": {"PV": 1e308}}},
		{snapshot: "SA", id: "L1", product: "AMORT_LOAN", attrs: `{}`, values: map[string]vals{"BASE": {"PV": 1}}},
	}
	MustRunWithResults(t, st, "HUGE", []string{"PV"}, []string{"BASE"}, book, 1, false, nil)
	srv := MustServer(t, st)
	wantProblem(t, srv, "/results/runs/HUGE/summary", http.StatusUnprocessableEntity, "")
	wantProblem(t, srv, "/results/runs/HUGE/cube?measure=PV&by=portfolio_node_id", http.StatusUnprocessableEntity, "")
	var cells []CubeCell
	getJSON(t, srv, "/results/runs/HUGE/cube?measure=PV&by=instrument_id", 200, &cells)
	if len(cells) != 3 {
		t.Errorf("cube by instrument: %v", cells)
	}
}
