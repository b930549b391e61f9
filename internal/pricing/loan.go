package pricing

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
)

// AMORT_LOAN (SPEC §2): an amortizing loan given by explicit cashflows
// {pay_date, interest, principal} or by its terms, discounted on USD-OIS
// plus LOAN-SPREAD.

const productAmortLoan = "AMORT_LOAN"

func init() {
	registerProduct(&productType{
		name:     productAmortLoan,
		measures: declaredMeasures(productAmortLoan),
		parse:    parseLoan,
	})
}

type loan struct {
	principal float64
	coupon    float64
	lastPay   int32
	curves    cashflowCurves
	// days and amounts (interest + principal) of the cashflows, in the
	// order given or generated, and each one's interest and principal.
	days       []int32
	amounts    []float64
	interest   []float64
	principals []float64
	lastDay    int32 // the latest of days
	// The same schedule in date order (ties in the order given), for the
	// projection: the same slices when it already is in order.
	sdays       []int32
	sinterest   []float64
	sprincipals []float64
	// Facts of SPEC §4.1 and §4.6, read leniently (see loanFacts).
	facts loanFactsRaw
	// For a schedule generated from terms: the payment and the first
	// period's interest, and the attribute the payment came from.
	fromTerms     bool
	payment       float64
	firstInterest float64
	paymentPtr    string
	// matchAttrs holds the loan's top-level scalar attributes (a JSON
	// object of its string, number and boolean members, copied), read to
	// match a model set's rules; binding remembers the rule matched, per
	// model set (see ModelSet.Match). Copies of a Position share them.
	matchAttrs []byte
	binding    atomic.Pointer[ruleBinding]
}

func parseLoan(a *attrs) product {
	l := &loan{}
	l.principal, _ = a.number("current_principal", true)
	l.coupon, _ = a.number("coupon_rate", true)
	l.lastPay, _ = a.date("last_payment_date", true)
	switch {
	case a.has("cashflows"):
		items, ok := a.list("cashflows")
		if !ok {
			break
		}
		l.makeSchedule(len(items))
		for i, raw := range items {
			it, ok := a.item("cashflows", i, raw)
			if !ok {
				continue
			}
			d, _ := it.date("pay_date")
			interest, _ := it.number("interest")
			principal, _ := it.number("principal")
			l.addCashflow(d, interest, principal)
		}
	case a.has("remaining_term_months") || a.has("next_payment_date"):
		n, _ := a.termMonths("remaining_term_months", true)
		next, _ := a.date("next_payment_date", true)
		payment, hasPayment := a.number("monthly_payment", false)
		if len(a.probs.list) > 0 {
			break
		}
		l.fromTerms = true
		l.paymentPtr = "/attributes/current_principal"
		if hasPayment {
			l.paymentPtr = "/attributes/monthly_payment"
		} else {
			payment = levelPayment(l.principal, l.coupon, n)
		}
		l.payment = payment
		l.firstInterest = periodInterest(l.principal, l.coupon)
		l.makeSchedule(n)
		eachScheduled(l.principal, l.coupon, n, next, payment, l.addCashflow)
	default:
		a.probs.addf("/attributes/cashflows", "required attribute cashflows is missing (or give the loan terms remaining_term_months and next_payment_date)")
	}
	l.lastDay = latestDay(l.days)
	l.sortSchedule()
	l.facts = readLoanFacts(a)
	l.curves = parseCashflowCurves(a, "LOAN-SPREAD")
	if len(a.probs.list) == 0 {
		l.matchAttrs = scalarMembers(a.fields)
	}
	return l
}

// periodInterest is one month's interest on a balance: balance ×
// coupon_rate / 12.
func periodInterest(balance, coupon float64) float64 { return balance * coupon / 12 }

// levelPayment is P·r / (1 − (1 + r)^−n) with r = coupon/12, or P/n when
// r = 0.
func levelPayment(principal, coupon float64, n int) float64 {
	r := coupon / 12
	if r == 0 {
		return principal / float64(n)
	}
	return principal * r / (1 - 1/powInt(1+r, n))
}

// powInt returns x^n for n ≥ 0 by repeated squaring (multiplications only,
// so the result is the same on every platform).
func powInt(x float64, n int) float64 {
	result := 1.0
	for n > 0 {
		if n&1 == 1 {
			result *= x
		}
		x *= x
		n >>= 1
	}
	return result
}

// eachScheduled calls fn with each payment of a loan given by its terms
// (SPEC §2), in order: n monthly payments from the first payment date on
// the same day of the month (the month's last day where that day is
// missing); each period's interest is balance × coupon / 12; principal is
// payment − interest; the last payment clears the balance; a payment that
// would overshoot pays just balance + interest and ends the schedule
// early. No rounding.
func eachScheduled(principal, coupon float64, n int, first int32, payment float64, fn func(day int32, interest, principal float64)) {
	y, m, day := civilFromDays(first)
	balance := principal
	for k := 0; k < n; k++ {
		d := addMonthsClamped(y, m, day, k)
		interest := periodInterest(balance, coupon)
		if k == n-1 || payment >= balance+interest {
			fn(d, interest, balance)
			return
		}
		principal := payment - interest
		fn(d, interest, principal)
		balance -= principal
	}
}

// makeSchedule makes room for n cashflows: the days, and the amounts,
// interest and principals in one allocation (a parse of a 1,000,000-loan
// book made five per loan before, a fifth of its time).
func (l *loan) makeSchedule(n int) {
	l.days = make([]int32, 0, n)
	f := make([]float64, 3*n)
	l.amounts, l.interest, l.principals = f[0:0:n], f[n:n:2*n], f[2*n:2*n:3*n]
}

// addCashflow appends one cashflow to the schedule makeSchedule made.
func (l *loan) addCashflow(day int32, interest, principal float64) {
	l.days = append(l.days, day)
	l.amounts = append(l.amounts, interest+principal)
	l.interest = append(l.interest, interest)
	l.principals = append(l.principals, principal)
}

func (l *loan) requirements() []requirement { return l.curves.requirements() }

func (l *loan) check(asOf int32, probs *problemList) {
	errs, n := l.dataErrors(asOf)
	for _, e := range errs[:n] {
		probs.addf(e.pointer, "%s", e.detail)
	}
}

// clearFrom mirrors dataErrors: the last payment must not be after the
// as-of day, and a loan by its terms must amortize whatever the day.
func (l *loan) clearFrom() (int32, bool) {
	if l.fromTerms && !(l.payment > l.firstInterest) {
		return 0, false
	}
	return l.lastPay, true
}

// loanDataError is one reason a loan cannot be valued.
type loanDataError struct{ pointer, detail string }

// dataErrors reports what makes the loan impossible to value as of asOf
// (SPEC §2: the run is refused with 422): a last payment after it, or a
// payment not above the first period's interest. It allocates nothing when
// there is none.
func (l *loan) dataErrors(asOf int32) (errs [2]loanDataError, n int) {
	if l.lastPay > asOf {
		errs[n] = loanDataError{"/attributes/last_payment_date",
			fmt.Sprintf("last_payment_date %s is after the as-of date %s", formatDate(l.lastPay), formatDate(asOf))}
		n++
	}
	if l.fromTerms && !(l.payment > l.firstInterest) {
		errs[n] = loanDataError{l.paymentPtr,
			fmt.Sprintf("payment %s is not above the first period's interest %s (current_principal × coupon_rate / 12), so the loan never amortizes",
				strconv.FormatFloat(l.payment, 'g', -1, 64), strconv.FormatFloat(l.firstInterest, 'g', -1, 64))}
		n++
	}
	return errs, n
}

func (l *loan) price(pc priceCall, out *Values) error {
	if errs, n := l.dataErrors(pc.asOf); n > 0 {
		return pc.problem(errs[0].pointer, "%s", errs[0].detail)
	}
	if r := pc.e.loanRule(pc.pos); r != nil {
		if err := l.priceModelled(pc, r, out); err != nil {
			return err
		}
	} else if err := l.priceContractual(pc, out); err != nil {
		return err
	}
	if pc.wants(AccruedInterest) {
		days := float64(pc.asOf - l.lastPay)
		out.Set(AccruedInterest, pc.qty*(l.principal*l.coupon*days/360))
	}
	return nil
}

// sortSchedule sets the date-ordered schedule used by the projection.
func (l *loan) sortSchedule() {
	l.sdays, l.sinterest, l.sprincipals = l.days, l.interest, l.principals
	if slices.IsSorted(l.days) {
		return
	}
	order := make([]int, len(l.days))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int { return cmp.Compare(l.days[i], l.days[j]) })
	l.sdays = make([]int32, len(order))
	l.sinterest = make([]float64, len(order))
	l.sprincipals = make([]float64, len(order))
	for k, i := range order {
		l.sdays[k], l.sinterest[k], l.sprincipals[k] = l.days[i], l.interest[i], l.principals[i]
	}
}

// priceContractual sets the measures of the contractual schedule (SPEC §2):
// PV, DV01, CS01 and KR01 of its cashflows, WAL of its principal flows,
// and an EXPECTED_LOSS of 0.
func (l *loan) priceContractual(pc priceCall, out *Values) error {
	if err := l.curves.price(pc, l.days, l.amounts, l.lastDay, out); err != nil {
		return err
	}
	if err := l.curves.keyRates(pc, l.days, l.amounts, l.lastDay, out); err != nil {
		return err
	}
	if pc.wants(WAL) {
		num, den := l.contractualWAL(pc.asOf)
		setWAL(out, pc.qty, num, den)
	}
	if pc.wants(ExpectedLoss) {
		out.Set(ExpectedLoss, 0)
	}
	return nil
}

// priceModelled sets the measures of the loan's projection under rule r
// (SPEC §4.1): the projected cashflows are discounted as the contractual
// ones are.
func (l *loan) priceModelled(pc priceCall, r *modelRule, out *Values) error {
	pr := pc.e.projection()
	defer pc.e.scratch.Put(pr)
	res := l.project(r, pc.asOf, pr, nil)
	days, cash := pr.days[:res.n], pr.cash[:res.n]
	if err := l.curves.price(pc, days, cash, res.lastDay, out); err != nil {
		return err
	}
	if err := l.curves.keyRates(pc, days, cash, res.lastDay, out); err != nil {
		return err
	}
	if pc.wants(WAL) {
		setWAL(out, pc.qty, res.walNum, res.walDen)
	}
	if pc.wants(ExpectedLoss) {
		el := 0.0 // never −0
		if res.loss != 0 {
			el = pc.qty * res.loss
		}
		out.Set(ExpectedLoss, el)
	}
	return nil
}

// setWAL sets WAL = num/den with weight den·qty, or leaves it absent when
// no principal remains (den ≤ 0).
func setWAL(out *Values, qty, num, den float64) {
	if den > 0 {
		out.SetWAL(num/den, den*qty)
	}
}
