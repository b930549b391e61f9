package results

import (
	"context"
	"errors"
	"math"
	"math/big"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/pricing"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/web"
)

// Comparison statuses of a position that does not match.
const (
	StatusOnlyInBase   = "ONLY_IN_BASE"
	StatusOnlyInTarget = "ONLY_IN_TARGET"
	StatusBreak        = "BREAK"
)

// Comparison is the body of GET /results/compare: the two runs' totals of
// the measure under the scenario, how their positions compare, and a page
// of the positions that do not match.
type Comparison struct {
	BaseRunID   string        `json:"base_run_id"`
	TargetRunID string        `json:"target_run_id"`
	Measure     string        `json:"measure"`
	Scenario    string        `json:"scenario"`
	AbsTol      float64       `json:"abs_tol"`
	RelTol      float64       `json:"rel_tol"`
	Totals      CompareTotals `json:"totals"`
	Counts      CompareCounts `json:"counts"`
	Items       []CompareItem `json:"items"`
	NextCursor  *string       `json:"next_cursor"`
}

// CompareTotals are the exact sums of the measure over each run's own
// positions and Diff = Target − Base, each rounded once: numbers, or for
// FX_DELTA objects by base currency.
type CompareTotals struct {
	Base   any `json:"base"`
	Target any `json:"target"`
	Diff   any `json:"diff"`
}

// CompareCounts count the distinct position ids of the two runs: Matched
// + Breaks + OnlyInBase + OnlyInTarget is the number of distinct ids in
// either run.
type CompareCounts struct {
	Matched      int64 `json:"matched"`
	OnlyInBase   int64 `json:"only_in_base"`
	OnlyInTarget int64 `json:"only_in_target"`
	Breaks       int64 `json:"breaks"`
}

// CompareItem is a position that does not match. Base and Target are the
// position's value of the measure in each run (a number, an object by
// currency for FX_DELTA, null where the position or the measure is
// missing); Diff is Target − Base, null when a side is null.
type CompareItem struct {
	PositionID string `json:"position_id"`
	Base       any    `json:"base"`
	Target     any    `json:"target"`
	Diff       any    `json:"diff"`
	Status     string `json:"status"`
}

// compareParams are the query parameters of GET /results/compare.
var compareParams = []string{"base", "target", "measure", "scenario", "abs_tol", "rel_tol", "limit", "cursor"}

// compareQuery is a validated comparison request.
type compareQuery struct {
	// As the query gives them.
	baseID, targetID string
	measureParam     string
	hasMeasure       bool
	scenarioParam    string
	hasScn           bool
	page             web.Page
	after            string // the cursor's position id
	hasAfter         bool   // false for the first page

	// Resolved against the runs.
	base, target     *runView
	measure          pricing.Measure
	scenario         string
	baseSI, targetSI int // the scenario's index in each run
	absTol, relTol   float64
	absTolR, relTolR *big.Rat // the tolerances exactly as the query gives them
}

// comparable reports whether a measure can be compared: a sum (per
// currency for FX_DELTA), not WAL's weighted average nor KR01's ladders.
func comparable(m pricing.Measure) bool {
	switch m.Spec().Aggregation {
	case pricing.Sum, pricing.PerCurrency:
		return true
	}
	return false
}

// comparableMeasures lists the measures a comparison takes, for messages.
func comparableMeasures() string {
	var names []string
	for _, m := range pricing.Measures() {
		if comparable(m) {
			names = append(names, m.String())
		}
	}
	return strings.Join(names, ", ")
}

// parseCompareParams checks what the query says on its own: the
// parameters present and well formed. Every parameter at fault is named.
func parseCompareParams(r *http.Request) (*compareQuery, error) {
	if err := checkParams(r, compareParams...); err != nil {
		return nil, err
	}
	q := r.URL.Query()
	var fields []apperr.FieldError
	bad := func(param, detail string) {
		fields = append(fields, apperr.FieldError{Parameter: param, Detail: detail})
	}
	cq := &compareQuery{baseID: q.Get("base"), targetID: q.Get("target")}
	if cq.baseID == "" {
		bad("base", "is required: the id of the run to compare from")
	}
	if cq.targetID == "" {
		bad("target", "is required: the id of the run to compare with the base run")
	}
	cq.hasMeasure, cq.measureParam = q.Has("measure"), q.Get("measure")
	if cq.hasMeasure {
		m, ok := pricing.ParseMeasure(cq.measureParam)
		switch {
		case !ok:
			bad("measure", "is not a measure; a comparison takes one of "+comparableMeasures())
		case !comparable(m):
			bad("measure", m.String()+" cannot be compared position by position as a sum ("+
				explainUncomparable(m)+"); a comparison takes one of "+comparableMeasures())
		default:
			cq.measure = m
		}
	}
	cq.hasScn, cq.scenarioParam = q.Has("scenario"), q.Get("scenario")
	if cq.hasScn && cq.scenarioParam == "" {
		bad("scenario", "must not be empty")
	}
	tol := func(name string) (float64, *big.Rat) {
		zero := new(big.Rat)
		if !q.Has(name) {
			return 0, zero
		}
		x, r, ok := parseTolerance(q.Get(name))
		if !ok {
			bad(name, "must be a number ≥ 0 (a decimal of at most 64 characters, such as 0.5 or 1e-6)")
			return 0, zero
		}
		return x, r
	}
	cq.absTol, cq.absTolR = tol("abs_tol")
	cq.relTol, cq.relTolR = tol("rel_tol")
	page, err := web.ParsePage(r)
	if err != nil {
		e, ok := apperr.As(err)
		if !ok {
			return nil, err
		}
		fields = append(fields, e.Fields...)
	} else {
		cq.page = page
		if page.Cursor != "" {
			vals, err := web.DecodeCursor(page.Cursor, 1)
			if err != nil {
				e, ok := apperr.As(err)
				if !ok {
					return nil, err
				}
				fields = append(fields, e.Fields...)
			} else {
				cq.after, cq.hasAfter = vals[0], true
			}
		}
	}
	if len(fields) > 0 {
		return nil, paramErrors(fields)
	}
	return cq, nil
}

// parseTolerance reads a tolerance: a finite number ≥ 0, as a double and
// as the exact decimal it writes (so that 0.1 is one tenth, not the double
// nearest to it). A value too small for a double is 0.
func parseTolerance(s string) (float64, *big.Rat, bool) {
	if len(s) > 64 {
		return 0, nil, false
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
		return 0, nil, false
	}
	if x == 0 {
		return 0, new(big.Rat), true
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		r = new(big.Rat).SetFloat64(x)
	} else if f, _ := r.Float64(); f != x {
		// A form big.Rat reads otherwise than strconv: the double is
		// what was meant.
		r = new(big.Rat).SetFloat64(x)
	}
	return x, r, true
}

func explainUncomparable(m pricing.Measure) string {
	switch m.Spec().Aggregation {
	case pricing.WeightedAverage:
		return "it is a weighted average, whose totals are not sums"
	case pricing.KeyByKey:
		return "it is a ladder by curve and tenor, not one number"
	}
	return "it is not a sum"
}

// loadCompareRuns loads both runs: a 404 naming every run that does not
// exist.
func (s *Service) loadCompareRuns(ctx context.Context, cq *compareQuery) error {
	base, berr := store.RunOfKind(ctx, s.st, cq.baseID, store.KindValuation)
	target, terr := store.RunOfKind(ctx, s.st, cq.targetID, store.KindValuation)
	var fields []apperr.FieldError
	for _, x := range []struct {
		param, id string
		err       error
	}{{"base", cq.baseID, berr}, {"target", cq.targetID, terr}} {
		switch {
		case x.err == nil:
		case errors.Is(x.err, apperr.ErrNotFound):
			fields = append(fields, apperr.FieldError{Parameter: x.param, Detail: "run " + quote(x.id) + " not found"})
		default:
			return x.err
		}
	}
	if len(fields) > 0 {
		msg := fields[0].Detail
		if len(fields) > 1 {
			msg = "runs " + quote(cq.baseID) + " and " + quote(cq.targetID) + " not found"
		}
		return apperr.WithFields(apperr.NotFound, msg, fields)
	}
	var err error
	if cq.base, err = newRunView(base); err != nil {
		return err
	}
	if cq.target, err = newRunView(target); err != nil {
		return err
	}
	return nil
}

// checkCompareRuns checks the measure and the scenario against both runs
// (400, every parameter at fault named), then that both runs are finished
// (422).
func checkCompareRuns(cq *compareQuery) error {
	b, t := cq.base, cq.target
	var fields []apperr.FieldError
	bad := func(param, detail string) {
		fields = append(fields, apperr.FieldError{Parameter: param, Detail: detail})
	}
	common := func(a, b []string) []string {
		var out []string
		for _, x := range a {
			if slices.Contains(b, x) {
				out = append(out, x)
			}
		}
		slices.Sort(out)
		return out
	}
	both := func(what string, a, b []string) string {
		return "must be a " + what + " of both runs: " + quote(cq.baseID) + " has " + strings.Join(a, ", ") +
			"; " + quote(cq.targetID) + " has " + strings.Join(b, ", ")
	}

	switch {
	case cq.hasMeasure:
		if comparable(cq.measure) && (!slices.Contains(b.measures, cq.measure) || !slices.Contains(t.measures, cq.measure)) {
			bad("measure", both("measure", b.run.Measures, t.run.Measures))
		}
	case slices.Contains(b.measures, pricing.PV) && slices.Contains(t.measures, pricing.PV):
		cq.measure = pricing.PV
	default:
		var ok []string
		for _, name := range common(b.run.Measures, t.run.Measures) {
			if m, _ := pricing.ParseMeasure(name); comparable(m) {
				ok = append(ok, name)
			}
		}
		detail := "is required since the runs do not both have PV"
		if len(ok) > 0 {
			detail += ": one of " + strings.Join(ok, ", ")
		} else {
			detail += "; they have no comparable measure in common"
		}
		bad("measure", detail)
	}

	sc := cq.scenarioParam
	if !cq.hasScn {
		sc = BaseScenario
	}
	cq.baseSI, cq.targetSI = slices.Index(b.run.Scenarios, sc), slices.Index(t.run.Scenarios, sc)
	switch {
	case cq.baseSI >= 0 && cq.targetSI >= 0:
		cq.scenario = sc
	case cq.hasScn:
		bad("scenario", both("scenario", b.run.Scenarios, t.run.Scenarios))
	default:
		detail := "is required since the runs do not both have BASE"
		if c := common(b.run.Scenarios, t.run.Scenarios); len(c) > 0 {
			detail += ": one of " + strings.Join(c, ", ")
		} else {
			detail += "; they have no scenario in common"
		}
		bad("scenario", detail)
	}
	if len(fields) > 0 {
		return paramErrors(fields)
	}

	for _, x := range []struct {
		param string
		v     *runView
	}{{"base", b}, {"target", t}} {
		if !x.v.final() {
			fields = append(fields, apperr.FieldError{Parameter: x.param,
				Detail: "run " + quote(x.v.run.ID) + " is " + x.v.run.Status + "; only COMPLETED or PUBLISHED runs can be compared"})
		}
	}
	if len(fields) > 0 {
		return apperr.WithFields(apperr.Unprocessable,
			"partial results cannot be compared: both runs must be COMPLETED or PUBLISHED", fields)
	}
	return nil
}

// compare answers GET /results/compare.
func (s *Service) compare(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	cq, err := parseCompareParams(r)
	if err != nil {
		return err
	}
	if err := s.loadCompareRuns(ctx, cq); err != nil {
		return err
	}
	if err := checkCompareRuns(cq); err != nil {
		return err
	}
	head, err := s.compareSummary(ctx, cq)
	if err != nil {
		return err
	}
	out := Comparison{
		BaseRunID: cq.base.run.ID, TargetRunID: cq.target.run.ID,
		Measure: cq.measure.String(), Scenario: cq.scenario,
		AbsTol: cq.absTol, RelTol: cq.relTol,
		Counts: head.counts,
	}
	if out.Totals, err = head.totalsOut(cq.measure); err != nil {
		return err
	}
	items, err := s.comparePage(ctx, cq, head)
	if err != nil {
		return err
	}
	list := web.PageOf(items, cq.page.Limit, func(it CompareItem) []string { return []string{it.PositionID} })
	out.Items, out.NextCursor = list.Items, list.NextCursor
	if out.Items == nil {
		out.Items = []CompareItem{}
	}
	return web.WriteJSON(w, http.StatusOK, out)
}
