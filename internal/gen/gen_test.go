package gen

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"
)

var asOf = time.Date(2026, 1, 23, 17, 0, 0, 0, time.UTC)

func TestWritePositionSnapshotIsReproducibleJSON(t *testing.T) {
	t.Parallel()
	o := Demo(500, asOf)
	var a, b bytes.Buffer
	na, err := WritePositionSnapshot(&a, o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := WritePositionSnapshot(&b, o); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("the same options gave different bytes")
	}
	if want := 500 + 10 + 5; na != want {
		t.Fatalf("wrote %d positions, want %d", na, want)
	}
	var doc struct {
		SnapshotID string     `json:"position_snapshot_id"`
		AsOfTime   time.Time  `json:"as_of_time"`
		NodeID     string     `json:"portfolio_node_id"`
		Positions  []Position `json:"positions"`
	}
	dec := json.NewDecoder(&a)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("document does not decode: %v", err)
	}
	if len(doc.Positions) != na || !doc.AsOfTime.Equal(asOf) || doc.NodeID == "" || doc.SnapshotID == "" {
		t.Fatalf("header or count wrong: %+v (%d positions)", doc.SnapshotID, len(doc.Positions))
	}
	ids := map[string]bool{}
	counts := map[string]int{}
	for _, p := range doc.Positions {
		if ids[p.PositionID] {
			t.Fatalf("position id %s repeated", p.PositionID)
		}
		ids[p.PositionID] = true
		counts[p.ProductType]++
	}
	if counts["AMORT_LOAN"] != 500 || counts["FIXED_BOND"] != 10 || counts["FX_FWD"] != 5 {
		t.Fatalf("product mix %v", counts)
	}
}

func TestLoansArePlausible(t *testing.T) {
	t.Parallel()
	day := time.Date(2026, 1, 23, 0, 0, 0, 0, time.UTC)
	err := Each(Options{AsOf: asOf, Loans: 2000, Seed: 7}, func(p *Position) error {
		a := p.Attributes
		balance := a["current_principal"].(float64)
		coupon := a["coupon_rate"].(float64)
		payment := a["monthly_payment"].(float64)
		fico := a["fico"].(int)
		if balance <= 0 || coupon <= 0 || coupon > 0.3 || fico < 620 || fico > 850 {
			t.Errorf("%s: balance %v coupon %v fico %v", p.PositionID, balance, coupon, fico)
		}
		// The payment must cover the first period's interest, or the loan
		// would never amortize (and the pricer refuses it).
		if payment <= balance*coupon/12 {
			t.Errorf("%s: payment %v does not cover interest %v", p.PositionID, payment, balance*coupon/12)
		}
		next, _ := time.Parse(time.DateOnly, a["next_payment_date"].(string))
		last, _ := time.Parse(time.DateOnly, a["last_payment_date"].(string))
		if !next.After(day) || last.After(day) || next.Sub(last) > 31*24*time.Hour {
			t.Errorf("%s: last %v next %v as of %v", p.PositionID, last, next, day)
		}
		if a["remaining_term_months"].(int) < 1 {
			t.Errorf("%s: no payments left", p.PositionID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestLoanBalanceFollowsTheAnnuity(t *testing.T) {
	t.Parallel()
	// A loan with no elapsed payments owes its original principal, so the
	// balance never exceeds what the level payment can repay over the
	// remaining term at the coupon: balance <= payment * annuity factor
	// (up to the cent rounding of the payment).
	err := Each(Options{AsOf: asOf, Loans: 500, Seed: 3}, func(p *Position) error {
		a := p.Attributes
		r := a["coupon_rate"].(float64) / 12
		n := float64(a["remaining_term_months"].(int))
		annuity := (1 - math.Pow(1+r, -n)) / r
		pv := a["monthly_payment"].(float64) * annuity
		if b := a["current_principal"].(float64); b > pv+0.01*n+0.01 || b < pv-0.01*n-0.01 {
			t.Errorf("%s: balance %v, annuity value of payments %v", p.PositionID, b, pv)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestMarketSnapshotCoversTheBook(t *testing.T) {
	t.Parallel()
	m := MarketSnapshot("MKT-1", asOf)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Curves []struct {
			CurveID string `json:"curve_id"`
			Nodes   []struct {
				Tenor    string  `json:"tenor"`
				ZeroRate float64 `json:"zero_rate"`
			} `json:"nodes"`
		} `json:"curves"`
		FXSpots []struct {
			Pair string  `json:"pair"`
			Spot float64 `json:"spot"`
		} `json:"fx_spots"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	curves := map[string]bool{}
	for _, c := range doc.Curves {
		curves[c.CurveID] = true
		for _, n := range c.Nodes {
			if n.ZeroRate < -0.05 || n.ZeroRate > 0.30 {
				t.Errorf("%s %s rate %v outside the plausible range", c.CurveID, n.Tenor, n.ZeroRate)
			}
		}
	}
	for _, id := range []string{"USD-OIS", "EUR-OIS", "GBP-OIS", "JPY-OIS", "LOAN-SPREAD", "FI-SPREAD"} {
		if !curves[id] {
			t.Errorf("curve %s missing", id)
		}
	}
	if len(doc.FXSpots) != 3 {
		t.Errorf("want 3 spots, got %d", len(doc.FXSpots))
	}
}

func TestParseCount(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int{"100000": 100000, "100k": 100000, "1m": 1000000, "2M": 2000000, "0": 0} {
		if got, err := ParseCount(in); err != nil || got != want {
			t.Errorf("ParseCount(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "k", "-3", "1.5m", "ten"} {
		if _, err := ParseCount(bad); err == nil {
			t.Errorf("ParseCount(%q) succeeded", bad)
		}
	}
}

func TestWritePositionSnapshotProgress(t *testing.T) {
	t.Parallel()
	o := Options{NodeID: "N", AsOf: time.Date(2026, 1, 23, 0, 0, 0, 0, time.UTC), Loans: 7, Bonds: 2, FXForwards: 3, Seed: 4}
	var plain, counted bytes.Buffer
	if _, err := WritePositionSnapshot(&plain, o); err != nil {
		t.Fatal(err)
	}
	var calls []int
	n, err := WritePositionSnapshotProgress(&counted, o, func(k int) { calls = append(calls, k) })
	if err != nil {
		t.Fatal(err)
	}
	if n != 12 || len(calls) != 12 {
		t.Fatalf("wrote %d positions with %d progress calls, want 12 and 12", n, len(calls))
	}
	for i, k := range calls {
		if k != i+1 {
			t.Fatalf("progress calls %v, want 1 to 12 in order", calls)
		}
	}
	if !bytes.Equal(plain.Bytes(), counted.Bytes()) {
		t.Error("the document written with progress differs from the one without")
	}
}
