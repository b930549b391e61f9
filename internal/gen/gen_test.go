package gen

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"math"
	"slices"

	"strconv"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/pricing"
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
		if balance <= 0 || coupon <= 0 || coupon > 0.3 || fico < 560 || fico > 850 {
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
		remaining, term := a["remaining_term_months"].(int), a["term_months"].(int)
		if remaining < 1 || remaining > term {
			t.Errorf("%s: %d of %d payments left", p.PositionID, remaining, term)
		}
		// The loan was originated term − remaining + 1 months before its
		// next payment (SPEC §4.6), on its payment day.
		orig, err := time.Parse(time.DateOnly, a["origination_date"].(string))
		if err != nil || !orig.AddDate(0, term-remaining+1, 0).Equal(next) {
			t.Errorf("%s: originated %v, term %d, remaining %d, next %v", p.PositionID, orig, term, remaining, next)
		}
		if _, ok := a["program"].(string); !ok {
			t.Errorf("%s: no program", p.PositionID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestLoanBalanceFollowsTheAnnuity(t *testing.T) {
	t.Parallel()
	// With the exact level payment, the balance after e payments is the
	// annuity value of the remaining ones. The billed payment is rounded
	// to the cent (by δ, |δ| ≤ 0.005), which moves the balance by
	// −δ·((1+r)^e − 1)/r and the annuity value by δ·annuity; the balance
	// itself is rounded to the cent.
	err := Each(Options{AsOf: asOf, Loans: 500, Seed: 3}, func(p *Position) error {
		a := p.Attributes
		r := a["coupon_rate"].(float64) / 12
		n := float64(a["remaining_term_months"].(int))
		e := float64(a["term_months"].(int)) - n
		annuity := (1 - math.Pow(1+r, -n)) / r
		pv := a["monthly_payment"].(float64) * annuity
		tol := 0.005*((math.Pow(1+r, e)-1)/r+annuity) + 0.005 + 1e-9
		if b := a["current_principal"].(float64); math.Abs(b-pv) > tol {
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

func TestLoanDistributionsAreJoint(t *testing.T) {
	t.Parallel()
	type stats struct {
		n           int
		fico, ficoC float64
		terms       map[int]bool
	}
	byProgram := map[string]*stats{}
	var xs, ys []float64
	years := map[int]int{}
	err := Each(Options{AsOf: asOf, Loans: 20000, Seed: 5}, func(p *Position) error {
		a := p.Attributes
		prog := a["program"].(string)
		s := byProgram[prog]
		if s == nil {
			s = &stats{terms: map[int]bool{}}
			byProgram[prog] = s
		}
		fico := float64(a["fico"].(int))
		s.n++
		s.fico += fico
		s.terms[a["term_months"].(int)] = true
		// Coupon against FICO within one program and vintage year, so
		// that program and rate environment do not blur the relation.
		orig, _ := time.Parse(time.DateOnly, a["origination_date"].(string))
		years[orig.Year()]++
		if prog == "UNSEC-60" && orig.Year() == 2025 {
			xs = append(xs, fico)
			ys = append(ys, a["coupon_rate"].(float64))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Terms by program: each program offers its own terms only.
	for _, pr := range programs {
		s := byProgram[pr.code]
		if s == nil || s.n < 100 {
			t.Fatalf("program %s has %v loans", pr.code, s)
		}
		for term := range s.terms {
			if !slices.Contains(pr.terms, term) {
				t.Errorf("%s: term %d not among %v", pr.code, term, pr.terms)
			}
		}
	}
	// FICO by program: NINP borrowers have lower scores than home
	// improvement borrowers.
	if n, h := byProgram["NINP-84"], byProgram["HOME-IMP-120"]; n.fico/float64(n.n) > h.fico/float64(h.n)-50 {
		t.Errorf("mean FICO NINP %.0f, home improvement %.0f", n.fico/float64(n.n), h.fico/float64(h.n))
	}
	// Better credit, lower coupon: a clearly negative correlation.
	if c := correlation(xs, ys); !(c < -0.6) {
		t.Errorf("correlation of FICO and coupon = %.2f over %d loans", c, len(xs))
	}
	// Originations spread over years, newer vintages larger.
	if len(years) < 6 || years[2025] <= years[2023] || years[2023] <= years[2021] {
		t.Errorf("originations by year %v", years)
	}
}

func correlation(xs, ys []float64) float64 {
	n := float64(len(xs))
	var mx, my float64
	for i := range xs {
		mx += xs[i] / n
		my += ys[i] / n
	}
	var sxy, sxx, syy float64
	for i := range xs {
		sxy += (xs[i] - mx) * (ys[i] - my)
		sxx += (xs[i] - mx) * (xs[i] - mx)
		syy += (ys[i] - my) * (ys[i] - my)
	}
	return sxy / math.Sqrt(sxx*syy)
}

// Loans with schedules list what their terms imply: one row a month from
// next_payment_date, the principal adding up to the balance to the cent,
// every payment but the last equal to monthly_payment; valued, they are
// worth what the same loans by their terms are, up to the cents the rows
// were rounded to.
func TestSchedulesMatchTheTerms(t *testing.T) {
	t.Parallel()
	e := engine(t, MarketSnapshot("MKT", asOf), asOf, []pricing.Measure{pricing.PV})
	var byTerms []*Position
	if err := Each(Options{AsOf: asOf, Loans: 400, Seed: 4}, func(p *Position) error {
		byTerms = append(byTerms, p)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	rows := 0
	i := 0
	err := Each(Options{AsOf: asOf, Loans: 400, Seed: 4, Schedules: true}, func(gp *Position) error {
		plain := byTerms[i]
		i++
		a := gp.Attributes
		flows := a["cashflows"].([]map[string]any)
		n := a["remaining_term_months"].(int)
		if len(flows) == 0 || len(flows) > n || plain.PositionID != gp.PositionID {
			t.Fatalf("%s: %d rows for %d payments to go", gp.PositionID, len(flows), n)
		}
		rows += len(flows)
		next, _ := time.Parse(time.DateOnly, a["next_payment_date"].(string))
		principal := 0.0
		for k, f := range flows {
			if want := next.AddDate(0, k, 0).Format(time.DateOnly); f["pay_date"] != want {
				t.Fatalf("%s row %d pays on %v, want %s", gp.PositionID, k, f["pay_date"], want)
			}
			pay := f["interest"].(float64) + f["principal"].(float64)
			if k < len(flows)-1 && math.Abs(pay-a["monthly_payment"].(float64)) > 0.005 {
				t.Fatalf("%s row %d pays %.2f, want the monthly payment %.2f", gp.PositionID, k, pay, a["monthly_payment"])
			}
			principal += f["principal"].(float64)
		}
		if bal := a["current_principal"].(float64); math.Abs(principal-bal) > 0.005 {
			t.Fatalf("%s: principal rows add up to %.4f, balance %.2f", gp.PositionID, principal, bal)
		}
		var withRows, terms pricing.Values
		if err := e.Price(parse(t, e, gp), 0, &withRows); err != nil {
			return err
		}
		if err := e.Price(parse(t, e, plain), 0, &terms); err != nil {
			return err
		}
		pv1, _ := withRows.Get(pricing.PV)
		pv2, _ := terms.Get(pricing.PV)
		// Each row's interest is rounded by at most half a cent, which the
		// balance carries (at most (1+r)^n ≤ 2 times) to the last payment.
		if tol := 0.01 * float64(len(flows)); math.Abs(pv1-pv2) > tol || pv1 == 0 {
			t.Errorf("%s: PV %.4f with its rows, %.4f by its terms (tolerance %.2f)", gp.PositionID, pv1, pv2, tol)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("400 loans, %.1f rows each on average", float64(rows)/400)
	if _, err := WritePositionTape(io.Discard, Options{Loans: 1, Schedules: true}); err != ErrTapeSchedules {
		t.Errorf("a tape with schedules: %v, want ErrTapeSchedules", err)
	}
}

func TestModelSetFitsTheBook(t *testing.T) {
	t.Parallel()
	doc, err := json.Marshal(ModelSet("MS-DEMO"))
	if err != nil {
		t.Fatal(err)
	}
	ms, probs := pricing.ParseModelSet(doc)
	if len(probs) > 0 {
		t.Fatalf("the demo model set is not valid: %v", probs)
	}
	e := engine(t, MarketSnapshot("MKT", asOf), asOf, []pricing.Measure{pricing.PV, pricing.ExpectedLoss}, pricing.WithModelSet(ms))
	// Every loan takes a rule, and expected losses (relative to balance)
	// fall as FICO rises among the unsecured programs.
	lossRate := map[string][2]float64{}
	err = Each(Options{AsOf: asOf, Loans: 3000, Seed: 9}, func(gp *Position) error {
		p := parse(t, e, gp)
		if _, ok := ms.Match(p); !ok {
			t.Errorf("%s matches no rule", gp.PositionID)
		}
		var v pricing.Values
		if err := e.Price(p, 0, &v); err != nil {
			return err
		}
		prog := gp.Attributes["program"].(string)
		if prog != "UNSEC-36" && prog != "UNSEC-60" {
			return nil
		}
		band := "high"
		if gp.Attributes["fico"].(int) < 680 {
			band = "low"
		}
		el, _ := v.Get(pricing.ExpectedLoss)
		acc := lossRate[band]
		acc[0] += el
		acc[1] += gp.Attributes["current_principal"].(float64)
		lossRate[band] = acc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	low, high := lossRate["low"][0]/lossRate["low"][1], lossRate["high"][0]/lossRate["high"][1]
	if !(low > 2*high && high > 0) {
		t.Errorf("expected loss per balance: FICO < 680 %.4f, ≥ 680 %.4f", low, high)
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
