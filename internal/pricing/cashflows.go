package pricing

import "strconv"

// CashflowRow is one projected row of a loan (SPEC §4.1), as the
// cashflows route shows it. Amounts are multiplied by quantity; Balance is
// the performing balance Pᵢ after the row; DF is the discount factor of
// the row's date including the spread, so that Σ Cashflow·DF is the PV.
type CashflowRow struct {
	Date               string  `json:"date"`
	T                  float64 `json:"t"`
	Balance            float64 `json:"balance"`
	Interest           float64 `json:"interest"`
	ScheduledPrincipal float64 `json:"scheduled_principal"`
	Prepayment         float64 `json:"prepayment"`
	Default            float64 `json:"default"`
	Loss               float64 `json:"loss"`
	Recovery           float64 `json:"recovery"`
	Cashflow           float64 `json:"cashflow"`
	DF                 float64 `json:"df"`
}

// Cashflows returns the cashflow rows of a loan position under the
// scenario with the given index: the projection of the rule it takes in
// the engine's model set, or else its contractual schedule (interest and
// scheduled principal, nothing prepaid or defaulted; the balance is then
// the contractual one). Rows dated before the as-of date are left out.
// Rows are in the order the PV sums them: date order for a projection,
// the order given for a contractual schedule; with quantity 1, Σ
// Cashflow·DF in row order is PV bit for bit (otherwise to rounding, since
// PV scales the sum and the rows scale each amount). A position that is
// not an AMORT_LOAN, or that cannot be priced, is an error (a Problem).
func (e *Engine) Cashflows(p *Position, scenarioIndex int) ([]CashflowRow, error) {
	if scenarioIndex < 0 || scenarioIndex >= len(e.scenarios) {
		return nil, Problem{PositionID: p.ID, Detail: "scenario index " + strconv.Itoa(scenarioIndex) + " out of range"}
	}
	l, ok := p.prod.(*loan)
	if !ok {
		return nil, Problem{PositionID: p.ID, Detail: "cashflows are projected for AMORT_LOAN positions only, not " + p.ProductType}
	}
	pc := priceCall{e: e, s: e.scenarios[scenarioIndex], pos: p, asOf: e.asOfDay(p), qty: p.Quantity, want: e.want}
	if errs, n := l.dataErrors(pc.asOf); n > 0 {
		return nil, pc.problem(errs[0].pointer, "%s", errs[0].detail)
	}
	di, err := pc.curve(l.curves.disc)
	if err != nil {
		return nil, err
	}
	si, err := pc.curve(l.curves.spread)
	if err != nil {
		return nil, err
	}
	rows := e.loanRows(p, l, pc.asOf)
	table := pc.table(kindBase, di, si)
	var vals []float64
	if len(rows) > 0 {
		vals = table.upTo(int(rows[len(rows)-1].day) - int(pc.asOf) + 1)
	}
	q := pc.qty
	out := make([]CashflowRow, len(rows))
	for i, r := range rows {
		off := int(r.day) - int(pc.asOf)
		out[i] = CashflowRow{
			Date:               formatDate(r.day),
			T:                  yearFraction(off),
			Balance:            q * r.balance,
			Interest:           q * r.interest,
			ScheduledPrincipal: q * r.scheduled,
			Prepayment:         q * r.prepay,
			Default:            q * r.dflt,
			Loss:               q * r.loss,
			Recovery:           q * r.recovery,
			Cashflow:           q * r.cash,
			DF:                 table.at(vals, off),
		}
	}
	return out, nil
}

// loanRows are the rows of a loan dated on or after asOf: projected with
// the rule the engine's model set gives it, else contractual.
func (e *Engine) loanRows(p *Position, l *loan, asOf int32) []projRow {
	var rows []projRow
	if r := e.loanRule(p); r != nil {
		var pr projection
		l.project(r, asOf, &pr, &rows)
	} else {
		rows = l.contractualRows(asOf)
	}
	return rows
}

// contractualRows lists the contractual schedule rows dated on or after
// asOf in the order given, with the balance after each (current_principal
// less the principal of the rows listed so far).
func (l *loan) contractualRows(asOf int32) []projRow {
	var rows []projRow
	balance := l.principal
	for i, d := range l.days {
		if d < asOf {
			continue
		}
		balance -= l.principals[i]
		rows = append(rows, projRow{day: d, balance: balance, interest: l.interest[i],
			scheduled: l.principals[i], cash: l.amounts[i]})
	}
	return rows
}
