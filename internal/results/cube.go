package results

import (
	"context"
	"errors"
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
	taskKeys := agg.TaskKeys()
	if slices.Contains(taskKeys[:], cq.by) {
		table, err = s.taskTable(ctx, v, cq.by)
	} else if _, isAttr := store.AttrKey(cq.by); isAttr && cq.bands == nil {
		table, err = s.attrTaskTable(ctx, v, cq.by)
	}
	if err == nil && table == nil {
		table, si, err = s.scannedCube(ctx, v, grouping{by: cq.by, bands: cq.bands}, cq.measure, si)
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

// DefaultCubeWideGroups bounds the groups of a cube scan that keeps every
// measure under every scenario: 4,096 groups of 4 measures under 4
// scenarios are about 8 MB while the scan runs.
const DefaultCubeWideGroups = 4096

// errTooWide ends a scan whose grouping has more groups than allowed.
var errTooWide = errors.New("results: too many groups to keep every measure under every scenario")

// scannedCube returns the table a cube by a grouping the tasks did not
// keep reads, and the index in it of the run's scenario si.
//
// The first cube by a grouping scans the run once for every measure under
// every scenario and caches that table, so that the run's other measures
// and scenarios by the same grouping are cache reads too: under many
// concurrent clients a finished run costs one scan per grouping rather
// than one per grouping, measure and scenario (64 scans of the whole run
// for four attribute groupings of a 4 × 4 run, which queued every other
// request behind them). A grouping with more than Options.CubeWideGroups keys
// (instrument_id, an attribute that is nearly an id) is scanned for the
// one measure and scenario asked, as before; the cache then records that
// the grouping is too wide, so later requests do not try again.
func (s *Service) scannedCube(ctx context.Context, v *runView, g grouping, m pricing.Measure, si int) (*agg.Table, int, error) {
	if g.by != "instrument_id" {
		all := make([]int, len(v.run.Scenarios))
		for i := range all {
			all[i] = i
		}
		table, err := s.cached(ctx, v, "cube|"+g.name(), func(ctx context.Context) (*agg.Table, error) {
			return s.scanTable(ctx, v, g, all, v.measures, false, s.opts.CubeWideGroups)
		})
		if !errors.Is(err, errTooWide) {
			return table, si, err
		}
	}
	name := fmt.Sprintf("cube|%s|%s|%s", g.name(), m, v.run.Scenarios[si])
	table, err := s.cached(ctx, v, name, func(ctx context.Context) (*agg.Table, error) {
		return s.scanTable(ctx, v, g, []int{si}, []pricing.Measure{m}, false, 0)
	})
	return table, 0, err // the table keeps the one scenario
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
	return agg.AttrKey(row.Attrs[0])
}

// internedKey is key, taking an attribute's key from interned (and adding
// it there) so that the rows of one group share one string.
func (g grouping) internedKey(row *store.PositionResult, interned map[string]string) string {
	if _, ok := store.AttrKey(g.by); !ok || g.bands != nil {
		return g.key(row)
	}
	raw := row.Attrs[0]
	if k, ok := interned[string(raw)]; ok {
		return k
	}
	k := agg.AttrKey(raw)
	interned[string(raw)] = k
	return k
}
