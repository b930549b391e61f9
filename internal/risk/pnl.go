package risk

import (
	"fmt"

	"github.com/iprs/iprs/internal/exactsum"
)

// PnL accumulates one group's P&L vector: for each scenario j, the exact
// sum over positions of PV(j) − PV(BASE), each difference rounded to a
// float64 as SPEC §4.4 says. The sums are exact until Vector rounds each
// once, so the vector does not depend on the order of the positions or on
// how they were split across tasks (Merge joins partial vectors exactly).
// A PnL is not safe for concurrent use; give each goroutine its own and
// merge them.
type PnL struct {
	accs []exactsum.Acc
}

// NewPnL returns an empty vector over n scenarios.
func NewPnL(n int) *PnL { return &PnL{accs: make([]exactsum.Acc, n)} }

// Len returns the number of scenarios.
func (p *PnL) Len() int { return len(p.accs) }

// Add adds one position's P&L under scenario j: pv − pvBase, computed in
// float64.
func (p *PnL) Add(j int, pv, pvBase float64) {
	p.accs[j].Add(pv - pvBase)
}

// AddPositions adds one position's P&L under every scenario: pv[j] −
// pvBase.
func (p *PnL) AddPositions(pv []float64, pvBase float64) {
	for j, v := range pv {
		p.accs[j].Add(v - pvBase)
	}
}

// Merge adds the exact sums of q (the same scenarios, from another task or
// goroutine) into p.
func (p *PnL) Merge(q *PnL) error {
	if len(q.accs) != len(p.accs) {
		return fmt.Errorf("risk: merge a P&L vector of %d scenarios into one of %d", len(q.accs), len(p.accs))
	}
	for j := range p.accs {
		p.accs[j].AddAcc(&q.accs[j])
	}
	return nil
}

// Vector returns each scenario's exact sum rounded once to a float64.
func (p *PnL) Vector() []float64 {
	out := make([]float64, len(p.accs))
	for j := range p.accs {
		out[j] = p.accs[j].Sum()
	}
	return out
}
