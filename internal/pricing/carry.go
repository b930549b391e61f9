package pricing

import (
	"strconv"
	"time"
)

// CashflowsBefore returns the cashflows of a position, each multiplied by
// its quantity, dated on or after the position's as-of date (see AsOfDate)
// and before the UTC date of until, under the scenario with the given
// index: what an explain of P&L (SPEC §4.5) counts as carry cashflows.
//
//   - AMORT_LOAN: the rows of Cashflows (projected where the engine's
//     model set gives the loan a rule, contractual otherwise), each row's
//     Cashflow (its flow times quantity).
//   - FIXED_BOND: each amount.
//   - FX_FWD maturing in the window: its value on its maturity date,
//     N·(spot − K) on the scenario's market (t = 0, so both discount
//     factors are 1), computed as Price computes PV there.
//
// The list is in the order the product keeps its flows (undiscounted; sum
// it as the caller needs). A position that cannot be valued is a Problem.
func (e *Engine) CashflowsBefore(p *Position, scenarioIndex int, until time.Time) ([]float64, error) {
	if scenarioIndex < 0 || scenarioIndex >= len(e.scenarios) {
		return nil, Problem{PositionID: p.ID, Detail: "scenario index " + strconv.Itoa(scenarioIndex) + " out of range"}
	}
	end := dayOf(until)
	asOf := e.asOfDay(p)
	inWindow := func(d int32) bool { return d >= asOf && d < end }
	q := p.Quantity
	var out []float64
	switch prod := p.prod.(type) {
	case *loan:
		if errs, n := prod.dataErrors(asOf); n > 0 {
			return nil, Problem{PositionID: p.ID, Pointer: errs[0].pointer, Detail: errs[0].detail}
		}
		for _, r := range e.loanRows(p, prod, asOf) {
			if inWindow(r.day) {
				out = append(out, q*r.cash)
			}
		}
	case *bond:
		for i, d := range prod.days {
			if inWindow(d) {
				out = append(out, q*prod.amounts[i])
			}
		}
	case *fxForward:
		if inWindow(prod.maturity) {
			spot, ok := e.scenarios[scenarioIndex].market.spots[prod.pair]
			if !ok {
				return nil, Problem{PositionID: p.ID, Pointer: prod.pairPtr,
					Detail: "FX spot " + prod.pair + " is not in market snapshot \"" + e.base.snapshotID + "\""}
			}
			out = append(out, q*prod.unitPV(spot, 1, 1))
		}
	default:
		return nil, Problem{PositionID: p.ID, Detail: "no cashflows known for product type " + p.ProductType}
	}
	return out, nil
}
