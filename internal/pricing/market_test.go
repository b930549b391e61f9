package pricing

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestCompatMarketFixturesDecode(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"market_snapshot_demo.json", "marketdata_snapshot_eod.json"} {
		var d MarketData
		dec := json.NewDecoder(strings.NewReader(string(readTestdata(t, name))))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&d); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		m := MustMarket(t, d)
		if !m.HasCurve("USD-OIS") || !m.HasCurve("LOAN-SPREAD") || !m.HasFXSpot("EURUSD") {
			t.Errorf("%s: market lacks USD-OIS, LOAN-SPREAD or EURUSD", name)
		}
		if m.SnapshotID() != d.SnapshotID || !m.AsOfTime().Equal(d.AsOfTime) {
			t.Errorf("%s: snapshot id or as-of lost", name)
		}
	}
	var d MarketData
	if err := json.Unmarshal(readTestdata(t, "marketdata_snapshot_eod.json"), &d); err != nil {
		t.Fatal(err)
	}
	m := MustMarket(t, d)
	// EUR-OIS between 3M (3.05%) and 6M (3.1%) at t = 0.375: 3.075%.
	r, ok := m.ZeroRate("EUR-OIS", 0.375)
	if !ok {
		t.Fatal("no EUR-OIS")
	}
	assertClose(t, "EUR-OIS(0.375)", r, 0.03075, 1e-15)
	if s, _ := m.FXSpot("EURUSD"); s != 1.0842 {
		t.Errorf("EURUSD = %v", s)
	}
}

func TestNewMarketRejectsEveryFailure(t *testing.T) {
	t.Parallel()
	d := MarketData{
		SnapshotID: "BAD",
		FXSpots: []FXSpot{
			{Pair: "EURUSD", Spot: 1.1}, {Pair: "EURUSD", Spot: 1.2}, {Pair: "GBPUSD", Spot: 0},
			{Pair: "JPYUSD", Spot: math.Inf(1)}, {Pair: "", Spot: 1},
		},
		Curves: []CurveData{
			flatCurve("USD-OIS", 0.04), flatCurve("USD-OIS", 0.04),
			{CurveID: "EMPTY"}, {CurveID: "BADTENOR", Nodes: []CurveNode{{Tenor: "1Q", ZeroRate: 0.01}}},
			{CurveID: "NAN", Nodes: []CurveNode{{Tenor: "1Y", ZeroRate: math.NaN()}}},
		},
	}
	_, err := NewMarket(d)
	if err == nil {
		t.Fatal("NewMarket accepted a broken snapshot")
	}
	for _, want := range []string{"USD-OIS\" appears twice", "EMPTY\" has no nodes", "1Q", "NAN", "EURUSD appears twice",
		"GBPUSD must be finite and positive", "JPYUSD must be finite and positive", "pair is missing"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestScenarioMarkets(t *testing.T) {
	t.Parallel()
	d := flatMarketData(0.04, 0.02, 0.03)
	d.Curves = append(d.Curves, flatCurve("USD-SOFR", 0.05))
	m := MustMarket(t, d)
	ids := ScenarioIDs()
	want := []string{"BASE", "RATES_PARALLEL_1BP", "SPREAD_25BP", "FX_SPOT_1PCT"}
	if strings.Join(ids, ",") != strings.Join(want, ",") {
		t.Fatalf("ScenarioIDs = %v", ids)
	}
	for _, id := range want {
		if !IsScenario(id) {
			t.Errorf("IsScenario(%s) = false", id)
		}
	}
	if IsScenario("base") || IsScenario("RATES_PARALLEL_2BP") {
		t.Error("IsScenario accepts unknown ids")
	}
	rate := func(m *Market, id string) float64 {
		r, ok := m.ZeroRate(id, 2)
		if !ok {
			t.Fatalf("no curve %s", id)
		}
		return r
	}
	spot := func(m *Market, p string) float64 {
		s, _ := m.FXSpot(p)
		return s
	}
	base, _ := ScenarioMarket(m, "BASE")
	rates, _ := ScenarioMarket(m, "RATES_PARALLEL_1BP")
	spread, _ := ScenarioMarket(m, "SPREAD_25BP")
	fx, _ := ScenarioMarket(m, "FX_SPOT_1PCT")
	for _, c := range m.CurveIDs() {
		if rate(base, c) != rate(m, c) {
			t.Errorf("BASE changed %s", c)
		}
		wantRates, wantSpread := rate(m, c), rate(m, c)
		if strings.HasSuffix(c, "-OIS") {
			wantRates += 0.0001
		}
		if strings.HasSuffix(c, "-SPREAD") {
			wantSpread += 0.0025
		}
		if got := rate(rates, c); got != wantRates {
			t.Errorf("RATES_PARALLEL_1BP %s = %v, want %v", c, got, wantRates)
		}
		if got := rate(spread, c); got != wantSpread {
			t.Errorf("SPREAD_25BP %s = %v, want %v", c, got, wantSpread)
		}
		if rate(fx, c) != rate(m, c) {
			t.Errorf("FX_SPOT_1PCT changed curve %s", c)
		}
	}
	for _, p := range m.FXPairs() {
		if spot(base, p) != spot(m, p) || spot(rates, p) != spot(m, p) || spot(spread, p) != spot(m, p) {
			t.Errorf("a non-FX scenario changed spot %s", p)
		}
		if got, want := spot(fx, p), spot(m, p)*1.01; got != want {
			t.Errorf("FX_SPOT_1PCT %s = %v, want %v", p, got, want)
		}
	}
	// The base market is untouched by building scenarios.
	if rate(m, "USD-OIS") != 0.04 || spot(m, "EURUSD") != 1.1 {
		t.Error("building a scenario modified the base market")
	}
	if _, ok := ScenarioMarket(m, "NOPE"); ok {
		t.Error("ScenarioMarket accepted an unknown id")
	}
}

func TestMarketDiscountFactor(t *testing.T) {
	t.Parallel()
	m := MustMarket(t, flatMarketData(0.04, 0.02, 0.03))
	// 730 days: t = 2.
	df, err := m.DiscountFactor("USD-OIS", "", 730)
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, "df without spread", df, math.Exp(-0.08), 1e-15)
	df, err = m.DiscountFactor("USD-OIS", "LOAN-SPREAD", 730)
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, "df with spread", df, math.Exp(-0.08)*math.Exp(-0.04), 1e-15)
	if _, err := m.DiscountFactor("NOPE", "", 1); err == nil || !strings.Contains(err.Error(), "NOPE") {
		t.Errorf("missing discount curve: %v", err)
	}
	if _, err := m.DiscountFactor("USD-OIS", "NOPE-SPREAD", 1); err == nil || !strings.Contains(err.Error(), "NOPE-SPREAD") {
		t.Errorf("missing spread curve: %v", err)
	}
	if got := strings.Join(m.CurveIDs(), ","); got != "EUR-OIS,FI-SPREAD,GBP-OIS,LOAN-SPREAD,USD-OIS" {
		t.Errorf("CurveIDs = %s", got)
	}
	if got := strings.Join(m.FXPairs(), ","); got != "EURUSD,GBPUSD" {
		t.Errorf("FXPairs = %s", got)
	}
	if _, ok := m.ZeroRate("NOPE", 1); ok {
		t.Error("ZeroRate of a missing curve")
	}
}
