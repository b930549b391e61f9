package results

import (
	"cmp"
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/pricing"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/web"
)

// PositionResult is one position's measures under one scenario. Measures
// holds the present measures only: numbers, and for KR01 an object of
// curves and tenors.
type PositionResult struct {
	PositionID         string          `json:"position_id"`
	InstrumentID       string          `json:"instrument_id"`
	ProductType        string          `json:"product_type"`
	PortfolioNodeID    string          `json:"portfolio_node_id"`
	PositionSnapshotID string          `json:"position_snapshot_id"`
	ScenarioID         string          `json:"scenario_id"`
	Measures           json.RawMessage `json:"measures"`
}

// items expands a position's row into one item per scenario (only the
// given scenario when it is not ""), in scenario id order.
func (v *runView) items(row *store.PositionResult, scenario string, vals []pricing.Values) ([]PositionResult, error) {
	if err := v.decode(row, vals); err != nil {
		return nil, err
	}
	out := make([]PositionResult, 0, len(vals))
	for i, sc := range v.run.Scenarios {
		if scenario != "" && sc != scenario {
			continue
		}
		out = append(out, PositionResult{
			PositionID:         row.PositionID,
			InstrumentID:       row.InstrumentID,
			ProductType:        row.ProductType,
			PortfolioNodeID:    row.PortfolioNodeID,
			PositionSnapshotID: row.PositionSnapshotID,
			ScenarioID:         sc,
			Measures:           vals[i].AppendJSON(nil),
		})
	}
	slices.SortFunc(out, func(a, b PositionResult) int { return strings.Compare(a.ScenarioID, b.ScenarioID) })
	return out, nil
}

func itemKey(it PositionResult) []string {
	return []string{it.PositionSnapshotID, it.PositionID, it.ScenarioID}
}

func compareItemKey(a, b []string) int {
	return cmp.Or(strings.Compare(a[0], b[0]), strings.Compare(a[1], b[1]), strings.Compare(a[2], b[2]))
}

// positions answers GET /results/runs/{id}/positions: one item per
// position and scenario, ordered by position snapshot, position id, then
// scenario id, optionally under one scenario, as a list page. The cursor
// holds the last item's (snapshot id, position id, scenario id).
func (s *Service) positions(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	v, err := s.loadRun(ctx, r, "scenario", "limit", "cursor")
	if err != nil {
		return err
	}
	var fields []apperr.FieldError
	scenario, ferr := scenarioParam(r, v.run)
	if ferr != nil {
		fields = append(fields, *ferr)
	}
	page, err := web.ParsePage(r)
	if err != nil {
		e, ok := apperr.As(err)
		if !ok {
			return err
		}
		fields = append(fields, e.Fields...)
	}
	var after []string
	if err == nil && page.Cursor != "" {
		after, err = web.DecodeCursor(page.Cursor, 3)
		if err != nil {
			e, ok := apperr.As(err)
			if !ok {
				return err
			}
			fields = append(fields, e.Fields...)
		}
	}
	if len(fields) > 0 {
		return paramErrors(fields)
	}
	// Read positions from the cursor's own (it may have scenarios left)
	// until the page and one more item are there: each position gives an
	// item per scenario (one with a scenario), so a page of every
	// scenario reads a quarter of the rows of a 4-scenario run that it
	// would if it counted one item per position.
	want := page.Limit + 1
	perPosition := len(v.run.Scenarios)
	if scenario != "" || perPosition == 0 {
		perPosition = 1
	}
	p := store.ResultListParams{RunID: v.run.ID, Limit: (want+perPosition-1)/perPosition + 1}
	if after != nil {
		p.AfterSnapshotID, p.AfterPositionID, p.From = after[0], after[1], true
	}
	vals := make([]pricing.Values, len(v.run.Scenarios))
	items := make([]PositionResult, 0, want)
	for len(items) < want {
		rows, err := s.st.ResultList(ctx, p)
		if err != nil {
			return err
		}
		for _, row := range rows {
			its, err := v.items(row, scenario, vals)
			if err != nil {
				return err
			}
			for _, it := range its {
				if after != nil && compareItemKey(itemKey(it), after) <= 0 {
					continue
				}
				items = append(items, it)
			}
		}
		if len(rows) < p.Limit {
			break
		}
		last := rows[len(rows)-1]
		p.AfterSnapshotID, p.AfterPositionID, p.From = last.PositionSnapshotID, last.PositionID, false
	}
	list := web.PageOf(items[:min(len(items), want)], page.Limit, itemKey)
	return web.WriteJSON(w, http.StatusOK, list)
}

// position answers GET /results/runs/{id}/positions/{position_id}: the
// position under every scenario (in every position snapshot of the run
// that holds that id), as a one-page list; 404 when it has none.
func (s *Service) position(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	v, err := s.loadRun(ctx, r)
	if err != nil {
		return err
	}
	positionID := r.PathValue("position_id")
	rows, err := s.st.ResultsForPosition(ctx, v.run.ID, positionID)
	if err != nil {
		return err
	}
	if len(rows) == 0 {
		return apperr.Errorf(apperr.NotFound, "run %s has no results for position %s", quote(v.run.ID), quote(positionID))
	}
	vals := make([]pricing.Values, len(v.run.Scenarios))
	var items []PositionResult
	for _, row := range rows {
		its, err := v.items(row, "", vals)
		if err != nil {
			return err
		}
		items = append(items, its...)
	}
	return web.WriteJSON(w, http.StatusOK, web.NewList(items, ""))
}
