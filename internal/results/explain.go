package results

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/iprs/iprs/internal/agg"
	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/exactsum"
	"github.com/iprs/iprs/internal/explain"
	"github.com/iprs/iprs/internal/pricing"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/web"
)

// ExplainItem is one group of a P&L explain (SPEC §4.5): the sum over its
// positions of each component of the waterfall, and total, the correctly
// rounded sum of the seven steps. Key is null for the whole explain
// (without by).
type ExplainItem struct {
	Key            *string `json:"key"`
	FromPV         float64 `json:"from_pv"`
	ToPV           float64 `json:"to_pv"`
	CarryCashflows float64 `json:"carry_cashflows"`
	Carry          float64 `json:"carry"`
	Rates          float64 `json:"rates"`
	Spread         float64 `json:"spread"`
	FX             float64 `json:"fx"`
	Amendments     float64 `json:"amendments"`
	New            float64 `json:"new"`
	Matured        float64 `json:"matured"`
	Total          float64 `json:"total"`
}

// explainResults answers GET /results/explains/{id}?by=&bands=: the
// waterfall of every group of the grouping (as the cube's by), ordered by
// key, or of the whole explain without by. Each component is the exact
// sum of its positions' values, rounded once.
func (s *Service) explainResults(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if err := checkParams(r, "by", "bands"); err != nil {
		return err
	}
	id := r.PathValue("id")
	run, err := store.RunOfKind(ctx, s.st, id, store.KindExplain)
	if apperr.CodeOf(err) == apperr.NotFound {
		return &apperr.Error{Code: apperr.NotFound, Message: "explain " + quote(id) + " not found", Err: apperr.ErrNotFound}
	}
	if err != nil {
		return err
	}
	v, err := newRunView(run)
	if err != nil {
		return err
	}
	g, err := parseExplainGrouping(r)
	if err != nil {
		return err
	}
	var table *agg.Table
	if taskKeys := agg.TaskKeys(); slices.Contains(taskKeys[:], g.by) {
		table, err = s.taskTable(ctx, v, g.by)
	} else if _, isAttr := store.AttrKey(g.by); isAttr && g.bands == nil {
		// The tasks' partials by the attribute, when they all kept one.
		table, err = s.attrTaskTable(ctx, v, g.by)
	}
	if err == nil && table == nil {
		table, err = s.cached(ctx, v, "explain|"+g.name(), func(ctx context.Context) (*agg.Table, error) {
			all := make([]int, len(run.Scenarios))
			for i := range all {
				all[i] = i
			}
			return s.scanTable(ctx, v, g, all, []pricing.Measure{pricing.PV}, false, 0)
		})
	}
	if err != nil {
		return err
	}
	if attr, ok := store.AttrKey(g.by); ok {
		if err := s.checkAttrPresent(ctx, v, table, attr); err != nil {
			return err
		}
	}
	index := make(map[string]int, len(run.Scenarios))
	for i, sc := range run.Scenarios {
		index[sc] = i
	}
	items := make([]ExplainItem, 0, table.Len())
	for _, key := range table.Keys() {
		grp := table.Group(key)
		sum := func(component string) (float64, error) {
			i, ok := index[component]
			if !ok {
				return 0, fmt.Errorf("explain %s stores no %s", run.ID, component)
			}
			val, _, err := table.Cell(grp, i, pricing.PV).Value(pricing.PV)
			if err != nil {
				return 0, notFinite(err, strings.ToLower(component)+" for "+quote(key), component)
			}
			f, _ := val.(float64)
			return f, nil
		}
		it := ExplainItem{}
		if g.by != "" {
			k := key
			it.Key = &k
		}
		for _, c := range []struct {
			dst  *float64
			name string
		}{
			{&it.FromPV, explain.FromPV}, {&it.ToPV, explain.ToPV}, {&it.CarryCashflows, explain.CarryCashflows},
			{&it.Carry, explain.Carry}, {&it.Rates, explain.Rates}, {&it.Spread, explain.Spread}, {&it.FX, explain.FX},
			{&it.Amendments, explain.Amendments}, {&it.New, explain.New}, {&it.Matured, explain.Matured},
		} {
			if *c.dst, err = sum(c.name); err != nil {
				return err
			}
		}
		var total exactsum.Acc
		for _, x := range []float64{it.Carry, it.Rates, it.Spread, it.FX, it.Amendments, it.New, it.Matured} {
			total.Add(x)
		}
		it.Total = total.Sum()
		items = append(items, it)
	}
	setPartial(w, v)
	return web.WriteJSON(w, http.StatusOK, map[string]any{"items": items})
}

// parseExplainGrouping reads by (optional: the whole explain without it)
// and bands as the cube does.
func parseExplainGrouping(r *http.Request) (grouping, error) {
	q := r.URL.Query()
	var fields []apperr.FieldError
	bad := func(param, detail string) {
		fields = append(fields, apperr.FieldError{Parameter: param, Detail: detail})
	}
	g := readGrouping(q, false, bad)
	if len(fields) > 0 {
		return grouping{}, paramErrors(fields)
	}
	return g, nil
}
