package pricing

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestKeyRateTriangles(t *testing.T) {
	t.Parallel()
	// 3M = 0.25y = 91.25 days: day 91 is before it, day 92 at or after.
	want := [NumKeyRates]int{92, 183, 365, 730, 1095, 1825, 2555, 3650, 5475, 7300, 10950}
	if keyRateStartDays != want {
		t.Errorf("start days %v, want %v", keyRateStartDays, want)
	}
	for _, c := range []struct{ day, lo, hi int }{
		{0, 0, 0}, {91, 0, 0}, {92, 0, 1}, {182, 0, 1}, {183, 1, 2}, {365, 2, 3}, {3649, 6, 7}, {3650, 7, 8},
		{10949, 9, 10}, {10950, 10, 10}, {30000, 10, 10},
	} {
		lo, hi := keyRateTriangles(c.day)
		if lo != c.lo || hi != c.hi {
			t.Errorf("day %d: triangles %d–%d, want %d–%d", c.day, lo, hi, c.lo, c.hi)
		}
	}
	// The weights of the shifts sum to 1bp at every t, and each is the
	// triangle of SPEC §4.2 (refTriangle, written independently).
	for d := 0; d < 12000; d += 7 {
		tt := yearFraction(d)
		sum := 0.0
		for j := range NumKeyRates {
			w := keyRateShift(j).at(tt)
			if math.Abs(w-1e-4*refTriangle(j, tt)) > 1e-19 {
				t.Fatalf("t=%v: w%d = %v, want %v", tt, j, w, 1e-4*refTriangle(j, tt))
			}
			sum += w
		}
		if math.Abs(sum-1e-4) > 1e-18 {
			t.Fatalf("t=%v: weights sum to %v", tt, sum)
		}
	}
}

func TestKeyRateTablesAreDirectBits(t *testing.T) {
	t.Parallel()
	m := MustMarket(t, randomMarketData(rand.New(rand.NewPCG(3, 3))))
	e := MustEngine(t, m, ScenarioIDs(), []Measure{KR01}, asOf0)
	k := e.scenarios[2].keyRates
	c, sp := m.curveIndex["USD-OIS"], m.curveIndex["LOAN-SPREAD"]
	if k.bumped[sp][0] != nil {
		t.Error("a spread curve has key-rate curves")
	}
	for j := range NumKeyRates {
		tab := k.table(c, j, c, sp)
		if tab.disc != k.bumped[c][j] || tab.spread != e.scenarios[2].market.curves[sp] || tab.lo != keyRateFirstDay(j) || tab.hi != keyRateEndDay(j) {
			t.Fatalf("triangle %d: wrong curves or days", j)
		}
		// The triangle is 0 (the shift adds exactly nothing) outside
		// [lo, hi), so the table need not reach further.
		if j > 0 && keyRateShift(j).at(yearFraction(tab.lo-1)) != 0 || j < NumKeyRates-1 && keyRateShift(j).at(yearFraction(tab.hi)) != 0 {
			t.Fatalf("triangle %d is not zero outside days [%d, %d)", j, tab.lo, tab.hi)
		}
		for _, n := range []int{0, 50, 4000, tableDays + 5} {
			vals := tab.upTo(n)
			if tab.lo+len(vals) > tab.hi {
				t.Fatalf("triangle %d: table reaches day %d, beyond %d", j, tab.lo+len(vals), tab.hi)
			}
			for i, x := range vals {
				if direct := discountFactor(tab.disc, tab.spread, tab.lo+i); math.Float64bits(x) != math.Float64bits(direct) {
					t.Fatalf("triangle %d day %d: %v, direct %v", j, tab.lo+i, x, direct)
				}
			}
			if d := tab.lo + len(vals) + 3; math.Float64bits(tab.at(vals, d)) != math.Float64bits(discountFactor(tab.disc, tab.spread, d)) {
				t.Fatalf("beyond the table")
			}
		}
	}
}

// handCurve is a USD-OIS curve with nodes off the key-rate tenors.
var handCurve = CurveData{CurveID: "USD-OIS", Nodes: []CurveNode{
	{Tenor: "1M", ZeroRate: 0.030}, {Tenor: "9M", ZeroRate: 0.034}, {Tenor: "4Y", ZeroRate: 0.039},
	{Tenor: "12Y", ZeroRate: 0.044}, {Tenor: "25Y", ZeroRate: 0.041},
}}

func TestKR01CentralDifferencesOnAHandBuiltCurve(t *testing.T) {
	t.Parallel()
	// A bond with flows at days 0, 30, 91, 92 (either side of 3M), 365
	// (exactly 1Y), 1000, 2555 (exactly 7Y), 4000, 9000 and 14000 (past
	// 30Y), on the curve above plus a flat 1% spread.
	md := MarketData{SnapshotID: "HAND", AsOfTime: asOf0, Curves: []CurveData{handCurve, flatCurve("FI-SPREAD", 0.01)}}
	e := MustEngine(t, MustMarket(t, md), []string{"BASE"}, []Measure{PV, DV01, KR01}, asOf0)
	days := []int{0, 30, 91, 92, 365, 1000, 2555, 4000, 9000, 14000}
	var flows []any
	for i, d := range days {
		flows = append(flows, map[string]any{"pay_date": formatDate(dayOf(asOf0) + int32(d)), "amount": 100 + 10*float64(i)})
	}
	p := MustPosition(t, "B", "FIXED_BOND", nil, map[string]any{"cashflows": flows})
	v := MustPrice(t, e, p, "BASE")
	kr := v.KR01()
	if len(kr) != 1 || kr[0].Curve != "USD-OIS" {
		t.Fatalf("KR01 = %s", v.AppendJSON(nil))
	}
	// Independently: zero rate by linear interpolation in t (flat beyond
	// the ends), df with math.Exp, triangles from refTriangle.
	ts := []float64{1.0 / 12, 0.75, 4, 12, 25}
	rs := []float64{0.030, 0.034, 0.039, 0.044, 0.041}
	pv := func(j int, h float64) float64 {
		sum := 0.0
		for i, d := range days {
			tt := float64(d) / 365
			r := interp(ts, rs, tt) + h*refTriangle(j, tt) + 0.01
			sum += (100 + 10*float64(i)) * math.Exp(-r*tt)
		}
		return sum
	}
	const h = 1e-4
	total := 0.0
	for j := range NumKeyRates {
		central := (pv(j, h) - pv(j, -h)) / 2
		// KR01 is a one-sided difference: it differs from the central one
		// by the second-order term ½h²·Σ a·t²·wⱼ²·df (and O(h³)).
		second := 0.0
		for i, d := range days {
			tt := float64(d) / 365
			w := refTriangle(j, tt)
			second += 0.5 * h * h * (100 + 10*float64(i)) * tt * tt * w * w * math.Exp(-(interp(ts, rs, tt)+0.01)*tt)
		}
		got := kr[0].DV01[j]
		if math.Abs(got-(central+second)) > 1e-11+1e-3*second {
			t.Errorf("KR01 %s = %.12g, central difference %.12g + second order %.3g", keyRateTenors[j], got, central, second)
		}
		if central == 0 && got != 0 {
			t.Errorf("KR01 %s = %v where no flow is", keyRateTenors[j], got)
		}
		total += got
	}
	// 5Y has no flow in (3Y, 7Y) (the one at 7Y is all 7Y's): exactly 0.
	if kr[0].DV01[5] != 0 || kr[0].DV01[10] == 0 {
		t.Errorf("ladder %v", kr[0].DV01)
	}
	// The ladder adds up to DV01 to first order: within ½h²·Σ a·t²·df
	// (see TestKR01AddsUpToDV01), here about 2e-4 of it with flows out to
	// 38 years.
	dv01 := mustGet(t, v, DV01)
	bound := 0.0
	for i, d := range days {
		tt := float64(d) / 365
		bound += 0.5 * h * h * (100 + 10*float64(i)) * tt * tt * math.Exp(-(interp(ts, rs, tt)+0.01)*tt)
	}
	if math.Abs(total-dv01) > bound || total == dv01 {
		t.Errorf("Σ KR01 = %.12g, DV01 = %.12g, bound %.3g", total, dv01, bound)
	}
}

func TestKR01AddsUpToDV01(t *testing.T) {
	t.Parallel()
	// For each leg (flow a at t, discount factor df on a *-OIS curve),
	// Σⱼ KR01ⱼ − DV01 = Σ a·df·[Σⱼ(e^{−h·wⱼ(t)·t} − 1) − (e^{−h·t} − 1)]
	// = Σ a·df·½h²t²(Σⱼwⱼ² − 1) + O(h³), and 0 ≤ Σⱼwⱼ² ≤ 1: the two agree
	// within ½h²·Σ|a|·t²·df (about 5e-9 of the DV01 per year of life).
	// Loans (contractual and modelled), bonds and FX forwards on a random
	// market; the bound is computed from the position's own flows.
	rng := rand.New(rand.NewPCG(17, 18))
	md := randomMarketData(rng)
	m := MustMarket(t, md)
	book := randomBook(t, rng, 80)
	loans, ms := modelBook(t)
	for _, opts := range [][]EngineOption{nil, {WithModelSet(ms)}} {
		e, err := NewEngine(m, ScenarioIDs(), Measures(), asOf0, opts...)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range append(append([]*Position(nil), book...), loans...) {
			for s := range e.Scenarios() {
				var v Values
				if err := e.Price(p, s, &v); err != nil {
					t.Fatal(err)
				}
				total, _ := v.Get(KR01)
				dv01 := mustGet(t, v, DV01)
				bound := 0.5 * 1e-8 * secondMoment(t, e, p, s)
				if d := math.Abs(total - dv01); d > 1.001*bound+1e-9*math.Max(1, math.Abs(dv01)) {
					t.Errorf("%s scenario %d: Σ KR01 %.12g, DV01 %.12g, bound %.3g", p.ID, s, total, dv01, bound)
				}
			}
		}
	}
}

// secondMoment is Σ|a|·t²·df over a position's discounted flows (for a
// loan its cashflow rows; for a bond its flows; for a forward both legs).
func secondMoment(tb testing.TB, e *Engine, p *Position, s int) float64 {
	tb.Helper()
	mkt := e.scenarios[s].market
	asOf := e.asOfDay(p)
	sum := 0.0
	switch prod := p.prod.(type) {
	case *loan:
		rows, err := e.Cashflows(p, s)
		if err != nil {
			tb.Fatal(err)
		}
		for _, r := range rows {
			sum += math.Abs(r.Cashflow) * r.T * r.T * r.DF
		}
	case *bond:
		for i, d := range prod.days {
			if d >= asOf {
				tt := yearFraction(int(d - asOf))
				df, _ := mkt.DiscountFactor(prod.curves.disc, prod.curves.spread, int(d-asOf))
				sum += math.Abs(p.Quantity*prod.amounts[i]) * tt * tt * df
			}
		}
	case *fxForward:
		if d := int(prod.maturity - asOf); d >= 0 {
			tt := yearFraction(d)
			dom, _ := mkt.DiscountFactor(prod.domestic, "", d)
			frn, _ := mkt.DiscountFactor(prod.foreign, "", d)
			spot, _ := mkt.FXSpot(prod.pair)
			sum += math.Abs(p.Quantity*prod.notional) * tt * tt * (spot*frn + prod.forwardRate*dom)
		}
	}
	return sum
}

func TestKR01CurvesUsed(t *testing.T) {
	t.Parallel()
	md := flatMarketData(0.04, 0.02, 0.03)
	md.Curves = append(md.Curves, flatCurve("USD-SOFR", 0.041))
	m := MustMarket(t, md)
	e := MustEngine(t, m, []string{"BASE"}, []Measure{PV, DV01, KR01}, asOf0)
	// Discounting on a curve that is not *-OIS: no KR01 (and no DV01
	// beyond 0).
	a := loanAttrs(cf("2027-01-23", 5, 100))
	a["instrument"] = map[string]any{"risk_modeling": map[string]any{"discount_curve": "USD-SOFR"}}
	if v := MustPrice(t, e, MustPosition(t, "SOFR", "AMORT_LOAN", nil, a), "BASE"); v.Has(KR01) {
		t.Errorf("KR01 on USD-SOFR: %s", v.AppendJSON(nil))
	}
	// A spread curve that is a *-OIS curve is bumped too: two ladders,
	// each as the bond's whole sensitivity at 1Y (the flow is at t = 1,
	// all in the 1Y triangle): PV·(e^{−1bp} − 1).
	a = loanAttrs(cf("2027-01-23", 5, 100))
	a["instrument"] = map[string]any{"risk_modeling": map[string]any{"spread_curve": "EUR-OIS"}}
	v := MustPrice(t, e, MustPosition(t, "TWO", "AMORT_LOAN", nil, a), "BASE")
	kr := v.KR01()
	if len(kr) != 2 || kr[0].Curve != "EUR-OIS" || kr[1].Curve != "USD-OIS" {
		t.Fatalf("KR01 = %s", v.AppendJSON(nil))
	}
	pv := 105 * math.Exp(-0.07)
	for _, l := range kr {
		assertClose(t, l.Curve+" 1Y", l.DV01[2], pv*(math.Exp(-0.0001)-1), 1e-9)
		for j, x := range l.DV01 {
			if j != 2 && x != 0 {
				t.Errorf("%s %s = %v", l.Curve, keyRateTenors[j], x)
			}
		}
	}
	// An FX forward whose two legs discount on the same curve: one ladder,
	// both legs bumped together. Maturity 2029-01-22 is 1095 days = 3Y.
	f := fxAttrs("EURUSD", "2029-01-22", 1e6, 1.05)
	f["instrument"] = map[string]any{"underlyings": map[string]any{"discount_curve_foreign": "USD-OIS"}}
	v = MustPrice(t, e, MustPosition(t, "SAME", "FX_FWD", nil, f), "BASE")
	kr = v.KR01()
	if len(kr) != 1 || kr[0].Curve != "USD-OIS" {
		t.Fatalf("KR01 = %s", v.AppendJSON(nil))
	}
	want := 1e6 * (1.1 - 1.05) * math.Exp(-0.04*3) * (math.Exp(-0.0001*3) - 1)
	assertClose(t, "3Y", kr[0].DV01[4], want, 1e-9)
}

func BenchmarkKeyRateLadder(b *testing.B) {
	m := benchMarket(b)
	e, err := NewEngine(m, []string{"BASE"}, []Measure{KR01}, m.AsOfTime())
	if err != nil {
		b.Fatal(err)
	}
	p := benchLoan(b, "L", 15)
	var v Values
	if err := e.Price(p, 0, &v); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := e.Price(p, 0, &v); err != nil {
			b.Fatal(err)
		}
	}
}
