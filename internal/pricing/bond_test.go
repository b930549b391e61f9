package pricing

import (
	"math"
	"testing"
)

func TestBondClosedForm(t *testing.T) {
	t.Parallel()
	// USD-OIS flat 4%, FI-SPREAD flat 1.5%.
	m := MustMarket(t, flatMarketData(0.04, 0.015, 0.03))
	e := MustEngine(t, m, ScenarioIDs(), Measures(), asOf0)
	attrs := map[string]any{
		"as_of_date": "2026-01-23",
		"cashflows": []any{
			map[string]any{"pay_date": "2025-07-23", "amount": 25.0}, // past
			map[string]any{"pay_date": "2026-07-24", "amount": 25.0}, // 182 days
			map[string]any{"pay_date": "2027-01-23", "amount": 1025.0},
		},
		"accrued_interest": 12.5,
	}
	p := MustPosition(t, "B", "FIXED_BOND", ptr(10.0), attrs)
	pvAt := func(rShift, sShift float64) float64 {
		t1, t2 := 182.0/365, 1.0
		return 25*math.Exp(-(0.04+rShift)*t1)*math.Exp(-(0.015+sShift)*t1) + 1025*math.Exp(-(0.04+rShift)*t2)*math.Exp(-(0.015+sShift)*t2)
	}
	v := MustPrice(t, e, p, "BASE")
	assertClose(t, "PV", mustGet(t, v, PV), 10*pvAt(0, 0), 1e-13)
	assertClose(t, "DV01", mustGet(t, v, DV01), 10*(pvAt(0.0001, 0)-pvAt(0, 0)), 1e-9)
	assertClose(t, "CS01", mustGet(t, v, CS01), 10*(pvAt(0, 0.0001)-pvAt(0, 0)), 1e-9)
	if got := mustGet(t, v, AccruedInterest); got != 125 {
		t.Errorf("ACCRUED_INTEREST = %v, want 10 × 12.5", got)
	}
	if v.Has(FXDelta) {
		t.Error("FX_DELTA must be absent for a bond")
	}
	sp := MustPrice(t, e, p, "SPREAD_25BP")
	assertClose(t, "PV under SPREAD_25BP", mustGet(t, sp, PV), 10*pvAt(0, 0.0025), 1e-13)
	if mustGet(t, v, DV01) >= 0 {
		t.Error("DV01 of a long bond must be negative")
	}

	delete(attrs, "accrued_interest")
	v = MustPrice(t, e, MustPosition(t, "B0", "FIXED_BOND", nil, attrs), "BASE")
	if x, ok := v.Get(AccruedInterest); !ok || x != 0 {
		t.Errorf("ACCRUED_INTEREST without the attribute = %v, %v; want present 0", x, ok)
	}
}

func TestBondNeedsFISpread(t *testing.T) {
	t.Parallel()
	d := flatMarketData(0.04, 0.015, 0.03)
	d.Curves = d.Curves[:4] // drop FI-SPREAD
	e := MustEngine(t, MustMarket(t, d), []string{"BASE"}, []Measure{PV}, asOf0)
	p := MustPosition(t, "B", "FIXED_BOND", nil, map[string]any{"cashflows": []any{map[string]any{"pay_date": "2026-06-01", "amount": 1.0}}})
	probs := e.Check(p)
	if len(probs) != 1 || !problemAt(probs, "", "FI-SPREAD", "spread curve") || probs[0].Missing != "FI-SPREAD" {
		t.Errorf("Check = %v", probs)
	}
}
