package pricing

import (
	"encoding/json"
	"math"
	"os"
	"testing"
	"time"
)

// asOf0 is the as-of date used by most tests: 2026-01-23.
var asOf0 = time.Date(2026, 1, 23, 0, 0, 0, 0, time.UTC)

// MustMarket builds a market or fails the test.
func MustMarket(tb testing.TB, d MarketData) *Market {
	tb.Helper()
	m, err := NewMarket(d)
	if err != nil {
		tb.Fatalf("NewMarket: %v", err)
	}
	return m
}

// flatCurve is a one-node curve, flat at r everywhere.
func flatCurve(id string, r float64) CurveData {
	return CurveData{CurveID: id, Nodes: []CurveNode{{Tenor: "1Y", ZeroRate: r}}}
}

// flatMarketData has flat USD-OIS at r, LOAN-SPREAD and FI-SPREAD at s,
// EUR-OIS and GBP-OIS at rf, and EURUSD, GBPUSD spots.
func flatMarketData(r, s, rf float64) MarketData {
	return MarketData{
		SnapshotID: "FLAT",
		AsOfTime:   asOf0,
		FXSpots:    []FXSpot{{Pair: "EURUSD", Spot: 1.1}, {Pair: "GBPUSD", Spot: 1.25}},
		Curves: []CurveData{
			flatCurve("USD-OIS", r), flatCurve("EUR-OIS", rf), flatCurve("GBP-OIS", rf),
			flatCurve("LOAN-SPREAD", s), flatCurve("FI-SPREAD", s),
		},
	}
}

// MustPosition parses a position built from attributes, or fails the test.
func MustPosition(tb testing.TB, id, productType string, qty *float64, attrs map[string]any) *Position {
	tb.Helper()
	raw, err := json.Marshal(attrs)
	if err != nil {
		tb.Fatal(err)
	}
	p, probs := ParsePosition(PositionInput{PositionID: id, ProductType: productType, Quantity: qty, Attributes: raw})
	if len(probs) > 0 {
		tb.Fatalf("ParsePosition(%s): %v", id, probs)
	}
	return p
}

// parseProblems parses a position given as JSON text and returns its
// problems.
func parseProblems(tb testing.TB, positionJSON string) []Problem {
	tb.Helper()
	var in PositionInput
	if err := json.Unmarshal([]byte(positionJSON), &in); err != nil {
		tb.Fatalf("decode %s: %v", positionJSON, err)
	}
	p, probs := ParsePosition(in)
	if (p == nil) == (len(probs) == 0) {
		tb.Fatalf("ParsePosition returned position %v with problems %v", p, probs)
	}
	return probs
}

// MustEngine builds an engine or fails the test.
func MustEngine(tb testing.TB, m *Market, scenarios []string, measures []Measure, asOf time.Time) *Engine {
	tb.Helper()
	e, err := NewEngine(m, scenarios, measures, asOf)
	if err != nil {
		tb.Fatalf("NewEngine: %v", err)
	}
	return e
}

// MustPrice prices a position under a scenario id or fails the test.
func MustPrice(tb testing.TB, e *Engine, p *Position, scenario string) Values {
	tb.Helper()
	i, ok := e.ScenarioIndex(scenario)
	if !ok {
		tb.Fatalf("engine has no scenario %s", scenario)
	}
	var v Values
	if err := e.Price(p, i, &v); err != nil {
		tb.Fatalf("Price(%s, %s): %v", p.ID, scenario, err)
	}
	return v
}

// mustGet returns a measure that must be present.
func mustGet(tb testing.TB, v Values, m Measure) float64 {
	tb.Helper()
	x, ok := v.Get(m)
	if !ok {
		tb.Fatalf("measure %s absent from %s", m, v.AppendJSON(nil))
	}
	return x
}

// assertClose checks |got − want| ≤ tol·max(1, |want|).
func assertClose(tb testing.TB, what string, got, want, tol float64) {
	tb.Helper()
	if math.IsNaN(got) || math.Abs(got-want) > tol*math.Max(1, math.Abs(want)) {
		tb.Errorf("%s = %.17g, want %.17g (tol %g)", what, got, want, tol)
	}
}

// yf is days/365.
func yf(days int) float64 { return float64(days) / 365 }

// daysBetween counts days between two YYYY-MM-DD dates with the time
// package, independently of the package's own date arithmetic.
func daysBetween(tb testing.TB, from, to string) int {
	tb.Helper()
	a, err := time.Parse(time.DateOnly, from)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := time.Parse(time.DateOnly, to)
	if err != nil {
		tb.Fatal(err)
	}
	return int(b.Sub(a).Hours() / 24)
}

func readTestdata(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func ptr[T any](v T) *T { return &v }

func mustUnmarshal(tb testing.TB, b []byte, v any) {
	tb.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		tb.Fatal(err)
	}
}
