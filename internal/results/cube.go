package results

import (
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/exactsum"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/web"
)

// CubeCell is one group of a cube: the exact sum of the measure over the
// group's positions that have it, and how many they are.
type CubeCell struct {
	Key   string  `json:"key"`
	Value float64 `json:"value"`
	Count int64   `json:"count"`
}

// Dimensions a cube groups by, besides "attr:NAME".
var cubeDimensions = []string{"portfolio_node_id", "product_type", "instrument_id"}

// cubeQuery is a validated cube request.
type cubeQuery struct {
	column   int
	by       string
	scenario string
}

// parseCube checks the cube parameters against the run, reporting every
// parameter at fault.
func parseCube(r *http.Request, run *store.Run) (cubeQuery, error) {
	q := r.URL.Query()
	var fields []apperr.FieldError
	bad := func(param, detail string) {
		fields = append(fields, apperr.FieldError{Parameter: param, Detail: detail})
	}
	var cq cubeQuery

	measure := q.Get("measure")
	switch col, ok := columnOf(measure); {
	case measure == "":
		bad("measure", "is required: one of the run's measures: "+strings.Join(run.Measures, ", "))
	case !ok || !slices.Contains(run.Measures, measure):
		bad("measure", "must be one of the run's measures: "+strings.Join(run.Measures, ", "))
	default:
		cq.column = col
	}

	by := q.Get("by")
	switch {
	case by == "":
		bad("by", "is required: one of "+strings.Join(cubeDimensions, ", ")+", or attr:NAME")
	case slices.Contains(cubeDimensions, by):
		cq.by = by
	case strings.HasPrefix(by, "attr:"):
		if _, ok := store.AttrKey(by); !ok {
			bad("by", "the attribute name in attr:NAME must match ^[A-Za-z_][A-Za-z0-9_]*$")
		} else {
			cq.by = by
		}
	default:
		bad("by", "must be one of "+strings.Join(cubeDimensions, ", ")+", or attr:NAME")
	}

	switch {
	case q.Has("scenario"):
		sc, ferr := scenarioParam(r, run)
		if ferr != nil {
			fields = append(fields, *ferr)
		}
		cq.scenario = sc
	case slices.Contains(run.Scenarios, BaseScenario):
		cq.scenario = BaseScenario
	default:
		bad("scenario", "is required since the run has no BASE scenario: one of "+strings.Join(run.Scenarios, ", "))
	}

	if len(fields) > 0 {
		return cubeQuery{}, paramErrors(fields)
	}
	return cq, nil
}

// cubeGroup accumulates one key.
type cubeGroup struct {
	sum   exactsum.Acc
	count int64
}

// cube answers GET /results/runs/{id}/cube: the measure summed by the
// dimension under one scenario, ordered by key (bytewise). A group whose
// positions all lack the measure is absent.
func (s *Service) cube(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	run, err := s.run(ctx, r)
	if err != nil {
		return err
	}
	cq, err := parseCube(r, run)
	if err != nil {
		return err
	}
	groups := make(map[string]*cubeGroup)
	err = s.st.ResultScan(ctx, store.ResultScanParams{RunID: run.ID, ScenarioID: cq.scenario, KeyBy: cq.by, Totals: true},
		func(row *store.ResultRow, key string) error {
			if !row.Has(cq.column) {
				return nil
			}
			g := groups[key]
			if g == nil {
				g = &cubeGroup{}
				groups[key] = g
			}
			g.sum.Add(row.Values[cq.column])
			g.count++
			return nil
		})
	if err != nil {
		return err
	}
	cells := make([]CubeCell, 0, len(groups))
	for key, g := range groups {
		v := g.sum.Sum()
		if err := finiteSum(v, r.URL.Query().Get("measure")+" for "+quote(key), cq.scenario); err != nil {
			return err
		}
		cells = append(cells, CubeCell{Key: key, Value: v, Count: g.count})
	}
	sort.Slice(cells, func(i, j int) bool { return cells[i].Key < cells[j].Key })
	return web.WriteJSON(w, http.StatusOK, cells)
}
