package gen

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"math"
	"strconv"
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

// The tape holds the same positions as the document: every cell reads
// back to the document's value.
func TestWritePositionTapeMatchesTheDocument(t *testing.T) {
	t.Parallel()
	o := Options{NodeID: "B", AsOf: asOf, Loans: 300, FXForwards: 20, Seed: 7}
	var doc, tape bytes.Buffer
	if _, err := WritePositionSnapshot(&doc, o); err != nil {
		t.Fatal(err)
	}
	n, err := WritePositionTape(&tape, o)
	if err != nil || n != 320 {
		t.Fatalf("tape: %d positions, %v", n, err)
	}
	var d struct {
		Positions []map[string]any `json:"positions"`
	}
	if err := json.Unmarshal(doc.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&tape).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 321 {
		t.Fatalf("%d rows", len(rows))
	}
	header := rows[0]
	for i, row := range rows[1:] {
		p := d.Positions[i]
		attrs := p["attributes"].(map[string]any)
		seen := 0
		for k, name := range header {
			cell := row[k]
			var want any
			switch name {
			case "position_id", "instrument_id", "product_type", "quantity":
				want = p[name]
			default:
				want = attrs[name]
				if want != nil {
					seen++
				}
			}
			switch w := want.(type) {
			case nil:
				if cell != "" {
					t.Fatalf("row %d %s: %q for an absent value", i, name, cell)
				}
			case string:
				if cell != w {
					t.Fatalf("row %d %s: %q, want %q", i, name, cell, w)
				}
			case float64:
				f, err := strconv.ParseFloat(cell, 64)
				if err != nil || f != w {
					t.Fatalf("row %d %s: %q, want %v", i, name, cell, w)
				}
			}
		}
		if seen != len(attrs) {
			t.Fatalf("row %d: %d of %d attributes in the tape", i, seen, len(attrs))
		}
	}
	if _, err := WritePositionTape(io.Discard, Options{Bonds: 1}); !errors.Is(err, ErrTapeBonds) {
		t.Fatalf("bonds: %v", err)
	}
}
