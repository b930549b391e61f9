package pricing

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A reference implementation of SPEC §2 written as plainly as possible,
// with the time package for dates and math.Exp, sharing no code with the
// engine. The engine must agree with it on random books and markets.

// refCurve is a zero curve, plus add(t) added to the zero rate when it is
// not nil (a key-rate triangle).
type refCurve struct {
	ts, rs []float64
	add    func(t float64) float64
}

// refKeyRateTenors are T₁…T₁₁ of the KR01 ladder in years.
var refKeyRateTenors = []float64{0.25, 0.5, 1, 2, 3, 5, 7, 10, 15, 20, 30}

// refTriangle is wⱼ(t) of SPEC §4.2 for j = 0…10: 1 at Tⱼ, 0 at its
// neighbours, linear between; w₀ = 1 before T₀ and w₁₀ = 1 after T₁₀.
func refTriangle(j int, t float64) float64 {
	T := refKeyRateTenors
	switch {
	case j == 0 && t <= T[0], j == len(T)-1 && t >= T[j]:
		return 1
	case j > 0 && t > T[j-1] && t <= T[j]:
		return (t - T[j-1]) / (T[j] - T[j-1])
	case j < len(T)-1 && t >= T[j] && t < T[j+1]:
		return (T[j+1] - t) / (T[j+1] - T[j])
	}
	return 0
}

// keyRate returns the curve with 1bp·wⱼ added to its zero rate.
func (c refCurve) keyRate(j int) refCurve {
	return refCurve{ts: c.ts, rs: c.rs, add: func(t float64) float64 { return 0.0001 * refTriangle(j, t) }}
}

func refTenor(tb testing.TB, s string) float64 {
	if s == "ON" {
		return 1.0 / 365
	}
	n, err := strconv.Atoi(s[:len(s)-1])
	if err != nil {
		tb.Fatalf("tenor %s", s)
	}
	switch s[len(s)-1] {
	case 'D':
		return float64(n) / 365
	case 'W':
		return float64(n) / 52
	case 'M':
		return float64(n) / 12
	}
	return float64(n)
}

func refCurves(tb testing.TB, md MarketData, scenario string) (map[string]refCurve, map[string]float64) {
	curves := map[string]refCurve{}
	for _, c := range md.Curves {
		type node struct{ t, r float64 }
		var nodes []node
		for _, n := range c.Nodes {
			r := n.ZeroRate
			if scenario == "RATES_PARALLEL_1BP" && strings.HasSuffix(c.CurveID, "-OIS") {
				r += 0.0001
			}
			if scenario == "SPREAD_25BP" && strings.HasSuffix(c.CurveID, "-SPREAD") {
				r += 0.0025
			}
			nodes = append(nodes, node{refTenor(tb, n.Tenor), r})
		}
		sort.Slice(nodes, func(i, j int) bool { return nodes[i].t < nodes[j].t })
		var rc refCurve
		for _, n := range nodes {
			rc.ts = append(rc.ts, n.t)
			rc.rs = append(rc.rs, n.r)
		}
		curves[c.CurveID] = rc
	}
	spots := map[string]float64{}
	for _, s := range md.FXSpots {
		spots[s.Pair] = s.Spot
		if scenario == "FX_SPOT_1PCT" {
			spots[s.Pair] = s.Spot * 1.01
		}
	}
	return curves, spots
}

func (c refCurve) bump(h float64) refCurve {
	out := refCurve{ts: c.ts}
	for _, r := range c.rs {
		out.rs = append(out.rs, r+h)
	}
	return out
}

func (c refCurve) df(t float64) float64 {
	r := interp(c.ts, c.rs, t)
	if c.add != nil {
		r += c.add(t)
	}
	return math.Exp(-r * t)
}

func refDate(tb testing.TB, s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

func refDays(a, b time.Time) int { return int(math.Round(b.Sub(a).Hours() / 24)) }

type refFlow struct {
	date      time.Time
	amount    float64
	principal float64
}

// refLoanFlows lists a loan's cashflows: explicit, or generated from terms.
func refLoanFlows(tb testing.TB, a map[string]any) []refFlow {
	var out []refFlow
	if cfs, ok := a["cashflows"].([]any); ok {
		for _, x := range cfs {
			c := x.(map[string]any)
			out = append(out, refFlow{refDate(tb, c["pay_date"].(string)), c["interest"].(float64) + c["principal"].(float64), c["principal"].(float64)})
		}
		return out
	}
	p, c, n := a["current_principal"].(float64), a["coupon_rate"].(float64), a["remaining_term_months"].(int)
	first := refDate(tb, a["next_payment_date"].(string))
	r := c / 12
	pay := p / float64(n)
	if r != 0 {
		pay = p * r / (1 - math.Pow(1+r, -float64(n)))
	}
	if mp, ok := a["monthly_payment"].(float64); ok {
		pay = mp
	}
	bal := p
	for k := 0; k < n; k++ {
		// The same day of the month, or the month's last day.
		firstOfMonth := time.Date(first.Year(), first.Month()+time.Month(k), 1, 0, 0, 0, 0, time.UTC)
		last := firstOfMonth.AddDate(0, 1, -1).Day()
		date := time.Date(firstOfMonth.Year(), firstOfMonth.Month(), min(first.Day(), last), 0, 0, 0, 0, time.UTC)
		interest := bal * c / 12
		if k == n-1 || pay >= bal+interest {
			out = append(out, refFlow{date, bal + interest, bal})
			break
		}
		out = append(out, refFlow{date, pay, pay - interest})
		bal -= pay - interest
	}
	return out
}

// refPrice values one position under one scenario.
func refPrice(tb testing.TB, md MarketData, scenario, productType string, qty float64, a map[string]any, runAsOf time.Time) map[string]float64 {
	curves, spots := refCurves(tb, md, scenario)
	asOf := time.Date(runAsOf.Year(), runAsOf.Month(), runAsOf.Day(), 0, 0, 0, 0, time.UTC)
	if s, ok := a["as_of_date"].(string); ok {
		asOf = refDate(tb, s)
	}
	oisUp := func(id string) refCurve {
		if strings.HasSuffix(id, "-OIS") {
			return curves[id].bump(0.0001)
		}
		return curves[id]
	}
	out := map[string]float64{}
	switch productType {
	case "AMORT_LOAN", "FIXED_BOND":
		disc, spread := "USD-OIS", "LOAN-SPREAD"
		var flows []refFlow
		if productType == "FIXED_BOND" {
			spread = "FI-SPREAD"
			for _, x := range a["cashflows"].([]any) {
				c := x.(map[string]any)
				flows = append(flows, refFlow{date: refDate(tb, c["pay_date"].(string)), amount: c["amount"].(float64)})
			}
			acc, _ := a["accrued_interest"].(float64)
			out["ACCRUED_INTEREST"] = qty * acc
		} else {
			flows = refLoanFlows(tb, a)
			days := refDays(refDate(tb, a["last_payment_date"].(string)), asOf)
			out["ACCRUED_INTEREST"] = qty * a["current_principal"].(float64) * a["coupon_rate"].(float64) * float64(days) / 360
		}
		pv := func(d, s refCurve) float64 {
			sum := 0.0
			for _, f := range flows {
				days := refDays(asOf, f.date)
				if days < 0 {
					continue
				}
				t := float64(days) / 365
				sum += f.amount * d.df(t) * s.df(t)
			}
			return sum
		}
		base := pv(curves[disc], curves[spread])
		out["PV"] = qty * base
		out["DV01"] = qty * (pv(oisUp(disc), oisUp(spread)) - base)
		out["CS01"] = qty * (pv(curves[disc], curves[spread].bump(0.0001)) - base)
		for j, tenor := range []string{"3M", "6M", "1Y", "2Y", "3Y", "5Y", "7Y", "10Y", "15Y", "20Y", "30Y"} {
			out["KR01:"+disc+":"+tenor] = qty * (pv(curves[disc].keyRate(j), curves[spread]) - base)
		}
		if productType == "AMORT_LOAN" {
			// Contractual: WAL of the principal flows, no expected loss.
			num, den := 0.0, 0.0
			for _, f := range flows {
				if days := refDays(asOf, f.date); days >= 0 {
					num += float64(days) / 365 * f.principal
					den += f.principal
				}
			}
			if den > 0 {
				out["WAL"] = num / den
			}
			out["EXPECTED_LOSS"] = 0
		}
	case "FX_FWD":
		pair := "EURUSD"
		if p, ok := a["fx_pair"].(string); ok {
			pair = p
		}
		n, k := a["notional_base"].(float64), a["forward_rate"].(float64)
		days := refDays(asOf, refDate(tb, a["maturity_date"].(string)))
		dom, frn := "USD-OIS", pair[:3]+"-OIS"
		tenors := []string{"3M", "6M", "1Y", "2Y", "3Y", "5Y", "7Y", "10Y", "15Y", "20Y", "30Y"}
		if days < 0 {
			out = map[string]float64{"PV": 0, "DV01": 0, "FX_DELTA": 0}
			for _, tenor := range tenors {
				out["KR01:"+dom+":"+tenor], out["KR01:"+frn+":"+tenor] = 0, 0
			}
			return out
		}
		t := float64(days) / 365
		pv := func(d, f refCurve) float64 { return n * (spots[pair]*f.df(t) - k*d.df(t)) }
		base := pv(curves[dom], curves[frn])
		out["PV"] = qty * base
		out["DV01"] = qty * (pv(oisUp(dom), oisUp(frn)) - base)
		out["FX_DELTA"] = qty * n * curves[frn].df(t)
		for j, tenor := range tenors {
			out["KR01:"+dom+":"+tenor] = qty * (pv(curves[dom].keyRate(j), curves[frn]) - base)
			out["KR01:"+frn+":"+tenor] = qty * (pv(curves[dom], curves[frn].keyRate(j)) - base)
		}
	}
	return out
}

// randomAttrs makes one random position's attributes.
func randomAttrs(rng *rand.Rand, i int) (string, float64, map[string]any) {
	date := func(base string, days int) string {
		d, _ := time.Parse(time.DateOnly, base)
		return d.AddDate(0, 0, days).Format(time.DateOnly)
	}
	qty := float64(1+rng.IntN(4)) * []float64{1, -1}[rng.IntN(2)]
	switch i % 5 {
	case 0, 1:
		a := map[string]any{
			"current_principal": 1000 + 50000*rng.Float64(), "coupon_rate": []float64{0, 0.2 * rng.Float64()}[rng.IntN(2)],
			"last_payment_date": date("2025-12-01", rng.IntN(50)), "remaining_term_months": 1 + rng.IntN(240),
			"next_payment_date": date("2026-01-10", rng.IntN(60)),
		}
		if rng.IntN(3) == 0 {
			a["next_payment_date"] = []string{"2026-01-31", "2026-03-31", "2027-08-31", "2026-01-30"}[rng.IntN(4)]
		}
		if i%5 == 1 {
			// A rounded-up billed payment: the schedule may end early.
			p, c, n := a["current_principal"].(float64), a["coupon_rate"].(float64), a["remaining_term_months"].(int)
			a["monthly_payment"] = math.Ceil(levelPayment(p, c, n)*1.1*100) / 100
		}
		if rng.IntN(2) == 0 {
			a["as_of_date"] = date("2026-01-20", rng.IntN(10))
		}
		return "AMORT_LOAN", qty, a
	case 2:
		var flows []any
		for k := range 1 + rng.IntN(60) {
			flows = append(flows, map[string]any{"pay_date": date("2025-12-15", 30*k+rng.IntN(30)), "interest": 100 * rng.Float64(), "principal": 500 * rng.Float64()})
		}
		return "AMORT_LOAN", qty, map[string]any{"current_principal": 20000.0, "coupon_rate": 0.1, "last_payment_date": "2026-01-01", "cashflows": flows}
	case 3:
		var flows []any
		for k := range 1 + rng.IntN(40) {
			flows = append(flows, map[string]any{"pay_date": date("2025-12-01", 182*k+rng.IntN(5)), "amount": 10 + 1000*rng.Float64()})
		}
		return "FIXED_BOND", qty, map[string]any{"cashflows": flows, "accrued_interest": 10 * rng.Float64()}
	default:
		return "FX_FWD", qty, map[string]any{
			"fx_pair": []string{"EURUSD", "GBPUSD"}[rng.IntN(2)], "notional_base": 1e5 * float64(1+rng.IntN(20)),
			"forward_rate": 1 + rng.Float64()/2, "maturity_date": date("2026-01-01", rng.IntN(4000)),
		}
	}
}

func TestEngineAgreesWithReference(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(21, 22))
	for trial := range 5 {
		md := randomMarketData(rng)
		runAsOf := time.Date(2026, 1, 23, 17, 0, 0, 0, time.UTC)
		e := MustEngine(t, MustMarket(t, md), ScenarioIDs(), Measures(), runAsOf)
		for i := range 60 {
			pt, qty, a := randomAttrs(rng, i)
			id := fmt.Sprintf("T%d-%d", trial, i)
			p := MustPosition(t, id, pt, ptr(qty), a)
			if probs := e.Check(p); len(probs) > 0 {
				t.Fatalf("%s: %v", id, probs)
			}
			for _, s := range e.Scenarios() {
				got := MustPrice(t, e, p, s)
				want := refPrice(t, md, s, pt, qty, a, runAsOf)
				flat := flatValues(got)
				if len(flat) != len(want) {
					t.Errorf("%s %s: engine %s, reference %v", id, s, got.AppendJSON(nil), want)
					continue
				}
				for name, w := range want {
					m, _ := ParseMeasure(strings.Split(name, ":")[0])
					g, ok := flat[name]
					if !ok {
						t.Errorf("%s %s: %s missing from %s", id, s, name, got.AppendJSON(nil))
						continue
					}
					// PV and ACCRUED_INTEREST to 1e-12 of their size; DV01 and
					// CS01 are differences of PVs, so to 1e-12 of the PV.
					scale := math.Max(1, math.Abs(w))
					// KR01 likewise; the reference takes the difference of
					// two PVs, the engine sums differences of discount
					// factors, so the two agree to rounding of the PV.
					if m == DV01 || m == CS01 || m == KR01 {
						scale = math.Max(scale, math.Abs(want["PV"]))
						if pt == "FX_FWD" {
							scale = math.Max(scale, math.Abs(qty*a["notional_base"].(float64)))
						}
					}
					if pt == "FX_FWD" && m == PV {
						scale = math.Max(scale, math.Abs(qty*a["notional_base"].(float64)))
					}
					if math.Abs(g-w) > 1e-12*scale {
						t.Errorf("%s %s %s: engine %.17g, reference %.17g", id, s, name, g, w)
					}
				}
			}
		}
	}
}

// flatValues lists the measures of v by name, KR01 as one entry
// "KR01:<curve>:<tenor>" per curve and tenor.
func flatValues(v Values) map[string]float64 {
	out := v.Map()
	tenors := KeyRateTenors()
	for _, l := range v.KR01() {
		for j, x := range l.DV01 {
			out["KR01:"+l.Curve+":"+tenors[j]] = x
		}
	}
	return out
}
