package pricing

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestNewEngineRejects(t *testing.T) {
	t.Parallel()
	m := MustMarket(t, flatMarketData(0.04, 0.02, 0.03))
	cases := []struct {
		name      string
		market    *Market
		scenarios []string
		measures  []Measure
		want      string
	}{
		{"no market", nil, []string{"BASE"}, []Measure{PV}, "no market"},
		{"no scenarios", m, nil, []Measure{PV}, "no scenarios"},
		{"no measures", m, []string{"BASE"}, nil, "no measures"},
		{"unknown scenario", m, []string{"BASE", "CRASH"}, []Measure{PV}, "CRASH"},
		{"repeated scenario", m, []string{"BASE", "BASE"}, []Measure{PV}, "twice"},
		{"unknown measure", m, []string{"BASE"}, []Measure{Measure(9)}, "unknown measure"},
		{"repeated measure", m, []string{"BASE"}, []Measure{PV, PV}, "twice"},
	}
	for _, c := range cases {
		if _, err := NewEngine(c.market, c.scenarios, c.measures, asOf0); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want mention of %q", c.name, err, c.want)
		}
	}
	if _, err := NewEngine(m, []string{"BASE"}, []Measure{PV}, time.Time{}); err == nil {
		t.Error("NewEngine accepted a zero run as-of time")
	}
	e := MustEngine(t, m, []string{"SPREAD_25BP", "BASE"}, []Measure{DV01, PV}, asOf0)
	if got := strings.Join(e.Scenarios(), ","); got != "SPREAD_25BP,BASE" {
		t.Errorf("Scenarios = %s", got)
	}
	if i, ok := e.ScenarioIndex("BASE"); !ok || i != 1 {
		t.Errorf("ScenarioIndex(BASE) = %d, %v", i, ok)
	}
	if got := e.Measures(); len(got) != 2 || got[0] != DV01 {
		t.Errorf("Measures = %v", got)
	}
	p := MustPosition(t, "L", "AMORT_LOAN", nil, loanAttrs(cf("2027-01-23", 0, 1)))
	var v Values
	for _, i := range []int{-1, 2} {
		if err := e.Price(p, i, &v); err == nil {
			t.Errorf("Price with scenario index %d succeeded", i)
		}
	}
}

func TestOnlyRequestedMeasuresArePresent(t *testing.T) {
	t.Parallel()
	m := MustMarket(t, flatMarketData(0.04, 0.02, 0.03))
	loan := MustPosition(t, "L", "AMORT_LOAN", nil, loanAttrs(cf("2027-01-23", 0, 1000)))
	fx := MustPosition(t, "F", "FX_FWD", nil, fxAttrs("EURUSD", "2027-01-23", 1e6, 1.1))
	for _, ms := range [][]Measure{{PV}, {DV01}, {CS01}, {AccruedInterest}, {FXDelta}, {CS01, FXDelta}, Measures()} {
		e := MustEngine(t, m, []string{"BASE"}, ms, asOf0)
		for _, p := range []*Position{loan, fx} {
			v := MustPrice(t, e, p, "BASE")
			for _, x := range Measures() {
				requested := false
				for _, r := range ms {
					requested = requested || r == x
				}
				if want := requested && p.Supports(x); v.Has(x) != want {
					t.Errorf("%s with %v: %s present = %v, want %v", p.ID, ms, x, v.Has(x), want)
				}
			}
		}
	}
	// The same number whichever other measures are requested.
	all := MustPrice(t, MustEngine(t, m, []string{"BASE"}, Measures(), asOf0), loan, "BASE")
	alone := MustPrice(t, MustEngine(t, m, []string{"BASE"}, []Measure{DV01}, asOf0), loan, "BASE")
	if mustGet(t, all, DV01) != mustGet(t, alone, DV01) {
		t.Error("DV01 depends on which other measures are requested")
	}
}

func TestRunAsOfDefaultsToUTCDate(t *testing.T) {
	t.Parallel()
	m := MustMarket(t, flatMarketData(0.04, 0.02, 0.03))
	attrs := loanAttrs(cf("2027-01-24", 0, 1000))
	delete(attrs, "as_of_date")
	p := MustPosition(t, "L", "AMORT_LOAN", nil, attrs)
	// 2026-01-23T21:00−05:00 is 2026-01-24 in UTC: t = 1 to 2027-01-24.
	run := time.Date(2026, 1, 23, 21, 0, 0, 0, time.FixedZone("EST", -5*3600))
	e := MustEngine(t, m, []string{"BASE"}, []Measure{PV}, run)
	if got := e.AsOfDate(p); got != "2026-01-24" {
		t.Errorf("AsOfDate = %s", got)
	}
	assertClose(t, "PV", mustGet(t, MustPrice(t, e, p, "BASE"), PV), 1000*math.Exp(-0.06), 1e-14)
	// A position's own as_of_date wins over the run's.
	attrs["as_of_date"] = "2026-01-23"
	q := MustPosition(t, "Q", "AMORT_LOAN", nil, attrs)
	assertClose(t, "PV", mustGet(t, MustPrice(t, e, q, "BASE"), PV), 1000*math.Exp(-0.06*366/365), 1e-14)
}

func TestCachedDiscountFactorsAreDirectBits(t *testing.T) {
	t.Parallel()
	var md MarketData
	mustUnmarshal(t, readTestdata(t, "marketdata_snapshot_eod.json"), &md)
	m := MustMarket(t, md)
	e := MustEngine(t, m, ScenarioIDs(), Measures(), md.AsOfTime)
	s := e.scenarios[1]
	di, si := m.curveIndex["USD-OIS"], m.curveIndex["LOAN-SPREAD"]
	for kind := range numKinds {
		tab := s.table(kind, di, si)
		// Grow in steps, as pricing does, and check every value each time.
		for _, n := range []int{0, 10, 1500, 1400, 5000, tableDays, tableDays + 10} {
			vals := tab.upTo(n)
			if len(vals) < min(n, tableDays) || len(vals) > tableDays {
				t.Fatalf("upTo(%d) has %d days", n, len(vals))
			}
			for d, x := range vals {
				if direct := discountFactor(tab.disc, tab.spread, d); math.Float64bits(x) != math.Float64bits(direct) {
					t.Fatalf("kind %d day %d: table %v, direct %v", kind, d, x, direct)
				}
			}
			for _, d := range []int{len(vals), tableDays + 400} {
				if got, direct := tab.at(vals, d), discountFactor(tab.disc, tab.spread, d); math.Float64bits(got) != math.Float64bits(direct) {
					t.Errorf("kind %d day %d beyond the table: %v, direct %v", kind, d, got, direct)
				}
			}
		}
	}
	// A loan with one cashflow far beyond the tables and one inside them:
	// PV under BASE equals the sum of the market's own discount factors.
	attrs := loanAttrs(cf("2026-05-01", 0, 100), cf("2090-05-01", 0, 100))
	delete(attrs, "as_of_date")
	p := MustPosition(t, "Far", "AMORT_LOAN", nil, attrs)
	asOf := dayOf(md.AsOfTime)
	want := 0.0
	for _, d := range []string{"2026-05-01", "2090-05-01"} {
		df, err := m.DiscountFactor("USD-OIS", "LOAN-SPREAD", int(mustDate(t, d)-asOf))
		if err != nil {
			t.Fatal(err)
		}
		want += float64(100 * df)
	}
	if got := mustGet(t, MustPrice(t, e, p, "BASE"), PV); got != want {
		t.Errorf("PV = %v, want Σ 100·df = %v", got, want)
	}
}

// randomMarketData is a market with random upward or downward sloping
// curves.
func randomMarketData(rng *rand.Rand) MarketData {
	curve := func(id string, lo, hi float64) CurveData {
		c := CurveData{CurveID: id}
		for _, tn := range []string{"1M", "3M", "1Y", "2Y", "5Y", "10Y"} {
			c.Nodes = append(c.Nodes, CurveNode{Tenor: tn, ZeroRate: lo + (hi-lo)*rng.Float64()})
		}
		return c
	}
	return MarketData{
		SnapshotID: "RANDOM",
		AsOfTime:   asOf0,
		FXSpots:    []FXSpot{{Pair: "EURUSD", Spot: 1 + rng.Float64()/2}, {Pair: "GBPUSD", Spot: 1.1 + rng.Float64()/2}},
		Curves: []CurveData{
			curve("USD-OIS", 0.00, 0.08), curve("EUR-OIS", -0.005, 0.05), curve("GBP-OIS", 0.01, 0.06),
			curve("LOAN-SPREAD", 0.005, 0.05), curve("FI-SPREAD", 0.0, 0.03),
		},
	}
}

// randomBook is a mixed book of loans (explicit and by terms), bonds and
// FX forwards, with quantities of both signs.
func randomBook(tb testing.TB, rng *rand.Rand, n int) []*Position {
	tb.Helper()
	book := make([]*Position, 0, n)
	start := mustDate(tb, "2025-11-01")
	for i := range n {
		qty := ptr(float64(1+rng.IntN(5)) * []float64{1, -1}[rng.IntN(2)])
		id := fmt.Sprintf("P%04d", i)
		switch i % 4 {
		case 0:
			book = append(book, MustPosition(tb, id, "AMORT_LOAN", qty, map[string]any{
				"current_principal": 1000 + 50000*rng.Float64(), "coupon_rate": 0.2 * rng.Float64(),
				"last_payment_date": "2026-01-05", "remaining_term_months": 1 + rng.IntN(180),
				"next_payment_date": formatDate(start + int32(rng.IntN(120))),
			}))
		case 1:
			var flows []map[string]any
			for k := range 1 + rng.IntN(60) {
				flows = append(flows, cf(formatDate(start+int32(30*k+rng.IntN(30))), 100*rng.Float64(), 500*rng.Float64()))
			}
			book = append(book, MustPosition(tb, id, "AMORT_LOAN", qty, loanAttrs(flows...)))
		case 2:
			var flows []any
			for k := range 1 + rng.IntN(20) {
				flows = append(flows, map[string]any{"pay_date": formatDate(start + int32(182*k+rng.IntN(10))), "amount": 10 + 1000*rng.Float64()})
			}
			book = append(book, MustPosition(tb, id, "FIXED_BOND", qty, map[string]any{"cashflows": flows, "accrued_interest": rng.Float64()}))
		default:
			pair := []string{"EURUSD", "GBPUSD"}[rng.IntN(2)]
			book = append(book, MustPosition(tb, id, "FX_FWD", qty,
				fxAttrs(pair, formatDate(start+int32(rng.IntN(1500))), 1e5*float64(1+rng.IntN(20)), 1+rng.Float64()/2)))
		}
	}
	return book
}

func TestPropertyPVFallsAsRatesRise(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 20 {
		md := randomMarketData(rng)
		// Loans and bonds with positive cashflows, long.
		var book []*Position
		for _, p := range randomBook(t, rng, 40) {
			if p.ProductType != "FX_FWD" && p.Quantity > 0 {
				book = append(book, p)
			}
		}
		shift := 0.0001 + 0.01*rng.Float64()
		up := md
		up.Curves = nil
		for _, c := range md.Curves {
			if strings.HasSuffix(c.CurveID, "-OIS") {
				b := CurveData{CurveID: c.CurveID}
				for _, n := range c.Nodes {
					b.Nodes = append(b.Nodes, CurveNode{Tenor: n.Tenor, ZeroRate: n.ZeroRate + shift})
				}
				c = b
			}
			up.Curves = append(up.Curves, c)
		}
		e0 := MustEngine(t, MustMarket(t, md), []string{"BASE"}, []Measure{PV, DV01}, asOf0)
		e1 := MustEngine(t, MustMarket(t, up), []string{"BASE"}, []Measure{PV}, asOf0)
		for _, p := range book {
			v0, v1 := MustPrice(t, e0, p, "BASE"), MustPrice(t, e1, p, "BASE")
			pv0, pv1 := mustGet(t, v0, PV), mustGet(t, v1, PV)
			if pv1 > pv0 {
				t.Errorf("trial %d %s: PV %v rose to %v with rates +%v", trial, p.ID, pv0, pv1, shift)
			}
			// Strictly, when a cashflow is due after the as-of date (t > 0).
			if hasFlowAfter(p, dayOf(asOf0)) && !(pv1 < pv0 && mustGet(t, v0, DV01) < 0) {
				t.Errorf("trial %d %s: PV %v → %v with rates +%v, DV01 %v", trial, p.ID, pv0, pv1, shift, mustGet(t, v0, DV01))
			}
		}
	}
}

// hasFlowAfter reports whether a loan or bond has a cashflow after day.
func hasFlowAfter(p *Position, day int32) bool {
	var days []int32
	switch prod := p.prod.(type) {
	case *loan:
		days = prod.days
	case *bond:
		days = prod.days
	}
	for _, d := range days {
		if d > day {
			return true
		}
	}
	return false
}

func TestPropertyLinearInQuantity(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	m := MustMarket(t, randomMarketData(rng))
	e := MustEngine(t, m, ScenarioIDs(), Measures(), asOf0)
	for _, p := range randomBook(t, rng, 40) {
		unit := *p
		unit.Quantity = 1
		for _, q := range []float64{-7.5, -1, 0.25, 2, 1e3} {
			scaled := *p
			scaled.Quantity = q
			for _, s := range e.Scenarios() {
				v1, vq := MustPrice(t, e, &unit, s), MustPrice(t, e, &scaled, s)
				f1, fq := flatValues(v1), flatValues(vq)
				if len(f1) != len(fq) {
					t.Fatalf("%s %s: %s vs %s", p.ID, s, v1.AppendJSON(nil), vq.AppendJSON(nil))
				}
				for name, x := range f1 {
					want := q * x
					if name == "WAL" { // a life in years: not scaled
						want = x
					}
					if got := fq[name]; got != want && !(got == 0 && want == 0) {
						t.Errorf("%s %s %s at q=%v: %v, want %v", p.ID, s, name, q, got, want)
					}
				}
				if w1, ok := v1.WALWeight(); ok {
					if wq, _ := vq.WALWeight(); wq != q*w1 {
						t.Errorf("%s %s WAL weight at q=%v: %v, want %v", p.ID, s, q, wq, q*w1)
					}
				}
			}
		}
	}
}

func TestPropertyBaseIsUnshockedMarket(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 6))
	md := randomMarketData(rng)
	m := MustMarket(t, md)
	book := randomBook(t, rng, 40)
	withBase := MustEngine(t, m, ScenarioIDs(), Measures(), asOf0)
	onlyBase := MustEngine(t, m, []string{"BASE"}, Measures(), asOf0)
	for _, p := range book {
		a, b := MustPrice(t, withBase, p, "BASE"), MustPrice(t, onlyBase, p, "BASE")
		if a != b {
			t.Errorf("%s: BASE differs with other scenarios present", p.ID)
		}
	}
	// BASE prices on the snapshot's own curves: an explicit loan's PV is the
	// sum of the market's discount factors.
	loan := MustPosition(t, "L", "AMORT_LOAN", nil, loanAttrs(cf("2026-03-01", 10, 100), cf("2031-03-01", 10, 100)))
	want := 0.0
	for _, d := range []string{"2026-03-01", "2031-03-01"} {
		df, _ := m.DiscountFactor("USD-OIS", "LOAN-SPREAD", daysBetween(t, "2026-01-23", d))
		want += float64(110 * df)
	}
	if got := mustGet(t, MustPrice(t, withBase, loan, "BASE"), PV); got != want {
		t.Errorf("BASE PV = %v, want %v", got, want)
	}
}

// priceBook prices every position under every scenario with a fresh engine
// on the given number of goroutines, visiting positions in the given
// order, and returns the results keyed by position and scenario.
func priceBook(tb testing.TB, m *Market, book []*Position, order []int, workers int, opts ...EngineOption) map[string]Values {
	tb.Helper()
	e, err := NewEngine(m, ScenarioIDs(), Measures(), asOf0, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	out := make(map[string]Values, len(book)*4)
	var mu sync.Mutex
	var wg sync.WaitGroup
	next := make(chan int)
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var v Values
			for i := range next {
				p := book[i]
				for s, id := range e.Scenarios() {
					if err := e.Price(p, s, &v); err != nil {
						errs <- err
						return
					}
					mu.Lock()
					out[p.ID+"/"+id] = v
					mu.Unlock()
				}
			}
		}()
	}
	for _, i := range order {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
	return out
}

func TestPropertyDeterministicAcrossOrderAndGoroutines(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 8))
	m := MustMarket(t, randomMarketData(rng))
	book := randomBook(t, rng, 200)
	order := make([]int, len(book))
	for i := range order {
		order[i] = i
	}
	// Also with a model set that projects some of the loans.
	ms, probs := ParseModelSet([]byte(`{"model_set_id": "D", "rules": [
		{"match": {"attr:remaining_term_months": {"gte": 60}}, "prepayment": {"psa": 250}, "default": {"sda": 200}, "severity": 0.35, "recovery_lag_months": 6},
		{"match": {"attr:coupon_rate": {"lt": 0.1}}, "prepayment": {"cpr": 0.08}, "default": {"cdr_vector": [0.01, 0.03, 0.02]}, "severity": 0.5}
	]}`))
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	for _, opts := range [][]EngineOption{nil, {WithModelSet(ms)}} {
		want := priceBook(t, m, book, order, 1, opts...)
		for _, workers := range []int{1, 2, 8} {
			shuffled := append([]int(nil), order...)
			rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
			got := priceBook(t, m, book, shuffled, workers, opts...)
			if len(got) != len(want) {
				t.Fatalf("%d results, want %d", len(got), len(want))
			}
			for k, w := range want {
				g := got[k]
				// The binary form holds every bit of every measure.
				if a, b := w.AppendBinary(nil), g.AppendBinary(nil); string(a) != string(b) {
					t.Fatalf("%s: %s vs %s with %d goroutines in another order", k, w.AppendJSON(nil), g.AppendJSON(nil), workers)
				}
			}
		}
	}
}

func TestPriceRefusesNonFiniteResults(t *testing.T) {
	t.Parallel()
	// A zero rate of −100 makes df(10y) = e^1000 = +Inf.
	d := flatMarketData(-100, 0, 0)
	e := MustEngine(t, MustMarket(t, d), []string{"BASE"}, []Measure{PV}, asOf0)
	p := MustPosition(t, "Inf", "AMORT_LOAN", nil, loanAttrs(cf("2036-01-23", 0, 1)))
	var v Values
	err := e.Price(p, 0, &v)
	var prob Problem
	if !errors.As(err, &prob) || prob.PositionID != "Inf" || !strings.Contains(prob.Detail, "not finite") {
		t.Errorf("err = %v", err)
	}
	if v.Len() != 0 {
		t.Error("values were written for a failed position")
	}
}

func TestPriceAllocatesNothing(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	m := MustMarket(t, randomMarketData(rng))
	e := MustEngine(t, m, ScenarioIDs(), Measures(), asOf0)
	book := randomBook(t, rng, 8)
	var v Values
	for _, p := range book {
		for s := range e.Scenarios() {
			if err := e.Price(p, s, &v); err != nil { // build the tables
				t.Fatal(err)
			}
		}
	}
	allocs := testing.AllocsPerRun(100, func() {
		for _, p := range book {
			for s := range 4 {
				if err := e.Price(p, s, &v); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
	if allocs != 0 {
		t.Errorf("Price allocates %v times per run", allocs)
	}
}

func TestTablesGrowConcurrently(t *testing.T) {
	t.Parallel()
	m := MustMarket(t, randomMarketData(rand.New(rand.NewPCG(11, 12))))
	e := MustEngine(t, m, []string{"BASE"}, []Measure{PV}, asOf0)
	tab := e.scenarios[0].table(kindSpreadUp, m.curveIndex["USD-OIS"], m.curveIndex["LOAN-SPREAD"])
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 99))
			for range 50 {
				n := rng.IntN(tableDays + 100)
				vals := tab.upTo(n)
				if len(vals) < min(n, tableDays) {
					t.Errorf("upTo(%d) has %d days", n, len(vals))
					return
				}
				d := rng.IntN(len(vals))
				if want := discountFactor(tab.disc, tab.spread, d); math.Float64bits(vals[d]) != math.Float64bits(want) {
					t.Errorf("day %d: %v, want %v", d, vals[d], want)
					return
				}
			}
		}()
	}
	wg.Wait()
}
