package results

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/iprs/iprs/internal/agg"
	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/group"
	"github.com/iprs/iprs/internal/pricing"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/web"
)

// CubeCell is one group of a cube: the measure's aggregate over the
// group's positions that have it, and how many they are. Value is a number,
// or for FX_DELTA and KR01 an object.
type CubeCell struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
	Count int64  `json:"count"`
}

// Dimensions a cube groups by, besides "attr:NAME".
var cubeDimensions = []string{"portfolio_node_id", "product_type", "instrument_id", "vintage"}

// cubeQuery is a validated cube request.
type cubeQuery struct {
	measure  pricing.Measure
	by       string
	bands    group.Bands // with by=attr:NAME only; nil without bands
	scenario int         // index in the run's scenarios
}

// parseCube checks the cube parameters against the run, reporting every
// parameter at fault.
func parseCube(r *http.Request, v *runView) (cubeQuery, error) {
	q := r.URL.Query()
	var fields []apperr.FieldError
	bad := func(param, detail string) {
		fields = append(fields, apperr.FieldError{Parameter: param, Detail: detail})
	}
	var cq cubeQuery
	run := v.run

	measure := q.Get("measure")
	m, ok := pricing.ParseMeasure(measure)
	switch {
	case measure == "":
		bad("measure", "is required: one of the run's measures: "+strings.Join(run.Measures, ", "))
	case !ok || !slices.Contains(v.measures, m):
		bad("measure", "must be one of the run's measures: "+strings.Join(run.Measures, ", "))
	default:
		cq.measure = m
	}

	g := readGrouping(q, true, bad)
	cq.by, cq.bands = g.by, g.bands

	switch {
	case q.Has("scenario"):
		sc, ferr := scenarioParam(r, run)
		if ferr != nil {
			fields = append(fields, *ferr)
		}
		cq.scenario = slices.Index(run.Scenarios, sc)
	case slices.Contains(run.Scenarios, BaseScenario):
		cq.scenario = slices.Index(run.Scenarios, BaseScenario)
	default:
		bad("scenario", "is required since the run has no BASE scenario: one of "+strings.Join(run.Scenarios, ", "))
	}

	if len(fields) > 0 {
		return cubeQuery{}, paramErrors(fields)
	}
	return cq, nil
}

// readGrouping reads by (attr:NAME or one of cubeDimensions; required or
// else "" for no grouping) and bands (by=attr:NAME only), reporting what is
// wrong with each through bad.
func readGrouping(q url.Values, required bool, bad func(param, detail string)) grouping {
	var g grouping
	by := q.Get("by")
	switch {
	case by == "" && required:
		bad("by", "is required: one of "+strings.Join(cubeDimensions, ", ")+", or attr:NAME")
	case by == "":
	case slices.Contains(cubeDimensions, by):
		g.by = by
	case strings.HasPrefix(by, "attr:"):
		if _, ok := store.AttrKey(by); !ok {
			bad("by", "the attribute name in attr:NAME must match ^[A-Za-z_][A-Za-z0-9_]*$")
		} else {
			g.by = by
		}
	default:
		bad("by", "must be one of "+strings.Join(cubeDimensions, ", ")+", or attr:NAME")
	}
	if q.Has("bands") {
		b, err := group.ParseBands(q.Get("bands"))
		switch {
		case err != nil:
			bad("bands", err.Error())
		case !strings.HasPrefix(by, "attr:"):
			bad("bands", "applies to by=attr:NAME only")
		default:
			g.bands = b
		}
	}
	return g
}

// cube answers GET /results/runs/{id}/cube: the measure aggregated by the
// dimension under one scenario, ordered by key (bytewise). A group whose
// positions all lack the measure is absent.
func (s *Service) cube(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	v, err := s.loadRun(ctx, r, "measure", "by", "scenario", "bands")
	if err != nil {
		return err
	}
	cq, err := parseCube(r, v)
	if err != nil {
		return err
	}
	var (
		table *agg.Table
		si    = cq.scenario
	)
	if taskKeys := agg.TaskKeys(); slices.Contains(taskKeys[:], cq.by) {
		table, err = s.taskTable(ctx, v, cq.by)
	} else {
		g := grouping{by: cq.by, bands: cq.bands}
		name := fmt.Sprintf("cube|%s|%s|%s", g.name(), cq.measure, v.run.Scenarios[si])
		table, err = s.cached(ctx, v, name, func(ctx context.Context) (*agg.Table, error) {
			return s.scanTable(ctx, v, g, []int{si}, []pricing.Measure{cq.measure}, false)
		})
		si = 0 // the scanned table keeps the one scenario
	}
	if err != nil {
		return err
	}
	if attr, ok := store.AttrKey(cq.by); ok {
		if err := s.checkAttrPresent(ctx, v, table, attr); err != nil {
			return err
		}
	}
	cells := make([]CubeCell, 0, table.Len())
	for _, key := range table.Keys() {
		c := table.Cell(table.Group(key), si, cq.measure)
		val, ok, err := c.Value(cq.measure)
		if err != nil {
			return notFinite(err, cq.measure.String()+" for "+quote(key), v.run.Scenarios[cq.scenario])
		}
		if ok {
			cells = append(cells, CubeCell{Key: key, Value: val, Count: c.Count()})
		}
	}
	setPartial(w, v)
	return web.WriteJSON(w, http.StatusOK, cells)
}

// setPartial marks an answer over a run that has not finished.
func setPartial(w http.ResponseWriter, v *runView) {
	w.Header().Set("IPRS-Run-Status", v.run.Status)
	if !v.final() {
		w.Header().Set("IPRS-Partial", "true")
	}
}

// checkAttrPresent is the 400 of a grouping by an attribute that no
// position of the run has: every position fell in n/a.
func (s *Service) checkAttrPresent(ctx context.Context, v *runView, table *agg.Table, attr string) error {
	if keys := table.Keys(); len(keys) != 1 || keys[0] != agg.NA {
		return nil
	}
	names, err := s.st.PositionAttributeNames(ctx, v.run.PositionSnapshotIDs)
	if err != nil {
		return err
	}
	if slices.Contains(names, attr) {
		return nil // present, but null everywhere
	}
	detail := "no position of the run has the attribute " + quote(attr)
	if len(names) > 0 {
		detail += "; its positions have: " + strings.Join(names, ", ")
	} else {
		detail += "; its positions have no attributes"
	}
	return apperr.WithFields(apperr.Invalid, "unknown attribute "+quote(attr),
		[]apperr.FieldError{{Parameter: "by", Detail: detail}})
}

// scanTable aggregates the run's results by a grouping that the tasks did
// not keep, reading every row: the scenarios given (indices into the
// run's), the measures given, and the P&L vectors when pnl.
func (s *Service) scanTable(ctx context.Context, v *runView, g grouping, scen []int, measures []pricing.Measure, pnl bool) (*agg.Table, error) {
	names := make([]string, len(scen))
	for i, si := range scen {
		names[i] = v.run.Scenarios[si]
	}
	table := agg.New(names, measures, pnl)
	p := store.ResultScanParams{RunID: v.run.ID, Attrs: g.attrs()}
	all := make([]pricing.Values, len(v.run.Scenarios))
	kept := make([]pricing.Values, len(scen))
	base := slices.Index(v.run.Scenarios, BaseScenario)
	err := s.st.ResultScan(ctx, p, func(row *store.PositionResult) error {
		if err := v.decode(row, all); err != nil {
			return err
		}
		for i, si := range scen {
			kept[i] = all[si]
		}
		var b *pricing.Values
		if pnl && base >= 0 {
			b = &all[base]
		}
		table.Add(g.key(row), kept, b)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return table, nil
}

// grouping is how a scan keys result rows: a dimension of the result
// row, attr:NAME (by its value, or with bands by its numeric band), or
// vintage (the origination quarter of a loan, read from its attributes).
type grouping struct {
	by    string
	bands group.Bands
}

// name identifies the grouping in cache names: the bands are part of it,
// in their canonical form.
func (g grouping) name() string {
	if g.bands == nil {
		return g.by
	}
	return g.by + "|bands=" + g.bands.String()
}

// attrs are the attributes the grouping reads with each row.
func (g grouping) attrs() []string {
	if attr, ok := store.AttrKey(g.by); ok {
		return []string{attr}
	}
	if g.by == "vintage" {
		names := pricing.VintageAttrs()
		return names[:]
	}
	return nil
}

// key is a row's key for the grouping.
func (g grouping) key(row *store.PositionResult) string {
	switch g.by {
	case "instrument_id":
		return row.InstrumentID
	case "product_type":
		return row.ProductType
	case "portfolio_node_id":
		return row.PortfolioNodeID
	case "vintage":
		var raw [pricing.NumVintageAttrs][]byte
		copy(raw[:], row.Attrs)
		if q := pricing.Vintage(row.ProductType, raw); q != "" {
			return q
		}
		return agg.NA
	}
	if g.bands != nil {
		return g.bands.KeyOfJSON(row.Attrs[0])
	}
	return attrKey(row.Attrs[0])
}

// attrKey is the group key of an attribute's JSON text: a string's value,
// the text of any other value, n/a when absent or null.
func attrKey(raw []byte) string {
	if raw == nil {
		return agg.NA
	}
	if s, ok := jsonString(raw); ok {
		return s
	}
	return string(raw)
}
