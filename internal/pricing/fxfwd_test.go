package pricing

import (
	"math"
	"testing"
)

func fxAttrs(pair, maturity string, notional, k float64) map[string]any {
	a := map[string]any{"as_of_date": "2026-01-23", "notional_base": notional, "forward_rate": k, "maturity_date": maturity}
	if pair != "" {
		a["fx_pair"] = pair
	}
	return a
}

func TestFXForwardClosedForm(t *testing.T) {
	t.Parallel()
	// USD-OIS 4%, EUR-OIS and GBP-OIS 3%; EURUSD 1.1, GBPUSD 1.25.
	m := MustMarket(t, flatMarketData(0.04, 0.02, 0.03))
	e := MustEngine(t, m, ScenarioIDs(), Measures(), asOf0)
	const n, k = 1e6, 1.12
	p := MustPosition(t, "F", "FX_FWD", nil, fxAttrs("", "2027-01-23", n, k)) // default EURUSD, t = 1
	dff, dfd := math.Exp(-0.03), math.Exp(-0.04)
	v := MustPrice(t, e, p, "BASE")
	assertClose(t, "PV", mustGet(t, v, PV), n*(1.1*dff-k*dfd), 1e-13)
	assertClose(t, "FX_DELTA", mustGet(t, v, FXDelta), n*dff, 1e-14)
	up := math.Exp(-0.0001) - 1
	assertClose(t, "DV01", mustGet(t, v, DV01), n*(1.1*dff*up-k*dfd*up), 1e-8)
	if v.Has(CS01) || v.Has(AccruedInterest) {
		t.Errorf("CS01 and ACCRUED_INTEREST must be absent for an FX forward: %s", v.AppendJSON(nil))
	}

	// FX_DELTA = ∂PV/∂spot: PV is linear in spot, so the FX_SPOT_1PCT
	// difference divided by the spot move gives it.
	fx := MustPrice(t, e, p, "FX_SPOT_1PCT")
	assertClose(t, "ΔPV/Δspot", (mustGet(t, fx, PV)-mustGet(t, v, PV))/(1.1*1.01-1.1), mustGet(t, v, FXDelta), 1e-9)
	assertClose(t, "PV under FX_SPOT_1PCT", mustGet(t, fx, PV), n*(1.1*1.01*dff-k*dfd), 1e-9) // N·S·df and N·K·df (about 1e6) cancel to about 2e3

	// Under RATES_PARALLEL_1BP both OIS curves move.
	r := MustPrice(t, e, p, "RATES_PARALLEL_1BP")
	assertClose(t, "PV under RATES_PARALLEL_1BP", mustGet(t, r, PV), n*(1.1*math.Exp(-0.0301)-k*math.Exp(-0.0401)), 1e-13)
	// SPREAD_25BP leaves it alone.
	if s := MustPrice(t, e, p, "SPREAD_25BP"); s != v {
		t.Errorf("SPREAD_25BP changed an FX forward")
	}
}

func TestFXForwardOtherPairAndCurves(t *testing.T) {
	t.Parallel()
	d := flatMarketData(0.04, 0.02, 0.03)
	d.Curves[2] = flatCurve("GBP-OIS", 0.05)
	d.Curves = append(d.Curves, flatCurve("GBP-SONIA", 0.045), flatCurve("USD-SOFR", 0.035))
	m := MustMarket(t, d)
	e := MustEngine(t, m, []string{"BASE"}, []Measure{PV, FXDelta}, asOf0)
	// GBPUSD, half a year (2026-07-24 is 182 days on).
	tt := 182.0 / 365
	v := MustPrice(t, e, MustPosition(t, "G", "FX_FWD", nil, fxAttrs("GBPUSD", "2026-07-24", 5e5, 1.3)), "BASE")
	assertClose(t, "GBPUSD PV", mustGet(t, v, PV), 5e5*(1.25*math.Exp(-0.05*tt)-1.3*math.Exp(-0.04*tt)), 1e-13)
	assertClose(t, "GBPUSD FX_DELTA", mustGet(t, v, FXDelta), 5e5*math.Exp(-0.05*tt), 1e-14)
	if v.Has(DV01) {
		t.Error("DV01 was not requested")
	}

	attrs := fxAttrs("", "2026-07-24", 5e5, 1.3)
	attrs["instrument"] = map[string]any{"underlyings": map[string]any{
		"fx_pair": "GBPUSD", "discount_curve_domestic": "USD-SOFR", "discount_curve_foreign": "GBP-SONIA"}}
	v = MustPrice(t, e, MustPosition(t, "G2", "FX_FWD", nil, attrs), "BASE")
	assertClose(t, "PV on override curves", mustGet(t, v, PV), 5e5*(1.25*math.Exp(-0.045*tt)-1.3*math.Exp(-0.035*tt)), 1e-13)

	// JPYUSD has neither a spot nor a JPY-OIS curve here.
	jpy := MustPosition(t, "J", "FX_FWD", nil, fxAttrs("JPYUSD", "2026-07-24", 1e8, 0.0068))
	probs := e.Check(jpy)
	if len(probs) != 2 || !problemAt(probs, "/attributes/fx_pair", "JPYUSD", "FX spot") || !problemAt(probs, "", "JPY-OIS") {
		t.Errorf("Check = %v", probs)
	}
	for _, p := range probs {
		if p.Missing != "JPYUSD" && p.Missing != "JPY-OIS" {
			t.Errorf("problem %v does not name what the market lacks in Missing", p)
		}
	}
	var out Values
	if err := e.Price(jpy, 0, &out); err == nil {
		t.Error("Price of a forward without its spot succeeded")
	}
}

func TestFXForwardExpiredAndMaturingToday(t *testing.T) {
	t.Parallel()
	m := MustMarket(t, flatMarketData(0.04, 0.02, 0.03))
	e := MustEngine(t, m, ScenarioIDs(), Measures(), asOf0)
	expired := MustPosition(t, "X", "FX_FWD", ptr(-3.0), fxAttrs("EURUSD", "2026-01-22", 1e6, 1.05))
	for _, s := range e.Scenarios() {
		v := MustPrice(t, e, expired, s)
		for _, ms := range []Measure{PV, DV01, FXDelta} {
			if x, ok := v.Get(ms); !ok || x != 0 {
				t.Errorf("%s: expired forward %s = %v, %v; want present 0", s, ms, x, ok)
			}
		}
		if c, _ := v.FXDeltaCurrency(); c != "EUR" {
			t.Errorf("%s: FX_DELTA currency %q", s, c)
		}
		// KR01: a ladder of zeros for each of its two OIS curves.
		kr := v.KR01()
		if v.Len() != 4 || len(kr) != 2 || kr[0].Curve != "EUR-OIS" || kr[1].Curve != "USD-OIS" || kr[0].DV01 != [NumKeyRates]float64{} || kr[1].DV01 != [NumKeyRates]float64{} {
			t.Errorf("%s: expired forward has %s", s, v.AppendJSON(nil))
		}
	}
	// Maturing on as-of: t = 0, PV = N·(spot − K), FX_DELTA = N.
	today := MustPosition(t, "T", "FX_FWD", nil, fxAttrs("EURUSD", "2026-01-23", 1e6, 1.05))
	v := MustPrice(t, e, today, "BASE")
	assertClose(t, "PV at t=0", mustGet(t, v, PV), 1e6*(1.1-1.05), 1e-12)
	if got := mustGet(t, v, FXDelta); got != 1e6 {
		t.Errorf("FX_DELTA at t=0 = %v", got)
	}
	if got := mustGet(t, v, DV01); got != 0 {
		t.Errorf("DV01 at t=0 = %v", got)
	}
	// Short: the sign flips.
	short := MustPrice(t, e, MustPosition(t, "S", "FX_FWD", ptr(-1.0), fxAttrs("EURUSD", "2027-01-23", 1e6, 1.05)), "BASE")
	if mustGet(t, short, FXDelta) >= 0 {
		t.Errorf("short forward FX_DELTA = %v", mustGet(t, short, FXDelta))
	}
}
