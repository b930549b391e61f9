package pricing

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// mustSet decodes a scenario set document or fails the test.
func mustSet(tb testing.TB, doc string) *ScenarioSet {
	tb.Helper()
	s, err := DecodeScenarioSet([]byte(doc))
	if err != nil {
		tb.Fatalf("DecodeScenarioSet: %v", err)
	}
	return s
}

func TestMatchPattern(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		pattern, id string
		want        bool
	}{
		{"*-OIS", "USD-OIS", true},
		{"*-OIS", "-OIS", true},
		{"*-OIS", "USD-OIS-X", false},
		{"*-OIS", "USD-SOFR", false},
		{"USD-*", "USD-OIS", true},
		{"USD-*", "EUR-OIS", false},
		{"*", "", true},
		{"*", "anything", true},
		{"**", "x", true},
		{"U*D*S", "USD-OIS", true},
		{"U*D*S", "USD-OISX", false},
		{"*SD*OI*", "USD-OIS", true},
		{"A*A", "A", false}, // prefix and suffix may not overlap
		{"A*A", "AA", true},
		{"USD-OIS", "USD-OIS", true},
		{"USD-OIS", "USD-OIS2", false},
		{"*USD*", "EURUSD", true},
		{"EUR*USD", "EURUSD", true},
	} {
		if got := matchPattern(c.pattern, c.id); got != c.want {
			t.Errorf("matchPattern(%q, %q) = %v, want %v", c.pattern, c.id, got, c.want)
		}
	}
}

func TestSelectorJSON(t *testing.T) {
	t.Parallel()
	var sh Shock
	mustUnmarshal(t, []byte(`{"type":"CURVE_SHIFT","curves":["USD-OIS","EUR-OIS"],"shift_bp":0}`), &sh)
	if got := sh.Curves.IDs(); !slices.Equal(got, []string{"USD-OIS", "EUR-OIS"}) {
		t.Errorf("IDs = %v", got)
	}
	if _, isPattern := sh.Curves.Pattern(); isPattern {
		t.Error("an array decoded as a pattern")
	}
	if sh.ShiftBP == nil || *sh.ShiftBP != 0 {
		t.Errorf("shift_bp 0 decoded as %v", sh.ShiftBP)
	}
	mustUnmarshal(t, []byte(`{"type":"FX_SPOT","pairs":"*USD","relative":-0.1}`), &sh)
	if p, ok := sh.Pairs.Pattern(); !ok || p != "*USD" {
		t.Errorf("Pattern = %q, %v", p, ok)
	}
	// Other JSON values decode (so that the rest of a document is read) and
	// are reported by Validate at the selector.
	for _, bad := range []string{`3`, `{"a":1}`, `[1,2]`, `true`, `["a",null]`} {
		set := `{"scenario_set_id":"S","scenarios":[{"scenario_id":"X","shocks":[{"type":"CURVE_SHIFT","curves":` + bad + `,"shift_bp":1}]}]}`
		var s ScenarioSet
		if err := json.Unmarshal([]byte(set), &s); err != nil {
			t.Errorf("curves %s: decode error %v", bad, err)
			continue
		}
		probs := s.Validate()
		if len(probs) != 1 || probs[0].Pointer != "/scenarios/0/shocks/0/curves" || !strings.Contains(probs[0].Detail, "expected an array") {
			t.Errorf("curves %s: problems %v", bad, probs)
		}
		if _, err := json.Marshal(s); err == nil {
			t.Errorf("curves %s: an invalid selector encoded", bad)
		}
	}
	// Both forms encode back as they came.
	for _, doc := range []string{
		`{"type":"CURVE_SHIFT","curves":["USD-OIS"],"shift_bp":1}`,
		`{"type":"CURVE_SHIFT","curves":"*-OIS","shift_bp":-2.5}`,
		`{"type":"CURVE_TENOR_SHIFTS","curves":[],"shifts_bp":{"1Y":1}}`,
	} {
		var s Shock
		mustUnmarshal(t, []byte(doc), &s)
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != doc {
			t.Errorf("round trip: %s, want %s", b, doc)
		}
	}
}

func TestScenarioSetValidateReportsEveryProblem(t *testing.T) {
	t.Parallel()
	doc := `{
	  "scenario_set_id": "bad/id",
	  "scenarios": [
	    {"scenario_id": "BASE", "shocks": [{"type": "CURVE_SHIFT", "curves": "*-OIS", "shift_bp": 1}]},
	    {"scenario_id": "S1", "shocks": []},
	    {"scenario_id": "S1", "shocks": [
	      {"type": "CURVE_TWIST", "curves": "*"},
	      {"curves": "*"},
	      {"type": "CURVE_SHIFT", "curves": "", "relative": 0.1},
	      {"type": "CURVE_TENOR_SHIFTS", "curves": [], "shifts_bp": {"2Y": 1, "24M": 2, "1Q": 3, "a/b": 4}},
	      {"type": "CURVE_TENOR_SHIFTS", "curves": ["USD-OIS", "", "USD-OIS"], "shifts_bp": {}},
	      {"type": "FX_SPOT", "pairs": ["EURUSD"], "relative": -1},
	      {"type": "FX_SPOT", "pairs": "EURUSD", "relative": -1.5, "shift_bp": 3},
	      {"type": "FX_SPOT"}
	    ]},
	    {"scenario_id": " padded", "shocks": [{"type": "FX_SPOT", "pairs": "*", "relative": 0.5}]},
	    {"scenario_id": "", "shocks": [{"type": "FX_SPOT", "pairs": "*", "relative": -0.999}]}
	  ]
	}`
	var s ScenarioSet
	mustUnmarshal(t, []byte(doc), &s)
	got := s.Validate()
	want := []string{
		"/scenario_set_id",
		"/scenarios/0/scenario_id",
		"/scenarios/1/shocks",
		"/scenarios/2/scenario_id",
		"/scenarios/2/shocks/0/type",
		"/scenarios/2/shocks/1/type",
		"/scenarios/2/shocks/2/shift_bp",
		"/scenarios/2/shocks/2/relative",
		"/scenarios/2/shocks/2/curves",
		"/scenarios/2/shocks/3/curves",
		"/scenarios/2/shocks/3/shifts_bp/1Q",
		"/scenarios/2/shocks/3/shifts_bp/2Y",
		"/scenarios/2/shocks/3/shifts_bp/a~1b",
		"/scenarios/2/shocks/4/curves/1",
		"/scenarios/2/shocks/4/curves/2",
		"/scenarios/2/shocks/4/shifts_bp",
		"/scenarios/2/shocks/5/relative",
		"/scenarios/2/shocks/6/shift_bp",
		"/scenarios/2/shocks/6/relative",
		"/scenarios/2/shocks/7/pairs",
		"/scenarios/2/shocks/7/relative",
		"/scenarios/3/scenario_id",
		"/scenarios/4/scenario_id",
	}
	var ptrs []string
	for _, p := range got {
		ptrs = append(ptrs, p.Pointer)
	}
	if !slices.Equal(ptrs, want) {
		t.Errorf("pointers:\n got  %q\n want %q", ptrs, want)
		for _, p := range got {
			t.Logf("%s: %s", p.Pointer, p.Detail)
		}
	}
	detail := func(ptr string) string {
		for _, p := range got {
			if p.Pointer == ptr {
				return p.Detail
			}
		}
		return ""
	}
	for ptr, words := range map[string]string{
		"/scenarios/0/scenario_id":           "built-in",
		"/scenarios/2/scenario_id":           "twice",
		"/scenarios/2/shocks/0/type":         "CURVE_TWIST",
		"/scenarios/2/shocks/2/relative":     "does not apply",
		"/scenarios/2/shocks/3/shifts_bp/2Y": "same point",
		"/scenarios/2/shocks/4/curves/2":     "listed twice",
		"/scenarios/2/shocks/5/relative":     "above -1",
		"/scenarios/2/shocks/7/pairs":        "required",
	} {
		if !strings.Contains(detail(ptr), words) {
			t.Errorf("%s: detail %q does not say %q", ptr, detail(ptr), words)
		}
	}
	if _, err := DecodeScenarioSet([]byte(doc)); err == nil {
		t.Error("DecodeScenarioSet accepted an invalid set")
	}
	if _, err := DecodeScenarioSet([]byte(`{"scenario_set_id":"S","scenarios":[],"extra":1}`)); err == nil {
		t.Error("DecodeScenarioSet accepted an unknown member")
	}
	// Non-finite numbers, which only a set built in Go can hold.
	inf, nan := math.Inf(1), math.NaN()
	built := &ScenarioSet{ScenarioSetID: "G", Scenarios: []SetScenario{{ScenarioID: "X", Shocks: []Shock{
		{Type: ShockCurveShift, Curves: SelectPattern("*"), ShiftBP: &nan},
		{Type: ShockCurveTenorShifts, Curves: SelectIDs("USD-OIS"), ShiftsBP: map[string]float64{"1Y": inf}},
		{Type: ShockFXSpot, Pairs: SelectIDs("EURUSD"), Relative: &inf},
	}}}}
	ptrs = nil
	for _, p := range built.Validate() {
		ptrs = append(ptrs, p.Pointer)
	}
	if want := []string{"/scenarios/0/shocks/0/shift_bp", "/scenarios/0/shocks/1/shifts_bp/1Y", "/scenarios/0/shocks/2/relative"}; !slices.Equal(ptrs, want) {
		t.Errorf("non-finite: %q, want %q", ptrs, want)
	}
}

// twoNodeMarket has USD-OIS with nodes 1Y 1% and 3Y 3% (r(t) = t% between
// them), EUR-OIS flat 2%, LOAN-SPREAD flat 1% and two spots.
func twoNodeMarket(tb testing.TB) *Market {
	return MustMarket(tb, MarketData{
		SnapshotID: "TWO",
		AsOfTime:   asOf0,
		FXSpots:    []FXSpot{{Pair: "EURUSD", Spot: 1.1}, {Pair: "GBPUSD", Spot: 1.25}},
		Curves: []CurveData{
			{CurveID: "USD-OIS", Nodes: []CurveNode{{Tenor: "1Y", ZeroRate: 0.01}, {Tenor: "3Y", ZeroRate: 0.03}}},
			flatCurve("EUR-OIS", 0.02), flatCurve("LOAN-SPREAD", 0.01),
		},
	})
}

func TestScenarioSetMarkets(t *testing.T) {
	t.Parallel()
	m := twoNodeMarket(t)
	set := mustSet(t, `{"scenario_set_id": "S", "scenarios": [
	  {"scenario_id": "PAR", "shocks": [{"type": "CURVE_SHIFT", "curves": "*-OIS", "shift_bp": 10}]},
	  {"scenario_id": "TWIST", "shocks": [{"type": "CURVE_TENOR_SHIFTS", "curves": ["USD-OIS"], "shifts_bp": {"4Y": 30, "2Y": 10}}]},
	  {"scenario_id": "FX", "shocks": [
	    {"type": "FX_SPOT", "pairs": "EURUSD", "relative": 0.1},
	    {"type": "FX_SPOT", "pairs": ["EURUSD", "GBPUSD"], "relative": -0.5}
	  ]},
	  {"scenario_id": "MIX", "shocks": [
	    {"type": "CURVE_TENOR_SHIFTS", "curves": "USD-*", "shifts_bp": {"1Y": -20}},
	    {"type": "CURVE_SHIFT", "curves": ["USD-OIS", "LOAN-SPREAD"], "shift_bp": 5}
	  ]}
	]}`)
	if got := set.ScenarioIDs(); !slices.Equal(got, []string{"PAR", "TWIST", "FX", "MIX"}) {
		t.Fatalf("ScenarioIDs = %v", got)
	}
	if probs := set.Requirements(m); len(probs) != 0 {
		t.Fatalf("Requirements = %v", probs)
	}
	market := func(id string) *Market {
		sm, err := set.ScenarioMarket(m, id)
		if err != nil {
			t.Fatalf("ScenarioMarket(%s): %v", id, err)
		}
		return sm
	}
	rate := func(m *Market, id string, t0 float64) float64 {
		r, ok := m.ZeroRate(id, t0)
		if !ok {
			t.Fatalf("no curve %s", id)
		}
		return r
	}
	spot := func(m *Market, p string) float64 {
		s, _ := m.FXSpot(p)
		return s
	}
	type pt struct{ t, want float64 }
	check := func(name string, sm *Market, curve string, pts []pt) {
		t.Helper()
		for _, p := range pts {
			if got := rate(sm, curve, p.t); math.Abs(got-p.want) > 1e-15 {
				t.Errorf("%s: %s r(%v) = %.17g, want %.17g", name, curve, p.t, got, p.want)
			}
		}
	}
	// PAR: +10bp everywhere on both -OIS curves; the spread curve untouched.
	par := market("PAR")
	check("PAR", par, "USD-OIS", []pt{{0.5, 0.011}, {2, 0.021}, {3, 0.031}, {10, 0.031}})
	check("PAR", par, "EUR-OIS", []pt{{0.1, 0.021}, {30, 0.021}})
	check("PAR", par, "LOAN-SPREAD", []pt{{2, 0.01}})
	// TWIST: 10bp at 2Y and 30bp at 4Y, linear between and flat beyond,
	// added to r(t) at every t (at 2Y, which is not a node of the curve,
	// the shift is exactly 10bp: it is not resampled at the nodes 1Y, 3Y).
	check("TWIST", market("TWIST"), "USD-OIS", []pt{{0.5, 0.01 + 0.001}, {1, 0.01 + 0.001}, {2, 0.02 + 0.001}, {2.5, 0.025 + 0.0015}, {3, 0.03 + 0.002}, {5, 0.03 + 0.003}})
	check("TWIST", market("TWIST"), "EUR-OIS", []pt{{2, 0.02}})
	// FX: EURUSD × 1.1 then × 0.5; GBPUSD × 0.5.
	fx := market("FX")
	if got, want := spot(fx, "EURUSD"), 1.1*1.1*0.5; math.Abs(got-want) > 1e-15 {
		t.Errorf("FX EURUSD = %v, want %v", got, want)
	}
	if got := spot(fx, "GBPUSD"); got != 0.625 {
		t.Errorf("FX GBPUSD = %v, want 0.625", got)
	}
	check("FX", fx, "USD-OIS", []pt{{2, 0.02}})
	// MIX: USD-OIS −20bp flat (one-point shift) then +5bp; LOAN-SPREAD +5bp.
	mix := market("MIX")
	check("MIX", mix, "USD-OIS", []pt{{0.5, 0.01 - 0.0015}, {2, 0.02 - 0.0015}, {7, 0.03 - 0.0015}})
	check("MIX", mix, "LOAN-SPREAD", []pt{{4, 0.0105}})
	check("MIX", mix, "EUR-OIS", []pt{{4, 0.02}})
	// The base market is untouched.
	check("base", m, "USD-OIS", []pt{{2, 0.02}})
	if spot(m, "EURUSD") != 1.1 || spot(m, "GBPUSD") != 1.25 {
		t.Error("a scenario changed the base market's spots")
	}
	if _, err := set.ScenarioMarket(m, "NOPE"); err == nil {
		t.Error("ScenarioMarket accepted an unknown scenario id")
	}
}

func TestScenarioSetRequirements(t *testing.T) {
	t.Parallel()
	m := twoNodeMarket(t)
	set := mustSet(t, `{"scenario_set_id": "REQ", "scenarios": [
	  {"scenario_id": "A", "shocks": [
	    {"type": "CURVE_SHIFT", "curves": ["USD-OIS", "GBP-OIS"], "shift_bp": 1},
	    {"type": "CURVE_SHIFT", "curves": "*-SPREAD", "shift_bp": 1},
	    {"type": "CURVE_TENOR_SHIFTS", "curves": "*-SOFR", "shifts_bp": {"1Y": 1}},
	    {"type": "FX_SPOT", "pairs": "JPYUSD", "relative": 0.1}
	  ]},
	  {"scenario_id": "B", "shocks": [
	    {"type": "CURVE_SHIFT", "curves": ["GBP-OIS"], "shift_bp": 1},
	    {"type": "FX_SPOT", "pairs": "*CHF*", "relative": 0.1},
	    {"type": "FX_SPOT", "pairs": "*", "relative": 0.1}
	  ]}
	]}`)
	got := set.Requirements(m)
	type row struct{ ptr, missing, word string }
	want := []row{
		{"/scenarios/0/shocks/0/curves/1", "GBP-OIS", "named by 2 shocks"},
		{"/scenarios/0/shocks/2/curves", "*-SOFR", "matches no curve"},
		{"/scenarios/0/shocks/3/pairs", "JPYUSD", "FX pair JPYUSD is not in market snapshot"},
		{"/scenarios/1/shocks/1/pairs", "*CHF*", "matches no FX pair"},
	}
	if len(got) != len(want) {
		t.Fatalf("Requirements = %+v, want %d problems", got, len(want))
	}
	for i, w := range want {
		if got[i].Pointer != w.ptr || got[i].Missing != w.missing || !strings.Contains(got[i].Detail, w.word) {
			t.Errorf("problem %d = %+v, want %+v", i, got[i], w)
		}
	}
	if _, err := set.ScenarioMarket(m, "A"); err == nil || !strings.Contains(err.Error(), "GBP-OIS") {
		t.Errorf("ScenarioMarket(A) on a market without GBP-OIS: %v", err)
	}
	if _, err := NewEngine(m, []string{"BASE", "B"}, []Measure{PV}, asOf0, WithScenarioSets(set)); err == nil {
		t.Error("NewEngine built a scenario whose curve the market lacks")
	}
}

// TestSetShiftReproducesBuiltInScenarios: a set scenario of one CURVE_SHIFT
// of +1bp on "*-OIS" gives, bit for bit, every measure RATES_PARALLEL_1BP
// gives, for loans (explicit and by terms), bonds and FX forwards; so do
// +25bp on "*-SPREAD" (SPREAD_25BP) and FX_SPOT +1% on "*" (FX_SPOT_1PCT,
// since 1 + 0.01 rounds to the double nearest 1.01).
func TestSetShiftReproducesBuiltInScenarios(t *testing.T) {
	t.Parallel()
	set := mustSet(t, `{"scenario_set_id": "SAME", "scenarios": [
	  {"scenario_id": "MY_1BP", "shocks": [{"type": "CURVE_SHIFT", "curves": "*-OIS", "shift_bp": 1}]},
	  {"scenario_id": "MY_SPREAD", "shocks": [{"type": "CURVE_SHIFT", "curves": "*-SPREAD", "shift_bp": 25}]},
	  {"scenario_id": "MY_FX", "shocks": [{"type": "FX_SPOT", "pairs": "*", "relative": 0.01}]}
	]}`)
	pairs := map[string]string{"MY_1BP": "RATES_PARALLEL_1BP", "MY_SPREAD": "SPREAD_25BP", "MY_FX": "FX_SPOT_1PCT"}
	rng := rand.New(rand.NewPCG(7, 11))
	for trial := range 5 {
		m := MustMarket(t, randomMarketData(rng))
		book := randomBook(t, rng, 200)
		ids := append(ScenarioIDs(), "MY_1BP", "MY_FX", "MY_SPREAD")
		e, err := NewEngine(m, ids, Measures(), asOf0, WithScenarioSets(set))
		if err != nil {
			t.Fatal(err)
		}
		products := map[string]int{}
		for _, p := range book {
			for mine, builtIn := range pairs {
				a, b := MustPrice(t, e, p, mine), MustPrice(t, e, p, builtIn)
				if a.Len() == 0 {
					t.Fatalf("%s: no measures", p.ID)
				}
				for _, x := range Measures() {
					va, oka := a.Get(x)
					vb, okb := b.Get(x)
					if oka != okb || math.Float64bits(va) != math.Float64bits(vb) {
						t.Errorf("trial %d %s %s: %s = %v (%v), %s = %v (%v)", trial, p.ID, x, mine, va, oka, builtIn, vb, okb)
					}
				}
			}
			products[p.ProductType]++
		}
		if len(products) != 3 {
			t.Fatalf("book covers %v, want loans, bonds and FX forwards", products)
		}
	}
}

// TestSetScenarioPricesByHand prices a bond and an FX forward under set
// scenarios against closed forms worked by hand.
func TestSetScenarioPricesByHand(t *testing.T) {
	t.Parallel()
	// USD-OIS 4%, EUR-OIS 3%, FI-SPREAD 2%; EURUSD 1.1.
	m := MustMarket(t, flatMarketData(0.04, 0.02, 0.03))
	set := mustSet(t, `{"scenario_set_id": "HAND", "scenarios": [
	  {"scenario_id": "TWIST", "shocks": [{"type": "CURVE_TENOR_SHIFTS", "curves": ["USD-OIS"], "shifts_bp": {"1Y": 10, "3Y": 30}}]},
	  {"scenario_id": "EUR_DOWN", "shocks": [
	    {"type": "FX_SPOT", "pairs": ["EURUSD"], "relative": -0.2},
	    {"type": "CURVE_SHIFT", "curves": "EUR-OIS", "shift_bp": -50}
	  ]}
	]}`)
	e, err := NewEngine(m, []string{"BASE", "TWIST", "EUR_DOWN"}, Measures(), asOf0, WithScenarioSets(set))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(e.Scenarios(), ","); got != "BASE,TWIST,EUR_DOWN" {
		t.Errorf("Scenarios = %s", got)
	}
	// A zero-coupon bond paying 1000 on 2028-01-23, 730 days away: t = 2,
	// where the twist adds 20bp to USD-OIS.
	bond := MustPosition(t, "B", "FIXED_BOND", nil, map[string]any{
		"as_of_date": "2026-01-23", "cashflows": []any{map[string]any{"pay_date": "2028-01-23", "amount": 1000.0}},
	})
	pv := func(r, s float64) float64 { return 1000 * math.Exp(-r*2) * math.Exp(-s*2) }
	v := MustPrice(t, e, bond, "TWIST")
	assertClose(t, "TWIST PV", mustGet(t, v, PV), pv(0.042, 0.02), 1e-13)
	// Every measure under a scenario is on the scenario's market: DV01 is
	// +1bp on top of the twist.
	assertClose(t, "TWIST DV01", mustGet(t, v, DV01), pv(0.0421, 0.02)-pv(0.042, 0.02), 1e-9)
	assertClose(t, "TWIST CS01", mustGet(t, v, CS01), pv(0.042, 0.0201)-pv(0.042, 0.02), 1e-9)
	// An FX forward on EURUSD, 1y: spot 1.1 × 0.8, EUR-OIS 3% − 50bp.
	fx := MustPosition(t, "F", "FX_FWD", nil, fxAttrs("EURUSD", "2027-01-23", 1e6, 1.12))
	w := MustPrice(t, e, fx, "EUR_DOWN")
	assertClose(t, "EUR_DOWN PV", mustGet(t, w, PV), 1e6*(1.1*0.8*math.Exp(-0.025)-1.12*math.Exp(-0.04)), 1e-12)
	assertClose(t, "EUR_DOWN FX_DELTA", mustGet(t, w, FXDelta), 1e6*math.Exp(-0.025), 1e-13)
	// BASE is untouched by the sets.
	assertClose(t, "BASE PV", mustGet(t, MustPrice(t, e, bond, "BASE"), PV), pv(0.04, 0.02), 1e-13)
}

func TestWithScenarioSetsRejects(t *testing.T) {
	t.Parallel()
	m := MustMarket(t, flatMarketData(0.04, 0.02, 0.03))
	a := mustSet(t, `{"scenario_set_id": "A", "scenarios": [{"scenario_id": "X", "shocks": [{"type": "CURVE_SHIFT", "curves": "*", "shift_bp": 1}]}]}`)
	b := mustSet(t, `{"scenario_set_id": "B", "scenarios": [{"scenario_id": "X", "shocks": [{"type": "CURVE_SHIFT", "curves": "*", "shift_bp": 2}]}]}`)
	invalid := &ScenarioSet{ScenarioSetID: "C"}
	for name, c := range map[string]struct {
		ids  []string
		opts []EngineOption
		want string
	}{
		"same id in two sets": {[]string{"X"}, []EngineOption{WithScenarioSets(a, b)}, "in scenario sets"},
		"invalid set":         {[]string{"BASE"}, []EngineOption{WithScenarioSets(invalid)}, "at least one scenario"},
		"unknown id":          {[]string{"BASE", "Y"}, []EngineOption{WithScenarioSets(a)}, "unknown scenario \"Y\""},
		"set id without set":  {[]string{"X"}, nil, "unknown scenario \"X\""},
		"twice":               {[]string{"X", "X"}, []EngineOption{WithScenarioSets(a)}, "twice"},
	} {
		if _, err := NewEngine(m, c.ids, []Measure{PV}, asOf0, c.opts...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want mention of %q", name, err, c.want)
		}
	}
	// Two options add up.
	if _, err := NewEngine(m, []string{"X", "BASE"}, []Measure{PV}, asOf0, WithScenarioSets(a), WithScenarioSets()); err != nil {
		t.Errorf("NewEngine: %v", err)
	}
}
