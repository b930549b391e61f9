package gen

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// A second business day. The demo's first day is MarketSnapshot and the
// book of Demo at one as-of time; Roll and EachRolled give the book of a
// later day derived from it, and MarketAfter that day's market, so that two
// runs can be compared and their P&L explained.
//
// Between the two dates the book lives as a servicer's and a desk's would:
//   - every loan makes the scheduled payments dated on or after the first
//     date and before the second (a payment dated on the second date is
//     still due then, as the pricer values a cashflow on the as-of date):
//     current_principal falls by each payment's principal (payment −
//     balance × coupon_rate / 12, unrounded, exactly as internal/pricing
//     builds the schedule from the terms), remaining_term_months falls by
//     one, next_payment_date moves a month on and last_payment_date becomes
//     the payment's date. The loan's remaining schedule is therefore the
//     same cashflows as before, so a loan that only paid as scheduled is
//     worth on the second day what its first-day version valued at the
//     second date is worth. A loan whose last payment falls in between has
//     matured and is absent on the second day;
//   - Roll.Prepaid other loans are repaid in full (absent on the second
//     day);
//   - Roll.Restructured other loans are restructured on the second date
//     after their payments: the coupon cut by 2 to 4 points (not below
//     1.99%), the term extended by 12 months and the level payment
//     recomputed on the balance (rounded to the cent), with
//     modification_date set;
//   - Roll.NewLoans loans are originated on the second date (ids after the
//     first day's), their first payment a month later;
//   - bonds drop the coupons paid in between (a bond whose last flow is
//     paid matures) and accrue interest to the second date;
//     Roll.BondTrades of them change quantity (bought or sold 10 to 50);
//   - an FX forward maturing before the second date has settled (absent);
//     Roll.NewFXForwards forwards are traded on the second date.
//
// The loans' payment days are the 1st to the 28th, so moving a payment a
// month never meets a short month.

// Roll describes the second day's book.
type Roll struct {
	// SnapshotID is the second snapshot's position_snapshot_id.
	SnapshotID string
	// AsOf is the second day's as-of time, after the first's date.
	AsOf time.Time
	// Seed chooses the loans and bonds that change and makes the new ones.
	Seed uint64
	// Prepaid, Restructured, NewLoans, BondTrades and NewFXForwards are how
	// many positions change so (see above). Prepaid and Restructured loans
	// are chosen among the loans that do not mature in between, and
	// BondTrades among the bonds that do not; fewer are chosen when there
	// are not enough.
	Prepaid, Restructured, NewLoans, BondTrades, NewFXForwards int
}

// DemoRoll is the demo's second day after the book day1 (see Demo), as of
// asOf: 0.5% of its loans prepaid, 0.2% restructured, 1% new, a tenth of
// its bonds traded and a tenth more FX forwards, each at least one when the
// book has any of its kind.
func DemoRoll(day1 Options, asOf time.Time) Roll {
	ceil := func(n, d int) int { return (n + d - 1) / d }
	return Roll{
		SnapshotID:    "PS-DEMO-" + asOf.Format("20060102"),
		AsOf:          asOf,
		Seed:          day1.Seed + 1,
		Prepaid:       ceil(day1.Loans, 200),
		Restructured:  ceil(day1.Loans, 500),
		NewLoans:      ceil(day1.Loans, 100),
		BondTrades:    ceil(day1.Bonds, 10),
		NewFXForwards: ceil(day1.FXForwards, 10),
	}
}

// RollStats count what happened between the two days.
type RollStats struct {
	// Positions is how many positions the second day's book holds.
	Positions int
	// Paid counts the loans on both days that made at least one payment
	// in between; Payments counts every payment made in between, those of
	// the matured loans included.
	Paid, Payments int
	// Matured loans made their last payment in between; Prepaid loans
	// were repaid in full; Restructured loans had their terms changed.
	Matured, Prepaid, Restructured int
	// NewLoans and NewFXForwards are the positions only on the second day.
	NewLoans, NewFXForwards int
	// BondTrades bonds changed quantity; BondsMatured paid their last flow
	// and FXSettled forwards matured in between.
	BondTrades, BondsMatured, FXSettled int
}

// Kept is how many positions are on both days.
func (s RollStats) Kept() int { return s.Positions - s.NewLoans - s.NewFXForwards }

// Gone is how many positions of the first day are not on the second.
func (s RollStats) Gone() int { return s.Matured + s.Prepaid + s.BondsMatured + s.FXSettled }

// NextBusinessDay is the first weekday (Monday to Friday; no holidays)
// after t's date, at t's time of day.
func NextBusinessDay(t time.Time) time.Time {
	for d := t.AddDate(0, 0, 1); ; d = d.AddDate(0, 0, 1) {
		if wd := d.Weekday(); wd != time.Saturday && wd != time.Sunday {
			return d
		}
	}
}

// MarketAfter returns the market snapshot of a later day to, with the id
// given: MarketSnapshot's curves and spots (the market of from) moved by
// History's dynamics for each business day after from's date up to to's,
// so one business day later is one day's realistic move. The same dates
// and seed give the same snapshot.
func MarketAfter(id string, from, to time.Time, seed uint64) map[string]any {
	snap := MarketSnapshot(id, to)
	state := newWalkState(snap)
	rng := rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d))
	for d := NextBusinessDay(dateOf(from)); !d.After(dateOf(to)); d = NextBusinessDay(d) {
		state.step(rng)
	}
	state.apply(snap)
	return snap
}

// dateOf is t's UTC date at midnight.
func dateOf(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// WriteRolledSnapshot streams the second day's position snapshot document
// (see EachRolled) to w, under the first day's portfolio node.
func WriteRolledSnapshot(w io.Writer, day1 Options, r Roll) (RollStats, error) {
	var stats RollStats
	_, err := writeSnapshot(w, r.SnapshotID, day1.NodeID, r.AsOf, func(fn func(*Position) error) error {
		var err error
		stats, err = EachRolled(day1, r, fn)
		return err
	}, nil)
	return stats, err
}

// change is what happens to a chosen position of the first day.
type change uint8

const (
	changePrepay change = iota + 1
	changeRestructure
	changeTrade
)

// EachRolled calls fn for every position of the second day's book: the
// first day's positions that remain, in their order and changed as the
// package's day-two rules say, then the new loans, then the new FX
// forwards. It reads the first day's book twice (once to know which
// positions leave by themselves), so its memory grows only with the
// number of loans and bonds, not their size.
func EachRolled(day1 Options, r Roll, fn func(*Position) error) (RollStats, error) {
	from, to := dateOf(day1.AsOf), dateOf(r.AsOf)
	if !to.After(from) {
		return RollStats{}, fmt.Errorf("the second day %s is not after the first %s", to.Format(time.DateOnly), from.Format(time.DateOnly))
	}
	chosen, err := chooseChanges(day1, r, to)
	if err != nil {
		return RollStats{}, err
	}
	rng := rand.New(rand.NewPCG(r.Seed^0x2545f4914f6cdd1d, r.Seed))
	var s RollStats
	emit := func(p *Position) error {
		s.Positions++
		return fn(p)
	}
	loans, bonds := 0, 0
	err = Each(day1, func(p *Position) error {
		switch p.ProductType {
		case "AMORT_LOAN":
			i := loans
			loans++
			paid, matured := payLoan(p, to)
			s.Payments += paid
			switch {
			case matured:
				s.Matured++
				return nil
			case chosen.loans[i] == changePrepay:
				s.Prepaid++
				return nil
			case chosen.loans[i] == changeRestructure:
				restructure(rng, p, to)
				s.Restructured++
			}
			if paid > 0 {
				s.Paid++
			}
		case "FIXED_BOND":
			i := bonds
			bonds++
			if !rollBond(p, to) {
				s.BondsMatured++
				return nil
			}
			if chosen.bonds[i] == changeTrade {
				trade(rng, p)
				s.BondTrades++
			}
		case "FX_FWD":
			if p.Attributes["maturity_date"].(string) < to.Format(time.DateOnly) {
				s.FXSettled++
				return nil
			}
		}
		return emit(p)
	})
	if err != nil {
		return s, err
	}
	for i := range r.NewLoans {
		if err := emit(newLoan(rng, to, day1.Loans+i)); err != nil {
			return s, err
		}
		s.NewLoans++
	}
	for i := range r.NewFXForwards {
		if err := emit(fxForward(rng, to, day1.FXForwards+i)); err != nil {
			return s, err
		}
		s.NewFXForwards++
	}
	return s, nil
}

// chosenChanges are the changes of chosen loans and bonds, by their index
// among the first day's loans and bonds.
type chosenChanges struct {
	loans, bonds map[int]change
}

// chooseChanges reads the first day's book to find the loans and bonds
// that remain on the second day, and chooses among them, with r.Seed, the
// prepaid, restructured and traded ones.
func chooseChanges(day1 Options, r Roll, to time.Time) (chosenChanges, error) {
	var loans, bonds []int
	li, bi := 0, 0
	err := Each(day1, func(p *Position) error {
		switch p.ProductType {
		case "AMORT_LOAN":
			if _, matured := payLoan(p, to); !matured {
				loans = append(loans, li)
			}
			li++
		case "FIXED_BOND":
			if rollBond(p, to) {
				bonds = append(bonds, bi)
			}
			bi++
		}
		return nil
	})
	if err != nil {
		return chosenChanges{}, err
	}
	rng := rand.New(rand.NewPCG(r.Seed, r.Seed^0x9e3779b97f4a7c15))
	c := chosenChanges{loans: map[int]change{}, bonds: map[int]change{}}
	for k, i := range sample(rng, loans, r.Prepaid+r.Restructured) {
		c.loans[i] = changeRestructure
		if k < r.Prepaid {
			c.loans[i] = changePrepay
		}
	}
	for _, i := range sample(rng, bonds, r.BondTrades) {
		c.bonds[i] = changeTrade
	}
	return c, nil
}

// sample returns k distinct elements of xs (all of them when k is larger)
// in a random order, reordering xs (a partial Fisher–Yates shuffle).
func sample(rng *rand.Rand, xs []int, k int) []int {
	k = min(max(k, 0), len(xs))
	for i := range k {
		j := i + rng.IntN(len(xs)-i)
		xs[i], xs[j] = xs[j], xs[i]
	}
	return xs[:k]
}

// payLoan makes the generated loan p's scheduled payments dated before to,
// as internal/pricing schedules them from its terms, and reports how many
// it made and whether the last of them cleared the loan.
func payLoan(p *Position, to time.Time) (paid int, matured bool) {
	a := p.Attributes
	balance := a["current_principal"].(float64)
	coupon := a["coupon_rate"].(float64)
	payment := a["monthly_payment"].(float64)
	n := a["remaining_term_months"].(int)
	next, err := time.Parse(time.DateOnly, a["next_payment_date"].(string))
	if err != nil {
		panic(fmt.Sprintf("generated loan %s: %v", p.PositionID, err)) // the generator wrote it
	}
	var last time.Time
	for ; paid < n; paid++ {
		due := next.AddDate(0, paid, 0)
		if !due.Before(to) {
			break
		}
		interest := balance * coupon / 12
		if paid == n-1 || payment >= balance+interest {
			return paid + 1, true
		}
		principal := payment - interest
		balance -= principal
		last = due
	}
	if paid > 0 {
		a["current_principal"] = balance
		a["remaining_term_months"] = n - paid
		a["next_payment_date"] = next.AddDate(0, paid, 0).Format(time.DateOnly)
		a["last_payment_date"] = last.Format(time.DateOnly)
	}
	return paid, false
}

// restructure cuts the loan's coupon by 2 to 4 points (not below 1.99%),
// extends its term by 12 months and recomputes its level payment on the
// balance, as of to.
func restructure(rng *rand.Rand, p *Position, to time.Time) {
	a := p.Attributes
	cut := 0.02 + 0.02*rng.Float64()
	coupon := math.Round(max(a["coupon_rate"].(float64)-cut, 0.0199)*1e6) / 1e6
	n := a["remaining_term_months"].(int) + 12
	r := coupon / 12
	a["coupon_rate"] = coupon
	a["remaining_term_months"] = n
	a["term_months"] = a["term_months"].(int) + 12
	a["monthly_payment"] = round2(a["current_principal"].(float64) * r / (1 - math.Pow(1+r, -float64(n))))
	a["modification_date"] = to.Format(time.DateOnly)
}

// newLoan is a loan of the generated kind originated on to: the full
// original balance and term, the first payment a month later, the coupon
// of to's rate environment.
func newLoan(rng *rand.Rand, to time.Time, i int) *Position {
	p := loan(rng, to, i)
	a := p.Attributes
	was, _ := time.Parse(time.DateOnly, a["origination_date"].(string))
	coupon := a["coupon_rate"].(float64) - rateEnvironment(was.Year()) + rateEnvironment(to.Year())
	coupon = math.Round(max(coupon, 0.0199)*1e6) / 1e6
	original := a["original_principal"].(float64)
	term := a["term_months"].(int)
	r := coupon / 12
	first := time.Date(to.Year(), to.Month()+1, min(to.Day(), 28), 0, 0, 0, 0, time.UTC)
	a["coupon_rate"] = coupon
	a["current_principal"] = original
	a["remaining_term_months"] = term
	a["monthly_payment"] = round2(original * r / (1 - math.Pow(1+r, -float64(term))))
	a["origination_date"] = to.Format(time.DateOnly)
	a["last_payment_date"] = to.Format(time.DateOnly)
	a["next_payment_date"] = first.Format(time.DateOnly)
	return p
}

// rollBond drops the bond's flows paid before to and accrues its interest
// to to; false when no flow remains (the bond has matured).
func rollBond(p *Position, to time.Time) bool {
	a := p.Attributes
	flows := a["cashflows"].([]map[string]any)
	day := to.Format(time.DateOnly)
	flows = slices.DeleteFunc(flows, func(f map[string]any) bool { return f["pay_date"].(string) < day })
	if len(flows) == 0 {
		return false
	}
	a["cashflows"] = flows
	next, err := time.Parse(time.DateOnly, flows[0]["pay_date"].(string))
	if err != nil {
		panic(fmt.Sprintf("generated bond %s: %v", p.PositionID, err)) // the generator wrote it
	}
	days := int(to.Sub(next.AddDate(0, -6, 0)).Hours() / 24)
	a["accrued_interest"] = round2(bondFace * a["coupon_rate"].(float64) * float64(days) / 360)
	return true
}

// trade buys or sells 10 to 50 of the bond, keeping at least 10.
func trade(rng *rand.Rand, p *Position) {
	q := 10 * float64(1+rng.IntN(5))
	if rng.IntN(2) == 0 && p.Quantity > q {
		q = -q
	}
	p.Quantity += q
}
