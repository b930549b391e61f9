package pricing

import (
	"math"
	"strconv"
	"time"
)

// Loan facts for loan-tape views (SPEC §4.6) and the loan age of the
// projection (SPEC §4.1). These attributes are optional and read
// leniently: one that is absent or not usable (not a whole number, not a
// date) is treated as absent and never makes a position invalid.

// maxFactMonths bounds the month counts read as facts (100 years).
const maxFactMonths = 1200

// loanFactsRaw are the optional attributes behind the facts.
type loanFactsRaw struct {
	age0           int // SPEC §4.1
	fico           float64
	hasFICO        bool
	remaining      int
	hasRemaining   bool
	term           int
	hasTerm        bool
	origination    int32
	hasOrigination bool
	nextPay        int32
	hasNextPay     bool
}

// wholeMonths reads a whole number of months from 0 to maxFactMonths.
func wholeMonths(raw []byte) (int, bool) {
	x, ok := rawNumber(raw)
	if !ok || x != math.Trunc(x) || x < 0 || x > maxFactMonths {
		return 0, false
	}
	return int(x), true
}

// optionalDate reads a YYYY-MM-DD date.
func optionalDate(raw []byte) (int32, bool) {
	s, ok := rawString(raw)
	if !ok {
		return 0, false
	}
	return parseDate(s)
}

func readLoanFacts(a *attrs) loanFactsRaw {
	var f loanFactsRaw
	f.fico, f.hasFICO = rawNumber(a.fields.get("fico"))
	f.remaining, f.hasRemaining = wholeMonths(a.fields.get("remaining_term_months"))
	f.term, f.hasTerm = wholeMonths(a.fields.get("term_months"))
	f.origination, f.hasOrigination = optionalDate(a.fields.get("origination_date"))
	f.nextPay, f.hasNextPay = optionalDate(a.fields.get("next_payment_date"))
	// age₀ = loan_age_months, else term_months − remaining_term_months
	// when the position gives both, else 0 (SPEC §4.1).
	if age, ok := wholeMonths(a.fields.get("loan_age_months")); ok {
		f.age0 = age
	} else if f.hasTerm && f.hasRemaining && f.term >= f.remaining {
		f.age0 = f.term - f.remaining
	}
	return f
}

// LoanFacts are the loan-tape facts of one AMORT_LOAN position.
type LoanFacts struct {
	// CurrentPrincipal is attributes.current_principal; Balance is it
	// times quantity, as the strats add it.
	CurrentPrincipal float64
	Balance          float64
	// Coupon is attributes.coupon_rate.
	Coupon float64
	// FICO is attributes.fico when it is a number (HasFICO).
	FICO    float64
	HasFICO bool
	// Age is the loan age in months at the as-of date, age₀ of SPEC
	// §4.1: loan_age_months, else term_months − remaining_term_months
	// when both are given, else 0.
	Age int
	// WAM is the remaining term in months: remaining_term_months, else
	// the number of schedule rows dated on or after the as-of date.
	WAM int
	// Vintage is the origination quarter, like "2024Q3": from
	// origination_date, else from the month term_months −
	// remaining_term_months + 1 payments before next_payment_date; ""
	// when the loan gives neither.
	Vintage string
}

// LoanFacts returns the loan-tape facts of a loan position as of the
// position's own attributes.as_of_date, else the UTC date of asOf; ok is
// false for a position that is not an AMORT_LOAN.
func (p *Position) LoanFacts(asOf time.Time) (LoanFacts, bool) {
	l, ok := p.prod.(*loan)
	if !ok {
		return LoanFacts{}, false
	}
	day := dayOf(asOf)
	if p.hasAsOf {
		day = p.asOf
	}
	f := l.facts
	out := LoanFacts{
		CurrentPrincipal: l.principal,
		Balance:          l.principal * p.Quantity,
		Coupon:           l.coupon,
		FICO:             f.fico,
		HasFICO:          f.hasFICO,
		Age:              f.age0,
		Vintage:          l.vintage(),
	}
	if f.hasRemaining {
		out.WAM = f.remaining
	} else {
		for _, d := range l.days {
			if d >= day {
				out.WAM++
			}
		}
	}
	return out, true
}

// vintage returns the origination quarter of the loan, or "".
func (l *loan) vintage() string { return l.facts.vintage() }

// NumVintageAttrs is the number of attributes a vintage is read from.
const NumVintageAttrs = 4

// VintageAttrs returns the attributes the vintage of a loan is read from,
// in the order Vintage takes their values.
func VintageAttrs() [NumVintageAttrs]string {
	return [...]string{"origination_date", "next_payment_date", "term_months", "remaining_term_months"}
}

// Vintage returns the origination quarter (SPEC §4.6) of a position of the
// product type given, from the JSON text of the attributes VintageAttrs
// in that order (nil for one that is absent), read as LoanFacts reads
// them; "" for a position that is not an AMORT_LOAN or gives no source. It
// serves groupings that read a few attributes rather than whole positions.
func Vintage(productType string, raw [NumVintageAttrs][]byte) string {
	if productType != productAmortLoan {
		return ""
	}
	names := VintageAttrs()
	f := make(fields, 0, len(raw))
	for i, r := range raw {
		if r != nil {
			f = append(f, member{key: []byte(names[i]), val: r})
		}
	}
	return readLoanFacts(&attrs{fields: f}).vintage()
}

// vintage returns the origination quarter the facts give, or "".
func (f loanFactsRaw) vintage() string {
	if f.hasOrigination {
		y, m, _ := civilFromDays(f.origination)
		return quarter(y, m)
	}
	if f.hasNextPay && f.hasTerm && f.hasRemaining && f.term >= f.remaining {
		y, m, _ := civilFromDays(f.nextPay)
		total := y*12 + (m - 1) - (f.term - f.remaining + 1)
		return quarter(total/12, total%12+1)
	}
	return ""
}

// quarter renders a year and month as "2024Q3".
func quarter(y, m int) string {
	return strconv.Itoa(y) + "Q" + strconv.Itoa((m-1)/3+1)
}
