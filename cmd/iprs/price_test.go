package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runPrice runs `iprs price` in-process with the given arguments.
func runPrice(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := newPriceCmd()
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SilenceUsage = true
	cmd.SilenceErrors = true
	err = cmd.ExecuteContext(context.Background())
	return out.String(), errb.String(), err
}

type priceLine struct {
	PositionID string             `json:"position_id"`
	ScenarioID string             `json:"scenario_id"`
	Measures   map[string]float64 `json:"measures"`
}

func priceDecodeLines(t *testing.T, out string) []priceLine {
	t.Helper()
	var lines []priceLine
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if l == "" {
			continue
		}
		var pl priceLine
		dec := json.NewDecoder(strings.NewReader(l))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&pl); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		lines = append(lines, pl)
	}
	return lines
}

func priceWriteFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const priceFixtures = "testdata/price/"

func TestPriceCompatFixtures(t *testing.T) {
	t.Parallel()
	out, stderr, err := runPrice(t, "--market", priceFixtures+"market_snapshot_demo.json", "--positions", priceFixtures+"positions_snapshot_demo.json",
		"--measures", "PV,DV01,CS01,ACCRUED_INTEREST,FX_DELTA", "--scenarios", "BASE,RATES_PARALLEL_1BP")
	if err != nil {
		t.Fatalf("err %v, stderr %s", err, stderr)
	}
	lines := priceDecodeLines(t, out)
	if len(lines) != 6 {
		t.Fatalf("%d lines, want 3 positions × 2 scenarios:\n%s", len(lines), out)
	}
	wantIDs := []string{"POS-SFC_5685642", "POS-SFC_5707491", "POS-SFC_5724283"}
	for i, l := range lines {
		if l.PositionID != wantIDs[i/2] || l.ScenarioID != []string{"BASE", "RATES_PARALLEL_1BP"}[i%2] {
			t.Errorf("line %d is %s/%s", i, l.PositionID, l.ScenarioID)
		}
		if _, ok := l.Measures["FX_DELTA"]; ok || len(l.Measures) != 4 {
			t.Errorf("line %d measures %v: want the four loan measures only", i, l.Measures)
		}
		if l.Measures["PV"] <= 0 || l.Measures["DV01"] >= 0 || l.Measures["CS01"] >= 0 {
			t.Errorf("line %d: %v", i, l.Measures)
		}
	}
	// The first loan's accrued interest: 20229.7 × 19.5% × 31/360.
	if got, want := lines[0].Measures["ACCRUED_INTEREST"], 20229.7*0.195*31/360; math.Abs(got-want) > 1e-9 {
		t.Errorf("ACCRUED_INTEREST = %v, want %v", got, want)
	}
	// Under +1bp the PV is lower by about DV01.
	if d := lines[1].Measures["PV"] - lines[0].Measures["PV"]; math.Abs(d-lines[0].Measures["DV01"]) > 1e-9 {
		t.Errorf("PV(+1bp) − PV = %v, DV01 = %v", d, lines[0].Measures["DV01"])
	}
	// The EOD market works too.
	if _, stderr, err := runPrice(t, "--market", priceFixtures+"marketdata_snapshot_eod.json", "--positions", priceFixtures+"positions_snapshot_demo.json"); err != nil {
		t.Fatalf("EOD market: %v %s", err, stderr)
	}
}

const priceFlatMarket = `{"snapshot_id":"FLAT","as_of_time":"2026-01-23T17:00:00Z","fx_spots":[{"pair":"EURUSD","spot":1.1}],
"curves":[{"curve_id":"USD-OIS","curve_type":"DISCOUNT","nodes":[{"tenor":"1Y","zero_rate":0.04}]},
{"curve_id":"EUR-OIS","curve_type":"DISCOUNT","nodes":[{"tenor":"1Y","zero_rate":0.03}]},
{"curve_id":"LOAN-SPREAD","curve_type":"SPREAD","nodes":[{"tenor":"1Y","zero_rate":0.02}]},
{"curve_id":"FI-SPREAD","curve_type":"SPREAD","nodes":[{"tenor":"1Y","zero_rate":0.01}]}]}`

func TestPriceHandComputedAndAsOf(t *testing.T) {
	t.Parallel()
	market := priceWriteFile(t, "m.json", priceFlatMarket)
	// No as_of_date: the run's as-of applies. 2027-01-23 is t = 1 from 2026-01-23.
	positions := priceWriteFile(t, "p.json", `[
{"position_id":"L1","instrument_id":"I1","product_type":"AMORT_LOAN","quantity":2,"attributes":{"current_principal":1000,"coupon_rate":0.06,
 "last_payment_date":"2026-01-03","cashflows":[{"pay_date":"2027-01-23","interest":60,"principal":1000}]}},
{"position_id":"F1","instrument_id":"I2","product_type":"FX_FWD","attributes":{"notional_base":1000000,"forward_rate":1.12,"maturity_date":"2027-01-23"}}]`)
	out, stderr, err := runPrice(t, "--market", market, "--positions", positions, "--measures", "PV,ACCRUED_INTEREST,FX_DELTA")
	if err != nil {
		t.Fatalf("%v %s", err, stderr)
	}
	lines := priceDecodeLines(t, out)
	if len(lines) != 2 {
		t.Fatalf("%d lines", len(lines))
	}
	check := func(what string, got, want, tol float64) {
		t.Helper()
		if math.Abs(got-want) > tol {
			t.Errorf("%s = %.15g, want %.15g", what, got, want)
		}
	}
	// Default as-of: the market's as_of_time, 2026-01-23 (20 days after the last payment).
	check("loan PV", lines[0].Measures["PV"], 2*1060*math.Exp(-0.06), 1e-10)
	check("loan accrued", lines[0].Measures["ACCRUED_INTEREST"], 2*1000*0.06*20/360, 1e-12)
	check("forward PV", lines[1].Measures["PV"], 1e6*(1.1*math.Exp(-0.03)-1.12*math.Exp(-0.04)), 1e-7)
	check("forward FX_DELTA", lines[1].Measures["FX_DELTA"], 1e6*math.Exp(-0.03), 1e-8)
	if _, ok := lines[1].Measures["ACCRUED_INTEREST"]; ok {
		t.Error("ACCRUED_INTEREST must be absent for an FX forward")
	}

	// --as-of moves the valuation date: 2026-02-02 is 10 days later.
	out, stderr, err = runPrice(t, "--market", market, "--positions", positions, "--measures", "ACCRUED_INTEREST", "--as-of", "2026-02-02T09:00:00Z")
	if err != nil {
		t.Fatalf("%v %s", err, stderr)
	}
	lines = priceDecodeLines(t, out)
	check("loan accrued at --as-of", lines[0].Measures["ACCRUED_INTEREST"], 2*1000*0.06*30/360, 1e-12)
}

func TestPriceRefusesBadInput(t *testing.T) {
	t.Parallel()
	market := priceWriteFile(t, "m.json", priceFlatMarket)
	good := priceFixtures + "positions_snapshot_demo.json"
	cases := []struct {
		name   string
		args   []string
		errHas string
		stderr []string
	}{
		{"unknown measure", []string{"--market", market, "--positions", good, "--measures", "PV,GAMMA"}, "GAMMA", nil},
		{"unknown scenario", []string{"--market", market, "--positions", good, "--scenarios", "BASE,CRASH"}, "CRASH", nil},
		{"repeated measure", []string{"--market", market, "--positions", good, "--measures", "PV,PV"}, "twice", nil},
		{"missing market flag", []string{"--positions", good}, "--market", nil},
		{"bad as-of", []string{"--market", market, "--positions", good, "--as-of", "2026-01-23"}, "RFC 3339", nil},
		{"market file missing", []string{"--market", filepath.Join(t.TempDir(), "none.json"), "--positions", good}, "market snapshot", nil},
		{"broken market", []string{"--market", priceWriteFile(t, "bad.json", `{"snapshot_id":"B","curves":[{"curve_id":"X","nodes":[]}]}`), "--positions", good}, "no nodes", nil},
		{"positions not a list", []string{"--market", market, "--positions", priceWriteFile(t, "p.json", `{"positions":{}}`)}, "must be a list", nil},
		{"no positions", []string{"--market", market, "--positions", priceWriteFile(t, "p.json", `{"as_of_time":"2026-01-23T00:00:00Z"}`)}, "no \"positions\"", nil},
		{"positions file a number", []string{"--market", market, "--positions", priceWriteFile(t, "p.json", `7`)}, "want a position snapshot", nil},
		{"positions not JSON", []string{"--market", market, "--positions", priceWriteFile(t, "p.json", `{"positions":[{"position_id":`)}, "positions", nil},
		{"invalid positions", []string{"--market", market, "--positions", priceWriteFile(t, "p.json", `{"positions":[
			{"position_id":"A","product_type":"AMORT_LOAN","attributes":{"current_principal":1,"coupon_rate":0.1,"last_payment_date":"2025-12-01","cashflows":[{"pay_date":"2026-13-01","interest":1,"principal":1}]}},
			{"position_id":"A","product_type":"BOND","attributes":{}}]}`)},
			"3 problems", []string{"positions[0]: position A /attributes/cashflows/0/pay_date", "positions[1]: position A /position_id", "positions[1]: position A /product_type: unknown product_type \"BOND\""}},
		{"missing curve", []string{"--market", market, "--positions", priceWriteFile(t, "p.json", `{"positions":[
			{"position_id":"F","product_type":"FX_FWD","attributes":{"notional_base":1,"forward_rate":1,"maturity_date":"2026-06-01","fx_pair":"GBPUSD"}}]}`)},
			"2 problems", []string{"FX spot GBPUSD", "curve GBP-OIS"}},
		{"last payment after as-of", []string{"--market", market, "--as-of", "2025-11-01T00:00:00Z", "--positions", priceWriteFile(t, "p.json", `[
			{"position_id":"L","product_type":"AMORT_LOAN","attributes":{"current_principal":1,"coupon_rate":0.1,"last_payment_date":"2025-12-23","cashflows":[{"pay_date":"2026-01-23","interest":1,"principal":1}]}}]`)},
			"1 problem in", []string{"positions[0]: position L /attributes/last_payment_date: last_payment_date 2025-12-23 is after the as-of date 2025-11-01"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			out, stderr, err := runPrice(t, c.args...)
			if err == nil || !strings.Contains(err.Error(), c.errHas) {
				t.Errorf("err = %v, want mention of %q", err, c.errHas)
			}
			if out != "" {
				t.Errorf("stdout is not empty: %s", out)
			}
			for _, s := range c.stderr {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr %q lacks %q", stderr, s)
				}
			}
		})
	}
}

func TestPriceManyPositionsKeepsFileOrder(t *testing.T) {
	t.Parallel()
	market := priceWriteFile(t, "m.json", priceFlatMarket)
	var b strings.Builder
	b.WriteString(`{"as_of_time":"2026-01-23T00:00:00Z","portfolio_node_id":"N","positions":[`)
	const n = 2000
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		// Position i pays 1000 + i in one year.
		b.WriteString(`{"position_id":"P` + priceItoa(i) + `","product_type":"FIXED_BOND","attributes":{"cashflows":[{"pay_date":"2027-01-23","amount":` + priceItoa(1000+i) + `}]}}`)
	}
	b.WriteString(`],"extra":{"ignored":true}}`)
	positions := priceWriteFile(t, "p.json", b.String())
	out, stderr, err := runPrice(t, "--market", market, "--positions", positions, "--scenarios", "BASE,SPREAD_25BP")
	if err != nil {
		t.Fatalf("%v %s", err, stderr)
	}
	lines := priceDecodeLines(t, out)
	if len(lines) != 2*n {
		t.Fatalf("%d lines", len(lines))
	}
	for i := range n {
		l := lines[2*i]
		if l.PositionID != "P"+priceItoa(i) || l.ScenarioID != "BASE" || lines[2*i+1].ScenarioID != "SPREAD_25BP" {
			t.Fatalf("line %d is %s/%s", 2*i, l.PositionID, l.ScenarioID)
		}
		if want := float64(1000+i) * math.Exp(-0.05); math.Abs(l.Measures["PV"]-want) > 1e-9 {
			t.Fatalf("P%d PV = %v, want %v", i, l.Measures["PV"], want)
		}
	}
	// The same bytes on a second run.
	again, _, err := runPrice(t, "--market", market, "--positions", positions, "--scenarios", "BASE,SPREAD_25BP")
	if err != nil || again != out {
		t.Error("a second run gave different output")
	}
}

func priceItoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

func TestPricePositionsFromStdin(t *testing.T) {
	t.Parallel()
	positions, err := os.ReadFile(priceFixtures + "positions_snapshot_demo.json")
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	cmd := newPriceCmd()
	cmd.SetArgs([]string{"--market", priceFixtures + "market_snapshot_demo.json", "--positions", "-", "--scenarios", "BASE,SPREAD_25BP"})
	cmd.SetIn(bytes.NewReader(positions))
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("%v %s", err, errb.String())
	}
	fromFile, _, err := runPrice(t, "--market", priceFixtures+"market_snapshot_demo.json", "--positions", priceFixtures+"positions_snapshot_demo.json", "--scenarios", "BASE,SPREAD_25BP")
	if err != nil || out.String() != fromFile || len(priceDecodeLines(t, fromFile)) != 6 {
		t.Errorf("stdin gave\n%s\nthe file gave\n%s", out.String(), fromFile)
	}
}

func TestPriceThroughTheRootCommand(t *testing.T) {
	t.Parallel()
	getenv := func(string) string { return "" }
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"price", "--market", priceFixtures + "market_snapshot_demo.json",
		"--positions", priceFixtures + "positions_snapshot_demo.json", "--measures", "PV,DV01", "--scenarios", "BASE"},
		getenv, strings.NewReader(""), &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if lines := priceDecodeLines(t, out.String()); len(lines) != 3 || len(lines[0].Measures) != 2 {
		t.Errorf("output:\n%s", out.String())
	}
	out.Reset()
	errb.Reset()
	code = run(context.Background(), []string{"price", "--market", priceFixtures + "market_snapshot_demo.json",
		"--positions", priceFixtures + "positions_snapshot_demo.json", "--scenarios", "SOMETHING"}, getenv, strings.NewReader(""), &out, &errb)
	if code == 0 || out.Len() != 0 || !strings.Contains(errb.String(), "unknown scenario \"SOMETHING\"") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
}
