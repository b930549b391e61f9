package pricing

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

func node(tenor string, pct float64) CurveNode { return CurveNode{Tenor: tenor, ZeroRate: pct / 100} }

// histSnapshots are three dated snapshots whose changes are worked by hand
// in TestHistoricalSetByHand.
func histSnapshots() []HistoricalSnapshot {
	day := func(d string) time.Time {
		t, _ := time.Parse(time.DateOnly, d)
		return t.Add(17 * time.Hour)
	}
	return []HistoricalSnapshot{
		{Date: "2026-01-05", Data: MarketData{SnapshotID: "S0", AsOfTime: day("2026-01-05"),
			FXSpots: []FXSpot{{Pair: "GBPUSD", Spot: 1.25}, {Pair: "EURUSD", Spot: 1.1}},
			Curves: []CurveData{
				{CurveID: "USD-OIS", Nodes: []CurveNode{node("5Y", 2.0), node("1Y", 1.0)}},
				{CurveID: "LOAN-SPREAD", Nodes: []CurveNode{node("1Y", 1.0)}},
			}}},
		{Date: "2026-01-06", Data: MarketData{SnapshotID: "S1", AsOfTime: day("2026-01-06"),
			FXSpots: []FXSpot{{Pair: "EURUSD", Spot: 1.155}, {Pair: "GBPUSD", Spot: 1.2}},
			Curves: []CurveData{
				{CurveID: "LOAN-SPREAD", Nodes: []CurveNode{node("1Y", 1.05)}},
				{CurveID: "USD-OIS", Nodes: []CurveNode{node("1Y", 1.1), node("3Y", 1.5), node("10Y", 2.6)}},
			}}},
		{Date: "2026-01-08", Data: MarketData{SnapshotID: "S2", AsOfTime: day("2026-01-08"),
			FXSpots: []FXSpot{{Pair: "EURUSD", Spot: 1.0395}, {Pair: "GBPUSD", Spot: 1.2}},
			Curves: []CurveData{
				{CurveID: "USD-OIS", Nodes: []CurveNode{node("6M", 0.9), node("2Y", 1.3)}},
				{CurveID: "LOAN-SPREAD", Nodes: []CurveNode{node("1Y", 0.95)}},
			}}},
	}
}

type wantShock struct {
	typ      string
	id       string
	shifts   map[string]float64 // bp
	relative float64
}

func checkScenario(t *testing.T, sc SetScenario, id string, want []wantShock) {
	t.Helper()
	if sc.ScenarioID != id {
		t.Errorf("scenario id %s, want %s", sc.ScenarioID, id)
	}
	if len(sc.Shocks) != len(want) {
		t.Fatalf("%s: %d shocks, want %d", id, len(sc.Shocks), len(want))
	}
	for i, w := range want {
		sh := sc.Shocks[i]
		var ids []string
		if sh.Curves != nil {
			ids = sh.Curves.IDs()
		} else if sh.Pairs != nil {
			ids = sh.Pairs.IDs()
		}
		if sh.Type != w.typ || !slices.Equal(ids, []string{w.id}) {
			t.Errorf("%s shock %d: %s on %v, want %s on [%s]", id, i, sh.Type, ids, w.typ, w.id)
			continue
		}
		if w.typ == ShockFXSpot {
			if sh.Relative == nil || math.Abs(*sh.Relative-w.relative) > 1e-14 {
				t.Errorf("%s %s: relative %v, want %v", id, w.id, sh.Relative, w.relative)
			}
			continue
		}
		if len(sh.ShiftsBP) != len(w.shifts) {
			t.Errorf("%s %s: shifts %v, want %v", id, w.id, sh.ShiftsBP, w.shifts)
		}
		for tenor, bp := range w.shifts {
			got, ok := sh.ShiftsBP[tenor]
			if !ok || math.Abs(got-bp) > 1e-9 {
				t.Errorf("%s %s at %s: %v bp (present %v), want %v", id, w.id, tenor, got, ok, bp)
			}
		}
	}
}

// TestHistoricalSetByHand: changes from S0 to S1 and S1 to S2 (h = 1) and
// S0 to S2 (h = 2), worked by hand:
//
//	S0→S1 USD-OIS at S0's tenors: 1Y 1.00%→1.10% = +10bp; 5Y lies between
//	      S1's 3Y 1.5% and 10Y 2.6%: 1.5 + 1.1·2/7 = 1.8142857…%, so
//	      −18.5714285…bp. LOAN-SPREAD +5bp. EURUSD 1.155/1.1 − 1 = +5%,
//	      GBPUSD 1.2/1.25 − 1 = −4%.
//	S1→S2 at S1's tenors: 1Y lies between S2's 6M 0.9% and 2Y 1.3%:
//	      0.9 + 0.4·0.5/1.5 = 1.0333…%, so −6.666…bp; 3Y and 10Y are beyond
//	      S2's last node (flat 1.3%): −20bp and −130bp. LOAN-SPREAD −10bp.
//	      EURUSD 1.0395/1.155 − 1 = −10%, GBPUSD 0.
//	S0→S2 1Y +3.333…bp, 5Y 1.3 − 2.0 = −70bp; LOAN-SPREAD −5bp;
//	      EURUSD 1.0395/1.1 − 1 = −5.5%, GBPUSD −4%.
func TestHistoricalSetByHand(t *testing.T) {
	t.Parallel()
	snaps := histSnapshots()
	set, err := HistoricalSet(snaps, HistoricalOptions{SetID: "H1", Description: "d"})
	if err != nil {
		t.Fatal(err)
	}
	if set.ScenarioSetID != "H1" || set.Description != "d" || len(set.Scenarios) != 2 {
		t.Fatalf("set = %+v", set)
	}
	checkScenario(t, set.Scenarios[0], "HIST-2026-01-06", []wantShock{
		{typ: ShockCurveTenorShifts, id: "LOAN-SPREAD", shifts: map[string]float64{"1Y": 5}},
		{typ: ShockCurveTenorShifts, id: "USD-OIS", shifts: map[string]float64{"1Y": 10, "5Y": (1.5 + 1.1*2/7 - 2) * 100}},
		{typ: ShockFXSpot, id: "EURUSD", relative: 0.05},
		{typ: ShockFXSpot, id: "GBPUSD", relative: -0.04},
	})
	checkScenario(t, set.Scenarios[1], "HIST-2026-01-08", []wantShock{
		{typ: ShockCurveTenorShifts, id: "LOAN-SPREAD", shifts: map[string]float64{"1Y": -10}},
		{typ: ShockCurveTenorShifts, id: "USD-OIS", shifts: map[string]float64{"1Y": (0.9 + 0.4/3 - 1.1) * 100, "3Y": -20, "10Y": -130}},
		{typ: ShockFXSpot, id: "EURUSD", relative: -0.1},
		{typ: ShockFXSpot, id: "GBPUSD", relative: 0},
	})

	two, err := HistoricalSet(snaps, HistoricalOptions{SetID: "H2", Horizon: 2, Curves: SelectPattern("*-OIS"), Pairs: SelectIDs("EURUSD")})
	if err != nil {
		t.Fatal(err)
	}
	if len(two.Scenarios) != 1 {
		t.Fatalf("h = 2: %d scenarios, want 1", len(two.Scenarios))
	}
	checkScenario(t, two.Scenarios[0], "HIST-2026-01-08", []wantShock{
		{typ: ShockCurveTenorShifts, id: "USD-OIS", shifts: map[string]float64{"1Y": (0.9 + 0.4/3 - 1) * 100, "5Y": -70}},
		{typ: ShockFXSpot, id: "EURUSD", relative: -0.055},
	})
	if probs := two.Validate(); len(probs) > 0 {
		t.Errorf("built set is not valid: %v", probs)
	}
}

// TestHistoricalScenarioReproducesLaterSnapshot: applying HIST-d to the
// earlier snapshot's market gives the later snapshot's rates at the
// earlier snapshot's node tenors, and its spots.
func TestHistoricalScenarioReproducesLaterSnapshot(t *testing.T) {
	t.Parallel()
	snaps := histSnapshots()
	set, err := HistoricalSet(snaps, HistoricalOptions{SetID: "H"})
	if err != nil {
		t.Fatal(err)
	}
	for k, sc := range set.Scenarios {
		a, b := MustMarket(t, snaps[k].Data), MustMarket(t, snaps[k+1].Data)
		if probs := set.Requirements(a); len(probs) > 0 {
			t.Fatalf("Requirements on S%d: %v", k, probs)
		}
		m, err := set.ScenarioMarket(a, sc.ScenarioID)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range snaps[k].Data.Curves {
			for _, n := range c.Nodes {
				tn, _ := ParseTenor(n.Tenor)
				got, _ := m.ZeroRate(c.CurveID, tn)
				want, _ := b.ZeroRate(c.CurveID, tn)
				if math.Abs(got-want) > 1e-15 {
					t.Errorf("%s %s %s: %v, later snapshot %v", sc.ScenarioID, c.CurveID, n.Tenor, got, want)
				}
			}
		}
		for _, p := range b.FXPairs() {
			got, _ := m.FXSpot(p)
			want, _ := b.FXSpot(p)
			if math.Abs(got-want) > 1e-15 {
				t.Errorf("%s %s: %v, later snapshot %v", sc.ScenarioID, p, got, want)
			}
		}
	}
}

func TestHistoricalSetProblems(t *testing.T) {
	t.Parallel()
	snaps := histSnapshots()
	pointers := func(err error) []string {
		t.Helper()
		var he *HistoricalError
		if !errors.As(err, &he) {
			t.Fatalf("err = %v, want a *HistoricalError", err)
		}
		var out []string
		for _, p := range he.Problems {
			out = append(out, p.Pointer+" "+p.Missing)
		}
		return out
	}
	// A selected curve missing from the earlier snapshot, a pattern that
	// matches nothing, a pair missing.
	_, err := HistoricalSet(snaps, HistoricalOptions{SetID: "X", Curves: SelectIDs("USD-OIS", "EUR-OIS"), Pairs: SelectPattern("*JPY*")})
	if got, want := pointers(err), []string{"/curves/1 EUR-OIS", "/pairs *JPY*"}; !slices.Equal(got, want) {
		t.Errorf("problems %q, want %q", got, want)
	}
	// A curve of S1 missing from S2, with the default selection: named
	// once although one scenario lacks it.
	cut := histSnapshots()
	cut[2].Data.Curves = cut[2].Data.Curves[:1]
	cut[2].Data.FXSpots = cut[2].Data.FXSpots[1:]
	_, err = HistoricalSet(cut, HistoricalOptions{SetID: "X"})
	if got, want := pointers(err), []string{"/curves LOAN-SPREAD", "/pairs EURUSD"}; !slices.Equal(got, want) {
		t.Errorf("problems %q, want %q", got, want)
	}
	var he *HistoricalError
	errors.As(err, &he)
	if d := he.Problems[0].Detail; !strings.Contains(d, `"S1"`) || !strings.Contains(d, `"S2"`) {
		t.Errorf("detail %q does not name both snapshots", d)
	}
	// Too few snapshots for the horizon.
	_, err = HistoricalSet(snaps, HistoricalOptions{SetID: "X", Horizon: 3})
	if got := pointers(err); len(got) != 1 || !strings.Contains(err.Error(), "needs at least 4") {
		t.Errorf("horizon 3 of 3 snapshots: %v", err)
	}
	// Options: 400s.
	_, err = HistoricalSet(snaps, HistoricalOptions{SetID: "a/b", Horizon: -1, Curves: SelectIDs(), Pairs: SelectPattern("")})
	if got, want := pointers(err), []string{"/scenario_set_id ", "/horizon_days ", "/curves ", "/pairs "}; !slices.Equal(got, want) {
		t.Errorf("option problems %q, want %q", got, want)
	}
	// Nothing to move.
	empty := histSnapshots()
	for i := range empty {
		empty[i].Data.Curves, empty[i].Data.FXSpots = nil, nil
	}
	if _, err = HistoricalSet(empty, HistoricalOptions{SetID: "X"}); err == nil || !strings.Contains(err.Error(), "move nothing") {
		t.Errorf("snapshots without curves or spots: %v", err)
	}
	// Out of order is a programming error, not a 422.
	rev := histSnapshots()
	rev[0], rev[1] = rev[1], rev[0]
	if _, err = HistoricalSet(rev, HistoricalOptions{SetID: "X"}); err == nil || errors.As(err, &he) {
		t.Errorf("unordered snapshots: %v", err)
	}
}
