package results

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/iprs/iprs/internal/agg"
	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/pricing"
	"github.com/iprs/iprs/internal/risk"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/web"
)

// VaRItem is one group of GET /results/runs/{id}/var: the VaR and expected
// shortfall of the group's own P&L vector over the set's scenarios. Key is
// null without a grouping.
type VaRItem struct {
	Key *string `json:"key"`
	risk.Result
}

// DefaultConfidence is the confidence of a VaR request without one.
const DefaultConfidence = "0.99"

// varQuery is a validated VaR request.
type varQuery struct {
	setID      string
	confidence risk.Confidence
	by         string
	scenarios  []int // indices of the set's scenarios in the run's
	ids        []string
}

// valueAtRisk answers GET /results/runs/{id}/var?scenario_set_id=&
// confidence=&by= (SPEC §4.4). For each group, P&Lⱼ is the exact sum over
// its positions of PV(scenario j) − PV(BASE), each difference in float64,
// rounded once (package agg keeps these vectors per task and per finished
// run); VaR and ES come from that vector (package risk) and are never
// summed across groups. The run must have BASE, PV and the set (422), the
// confidence a decimal in (0, 1) with N·(1 − confidence) ≥ 1 (400).
func (s *Service) valueAtRisk(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	v, err := s.loadRun(ctx, r, "scenario_set_id", "confidence", "by")
	if err != nil {
		return err
	}
	vq, err := s.parseVaR(ctx, r, v)
	if err != nil {
		return err
	}
	var (
		table *agg.Table
		idx   = vq.scenarios
	)
	taskKeys := agg.TaskKeys()
	if slices.Contains(taskKeys[:], vq.by) {
		table, err = s.taskTable(ctx, v, vq.by)
	} else if _, isAttr := store.AttrKey(vq.by); isAttr {
		table, err = s.attrTaskTable(ctx, v, vq.by)
	}
	if err == nil && table == nil {
		name := "pnl|" + vq.by + "|" + vq.setID
		table, err = s.cached(ctx, v, name, func(ctx context.Context) (*agg.Table, error) {
			return s.scanTable(ctx, v, grouping{by: vq.by}, vq.scenarios, nil, true, 0)
		})
		// The scanned table keeps the set's scenarios only, in order.
		idx = make([]int, len(vq.scenarios))
		for i := range idx {
			idx[i] = i
		}
	}
	if err != nil {
		return err
	}
	if attr, ok := store.AttrKey(vq.by); ok {
		if err := s.checkAttrPresent(ctx, v, table, attr); err != nil {
			return err
		}
	}
	items := make([]VaRItem, 0, table.Len())
	pnl := make([]float64, len(idx))
	for _, key := range table.Keys() {
		g := table.Group(key)
		for j, si := range idx {
			pnl[j] = g.PnL(si).Sum()
		}
		res, err := risk.Compute(vq.ids, pnl, vq.confidence)
		if err != nil {
			return fmt.Errorf("VaR of run %s group %q: %w", v.run.ID, key, err)
		}
		item := VaRItem{Result: res}
		if vq.by != "" {
			k := key
			item.Key = &k
		}
		items = append(items, item)
	}
	if len(items) == 0 && vq.by == "" {
		// A run without results yet: the whole book has a zero vector.
		res, err := risk.Compute(vq.ids, make([]float64, len(vq.ids)), vq.confidence)
		if err != nil {
			return err
		}
		items = append(items, VaRItem{Result: res})
	}
	setPartial(w, v)
	return web.WriteJSON(w, http.StatusOK, items)
}

// parseVaR checks the parameters (400 each) and what the run must have
// (422).
func (s *Service) parseVaR(ctx context.Context, r *http.Request, v *runView) (varQuery, error) {
	q := r.URL.Query()
	var fields []apperr.FieldError
	bad := func(param, detail string) {
		fields = append(fields, apperr.FieldError{Parameter: param, Detail: detail})
	}
	vq := varQuery{setID: q.Get("scenario_set_id"), by: q.Get("by")}
	if vq.setID == "" {
		bad("scenario_set_id", "is required: the scenario set whose scenarios make the P&L vector")
	}
	text := DefaultConfidence
	if q.Has("confidence") {
		text = q.Get("confidence")
	}
	c, err := risk.ParseConfidence(text)
	if err != nil {
		bad("confidence", strings.TrimPrefix(err.Error(), risk.ErrConfidence.Error()+": "))
	}
	vq.confidence = c
	switch {
	case vq.by == "", slices.Contains(cubeDimensions, vq.by):
	case strings.HasPrefix(vq.by, "attr:"):
		if _, ok := store.AttrKey(vq.by); !ok {
			bad("by", "the attribute name in attr:NAME must match ^[A-Za-z_][A-Za-z0-9_]*$")
		}
	default:
		bad("by", "must be one of "+strings.Join(cubeDimensions, ", ")+", or attr:NAME (or absent for the whole run)")
	}
	if len(fields) > 0 {
		return vq, paramErrors(fields)
	}

	var reasons []string
	if !slices.Contains(v.run.Scenarios, BaseScenario) {
		reasons = append(reasons, "the run has no BASE scenario")
	}
	if !slices.Contains(v.measures, pricing.PV) {
		reasons = append(reasons, "the run does not compute PV")
	}
	sets, err := v.run.ScenarioSetIDs()
	if err != nil {
		return vq, err
	}
	if !slices.Contains(sets, vq.setID) {
		reasons = append(reasons, fmt.Sprintf("the run does not include scenario set %s (its sets: %s)", quote(vq.setID), listOrNone(sets)))
	} else {
		stored, err := s.st.SetGet(ctx, store.SetKindScenario, vq.setID)
		if err != nil {
			return vq, fmt.Errorf("scenario set %s of run %s: %w", vq.setID, v.run.ID, err)
		}
		set, err := pricing.DecodeScenarioSet(stored.Payload)
		if err != nil {
			return vq, fmt.Errorf("scenario set %s: %w", vq.setID, err)
		}
		for _, id := range set.ScenarioIDs() {
			i := slices.Index(v.run.Scenarios, id)
			if i < 0 {
				return vq, fmt.Errorf("run %s lacks scenario %s of its set %s", v.run.ID, id, vq.setID)
			}
			vq.scenarios = append(vq.scenarios, i)
			vq.ids = append(vq.ids, id)
		}
	}
	if len(reasons) > 0 {
		return vq, apperr.Errorf(apperr.Unprocessable, "VaR cannot be computed for run %s: %s", quote(v.run.ID), strings.Join(reasons, "; "))
	}
	if _, err := risk.TailOf(len(vq.ids), vq.confidence); err != nil {
		if errors.Is(err, risk.ErrConfidence) {
			return vq, paramErrors([]apperr.FieldError{{Parameter: "confidence", Detail: strings.TrimPrefix(err.Error(), risk.ErrConfidence.Error()+": ")}})
		}
		return vq, err
	}
	return vq, nil
}

func listOrNone(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	return strings.Join(xs, ", ")
}
