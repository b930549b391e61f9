package gen

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/pricing"
)

// dayTwo is the demo's second day in these tests: the Monday after the
// Friday asOf, so that the loans paying on the 24th and 25th (the
// weekend) have paid.
var dayTwo = time.Date(2026, 1, 26, 17, 0, 0, 0, time.UTC)

func TestNextBusinessDay(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{"2026-01-23", "2026-01-26"}, // Friday → Monday
		{"2026-01-24", "2026-01-26"}, // Saturday → Monday
		{"2026-01-26", "2026-01-27"},
		{"2026-12-31", "2027-01-01"},
	} {
		in, _ := time.Parse(time.DateOnly, c.in)
		if got := NextBusinessDay(in.Add(17 * time.Hour)); got.Format(time.DateOnly) != c.want || got.Hour() != 17 {
			t.Errorf("NextBusinessDay(%s) = %v, want %s at 17:00", c.in, got, c.want)
		}
	}
}

// book collects a book's positions by id.
func book(t *testing.T, each func(func(*Position) error) error) map[string]*Position {
	t.Helper()
	out := map[string]*Position{}
	if err := each(func(p *Position) error {
		if out[p.PositionID] != nil {
			t.Fatalf("position %s twice", p.PositionID)
		}
		out[p.PositionID] = p
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func date(t *testing.T, s any) time.Time {
	t.Helper()
	d, err := time.Parse(time.DateOnly, s.(string))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestRolledBookChangesAsSpecified(t *testing.T) {
	t.Parallel()
	day1 := Demo(2000, asOf)
	r := DemoRoll(day1, dayTwo)
	if r.Prepaid != 10 || r.Restructured != 4 || r.NewLoans != 20 || r.BondTrades != 4 || r.NewFXForwards != 2 {
		t.Fatalf("DemoRoll of 2,000 loans, 40 bonds, 20 forwards: %+v", r)
	}
	one := book(t, func(fn func(*Position) error) error { return Each(day1, fn) })
	var stats RollStats
	two := book(t, func(fn func(*Position) error) error {
		var err error
		stats, err = EachRolled(day1, r, fn)
		return err
	})
	to := dateOf(dayTwo)

	var matured, prepaid, newLoans, newFX, restructured, paid, payments, traded int
	for id, p := range one {
		q := two[id]
		a := p.Attributes
		switch p.ProductType {
		case "AMORT_LOAN":
			// Due dates before the second date: the next payment date and
			// the months after it.
			next := date(t, a["next_payment_date"])
			due := 0
			for due < a["remaining_term_months"].(int) && next.AddDate(0, due, 0).Before(to) {
				due++
			}
			payments += due
			if q == nil {
				if due == a["remaining_term_months"].(int) {
					matured++
				} else {
					prepaid++
				}
				continue
			}
			b := q.Attributes
			_, modified := b["modification_date"]
			if modified {
				restructured++
				if b["modification_date"] != "2026-01-26" || !(b["coupon_rate"].(float64) <= a["coupon_rate"].(float64)-0.02+1e-6) ||
					b["term_months"] != a["term_months"].(int)+12 {
					t.Errorf("%s restructured: %v → %v", id, a, b)
				}
			}
			if due == 0 {
				if !modified && !equalJSON(t, p, q) {
					t.Errorf("%s paid nothing but changed: %v → %v", id, a, b)
				}
				continue
			}
			paid++
			checkPaid(t, id, a, b, due, modified)
		case "FIXED_BOND":
			if q == nil {
				t.Errorf("bond %s gone: none matures within three days", id)
				continue
			}
			if q.Quantity != p.Quantity {
				traded++
				if d := math.Abs(q.Quantity - p.Quantity); d < 10 || d > 50 || q.Quantity < 10 {
					t.Errorf("bond %s traded %v → %v", id, p.Quantity, q.Quantity)
				}
			}
			// Three more days of accrual on 1,000 of face (to the cent).
			want := a["accrued_interest"].(float64) + 1000*a["coupon_rate"].(float64)*3/360
			if got := q.Attributes["accrued_interest"].(float64); math.Abs(got-want) > 0.011 {
				t.Errorf("bond %s accrued %v → %v, want %v", id, a["accrued_interest"], got, want)
			}
		case "FX_FWD":
			if q == nil || !equalJSON(t, p, q) {
				t.Errorf("forward %s changed or gone: %v → %v", id, p, q)
			}
		}
	}
	for id, q := range two {
		if one[id] != nil {
			continue
		}
		switch q.ProductType {
		case "AMORT_LOAN":
			newLoans++
			b := q.Attributes
			if b["origination_date"] != "2026-01-26" || b["next_payment_date"] != "2026-02-26" ||
				b["current_principal"] != b["original_principal"] || b["remaining_term_months"] != b["term_months"] {
				t.Errorf("new loan %s: %v", id, b)
			}
		case "FX_FWD":
			newFX++
		default:
			t.Errorf("new %s %s", q.ProductType, id)
		}
	}
	if prepaid != r.Prepaid || restructured != r.Restructured || newLoans != r.NewLoans || newFX != r.NewFXForwards || traded != r.BondTrades {
		t.Errorf("prepaid %d, restructured %d, new loans %d, new forwards %d, bonds traded %d; want %+v",
			prepaid, restructured, newLoans, newFX, traded, r)
	}
	// Loans pay on the 1st to the 28th: about 2 in 28 pay on the weekend.
	if paid < 2000*2/28/2 || paid > 2000*2/28*2 {
		t.Errorf("%d loans paid over the weekend, want about %d", paid, 2000*2/28)
	}
	want := RollStats{Positions: len(two), Paid: paid, Payments: payments, Matured: matured, Prepaid: prepaid,
		Restructured: restructured, NewLoans: newLoans, NewFXForwards: newFX, BondTrades: traded}
	if stats != want {
		t.Errorf("stats %+v, want %+v", stats, want)
	}
	if stats.Kept()+stats.Gone() != len(one) || stats.Kept()+newLoans+newFX != len(two) {
		t.Errorf("kept %d, gone %d: day one %d, day two %d positions", stats.Kept(), stats.Gone(), len(one), len(two))
	}
}

// checkPaid checks a loan that made due payments: its principal fell by each
// payment's principal, which for one payment is the annuity's, and its
// dates and term moved on.
func checkPaid(t *testing.T, id string, a, b map[string]any, due int, restructured bool) {
	t.Helper()
	p0, c, pay := a["current_principal"].(float64), a["coupon_rate"].(float64), a["monthly_payment"].(float64)
	n := a["remaining_term_months"].(int)
	r := c / 12
	// The servicer's formula: payment less a month's interest.
	balance := p0
	for range due {
		balance -= pay - balance*c/12
	}
	if got := b["current_principal"].(float64); got != balance {
		t.Errorf("%s: principal %v → %v, want %v", id, p0, got, balance)
	}
	if due == 1 {
		// The annuity's closed form: a loan of O over N months bills the
		// level payment A = O·r/(1 − (1+r)^−N) (to the cent), and its
		// payment j+1 repays (A − r·O)·(1+r)^j of principal. The balance
		// before it is held to the cent, hence the tolerance.
		o, term := a["original_principal"].(float64), a["term_months"].(int)
		level := math.Round(o*r/(1-math.Pow(1+r, -float64(term)))*100) / 100
		if level != pay {
			t.Errorf("%s: payment %v, the level payment of %v over %d months at %v is %v", id, pay, o, term, c, level)
		}
		closed := (level - r*o) * math.Pow(1+r, float64(term-n))
		if got := p0 - b["current_principal"].(float64); math.Abs(got-closed) > 1e-3 {
			t.Errorf("%s: paid %v of principal, the annuity's payment %d repays %v", id, got, term-n+1, closed)
		}
	}
	next := date(t, a["next_payment_date"])
	wantN := n - due
	if restructured {
		wantN += 12
	}
	if b["remaining_term_months"] != wantN || b["next_payment_date"] != next.AddDate(0, due, 0).Format(time.DateOnly) ||
		b["last_payment_date"] != next.AddDate(0, due-1, 0).Format(time.DateOnly) {
		t.Errorf("%s paid %d: %v → %v", id, due, a, b)
	}
}

func equalJSON(t *testing.T, p, q *Position) bool {
	t.Helper()
	a, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(q)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(a, b)
}

func TestRolledBookIsReproducible(t *testing.T) {
	t.Parallel()
	day1 := Demo(300, asOf)
	r := DemoRoll(day1, dayTwo)
	write := func(r Roll) []byte {
		var b bytes.Buffer
		if _, err := WriteRolledSnapshot(&b, day1, r); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	a, b := write(r), write(r)
	if !bytes.Equal(a, b) {
		t.Fatal("the same roll gave different bytes")
	}
	var doc struct {
		SnapshotID string     `json:"position_snapshot_id"`
		AsOfTime   time.Time  `json:"as_of_time"`
		NodeID     string     `json:"portfolio_node_id"`
		Positions  []Position `json:"positions"`
	}
	if err := json.Unmarshal(a, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.SnapshotID != "PS-DEMO-20260126" || !doc.AsOfTime.Equal(dayTwo) || doc.NodeID != day1.NodeID {
		t.Errorf("header %s %v %s", doc.SnapshotID, doc.AsOfTime, doc.NodeID)
	}
	r.Seed++
	if bytes.Equal(a, write(r)) {
		t.Error("another seed gave the same book")
	}
	if _, err := EachRolled(day1, Roll{AsOf: asOf.Add(time.Hour)}, func(*Position) error { return nil }); err == nil {
		t.Error("a second day on the first's date was accepted")
	}
}

// TestPaidLoansAreWorthTheirFirstDayVersion values every loan that only
// paid between the days on the second market and date: its first-day
// version (whose payments before the date the pricer leaves out) and its
// second-day version are worth the same, as they hold the same remaining
// cashflows.
func TestPaidLoansAreWorthTheirFirstDayVersion(t *testing.T) {
	t.Parallel()
	day1 := Demo(1000, asOf)
	r := DemoRoll(day1, dayTwo)
	one := book(t, func(fn func(*Position) error) error { return Each(day1, fn) })
	two := book(t, func(fn func(*Position) error) error { _, err := EachRolled(day1, r, fn); return err })
	e := engine(t, MarketAfter("MKT-2", asOf, dayTwo, 3), dayTwo, []pricing.Measure{pricing.PV})
	pv := func(p *Position) float64 {
		t.Helper()
		var v pricing.Values
		if err := e.Price(parse(t, e, p), 0, &v); err != nil {
			t.Fatal(err)
		}
		x, _ := v.Get(pricing.PV)
		return x
	}
	checked := 0
	for id, q := range two {
		p := one[id]
		if _, modified := q.Attributes["modification_date"]; p == nil || modified || q.ProductType != "AMORT_LOAN" ||
			q.Attributes["next_payment_date"] == p.Attributes["next_payment_date"] {
			pv(q) // every position of the second day can be valued
			continue
		}
		checked++
		if a, b := pv(p), pv(q); a != b {
			t.Errorf("%s: the first-day version is worth %v on the second day, the second-day version %v", id, a, b)
		}
	}
	if checked < 20 {
		t.Errorf("only %d paid loans checked", checked)
	}
}

// engine is an engine on the market snapshot snap at asOf, under BASE,
// for the measures.
func engine(t *testing.T, snap map[string]any, asOf time.Time, measures []pricing.Measure, opts ...pricing.EngineOption) *pricing.Engine {
	t.Helper()
	raw, err := json.Marshal(snap)
	if err != nil {
		t.Fatal(err)
	}
	var md pricing.MarketData
	if err := json.Unmarshal(raw, &md); err != nil {
		t.Fatal(err)
	}
	m, err := pricing.NewMarket(md)
	if err != nil {
		t.Fatal(err)
	}
	e, err := pricing.NewEngine(m, []string{"BASE"}, measures, asOf, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func parse(t *testing.T, e *pricing.Engine, gp *Position) *pricing.Position {
	t.Helper()
	raw, err := json.Marshal(gp)
	if err != nil {
		t.Fatal(err)
	}
	var in pricing.PositionInput
	if err := json.Unmarshal(raw, &in); err != nil {
		t.Fatal(err)
	}
	p, probs := pricing.ParsePosition(in)
	if len(probs) == 0 {
		probs = e.Check(p)
	}
	if len(probs) > 0 {
		t.Fatalf("%s: %v", gp.PositionID, probs)
	}
	return p
}

func TestMarketAfterMovesADay(t *testing.T) {
	t.Parallel()
	rates := func(snap map[string]any) []float64 {
		var out []float64
		for _, c := range snap["curves"].([]map[string]any) {
			for _, n := range c["nodes"].([]map[string]any) {
				out = append(out, n["zero_rate"].(float64))
			}
		}
		for _, s := range snap["fx_spots"].([]map[string]any) {
			out = append(out, s["spot"].(float64))
		}
		return out
	}
	base := rates(MarketSnapshot("M", asOf))
	// Over the weekend nothing moves.
	if got := rates(MarketAfter("M", asOf, asOf.AddDate(0, 0, 1), 3)); !equalFloats(got, base) {
		t.Errorf("a Saturday's market moved: %v", got)
	}
	next := MarketAfter("MKT-2", asOf, dayTwo, 3)
	if next["snapshot_id"] != "MKT-2" || next["as_of_time"] != "2026-01-26T17:00:00Z" {
		t.Errorf("header %v %v", next["snapshot_id"], next["as_of_time"])
	}
	got := rates(next)
	nSpots := len(fxPairs)
	moved := 0
	for i := range got {
		d := got[i] - base[i]
		if i >= len(got)-nSpots {
			d = math.Log(got[i] / base[i]) // spots: a day's vol is ~0.5%
			if math.Abs(d) > 0.04 {
				t.Errorf("spot %d moved %.4f in a day", i, d)
			}
		} else if math.Abs(d) > 30e-4 { // rates: a day's vol is ~4.5bp
			t.Errorf("rate %d moved %.1fbp in a day", i, d*1e4)
		}
		if d != 0 {
			moved++
		}
	}
	if moved < len(got)*9/10 {
		t.Errorf("only %d of %d rates and spots moved", moved, len(got))
	}
	if again := rates(MarketAfter("MKT-2", asOf, dayTwo, 3)); !equalFloats(again, got) {
		t.Error("the same seed gave another market")
	}
	if other := rates(MarketAfter("MKT-2", asOf, dayTwo, 4)); equalFloats(other, got) {
		t.Error("another seed gave the same market")
	}
}

func equalFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
