package results

import (
	"errors"
	"net/http"

	"github.com/iprs/iprs/internal/agg"
	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/exactsum"
	"github.com/iprs/iprs/internal/pricing"
	"github.com/iprs/iprs/internal/web"
)

// BaseScenario is the scenario P&L is measured against.
const BaseScenario = agg.BaseScenario

// Summary is the body of GET /results/runs/{id}/summary.
type Summary struct {
	RunID  string `json:"run_id"`
	Status string `json:"status"`
	// Partial is true while the run is not COMPLETED or PUBLISHED: the
	// figures cover the tasks finished so far.
	Partial   bool                        `json:"partial"`
	Scenarios map[string]*ScenarioSummary `json:"scenarios"`
}

// ScenarioSummary is one scenario of a summary: the number of positions
// with results under it and each measure's aggregate over the positions
// where it is present (a number, or for FX_DELTA and KR01 an object). PnL
// is ΣPV(scenario) − ΣPV(BASE), computed exactly and rounded once, given
// when the run has the BASE scenario and the PV measure (0 for BASE
// itself).
type ScenarioSummary struct {
	PositionCount int64          `json:"position_count"`
	Measures      map[string]any `json:"measures"`
	PnL           *float64       `json:"pnl,omitempty"`
}

// summary answers GET /results/runs/{id}/summary from the tasks' partial
// aggregates. Every scenario of the run appears, with position_count 0
// while it has no results.
func (s *Service) summary(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	v, err := s.loadRun(ctx, r)
	if err != nil {
		return err
	}
	table, err := s.taskTable(ctx, v, "")
	if err != nil {
		return err
	}
	out := Summary{RunID: v.run.ID, Status: v.run.Status, Partial: !v.final(),
		Scenarios: make(map[string]*ScenarioSummary, len(v.run.Scenarios))}
	g := table.Group("")
	base := -1
	if v.pnl() {
		for i, sc := range v.run.Scenarios {
			if sc == BaseScenario {
				base = i
			}
		}
	}
	for si, sc := range v.run.Scenarios {
		ss := &ScenarioSummary{Measures: map[string]any{}}
		out.Scenarios[sc] = ss
		if g == nil {
			continue
		}
		ss.PositionCount = g.Positions
		for _, m := range v.measures {
			val, ok, err := table.Cell(g, si, m).Value(m)
			if err != nil {
				return notFinite(err, m.String(), sc)
			}
			if ok {
				ss.Measures[m.String()] = val
			}
		}
		if base >= 0 {
			var d exactsum.Acc
			d.AddAcc(table.Cell(g, si, pricing.PV).Sum(pricing.PV))
			d.SubAcc(table.Cell(g, base, pricing.PV).Sum(pricing.PV))
			pnl := d.Sum()
			if err := finiteSum(pnl, "P&L", sc); err != nil {
				return err
			}
			ss.PnL = &pnl
		}
	}
	if g == nil && v.pnl() {
		zero := 0.0
		for _, ss := range out.Scenarios {
			ss.PnL = &zero
		}
	}
	return web.WriteJSON(w, http.StatusOK, out)
}

// finiteSum refuses an aggregate beyond the range of a double (finite
// values whose exact sum overflows): numbers on the wire are always finite
// (SPEC §1), so the answer is a 422 naming the aggregate, not a 500.
func finiteSum(v float64, what, scenario string) error {
	if err := agg.Finite(v); err != nil {
		return notFinite(err, what, scenario)
	}
	return nil
}

// notFinite turns agg.ErrNotFinite into that 422; other errors pass.
func notFinite(err error, what, scenario string) error {
	if errors.Is(err, agg.ErrNotFinite) {
		return apperr.Errorf(apperr.Unprocessable, "the aggregate of %s under %s is beyond the range of a double", what, scenario)
	}
	return err
}
