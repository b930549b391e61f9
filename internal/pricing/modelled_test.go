package pricing

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestNoRuleMatchedIsBitIdenticalToContractual(t *testing.T) {
	t.Parallel()
	// The golden book valued by an engine with a model set none of whose
	// rules matches its loans gives the bits written before model sets
	// existed (see TestContractualValuationUnchanged).
	ms := MustModelSet(t, `{"model_set_id": "NONE", "rules": [
		{"match": {"product_type": "FIXED_BOND"}, "prepayment": {"cpr": 0.5}},
		{"match": {"attr:fico": {"gt": 10000}}, "prepayment": {"cpr": 0.5}, "default": {"cdr": 0.2}},
		{"match": {"attr:no_such_attribute": "x"}, "prepayment": {"psa": 300}}
	]}`)
	m := goldenMarket(t)
	book := goldenBook(t, 600)
	e, err := NewEngine(m, ScenarioIDs(), goldenMeasures, m.AsOfTime(), WithModelSet(ms))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range book {
		if probs := e.Check(p); len(probs) > 0 {
			t.Fatal(probs)
		}
		if k, ok := ms.Match(p); ok {
			t.Fatalf("%s matched rule %d", p.ID, k)
		}
	}
	got := goldenLines(t, e, book)
	want := strings.Split(strings.TrimSpace(string(readTestdata(t, "contractual_golden.txt"))), "\n")
	if len(got) != len(want) {
		t.Fatalf("%d results, golden %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("result %d differs:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
}

// modelBook is a set of loans of every shape and a model set that projects
// them.
func modelBook(tb testing.TB) ([]*Position, *ModelSet) {
	tb.Helper()
	rng := rand.New(rand.NewPCG(5, 6))
	var book []*Position
	for i := range 40 {
		qty := ptr([]float64{1, 1, 3.5, -2}[i%4])
		if i%2 == 0 {
			book = append(book, MustPosition(tb, fmt.Sprintf("T%d", i), "AMORT_LOAN", qty, map[string]any{
				"as_of_date": "2026-01-23", "current_principal": 5000 + 90000*rng.Float64(), "coupon_rate": 0.03 + 0.15*rng.Float64(),
				"remaining_term_months": 6 + rng.IntN(354), "next_payment_date": formatDate(daysFromCivil(2026, 1, 24) + int32(rng.IntN(30))),
				"last_payment_date": "2026-01-01", "fico": 580 + rng.IntN(270), "term_months": 360,
			}))
			continue
		}
		var flows []map[string]any
		for k := range 1 + rng.IntN(70) {
			flows = append(flows, cf(formatDate(daysFromCivil(2025, 12, 1)+int32(30*k+rng.IntN(3))), 50*rng.Float64(), 400*rng.Float64()))
		}
		a := loanAttrs(flows...)
		a["fico"] = 580 + rng.IntN(270)
		book = append(book, MustPosition(tb, fmt.Sprintf("E%d", i), "AMORT_LOAN", qty, a))
	}
	ms := MustModelSet(tb, `{"model_set_id": "MB", "rules": [
		{"match": {"attr:fico": {"lt": 660}}, "prepayment": {"psa": 150}, "default": {"sda": 300}, "severity": 0.45, "recovery_lag_months": 4},
		{"match": {"attr:fico": {"lt": 740}}, "prepayment": {"cpr": 0.1}, "default": {"cdr_vector": [0.02, 0.015, 0.01]}, "severity": 0.3},
		{"prepayment": {"abs": 0.012}, "default": {"cdr": 0.005}, "severity": 0.6, "recovery_lag_months": 1}
	]}`)
	return book, ms
}

func TestCashflowsSumToPV(t *testing.T) {
	t.Parallel()
	book, ms := modelBook(t)
	m := MustMarket(t, randomMarketData(rand.New(rand.NewPCG(1, 1))))
	for _, opts := range [][]EngineOption{nil, {WithModelSet(ms)}} {
		e, err := NewEngine(m, ScenarioIDs(), []Measure{PV}, asOf0, opts...)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range book {
			for s := range e.Scenarios() {
				rows, err := e.Cashflows(p, s)
				if err != nil {
					t.Fatal(err)
				}
				var v Values
				if err := e.Price(p, s, &v); err != nil {
					t.Fatal(err)
				}
				sum := 0.0
				for _, r := range rows {
					sum += float64(r.Cashflow * r.DF)
				}
				pv := mustGet(t, v, PV)
				if p.Quantity == 1 {
					// The PV code sums Σ amount·df in the same order.
					if sum != pv {
						t.Errorf("%s scenario %d: Σ cashflow·df = %.17g, PV %.17g", p.ID, s, sum, pv)
					}
				} else {
					assertClose(t, p.ID+" Σ cashflow·df", sum, pv, 1e-13)
				}
			}
		}
	}
}

func TestModelledLoanDiscountsProjectedFlows(t *testing.T) {
	t.Parallel()
	// Flat curves: df(t) = exp(−(r + s)·t). Every scenario and sensitivity
	// discounts the same projected rows (assumptions do not move with
	// rates), which the test discounts itself with math.Exp.
	const r, s = 0.04, 0.02
	m := MustMarket(t, flatMarketData(r, s, 0.03))
	book, ms := modelBook(t)
	e, err := NewEngine(m, ScenarioIDs(), Measures(), asOf0, WithModelSet(ms))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range book {
		if _, ok := ms.Match(p); !ok {
			t.Fatalf("%s matches no rule", p.ID)
		}
		rows, err := e.Cashflows(p, 0)
		if err != nil {
			t.Fatal(err)
		}
		pvAt := func(rate float64) float64 {
			sum := 0.0
			for _, row := range rows {
				sum += row.Cashflow * math.Exp(-rate*row.T)
			}
			return sum
		}
		for _, c := range []struct {
			scenario string
			rs       float64
		}{{"BASE", r + s}, {"RATES_PARALLEL_1BP", r + s + 0.0001}, {"SPREAD_25BP", r + s + 0.0025}, {"FX_SPOT_1PCT", r + s}} {
			v := MustPrice(t, e, p, c.scenario)
			base := pvAt(c.rs)
			scale := math.Max(1, math.Abs(base))
			assertClose(t, p.ID+" "+c.scenario+" PV", mustGet(t, v, PV), base, 1e-12)
			if d := mustGet(t, v, DV01) - (pvAt(c.rs+0.0001) - base); math.Abs(d) > 1e-12*scale {
				t.Errorf("%s %s DV01 off by %v", p.ID, c.scenario, d)
			}
			if d := mustGet(t, v, CS01) - (pvAt(c.rs+0.0001) - base); math.Abs(d) > 1e-12*scale {
				t.Errorf("%s %s CS01 off by %v", p.ID, c.scenario, d)
			}
			// EXPECTED_LOSS and WAL do not move with the market.
			el := sumOf(rows, func(r CashflowRow) float64 { return r.Loss })
			assertClose(t, p.ID+" EXPECTED_LOSS", mustGet(t, v, ExpectedLoss), el, 1e-12)
			num := sumOf(rows, func(r CashflowRow) float64 { return r.T * (r.ScheduledPrincipal + r.Prepayment + r.Recovery) })
			den := sumOf(rows, func(r CashflowRow) float64 { return r.ScheduledPrincipal + r.Prepayment + r.Recovery })
			if den != 0 {
				assertClose(t, p.ID+" WAL", mustGet(t, v, WAL), num/den, 1e-12)
			}
		}
	}
}

func TestModelledPricingAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop buffers at random")
	}
	book, ms := modelBook(t)
	m := MustMarket(t, randomMarketData(rand.New(rand.NewPCG(2, 2))))
	e, err := NewEngine(m, ScenarioIDs(), Measures(), asOf0, WithModelSet(ms))
	if err != nil {
		t.Fatal(err)
	}
	var v Values
	for _, p := range book {
		for s := range e.Scenarios() {
			if err := e.Price(p, s, &v); err != nil { // tables, rules, buffers
				t.Fatal(err)
			}
		}
	}
	allocs := testing.AllocsPerRun(50, func() {
		for _, p := range book {
			for s := range 4 {
				if err := e.Price(p, s, &v); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
	if allocs != 0 {
		t.Errorf("Price of modelled loans allocates %v times per run", allocs)
	}
}

func TestCashflowsErrors(t *testing.T) {
	t.Parallel()
	m := MustMarket(t, flatMarketData(0.04, 0.02, 0.03))
	e := MustEngine(t, m, []string{"BASE"}, []Measure{PV}, asOf0)
	bond := MustPosition(t, "B", "FIXED_BOND", nil, map[string]any{"cashflows": []any{map[string]any{"pay_date": "2027-01-01", "amount": 1}}})
	var prob Problem
	if _, err := e.Cashflows(bond, 0); !errors.As(err, &prob) || prob.PositionID != "B" {
		t.Errorf("bond cashflows: %v", err)
	}
	loan := MustPosition(t, "L", "AMORT_LOAN", nil, loanAttrs(cf("2027-01-23", 5, 100)))
	if _, err := e.Cashflows(loan, 1); err == nil {
		t.Error("scenario index out of range accepted")
	}
	late := loanAttrs(cf("2027-01-23", 5, 100))
	late["last_payment_date"] = "2026-02-01"
	if _, err := e.Cashflows(MustPosition(t, "LATE", "AMORT_LOAN", nil, late), 0); !errors.As(err, &prob) || prob.Pointer != "/attributes/last_payment_date" {
		t.Errorf("late loan: %v", err)
	}
	// Contractual rows: the order given, balance after each row.
	p := MustPosition(t, "C", "AMORT_LOAN", ptr(2.0), loanAttrs(cf("2026-03-01", 4, 300), cf("2026-01-01", 9, 9), cf("2026-02-01", 5, 200)))
	rows, err := e.Cashflows(p, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Date != "2026-03-01" || rows[1].Date != "2026-02-01" ||
		rows[0].Balance != 2*700 || rows[1].Balance != 2*500 || rows[0].Cashflow != 2*304 || rows[1].Interest != 10 || rows[1].Prepayment != 0 {
		t.Errorf("rows %+v", rows)
	}
	if got := rows[0].T; got != yf(daysBetween(t, "2026-01-23", "2026-03-01")) {
		t.Errorf("t = %v", got)
	}
	if got := rows[0].DF; math.Abs(got-math.Exp(-0.06*rows[0].T)) > 1e-15 {
		t.Errorf("df = %v", got)
	}
}
