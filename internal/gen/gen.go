// Package gen makes realistic, reproducible demo data: a market snapshot
// with the curves and FX spots a mixed book needs, loan books of any size
// (consumer amortizing loans given by their terms, with origination date,
// original term, FICO, state, city and program in plausible joint
// distributions: terms by program, FICO by program, coupons falling with
// FICO and following the rate environment of the origination year,
// originations spread over eight years with newer vintages larger), some
// fixed-rate bonds and FX forwards, a demo model set (ModelSet) with
// prepayment and default assumptions by program and FICO band, a year of
// market history (History), and a second business day derived from the
// first: its market (MarketAfter) and its book (EachRolled: loans paid,
// matured, prepaid, restructured and new, bonds traded).
//
// Everything is a pure function of the Options: the same seed gives the
// same bytes. Books are streamed to an io.Writer, so a million positions
// need no more memory than one.
package gen

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

// Options describes a generated position snapshot.
type Options struct {
	// SnapshotID is the position_snapshot_id; empty lets the server make one.
	SnapshotID string
	// NodeID is the portfolio_node_id.
	NodeID string
	// AsOf is the snapshot's as-of time; payments are scheduled after it.
	AsOf time.Time
	// Loans, Bonds and FXForwards are how many positions of each to make.
	Loans, Bonds, FXForwards int
	// Seed makes the book reproducible.
	Seed uint64
	// Schedules gives each loan its contractual schedule as explicit
	// cashflows (SPEC §2: they win over the terms, which stay), one row
	// per remaining payment, amounts in cents: the shape of a servicer's
	// tape with schedules, for benchmarks of stored schedules.
	Schedules bool
	// Edit, when set, sees each position with its 0-based index in the
	// book before it is written; it may change it, and returning false
	// leaves it out. A second day of a book is the same options with an
	// Edit (positions repaid, amended) and more loans (new ones).
	Edit func(i int, p *Position) (keep bool)
}

// Demo returns the options of the demo book: n loans, with a bond for every
// 50 loans and an FX forward for every 100.
func Demo(n int, asOf time.Time) Options {
	return Options{
		SnapshotID: "PS-DEMO-" + asOf.Format("20060102"),
		NodeID:     "BOOK-CONSUMER-LOANS",
		AsOf:       asOf,
		Loans:      n,
		Bonds:      n / 50,
		FXForwards: n / 100,
		Seed:       20260123,
	}
}

// program is a consumer-lending program: its code and name, the original
// terms it offers, its base rate in the rate environment of 2024, the
// FICO distribution of its borrowers and the range of original balances.
type program struct {
	code      string
	name      string
	terms     []int // months
	rateBase  float64
	ficoMean  float64
	ficoSD    float64
	principal [2]float64
	weight    int // relative share of the book
}

// programs are consumer-lending programs with plausible terms.
var programs = [...]program{
	{"UNSEC-36", "Unsec Std - 36", []int{24, 36}, 0.089, 725, 45, [2]float64{3000, 25000}, 30},
	{"UNSEC-60", "Unsec Std - 60", []int{48, 60}, 0.104, 712, 48, [2]float64{5000, 40000}, 25},
	{"UNSEC-180", "Unsec Std - 1190 - 180", []int{120, 144, 180}, 0.112, 735, 40, [2]float64{8000, 60000}, 5},
	{"NINP-84", "NINP - 20 Mo", []int{60, 72, 84}, 0.175, 655, 45, [2]float64{5000, 90000}, 10},
	{"HOME-IMP-120", "Home Improvement - 120", []int{84, 120}, 0.079, 748, 38, [2]float64{10000, 100000}, 15},
	{"AUTO-REFI-72", "Auto Refi - 72", []int{36, 48, 60, 72}, 0.062, 705, 55, [2]float64{7000, 55000}, 15},
}

// rateEnvironment is the change of consumer loan rates by origination year
// against 2024: low before 2022, rising through 2023.
func rateEnvironment(year int) float64 {
	switch {
	case year <= 2021:
		return -0.022
	case year == 2022:
		return -0.010
	case year == 2023:
		return 0.004
	case year == 2024:
		return 0
	}
	return -0.003
}

type place struct {
	state, city string
	weight      int
}

// places are weighted roughly by population.
var places = [...]place{
	{"FL", "RUSKIN", 2}, {"FL", "MAITLAND", 2}, {"FL", "TAMPA", 4}, {"GA", "NEWNAN", 1}, {"GA", "ATLANTA", 4},
	{"TX", "AUSTIN", 3}, {"TX", "PLANO", 2}, {"TX", "EL PASO", 2}, {"CA", "FRESNO", 3}, {"CA", "SAN DIEGO", 5},
	{"NY", "BUFFALO", 2}, {"NY", "ALBANY", 2}, {"OH", "DAYTON", 2}, {"NC", "RALEIGH", 2}, {"AZ", "MESA", 2},
	{"IL", "PEORIA", 1}, {"PA", "ERIE", 1}, {"WA", "SPOKANE", 1}, {"CO", "PUEBLO", 1}, {"MI", "FLINT", 1},
}

var platforms = [...]string{"PRIME", "NEAR-PRIME", "PARTNER"}

var fxPairs = [...]struct {
	pair  string
	spot  float64
	point float64 // forward points per year, roughly the rate differential
}{
	{"EURUSD", 1.0842, 0.012}, {"GBPUSD", 1.2710, 0.005}, {"JPYUSD", 0.0067, 0.00025},
}

// Position is one generated position, in the wire shape of the API.
type Position struct {
	PositionID   string         `json:"position_id"`
	InstrumentID string         `json:"instrument_id"`
	ProductType  string         `json:"product_type"`
	Quantity     float64        `json:"quantity"`
	Attributes   map[string]any `json:"attributes"`
}

// WritePositionSnapshot streams the position snapshot document to w and
// returns how many positions it wrote.
func WritePositionSnapshot(w io.Writer, o Options) (int, error) {
	return WritePositionSnapshotProgress(w, o, nil)
}

// WritePositionSnapshotProgress is WritePositionSnapshot calling progress
// (when not nil) after each position with the number encoded so far.
func WritePositionSnapshotProgress(w io.Writer, o Options, progress func(n int)) (int, error) {
	return writeSnapshot(w, o.SnapshotID, o.NodeID, o.AsOf, func(fn func(*Position) error) error { return Each(o, fn) }, progress)
}

// writeSnapshot streams a position snapshot document with the given
// header and the positions each yields to w, calling progress (when not
// nil) after each position.
func writeSnapshot(w io.Writer, snapshotID, nodeID string, asOf time.Time, each func(func(*Position) error) error, progress func(n int)) (int, error) {
	bw := bufio.NewWriterSize(w, 1<<16)
	head := map[string]any{
		"as_of_time":        asOf.UTC().Format(time.RFC3339),
		"portfolio_node_id": nodeID,
	}
	if snapshotID != "" {
		head["position_snapshot_id"] = snapshotID
	}
	hb, err := json.Marshal(head)
	if err != nil {
		return 0, fmt.Errorf("encode snapshot header: %w", err)
	}
	// Open the header object and start the positions array.
	bw.Write(hb[:len(hb)-1])
	bw.WriteString(`,"positions":[`)
	n := 0
	err = each(func(p *Position) error {
		if n > 0 {
			bw.WriteByte(',')
		}
		b, err := json.Marshal(p)
		if err != nil {
			return fmt.Errorf("encode position %s: %w", p.PositionID, err)
		}
		n++
		_, err = bw.Write(b)
		if progress != nil {
			progress(n)
		}
		return err
	})
	if err != nil {
		return n, err
	}
	bw.WriteString("]}\n")
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("write position snapshot: %w", err)
	}
	return n, nil
}

// Each calls fn for every position of the book, loans first, then bonds,
// then FX forwards. The Position passed to fn is fresh each call.
func Each(o Options, fn func(*Position) error) error {
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
	asOf := o.AsOf.UTC()
	asOfDate := time.Date(asOf.Year(), asOf.Month(), asOf.Day(), 0, 0, 0, 0, time.UTC)
	n := 0
	emit := func(p *Position) error {
		i := n
		n++
		if o.Edit != nil && !o.Edit(i, p) {
			return nil
		}
		return fn(p)
	}
	for i := range o.Loans {
		p := loan(rng, asOfDate, i)
		if o.Schedules {
			withSchedule(p)
		}
		if err := emit(p); err != nil {
			return err
		}
	}
	for i := range o.Bonds {
		if err := emit(bond(rng, asOfDate, i)); err != nil {
			return err
		}
	}
	for i := range o.FXForwards {
		if err := emit(fxForward(rng, asOfDate, i)); err != nil {
			return err
		}
	}
	return nil
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }

// pick returns an index drawn with the given weights.
func pick(rng *rand.Rand, n int, weight func(i int) int) int {
	total := 0
	for i := range n {
		total += weight(i)
	}
	x := rng.IntN(total)
	for i := range n {
		if x -= weight(i); x < 0 {
			return i
		}
	}
	return n - 1
}

// maxLoanAgeMonths bounds how long ago a loan was originated (8 years).
const maxLoanAgeMonths = 96

func loan(rng *rand.Rand, asOf time.Time, i int) *Position {
	pr := programs[pick(rng, len(programs), func(i int) int { return programs[i].weight })]
	pl := places[pick(rng, len(places), func(i int) int { return places[i].weight })]
	term := pr.terms[rng.IntN(len(pr.terms))]
	// FICO: normal around the program's mean, within 560–850.
	fico := int(math.Round(pr.ficoMean + pr.ficoSD*rng.NormFloat64()))
	fico = min(850, max(560, fico))
	// Payments fall on the loan's payment day; the last one is within the
	// past month and the next one within the coming month. A loan
	// originated a months before its next payment has made a − 1 payments
	// (the first falls a month after origination); a is drawn from an
	// exponential with a mean of two years (newer vintages are larger),
	// at most the term and eight years.
	day := 1 + rng.IntN(28)
	next := time.Date(asOf.Year(), asOf.Month(), day, 0, 0, 0, 0, time.UTC)
	if !next.After(asOf) {
		next = next.AddDate(0, 1, 0)
	}
	last := next.AddDate(0, -1, 0)
	age := 1 + int(rng.ExpFloat64()*24)%min(term, maxLoanAgeMonths)
	elapsed := age - 1
	remaining := term - elapsed
	originated := next.AddDate(0, -age, 0)
	// Better credit, lower coupon: a spread convex in the FICO shortfall
	// (about 9 points at 560, none at 850), on the program's base rate in
	// the rate environment of the origination year, plus noise.
	shortfall := float64(850-fico) / 290
	coupon := pr.rateBase + rateEnvironment(originated.Year()) + 0.09*shortfall*shortfall + 0.005*rng.Float64()
	coupon = math.Round(max(coupon, 0.0199)*1e6) / 1e6
	original := pr.principal[0] + (pr.principal[1]-pr.principal[0])*rng.Float64()
	original = math.Round(original/100) * 100
	r := coupon / 12
	// Level payment of the original loan, rounded to the cent as servicers
	// bill it; the balance after the elapsed payments follows from it.
	payment := round2(original * r / (1 - math.Pow(1+r, -float64(term))))
	balance := original*math.Pow(1+r, float64(elapsed)) - payment*(math.Pow(1+r, float64(elapsed))-1)/r
	balance = round2(balance)
	id := fmt.Sprintf("LN%08d", i+1)
	return &Position{
		PositionID:   "POS-" + id,
		InstrumentID: id,
		ProductType:  "AMORT_LOAN",
		Quantity:     1,
		Attributes: map[string]any{
			"current_principal":     balance,
			"coupon_rate":           coupon,
			"remaining_term_months": remaining,
			"next_payment_date":     next.Format(time.DateOnly),
			"last_payment_date":     last.Format(time.DateOnly),
			"monthly_payment":       payment,
			"original_principal":    original,
			"term_months":           term,
			"origination_date":      originated.Format(time.DateOnly),
			"fico":                  fico,
			"state":                 pl.state,
			"city":                  pl.city,
			"program":               pr.code,
			"loan_program":          pr.name,
			"platform":              platforms[rng.IntN(len(platforms))],
		},
	}
}

// withSchedule adds to a loan given by its terms the schedule they imply
// (SPEC §2: from next_payment_date monthly on the same day — generated
// loans pay on days 1–28 — each period's interest on the balance at
// coupon_rate/12, principal the rest of monthly_payment, the last payment
// clearing the balance), with interest and principal rounded to the cent
// as a servicer would list them; the last principal is what remains.
func withSchedule(p *Position) {
	a := p.Attributes
	balance := a["current_principal"].(float64)
	r := a["coupon_rate"].(float64) / 12
	payment := a["monthly_payment"].(float64)
	n := a["remaining_term_months"].(int)
	next, err := time.Parse(time.DateOnly, a["next_payment_date"].(string))
	if err != nil {
		panic(fmt.Sprintf("gen: a generated loan's next_payment_date %q: %v", a["next_payment_date"], err))
	}
	flows := make([]map[string]any, 0, n)
	for k := 0; k < n && balance > 0; k++ {
		interest := round2(balance * r)
		principal := round2(payment - interest)
		if k == n-1 || principal >= balance {
			principal = balance
		}
		balance = round2(balance - principal)
		flows = append(flows, map[string]any{
			"pay_date":  next.AddDate(0, k, 0).Format(time.DateOnly),
			"interest":  interest,
			"principal": principal,
		})
	}
	a["cashflows"] = flows
}

// bondFace is the face amount of one generated bond.
const bondFace = 1000.0

func bond(rng *rand.Rand, asOf time.Time, i int) *Position {
	years := 1 + rng.IntN(10)
	coupon := math.Round((0.02+0.04*rng.Float64())*1e4) / 1e4
	face := bondFace
	// Semi-annual coupons from the next coupon date to maturity.
	first := asOf.AddDate(0, 1+rng.IntN(6), 0)
	var flows []map[string]any
	for k := range 2 * years {
		amount := face * coupon / 2
		if k == 2*years-1 {
			amount += face
		}
		flows = append(flows, map[string]any{
			"pay_date": first.AddDate(0, 6*k, 0).Format(time.DateOnly),
			"amount":   amount,
		})
	}
	daysSinceCoupon := int(asOf.Sub(first.AddDate(0, -6, 0)).Hours() / 24)
	accrued := round2(face * coupon * float64(daysSinceCoupon) / 360)
	id := fmt.Sprintf("BD%06d", i+1)
	return &Position{
		PositionID:   "POS-" + id,
		InstrumentID: "US-CORP-" + id,
		ProductType:  "FIXED_BOND",
		Quantity:     float64(10 * (1 + rng.IntN(50))),
		Attributes: map[string]any{
			"cashflows":        flows,
			"accrued_interest": accrued,
			"coupon_rate":      coupon,
			"issuer_rating":    []string{"AA", "A", "BBB", "BB"}[rng.IntN(4)],
		},
	}
}

func fxForward(rng *rand.Rand, asOf time.Time, i int) *Position {
	fx := fxPairs[rng.IntN(len(fxPairs))]
	months := 1 + rng.IntN(24)
	maturity := asOf.AddDate(0, months, 0)
	k := fx.spot + fx.point*float64(months)/12*(0.5+rng.Float64())
	k = math.Round(k*1e6) / 1e6
	notional := float64(100000 * (1 + rng.IntN(50)))
	qty := 1.0
	if rng.IntN(3) == 0 {
		qty = -1 // sold forward
	}
	id := fmt.Sprintf("FX%06d", i+1)
	return &Position{
		PositionID:   "POS-" + id,
		InstrumentID: id,
		ProductType:  "FX_FWD",
		Quantity:     qty,
		Attributes: map[string]any{
			"notional_base": notional,
			"forward_rate":  k,
			"maturity_date": maturity.Format(time.DateOnly),
			"fx_pair":       fx.pair,
			"desk":          "FX-HEDGE",
		},
	}
}

// MarketSnapshot returns a full market snapshot document for asOf: OIS
// curves for USD, EUR, GBP and JPY, the loan and bond spread curves, and
// the spots of every pair the generated FX forwards use.
func MarketSnapshot(id string, asOf time.Time) map[string]any {
	tenors := []string{"ON", "1M", "3M", "6M", "1Y", "2Y", "3Y", "5Y", "7Y", "10Y", "15Y", "20Y", "30Y"}
	years := []float64{1.0 / 365, 1.0 / 12, 0.25, 0.5, 1, 2, 3, 5, 7, 10, 15, 20, 30}
	curve := func(id, typ string, short, long float64) map[string]any {
		nodes := make([]map[string]any, len(tenors))
		for i, t := range tenors {
			// A smooth upward-sloping curve between the short and long rate.
			w := 1 - math.Exp(-years[i]/4)
			rate := math.Round((short+(long-short)*w)*1e6) / 1e6
			nodes[i] = map[string]any{"tenor": t, "zero_rate": rate}
		}
		return map[string]any{"curve_id": id, "curve_type": typ, "nodes": nodes}
	}
	ts := asOf.UTC().Format(time.RFC3339)
	spots := make([]map[string]any, len(fxPairs))
	for i, fx := range fxPairs {
		spots[i] = map[string]any{"pair": fx.pair, "spot": fx.spot, "ts": ts}
	}
	return map[string]any{
		"snapshot_id": id,
		"as_of_time":  ts,
		"vendor":      "IPRS-DEMO",
		"universe_id": "EOD-OFFICIAL",
		"fx_spots":    spots,
		"curves": []map[string]any{
			curve("USD-OIS", "DISCOUNT", 0.0400, 0.0440),
			curve("EUR-OIS", "DISCOUNT", 0.0300, 0.0340),
			curve("GBP-OIS", "DISCOUNT", 0.0450, 0.0420),
			curve("JPY-OIS", "DISCOUNT", 0.0010, 0.0150),
			curve("LOAN-SPREAD", "SPREAD", 0.0250, 0.0350),
			curve("FI-SPREAD", "SPREAD", 0.0080, 0.0150),
		},
	}
}

// ParseCount reads a book size like "100000", "100k" or "1m".
func ParseCount(s string) (int, error) {
	mult := 1
	switch {
	case len(s) > 1 && (s[len(s)-1] == 'k' || s[len(s)-1] == 'K'):
		mult, s = 1_000, s[:len(s)-1]
	case len(s) > 1 && (s[len(s)-1] == 'm' || s[len(s)-1] == 'M'):
		mult, s = 1_000_000, s[:len(s)-1]
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("book size %q: want a non-negative count such as 100000, 100k or 1m", s)
	}
	return n * mult, nil
}
