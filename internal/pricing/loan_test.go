package pricing

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

var allLoanMeasures = []Measure{PV, DV01, CS01, AccruedInterest}

func cf(date string, interest, principal float64) map[string]any {
	return map[string]any{"pay_date": date, "interest": interest, "principal": principal}
}

func loanAttrs(cashflows ...map[string]any) map[string]any {
	list := make([]any, len(cashflows))
	for i, c := range cashflows {
		list[i] = c
	}
	return map[string]any{
		"as_of_date": "2026-01-23", "current_principal": 1000.0, "coupon_rate": 0.05,
		"last_payment_date": "2025-12-23", "cashflows": list,
	}
}

func TestLoanSingleCashflowClosedForm(t *testing.T) {
	t.Parallel()
	m := MustMarket(t, flatMarketData(0.04, 0.02, 0.03))
	e := MustEngine(t, m, []string{"BASE"}, allLoanMeasures, asOf0)
	// 2027-01-23 is 365 days after 2026-01-23: t = 1.
	p := MustPosition(t, "L1", "AMORT_LOAN", nil, loanAttrs(cf("2027-01-23", 50, 1000)))
	v := MustPrice(t, e, p, "BASE")
	pv := 1050 * math.Exp(-0.06)
	assertClose(t, "PV", mustGet(t, v, PV), pv, 1e-14)
	assertClose(t, "DV01", mustGet(t, v, DV01), pv*(math.Exp(-0.0001)-1), 1e-9)
	assertClose(t, "CS01", mustGet(t, v, CS01), pv*(math.Exp(-0.0001)-1), 1e-9)
	// 1000 × 5% × 31/360 (2025-12-23 → 2026-01-23 is 31 days).
	assertClose(t, "ACCRUED_INTEREST", mustGet(t, v, AccruedInterest), 1000*0.05*31/360, 1e-15)
	if v.Has(FXDelta) {
		t.Error("FX_DELTA must be absent for a loan")
	}
}

func TestLoanAnnuityClosedForm(t *testing.T) {
	t.Parallel()
	m := MustMarket(t, flatMarketData(0.045, 0.015, 0.03))
	e := MustEngine(t, m, []string{"BASE"}, []Measure{PV}, asOf0)
	// Twenty payments of 100 every 73 days: t = 0.2k, df = q^k with
	// q = exp(−0.06·0.2), so PV = 100·q·(1 − q^20)/(1 − q).
	start, _ := parseDate("2026-01-23")
	var flows []map[string]any
	for k := 1; k <= 20; k++ {
		flows = append(flows, cf(formatDate(start+int32(73*k)), 30, 70))
	}
	p := MustPosition(t, "A", "AMORT_LOAN", nil, loanAttrs(flows...))
	q := math.Exp(-0.06 * 0.2)
	assertClose(t, "annuity PV", mustGet(t, MustPrice(t, e, p, "BASE"), PV), 100*q*(1-math.Pow(q, 20))/(1-q), 1e-13)
}

// interp is linear interpolation on (ts, rs), flat beyond the ends, written
// independently of the package.
func interp(ts, rs []float64, t float64) float64 {
	if t <= ts[0] {
		return rs[0]
	}
	for i := 1; i < len(ts); i++ {
		if t <= ts[i] {
			return rs[i-1] + (rs[i]-rs[i-1])*(t-ts[i-1])/(ts[i]-ts[i-1])
		}
	}
	return rs[len(rs)-1]
}

func TestLoanHandComputedOnCompatFixtures(t *testing.T) {
	t.Parallel()
	var md MarketData
	mustUnmarshal(t, readTestdata(t, "market_snapshot_demo.json"), &md)
	var snap struct {
		Positions []PositionInput `json:"positions"`
	}
	mustUnmarshal(t, readTestdata(t, "positions_snapshot_demo.json"), &snap)
	e := MustEngine(t, MustMarket(t, md), ScenarioIDs(), allLoanMeasures, md.AsOfTime)
	// USD-OIS: 1M 4.5%, 6M 4.6%, 1Y 4.7%; LOAN-SPREAD flat 2%.
	ois := func(t float64) float64 { return interp([]float64{1.0 / 12, 0.5, 1}, []float64{0.045, 0.046, 0.047}, t) }
	type flow struct {
		date          string
		interest, pri float64
	}
	// The first position's cashflows, from the fixture text.
	flows := []flow{
		{"2026-02-23", 328.732625, 114.417375},
		{"2026-03-23", 326.87334265625, 116.27665734375},
		{"2026-04-23", 324.98384697441406, 118.16615302558591},
		{"2026-05-23", 323.0636469877483, 120.08635301225166},
		{"2026-06-23", 321.1122437512992, 122.03775624870076},
		{"2026-07-23", 319.12913021225785, 124.02086978774213},
	}
	pvAt := func(oisShift, spreadShift float64) float64 {
		sum := 0.0
		for _, f := range flows {
			tt := yf(daysBetween(t, "2026-01-23", f.date))
			sum += (f.interest + f.pri) * math.Exp(-(ois(tt)+oisShift)*tt) * math.Exp(-(0.02+spreadShift)*tt)
		}
		return sum
	}
	p, probs := ParsePosition(snap.Positions[0])
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	if probs := e.Check(p); len(probs) > 0 {
		t.Fatalf("Check: %v", probs)
	}
	base := MustPrice(t, e, p, "BASE")
	assertClose(t, "PV", mustGet(t, base, PV), pvAt(0, 0), 1e-12)
	assertClose(t, "DV01", mustGet(t, base, DV01), pvAt(0.0001, 0)-pvAt(0, 0), 1e-9)
	assertClose(t, "CS01", mustGet(t, base, CS01), pvAt(0, 0.0001)-pvAt(0, 0), 1e-9)
	// 20229.7 × 0.195 × 31/360.
	assertClose(t, "ACCRUED_INTEREST", mustGet(t, base, AccruedInterest), 20229.7*0.195*31/360, 1e-13)

	rates := MustPrice(t, e, p, "RATES_PARALLEL_1BP")
	assertClose(t, "PV under RATES_PARALLEL_1BP", mustGet(t, rates, PV), pvAt(0.0001, 0), 1e-12)
	assertClose(t, "DV01 under RATES_PARALLEL_1BP", mustGet(t, rates, DV01), pvAt(0.0002, 0)-pvAt(0.0001, 0), 1e-9)
	spread := MustPrice(t, e, p, "SPREAD_25BP")
	assertClose(t, "PV under SPREAD_25BP", mustGet(t, spread, PV), pvAt(0, 0.0025), 1e-12)
	assertClose(t, "CS01 under SPREAD_25BP", mustGet(t, spread, CS01), pvAt(0, 0.0026)-pvAt(0, 0.0025), 1e-9)
	fx := MustPrice(t, e, p, "FX_SPOT_1PCT")
	if fx != base {
		t.Errorf("FX_SPOT_1PCT changed a USD loan: %s vs %s", fx.AppendJSON(nil), base.AppendJSON(nil))
	}
}

func TestLoanPastAndAsOfCashflows(t *testing.T) {
	t.Parallel()
	m := MustMarket(t, flatMarketData(0.04, 0.02, 0.03))
	e := MustEngine(t, m, []string{"BASE"}, allLoanMeasures, asOf0)
	p := MustPosition(t, "L", "AMORT_LOAN", nil, loanAttrs(
		cf("2026-01-22", 7, 700),  // the day before as-of: past, ignored
		cf("2026-01-23", 5, 500),  // on as-of: t = 0, counts in full
		cf("2027-01-23", 10, 990), // t = 1
	))
	v := MustPrice(t, e, p, "BASE")
	later := 1000 * math.Exp(-0.06)
	assertClose(t, "PV", mustGet(t, v, PV), 505+later, 1e-14)
	// The cashflow at t = 0 is insensitive to rates.
	assertClose(t, "DV01", mustGet(t, v, DV01), later*(math.Exp(-0.0001)-1), 1e-9)

	// Every cashflow in the past: PV and sensitivities are 0, present.
	gone := MustPosition(t, "G", "AMORT_LOAN", nil, loanAttrs(cf("2025-06-01", 1, 1)))
	v = MustPrice(t, e, gone, "BASE")
	for _, ms := range []Measure{PV, DV01, CS01} {
		if x := mustGet(t, v, ms); x != 0 {
			t.Errorf("%s of an expired loan = %v", ms, x)
		}
	}
}

func TestLoanDV01MatchesBumpedMarketAndDerivative(t *testing.T) {
	t.Parallel()
	var md MarketData
	mustUnmarshal(t, readTestdata(t, "marketdata_snapshot_eod.json"), &md)
	m := MustMarket(t, md)
	asOf := md.AsOfTime
	p := MustPosition(t, "L", "AMORT_LOAN", nil, map[string]any{
		"current_principal": 50000.0, "coupon_rate": 0.09, "last_payment_date": "2026-01-05",
		"remaining_term_months": 120, "next_payment_date": "2026-02-05",
	})
	e := MustEngine(t, m, []string{"BASE"}, allLoanMeasures, asOf)
	v := MustPrice(t, e, p, "BASE")

	// Method 2: bump the snapshot's *-OIS nodes by hand, price PV on it.
	bumped := md
	bumped.Curves = nil
	spreadBumped := md
	spreadBumped.Curves = nil
	for _, c := range md.Curves {
		up := CurveData{CurveID: c.CurveID, CurveType: c.CurveType}
		for _, n := range c.Nodes {
			up.Nodes = append(up.Nodes, CurveNode{Tenor: n.Tenor, ZeroRate: n.ZeroRate + 0.0001})
		}
		if strings.HasSuffix(c.CurveID, "-OIS") {
			bumped.Curves = append(bumped.Curves, up)
		} else {
			bumped.Curves = append(bumped.Curves, c)
		}
		if c.CurveID == "LOAN-SPREAD" {
			spreadBumped.Curves = append(spreadBumped.Curves, up)
		} else {
			spreadBumped.Curves = append(spreadBumped.Curves, c)
		}
	}
	pvOn := func(d MarketData) float64 {
		return mustGet(t, MustPrice(t, MustEngine(t, MustMarket(t, d), []string{"BASE"}, []Measure{PV}, asOf), p, "BASE"), PV)
	}
	pv := mustGet(t, v, PV)
	if got, want := mustGet(t, v, DV01), pvOn(bumped)-pv; got != want {
		t.Errorf("DV01 = %v, PV(bumped snapshot) − PV = %v", got, want)
	}
	if got, want := mustGet(t, v, CS01), pvOn(spreadBumped)-pv; got != want {
		t.Errorf("CS01 = %v, PV(bumped spread) − PV = %v", got, want)
	}

	// Method 3: the analytic derivative. With a parallel shift h,
	// PV(h) = Σ A·df·e^(−h·t), so PV(h) − PV(0) = −h·Σ A·t·df + h²/2·Σ A·t²·df − …
	sched := loanSchedule(50000, 0.09, 120, mustDate(t, "2026-02-05"), levelPayment(50000, 0.09, 120))
	asOfDay := dayOf(asOf)
	var d1, d2 float64
	for _, c := range sched {
		days := int(c.day - asOfDay)
		tt := yf(days)
		df, err := m.DiscountFactor("USD-OIS", "LOAN-SPREAD", days)
		if err != nil {
			t.Fatal(err)
		}
		a := c.interest + c.principal
		d1 += a * tt * df
		d2 += a * tt * tt * df
	}
	h := 0.0001
	approx := -h*d1 + h*h/2*d2
	assertClose(t, "DV01 vs derivative", mustGet(t, v, DV01), approx, 1e-7)
	assertClose(t, "CS01 vs derivative", mustGet(t, v, CS01), approx, 1e-7)
	if mustGet(t, v, DV01) >= 0 {
		t.Error("DV01 of a long loan must be negative")
	}
}

func mustDate(tb testing.TB, s string) int32 {
	tb.Helper()
	d, ok := parseDate(s)
	if !ok {
		tb.Fatalf("bad date %s", s)
	}
	return d
}

func TestLoanScheduleMonthEnd(t *testing.T) {
	t.Parallel()
	sched := loanSchedule(1200, 0, 4, mustDate(t, "2026-01-31"), levelPayment(1200, 0, 4))
	want := []string{"2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30"}
	if len(sched) != len(want) {
		t.Fatalf("schedule has %d payments", len(sched))
	}
	for i, c := range sched {
		if got := formatDate(c.day); got != want[i] {
			t.Errorf("payment %d on %s, want %s", i, got, want[i])
		}
		if c.interest != 0 || c.principal != 300 {
			t.Errorf("payment %d: interest %v principal %v, want 0 and 300", i, c.interest, c.principal)
		}
	}
	leap := loanSchedule(1000, 0.06, 3, mustDate(t, "2028-01-31"), levelPayment(1000, 0.06, 3))
	if got := formatDate(leap[1].day); got != "2028-02-29" {
		t.Errorf("leap-year February payment on %s", got)
	}
}

func TestLoanScheduleZeroCoupon(t *testing.T) {
	t.Parallel()
	// r = 0: the payment is P/n and the last payment clears the balance.
	if got := levelPayment(1000, 0, 3); got != 1000.0/3 {
		t.Errorf("level payment at 0%% = %v, want 1000/3", got)
	}
	sched := loanSchedule(1000, 0, 3, mustDate(t, "2026-02-10"), levelPayment(1000, 0, 3))
	if len(sched) != 3 {
		t.Fatalf("%d payments", len(sched))
	}
	total := 0.0
	for _, c := range sched {
		total += c.principal
		if c.interest != 0 {
			t.Errorf("interest %v at 0%%", c.interest)
		}
	}
	assertClose(t, "principal repaid", total, 1000, 1e-13)
	assertClose(t, "last principal", sched[2].principal, 1000-2*(1000.0/3), 1e-13)
}

func TestLoanScheduleLevelPayment(t *testing.T) {
	t.Parallel()
	// 10,000 at 12% over 12 months: r = 1%, payment = 100/(1 − 1.01^−12) ≈ 888.4878867834.
	pay := levelPayment(10000, 0.12, 12)
	assertClose(t, "level payment", pay, 100/(1-math.Pow(1.01, -12)), 1e-13)
	assertClose(t, "level payment (published)", pay, 888.4878867834, 1e-12)
	sched := loanSchedule(10000, 0.12, 12, mustDate(t, "2026-02-15"), pay)
	if len(sched) != 12 {
		t.Fatalf("%d payments", len(sched))
	}
	assertClose(t, "first interest", sched[0].interest, 100, 1e-15)
	bal := 10000.0
	for i, c := range sched {
		assertClose(t, "interest on balance", c.interest, bal*0.12/12, 1e-12)
		if i < 11 {
			assertClose(t, "payment", c.interest+c.principal, pay, 1e-12)
		}
		bal -= c.principal
	}
	assertClose(t, "balance after the last payment", bal, 0, 1e-9)
	assertClose(t, "last payment", sched[11].interest+sched[11].principal, pay, 1e-9)
}

func TestLoanScheduleByHand(t *testing.T) {
	t.Parallel()
	// 10,000 at 12% (1% a month) paying 2,000 for 6 months, computed by hand.
	sched := loanSchedule(10000, 0.12, 6, mustDate(t, "2026-03-01"), 2000)
	want := []struct{ interest, principal float64 }{
		{100, 1900},
		{81, 1919},
		{61.81, 1938.19},
		{42.4281, 1957.5719},
		{22.852381, 1977.147619},
		{3.08090481, 308.090481}, // the last payment clears the balance
	}
	if len(sched) != len(want) {
		t.Fatalf("%d payments", len(sched))
	}
	for i, w := range want {
		assertClose(t, "interest", sched[i].interest, w.interest, 1e-11)
		assertClose(t, "principal", sched[i].principal, w.principal, 1e-11)
	}
}

func TestLoanScheduleOvershootEndsEarly(t *testing.T) {
	t.Parallel()
	// 1,000 at 0% paying 300: 300, 300, 300, then just the 100 left.
	sched := loanSchedule(1000, 0, 12, mustDate(t, "2026-02-01"), 300)
	if len(sched) != 4 {
		t.Fatalf("%d payments, want 4", len(sched))
	}
	for i, want := range []float64{300, 300, 300, 100} {
		if got := sched[i].interest + sched[i].principal; got != want {
			t.Errorf("payment %d = %v, want %v", i, got, want)
		}
	}
}

func TestLoanFromTermsPrices(t *testing.T) {
	t.Parallel()
	// Zero rates: PV is the sum of the payments on or after as-of.
	m := MustMarket(t, flatMarketData(0, 0, 0))
	e := MustEngine(t, m, []string{"BASE"}, allLoanMeasures, asOf0)
	p := MustPosition(t, "T", "AMORT_LOAN", nil, map[string]any{
		"as_of_date": "2026-01-23", "current_principal": 1200.0, "coupon_rate": 0.0,
		"last_payment_date": "2025-12-31", "remaining_term_months": 4, "next_payment_date": "2026-01-31",
	})
	v := MustPrice(t, e, p, "BASE")
	assertClose(t, "PV", mustGet(t, v, PV), 1200, 1e-13)
	if x := mustGet(t, v, AccruedInterest); x != 0 {
		t.Errorf("accrued at 0%% = %v", x)
	}
	// Explicit cashflows win over terms.
	attrs := map[string]any{
		"as_of_date": "2026-01-23", "current_principal": 1200.0, "coupon_rate": 0.0,
		"last_payment_date": "2025-12-31", "remaining_term_months": 4, "next_payment_date": "2026-01-31",
		"cashflows": []any{cf("2026-02-28", 0, 77)},
	}
	v = MustPrice(t, e, MustPosition(t, "C", "AMORT_LOAN", nil, attrs), "BASE")
	if got := mustGet(t, v, PV); got != 77 {
		t.Errorf("PV with cashflows and terms = %v, want 77 (cashflows win)", got)
	}
}

func TestLoanPaymentTooSmall(t *testing.T) {
	t.Parallel()
	m := MustMarket(t, flatMarketData(0.04, 0.02, 0.03))
	e := MustEngine(t, m, []string{"BASE"}, allLoanMeasures, asOf0)
	terms := func(payment float64) *Position {
		return MustPosition(t, "S", "AMORT_LOAN", nil, map[string]any{
			"current_principal": 10000.0, "coupon_rate": 0.12, "last_payment_date": "2026-01-01",
			"remaining_term_months": 24, "next_payment_date": "2026-02-01", "monthly_payment": payment,
		})
	}
	// First period's interest: 10,000 × 12% / 12 = 100.
	p := terms(100)
	probs := e.Check(p)
	if !problemAt(probs, "/attributes/monthly_payment", "not above", "100") || probs[0].PositionID != "S" || probs[0].Missing != "" {
		t.Errorf("Check = %v", probs)
	}
	var v Values
	err := e.Price(p, 0, &v)
	var prob Problem
	if !errors.As(err, &prob) || prob.PositionID != "S" || prob.Pointer != "/attributes/monthly_payment" {
		t.Errorf("Price error = %v", err)
	}
	if ok := terms(100.01); len(e.Check(ok)) != 0 {
		t.Errorf("a payment above the interest is refused: %v", e.Check(ok))
	}
}

func TestLoanLastPaymentAfterAsOf(t *testing.T) {
	t.Parallel()
	m := MustMarket(t, flatMarketData(0.04, 0.02, 0.03))
	attrs := loanAttrs(cf("2026-03-01", 1, 100))
	delete(attrs, "as_of_date")
	attrs["last_payment_date"] = "2026-02-01"
	p := MustPosition(t, "LP", "AMORT_LOAN", nil, attrs)

	e := MustEngine(t, m, []string{"BASE"}, allLoanMeasures, asOf0)
	if probs := e.Check(p); !problemAt(probs, "/attributes/last_payment_date", "2026-02-01", "2026-01-23") {
		t.Errorf("Check = %v", probs)
	}
	var v Values
	if err := e.Price(p, 0, &v); err == nil || !strings.Contains(err.Error(), "LP") {
		t.Errorf("Price error = %v", err)
	}
	// A later run as-of (no as_of_date on the position) is fine: 4 days accrued.
	later := MustEngine(t, m, []string{"BASE"}, allLoanMeasures, time.Date(2026, 2, 5, 18, 0, 0, 0, time.UTC))
	if probs := later.Check(p); len(probs) != 0 {
		t.Errorf("Check = %v", probs)
	}
	assertClose(t, "accrued", mustGet(t, MustPrice(t, later, p, "BASE"), AccruedInterest), 1000*0.05*4/360, 1e-15)
}

func TestLoanCurveOverrides(t *testing.T) {
	t.Parallel()
	d := flatMarketData(0.04, 0.02, 0.03)
	d.Curves = append(d.Curves, flatCurve("ALT-OIS", 0.03), flatCurve("ALT-SPREAD", 0.01))
	m := MustMarket(t, d)
	e := MustEngine(t, m, []string{"BASE"}, allLoanMeasures, asOf0)
	attrs := loanAttrs(cf("2027-01-23", 0, 1000))
	attrs["instrument"] = map[string]any{"risk_modeling": map[string]any{"discount_curve": "ALT-OIS", "spread_curve": "ALT-SPREAD"}}
	v := MustPrice(t, e, MustPosition(t, "O", "AMORT_LOAN", nil, attrs), "BASE")
	pv := 1000 * math.Exp(-0.04)
	assertClose(t, "PV on override curves", mustGet(t, v, PV), pv, 1e-14)
	assertClose(t, "DV01 on override curves", mustGet(t, v, DV01), pv*(math.Exp(-0.0001)-1), 1e-9)

	attrs["instrument"] = map[string]any{"risk_modeling": map[string]any{"discount_curve": "NOPE-OIS"}}
	missing := MustPosition(t, "M", "AMORT_LOAN", nil, attrs)
	probs := e.Check(missing)
	if len(probs) != 1 || !problemAt(probs, "/attributes/instrument/risk_modeling/discount_curve", "NOPE-OIS", "FLAT") {
		t.Errorf("Check = %v", probs)
	}
	var out Values
	if err := e.Price(missing, 0, &out); err == nil || !strings.Contains(err.Error(), "NOPE-OIS") {
		t.Errorf("Price error = %v", err)
	}
}

func TestLoanQuantityAndShortPositions(t *testing.T) {
	t.Parallel()
	m := MustMarket(t, flatMarketData(0.04, 0.02, 0.03))
	e := MustEngine(t, m, ScenarioIDs(), allLoanMeasures, asOf0)
	attrs := loanAttrs(cf("2026-06-23", 20, 500), cf("2026-12-23", 10, 500))
	one := MustPosition(t, "Q1", "AMORT_LOAN", nil, attrs)
	for _, q := range []float64{-2, -1, 0, 0.5, 3, 1e6} {
		pq := MustPosition(t, "Q", "AMORT_LOAN", ptr(q), attrs)
		for _, s := range e.Scenarios() {
			v1, vq := MustPrice(t, e, one, s), MustPrice(t, e, pq, s)
			for _, ms := range allLoanMeasures {
				if got, want := mustGet(t, vq, ms), q*mustGet(t, v1, ms); got != want {
					t.Errorf("q=%v %s %s = %v, want q×%v = %v", q, s, ms, got, mustGet(t, v1, ms), want)
				}
			}
		}
	}
	short := MustPrice(t, e, MustPosition(t, "S", "AMORT_LOAN", ptr(-1.0), attrs), "BASE")
	if mustGet(t, short, PV) >= 0 || mustGet(t, short, DV01) <= 0 {
		t.Errorf("short loan: %s", short.AppendJSON(nil))
	}
}

func TestLoanLeapYearDayCount(t *testing.T) {
	t.Parallel()
	d := flatMarketData(0.04, 0.02, 0.03)
	d.AsOfTime = time.Date(2028, 3, 1, 0, 0, 0, 0, time.UTC)
	m := MustMarket(t, d)
	e := MustEngine(t, m, []string{"BASE"}, allLoanMeasures, d.AsOfTime)
	attrs := loanAttrs(cf("2029-03-01", 0, 1000))
	attrs["as_of_date"] = "2027-02-28"
	attrs["last_payment_date"] = "2027-01-31"
	// 2027-02-28 → 2029-03-01 spans 29 February 2028: 732 days, t = 732/365
	// (Actual/365 Fixed), not 2.
	if got := daysBetween(t, "2027-02-28", "2029-03-01"); got != 732 {
		t.Fatalf("days = %d", got)
	}
	v := MustPrice(t, e, MustPosition(t, "Leap", "AMORT_LOAN", nil, attrs), "BASE")
	assertClose(t, "PV", mustGet(t, v, PV), 1000*math.Exp(-0.06*732/365), 1e-14)

	// Accrued interest over February of a leap year: 2028-01-31 → 2028-03-01 is 30 days.
	attrs = loanAttrs(cf("2028-03-31", 0, 1000))
	delete(attrs, "as_of_date")
	attrs["last_payment_date"] = "2028-01-31"
	v = MustPrice(t, e, MustPosition(t, "LeapAccrued", "AMORT_LOAN", nil, attrs), "BASE")
	assertClose(t, "accrued", mustGet(t, v, AccruedInterest), 1000*0.05*30/360, 1e-15)
}

func TestLoanInterpolationRegimes(t *testing.T) {
	t.Parallel()
	// USD-OIS 3M 3%, 1Y 4%, 5Y 5%; LOAN-SPREAD 6M 1%, 2Y 2%.
	d := MarketData{SnapshotID: "SLOPE", AsOfTime: asOf0, Curves: []CurveData{
		{CurveID: "USD-OIS", Nodes: []CurveNode{{Tenor: "5Y", ZeroRate: 0.05}, {Tenor: "3M", ZeroRate: 0.03}, {Tenor: "1Y", ZeroRate: 0.04}}},
		{CurveID: "LOAN-SPREAD", Nodes: []CurveNode{{Tenor: "6M", ZeroRate: 0.01}, {Tenor: "2Y", ZeroRate: 0.02}}},
	}}
	e := MustEngine(t, MustMarket(t, d), []string{"BASE"}, []Measure{PV}, asOf0)
	ois := func(x float64) float64 { return interp([]float64{0.25, 1, 5}, []float64{0.03, 0.04, 0.05}, x) }
	spr := func(x float64) float64 { return interp([]float64{0.5, 2}, []float64{0.01, 0.02}, x) }
	for _, date := range []string{
		"2026-02-10", // before both first nodes: flat 3% and 1%
		"2026-04-23", // t = 90/365, just before 3M
		"2026-07-23", // between 3M and 1Y; before the spread's first node
		"2027-01-23", // exactly 1Y (t = 1)
		"2028-06-30", // between 1Y and 5Y; beyond the spread's last node
		"2033-01-23", // beyond 5Y: flat 5%
	} {
		p := MustPosition(t, "I"+date, "AMORT_LOAN", nil, loanAttrs(cf(date, 0, 100)))
		x := yf(daysBetween(t, "2026-01-23", date))
		want := 100 * math.Exp(-ois(x)*x) * math.Exp(-spr(x)*x)
		assertClose(t, "PV on "+date, mustGet(t, MustPrice(t, e, p, "BASE"), PV), want, 1e-14)
	}
}

// CheckClearFrom is the first run as-of date at which Check finds nothing
// in the position's own data: checked against Check on engines the day
// before and the day itself.
func TestCheckClearFrom(t *testing.T) {
	t.Parallel()
	m := MustMarket(t, flatMarketData(0.04, 0.02, 0.03))
	engineOn := func(asOf time.Time) *Engine { return MustEngine(t, m, []string{"BASE"}, allLoanMeasures, asOf) }
	terms := func(last string, payment float64) *Position {
		return MustPosition(t, "S", "AMORT_LOAN", nil, map[string]any{
			"current_principal": 10000.0, "coupon_rate": 0.12, "last_payment_date": last,
			"remaining_term_months": 24, "next_payment_date": "2026-03-01", "monthly_payment": payment,
		})
	}

	// A loan paid last on 2026-02-01 and no as_of_date of its own: clear
	// from that day (any time of it, UTC), not the day before.
	p := terms("2026-02-01", 500)
	from, ok := p.CheckClearFrom()
	if want := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC); !ok || !from.Equal(want) {
		t.Fatalf("CheckClearFrom = %s %v, want %s", from, ok, want)
	}
	if probs := engineOn(time.Date(2026, 2, 1, 23, 0, 0, 0, time.UTC)).Check(p); len(probs) != 0 {
		t.Errorf("Check on the day = %v", probs)
	}
	if probs := engineOn(time.Date(2026, 1, 31, 23, 59, 0, 0, time.UTC)).Check(p); len(probs) != 1 {
		t.Errorf("Check the day before = %v, want the last payment", probs)
	}

	// A payment not above the first interest (10,000 × 12% / 12 = 100):
	// never clear, whatever the date.
	if _, ok := terms("2026-02-01", 100).CheckClearFrom(); ok {
		t.Error("a loan that never amortizes is clear")
	}
	if probs := engineOn(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)).Check(terms("2026-02-01", 100)); len(probs) == 0 {
		t.Error("Check finds nothing wrong with a loan that never amortizes")
	}

	// A loan with its own as_of_date is checked on that date whatever the
	// run's: clear on any date when its last payment is not after it,
	// never when it is.
	attrs := loanAttrs(cf("2026-07-23", 0, 1000))
	if from, ok := MustPosition(t, "A", "AMORT_LOAN", nil, attrs).CheckClearFrom(); !ok || !from.IsZero() {
		t.Errorf("own as-of, clear: %s %v", from, ok)
	}
	attrs["last_payment_date"] = "2026-01-24"
	late := MustPosition(t, "A", "AMORT_LOAN", nil, attrs)
	if _, ok := late.CheckClearFrom(); ok {
		t.Error("own as-of before the last payment: clear")
	}
	if probs := engineOn(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)).Check(late); len(probs) == 0 {
		t.Error("Check finds nothing wrong with a last payment after the position's own as_of_date")
	}

	// A bond has nothing of its own to check.
	b := MustPosition(t, "B", "FIXED_BOND", nil, map[string]any{"cashflows": []any{map[string]any{"pay_date": "2026-07-23", "amount": 25.0}}})
	if from, ok := b.CheckClearFrom(); !ok || !from.IsZero() {
		t.Errorf("bond: %s %v", from, ok)
	}
}

// loanCashflow is one generated payment.
type loanCashflow struct {
	day       int32
	interest  float64
	principal float64
}

// loanSchedule lists the payments eachScheduled generates.
func loanSchedule(principal, coupon float64, n int, first int32, payment float64) []loanCashflow {
	cfs := make([]loanCashflow, 0, n)
	eachScheduled(principal, coupon, n, first, payment, func(d int32, interest, principal float64) {
		cfs = append(cfs, loanCashflow{day: d, interest: interest, principal: principal})
	})
	return cfs
}
