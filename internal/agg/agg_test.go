package agg

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/iprs/iprs/internal/pricing"
)

func pv(x float64) pricing.Values {
	var v pricing.Values
	v.Set(pricing.PV, x)
	return v
}

func value(t *testing.T, tab *Table, key string, s int, m pricing.Measure) any {
	t.Helper()
	g := tab.Group(key)
	if g == nil {
		t.Fatalf("no group %q", key)
	}
	v, ok, err := tab.Cell(g, s, m).Value(m)
	if err != nil || !ok {
		t.Fatalf("Value(%s) = %v, %v, %v", m, v, ok, err)
	}
	return v
}

// TestSumIsExactAcrossMerges: 1e100 + 1 − 1e100 is 1, though a float64
// running sum gives 0, whichever table each position went to.
func TestSumIsExactAcrossMerges(t *testing.T) {
	all := New([]string{"BASE"}, []pricing.Measure{pricing.PV}, false)
	parts := []*Table{New([]string{"BASE"}, []pricing.Measure{pricing.PV}, false), New([]string{"BASE"}, []pricing.Measure{pricing.PV}, false)}
	for i, x := range []float64{1e100, 1, -1e100} {
		all.Add("k", []pricing.Values{pv(x)}, nil)
		parts[i%2].Add("k", []pricing.Values{pv(x)}, nil)
	}
	if got := value(t, all, "k", 0, pricing.PV); got != 1.0 {
		t.Errorf("sum = %v, want 1", got)
	}
	// Through the binary form, as the store keeps task partials.
	merged := New([]string{"BASE"}, []pricing.Measure{pricing.PV}, false)
	for _, p := range parts {
		d, err := Decode(p.AppendBinary(nil))
		if err != nil {
			t.Fatal(err)
		}
		if err := merged.Merge(d); err != nil {
			t.Fatal(err)
		}
	}
	if got := value(t, merged, "k", 0, pricing.PV); got != 1.0 {
		t.Errorf("merged sum = %v, want 1", got)
	}
	if g := merged.Group("k"); g.Positions != 3 || merged.Cell(g, 0, pricing.PV).Count() != 3 {
		t.Errorf("counts = %d positions, %d with PV; want 3, 3", g.Positions, merged.Cell(g, 0, pricing.PV).Count())
	}
}

// TestAggregationsFollowTheMeasureDeclarations checks each kind against
// figures worked by hand.
func TestAggregationsFollowTheMeasureDeclarations(t *testing.T) {
	ms := []pricing.Measure{pricing.PV, pricing.FXDelta, pricing.WAL, pricing.KR01}
	tab := New([]string{"BASE"}, ms, false)
	var a, b, c pricing.Values
	a.Set(pricing.PV, 10)
	a.SetWAL(2, 100)
	a.SetFXDelta(10, "EUR")
	a.AddKR01("USD-OIS", [pricing.NumKeyRates]float64{0: 1, 10: -2})
	b.Set(pricing.PV, 5)
	b.SetWAL(4, 300)
	b.SetFXDelta(5, "GBP")
	b.AddKR01("USD-OIS", [pricing.NumKeyRates]float64{0: 0.5})
	b.AddKR01("EUR-OIS", [pricing.NumKeyRates]float64{3: 7}) // index 3 is 2Y
	c.SetFXDelta(-3, "EUR")                                  // an FX forward: no WAL, no KR01 here
	for _, v := range []pricing.Values{a, b, c} {
		tab.Add("g", []pricing.Values{v}, nil)
	}
	if got := value(t, tab, "g", 0, pricing.WAL); got != 3.5 { // (2·100 + 4·300) / 400
		t.Errorf("WAL = %v, want 3.5", got)
	}
	if got := value(t, tab, "g", 0, pricing.FXDelta); !reflect.DeepEqual(got, map[string]float64{"EUR": 7, "GBP": 5}) {
		t.Errorf("FX_DELTA = %v, want EUR 7, GBP 5", got)
	}
	lad := value(t, tab, "g", 0, pricing.KR01).(Ladders)
	if len(lad) != 2 || lad[0].Curve != "EUR-OIS" || lad[0].DV01[3] != 7 || lad[1].Curve != "USD-OIS" || lad[1].DV01[0] != 1.5 || lad[1].DV01[10] != -2 {
		t.Errorf("KR01 = %+v", lad)
	}
	js, err := json.Marshal(lad)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"EUR-OIS":{"3M":0,"6M":0,"1Y":0,"2Y":7,"3Y":0,"5Y":0,"7Y":0,"10Y":0,"15Y":0,"20Y":0,"30Y":0},` +
		`"USD-OIS":{"3M":1.5,"6M":0,"1Y":0,"2Y":0,"3Y":0,"5Y":0,"7Y":0,"10Y":0,"15Y":0,"20Y":0,"30Y":-2}}`
	if string(js) != want {
		t.Errorf("KR01 JSON = %s\nwant %s", js, want)
	}
	if got := tab.Cell(tab.Group("g"), 0, pricing.WAL).Count(); got != 2 {
		t.Errorf("WAL count = %d, want 2 (the FX forward has none)", got)
	}
	// A measure no position has is absent.
	empty := New([]string{"BASE"}, []pricing.Measure{pricing.WAL}, false)
	empty.Add("g", []pricing.Values{pv(1)}, nil)
	if v, ok, err := empty.Cell(empty.Group("g"), 0, pricing.WAL).Value(pricing.WAL); ok || err != nil {
		t.Errorf("WAL of a group without loans = %v, %v, %v; want absent", v, ok, err)
	}
}

// TestPnLSubtractsPerPositionInFloat64: SPEC §4.4 takes each position's
// PV(scenario) − PV(BASE) in float64, then sums exactly. With PVs 1e16
// and 1e16 + 2 the difference is 2; 1 and 1.5 give 0.5: P&L 2.5.
func TestPnLSubtractsPerPositionInFloat64(t *testing.T) {
	tab := New([]string{"BASE", "UP"}, []pricing.Measure{pricing.PV}, true)
	for _, p := range [][2]float64{{1e16, 1e16 + 2}, {1, 1.5}} {
		base := pv(p[0])
		tab.Add("g", []pricing.Values{base, pv(p[1])}, &base)
	}
	g := tab.Group("g")
	if got := g.PnL(1).Sum(); got != 2.5 {
		t.Errorf("P&L(UP) = %v, want 2.5", got)
	}
	if got := g.PnL(0).Sum(); got != 0 {
		t.Errorf("P&L(BASE) = %v, want 0", got)
	}
}

// TestMergeOfRandomSplitsIsBitIdentical splits random positions over
// random tables and checks every figure against one pass.
func TestMergeOfRandomSplitsIsBitIdentical(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	scen := []string{"BASE", "S1", "S2"}
	ms := []pricing.Measure{pricing.PV, pricing.DV01, pricing.WAL, pricing.FXDelta}
	one := New(scen, ms, true)
	parts := make([]*Table, 7)
	for i := range parts {
		parts[i] = New(scen, ms, true)
	}
	for i := range 2000 {
		vals := make([]pricing.Values, len(scen))
		for s := range vals {
			vals[s].Set(pricing.PV, (rng.Float64()-0.5)*math.Pow(10, float64(rng.IntN(30))))
			vals[s].Set(pricing.DV01, rng.NormFloat64())
			if i%3 == 0 {
				vals[s].SetWAL(rng.Float64()*30, rng.Float64()*1e6)
			} else {
				vals[s].SetFXDelta(rng.NormFloat64()*1e6, []string{"EUR", "GBP", "JPY"}[i%3])
			}
		}
		key := []string{"A", "B", NA}[rng.IntN(3)]
		one.Add(key, vals, &vals[0])
		parts[rng.IntN(len(parts))].Add(key, vals, &vals[0])
	}
	merged := New(scen, ms, true)
	for i := len(parts) - 1; i >= 0; i-- {
		d, err := Decode(parts[i].AppendBinary(nil))
		if err != nil {
			t.Fatal(err)
		}
		if err := merged.Merge(d); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(one.Keys(), merged.Keys()) {
		t.Fatalf("keys %v vs %v", one.Keys(), merged.Keys())
	}
	for _, k := range one.Keys() {
		for s := range scen {
			for _, m := range ms {
				a, _, _ := one.Cell(one.Group(k), s, m).Value(m)
				b, _, _ := merged.Cell(merged.Group(k), s, m).Value(m)
				if !reflect.DeepEqual(a, b) {
					t.Errorf("%s %s %s: one pass %v, merged %v", k, scen[s], m, a, b)
				}
			}
			if a, b := one.Group(k).PnL(s).Sum(), merged.Group(k).PnL(s).Sum(); math.Float64bits(a) != math.Float64bits(b) {
				t.Errorf("%s P&L %s: %v vs %v", k, scen[s], a, b)
			}
		}
	}
	if err := merged.Merge(New(scen[:2], ms, true)); err == nil {
		t.Error("merging tables of other scenarios succeeded")
	}
}

func TestOverflowIsAnErrorNotInfinity(t *testing.T) {
	tab := New([]string{"BASE"}, []pricing.Measure{pricing.PV}, false)
	tab.Add("g", []pricing.Values{pv(math.MaxFloat64)}, nil)
	tab.Add("g", []pricing.Values{pv(math.MaxFloat64)}, nil)
	if _, _, err := tab.Cell(tab.Group("g"), 0, pricing.PV).Value(pricing.PV); !errors.Is(err, ErrNotFinite) {
		t.Errorf("Value of an overflowing sum: %v, want ErrNotFinite", err)
	}
}

func FuzzDecode(f *testing.F) {
	tab := New([]string{"BASE", "UP"}, []pricing.Measure{pricing.PV, pricing.FXDelta}, true)
	var v pricing.Values
	v.SetFXDelta(3, "EUR")
	tab.Add("k", []pricing.Values{v, pv(2)}, &v)
	f.Add(tab.AppendBinary(nil))
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Decode(b)
		if err != nil {
			return
		}
		if _, err := Decode(d.AppendBinary(nil)); err != nil {
			t.Fatalf("a decoded table does not re-decode: %v", err)
		}
	})
}

// TestAddAllocatesNothingOnceWarm: the worker adds every position's values
// to its task tables; once a group and its accumulators exist, adding a
// position of scalar measures allocates nothing.
func TestAddAllocatesNothingOnceWarm(t *testing.T) {
	tab := New([]string{"BASE", "UP"}, []pricing.Measure{pricing.PV, pricing.DV01, pricing.WAL}, true)
	vals := make([]pricing.Values, 2)
	for i := range vals {
		vals[i].Set(pricing.PV, 100)
		vals[i].Set(pricing.DV01, -0.5)
		vals[i].SetWAL(2.5, 1000)
	}
	for range 10 {
		tab.Add("g", vals, &vals[0])
	}
	if n := testing.AllocsPerRun(100, func() { tab.Add("g", vals, &vals[0]) }); n != 0 {
		t.Errorf("Add allocates %v times per position", n)
	}
}

// TestKeyedAndLadderCellsRoundTrip encodes a table with per-currency
// FX_DELTA and KR01 ladders on two curves, decodes it, and reads the sums
// back: each is the hand sum of the two positions' figures (exact in
// binary), and the decoded table encodes to the same bytes.
func TestKeyedAndLadderCellsRoundTrip(t *testing.T) {
	ms := []pricing.Measure{pricing.FXDelta, pricing.KR01}
	tab := New([]string{"BASE"}, ms, false)
	ladder := func(scale float64) (l [pricing.NumKeyRates]float64) {
		for j := range l {
			l[j] = scale * float64(j+1)
		}
		return l
	}
	for i, p := range []struct {
		ccy   string
		fx    float64
		scale float64
	}{{"EUR", 1.5, 0.25}, {"GBP", -4, 2}} {
		var v pricing.Values
		v.SetFXDelta(p.fx, p.ccy)
		if !v.AddKR01("USD-SOFR", ladder(p.scale)) || !v.AddKR01("EUR-ESTR", ladder(float64(i+1))) {
			t.Fatal("AddKR01 refused a ladder")
		}
		vals := []pricing.Values{v}
		tab.Add("A", vals, &vals[0])
	}
	enc := tab.AppendBinary(nil)
	d, err := Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.AppendBinary(nil); !reflect.DeepEqual(got, enc) {
		t.Error("a decoded table encodes to other bytes")
	}
	if got, want := value(t, d, "A", 0, pricing.FXDelta), map[string]float64{"EUR": 1.5, "GBP": -4}; !reflect.DeepEqual(got, want) {
		t.Errorf("FX_DELTA = %v, want %v", got, want)
	}
	ladders, _ := value(t, d, "A", 0, pricing.KR01).(Ladders)
	if len(ladders) != 2 || ladders[0].Curve != "EUR-ESTR" || ladders[1].Curve != "USD-SOFR" {
		t.Fatalf("KR01 ladders %v, want EUR-ESTR and USD-SOFR", ladders)
	}
	for j := range pricing.NumKeyRates {
		// EUR-ESTR: (1 + 2)·(j+1); USD-SOFR: (0.25 + 2)·(j+1).
		if got, want := ladders[0].DV01[j], 3*float64(j+1); got != want {
			t.Errorf("EUR-ESTR tenor %d: %v, want %v", j, got, want)
		}
		if got, want := ladders[1].DV01[j], 2.25*float64(j+1); got != want {
			t.Errorf("USD-SOFR tenor %d: %v, want %v", j, got, want)
		}
	}
}

// TestAddFromColumns: AddSums and AddPnL, fed the numbers alone, give the
// figures worked by hand and the same aggregates as Add over the Values.
func TestAddFromColumns(t *testing.T) {
	scen := []string{"BASE", "UP"}
	// By hand: the P&L of UP over positions with PV (BASE, UP) of
	// (0, 1e100), (0, 1), (0, −1e100) and (5, absent) is 1 exactly over 3
	// terms (a float64 running sum gives 0); a position without a BASE PV
	// adds nothing.
	pnl := New(scen, nil, true)
	pnl.AddPnL("k", []float64{0, 1e100}, []bool{true, true}, 0, true)
	pnl.AddPnL("k", []float64{0, 1}, []bool{true, true}, 0, true)
	pnl.AddPnL("k", []float64{0, -1e100}, []bool{true, true}, 0, true)
	pnl.AddPnL("k", []float64{5, 0}, []bool{true, false}, 5, true)
	pnl.AddPnL("k", []float64{7, 8}, []bool{true, true}, 0, false)
	g := pnl.Group("k")
	if g.Positions != 5 || g.PnL(0).Sum() != 0 || g.PnL(1).Sum() != 1 || g.PnL(1).Count() != 3 {
		t.Errorf("P&L: %d positions, BASE %v, UP %v over %d; want 5, 0, 1 over 3",
			g.Positions, g.PnL(0).Sum(), g.PnL(1).Sum(), g.PnL(1).Count())
	}

	// Against Add on random positions, some without a measure.
	r := rand.New(rand.NewPCG(7, 8))
	ms := []pricing.Measure{pricing.PV, pricing.DV01}
	viaAdd, viaSums := New(scen, ms, false), New(scen, ms, false)
	pnlAdd, pnlCols := New(scen, nil, true), New(scen, nil, true)
	for i := range 2000 {
		key := []string{"a", "b", "c"}[i%3]
		vals := make([]pricing.Values, len(scen))
		x := make([]float64, len(scen)*len(ms))
		has := make([]bool, len(x))
		pvs, pvHas := make([]float64, len(scen)), make([]bool, len(scen))
		for s := range scen {
			for j, m := range ms {
				if r.IntN(5) == 0 {
					continue
				}
				v := (r.Float64() - 0.5) * math.Pow(10, float64(r.IntN(12)))
				vals[s].Set(m, v)
				x[s*len(ms)+j], has[s*len(ms)+j] = v, true
				if m == pricing.PV {
					pvs[s], pvHas[s] = v, true
				}
			}
		}
		viaAdd.Add(key, vals, nil)
		viaSums.AddSums(key, x, has)
		pnlAdd.Add(key, vals, &vals[0])
		pnlCols.AddPnL(key, pvs, pvHas, pvs[0], pvHas[0])
	}
	for _, key := range viaAdd.Keys() {
		a, b := viaAdd.Group(key), viaSums.Group(key)
		if a.Positions != b.Positions {
			t.Errorf("%s: %d positions, AddSums %d", key, a.Positions, b.Positions)
		}
		for s := range scen {
			for _, m := range ms {
				ca, cb := viaAdd.Cell(a, s, m), viaSums.Cell(b, s, m)
				va, _, _ := ca.Value(m)
				vb, _, _ := cb.Value(m)
				if va != vb || ca.Count() != cb.Count() {
					t.Errorf("%s %s %s: Add %v (%d), AddSums %v (%d)", key, scen[s], m, va, ca.Count(), vb, cb.Count())
				}
			}
			pa, pb := pnlAdd.Group(key).PnL(s), pnlCols.Group(key).PnL(s)
			if math.Float64bits(pa.Sum()) != math.Float64bits(pb.Sum()) || pa.Count() != pb.Count() {
				t.Errorf("%s %s P&L: Add %v (%d), AddPnL %v (%d)", key, scen[s], pa.Sum(), pa.Count(), pb.Sum(), pb.Count())
			}
		}
	}
}

// BenchmarkAddPnL: one op is one position of a 252-scenario run added to
// the P&L vectors of one of 50 groups, the work of a scanned VaR by state
// per row (PV differences of loans of 10⁴ to 10⁶).
func BenchmarkAddPnL(b *testing.B) {
	const n = 252
	scen := make([]string, n)
	for i := range scen {
		scen[i] = fmt.Sprint("H", i)
	}
	r := rand.New(rand.NewPCG(1, 1))
	rows := make([][]float64, 1024)
	for i := range rows {
		rows[i] = make([]float64, n)
		base := 1e4 + r.Float64()*1e6
		for j := range rows[i] {
			rows[i][j] = base * (1 + (r.Float64()-0.5)*1e-3)
		}
	}
	has := make([]bool, n)
	for i := range has {
		has[i] = true
	}
	keys := make([]string, 50)
	for i := range keys {
		keys[i] = fmt.Sprint("S", i)
	}
	tab := New(scen, nil, true)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		row := rows[i%len(rows)]
		tab.AddPnL(keys[i%len(keys)], row, has, row[0]*0.999, true)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/value")
}
