package explain

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/pricing"
)

// The two business days of the tests: D₁ = 2026-01-02, D₂ = 2026-01-05.
var (
	d1 = time.Date(2026, 1, 2, 18, 0, 0, 0, time.UTC)
	d2 = time.Date(2026, 1, 5, 18, 0, 0, 0, time.UTC)
)

// flat is a one-node curve: flat at r beyond both ends.
func flat(id string, r float64) pricing.CurveData {
	return pricing.CurveData{CurveID: id, CurveType: "DISCOUNT", Nodes: []pricing.CurveNode{{Tenor: "1Y", ZeroRate: r}}}
}

// market is USD-OIS at usd, EUR-OIS at eur, FI-SPREAD and LOAN-SPREAD at
// spread, and EURUSD at spot.
func market(id string, at time.Time, usd, eur, spread, spot float64) pricing.MarketData {
	return pricing.MarketData{
		SnapshotID: id, AsOfTime: at,
		Curves:  []pricing.CurveData{flat("USD-OIS", usd), flat("EUR-OIS", eur), flat("FI-SPREAD", spread), flat("LOAN-SPREAD", spread)},
		FXSpots: []pricing.FXSpot{{Pair: "EURUSD", Spot: spot}},
	}
}

// MustPosition parses a position.
func MustPosition(tb testing.TB, id, productType string, qty *float64, attrs map[string]any) *pricing.Position {
	tb.Helper()
	raw, err := json.Marshal(attrs)
	if err != nil {
		tb.Fatal(err)
	}
	p, probs := pricing.ParsePosition(pricing.PositionInput{PositionID: id, InstrumentID: id, ProductType: productType, Quantity: qty, Attributes: raw})
	if len(probs) > 0 {
		tb.Fatalf("position %s: %v", id, probs)
	}
	return p
}

// runPV is the PV a run on market m at time at stores for p (BASE, with
// p's own as-of date as a run would use it): the stored input of an
// explain, not its expectation.
func runPV(tb testing.TB, m pricing.MarketData, at time.Time, p *pricing.Position) float64 {
	tb.Helper()
	mkt, err := pricing.NewMarket(m)
	if err != nil {
		tb.Fatal(err)
	}
	e, err := pricing.NewEngine(mkt, []string{"BASE"}, []pricing.Measure{pricing.PV}, at)
	if err != nil {
		tb.Fatal(err)
	}
	var v pricing.Values
	if err := e.Price(p, 0, &v); err != nil {
		tb.Fatal(err)
	}
	pv, _ := v.Get(pricing.PV)
	return pv
}

// MustValuer builds the valuer of the two markets at D₁ and D₂.
func MustValuer(tb testing.TB, m1, m2 pricing.MarketData) *Valuer {
	tb.Helper()
	v, err := NewValuer(Setup{FromMarket: m1, ToMarket: m2, FromAsOf: d1, ToAsOf: d2})
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// version is a position's version with the PV its run stored.
func version(tb testing.TB, p *pricing.Position, qty *float64, attrs map[string]any, m pricing.MarketData, at time.Time) *Version {
	raw, _ := json.Marshal(attrs)
	return &Version{Position: p, Quantity: qty, Attributes: raw, StoredPV: runPV(tb, m, at, p)}
}

func mustValue(tb testing.TB, v *Valuer, from, to *Version) Result {
	tb.Helper()
	r, err := v.Value(from, to)
	if err != nil {
		tb.Fatal(err)
	}
	checkIdentity(tb, r)
	return r
}

// checkIdentity checks total = to_pv − from_pv + carry_cashflows up to
// rounding: each of the seven steps is one rounding (at most half an ulp
// of the step, ≤ 2⁻⁵³·|step|), the total one more, and the reference two
// more; 4·2⁻⁵³ times the sum of the magnitudes bounds them all.
func checkIdentity(tb testing.TB, r Result) {
	tb.Helper()
	want := r.ToPV - r.FromPV + r.CarryCashflows
	scale := math.Abs(r.ToPV) + math.Abs(r.FromPV) + math.Abs(r.CarryCashflows)
	for _, x := range []float64{r.Carry, r.Rates, r.Spread, r.FX, r.Amendments, r.New, r.Matured} {
		scale += math.Abs(x)
	}
	if d := math.Abs(r.Total() - want); d > 4*0x1p-53*scale {
		tb.Errorf("total %v ≠ to − from + carry cashflows %v (off by %g, bound %g): %+v", r.Total(), want, d, 4*0x1p-53*scale, r)
	}
}

func assertClose(tb testing.TB, name string, got, want, rel float64) {
	tb.Helper()
	if math.Abs(got-want) > rel*math.Max(1, math.Abs(want)) {
		tb.Errorf("%s = %.17g, want %.17g (rel %g)", name, got, want, rel)
	}
}

func assertZero(tb testing.TB, r Result, names ...string) {
	tb.Helper()
	vals := r.Values()
	for _, n := range names {
		for i, s := range scenarios {
			if s == n && vals[i] != 0 {
				tb.Errorf("%s = %v, want exactly 0", n, vals[i])
			}
		}
	}
}

func zeroCoupon(maturity string, amount float64) map[string]any {
	return map[string]any{"cashflows": []any{map[string]any{"pay_date": maturity, "amount": amount}}}
}

// days from D₁ and D₂ to 2027-01-05.
const (
	t1 = 368.0 / 365
	t2 = 365.0 / 365
)

func TestZeroCouponParallelShift(t *testing.T) {
	t.Parallel()
	// USD-OIS 4% → 4.5%, FI-SPREAD 1% on both days.
	m1 := market("M1", d1, 0.04, 0.03, 0.01, 1.1)
	m2 := market("M2", d2, 0.045, 0.03, 0.01, 1.1)
	v := MustValuer(t, m1, m2)
	const a = 1e6
	attrs := zeroCoupon("2027-01-05", a)
	p := MustPosition(t, "ZC", "FIXED_BOND", nil, attrs)
	r := mustValue(t, v, version(t, p, nil, attrs, m1, d1), version(t, p, nil, attrs, m2, d2))

	assertClose(t, "from_pv", r.FromPV, a*math.Exp(-0.05*t1), 1e-13)
	assertClose(t, "to_pv", r.ToPV, a*math.Exp(-0.055*t2), 1e-13)
	// Carry: three days of pull to par on the first curve, no cashflow.
	assertClose(t, "carry", r.Carry, a*(math.Exp(-0.05*t2)-math.Exp(-0.05*t1)), 1e-12)
	// Rates: the parallel shift of 50bp at the second date.
	assertClose(t, "rates", r.Rates, a*(math.Exp(-0.055*t2)-math.Exp(-0.05*t2)), 1e-12)
	assertZero(t, r, CarryCashflows, Spread, FX, Amendments, New, Matured)
	assertClose(t, "total", r.Total(), a*(math.Exp(-0.055*t2)-math.Exp(-0.05*t1)), 1e-12)
}

func TestFXForwardSpotMove(t *testing.T) {
	t.Parallel()
	// The same date, curves and forward; EURUSD 1.10 → 1.15.
	m1 := market("M1", d2, 0.04, 0.03, 0.01, 1.10)
	m2 := market("M2", d2, 0.04, 0.03, 0.01, 1.15)
	v, err := NewValuer(Setup{FromMarket: m1, ToMarket: m2, FromAsOf: d2, ToAsOf: d2})
	if err != nil {
		t.Fatal(err)
	}
	const n, k = 1e6, 1.12
	attrs := map[string]any{"notional_base": n, "forward_rate": k, "maturity_date": "2027-01-05"}
	p := MustPosition(t, "F", "FX_FWD", nil, attrs)
	r := mustValue(t, v, version(t, p, nil, attrs, m1, d2), version(t, p, nil, attrs, m2, d2))
	dff, dfd := math.Exp(-0.03*t2), math.Exp(-0.04*t2)
	assertClose(t, "from_pv", r.FromPV, n*(1.10*dff-k*dfd), 1e-12)
	// Only the spot moved: fx = N·ΔS·df_foreign.
	assertClose(t, "fx", r.FX, n*(1.15-1.10)*dff, 1e-10)
	assertZero(t, r, CarryCashflows, Carry, Rates, Spread, Amendments, New, Matured)
}

func TestNewAndMaturedPositions(t *testing.T) {
	t.Parallel()
	m1 := market("M1", d1, 0.04, 0.03, 0.01, 1.1)
	m2 := market("M2", d2, 0.045, 0.03, 0.02, 1.2)
	v := MustValuer(t, m1, m2)
	const a = 1e6

	// New: only in the second run; it is worth its PV on the second market.
	attrs := zeroCoupon("2027-01-05", a)
	p := MustPosition(t, "NEW", "FIXED_BOND", nil, attrs)
	r := mustValue(t, v, nil, version(t, p, nil, attrs, m2, d2))
	assertClose(t, "new", r.New, a*math.Exp(-0.065*t2), 1e-13)
	assertZero(t, r, FromPV, CarryCashflows, Carry, Rates, Spread, FX, Amendments, Matured)
	if r.New != r.ToPV || r.Total() != r.ToPV {
		t.Errorf("a new position's new %v and total %v must be its stored PV %v", r.New, r.Total(), r.ToPV)
	}

	// Matured, still alive: only in the first run; matured takes away its
	// value after the fx step (second curves, date and spots).
	p = MustPosition(t, "GONE", "FIXED_BOND", nil, attrs)
	r = mustValue(t, v, version(t, p, nil, attrs, m1, d1), nil)
	assertClose(t, "matured", r.Matured, -a*math.Exp(-0.065*t2), 1e-13)
	assertClose(t, "rates", r.Rates, a*(math.Exp(-0.055*t2)-math.Exp(-0.05*t2)), 1e-12)
	assertClose(t, "spread", r.Spread, a*(math.Exp(-0.065*t2)-math.Exp(-0.055*t2)), 1e-12)
	assertZero(t, r, ToPV, CarryCashflows, FX, Amendments, New)
	assertClose(t, "total", r.Total(), -r.FromPV, 1e-15)

	// Matured by paying its last flow on D₁ + 1: the flow is the carry
	// cashflow and nothing is left to take away.
	attrs = zeroCoupon("2026-01-03", a)
	p = MustPosition(t, "PAID", "FIXED_BOND", nil, attrs)
	r = mustValue(t, v, version(t, p, nil, attrs, m1, d1), nil)
	if r.CarryCashflows != a {
		t.Errorf("carry cashflows %v, want %v", r.CarryCashflows, a)
	}
	assertClose(t, "carry", r.Carry, a*(1-math.Exp(-0.05/365)), 1e-12)
	assertZero(t, r, Rates, Spread, FX, Amendments, New, Matured, ToPV)
	if math.Signbit(r.Matured) {
		t.Errorf("matured is -0")
	}

	// A position whose product type changed is valued as matured plus new
	// by the caller; Value refuses the pair.
	f := MustPosition(t, "GONE", "FX_FWD", nil, map[string]any{"notional_base": 1, "forward_rate": 1, "maturity_date": "2027-01-05"})
	if _, err := v.Value(version(t, p, nil, attrs, m1, d1), &Version{Position: f}); err == nil {
		t.Error("a pair of two product types was valued")
	}
}

func TestQuantityChange(t *testing.T) {
	t.Parallel()
	m1 := market("M1", d1, 0.04, 0.03, 0.01, 1.1)
	m2 := market("M2", d2, 0.045, 0.03, 0.01, 1.1)
	v := MustValuer(t, m1, m2)
	const a = 1e6
	attrs := zeroCoupon("2027-01-05", a)
	one, three := 1.0, 3.0
	p1 := MustPosition(t, "Q", "FIXED_BOND", &one, attrs)
	p3 := MustPosition(t, "Q", "FIXED_BOND", &three, attrs)
	r := mustValue(t, v, version(t, p1, &one, attrs, m1, d1), version(t, p3, &three, attrs, m2, d2))
	// Two more units at the second market and date.
	assertClose(t, "amendments", r.Amendments, 2*a*math.Exp(-0.055*t2), 1e-13)
	assertClose(t, "rates", r.Rates, a*(math.Exp(-0.055*t2)-math.Exp(-0.05*t2)), 1e-12)
	assertZero(t, r, CarryCashflows, Spread, FX, New, Matured)

	// Quantity 1 given or absent is the same position: no amendment.
	r = mustValue(t, v, version(t, p1, nil, attrs, m1, d1), version(t, p1, &one, attrs, m2, d2))
	assertZero(t, r, Amendments)
}

func TestLoanPayingBetweenDates(t *testing.T) {
	t.Parallel()
	m1 := market("M1", d1, 0.04, 0.03, 0.02, 1.1)
	m2 := market("M2", d2, 0.04, 0.03, 0.02, 1.1)
	v := MustValuer(t, m1, m2)
	flows := []any{
		map[string]any{"pay_date": "2026-01-03", "interest": 500.0, "principal": 10000.0},
		map[string]any{"pay_date": "2027-01-05", "interest": 4500.0, "principal": 90000.0},
	}
	before := map[string]any{"current_principal": 100000.0, "coupon_rate": 0.05, "last_payment_date": "2025-12-03", "cashflows": flows}
	after := map[string]any{"current_principal": 90000.0, "coupon_rate": 0.05, "last_payment_date": "2026-01-03", "cashflows": flows}
	p1 := MustPosition(t, "L", "AMORT_LOAN", nil, before)
	p2 := MustPosition(t, "L", "AMORT_LOAN", nil, after)
	r := mustValue(t, v, version(t, p1, nil, before, m1, d1), version(t, p2, nil, after, m2, d2))
	if r.CarryCashflows != 10500 {
		t.Errorf("carry cashflows %v, want the payment of 2026-01-03, 10500", r.CarryCashflows)
	}
	from := 10500*math.Exp(-0.06/365) + 94500*math.Exp(-0.06*t1)
	assertClose(t, "from_pv", r.FromPV, from, 1e-13)
	assertClose(t, "carry", r.Carry, 94500*math.Exp(-0.06*t2)+10500-from, 1e-10)
	// The amended balance does not change the remaining flow: no amendment
	// value, and the markets are the same.
	assertZero(t, r, Rates, Spread, FX, Amendments, New, Matured)
}

func TestFXForwardSettlingBetweenDates(t *testing.T) {
	t.Parallel()
	m1 := market("M1", d1, 0.04, 0.03, 0.01, 1.10)
	m2 := market("M2", d2, 0.04, 0.03, 0.01, 1.15)
	v := MustValuer(t, m1, m2)
	const n, k = 1e6, 1.05
	attrs := map[string]any{"notional_base": n, "forward_rate": k, "maturity_date": "2026-01-04"}
	p := MustPosition(t, "F", "FX_FWD", nil, attrs)
	r := mustValue(t, v, version(t, p, nil, attrs, m1, d1), version(t, p, nil, attrs, m2, d2))
	// Its value on its maturity date on the first market: N·(S₁ − K).
	assertClose(t, "carry cashflows", r.CarryCashflows, n*(1.10-k), 1e-12)
	// Expired at D₂: worth 0 in every later step.
	assertZero(t, r, Rates, Spread, FX, Amendments, New, Matured, ToPV)
}

func TestAsOfDateAttributeIgnored(t *testing.T) {
	t.Parallel()
	m1 := market("M1", d1, 0.04, 0.03, 0.01, 1.1)
	m2 := market("M2", d2, 0.045, 0.03, 0.01, 1.1)
	v := MustValuer(t, m1, m2)
	plain := zeroCoupon("2027-01-05", 1e6)
	dated := zeroCoupon("2027-01-05", 1e6)
	dated["as_of_date"] = "2025-06-30"
	a := MustPosition(t, "A", "FIXED_BOND", nil, plain)
	b := MustPosition(t, "A", "FIXED_BOND", nil, dated)
	ra, err := v.Value(&Version{Position: a}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := v.Value(&Version{Position: b}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ra != rb {
		t.Errorf("attributes.as_of_date changed the waterfall: %+v vs %+v", ra, rb)
	}
}

func TestBlendKeepsWhatTheSecondLacks(t *testing.T) {
	t.Parallel()
	m1 := market("M1", d1, 0.04, 0.03, 0.01, 1.1)
	m1.Curves = append(m1.Curves, flat("GBP-OIS", 0.05))
	m1.FXSpots = append(m1.FXSpots, pricing.FXSpot{Pair: "GBPUSD", Spot: 1.3})
	m2 := market("M2", d2, 0.045, 0.035, 0.02, 1.2)
	m2.Curves = append(m2.Curves, flat("JPY-OIS", 0.001))
	got := blend(m1, m2, isOIS, true)
	rates := map[string]float64{}
	for _, c := range got.Curves {
		rates[c.CurveID] = c.Nodes[0].ZeroRate
	}
	want := map[string]float64{"USD-OIS": 0.045, "EUR-OIS": 0.035, "FI-SPREAD": 0.01, "LOAN-SPREAD": 0.01, "GBP-OIS": 0.05, "JPY-OIS": 0.001}
	if len(rates) != len(want) {
		t.Errorf("curves %v, want %v", rates, want)
	}
	for id, r := range want {
		if rates[id] != r {
			t.Errorf("%s = %v, want %v", id, rates[id], r)
		}
	}
	spots := map[string]float64{}
	for _, s := range got.FXSpots {
		spots[s.Pair] = s.Spot
	}
	if spots["EURUSD"] != 1.2 || spots["GBPUSD"] != 1.3 || len(spots) != 2 {
		t.Errorf("spots %v", spots)
	}
	if m1.Curves[0].Nodes[0].ZeroRate != 0.04 {
		t.Error("blend changed the first market")
	}
}

func TestModelledCarryCashflows(t *testing.T) {
	t.Parallel()
	ms, probs := pricing.ParseModelSet([]byte(`{"model_set_id":"MS","rules":[{"prepayment":{"cpr":0.12}}]}`))
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	m := market("M", d1, 0.04, 0.03, 0.02, 1.1)
	v, err := NewValuer(Setup{FromMarket: m, ToMarket: m, FromAsOf: d1, ToAsOf: d2, ModelSet: ms})
	if err != nil {
		t.Fatal(err)
	}
	flows := []any{
		map[string]any{"pay_date": "2026-01-03", "interest": 500.0, "principal": 10000.0},
		map[string]any{"pay_date": "2027-01-05", "interest": 4500.0, "principal": 90000.0},
	}
	attrs := map[string]any{"current_principal": 100000.0, "coupon_rate": 0.05, "last_payment_date": "2025-12-03", "cashflows": flows}
	p := MustPosition(t, "L", "AMORT_LOAN", nil, attrs)
	r, err := v.Value(&Version{Position: p}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// SPEC §4.1, first row: s₁ = 0.9, interest 500, scheduled principal
	// 10,000 and a prepayment of P₀·s₁·SMM = 90,000·(1 − 0.88^(1/12)).
	smm := 1 - math.Pow(0.88, 1.0/12)
	assertClose(t, "carry cashflows", r.CarryCashflows, 10500+90000*smm, 1e-13)
}
