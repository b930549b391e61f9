package results

import (
	"math"
	"net/http"
	"slices"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/exactsum"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/web"
)

// BaseScenario is the scenario P&L is measured against.
const BaseScenario = "BASE"

// Summary is the body of GET /results/runs/{id}/summary.
type Summary struct {
	RunID     string                      `json:"run_id"`
	Status    string                      `json:"status"`
	Scenarios map[string]*ScenarioSummary `json:"scenarios"`
}

// ScenarioSummary is one scenario of a summary: the number of result rows
// (positions) written under it and the exact sum of each measure over the
// positions where it is present. PnL is ΣPV(scenario) − ΣPV(BASE), computed
// exactly and rounded once, given when the run has the BASE scenario and
// the PV measure (0 for BASE itself).
type ScenarioSummary struct {
	PositionCount int64              `json:"position_count"`
	Measures      map[string]float64 `json:"measures"`
	PnL           *float64           `json:"pnl,omitempty"`
}

// scenarioSums accumulates one scenario's rows.
type scenarioSums struct {
	count int64
	sums  [store.NumMeasures]exactsum.Acc
}

// summary answers GET /results/runs/{id}/summary. Every scenario of the
// run appears, with position_count 0 while it has no results.
func (s *Service) summary(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	run, err := s.run(ctx, r)
	if err != nil {
		return err
	}
	byScenario := make(map[string]*scenarioSums, len(run.Scenarios))
	for _, sc := range run.Scenarios {
		byScenario[sc] = &scenarioSums{}
	}
	err = s.st.ResultScan(ctx, store.ResultScanParams{RunID: run.ID, Totals: true}, func(row *store.ResultRow, _ string) error {
		acc := byScenario[row.ScenarioID]
		if acc == nil {
			acc = &scenarioSums{}
			byScenario[row.ScenarioID] = acc
		}
		acc.count++
		for i := range row.Values {
			if row.Has(i) {
				acc.sums[i].Add(row.Values[i])
			}
		}
		return nil
	})
	if err != nil {
		return err
	}

	cols := store.MeasureColumns()
	pv, _ := columnOf("PV")
	base := byScenario[BaseScenario]
	withPnL := base != nil && slices.Contains(run.Scenarios, BaseScenario) && slices.Contains(run.Measures, "PV")
	out := Summary{RunID: run.ID, Status: run.Status, Scenarios: make(map[string]*ScenarioSummary, len(byScenario))}
	for sc, acc := range byScenario {
		ss := &ScenarioSummary{PositionCount: acc.count, Measures: make(map[string]float64)}
		for i := range acc.sums {
			if acc.sums[i].Count() > 0 {
				sum := acc.sums[i].Sum()
				if err := finiteSum(sum, cols[i], sc); err != nil {
					return err
				}
				ss.Measures[cols[i]] = sum
			}
		}
		if withPnL {
			var d exactsum.Acc
			d.AddAcc(&acc.sums[pv])
			d.SubAcc(&base.sums[pv])
			pnl := d.Sum()
			if err := finiteSum(pnl, "P&L", sc); err != nil {
				return err
			}
			ss.PnL = &pnl
		}
		out.Scenarios[sc] = ss
	}
	return web.WriteJSON(w, http.StatusOK, out)
}

// finiteSum refuses an aggregate beyond the range of a double (finite
// values whose exact sum overflows): numbers on the wire are always finite
// (SPEC §1), so the answer is a 422 naming the aggregate, not a 500.
func finiteSum(v float64, what, scenario string) error {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return apperr.Errorf(apperr.Unprocessable, "the sum of %s under %s is beyond the range of a double", what, scenario)
	}
	return nil
}
