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

type refCurve struct{ ts, rs []float64 }

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

func (c refCurve) df(t float64) float64 { return math.Exp(-interp(c.ts, c.rs, t) * t) }

func refDate(tb testing.TB, s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

func refDays(a, b time.Time) int { return int(math.Round(b.Sub(a).Hours() / 24)) }

type refFlow struct {
	date   time.Time
	amount float64
}

// refLoanFlows lists a loan's cashflows: explicit, or generated from terms.
func refLoanFlows(tb testing.TB, a map[string]any) []refFlow {
	var out []refFlow
	if cfs, ok := a["cashflows"].([]any); ok {
		for _, x := range cfs {
			c := x.(map[string]any)
			out = append(out, refFlow{refDate(tb, c["pay_date"].(string)), c["interest"].(float64) + c["principal"].(float64)})
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
			out = append(out, refFlow{date, bal + interest})
			break
		}
		out = append(out, refFlow{date, pay})
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
				flows = append(flows, refFlow{refDate(tb, c["pay_date"].(string)), c["amount"].(float64)})
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
	case "FX_FWD":
		pair := "EURUSD"
		if p, ok := a["fx_pair"].(string); ok {
			pair = p
		}
		n, k := a["notional_base"].(float64), a["forward_rate"].(float64)
		days := refDays(asOf, refDate(tb, a["maturity_date"].(string)))
		if days < 0 {
			return map[string]float64{"PV": 0, "DV01": 0, "FX_DELTA": 0}
		}
		t := float64(days) / 365
		dom, frn := "USD-OIS", pair[:3]+"-OIS"
		pv := func(d, f refCurve) float64 { return n * (spots[pair]*f.df(t) - k*d.df(t)) }
		base := pv(curves[dom], curves[frn])
		out["PV"] = qty * base
		out["DV01"] = qty * (pv(oisUp(dom), oisUp(frn)) - base)
		out["FX_DELTA"] = qty * n * curves[frn].df(t)
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
				if got.Len() != len(want) {
					t.Errorf("%s %s: engine %s, reference %v", id, s, got.AppendJSON(nil), want)
					continue
				}
				for name, w := range want {
					m, _ := ParseMeasure(name)
					g := mustGet(t, got, m)
					// PV and ACCRUED_INTEREST to 1e-12 of their size; DV01 and
					// CS01 are differences of PVs, so to 1e-12 of the PV.
					scale := math.Max(1, math.Abs(w))
					if m == DV01 || m == CS01 {
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
