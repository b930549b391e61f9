package results

import (
	"net/http"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/web"
)

// PositionResult is one position's measures under one scenario. Measures
// holds the present measures only.
type PositionResult struct {
	PositionID         string             `json:"position_id"`
	InstrumentID       string             `json:"instrument_id"`
	ProductType        string             `json:"product_type"`
	PortfolioNodeID    string             `json:"portfolio_node_id"`
	PositionSnapshotID string             `json:"position_snapshot_id"`
	ScenarioID         string             `json:"scenario_id"`
	Measures           map[string]float64 `json:"measures"`
}

func positionResult(row *store.ResultRow) PositionResult {
	return PositionResult{
		PositionID:         row.PositionID,
		InstrumentID:       row.InstrumentID,
		ProductType:        row.ProductType,
		PortfolioNodeID:    row.PortfolioNodeID,
		PositionSnapshotID: row.PositionSnapshotID,
		ScenarioID:         row.ScenarioID,
		Measures:           measuresOf(row),
	}
}

// positions answers GET /results/runs/{id}/positions: the run's result
// rows ordered by position snapshot, position id, then scenario, optionally
// under one scenario, as a list page. The cursor holds the last row's
// (snapshot id, position id, scenario id).
func (s *Service) positions(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	run, err := s.run(ctx, r)
	if err != nil {
		return err
	}
	var fields []apperr.FieldError
	scenario, ferr := scenarioParam(r, run)
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
	p := store.ResultListParams{RunID: run.ID, ScenarioID: scenario, Limit: page.Limit + 1}
	if after != nil {
		p.AfterSnapshotID, p.AfterPositionID, p.AfterScenarioID = after[0], after[1], after[2]
	}
	rows, err := s.st.ResultList(ctx, p)
	if err != nil {
		return err
	}
	items := make([]PositionResult, len(rows))
	for i, row := range rows {
		items[i] = positionResult(row)
	}
	list := web.PageOf(items, page.Limit, func(it PositionResult) []string {
		return []string{it.PositionSnapshotID, it.PositionID, it.ScenarioID}
	})
	return web.WriteJSON(w, http.StatusOK, list)
}

// position answers GET /results/runs/{id}/positions/{position_id}: the
// position's rows under every scenario (in every position snapshot of the
// run that holds that id), as a one-page list; 404 when it has none.
func (s *Service) position(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	run, err := s.run(ctx, r)
	if err != nil {
		return err
	}
	positionID := r.PathValue("position_id")
	rows, err := s.st.ResultsForPosition(ctx, run.ID, positionID)
	if err != nil {
		return err
	}
	if len(rows) == 0 {
		return apperr.Errorf(apperr.NotFound, "run %s has no results for position %s", quote(run.ID), quote(positionID))
	}
	items := make([]PositionResult, len(rows))
	for i, row := range rows {
		items[i] = positionResult(row)
	}
	return web.WriteJSON(w, http.StatusOK, web.NewList(items, ""))
}
