package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/pricing"
)

// A loan of 1000 repaying 500 on 2027-01-23 (t = 1) and 500 on 2028-07-23
// (t = 912/365), on flat curves: USD-OIS 4%, LOAN-SPREAD 2%.
const priceModelLoan = `[
{"position_id":"L1","instrument_id":"I1","product_type":"AMORT_LOAN","attributes":{"current_principal":1000,"coupon_rate":0.06,"fico":600,
 "last_payment_date":"2026-01-03","cashflows":[{"pay_date":"2027-01-23","interest":60,"principal":500},{"pay_date":"2028-07-23","interest":30,"principal":500}]}},
{"position_id":"L2","instrument_id":"I2","product_type":"AMORT_LOAN","attributes":{"current_principal":1000,"coupon_rate":0.06,"fico":800,
 "last_payment_date":"2026-01-03","cashflows":[{"pay_date":"2027-01-23","interest":60,"principal":500},{"pay_date":"2028-07-23","interest":30,"principal":500}]}}]`

type priceLineAny struct {
	PositionID string                     `json:"position_id"`
	ScenarioID string                     `json:"scenario_id"`
	Measures   map[string]json.RawMessage `json:"measures"`
}

func TestPriceWithModelSet(t *testing.T) {
	t.Parallel()
	market := priceWriteFile(t, "m.json", priceFlatMarket)
	positions := priceWriteFile(t, "p.json", priceModelLoan)
	// Loans with FICO below 660 default 50% a month (MDR; given as the
	// CDR 1 − 0.5¹²), lose 40% and recover at once; the others follow
	// the contract.
	ms := priceWriteFile(t, "ms.json", `{"model_set_id":"MS1","rules":[
		{"match":{"attr:fico":{"lt":660}},"default":{"cdr":0.999755859375},"severity":0.4}]}`)
	out, stderr, err := runPrice(t, "--market", market, "--positions", positions, "--model-set", ms,
		"--measures", "PV,WAL,EXPECTED_LOSS,KR01")
	if err != nil {
		t.Fatalf("%v %s", err, stderr)
	}
	var lines []priceLineAny
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var pl priceLineAny
		if err := json.Unmarshal([]byte(l), &pl); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		lines = append(lines, pl)
	}
	if len(lines) != 2 {
		t.Fatalf("%d lines", len(lines))
	}
	num := func(l priceLineAny, m string) float64 {
		t.Helper()
		var x float64
		if err := json.Unmarshal(l.Measures[m], &x); err != nil {
			t.Fatalf("%s %s: %s", l.PositionID, m, l.Measures[m])
		}
		return x
	}
	near := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
			t.Errorf("%s = %.15g, want %.15g", what, got, want)
		}
	}
	days := func(from, to string) float64 {
		a, _ := time.Parse(time.DateOnly, from)
		b, _ := time.Parse(time.DateOnly, to)
		return b.Sub(a).Hours() / 24
	}
	t1, t2 := days("2026-01-23", "2027-01-23")/365, days("2026-01-23", "2028-07-23")/365
	df := func(t float64) float64 { return math.Exp(-0.06 * t) }
	// L1, by hand: month 1: D = 500, s = 0.5, A = (1000 − 500)·0.5 = 250,
	// P₁ = 250, INT = 60·500/1000 = 30, REC = 0.6·500 = 300, LOSS = 200.
	// Month 2 is the last (n − L = 2, so it may default): D = 125, A =
	// 125, INT = 30·125/500 = 7.5, REC = 75, LOSS = 50.
	near("L1 PV", num(lines[0], "PV"), (30+250+300)*df(t1)+(7.5+125+75)*df(t2))
	near("L1 EXPECTED_LOSS", num(lines[0], "EXPECTED_LOSS"), 250)
	near("L1 WAL", num(lines[0], "WAL"), (t1*550+t2*200)/750)
	// L2 is contractual.
	near("L2 PV", num(lines[1], "PV"), 560*df(t1)+530*df(t2))
	near("L2 EXPECTED_LOSS", num(lines[1], "EXPECTED_LOSS"), 0)
	near("L2 WAL", num(lines[1], "WAL"), (t1*500+t2*500)/1000)
	// KR01: every tenor of USD-OIS; the flow at t = 1 is all 1Y's, the
	// one at t = 2.4986 is between 2Y and 3Y (weight t − 2 on 3Y).
	var kr map[string]map[string]float64
	if err := json.Unmarshal(lines[1].Measures["KR01"], &kr); err != nil {
		t.Fatal(err)
	}
	ladder := kr["USD-OIS"]
	if len(kr) != 1 || len(ladder) != pricing.NumKeyRates {
		t.Fatalf("KR01 = %s", lines[1].Measures["KR01"])
	}
	near("L2 KR01 1Y", ladder["1Y"], 560*df(t1)*(math.Exp(-0.0001)-1))
	w3 := (t2 - 2) // weight of 3Y at t2
	near("L2 KR01 3Y", ladder["3Y"], 530*df(t2)*(math.Exp(-0.0001*w3*t2)-1))
	if ladder["6M"] != 0 || ladder["30Y"] != 0 {
		t.Errorf("ladder %v", ladder)
	}
}

func TestPriceRefusesABadModelSet(t *testing.T) {
	t.Parallel()
	market := priceWriteFile(t, "m.json", priceFlatMarket)
	positions := priceWriteFile(t, "p.json", priceModelLoan)
	ms := priceWriteFile(t, "ms.json", `{"model_set_id":"MS1","rules":[{"prepayment":{"cpr":2}},{"severity":-1,"extra":1}]}`)
	out, _, err := runPrice(t, "--market", market, "--positions", positions, "--model-set", ms)
	if err == nil || out != "" {
		t.Fatalf("accepted: %v %q", err, out)
	}
	for _, want := range []string{"/rules/0/prepayment/cpr", "/rules/1/severity", "/rules/1/extra"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if _, _, err := runPrice(t, "--market", market, "--positions", positions, "--model-set", filepath.Join(t.TempDir(), "none.json")); err == nil {
		t.Error("a missing model set file was accepted")
	}
}

func TestGenWritesAModelSet(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ms := filepath.Join(dir, "ms.json")
	cmd := newGenCmd()
	cmd.SetArgs([]string{"--loans", "50", "-o", filepath.Join(dir, "book.json"), "--model-set", ms})
	cmd.SetOut(new(strings.Builder))
	cmd.SetErr(new(strings.Builder))
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(ms)
	if err != nil {
		t.Fatal(err)
	}
	set, probs := pricing.ParseModelSet(b)
	if len(probs) > 0 || set.ID() != "MS-DEMO-20260123" || set.Len() < 5 {
		t.Fatalf("model set %v %v", set, probs)
	}
}
